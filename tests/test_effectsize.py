"""Effect sizes, Wilcoxon and reliable change against R (tests/results/selfrating/anorexia.R)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from kureval.selfrating import change as ch
from kureval.selfrating import effectsize as es

RES = Path(__file__).parent / "results" / "selfrating"


def _anorexia():
    an = pd.read_csv(RES / "anorexia_data.csv")
    ref = pd.read_csv(RES / "anorexia_paired.csv").set_index("group")
    groups = {g: an[an.Treat == g] for g in ["CBT", "Cont", "FT"]}
    groups["all"] = an
    return {g: (d.Prewt.to_numpy(), d.Postwt.to_numpy()) for g, d in groups.items()}, ref


def _fixtures():
    data, ref = _anorexia()
    for name in ("ties", "small"):
        d = pd.read_csv(RES / f"{name}_data.csv")
        data[name] = (d.pre.to_numpy(float), d.post.to_numpy(float))
        ref = pd.concat([ref, pd.read_csv(RES / f"{name}_paired.csv").set_index("group")])
    return data, ref


DATA, REF = _fixtures()
GROUPS = list(DATA)


@pytest.mark.parametrize("group", GROUPS)
def test_d_z_matches_effectsize(group):
    pre, post = DATA[group]
    d, lo, hi = es.d_z(pre, post)
    r = REF.loc[group]
    assert_allclose(d, r.d_z, rtol=0, atol=1e-10)
    # effectsize's optim() CI is itself accurate to ~3e-7; the uniroot CI to ~1e-12
    assert_allclose([lo, hi], [r.d_z_ci_low, r.d_z_ci_high], rtol=0, atol=1e-6)
    assert_allclose([lo, hi], [r.d_z_ci_low_uniroot, r.d_z_ci_high_uniroot], rtol=0, atol=1e-8)


@pytest.mark.parametrize("group", GROUPS)
def test_d_av_g_av_and_hedges_j(group):
    pre, post = DATA[group]
    r = REF.loc[group]
    assert_allclose(es.d_av(pre, post), r.d_av, rtol=1e-12)
    assert_allclose(es.g_av(pre, post), r.g_av, rtol=1e-12)
    # J equals effectsize::hedges_g(paired=TRUE) / cohens_d(paired=TRUE)
    assert_allclose(es.hedges_j(len(pre) - 1), r.hedges_J, rtol=1e-12)


@pytest.mark.parametrize("group", GROUPS)
def test_wilcoxon_matches_r(group):
    pre, post = DATA[group]
    r = REF.loc[group]
    raw = es.wilcoxon_signed_rank(pre, post, tie_decimals=None)
    assert_allclose([raw.v, raw.p], [r.wilcoxon_v, r.p_wilcoxon], rtol=0, atol=1e-10)
    nc = es.wilcoxon_signed_rank(pre, post, correct=False, tie_decimals=None)
    assert_allclose(nc.p, r.p_wilcoxon_nocorrect, atol=1e-10)
    rounded = es.wilcoxon_signed_rank(pre, post)  # default: differences rounded to 9 decimals
    assert_allclose([rounded.v, rounded.p], [r.wilcoxon_v_r9, r.p_wilcoxon_r9], atol=1e-10)
    if not np.isnan(r.p_wilcoxon_exact):
        ex = es.wilcoxon_signed_rank(pre, post, exact=True)
        assert ex.method == "exact"
        assert_allclose(ex.p, r.p_wilcoxon_exact, atol=1e-12)


def test_floating_point_ties_split_only_without_rounding():
    # CBT has pairs whose true differences are equal but differ in the last bit
    pre, post = DATA["CBT"]
    assert es.wilcoxon_signed_rank(pre, post, tie_decimals=None).v == 303.5
    assert es.wilcoxon_signed_rank(pre, post).v == 304.5


@pytest.mark.parametrize("group", GROUPS)
def test_rank_biserial_matches_effectsize(group):
    pre, post = DATA[group]
    r = REF.loc[group]
    rb, lo, hi = es.rank_biserial(pre, post, tie_decimals=None)
    assert_allclose(rb, r.rank_biserial, atol=1e-12)
    rb9, lo9, hi9 = es.rank_biserial(pre, post)
    # CI: Fisher z with m = number of nonzero differences, as effectsize on the differences
    assert_allclose(
        [rb9, lo9, hi9], [r.rank_biserial_r9, r.rb_ci_low_r9, r.rb_ci_high_r9], atol=1e-12
    )


def test_signs_flip_when_pre_and_post_swap():
    pre, post = DATA["ties"]
    d, lo, hi = es.d_z(pre, post)
    d2, lo2, hi2 = es.d_z(post, pre)
    assert_allclose([d2, lo2, hi2], [-d, -hi, -lo], atol=1e-9)
    assert_allclose(es.rank_biserial(post, pre)[0], -es.rank_biserial(pre, post)[0])
    assert_allclose(es.d_av(post, pre), -es.d_av(pre, post))


def test_wilcoxon_all_zero_and_degenerate():
    w = es.wilcoxon_signed_rank([1, 2, 3], [1, 2, 3])
    assert w.n_nonzero == 0 and np.isnan(w.p)
    assert np.isnan(es.d_z([1, 2], [2, 3])[0])  # SD of differences 0
    with pytest.raises(ValueError):
        es.paired_diff([1, 2], [1, np.nan])


def test_reliable_change_hand_worked():
    # SD_pre = 5 (values 0, 5, 10: SD with n-1 = 5), r_xx = 0.8:
    # S_diff = 5 * sqrt(2) * sqrt(0.2) = 3.16227766; reliable when |change| > 1.959964 * 3.16227766 = 6.19795
    assert_allclose(ch.s_diff(5.0, 0.8), 3.1622776601683795, rtol=1e-14)
    pre = np.array([0.0, 5.0, 10.0])
    post = pre + np.array([6.2, -6.19, -6.3])
    assert ch.reliable_change(pre, post, 0.8, higher_is_better=True).tolist() == [1, 0, -1]
    assert ch.reliable_change(pre, post, 0.8, higher_is_better=False).tolist() == [-1, 0, 1]


def test_reliable_change_undefined_is_nan_not_zero():
    """SD_pre = 0 or a single pair: the index is undefined, never 'no reliable change'."""
    assert np.isnan(ch.reliable_change([12, 12, 12, 12], [2, 3, 12, 20], 0.8, False)).all()
    assert np.isnan(ch.reliable_change([12], [2], 0.8, False)).all()


def test_mcid_categories_boundaries_and_direction():
    diff = np.array([10.0, 9.999, -10.0, 0.1 + 0.2 - 0.3 + 10.0])  # last: 10 + float noise
    assert ch.mcid_categories(diff, 10, True).tolist() == [1, 0, -1, 1]
    assert ch.mcid_categories(diff, 10, False).tolist() == [-1, 0, 1, -1]
    with pytest.raises(ValueError):
        ch.mcid_categories(diff, 0, True)


def test_noncentral_ci_large_n_is_near_normal():
    rng = np.random.default_rng(1)
    pre = rng.normal(size=5000)
    post = pre + rng.normal(0.3, 1, size=5000)
    d, lo, hi = es.d_z(pre, post)
    se = np.sqrt(1 / 5000 + d**2 / (2 * 5000))  # large-sample SE of d_z
    assert_allclose([lo, hi], [d - 1.96 * se, d + 1.96 * se], atol=2e-3)
    assert stats.norm.cdf(0) == 0.5


def test_exact_wilcoxon_falls_back_with_zero_differences_as_r():
    """R: wilcox.test(c(0,1,-2,3,4,5,6), exact=TRUE) warns 'cannot compute exact p-value
    with zeroes' and uses the normal approximation: V = 19, p = 0.09349248 (R 4.2.2,
    ``wilcox.test(c(0, 1, -2, 3, 4, 5, 6), exact = TRUE, correct = TRUE)``)."""
    from kureval.selfrating.effectsize import wilcoxon_signed_rank

    res = wilcoxon_signed_rank(np.zeros(7), np.array([0, 1, -2, 3, 4, 5, 6.0]), exact=True)
    assert res.method == "normal"
    assert res.v == 19.0
    np.testing.assert_allclose(res.p, 0.09349248, atol=1e-8)
