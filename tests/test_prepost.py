"""kv.prepost against R on MASS::anorexia (tests/results/selfrating/anorexia.R) and its bookkeeping."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from statsmodels.stats.multitest import multipletests

from kureval.errors import ConfigError, DataError
from kureval.selfrating.prepost import holm, prepost

RES = Path(__file__).parent / "results" / "selfrating"
R_COLUMNS = [
    "n_pairs",
    "mean_pre",
    "sd_pre",
    "median_pre",
    "iqr_pre",
    "mean_post",
    "sd_post",
    "median_post",
    "iqr_post",
    "mean_diff",
    "diff_ci_low",
    "diff_ci_high",
    "t",
    "df",
    "p_t",
    "d_z",
    "d_av",
    "g_av",
]


@pytest.fixture(scope="module")
def anorexia():
    an = pd.read_csv(RES / "anorexia_data.csv")
    an["person_id"] = an["id"].astype(str)
    long = pd.concat(
        [an.assign(timepoint="start", score=an.Prewt), an.assign(timepoint="end", score=an.Postwt)]
    )
    scores = long[["person_id", "timepoint", "score"]].assign(scale="weight", instrument="weight")
    participants = an[["person_id", "Treat"]].rename(columns={"Treat": "treat"})
    return scores, participants


@pytest.fixture(scope="module")
def ref():
    return pd.read_csv(RES / "anorexia_paired.csv").set_index("group")


def test_anorexia_by_treatment_matches_r(anorexia, ref):
    scores, participants = anorexia
    res = prepost(
        scores,
        by="treat",
        participants=participants,
        higher_is_better=True,
        mcid=2.0,
        tie_decimals=None,
    )
    tab = res.table.set_index("treat").loc[["CBT", "Cont", "FT"]]
    r = ref.loc[["CBT", "Cont", "FT"]]
    for col in R_COLUMNS:
        assert_allclose(tab[col].astype(float), r[col], rtol=0, atol=1e-9, err_msg=col)
    assert_allclose(
        tab[["wilcoxon_v", "p_wilcoxon", "rank_biserial"]].astype(float),
        r[["wilcoxon_v", "p_wilcoxon", "rank_biserial"]],
        atol=1e-10,
    )
    assert_allclose(tab[["d_z_ci_low", "d_z_ci_high"]], r[["d_z_ci_low", "d_z_ci_high"]], atol=1e-6)
    assert (tab.n_pre_only == 0).all() and (tab.wilcoxon_method == "normal").all()


def test_default_rounding_and_pooled(anorexia, ref):
    scores, _ = anorexia
    row = prepost(scores, higher_is_better=True).table.iloc[0]
    r = ref.loc["all"]
    assert_allclose(
        [row.wilcoxon_v, row.p_wilcoxon, row.rank_biserial, row.rb_ci_low, row.rb_ci_high],
        [r.wilcoxon_v_r9, r.p_wilcoxon_r9, r.rank_biserial_r9, r.rb_ci_low_r9, r.rb_ci_high_r9],
        atol=1e-10,
    )
    assert_allclose([row.mean_diff, row.d_z, row.p_t], [r.mean_diff, r.d_z, r.p_t], atol=1e-10)


def test_attrition_counted_and_nothing_dropped():
    rows = []
    for i in range(10):
        rows.append((f"p{i}", "start", 10.0 + i))
        if i < 6:
            rows.append((f"p{i}", "end", 12.0 + i * 1.1))
    rows += [
        ("q1", "end", 5.0),
        ("q2", "start", np.nan),
        ("q2", "end", np.nan),
        ("q3", "start", np.nan),
    ]
    scores = pd.DataFrame(rows, columns=["person_id", "timepoint", "score"]).assign(scale="who5")
    res = prepost(scores, higher_is_better=True, mcid=10)
    row = res.table.iloc[0]
    assert (row.n_pairs, row.n_pre_only, row.n_post_only, row.n_neither) == (6, 4, 1, 2)
    ex = res.exclusions.set_index("reason")["n"]
    assert ex["no score at post (attrition)"] == 4 and ex["no score at pre"] == 1
    assert row.n_pairs + ex.sum() == scores.person_id.nunique()
    assert len(res.pairs) == 6


def test_shares_direction_and_registry_override():
    pre = np.array([10, 10, 10, 10, 10.0])
    post = np.array([7, 8.5, 10, 11, 12])  # HADS-like: lower is better, MCID 1.5
    scores = pd.DataFrame(
        {
            "person_id": [f"p{i}" for i in range(5)] * 2,
            "timepoint": ["start"] * 5 + ["end"] * 5,
            "score": np.r_[pre, post],
            "scale": "anx",
        }
    )
    row = prepost(
        scores, higher_is_better={"anx": False}, mcid={"anx": 1.5}, reliability=0.83
    ).table.iloc[0]
    assert_allclose([row.share_improved, row.share_unchanged, row.share_worse], [0.4, 0.4, 0.2])
    # SD_pre = 0 -> the reliable change index is undefined: the shares are NaN, not 0
    assert np.isnan(row.share_reliably_improved) and np.isnan(row.share_reliably_worse)
    no_meta = prepost(scores, higher_is_better=False).table.iloc[0]
    assert np.isnan(no_meta.share_improved) and np.isnan(no_meta.share_reliably_improved)


def test_holm_matches_statsmodels_and_skips_nan():
    p = np.array([0.01, 0.04, np.nan, 0.03, 0.2])
    expected = multipletests(p[~np.isnan(p)], method="holm")[1]
    got = holm(p)
    assert np.isnan(got[2])
    assert_allclose(got[~np.isnan(p)], expected, rtol=1e-14)


def test_wilson_ci_of_share_improved(anorexia):
    from statsmodels.stats.proportion import proportion_confint

    scores, _ = anorexia
    res = prepost(scores, higher_is_better=True, mcid=2)
    row = res.table.iloc[0]
    k = int((res.pairs.change_mcid == 1).sum())
    assert_allclose(
        [row.share_improved_ci_low, row.share_improved_ci_high],
        proportion_confint(k, row.n_pairs, method="wilson"),
    )
    ci = res.conf_int("share_improved")
    assert list(ci.columns) == ["scale", "share_improved", "low", "high"]


def test_errors_list_every_problem(anorexia):
    scores, _ = anorexia
    with pytest.raises(ConfigError) as err:
        prepost(scores, pre="baseline", post="after")
    assert len(err.value.problems) == 2
    with pytest.raises(ConfigError):
        prepost(scores, scales=["weight", "nope"])
    with pytest.raises(ConfigError):
        prepost(scores, by="site")
    dup = pd.concat([scores, scores.head(2)])
    with pytest.raises(DataError) as err:
        prepost(dup)
    assert len(err.value.problems) == 4
    with pytest.raises(DataError):
        prepost(scores.drop(columns="scale"))
    with pytest.raises(ConfigError):
        prepost(scores, mcid=-1)


def test_row_order_invariance(anorexia):
    scores, participants = anorexia
    a = prepost(scores, by="treat", participants=participants, higher_is_better=True, mcid=2).table
    b = prepost(
        scores.sample(frac=1, random_state=3),
        by="treat",
        participants=participants,
        higher_is_better=True,
        mcid=2,
    ).table
    a, b = a.set_index("treat").sort_index(), b.set_index("treat").sort_index()
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)


def test_missing_subgroup_value_is_its_own_group(anorexia):
    scores, participants = anorexia
    part = participants.copy()
    part.loc[part.index[:3], "treat"] = np.nan
    tab = prepost(scores, by="treat", participants=part, higher_is_better=True).table
    assert tab.n_pairs.sum() == 72 and tab.treat.isna().sum() == 1


def test_imputed_scores_counted_among_pairs():
    scores = pd.DataFrame(
        {
            "person_id": ["a", "a", "b", "b", "c"],
            "timepoint": ["start", "end"] * 2 + ["start"],
            "score": [1.0, 2.0, 3.0, 5.0, 4.0],
            "scale": "x",
            "imputed": [True, False, True, True, True],
        }
    )
    row = prepost(scores, higher_is_better=True).table.iloc[0]
    assert row.n_imputed == 3 and row.n_pre_only == 1  # c's imputed start score is not in a pair


def test_methods_text_in_both_languages(anorexia):
    from kureval.report.labels import t
    from kureval.selfrating.methods import methods_text

    scores, _ = anorexia
    res = prepost(scores, higher_is_better=True, mcid={"weight": 2.0}, reliability=0.9)
    en = methods_text(res, text=lambda k, **kw: t(k, "en", **kw))
    sv = methods_text(res, text=lambda k, **kw: t(k, "sv", **kw))
    assert "d_z" in en and "Holm" in en and "weight 2 (argument)" in en and "0.9" in en
    assert "Holms metod" in sv and en != sv
    assert "0,9" in sv and "0.9" not in sv  # decimal comma in the Swedish methods text
    exact = prepost(scores, higher_is_better=True, exact=True)
    assert "exact p-values" in methods_text(exact, text=lambda k, **kw: t(k, "en", **kw))
    assert "No MCID was available for weight" in methods_text(
        exact, text=lambda k, **kw: t(k, "en", **kw)
    )


@pytest.mark.parametrize("lang", ["en", "sv"])
def test_prepost_figures(anorexia, lang):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kureval.plots import prepost as pl
    from kureval.report.labels import t

    scores, participants = anorexia
    res = prepost(scores, by="treat", participants=participants, higher_is_better=True, mcid=2.0)
    ax = pl.plot_paired_change(res, "weight", lang=lang)
    assert ax.get_ylabel() == t("sr_fig_score", lang)
    assert len(ax.lines) <= 20 and all(len(line.get_xdata()) <= 2 for line in ax.lines)
    ax = pl.plot_forest(res, lang=lang)
    assert t("sr_fig_effect", lang) in ax.get_xlabel() and len(ax.get_yticklabels()) == 3
    ax = pl.plot_shares(res, lang=lang)
    widths = [p.get_width() for p in ax.patches]
    assert np.isclose(sum(widths), 300)  # three groups × 100 %
    plt.close("all")


def test_shares_figure_hides_small_counts():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kureval.plots.prepost import plot_shares

    # 20 persons: 10 improved, 7 unchanged, 3 worse (a count below 5): with min_cell=5 the table
    # shows worse as "<5" and unchanged (the smallest other part) as "..", so only "improved"
    # is drawn and the hidden two are one hatched segment of the remaining 50 %
    pre = np.zeros(20)
    post = np.r_[np.full(10, 2.0), np.zeros(7), np.full(3, -2.0)]
    scores = pd.DataFrame(
        {
            "person_id": [f"p{i}" for i in range(20)] * 2,
            "timepoint": ["start"] * 20 + ["end"] * 20,
            "score": np.r_[pre, post],
            "scale": "x",
        }
    )
    res = prepost(scores, higher_is_better=True, mcid=1)
    assert sum(p.get_width() for p in plot_shares(res).patches) == pytest.approx(100)
    ax = plot_shares(res, min_cell=5)
    widths = [p.get_width() for p in ax.patches]
    assert widths == pytest.approx([50, 0, 0, 50])  # improved, unchanged, worse, hidden together
    assert ax.patches[-1].get_hatch() == "///"
    assert plot_shares(res, min_cell=3).patches[-1].get_width() == pytest.approx(15)  # worse 3
    plt.close("all")


def test_mcid_without_direction_is_an_error(anorexia):
    scores, _ = anorexia
    with pytest.raises(ConfigError) as err:
        prepost(scores, mcid=2.0)  # "weight" is not in the instrument registry
    assert "higher_is_better" in str(err.value)


def test_empty_person_id_is_reported(anorexia):
    scores, _ = anorexia
    bad = scores.copy()
    bad["person_id"] = bad["person_id"].astype(object)
    bad.iloc[[0, 5], bad.columns.get_loc("person_id")] = None
    with pytest.raises(DataError) as err:
        prepost(bad)
    assert len(err.value.problems) == 2


def test_forest_puts_better_to_the_right():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kureval.plots.prepost import plot_forest

    rng = np.random.default_rng(3)
    pre = rng.normal(10, 2, 30)
    post = pre - 1 + rng.normal(0, 1, 30)  # lower is better: an improvement
    scores = pd.DataFrame(
        {
            "person_id": [f"p{i}" for i in range(30)] * 2,
            "timepoint": ["start"] * 30 + ["end"] * 30,
            "score": np.r_[pre, post],
            "scale": "anx",
        }
    )
    res = prepost(scores, higher_is_better=False)
    ax = plot_forest(res)
    x = ax.lines[0].get_xdata()[0]
    assert res.table.d_z.iloc[0] < 0 and np.isclose(x, -res.table.d_z.iloc[0])
    plt.close("all")


def test_equal_differences_give_no_zero_width_interval():
    """All differences equal (SD 0): R's t.test refuses; kureval gives NaN, not [d, d]."""
    scores = pd.DataFrame(
        {
            "person_id": [f"p{i}" for i in range(4)] * 2,
            "timepoint": ["start"] * 4 + ["end"] * 4,
            "score": [10, 11, 12, 13, 12, 13, 14, 15.0],
            "scale": "who5",
        }
    )
    row = prepost(scores, higher_is_better=True, mcid=10).table.iloc[0]
    assert row.mean_diff == 2
    assert np.isnan(row.diff_ci_low) and np.isnan(row.diff_ci_high) and np.isnan(row.p_t)
