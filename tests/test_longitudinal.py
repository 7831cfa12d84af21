"""kv.longitudinal against lme4::lmer (tests/results/selfrating/anorexia.R, section 4)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from kureval.errors import ConfigError
from kureval.selfrating.longitudinal import longitudinal, standardised_difference

RES = Path(__file__).parent / "results" / "selfrating"
TPS = ["start", "end", "6m", "12m"]


@pytest.fixture(scope="module")
def data():
    d = pd.read_csv(RES / "mixed_data.csv").assign(scale="who5")
    d["timepoint"] = pd.Categorical(d.timepoint, TPS, ordered=True)
    return d


@pytest.fixture(scope="module")
def result(data):
    return longitudinal(data)


def test_fixed_effects_and_se_match_lme4(result):
    ref = pd.read_csv(RES / "mixed_fixef.csv")
    c = result.contrasts
    assert list(c.timepoint) == ["end", "6m", "12m"]
    assert_allclose(c.estimate, ref.estimate[1:], atol=1e-4)
    assert_allclose(c.se, ref.se[1:], atol=1e-4)
    means = pd.read_csv(RES / "mixed_means.csv")
    assert_allclose(result.means.estimate, means["mean"], atol=1e-4)
    assert_allclose(result.means.se, means.se, atol=1e-4)


def test_variance_components_match_lme4(result):
    ref = pd.read_csv(RES / "mixed_varcomp.csv").set_index("component")
    m = result.models.iloc[0]
    assert_allclose(
        [m.var_person, m.var_residual], ref.variance.loc[["person_id", "residual"]], rtol=1e-4
    )
    # lme4's REML criterion is -2 * REML log-likelihood
    assert_allclose(-2 * m.reml_loglik, ref.reml.iloc[0], rtol=1e-6)
    assert m.converged


def test_completers_and_counts(data, result):
    wide = data.pivot(index="person_id", columns="timepoint", values="score")[TPS].dropna()
    means = result.means.set_index("timepoint")
    assert (means.n_completers == len(wide)).all()
    assert_allclose(means.mean_completers.loc[TPS], wide.mean().to_numpy())
    assert_allclose(means.n_obs.loc[TPS], data.groupby("timepoint", observed=True).size().loc[TPS])
    ci = result.conf_int()
    assert (ci.low < ci.estimate).all() and (ci.estimate < ci.high).all()


def test_attrition_table(data, result):
    a = result.attrition
    base = data[data.timepoint == "start"].set_index("person_id").score
    at12 = set(data.loc[data.timepoint == "12m", "person_id"])
    row = a[(a.timepoint == "12m") & (a.variable == "baseline_score")].iloc[0]
    kept = base[base.index.isin(at12)]
    lost = base[~base.index.isin(at12)]
    assert (row.n_retained, row.n_lost) == (len(kept), len(lost))
    pooled = np.sqrt((kept.var() + lost.var()) / 2)
    assert_allclose(row.std_diff, (kept.mean() - lost.mean()) / pooled)


def test_characteristics_from_participants(data):
    ids = sorted(data.person_id.unique())
    part = pd.DataFrame(
        {"person_id": ids, "sex": ["F", "M"] * (len(ids) // 2), "birth_year": range(len(ids))}
    )
    res = longitudinal(data, participants=part)
    a = res.attrition
    assert set(a.variable) == {"baseline_score", "sex", "birth_year"}
    assert set(a.loc[a.variable == "sex", "level"]) == {"F", "M"}


def test_standardised_difference_binary_hand():
    # p = 0.5 vs 0.25: (0.5 - 0.25) / sqrt((0.25 + 0.1875) / 2) = 0.534522...
    a = np.array([1, 0, 1, 0.0])
    b = np.array([1, 0, 0, 0.0])
    assert_allclose(standardised_difference(a, b, binary=True), 0.25 / np.sqrt(0.4375 / 2))


def test_bad_timepoints(data):
    with pytest.raises(ConfigError):
        longitudinal(data, timepoints=["start", "24m"])


def test_statsmodels_engine_agrees(data, result):
    sm = longitudinal(data, engine="statsmodels")
    assert_allclose(sm.contrasts.estimate, result.contrasts.estimate, atol=1e-4)
    assert_allclose(sm.contrasts.se, result.contrasts.se, atol=1e-4)
    assert_allclose(sm.models.var_person, result.models.var_person, rtol=1e-3)
    with pytest.raises(ConfigError):
        longitudinal(data, engine="lme4")


def test_no_person_variance_is_a_boundary_fit():
    # end = -start + 0.5: a negative within-person correlation, so the REML estimate of tau^2 is 0
    rng = np.random.default_rng(5)
    n = 200
    a = rng.normal(0, 1, n)
    end = -a + 0.5 + rng.normal(0, 0.1, n)
    d = pd.DataFrame(
        {
            "person_id": np.r_[np.arange(n), np.arange(n)].astype(str),
            "timepoint": ["start"] * n + ["end"] * n,
            "scale": "x",
            "score": np.r_[a, end],
        }
    )
    res = longitudinal(d, timepoints=["start", "end"], engine="kureval")
    m = res.models.iloc[0]
    assert m.var_person == 0 and "boundary" in m.warnings
    # statsmodels MixedLM (the default engine) does not reach the boundary exactly;
    # it must say so rather than report a converged fit
    sm_model = longitudinal(d, timepoints=["start", "end"]).models.iloc[0]
    assert sm_model.var_person < 0.01
    assert (not sm_model.converged) or sm_model.warnings
    # with tau = 0 the model is OLS on time: contrast = difference in means, SE = pooled two-sample SE
    assert_allclose(res.contrasts.estimate.iloc[0], end.mean() - a.mean(), atol=1e-10)
    pooled = np.sqrt(((n - 1) * a.var(ddof=1) + (n - 1) * end.var(ddof=1)) / (2 * n - 2))
    assert_allclose(res.contrasts.se.iloc[0], pooled * np.sqrt(2 / n), rtol=1e-8)


def test_trajectory_figure_and_methods(result):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kureval.plots.prepost import plot_trajectories
    from kureval.report.labels import t
    from kureval.selfrating.methods import methods_text

    ax = plot_trajectories(result, "who5", lang="sv")
    assert ax.get_xlabel() == t("sr_fig_timepoint", "sv")
    assert [x.get_text() for x in ax.get_xticklabels()] == [
        "Start",
        "Slut",
        "6 månader",
        "12 månader",
    ]
    plt.close("all")
    text = methods_text(longitudinal=result, text=lambda k, **kw: t(k, "en", **kw))
    assert "random intercept" in text and "start, end, 6m and 12m" in text


def test_time_point_without_scores_gives_nan_rows(data):
    # WHO-5 not asked at 6 months, another scale was
    d = pd.concat([data[data.timepoint != "6m"], data.assign(scale="other")], ignore_index=True)
    res = longitudinal(d, timepoints=TPS)
    m = res.means[res.means.scale == "who5"].set_index("timepoint")
    assert m.at["6m", "n_obs"] == 0 and np.isnan(m.at["6m", "estimate"])
    assert np.isfinite(m.at["12m", "estimate"])
    assert m.at["start", "n_completers"] > 0 and np.isnan(m.at["6m", "mean_completers"])
    only_start = pd.concat(
        [data[data.timepoint == "start"], data.assign(scale="other")], ignore_index=True
    )
    res2 = longitudinal(only_start, timepoints=TPS, scales=["who5"])
    assert "not fitted" in res2.models.warnings.iloc[0] and not res2.models.converged.iloc[0]
