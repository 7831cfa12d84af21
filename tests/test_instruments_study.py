"""Scoring a whole study: tidy table, exclusions, validation of responses and options."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from kureval.errors import DataError
from kureval.instruments.registry import config_problems, response_problems, scale_info
from kureval.instruments.score import COLUMNS, score_study
from kureval.study.model import ExclusionLog

TP = ("start", "end")


def _study(rows: list[tuple[Any, ...]], instruments: dict[str, dict[str, Any]]) -> SimpleNamespace:
    r = pd.DataFrame(rows, columns=["person_id", "timepoint", "instrument", "item", "value"])
    r["timepoint"] = pd.Categorical(r["timepoint"], categories=list(TP), ordered=True)
    r["value"] = r["value"].astype(float)
    r["_row"] = np.arange(len(r)) + 2
    config = SimpleNamespace(instruments=instruments, timepoints=TP, source=Path("study.toml"))
    return SimpleNamespace(
        config=config,
        responses=r,
        files={"responses": Path("/x/responses.csv")},
        exclusions=ExclusionLog(),
    )


def _hads_rows(pid: str, tp: str, values: list[float]) -> list[tuple[Any, ...]]:
    return [(pid, tp, "hads", i + 1, v) for i, v in enumerate(values)]


INSTR = {
    "hads": {},
    "eq5d": {"version": "3L", "value_set": "UK_3L_Dolan1997"},
    "steps": {
        "type": "generic",
        "items": 2,
        "min": 1,
        "max": 10,
        "higher_is_better": True,
        "method": "mean",
        "mcid": 1.0,
    },
}


def _example() -> SimpleNamespace:
    rows = _hads_rows("p1", "start", [1] * 14)
    rows += _hads_rows(
        "p1", "end", [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, np.nan, 1]
    )  # A prorated 0 → 0
    rows += _hads_rows(
        "p2", "start", [np.nan, 2, np.nan, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2]
    )  # A: 2 missing
    rows += [
        ("p1", "start", "eq5d", d, lv) for d, lv in zip(range(1, 6), [1, 1, 2, 2, 1], strict=True)
    ]
    rows += [
        ("p2", "start", "eq5d", d, lv) for d, lv in zip(range(1, 5), [1, 1, 1, 1], strict=True)
    ]  # AD absent
    rows += [("p2", "end", "steps", 1, 4.0), ("p2", "end", "steps", 2, 6.0)]
    return _study(rows, INSTR)


def test_score_study_tidy_table() -> None:
    study = _example()
    scores, excluded = score_study(study, return_excluded=True)
    assert tuple(scores.columns) == COLUMNS
    got = scores.set_index(["person_id", "timepoint", "scale"])["score"]
    assert (
        got[("p1", "start", "hads_anxiety")] == 7 and got[("p1", "start", "hads_depression")] == 7
    )
    assert got[("p1", "end", "hads_anxiety")] == 0 and got[("p1", "end", "hads_depression")] == 7
    assert got[("p2", "start", "hads_depression")] == 14
    assert_allclose(
        got[("p1", "start", "eq5d_index")], 1 - 0.081 - 0.036 - 0.123
    )  # Dolan: 11221 = 0.760
    assert got[("p2", "end", "steps")] == 5.0
    assert ("p2", "start", "hads_anxiety") not in got.index and (
        "p2",
        "start",
        "eq5d_index",
    ) not in got.index
    assert isinstance(scores.timepoint.dtype, pd.CategoricalDtype) and scores.timepoint.cat.ordered
    assert scores.band.dtype == "string" and scores.case.dtype == "boolean"
    row = scores[
        (scores.person_id == "p1") & (scores.timepoint == "end") & (scores.scale == "hads_anxiety")
    ]
    assert bool(row.imputed.iloc[0]) and int(row.n_missing.iloc[0]) == 1
    # order: person, time point, study.toml order of instruments
    assert scores.scale.tolist()[:3] == ["hads_anxiety", "hads_depression", "eq5d_index"]
    assert excluded[["person_id", "scale", "n_missing"]].values.tolist() == [
        ["p2", "hads_anxiety", 2],
        ["p2", "eq5d_index", 1],
    ]  # same order as the scores table
    log = study.exclusions.table.set_index("reason")["n"]
    assert log["hads_anxiety: more than 1 of 7 items missing"] == 1
    assert log["eq5d_index: at least one dimension missing"] == 1
    assert (study.exclusions.table.step == "scoring").all()


def test_score_study_ignores_row_order() -> None:
    study = _example()
    a = score_study(study)
    shuffled = _example()
    shuffled.responses = study.responses.sample(frac=1, random_state=3).reset_index(drop=True)
    b = score_study(shuffled)
    pd.testing.assert_frame_equal(a, b)


def test_options_change_rules() -> None:
    study = _example()
    study.config.instruments = {**INSTR, "hads": {"max_missing": 2, "case_threshold": 8}}
    scores = score_study(study)
    a = scores[(scores.person_id == "p2") & (scores.scale == "hads_anxiety")]
    assert a.score.iloc[0] == 7 and bool(a.imputed.iloc[0])  # 5 answered, sum 5: 5 × 7/5 = 7
    d = scores[(scores.person_id == "p2") & (scores.scale == "hads_depression")]
    assert bool(d.case.iloc[0])  # 14 ≥ 8


def test_bad_responses_listed_together() -> None:
    rows = _hads_rows("p1", "start", [1] * 14)
    rows += [
        ("p1", "start", "hads", 15, 1),
        ("p1", "start", "hads", 3, 4),
        ("p1", "start", "hads", 5, 1.5),
        ("p1", "start", "eq5d", 1, 4),
        ("p1", "start", "eq5d", 2, 1),
        ("p1", "start", "phq9", 1, 2),
        ("p1", "start", "hads", 1, 1),
    ]  # duplicate of row 2
    study = _study(rows, {"hads": {}, "eq5d": {"version": "3L", "value_set": "SE_3L_Burstrom2014"}})
    problems = response_problems(study, table_checks=True)
    by_row = {(p.row, p.column) for p in problems}
    assert {
        (16, "item"),
        (17, "value"),
        (18, "value"),
        (19, "value"),
        (21, "instrument"),
        (2, "item"),
        (22, "item"),
        (4, "item"),
    } <= by_row
    eq = next(p for p in problems if p.row == 19)
    assert (
        eq.file == "responses.csv" and eq.value == 4.0 and "EQ-5D-3L level: 1, 2, 3" in eq.expected
    )
    assert "person p1" in eq.expected and "item 1" in eq.expected
    dup = next(p for p in problems if p.row == 22)
    assert "also answered on row 2" in dup.expected
    with pytest.raises(DataError) as err:
        score_study(study)
    assert len(err.value.problems) == len(problems)
    # at load time the table checks (undeclared instrument, duplicates) are io's
    load_time = {(p.row, p.column) for p in response_problems(study)}
    assert (21, "instrument") not in load_time and (22, "item") not in load_time
    assert (19, "value") in load_time


def test_config_problems() -> None:
    cfg = SimpleNamespace(
        source=Path("/s/study.toml"),
        instruments={
            "eq5d": {"version": "3L", "value_set": "SE_5L_Sun2022", "rounding": "x"},
            "who5": {"max_missing": 5, "mcid": {"who5": -1, "wellbeing": 2}},
            "phq9": {},
            "steps": {
                "type": "generic",
                "min": 5,
                "max": 1,
                "higher_is_better": "yes",
                "method": "median",
            },
            "hads": {"reliability": {"hads_anxiety": 1.2}, "case_threshold": 30},
        },
    )
    problems = config_problems(cfg)
    cols = sorted(p.column for p in problems)
    assert cols == sorted(
        [
            "instruments.eq5d.value_set",
            "instruments.eq5d.rounding",
            "instruments.who5.max_missing",
            "instruments.who5.mcid.who5",
            "instruments.who5.mcid.wellbeing",
            "instruments.phq9",
            "instruments.steps.items",
            "instruments.steps.max",
            "instruments.steps.higher_is_better",
            "instruments.steps.method",
            "instruments.hads.reliability.hads_anxiety",
            "instruments.hads.case_threshold",
        ]
    )
    assert all(p.file == "study.toml" for p in problems)
    clash = config_problems(
        {
            "wemwbs": {"derive_swemwbs": True},
            "swemwbs": {},
            "hads_anxiety": {
                "type": "generic",
                "items": 1,
                "min": 0,
                "max": 3,
                "higher_is_better": False,
            },
        }
    )
    assert sorted(p.column for p in clash) == [
        "instruments.hads_anxiety.type",
        "instruments.wemwbs.derive_swemwbs",
    ]
    missing = config_problems({"eq5d": {"version": "5L"}})
    assert (
        len(missing) == 1
        and "SE_5L_Sun2022" in missing[0].expected
        and "UK_3L_Dolan1997" in missing[0].expected
    )


def test_scale_info_from_config() -> None:
    cfg = SimpleNamespace(
        instruments={
            "hads": SimpleNamespace(name="hads", options={"mcid": {"hads_anxiety": 2.0}}),
            "eq5d": {"value_set": "UK_3L_Dolan1997"},
            "steps": INSTR["steps"],
            "wemwbs": {"derive_swemwbs": True},
        }
    )
    assert scale_info("hads_anxiety", cfg).mcid == 2.0
    assert scale_info("hads_depression", cfg).mcid == 1.5
    assert_allclose(scale_info("eq5d_index", cfg).mcid, 0.0816)
    assert_allclose(
        [scale_info("eq5d_index", cfg).min, scale_info("eq5d_index", cfg).max], [-0.594, 1]
    )
    steps = scale_info("steps", cfg)
    assert (steps.min, steps.max, steps.mcid, steps.higher_is_better) == (1, 10, 1.0, True)
    assert scale_info("swemwbs", cfg).instrument == "swemwbs"
    assert scale_info("hads_anxiety").reliability == 0.83


def test_demo_programme_exclusions_match_planted_missing_items() -> None:
    from kureval.study import demo_selfrating

    _, resp, planted = demo_selfrating.build()
    r = resp.copy()
    r["value"] = pd.to_numeric(r["value"].replace("", np.nan))
    r["timepoint"] = pd.Categorical(
        r["timepoint"], categories=list(demo_selfrating.TIMEPOINTS), ordered=True
    )
    r["_row"] = np.arange(len(r)) + 2
    instruments = {
        "hads": {},
        "eq5d": {"version": "5L", "value_set": "SE_5L_Sun2022"},
        "eqvas": {},
        "who5": {},
        "swemwbs": {},
        "was": {},
    }
    study = SimpleNamespace(
        config=SimpleNamespace(instruments=instruments, timepoints=demo_selfrating.TIMEPOINTS),
        responses=r,
        files={"responses": Path("responses.csv")},
        exclusions=ExclusionLog(),
    )
    assert response_problems(study) == []
    scores, excluded = score_study(study, return_excluded=True)
    counts = excluded.groupby("scale").size().to_dict()
    for scale, n in planted["not_scorable"].items():
        assert counts.get(scale, 0) == n, scale
    assert study.exclusions.table.n.sum() == sum(planted["not_scorable"].values())
    imputed = scores[scores.imputed].groupby("scale").size().to_dict()
    assert imputed == {k: v for k, v in planted["prorated"].items() if v}
    assert scores.n_missing.sum() + excluded.n_missing.sum() == sum(
        planted["missing_items"].values()
    )
