"""kureval.reference.pool on a small hand-made register whose answers are worked out by hand."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from numpy.testing import assert_allclose

from kureval.errors import ConfigError, DataError
from kureval.reference.pool import anchor_of, build_pool
from kureval.study.reference_config import EligibilityConfig, ReferenceConfig
from kureval.study.register_config import RegisterConfig

REGISTER = RegisterConfig(data_start=dt.date(2018, 1, 1), data_end=dt.date(2022, 12, 31))
GROUPS = {"depression": ("F32", "F33"), "pain": ("M54",)}


def _config(**kw) -> ReferenceConfig:
    base = dict(
        programme="P",
        covariates=("age", "visits_primary_care"),
        exact=("sex",),
        diagnosis_groups=GROUPS,
        eligibility=EligibilityConfig(diagnosis_visit_days=365),
    )
    base.update(kw)
    return ReferenceConfig(**base)


@pytest.fixture()
def register():
    population = pd.DataFrame(
        {
            "person_id": ["p1", "p2", "c1", "c2", "c3", "c4", "c5", "c6"],
            "sex": ["F", "M", "F", "F", "M", "F", "F", "F"],
            "birth_year": [1980, 1970, 1981, 1990, 1971, 1985, 1979, 1982],
            "municipality": ["x"] * 8,
            "in_register_from": pd.to_datetime(
                ["2000-01-01"] * 5 + ["2019-06-01", "2000-01-01", "2000-01-01"]
            ),
            "exit_date": pd.to_datetime([None, None, None, None, None, None, "2020-03-15", None]),
        }
    )
    visits = pd.DataFrame(
        {
            "person_id": ["p1", "p1", "c1", "c1", "c1", "c2", "c3", "c4", "c5", "c6", "p2"],
            "date": pd.to_datetime(
                [
                    "2019-10-01",
                    "2019-12-01",
                    "2019-05-01",
                    "2019-11-20",
                    "2020-02-01",
                    "2018-01-15",
                    "2019-09-09",
                    "2019-12-01",
                    "2019-12-01",
                    "2019-08-01",
                    "2020-04-01",
                ]
            ),
            "care_type": ["primary_care"] * 11,
            "discharge_date": pd.NaT,
            "diagnosis": [
                "F32.1",
                "F32.1",
                "F33",
                "F32",
                "F32",
                "F32",
                "M54.5",
                "F32",
                "F32",
                "J06",
                "M54",
            ],
        }
    )
    participants = pd.DataFrame(
        {
            "person_id": ["p1", "p2", "p9", "p3"],
            "programme": ["P", "P", "P", "P"],
            "sex": ["F", "M", "F", "F"],
            "birth_year": [1980, 1970, 1960, 1975],
            "referral_date": pd.to_datetime(["2020-01-01"] * 4),
            "status": ["started"] * 4,
            "start_date": pd.to_datetime(["2020-02-10", "2020-05-05", "2020-02-01", None]),
            "diagnosis_group": ["depression", "M54.5", "depression", "depression"],
        }
    )
    return participants, population, visits


def test_anchor_periods():
    d = pd.Series(pd.to_datetime(["2020-02-13", "2020-02-29"]))
    assert list(anchor_of(d, "month")) == [pd.Timestamp("2020-02-01")] * 2
    assert list(anchor_of(d, "week")) == [pd.Timestamp("2020-02-10"), pd.Timestamp("2020-02-24")]
    assert list(anchor_of(d, "day")) == list(d)


def test_pool_eligibility_and_covariates(register):
    participants, population, visits = register
    pool = build_pool(participants, population, visits, None, None, _config(), REGISTER)
    d = pool.data.set_index("row_id")
    # p9 is not in the population, p3 never started: both listed, not dropped silently
    assert pool.excluded.set_index("person_id")["reason"].to_dict() == {
        "p9": "not_in_population",
        "p3": "no_index_date",
    }
    # p1 (F, 2020-02 period, depression): candidates at anchor 2020-02-01 with a depression visit
    # in 2019-02-01..2020-01-31 and in the register since 2019-02-01: c1 (yes), c2 (visit too old),
    # c4 (moved in 2019-06-01: no), c5 (exits 2020-03-15, after the period: yes), c6 (no group visit)
    feb = d[(d.treat == 0) & (d.index_period == pd.Timestamp("2020-02-01"))]
    assert sorted(feb["person_id"]) == ["c1", "c5"]
    # covariates as of the anchor: c1 had primary-care visits 2019-05-01 and 2019-11-20 in the window
    assert_allclose(d.loc["2020-02-01|c1", "visits_primary_care"], 2)
    assert_allclose(d.loc["2020-02-01|c1", "age"], 2020 - 1981)
    assert d.loc["2020-02-01|c1", "diagnosis_group"] == "depression"
    assert d.loc["2020-02-01|c1", "age_band"] == "30-39"
    # the participant at her own index date 2020-02-10: visits 2019-10-01 and 2019-12-01
    assert_allclose(d.loc["p1", "visits_primary_care"], 2)
    # p2 (M, pain via ICD code M54.5, 2020-05): c3 has a pain visit 2019-09-09
    assert d.loc["p2", "diagnosis_group"] == "pain"
    may = d[(d.treat == 0) & (d.index_period == pd.Timestamp("2020-05-01"))]
    assert sorted(may["person_id"]) == ["c3"]
    flow = pool.flow.set_index("step")["n"]
    assert flow["participants in the programme"] == 4
    assert flow["participants to match"] == 2


def test_not_yet_started_participants_can_be_candidates(register):
    participants, population, visits = register
    # p1 (starts 2020-02-10) is a possible reference for p2's period (2020-05)? no: started by then.
    pool = build_pool(
        participants,
        population,
        visits,
        None,
        None,
        _config(exclude_participants="not_yet_started", exact=()),
        REGISTER,
    )
    may = pool.data[(pool.data.treat == 0) & (pool.data.index_period == pd.Timestamp("2020-05-01"))]
    assert "p1" not in set(may["person_id"])
    late = participants.assign(
        start_date=pd.to_datetime(["2020-02-10", "2020-05-05", None, "2021-01-10"])
    )
    pool = build_pool(
        late,
        population,
        visits,
        None,
        None,
        _config(exclude_participants="not_yet_started", exact=()),
        REGISTER,
    )
    feb = pool.data[(pool.data.treat == 0) & (pool.data.index_period == pd.Timestamp("2020-02-01"))]
    assert "p3" not in set(feb["person_id"])  # p3 is not in the population at all


def test_index_date_outside_coverage_is_counted(register):
    participants, population, visits = register
    early = participants.assign(start_date=pd.to_datetime(["2018-03-01", "2020-05-05", None, None]))
    pool = build_pool(early, population, visits, None, None, _config(), REGISTER)
    reasons = pool.excluded.set_index("person_id")["reason"]
    assert reasons["p1"] == "index_outside_coverage"


def test_nobody_placeable_is_an_error(register):
    participants, population, visits = register
    with pytest.raises(DataError, match="no participant can be matched"):
        build_pool(
            participants.assign(start_date=pd.NaT),
            population,
            visits,
            None,
            None,
            _config(),
            REGISTER,
        )


def test_unknown_programme_and_covariate_are_config_errors(register):
    participants, population, visits = register
    with pytest.raises(ConfigError, match="reference.programme"):
        build_pool(participants, population, visits, None, None, _config(programme="Q"), REGISTER)
    with pytest.raises(ConfigError, match="visits_dentist"):
        build_pool(
            participants,
            population,
            visits,
            None,
            None,
            _config(covariates=("age", "visits_dentist")),
            REGISTER,
        )
