"""Windowed register outcomes on tiny registers whose answers are counted by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from kureval.errors import DataError
from kureval.register.windows import windows_from_tables
from kureval.study.model import ExclusionLog
from kureval.study.register_config import RegisterConfig, WindowConfig

D = pd.Timestamp
REG = RegisterConfig(
    data_start=dt.date(2019, 1, 1),
    data_end=dt.date(2021, 12, 31),
    atc_groups=("N06A", "N05B", "N02"),
)


def tables() -> dict[str, pd.DataFrame]:
    population = pd.DataFrame(
        {
            "person_id": ["P1", "R1", "R2", "P2", "R3"],
            "in_register_from": [D("2010-01-01"), D("2010-01-01"), D("2019-07-01"), pd.NaT, pd.NaT],
            "exit_date": [pd.NaT, D("2020-06-30"), pd.NaT, pd.NaT, D("2019-10-01")],
        }
    )
    visits = pd.DataFrame(
        [
            ("P1", "2019-06-01", "primary_care", None),
            ("P1", "2019-12-31", "primary_care", None),  # last day of pre
            ("P1", "2020-01-01", "primary_care", None),  # index day = first day of post
            ("P1", "2020-12-30", "primary_care", None),  # last day of post (2020 is a leap year)
            ("P1", "2020-12-31", "primary_care", None),  # after post
            ("P1", "2018-12-31", "specialist", None),  # before data_start: outside coverage
            ("P1", "2019-12-20", "psychiatry_inpatient", "2020-01-05"),  # 12 pre days, 5 post days
            ("P1", "2020-01-03", "psychiatry_inpatient", "2020-01-04"),  # inside the first stay
            ("R1", "2020-03-01", "primary_care", None),
            ("R1", "2020-08-01", "primary_care", None),  # after exit: outside coverage
            ("XX", "2020-03-01", "primary_care", None),  # not in population
        ],
        columns=["person_id", "date", "care_type", "discharge_date"],
    )
    visits["date"] = pd.to_datetime(visits["date"])
    visits["discharge_date"] = pd.to_datetime(visits["discharge_date"])
    sick = pd.DataFrame(
        [
            ("P1", "2020-02-01", "2020-02-10", 100.0),
            ("P1", "2020-02-06", "2020-02-15", 50.0),  # overlaps: Feb 6–10 capped at 1/day
            ("P1", "2019-12-30", "2020-01-02", 25.0),  # straddles the index date
            ("R1", "2020-06-01", "2020-07-31", 100.0),  # truncated at exit (June 30)
        ],
        columns=["person_id", "start_date", "end_date", "extent"],
    )
    for c in ("start_date", "end_date"):
        sick[c] = pd.to_datetime(sick[c])
    disp = pd.DataFrame(
        [
            ("R2", "2019-08-01", "N06AB06", 30.0),
            ("R2", "2020-02-01", "N06AX11", 60.0),
            ("R2", "2020-03-01", "N05BA01", np.nan),
            ("R2", "2019-09-01", "N02BE01", 10.0),
            ("R2", "2019-09-02", "N03AX", 99.0),  # no group
        ],
        columns=["person_id", "date", "atc", "ddd"],
    )
    disp["date"] = pd.to_datetime(disp["date"])
    matched = pd.DataFrame(
        {
            "id": ["P1", "R1", "R2", "P2", "R3", "R1"],
            "set_id": ["S1", "S1", "S1", "S2", "S2", "S2"],
            "treat": [1, 0, 0, 1, 0, 0],
            "weight": [1.0, 0.5, 0.5, 1.0, 0.5, 0.5],
            "index_date": [D("2020-01-01")] * 3
            + [D("2020-01-01"), D("2020-01-01"), D("2019-03-01")],
        }
    )
    return {
        "matched": matched,
        "population": population,
        "visits": visits,
        "sick_leave": sick,
        "dispensations": disp,
    }


def run(log: ExclusionLog | None = None, **over) -> pd.DataFrame:
    t = tables() | over
    return windows_from_tables(
        t["matched"],
        t["population"],
        t["visits"],
        t["sick_leave"],
        t["dispensations"],
        register=REG,
        log=log,
    )


def cell(out: pd.DataFrame, person: str, set_id: str, window: str, col: str) -> float:
    row = out[(out.id == person) & (out.set_id == set_id) & (out.window == window)]
    assert len(row) == 1
    return float(row[col].iloc[0])


def test_one_row_per_matched_row_and_window() -> None:
    out = run()
    assert len(out) == 6 * 2
    assert list(out.columns[:9]) == [
        "id",
        "set_id",
        "treat",
        "weight",
        "index_date",
        "window",
        "window_start",
        "window_end",
        "exposure_days",
    ]
    assert out.loc[0, "window_start"] == D("2019-01-01") and out.loc[0, "window_end"] == D(
        "2019-12-31"
    )
    assert out.loc[1, "window_start"] == D("2020-01-01") and out.loc[1, "window_end"] == D(
        "2020-12-30"
    )


def test_visits_by_care_type_and_window_edges() -> None:
    out = run()
    assert cell(out, "P1", "S1", "pre", "visits_primary_care") == 2
    assert cell(out, "P1", "S1", "post", "visits_primary_care") == 2
    assert cell(out, "P1", "S1", "pre", "visits_specialist") == 0
    assert cell(out, "P1", "S1", "pre", "visits_psychiatry_inpatient") == 1
    assert cell(out, "P1", "S1", "post", "visits_psychiatry_inpatient") == 1
    assert (
        cell(out, "R1", "S1", "post", "visits_primary_care") == 1
    )  # the visit after exit is not counted


def test_inpatient_days_overlap_and_overlapping_stays_count_once() -> None:
    out = run()
    assert cell(out, "P1", "S1", "pre", "inpatient_psychiatry_days") == 12
    assert cell(out, "P1", "S1", "post", "inpatient_psychiatry_days") == 5


def test_sick_leave_net_days_capped_per_calendar_day() -> None:
    log = ExclusionLog()
    out = run(log)
    # post: spell A 10 days × 1 + spell B Feb 11–15 5 × 0.5 (Feb 6–10 capped) + spell C Jan 1–2 2 × 0.25
    assert_allclose(cell(out, "P1", "S1", "post", "sick_leave_net_days"), 10 + 2.5 + 0.5)
    assert_allclose(cell(out, "P1", "S1", "pre", "sick_leave_net_days"), 0.5)
    assert cell(out, "P1", "S1", "pre", "any_sick_leave") == 1
    assert_allclose(
        cell(out, "R1", "S1", "post", "sick_leave_net_days"), 30
    )  # truncated at exit June 30
    assert cell(out, "R2", "S1", "post", "any_sick_leave") == 0
    tab = log.table.set_index("reason")
    row = tab.loc["overlapping spells (net days capped at 1 per calendar day)"]
    assert row["n"] == 1 and row["detail"].startswith("5 calendar days")


def test_exposure_truncated_at_exit_entry_and_missing_after_exit() -> None:
    log = ExclusionLog()
    out = run(log)
    assert cell(out, "P1", "S1", "pre", "exposure_days") == 365
    assert cell(out, "P1", "S1", "post", "exposure_days") == 365
    assert cell(out, "R1", "S1", "post", "exposure_days") == 182  # Jan 1 – Jun 30, 2020
    assert cell(out, "R2", "S1", "pre", "exposure_days") == 184  # in register from Jul 1, 2019
    assert cell(out, "R3", "S2", "pre", "exposure_days") == 274  # Jan 1 – Oct 1, 2019
    assert cell(out, "R3", "S2", "post", "exposure_days") == 0
    assert np.isnan(cell(out, "R3", "S2", "post", "visits_primary_care"))
    # R1 reused in S2 with index 2019-03-01: pre window starts before data_start
    assert cell(out, "R1", "S2", "pre", "exposure_days") == 59  # Jan 1 – Feb 28, 2019
    tab = log.table.set_index(["table", "reason"])["n"]
    assert tab["matched persons", "no exposure in window post (outcomes missing)"] == 1
    assert tab["matched persons", "exit_date before the index date"] == 1
    assert tab["visits", "person not in the population table (ignored)"] == 1
    assert tab["sick_leave", "person not in the population table (ignored)"] == 0
    assert tab["visits", "contact outside the person's register coverage (ignored)"] == 2


def test_dispensations_prefix_groups() -> None:
    log = ExclusionLog()
    out = run(log)
    assert cell(out, "R2", "S1", "pre", "ddd_N06A") == 30
    assert cell(out, "R2", "S1", "post", "ddd_N06A") == 60
    assert cell(out, "R2", "S1", "post", "any_N05B") == 1
    assert cell(out, "R2", "S1", "post", "ddd_N05B") == 0
    assert cell(out, "R2", "S1", "pre", "ddd_N02") == 10
    assert cell(out, "P1", "S1", "pre", "any_N06A") == 0
    assert (
        log.table.set_index("reason")["n"][
            "dispensation without DDD (counted in any_<ATC>, not in ddd_<ATC>)"
        ]
        == 1
    )


def test_row_order_does_not_matter() -> None:
    t = tables()
    a = run()
    b = run(
        visits=t["visits"].iloc[::-1],
        sick_leave=t["sick_leave"].sample(frac=1, random_state=1),
        population=t["population"].iloc[::-1],
    )
    pd.testing.assert_frame_equal(a, b)


def test_extra_windows() -> None:
    t = tables()
    wins = (
        WindowConfig("pre", -365, -1),
        WindowConfig("post", 0, 364),
        WindowConfig("y2", 365, 729),
    )
    out = windows_from_tables(
        t["matched"], t["population"], t["visits"], windows=wins, register=REG
    )
    assert cell(out, "P1", "S1", "y2", "exposure_days") == 365
    assert cell(out, "P1", "S1", "y2", "visits_primary_care") == 1  # 2020-12-31 is y2's first day
    assert "sick_leave_net_days" not in out.columns


def test_bad_intervals_and_extent_all_listed() -> None:
    t = tables()
    v = t["visits"].copy()
    v.loc[6, "discharge_date"] = D("2019-12-01")  # stay ends before it starts
    v.loc[7, "discharge_date"] = pd.NaT  # inpatient stay without discharge date
    s = t["sick_leave"].copy()
    s.loc[0, "end_date"] = D("2020-01-01")
    s.loc[1, "extent"] = 0.0
    s["_row"] = [2, 3, 4, 5]
    with pytest.raises(DataError) as err:
        run(visits=v, sick_leave=s)
    found = {(p.file, p.row, p.column) for p in err.value.problems}
    assert found == {
        ("register/visits", 8, "discharge_date"),
        ("register/visits", 9, "discharge_date"),
        ("register/sick_leave", 2, "end_date"),
        ("register/sick_leave", 3, "extent"),
    }


def test_matched_person_missing_from_population() -> None:
    t = tables()
    m = t["matched"].copy()
    m.loc[2, "id"] = "NOPE"
    with pytest.raises(DataError, match="NOPE"):
        run(matched=m)


def _brute(t: dict[str, pd.DataFrame], reg: RegisterConfig) -> pd.DataFrame:
    """Day-by-day loops over every matched row × window (slow, obviously right)."""
    pop = t["population"].set_index("person_id")
    rows = []
    for m in t["matched"].itertuples():
        for w in (WindowConfig("pre", -365, -1), WindowConfig("post", 0, 364)):
            lo = max(m.index_date + pd.Timedelta(days=w.start), D(reg.data_start))
            hi = min(m.index_date + pd.Timedelta(days=w.end), D(reg.data_end))
            ex = pop.loc[m.id, "exit_date"]
            if pd.notna(ex):
                hi = min(hi, ex)
            days = pd.date_range(lo, hi) if hi >= lo else pd.DatetimeIndex([])
            v = t["visits"][t["visits"].person_id == m.id]
            pc = int(v[(v.care_type == "primary_care") & v.date.between(lo, hi)].shape[0])
            stays = v[v.care_type == "psychiatry_inpatient"]
            d = days.to_numpy()[:, None]
            inpat = int(
                ((stays.date.to_numpy() <= d) & (d <= stays.discharge_date.to_numpy()))
                .any(axis=1)
                .sum()
            )
            sl = t["sick_leave"][t["sick_leave"].person_id == m.id]
            cover = (sl.start_date.to_numpy() <= d) & (d <= sl.end_date.to_numpy())
            net = float(np.minimum(1.0, (cover * sl.extent.to_numpy() / 100).sum(axis=1)).sum())
            rows.append((m.id, m.set_id, w.name, len(days), pc, inpat, net))
    return pd.DataFrame(
        rows,
        columns=[
            "id",
            "set_id",
            "window",
            "exposure_days",
            "visits_primary_care",
            "inpatient_psychiatry_days",
            "sick_leave_net_days",
        ],
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_registers_against_day_by_day_loops(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 12
    ids = [f"p{i}" for i in range(n)]
    base = D("2020-01-01")
    exit_ = [
        base + pd.Timedelta(days=int(d)) if rng.random() < 0.3 else pd.NaT
        for d in rng.integers(-100, 500, n)
    ]
    population = pd.DataFrame({"person_id": ids, "in_register_from": pd.NaT, "exit_date": exit_})

    def dates(k: int) -> pd.Series:
        return pd.Series(base + pd.to_timedelta(rng.integers(-500, 500, k), unit="D"))

    k = 300
    v_start = dates(k)
    visits = pd.DataFrame(
        {
            "person_id": rng.choice(ids, k),
            "date": v_start,
            "care_type": rng.choice(["primary_care", "psychiatry_inpatient"], k),
        }
    )
    visits["discharge_date"] = visits["date"] + pd.to_timedelta(rng.integers(0, 40, k), unit="D")
    s_start = dates(80)
    sick = pd.DataFrame(
        {
            "person_id": rng.choice(ids, 80),
            "start_date": s_start,
            "end_date": s_start + pd.to_timedelta(rng.integers(0, 120, 80), unit="D"),
            "extent": rng.choice([25.0, 50.0, 75.0, 100.0], 80),
        }
    )
    matched = pd.DataFrame(
        {
            "id": ids,
            "set_id": [f"s{i // 3}" for i in range(n)],
            "treat": [1 if i % 3 == 0 else 0 for i in range(n)],
            "weight": 1.0,
            "index_date": [base + pd.Timedelta(days=int(d)) for d in rng.integers(-50, 50, n)],
        }
    )
    reg = RegisterConfig(data_start=dt.date(2019, 3, 1), data_end=dt.date(2020, 12, 31))
    t = {"matched": matched, "population": population, "visits": visits, "sick_leave": sick}
    fast = windows_from_tables(
        matched,
        population,
        visits,
        sick,
        windows=(WindowConfig("pre", -365, -1), WindowConfig("post", 0, 364)),
        register=reg,
    )
    slow = _brute(t, reg)
    for col in [
        "exposure_days",
        "visits_primary_care",
        "inpatient_psychiatry_days",
        "sick_leave_net_days",
    ]:
        got = fast[col].fillna(0).to_numpy(dtype=float)
        assert_allclose(got, slow[col].to_numpy(dtype=float), err_msg=col)
