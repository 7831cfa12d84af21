"""Tests of kureval.followup: Wilson intervals, participant flow, destinations, goals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from statsmodels.stats.proportion import proportion_confint

from kureval.errors import ConfigError, DataError
from kureval.followup.flow import FINAL_BOXES, final_box, flow
from kureval.followup.proportions import wilson_ci
from kureval.study.config import parse_config
from kureval.study.model import Study

RESULTS = Path(__file__).parent / "results" / "followup"
DATE_COLS = ("referral_date", "start_date", "end_date")


# --------------------------------------------------------------------------- helpers
def make_study(rows, responses=None, goals=(), timepoints=("start", "end", "6m"), min_cell=5):
    """A Study from participant tuples (id, programme, sex, status, start, end, dest, provision)."""
    cols = [
        "person_id",
        "programme",
        "sex",
        "status",
        "start_date",
        "end_date",
        "exit_destination",
        "provision_at_start",
    ]
    p = pd.DataFrame(rows, columns=cols)
    p["referral_date"] = pd.to_datetime("2021-12-01")
    for c in DATE_COLS:
        p[c] = pd.to_datetime(p[c])
    for c in ("person_id", "programme", "sex", "status", "exit_destination", "provision_at_start"):
        p[c] = p[c].astype("string")
    p["_row"] = np.arange(2, len(p) + 2)
    if responses is None:
        responses = pd.DataFrame(
            columns=["person_id", "timepoint", "date", "instrument", "item", "value"]
        )
    cfg = parse_config(
        {
            "study": {"name": "test", "min_cell": min_cell},
            "timepoints": {"order": list(timepoints)},
            "goals": [dict(g) for g in goals],
        },
        source="study.toml",
    )
    return Study(
        path=Path("."),
        config=cfg,
        participants=p,
        responses=responses,
        files={"participants": Path("participants.csv")},
    )


def small_study(**kw):
    """Two programmes, hand-countable."""
    rows = [
        ("p01", "A", "F", "completed", "2022-01-10", "2022-03-01", "work", "sickness_benefit"),
        (
            "p02",
            "A",
            "F",
            "completed",
            "2022-01-10",
            "2022-03-01",
            "studies",
            "financial_assistance",
        ),
        (
            "p03",
            "A",
            "M",
            "dropped_out",
            "2022-02-01",
            "2022-02-20",
            "health_deteriorated",
            "financial_assistance",
        ),
        ("p04", "A", "M", "completed", "2022-05-01", "2023-01-15", "work", "none"),
        ("p05", "A", "F", "ongoing", "2022-11-01", None, None, "sickness_benefit"),
        ("p06", "A", "F", "referred", None, None, None, None),
        ("p07", "A", "X", "started", "2023-02-01", None, None, "unknown"),
        ("p08", "A", "F", "dropped_out", "2023-03-01", "2023-04-01", None, "financial_assistance"),
        (
            "p09",
            "B",
            "M",
            "completed",
            "2022-03-01",
            "2022-06-01",
            "continued_rehab",
            "activity_compensation",
        ),
        ("p10", "B", "F", "completed", "2022-03-01", "2022-06-01", "work", "sickness_benefit"),
        ("p11", "B", "M", "referred", None, None, None, None),
    ]
    return make_study(rows, **kw)


def _n(result, group, stage, timepoint=None):
    s = result.stages
    m = (s["programme"] == group) & (s["stage"] == stage)
    m &= s["timepoint"].isna() if timepoint is None else (s["timepoint"] == timepoint)
    assert m.sum() == 1
    return int(s.loc[m, "n"].iloc[0])


# --------------------------------------------------------------------------- Wilson
def test_wilson_matches_newcombe_1998_table_1():
    ref = pd.read_csv(RESULTS / "newcombe1998_table1.csv", comment="#")
    low, high = wilson_ci(ref["count"], ref["nobs"])
    assert_allclose(low, ref["lower"], atol=5e-5)
    assert_allclose(high, ref["upper"], atol=5e-5)


def test_wilson_matches_statsmodels_grid_and_edges():
    n = np.repeat(np.arange(1, 60), 3)
    x = (n * np.tile([0.0, 0.37, 1.0], 59)).round().astype(int)
    low, high = wilson_ci(x, n, alpha=0.1)
    ref_low, ref_high = proportion_confint(x, n, alpha=0.1, method="wilson")
    assert_allclose(low, ref_low, rtol=1e-12, atol=1e-15)
    assert_allclose(high, ref_high, rtol=1e-12, atol=1e-15)
    assert np.all((low >= 0) & (high <= 1) & (low <= x / n) & (x / n <= high))


def test_wilson_rejects_bad_counts_and_gives_nan_for_empty_denominator():
    with pytest.raises(ConfigError, match="count <= nobs"):
        wilson_ci(6, 5)
    with pytest.raises(ConfigError, match="alpha"):
        wilson_ci(1, 5, alpha=1.5)
    low, high = wilson_ci(0, 0)
    assert np.isnan(low) and np.isnan(high)


# --------------------------------------------------------------------------- flow by hand
def test_stages_counted_by_hand():
    fl = flow(small_study())
    expected_a = {
        "referred": 8,
        "not_started": 1,
        "started": 7,
        "ongoing": 1,
        "no_end_status": 1,
        "ended": 5,
        "completed": 3,
        "dropped_out": 2,
    }
    for stage, n in expected_a.items():
        assert _n(fl, "A", stage) == n, stage
    assert _n(fl, "B", "referred") == 3 and _n(fl, "B", "completed") == 2
    row = fl.stages[(fl.stages["programme"] == "A") & (fl.stages["stage"] == "started")].iloc[0]
    assert (row["n_F"], row["n_M"], row["n_X"]) == (4, 2, 1)
    assert row["n_parent"] == 8 and row["share_of_parent"] == pytest.approx(7 / 8)
    assert list(fl.table.columns) == ["A", "B"]
    assert fl.table.loc["dropped_out", "A"] == 2


def test_destinations_shares_and_wilson_by_sex():
    fl = flow(small_study())
    d = fl.destinations.set_index(["programme", "sex", "exit_destination"])
    # programme A ended: p01 work, p02 studies, p03 health, p04 work, p08 (empty)
    assert d.loc[("A", "all", "work"), "n"] == 2 and d.loc[("A", "all", "work"), "n_ended"] == 5
    assert (
        d.loc[("A", "all", "not_recorded"), "n"] == 1
    )  # empty destination is not recoded to "unknown"
    assert d.loc[("A", "all", "unknown"), "n"] == 0
    assert d.loc[("A", "F", "work"), "n_ended"] == 3 and d.loc[("A", "M", "work"), "n"] == 1
    lo, hi = proportion_confint(2, 5, method="wilson")
    assert_allclose(
        d.loc[("A", "all", "work"), ["share", "ci_low", "ci_high"]].to_numpy(dtype=float),
        [0.4, lo, hi],
        rtol=1e-12,
    )
    assert ("A", "X", "work") not in d.index  # the only X person did not end
    per_group = fl.destinations.groupby(["programme", "sex"])
    assert (per_group["n"].sum() == per_group["n_ended"].first()).all()


def test_provision_among_started():
    fl = flow(small_study())
    pv = fl.provision.set_index(["programme", "sex", "provision_at_start"])
    assert pv.loc[("A", "all", "financial_assistance"), "n"] == 3
    assert pv.loc[("A", "all", "financial_assistance"), "n_started"] == 7
    assert pv.loc[("A", "X", "unknown"), "n"] == 1
    assert (
        "not_recorded" not in fl.provision["provision_at_start"].to_numpy()
    )  # the referred have none


def test_goals_share_ci_and_met():
    goals = [
        {
            "programme": "A",
            "name": "work_or_studies",
            "destinations": ["work", "studies"],
            "target": 0.5,
        },
        {"name": "to_work", "destinations": ["work"], "target": 0.6},
    ]
    fl = flow(small_study(goals=goals))
    g = fl.goals.set_index(["programme", "goal"])
    assert list(g.index) == [("A", "work_or_studies"), ("A", "to_work"), ("B", "to_work")]
    assert (
        g.loc[("A", "work_or_studies"), "n"] == 3
        and g.loc[("A", "work_or_studies"), "n_ended"] == 5
    )
    assert bool(g.loc[("A", "work_or_studies"), "met"]) is True  # 0.6 >= 0.5
    assert g.loc[("A", "work_or_studies"), "ci_vs_target"] == "includes"
    assert bool(g.loc[("A", "to_work"), "met"]) is False  # 0.4 < 0.6
    assert bool(g.loc[("B", "to_work"), "met"]) is False  # 1 of 2 = 0.5 < 0.6
    lo, hi = proportion_confint(3, 5, method="wilson")
    assert_allclose(
        g.loc[("A", "work_or_studies"), ["ci_low", "ci_high"]].to_numpy(dtype=float), [lo, hi]
    )


def test_self_rating_stages_and_prepost_reasons():
    resp = pd.DataFrame(
        {
            "person_id": ["p01", "p01", "p02", "p02", "p03", "p04", "p06", "p09", "p09"],
            "timepoint": ["start", "end", "start", "end", "start", "end", "start", "start", "end"],
            "instrument": "who5",
            "item": 1,
            "value": [3.0, 4.0, 2.0, 5.0, 1.0, 2.0, 3.0, np.nan, 2.0],
        }
    )
    resp["date"] = pd.NaT
    scores = pd.DataFrame(
        {  # p02 answered both, but the scale could not be scored at end
            "person_id": ["p01", "p01", "p02", "p02"],
            "timepoint": ["start", "end", "start", "end"],
            "scale": "who5",
            "score": [12.0, 16.0, 8.0, np.nan],
        }
    )
    fl = flow(small_study(responses=resp), scores=scores)
    assert _n(fl, "A", "answered", "start") == 3  # p06 never started: not counted
    assert _n(fl, "A", "answered", "end") == 3
    assert _n(fl, "A", "answered", "6m") == 0
    assert _n(fl, "B", "answered", "start") == 0  # p09's only start answer is missing
    assert _n(fl, "A", "prepost") == 1
    r = fl.reasons[(fl.reasons["programme"] == "A") & (fl.reasons["stage"] == "prepost")]
    why = dict(zip(r["reason"], r["n"], strict=True))
    assert why == {"no_answer_pre": 4, "no_answer_post": 1, "not_scorable": 1}
    assert sum(why.values()) == _n(fl, "A", "started") - _n(fl, "A", "prepost")
    r = fl.reasons[(fl.reasons["programme"] == "A") & (fl.reasons["timepoint"] == "start")]
    assert dict(zip(r["status"], r["n"], strict=True)) == {
        "dropped_out": 1,
        "ongoing": 1,
        "started": 1,
        "completed": 1,
    }


# --------------------------------------------------------------------------- period and by
def test_period_by_start_year_and_range_and_end():
    s = small_study()
    fl = flow(s, period=2022)
    assert _n(fl, "A", "referred") == 5  # p07, p08 started 2023; p06 has no start date
    sel = dict(zip(fl.selection["reason"], fl.selection["n"], strict=True))
    assert sel == {"no start_date": 2, "start_date outside 2022": 2}
    log = s.exclusions.table
    assert set(log["step"]) == {"flow"} and log["n"].sum() == 4
    fl = flow(s, period=("2022-01-01", "2022-02-01"))
    assert _n(fl, "A", "referred") == 3 and fl.period == "2022-01-01–2022-02-01"
    fl = flow(s, period=(None, "2022-12-31"), period_by="end_date")
    assert _n(fl, "A", "referred") == 3 and _n(fl, "B", "referred") == 2
    assert fl.period_by == "end_date"
    fl = flow(s, period=2021, period_by="referral_date")  # everyone was referred 2021-12-01
    assert _n(fl, "A", "referred") == 8 and _n(fl, "A", "not_started") == 1


@pytest.mark.parametrize(
    "period, period_by, match",
    [
        ("2022", "start_date", "calendar year"),
        ((2022, 1, 1), "start_date", "pair"),
        (("2022-05-01", "2022-01-01"), "start_date", "start on or before end"),
        (("2022-13-45", None), "start_date", "a date"),
        (2022, "exit_date", "period_by"),
    ],
)
def test_bad_period_is_a_config_error(period, period_by, match):
    with pytest.raises(ConfigError, match=match):
        flow(small_study(), period=period, period_by=period_by)


def test_by_none_and_by_sex():
    fl = flow(small_study(), by=())
    assert fl.groups() == [()] and int(fl.table.loc["referred", "all"]) == 11
    fl = flow(small_study(), by=("programme", "sex"))
    assert "A / F" in fl.table.columns and int(fl.table.loc["referred", "A / F"]) == 5
    with pytest.raises(ConfigError, match="site"):
        flow(small_study(), by=("site",))


def test_repr_html():
    html = flow(small_study())._repr_html_()
    assert "Participant flow" in html and "dropped_out" in html


# --------------------------------------------------------------------------- bad input
def test_inconsistent_participants_list_every_problem():
    rows = [
        ("p1", "A", "F", "ongoing", "2022-01-01", None, "work", None),  # destination while ongoing
        ("p2", "A", "M", "completed", "2022-01-01", None, "work", None),  # completed, no end date
        ("p3", "A", "M", "referred", "2022-01-01", None, None, None),  # referred but started
        (
            "p4",
            "A",
            "F",
            "dropped_out",
            "2022-03-01",
            "2022-02-01",
            None,
            None,
        ),  # ends before start
        (
            "p5",
            "A",
            "F",
            "completed",
            "2022-01-01",
            "2022-02-01",
            "retired",
            "welfare",
        ),  # unknown codes
    ]
    with pytest.raises(DataError) as err:
        flow(make_study(rows))
    got = {(p.row, p.column) for p in err.value.problems}
    assert got == {
        (2, "exit_destination"),
        (3, "end_date"),
        (4, "start_date"),
        (5, "end_date"),
        (6, "exit_destination"),
        (6, "provision_at_start"),
    }
    assert all(p.file == "participants.csv" for p in err.value.problems)
    assert "ongoing" in str(err.value) or "not ended" in str(err.value)


def test_goal_with_unknown_destination_or_programme_is_a_config_error():
    from kureval.study.goals_config import GoalConfig

    s = small_study()
    cfg = s.config.__class__(
        **{
            **s.config.__dict__,
            "goals": (
                GoalConfig("x", ("work", "retired"), 0.3, "A"),
                GoalConfig("y", ("work",), 0.3, "Nope"),
            ),
        }
    )
    bad = Study(
        path=s.path, config=cfg, participants=s.participants, responses=s.responses, files=s.files
    )
    with pytest.raises(ConfigError) as err:
        flow(bad)
    cols = [p.column for p in err.value.problems]
    assert cols == ["goals[0] (x).destinations", "goals[1] (y).programme"]


# --------------------------------------------------------------------------- invariants (hypothesis)
STATUS = ["referred", "started", "ongoing", "completed", "dropped_out"]


@st.composite
def random_study(draw):
    n = draw(st.integers(1, 40))
    rows = []
    for i in range(n):
        status = draw(st.sampled_from(STATUS))
        start = None if status == "referred" else f"2022-{draw(st.integers(1, 12)):02d}-01"
        ended = status in ("completed", "dropped_out")
        end = f"2023-{draw(st.integers(1, 12)):02d}-01" if ended else None
        dest = (
            draw(st.sampled_from([None, "work", "studies", "moved", "unknown"])) if ended else None
        )
        rows.append(
            (
                f"id{i}",
                draw(st.sampled_from(["A", "B", "C"])),
                draw(st.sampled_from(["F", "M", "X"])),
                status,
                start,
                end,
                dest,
                draw(st.sampled_from([None, "none", "sickness_benefit"])),
            )
        )
    answers = draw(
        st.lists(st.tuples(st.integers(0, n - 1), st.sampled_from(["start", "end"])), max_size=60)
    )
    resp = pd.DataFrame(
        {
            "person_id": [f"id{i}" for i, _ in answers],
            "timepoint": [t for _, t in answers],
            "instrument": "srh",
            "item": 1,
            "value": 1.0,
            "date": pd.NaT,
        }
    )
    scores = resp.drop_duplicates(["person_id", "timepoint"]).assign(scale="srh", score=1.0)
    return make_study(rows, responses=resp, timepoints=("start", "end")), scores


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_study(), st.sampled_from([("programme",), (), ("programme", "sex")]))
def test_every_referred_person_is_in_exactly_one_final_box(data, by):
    study, scores = data
    fl = flow(study, by=by, scores=scores)
    box = final_box(study.participants["status"])
    assert box.notna().all() and box.isin(FINAL_BOXES).all()  # one box per person, by construction
    s = fl.stages
    keys = list(by)
    finals = s[s["final"]].groupby(keys)["n"].sum() if keys else s.loc[s["final"], "n"].sum()
    referred = (
        s[s["stage"] == "referred"].set_index(keys)["n"]
        if keys
        else s.loc[s["stage"] == "referred", "n"].sum()
    )
    if keys:
        pd.testing.assert_series_equal(
            finals.sort_index(), referred.sort_index(), check_names=False
        )
    else:
        assert finals == referred
    assert s.loc[s["stage"] == "referred", "n"].sum() == len(study.participants)
    counts = s[s["final"]].groupby("stage")["n"].sum()
    assert (
        counts.reindex(FINAL_BOXES, fill_value=0).to_dict()
        == box.value_counts().reindex(FINAL_BOXES, fill_value=0).to_dict()
    )
    # every step down is explained by its reasons
    merged = s.merge(
        fl.reasons.groupby([*keys, "stage", "timepoint"], dropna=False)["n"]
        .sum()
        .rename("lost")
        .reset_index(),
        on=[*keys, "stage", "timepoint"],
        how="left",
    )
    check = merged[merged["stage"].isin(["started", "ended", "answered", "prepost"])]
    assert (check["lost"].fillna(0) == check["n_parent"] - check["n"]).all()
    # sex split adds up; destinations add up to those who ended
    assert (s[["n_F", "n_M", "n_X"]].sum(axis=1) == s["n"]).all()
    d = fl.destinations
    if len(d):
        split = [*keys, "sex"] if "sex" not in keys else keys
        tot = d.groupby(split)[["n", "n_ended"]].agg({"n": "sum", "n_ended": "first"})
        assert (tot["n"] == tot["n_ended"]).all()


# --------------------------------------------------------------------------- demo
# demo_study: the session fixture of tests/conftest.py (the demo study, loaded once; read-only).


def test_demo_steg_framat_reproduces_published_figures(demo_study):
    fl = flow(demo_study)
    prog = ("Steg framåt",)
    st_ = fl.for_group("stages", prog).set_index("stage")
    assert st_.loc["referred", "n"] == 458
    assert (st_.loc["referred", "n_F"], st_.loc["referred", "n_M"]) == (254, 204)
    assert st_.loc["ended", "n"] == 238
    d = fl.for_group("destinations", prog)
    d = d[d["sex"] == "all"].set_index("exit_destination")
    pct = (100 * d["share"]).round().astype(int)
    expected = {
        "work": 20,
        "fk_af_collaboration": 13,
        "studies": 6,
        "health_deteriorated": 11,
        "moved": 5,
        "job_seeking": 5,
        "parental_leave": 1,
        "continued_rehab": 29,
    }
    assert {k: int(pct[k]) for k in expected} == expected
    pv = fl.for_group("provision", prog)
    pv = pv[pv["sex"] == "all"].set_index("provision_at_start")
    assert (pv["n_started"] == 458).all()
    pct = (100 * pv["share"]).round().astype(int)
    expected = {
        "financial_assistance": 48,
        "sickness_benefit": 33,
        "activity_compensation": 13,
        "sickness_compensation": 3,
        "none": 3,
    }
    assert {k: int(pct[k]) for k in expected} == expected
    assert pv["n"].sum() == 458


def test_demo_flow_adds_up_and_goals(demo_study):
    fl = flow(demo_study)
    s = fl.stages
    for prog in fl.groups():
        st_ = fl.for_group("stages", prog)
        finals = st_.loc[st_["final"], "n"].sum()
        assert finals == st_.loc[st_["stage"] == "referred", "n"].iloc[0]
    g = fl.goals.set_index("goal")
    assert g.loc["work_or_studies", "n"] == 62 and g.loc["work_or_studies", "n_ended"] == 238
    lo, hi = proportion_confint(62, 238, method="wilson")
    assert_allclose(
        g.loc["work_or_studies", ["share", "ci_low", "ci_high"]].to_numpy(dtype=float),
        [62 / 238, lo, hi],
        rtol=1e-12,
    )
    assert not bool(g.loc["work_or_studies", "met"])  # 26 % < 30 %
    assert (s["n"] >= 0).all()


def test_demo_prepost_stage_traces_to_the_scores(demo_study):
    from kureval.api import score

    fl = flow(demo_study)
    sc = score(demo_study)
    sc = sc[sc["score"].notna()]
    p = demo_study.participants
    started = set(p.loc[p["status"] != "referred", "person_id"])
    for prog in ("Kultur på recept",):
        ids = set(p.loc[p["programme"] == prog, "person_id"]) & started
        pre = sc[(sc["timepoint"] == "start") & sc["person_id"].isin(ids)][["person_id", "scale"]]
        post = sc[(sc["timepoint"] == "end") & sc["person_id"].isin(ids)][["person_id", "scale"]]
        expected = pre.merge(post).drop_duplicates("person_id").shape[0]
        st_ = fl.for_group("stages", (prog,)).set_index("stage")
        assert st_.loc["prepost", "n"] == expected
    assert "scoring" in set(fl.exclusions["step"])  # the scoring exclusions reach the result


def test_conf_int_columns():
    ci = flow(small_study()).conf_int("goals")
    assert list(ci.columns)[-3:] == ["share", "ci_low", "ci_high"]
    with pytest.raises(ConfigError):
        flow(small_study()).conf_int("stages")


def test_loaded_study_folder_with_inconsistent_rows(tmp_path):
    """Inconsistent rows are refused by the loader and, for Study objects built
    another way, by the flow's own checks, with the same file, row and column."""
    from kureval.api import load_study

    (tmp_path / "study.toml").write_text(
        '[study]\nname = "mini"\n[timepoints]\norder = ["start", "end"]\n', encoding="utf-8"
    )
    (tmp_path / "participants.csv").write_text(
        "person_id,programme,sex,birth_year,referral_date,status,start_date,end_date,exit_destination\n"
        "a1,P,F,1980,2022-01-01,completed,2022-01-10,,work\n"
        "a2,P,M,1981,2022-01-01,started,2022-01-10,,studies\n"
        "a3,P,F,1982,2022-01-01,dropped_out,2022-01-10,2022-03-01,\n",
        encoding="utf-8",
    )
    (tmp_path / "responses.csv").write_text(
        "person_id,timepoint,date,instrument,item,value\n", encoding="utf-8"
    )
    expected = [("participants.csv", 2, "end_date"), ("participants.csv", 3, "exit_destination")]
    with pytest.raises(DataError) as err:
        load_study(tmp_path)
    assert [(p.file, p.row, p.column) for p in err.value.problems] == expected

    # the same rows in a Study made without the loader: the flow refuses them itself
    from kureval.study.config import load_config

    raw = pd.read_csv(tmp_path / "participants.csv", dtype=str)
    for col in ("referral_date", "start_date", "end_date"):
        raw[col] = pd.to_datetime(raw[col])
    raw["birth_year"] = raw["birth_year"].astype("Int64")
    raw["_row"] = range(2, 2 + len(raw))
    raw = raw.set_index(pd.RangeIndex(len(raw)))
    responses = pd.DataFrame(
        columns=["person_id", "timepoint", "date", "instrument", "item", "value", "_row"]
    )
    study = Study(
        path=tmp_path,
        config=load_config(tmp_path),
        participants=raw,
        responses=responses,
        files={"participants": tmp_path / "participants.csv"},
    )
    with pytest.raises(DataError) as err:
        flow(study)
    assert [(p.file, p.row, p.column) for p in err.value.problems] == expected
    ok = study.participants.loc[
        [2]
    ]  # the consistent row alone: its empty destination is "not recorded"
    fixed = Study(path=study.path, config=study.config, participants=ok, responses=study.responses)
    d = flow(fixed).destinations
    assert d.loc[(d["sex"] == "all") & (d["exit_destination"] == "not_recorded"), "n"].item() == 1
