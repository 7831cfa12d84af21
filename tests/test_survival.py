"""Return to work: event times by hand; stratified Cox and weighted KM against R ``survival``.

Fixtures: ``tests/results/register/survival_*.csv`` made by ``survival_fixture.R``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from kureval.errors import DataError
from kureval.register.survival import cox_stratified, kaplan_meier, rtw_times

HERE = Path(__file__).parent / "results" / "register"
D = pd.Timestamp


def test_cox_stratified_breslow_matches_coxph() -> None:
    d = pd.read_csv(HERE / "survival_data.csv")
    ref = pd.read_csv(HERE / "survival_cox.csv").set_index("model")
    res = cox_stratified(d)
    assert_allclose(res.log_hr, ref.loc["coxph_strata_breslow", "estimate"], rtol=1e-6)
    assert_allclose(res.se, ref.loc["coxph_strata_breslow", "se"], rtol=1e-5)
    lo, hi = res.conf_int()
    assert lo < res.estimate < hi


def test_cox_robust_clustered_on_person_matches_coxph_cluster() -> None:
    d = pd.read_csv(HERE / "survival_data_reuse.csv")
    ref = pd.read_csv(HERE / "survival_cox.csv").set_index("model")
    res = cox_stratified(d, cluster="id")
    assert_allclose(res.log_hr, ref.loc["coxph_strata_breslow_cluster_id", "estimate"], rtol=1e-6)
    assert_allclose(res.se, ref.loc["coxph_strata_breslow_cluster_id", "se"], rtol=1e-5)


def test_weighted_km_matches_survfit() -> None:
    d = pd.read_csv(HERE / "survival_data.csv")
    ref = pd.read_csv(HERE / "survival_km.csv")
    km = kaplan_meier(d)
    for group, code in (("participants", 1), ("references", 0)):
        got = km[(km.group == group) & (km.n_events > 0)].reset_index(drop=True)
        exp = ref[ref.treat == code].reset_index(drop=True)
        assert_allclose(got["time"], exp["time"])
        assert_allclose(got["surv"], exp["surv"], rtol=1e-10)
        assert_allclose(got["n_risk"], exp["n_risk"], rtol=1e-10)
        assert_allclose(got["se"], exp["se"], rtol=1e-8)
        ok = exp["lower"].notna()
        assert_allclose(got.loc[ok, "ci_low"], exp.loc[ok, "lower"], rtol=1e-8)
        assert_allclose(got.loc[ok, "ci_high"], exp.loc[ok, "upper"], rtol=1e-8)


def _case() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    population = pd.DataFrame(
        {
            "person_id": ["A", "B", "C", "E", "F"],
            "exit_date": [pd.NaT, pd.NaT, pd.NaT, D("2020-03-15"), pd.NaT],
        }
    )
    sick = pd.DataFrame(
        [
            (
                "A",
                "2019-12-01",
                "2020-01-20",
                100.0,
            ),  # on leave at index; 10 free days; leave again
            ("A", "2020-01-31", "2020-02-29", 50.0),  # partial leave counts as sick leave
            ("A", "2020-03-01", "2020-03-05", 100.0),  # adjacent: no free day in between
            ("B", "2020-02-01", "2020-02-10", 100.0),  # not on leave at index: not at risk
            ("C", "2019-11-01", "2020-12-31", 100.0),  # on leave until the end of data: censored
            (
                "E",
                "2019-12-15",
                "2020-02-29",
                100.0,
            ),  # exit 2020-03-15: free run cannot be confirmed
            ("F", "2019-12-15", "2020-01-10", 100.0),
            ("F", "2020-01-05", "2020-01-31", 25.0),  # overlapping spells merge
        ],
        columns=["person_id", "start_date", "end_date", "extent"],
    )
    for c in ("start_date", "end_date"):
        sick[c] = pd.to_datetime(sick[c])
    matched = pd.DataFrame(
        {
            "id": ["A", "B", "C", "E", "F"],
            "set_id": ["s1", "s1", "s2", "s2", "s2"],
            "treat": [1, 0, 1, 0, 0],
            "weight": 1.0,
            "index_date": D("2020-01-01"),
        }
    )
    return matched, population, sick


def test_rtw_times_by_hand() -> None:
    matched, population, sick = _case()
    out = rtw_times(
        matched, population, sick, data_end=D("2020-12-31"), free_days=30, horizon=364
    ).set_index("id")
    # A: leave continuous to 2020-03-05; first free day 2020-03-06 = day 65 after 2020-01-01
    assert out.loc["A", "at_risk"] and out.loc["A", "status"] == 1 and out.loc["A", "time"] == 65
    assert not out.loc["B", "at_risk"] and np.isnan(out.loc["B", "time"])
    # C: data end 2020-12-31 → last confirmable start = 2020-12-02 = day 336 → censored there
    assert out.loc["C", "status"] == 0 and out.loc["C", "time"] == 336
    # E: free from 2020-03-01 but exits 2020-03-15 → censored at 2020-02-15 = day 45
    assert out.loc["E", "status"] == 0 and out.loc["E", "time"] == 45
    # F: merged leave to 2020-01-31 → return 2020-02-01 = day 31
    assert out.loc["F", "status"] == 1 and out.loc["F", "time"] == 31


def test_rtw_horizon_censors() -> None:
    matched, population, sick = _case()
    out = rtw_times(
        matched, population, sick, data_end=D("2020-12-31"), free_days=30, horizon=40
    ).set_index("id")
    assert out.loc["A", "status"] == 0 and out.loc["A", "time"] == 40
    assert out.loc["F", "status"] == 1 and out.loc["F", "time"] == 31


def test_rtw_rejects_spells_ending_before_start() -> None:
    matched, population, sick = _case()
    sick.loc[2, "end_date"] = D("2020-02-01")
    with pytest.raises(DataError, match="end_date"):
        rtw_times(matched, population, sick, data_end=D("2020-12-31"))
