"""kureval.reference.balance against R MatchIt 4.7.2 summary() (tests/results/matchit/*_balance_*.csv)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from kureval.reference.balance import balance, balance_table
from kureval.reference.match import match

RESULTS = Path(__file__).parent / "results" / "matchit"
COVARIATES = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
CONFIGS = {
    "nn1": {},
    "nn1_caliper": {"caliper": 0.2},
    "nn1_logit_caliper": {"link": "logit", "caliper": 0.2},
    "nn2_caliper": {"caliper": 0.2, "ratio": 2},
    "nn1_exact_race": {"exact": ["race"]},
    "nn1_replace": {"replace": True},
}
R_COLUMNS = {
    "Means Treated": "mean_treated",
    "Means Control": "mean_control",
    "Std. Mean Diff.": "smd",
    "Var. Ratio": "var_ratio",
    "eCDF Mean": "ecdf_mean",
    "eCDF Max": "ecdf_max",
}


@pytest.fixture(scope="module")
def lalonde() -> pd.DataFrame:
    return pd.read_csv(RESULTS / "lalonde.csv")


@pytest.mark.parametrize("name", list(CONFIGS))
@pytest.mark.parametrize(("part", "sample"), [("all", "before"), ("matched", "after")])
def test_balance_equals_matchit_summary(lalonde, name, part, sample):
    res = match(lalonde, "treat", covariates=COVARIATES, id="id", **CONFIGS[name])
    got = balance(res).table
    ref = pd.read_csv(RESULTS / f"{name}_balance_{part}.csv")
    ref["term"] = ref["term"].str.replace(r"^race", "race_", regex=True)  # raceblack -> race_black
    got = got[got["sample"] == sample].set_index("term")
    assert list(got.index) == list(ref["term"])
    for r_col, col in R_COLUMNS.items():
        # the fitted propensity agrees with R's glm() to ~1e-8 (convergence tolerance)
        assert_allclose(
            got[col].to_numpy(),
            ref[r_col].to_numpy(),
            rtol=1e-7,
            atol=1e-7,
            equal_nan=True,
            err_msg=f"{name} {part} {col}",
        )


def test_smd_denominator_is_fixed_treated_sd_before(lalonde):
    res = match(lalonde, "treat", covariates=COVARIATES, id="id", caliper=0.2)
    t = balance(res).table.set_index(["term", "sample"])
    age_t = lalonde.loc[lalonde.treat == 1, "age"]
    w = res.units.set_index("id")["weight"]
    m = lalonde.set_index("id")
    after_c = np.average(m.loc[w.index[(w > 0) & (res.units.set_index("id")["treat"] == 0)], "age"])
    after_t = np.average(m.loc[w.index[(w > 0) & (res.units.set_index("id")["treat"] == 1)], "age"])
    assert_allclose(t.loc[("age", "after"), "smd"], (after_t - after_c) / age_t.std(ddof=1))
    p = (lalonde.loc[lalonde.treat == 1, "married"]).mean()
    before = p - lalonde.loc[lalonde.treat == 0, "married"].mean()
    assert_allclose(t.loc[("married", "before"), "smd"], before / np.sqrt(p * (1 - p)))


def test_invariances(lalonde):
    res = match(lalonde, "treat", covariates=COVARIATES, id="id", caliper=0.2)
    base = balance(res).table.set_index(["term", "sample"])
    # rescaling a covariate leaves its SMD, variance ratio and eCDF statistics unchanged
    scaled = lalonde.assign(age=lalonde["age"] * 12 + 3)
    other = balance(res, data=scaled).table.set_index(["term", "sample"])
    for col in ["smd", "var_ratio", "ecdf_mean", "ecdf_max"]:
        assert_allclose(other.loc["age", col], base.loc["age", col], rtol=1e-12)
    # shuffled data are aligned on id
    shuffled = balance(res, data=lalonde.sample(frac=1, random_state=3)).table
    pd.testing.assert_frame_equal(shuffled, balance(res).table)


def test_swapping_groups_flips_mean_difference_sign():
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"x": rng.normal(size=400)})
    t = rng.random(400) < 0.3
    a = balance_table(x, t, np.ones(400)).iloc[0]
    b = balance_table(x, ~t, np.ones(400)).iloc[0]
    assert_allclose(a.mean_treated - a.mean_control, -(b.mean_treated - b.mean_control))
    assert_allclose(a.ecdf_max, b.ecdf_max)
    assert_allclose(a.var_ratio, 1 / b.var_ratio)


def test_flags_ess_and_balanced(lalonde):
    res = match(lalonde, "treat", covariates=COVARIATES, id="id", replace=True)
    bal = balance(res)
    after = bal.table[bal.table["sample"] == "after"]
    assert_array_equal(after["large"], after["smd"].abs() > 0.1)
    assert bal.balanced == bal.large().empty
    w = res.units.loc[(res.units.treat == 0) & (res.units.weight > 0), "weight"]
    ess = bal.ess.set_index(["group", "sample"])
    assert_allclose(ess.loc[("references", "after"), "ess"], w.sum() ** 2 / (w**2).sum())
    assert ess.loc[("participants", "before"), "n"] == 185
    assert list(bal.wide().columns) == ["term", "before", "after"]


def test_balance_of_two_thousand_times_five_against_a_million_is_fast():
    rng = np.random.default_rng(1)
    n = 1_000_000
    t = np.zeros(n, dtype=bool)
    t[:2000] = True
    x = pd.DataFrame(
        {
            "age": rng.integers(18, 65, n).astype(float),
            "visits": rng.poisson(3, n).astype(float),
            "days": rng.gamma(1.0, 20.0, n),
            "n06a": (rng.random(n) < 0.1).astype(float),
        }
    )
    w = np.zeros(n)
    w[:2000] = 1.0
    w[2000:12000] = 1.0
    start = time.perf_counter()
    tab = balance_table(x, t, w)
    elapsed = time.perf_counter() - start
    assert len(tab) == 8
    assert elapsed < 10  # seconds, generous for CI; typically about 1 s
