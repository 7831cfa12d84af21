"""McNemar / caseness against R (tests/results/selfrating/anorexia.R), statsmodels and Agresti's example."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

from kureval.errors import ConfigError
from kureval.selfrating.caseness import caseness, mcnemar

RES = Path(__file__).parent / "results" / "selfrating"
REF = pd.read_csv(RES / "mcnemar.csv").set_index("table")


def test_agresti_presidential_approval_hand_worked():
    # Agresti (2007), An Introduction to Categorical Data Analysis, 2nd ed., table 8.1:
    # z^2 = (86 - 150)^2 / (86 + 150) = 4096 / 236 = 17.3559..., reported as 17.36.
    stat, p, method = mcnemar(150, 86)
    assert method == "chi2"
    assert_allclose(stat, 4096 / 236, rtol=1e-14)
    assert round(stat, 2) == 17.36
    r = REF.loc["agresti_8_1"]
    assert_allclose([stat, p], [r.chi2, r.p_chi2], rtol=1e-12)
    stat_cc, p_cc, m_cc = mcnemar(150, 86, correction=True)
    assert m_cc == "chi2_cc"
    assert_allclose([stat_cc, p_cc], [r.chi2_cc, r.p_chi2_cc], rtol=1e-12)


@pytest.mark.parametrize("label", ["agresti_8_1", "small"])
def test_against_statsmodels_and_r(label):
    r = REF.loc[label]
    table = np.array([[r.a, r.b], [r.c, r.d]])
    sm_chi = sm_mcnemar(table, exact=False, correction=False)
    sm_ex = sm_mcnemar(table, exact=True)
    stat, p, _ = mcnemar(int(r.b), int(r.c), exact_below=0)
    assert_allclose([stat, p], [sm_chi.statistic, sm_chi.pvalue], rtol=1e-12)
    _, p_ex, m = mcnemar(int(r.b), int(r.c), exact_below=10**9)
    assert m == "exact"
    assert_allclose(p_ex, [sm_ex.pvalue, r.p_exact], rtol=1e-12)


def _scores():
    # 47 persons: HADS-like; case = score >= 8. Transition counts as R's "small" table:
    # case->case 20, case->non 9, non->case 3, non->non 15 (discordant 12 < 25 -> exact)
    pre, post = [], []
    for a, b, n in [(10, 10, 20), (10, 5, 9), (5, 10, 3), (5, 5, 15)]:
        pre += [a] * n
        post += [b] * n
    ids = [f"p{i}" for i in range(len(pre))]
    df = pd.DataFrame(
        {
            "person_id": ids * 2,
            "timepoint": ["start"] * 47 + ["end"] * 47,
            "score": np.r_[pre, post].astype(float),
            "scale": "hads_anxiety",
        }
    )
    extra = pd.DataFrame(
        {
            "person_id": ["x1", "x2"],
            "timepoint": ["start", "start"],
            "score": [9.0, np.nan],
            "scale": "hads_anxiety",
        }
    )
    return pd.concat([df, extra], ignore_index=True)


def test_caseness_table_counts_and_exact_test():
    res = caseness(_scores(), "hads_anxiety", threshold=8, case_when=">=")
    row = res.table.iloc[0]
    assert (row.case_case, row.recovered, row.new_case, row.noncase_noncase) == (20, 9, 3, 15)
    assert row.n_pre_only == 1 and row.n_pairs == 47
    assert row.method == "exact"
    assert_allclose(row.p, REF.loc["small", "p_exact"], rtol=1e-12)
    assert_allclose([row.share_case_pre, row.share_case_post], [29 / 47, 23 / 47])
    assert res.transitions().to_numpy().tolist() == [[20, 9], [3, 15]]


def test_caseness_direction_for_higher_is_better_needs_operator():
    # 10 -> 40 (case: <= 45), 5 -> 50 (non-case): the same transitions as the HADS table
    s = _scores().assign(score=lambda d: 60 - d.score * 2, scale="who5")
    res = caseness(s, "who5", threshold=45, case_when="<=")
    row = res.table.iloc[0]
    assert (row.case_case, row.recovered, row.new_case) == (20, 9, 3)
    flipped = caseness(s, "who5", threshold=45, case_when=">=").table.iloc[0]
    assert (flipped.case_case, flipped.recovered, flipped.new_case) == (15, 3, 9)
    with pytest.raises(ConfigError):
        caseness(s, "who5", threshold=45, case_when="=>")  # type: ignore[arg-type]


def test_case_column_used_without_threshold():
    s = _scores()
    s["case"] = (s.score >= 8).astype("boolean")
    s.loc[s.score.isna(), "case"] = pd.NA
    a = caseness(s, "hads_anxiety").table.iloc[0]
    b = caseness(s, "hads_anxiety", threshold=8, case_when=">=").table.iloc[0]
    assert (a.recovered, a.new_case, a.p) == (b.recovered, b.new_case, b.p)


def test_caseness_figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kureval.plots.prepost import plot_caseness

    res = caseness(_scores(), "hads_anxiety", threshold=8, case_when=">=")
    ax = plot_caseness(res, lang="sv")
    heights = sorted(p.get_width() for p in ax.patches)
    assert np.allclose(heights, sorted([100 * 29 / 47, 100 * 23 / 47]))
    plt.close("all")


def test_caseness_methods_text_and_html():
    from kureval.report.labels import t
    from kureval.selfrating.methods import methods_text

    res = caseness(_scores(), "hads_anxiety", threshold=8, case_when=">=")
    text = methods_text(caseness=res, text=lambda k, **kw: t(k, "en", **kw))
    assert "hads_anxiety ≥ 8" in text and "fewer than 25" in text and "without continuity" in text
    assert "McNemar" in res._repr_html_()


def test_caseness_by_subgroup_from_participants():
    s = _scores()
    ids = sorted(s.person_id.unique())
    part = pd.DataFrame({"person_id": ids, "sex": ["F" if i % 2 else "M" for i in range(len(ids))]})
    res = caseness(s, "hads_anxiety", threshold=8, case_when=">=", by="sex", participants=part)
    tab = res.table.set_index("sex")
    assert tab.n_pairs.sum() == 47 and tab.n_pre_only.sum() == 1
    assert (tab.case_case + tab.recovered + tab.new_case + tab.noncase_noncase == tab.n_pairs).all()


def test_caseness_hidden_blanks_every_share_that_could_reveal_a_small_cell():
    """Review item 1: with a discordant cell of 3 (< 5) the McNemar p and both shares would
    give it away (p depends only on b and c; share at start = (a + b) / n), so the row is
    flagged and the figure draws no bar for it; a row without small cells is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kureval.plots.prepost import caseness_hidden, plot_caseness

    small = caseness(_scores(), "hads_anxiety", threshold=8, case_when=">=")  # 20, 9, 3, 15
    assert caseness_hidden(small, min_cell=5).tolist() == [True]
    assert caseness_hidden(small, min_cell=3).tolist() == [False]  # 3 is shown when min_cell = 3
    assert caseness_hidden(small, min_cell=None).tolist() == [False]
    ax = plot_caseness(small, min_cell=5)
    assert all(p.get_width() == 0 for p in ax.patches) and "not shown" in ax.texts[0].get_text()
    # two subgroups: only the one with a small cell is hidden
    s = _scores()
    big = s.assign(person_id=s.person_id + "b")
    both = pd.concat([s, big, big.assign(person_id=big.person_id + "c")], ignore_index=True)
    grp = pd.DataFrame({"person_id": sorted(both.person_id.unique())}).assign(
        g=lambda d: np.where(d.person_id.str.endswith(("b", "c")), "large", "small")
    )
    res = caseness(both, "hads_anxiety", threshold=8, case_when=">=", by="g", participants=grp)
    tab = res.table.set_index("g")
    assert tab.loc["large", "new_case"] == 6 and tab.loc["small", "new_case"] == 3
    hidden = dict(zip(res.table["g"], caseness_hidden(res, min_cell=5), strict=True))
    assert hidden == {"large": False, "small": True}
    ax = plot_caseness(res, min_cell=5)
    drawn = sorted(p.get_width() for p in ax.patches if p.get_width() > 0)
    row = tab.loc["large"]
    assert np.allclose(drawn, sorted([100 * row.share_case_pre, 100 * row.share_case_post]))
    plt.close("all")
