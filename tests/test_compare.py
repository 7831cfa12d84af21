"""ATT and DiD on matched data against R (MatchIt + sandwich + lmtest) fixtures.

Fixtures: ``tests/results/matchit/`` (copied from the shared MatchIt
reference set, made by ``matchit_fixtures.R`` with MatchIt 4.7.2 and sandwich
3.0.2; shared with the matching and balance tests) and ``tests/results/register/counts_*.csv`` (``counts_fixture.R``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from numpy.testing import assert_allclose

from kureval.errors import DataError
from kureval.register.compare import att, did

HERE = Path(__file__).parent / "results" / "register"
MATCHIT = Path(__file__).parent / "results" / "matchit"
CONFIGS = [
    "nn1",
    "nn1_caliper",
    "nn1_logit_caliper",
    "nn2_caliper",
    "nn1_exact_race",
    "nn1_replace",
]


def _pad(i: str) -> str:
    m = re.fullmatch(r"([A-Z]+)(\d+)", i)
    assert m is not None
    return f"{m.group(1)}{int(m.group(2)):03d}"


def lalonde_matched(config: str) -> pd.DataFrame:
    lal = pd.read_csv(MATCHIT / "lalonde.csv")
    md = pd.read_csv(MATCHIT / f"{config}_matched.csv", dtype={"subclass": str})
    md["key"] = md["id"].map(_pad)  # get_matches() ids are row names without padding
    out = md.merge(lal[["id", "re75", "re78"]].rename(columns={"id": "key"}), on="key", how="left")
    assert out["re78"].notna().all()
    out["change"] = out["re78"] - out["re75"]
    return out


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("outcome", ["re78", "change"])
def test_att_matches_matchit_sandwich(config: str, outcome: str) -> None:
    ref = pd.read_csv(MATCHIT / "att.csv").set_index(["config", "outcome"]).loc[(config, outcome)]
    md = lalonde_matched(config)
    res = att(md, outcome, treat="treat", weight="weights", cluster="subclass", person="id")
    assert "+".join(res.cluster) == ref["cluster"]  # two-way only for the with-replacement matching
    assert_allclose(res.estimate, ref["estimate"], rtol=1e-9)
    assert_allclose(res.se, ref["se"], rtol=1e-6)
    assert_allclose(res.pvalue, ref["p"], rtol=1e-6)


def test_one_way_equals_statsmodels_cluster_cr1() -> None:
    """Document which statsmodels variant equals vcovCL(type='HC1')."""
    md = lalonde_matched("nn2_caliper")
    res = att(md, "re78", weight="weights", cluster="subclass")
    fit = sm.WLS(md["re78"], sm.add_constant(md["treat"].astype(float)), weights=md["weights"]).fit(
        cov_type="cluster",
        cov_kwds={
            "groups": pd.factorize(md["subclass"])[0],
            "use_correction": True,
            "df_correction": True,
        },
    )
    assert_allclose(res.se, fit.bse["treat"], rtol=1e-10)
    assert_allclose(res.estimate, fit.params["treat"], rtol=1e-10)


def test_estimate_is_weighted_mean_difference_and_sign_flips() -> None:
    md = lalonde_matched("nn2_caliper")
    res = att(md, "re78", weight="weights", cluster="subclass")
    t, c = md[md.treat == 1], md[md.treat == 0]
    hand = np.average(t.re78, weights=t.weights) - np.average(c.re78, weights=c.weights)
    assert_allclose(res.estimate, hand, rtol=1e-12)
    flipped = md.assign(treat=1 - md["treat"])
    res2 = att(flipped, "re78", weight="weights", cluster="subclass")
    assert_allclose(res2.estimate, -res.estimate, rtol=1e-12)
    assert_allclose(res2.se, res.se, rtol=1e-12)
    shuffled = md.sample(frac=1.0, random_state=3)
    assert_allclose(
        att(shuffled, "re78", weight="weights", cluster="subclass").se, res.se, rtol=1e-12
    )


def test_att_lists_all_problems() -> None:
    md = lalonde_matched("nn1").rename(columns={"weights": "weight"})
    md.loc[md.index[:3], "re78"] = np.nan
    md.loc[md.index[5], "weight"] = 0.0
    with pytest.raises(DataError) as err:
        att(md.drop(columns="subclass"), "re78", cluster="subclass")
    cols = {p.column for p in err.value.problems}
    assert cols == {"re78", "subclass"}
    with pytest.raises(DataError, match="weights > 0"):
        att(md.dropna(subset=["re78"]), "re78", cluster="subclass")


def count_fixture() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    long = pd.read_csv(HERE / "counts_data.csv")
    matched = long.drop_duplicates(["id", "set_id"])[["id", "set_id", "treat", "weight"]]
    windows = long.rename(columns={"y": "visits_primary_care"}).drop(columns=["treat", "weight"])
    res = pd.read_csv(HERE / "counts_results.csv")
    return windows, matched, res


def test_did_change_score_matches_r_lm_vcovcl() -> None:
    windows, matched, res = count_fixture()
    ref = res[(res.model == "lm_change") & (res.term == "treat")].iloc[0]
    d = did(windows, matched, "visits_primary_care")
    assert_allclose(d.estimate, ref["estimate"], rtol=1e-9)
    assert_allclose(d.se, ref["se"], rtol=1e-6)
    assert_allclose(d.pvalue, ref["p"], rtol=1e-6)
    means = d.means.set_index(["window", "group"])["mean"]
    post_t, pre_t = means["post", "participants"], means["pre", "participants"]
    post_c, pre_c = means["post", "references"], means["pre", "references"]
    assert_allclose(d.estimate, (post_t - pre_t) - (post_c - pre_c), rtol=1e-10)
    assert d.excluded["n"].sum() == 0


@pytest.mark.parametrize("family", ["poisson", "negbin"])
def test_ratio_of_rate_ratios_matches_r_glm(family: str) -> None:
    from kureval.register.counts import did_rate

    windows, matched, res = count_fixture()
    ref = res[res.model == family].reset_index(drop=True)
    r = did_rate(windows, matched, "visits_primary_care", family=family)
    assert_allclose(r.coef, ref["estimate"], rtol=1e-6)
    assert_allclose(np.sqrt(np.diag(r.vcov)), ref["se"], rtol=1e-5)
    assert_allclose(r.pvalue, ref["p"].iloc[3], rtol=1e-5)
    if family == "negbin":
        assert_allclose(r.theta, ref["theta"].iloc[0], rtol=1e-6)
    assert_allclose(r.estimate, np.exp(ref["estimate"].iloc[3]), rtol=1e-6)


def test_did_excludes_unexposed_and_rescales_set_weights() -> None:
    windows, matched, _ = count_fixture()
    sets3 = matched.groupby("set_id").size()
    set3 = sets3[sets3 == 4].index[0]  # a 1:3 set
    ref_id = matched[(matched.set_id == set3) & (matched.treat == 0)]["id"].iloc[0]
    w2 = windows.copy()
    w2.loc[(w2.id == ref_id) & (w2.window == "post"), "exposure_days"] = 0
    d = did(w2, matched, "visits_primary_care")
    ex = d.excluded.set_index("reason")["n"]
    assert ex["no exposure in post window"] == 1
    # hand: same estimate as dropping the reference and giving the other two weight 1/2
    keep = matched[matched.id != ref_id].copy()
    keep.loc[(keep.set_id == set3) & (keep.treat == 0), "weight"] = 0.5
    wide = windows.pivot(index="id", columns="window", values="visits_primary_care")
    keep["change"] = keep["id"].map(wide["post"] - wide["pre"])
    hand = att(keep, "change")
    assert_allclose(d.estimate, hand.estimate, rtol=1e-12)
    assert_allclose(d.se, hand.se, rtol=1e-12)


def test_did_rejects_unknown_outcome_and_window() -> None:
    windows, matched, _ = count_fixture()
    with pytest.raises(DataError) as err:
        did(windows, matched, "visits_nowhere", pre="before")
    cols = {(p.column, p.value) for p in err.value.problems}
    assert ("visits_nowhere", "visits_nowhere") in cols and ("window", "before") in cols


def test_reused_references_get_two_way_clustering() -> None:
    md = lalonde_matched("nn1_replace")
    res = att(md, "re78", weight="weights", cluster="subclass")
    assert res.cluster == ("subclass", "id")
    one_way = att(md, "re78", weight="weights", cluster="subclass", person=None)
    assert one_way.cluster == ("subclass",)
    assert one_way.se != res.se


def test_register_figures_draw_from_results() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from kureval.plots.register import means_table, plot_did_forest, plot_window_means
    from kureval.register.counts import did_rate

    windows, matched, _ = count_fixture()
    d = did(windows, matched, "visits_primary_care")
    ax = plot_window_means(d, lang="sv")
    assert ax.get_ylabel() and len(ax.lines) >= 2
    r = did_rate(windows, matched, "visits_primary_care", family="poisson")
    ax = plot_did_forest([r], lang="en")
    assert ax.get_xscale() == "log"
    shown = means_table([d], lang="en", min_cell=5)
    assert shown["Year after"].str.match(r"^-?\d+\.\d\d \(").all()
    tab = means_table([d], lang="en", min_cell=500)  # every group below 500 persons: all suppressed
    assert (tab["Year before"] == "").all() and (tab["Year after"] == "").all()
    assert tab["n Year before"].astype(str).str.startswith("<").all()


def test_did_per_year_scale_is_att_of_rate_change() -> None:
    windows, matched, _ = count_fixture()
    d = did(windows, matched, "visits_primary_care", scale="per_year")
    rate = windows.assign(r=windows["visits_primary_care"] * 365.25 / windows["exposure_days"])
    wide = rate.pivot(index="id", columns="window", values="r")
    hand = att(matched.assign(change=matched["id"].map(wide["post"] - wide["pre"])), "change")
    assert_allclose(d.estimate, hand.estimate, rtol=1e-12)
    assert_allclose(d.se, hand.se, rtol=1e-12)
    assert d.scale == "per_year"


def test_one_matched_set_is_a_clear_error_not_a_crash():
    one = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "treat": [1, 0, 0],
            "set_id": [1, 1, 1],
            "weight": 1.0,
            "y": [1.0, 2, 3],
        }
    )
    with pytest.raises(DataError, match="at least two matched sets"):
        att(one, "y")
