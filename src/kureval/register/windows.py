"""Register events → one row per matched person × outcome window.

Every person in the matched sets is followed in the windows of ``study.toml``
(default pre −365…−1 and post 0…364 days), counted from their index date —
a reference takes the index date of the participant it was matched to, so a
reference reused in two sets has two sets of windows.  Outcomes per window:

``visits_<care_type>``
    Contacts whose ``date`` lies in the observed window, per care type.
``inpatient_psychiatry_days``
    Calendar days of ``psychiatry_inpatient`` stays (admission ``date`` to
    ``discharge_date``, both days included) overlapping the observed window;
    a day covered by two overlapping stays counts once.
``sick_leave_net_days``
    Σ over calendar days of min(1, Σ extent/100 of the spells covering the
    day): each spell contributes overlap × extent / 100, and overlapping spells
    of one person never add up to more than one net day per calendar day (the
    number of overlapping spells and capped days is logged).
``any_sick_leave``
    1 when any spell overlaps the observed window, else 0.
``ddd_<ATC>``, ``any_<ATC>``
    Sum of DDD and any dispensation with ATC code starting with the group
    (``[register] atc_groups``).
``exposure_days``
    Days of the window observed: the window truncated at
    ``max(in_register_from, data_start)`` and ``min(exit_date, data_end)``.

Outcomes are ``NaN`` in windows with no exposure.  The computation is
vectorised: events are encoded as sorted integer keys ``person × SPAN + day``
and every window is answered with two binary searches in prefix sums (point
events) or in a piecewise-constant daily-level function built by one sweep
(stays and spells), so run time is O((events + windows) log events).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from kureval.errors import DataError, Problem
from kureval.study.register_config import DEFAULT_WINDOWS, RegisterConfig, WindowConfig

__all__ = ["CARE_TYPES", "register_windows", "windows_from_tables"]

CARE_TYPES = (
    "primary_care",
    "specialist",
    "psychiatry_outpatient",
    "psychiatry_inpatient",
    "emergency",
)
SPAN = np.int64(1 << 21)  # days per person in the key space (about 5700 years)
OFFSET = np.int64(1 << 20)  # so that dates from 900 AD on have positive day numbers
_NAT = np.iinfo(np.int64).min


def _key(code: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Sortable key of (person code, day): persons never share a key range."""
    return code.astype(np.int64) * SPAN + day + OFFSET


def _days(values: Any) -> np.ndarray:
    """Dates → int64 days since 1970-01-01 (NaT stays the int64 minimum)."""
    arr = pd.to_datetime(pd.Series(values)).to_numpy("datetime64[D]")
    return arr.astype(np.int64)


def _rows(frame: pd.DataFrame, mask: np.ndarray) -> list[int | None]:
    idx = np.flatnonzero(mask)
    if "_row" in frame.columns:
        return [int(r) for r in frame["_row"].to_numpy()[idx]]
    return [int(i) + 2 for i in idx]


def _point_sums(
    key: np.ndarray, values: np.ndarray | None, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Count (and sum of values) of sorted point keys in ``[lo, hi]`` per query."""
    order = np.argsort(key, kind="stable")
    skey = key[order]
    left = np.searchsorted(skey, lo, "left")
    right = np.searchsorted(skey, hi, "right")
    count = np.maximum(right - left, 0)
    if values is None:
        return count, count.astype(float)
    csum = np.concatenate([[0.0], np.cumsum(values[order])])
    return count, np.where(count > 0, csum[right] - csum[np.minimum(left, right)], 0.0)


def _levels(
    code: np.ndarray, start: np.ndarray, end: np.ndarray, level: np.ndarray, cap: int
) -> dict[str, Any]:
    """Sweep intervals into disjoint segments of constant daily value min(level, cap)/cap."""
    keys = np.concatenate([_key(code, start), _key(code, end + 1)])
    deltas = np.concatenate([level, -level]).astype(np.int64)
    order = np.argsort(keys, kind="stable")
    keys, deltas = keys[order], deltas[order]
    ukeys, first = np.unique(keys, return_index=True)
    lev = np.cumsum(np.add.reduceat(deltas, first)) if len(keys) else np.zeros(0, np.int64)
    seg_len = np.diff(ukeys)
    seg_lev = lev[:-1]
    keep = seg_lev > 0  # level returns to 0 at each person's last breakpoint
    s_start, s_len, s_lev = ukeys[:-1][keep], seg_len[keep], seg_lev[keep]
    value = np.minimum(s_lev, cap) / cap
    return {
        "start": s_start,
        "len": s_len,
        "value": value,
        "cum": np.concatenate([[0.0], np.cumsum(value * s_len)]),
        "capped_days": int(s_len[s_lev > cap].sum()),
    }


def _cover(seg: dict[str, Any], k: np.ndarray) -> np.ndarray:
    """Σ value × days of the segments up to and including key ``k``."""
    j = np.searchsorted(seg["start"], k, "right") - 1
    out = np.zeros(len(k))
    has = j >= 0
    jj = j[has]
    part = np.minimum(seg["len"][jj], k[has] - seg["start"][jj] + 1)
    out[has] = seg["cum"][jj] + seg["value"][jj] * part
    return out


def _overlapping(code: np.ndarray, start: np.ndarray, end: np.ndarray) -> int:
    """Number of intervals that overlap an earlier-starting interval of the same person."""
    if len(code) == 0:
        return 0
    order = np.lexsort((start, code))
    a = _key(code[order], start[order])
    b = _key(code[order], end[order])
    prev_max = np.maximum.accumulate(np.concatenate([[np.iinfo(np.int64).min], b[:-1]]))
    return int((a <= prev_max).sum())


def _check_intervals(
    frame: pd.DataFrame, name: str, a: str, b: str, mask: np.ndarray | None = None
) -> list[Problem]:
    sa, sb = _days(frame[a]), _days(frame[b])
    sel = np.ones(len(frame), bool) if mask is None else mask
    bad = sel & (sb != _NAT) & (sb < sa)
    missing = sel & ((sb == _NAT) | (sa == _NAT))
    out = [
        Problem(name, r, b, str(frame[b].iloc[i]), f"a date on or after {a}")
        for r, i in zip(_rows(frame, bad), np.flatnonzero(bad), strict=True)
    ]
    out += [Problem(name, r, b, None, f"both {a} and {b}") for r in _rows(frame, missing)]
    return out


def _codes(index: pd.Index, ids: pd.Series) -> np.ndarray:
    return index.get_indexer(pd.Index(ids.astype(str)))


def _bounds(config: RegisterConfig, dates: Sequence[np.ndarray]) -> tuple[int, int, str]:
    """Data start and end in days; when not configured, the earliest/latest event date."""
    valid = [d[d != _NAT] for d in dates]
    allv = np.concatenate(valid) if valid else np.zeros(0, np.int64)
    notes = []
    if config.data_start is not None:
        start = int(_days([config.data_start])[0])
    else:
        start = int(allv.min()) if len(allv) else 0
        notes.append("data_start not configured: the earliest event date is used")
    if config.data_end is not None:
        end = int(_days([config.data_end])[0])
    else:
        end = int(allv.max()) if len(allv) else 0
        notes.append("data_end not configured: the latest event date is used")
    return start, end, "; ".join(notes)


def _matched_rows(matched: pd.DataFrame, index: pd.Index) -> np.ndarray:
    problems = [
        Problem("matched sets", None, c, None, "a column of that name")
        for c in ("id", "set_id", "treat", "weight", "index_date")
        if c not in matched.columns
    ]
    if problems:
        raise DataError(problems, title="the matched sets lack columns register_windows needs")
    codes = _codes(index, matched["id"])
    bad = codes < 0
    problems += [
        Problem(
            "register/population.csv",
            None,
            "person_id",
            v,
            "every matched person in the population",
        )
        for v in matched.loc[bad, "id"].astype(str).unique()
    ]
    nat = matched["index_date"].isna().to_numpy()
    problems += [
        Problem("matched sets", None, "index_date", None, f"an index date for person {v}")
        for v in matched.loc[nat, "id"].astype(str)
    ]
    if problems:
        raise DataError(problems, title="cannot place the matched persons in the register")
    return codes


class _Queries:
    """The observed part of every matched person × window, as key ranges."""

    def __init__(self, code: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        self.klo = _key(code, lo)
        self.khi = _key(code, hi)
        self.exposed = hi >= lo

    def points(
        self, code: np.ndarray, day: np.ndarray, values: np.ndarray | None = None
    ) -> np.ndarray:
        count, sums = _point_sums(_key(code, day), values, self.klo, self.khi)
        return count.astype(float) if values is None else sums

    def cover(self, seg: dict[str, Any]) -> np.ndarray:
        return np.where(self.exposed, _cover(seg, self.khi) - _cover(seg, self.klo - 1), 0.0)


def _select(
    table: pd.DataFrame, index: pd.Index, relevant: np.ndarray, name: str, log: Any
) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows of the matched persons with their population codes; persons unknown to the population counted.

    Set membership is tested first (hash ``isin``, done by pyarrow for Arrow
    strings), so the positional look-up only runs on the matched persons' rows.
    """
    ids = pa.array(table["person_id"].astype(str), type=pa.string())
    known = pc.is_in(ids, value_set=pa.array(index.to_numpy(dtype=object), type=pa.string()))
    unknown = len(ids) - int(pc.sum(known).as_py() or 0)
    _record(log, name, "person not in the population table (ignored)", unknown)
    value_set = pa.array(index[relevant].to_numpy(dtype=object), type=pa.string())
    keep = pc.is_in(ids, value_set=value_set).to_numpy(zero_copy_only=False)
    sub = table.loc[keep]
    return sub, _codes(index, sub["person_id"])


def _record(log: Any, table: str, reason: str, n: int, detail: str = "") -> None:
    if log is not None:
        log.record("windows", table, reason, int(n), detail)


def _outside(day: np.ndarray, code: np.ndarray, lo_cov: np.ndarray, hi_cov: np.ndarray) -> int:
    return int(((day < lo_cov[code]) | (day > hi_cov[code])).sum())


def _visit_outcomes(
    visits: pd.DataFrame, ctx: dict[str, Any], problems: list[Problem]
) -> dict[str, np.ndarray]:
    name = "register/visits"
    inpatient = (visits["care_type"] == "psychiatry_inpatient").to_numpy()
    problems += _check_intervals(visits, name, "date", "discharge_date", inpatient)
    problems += [
        Problem(name, r, "date", None, "a contact date")
        for r in _rows(visits, visits["date"].isna().to_numpy())
    ]
    if problems:
        return {}
    v, code = _select(visits, ctx["index"], ctx["relevant"], "visits", ctx["log"])
    day = _days(v["date"])
    _record(
        ctx["log"],
        "visits",
        "contact outside the person's register coverage (ignored)",
        _outside(day, code, ctx["lo_cov"], ctx["hi_cov"]),
    )
    q: _Queries = ctx["q"]
    care = v["care_type"].astype(str).to_numpy()
    out = {}
    for ct in list(CARE_TYPES) + sorted(set(care) - set(CARE_TYPES)):
        mask = care == ct
        out[f"visits_{ct}"] = q.points(code[mask], day[mask])
    mask = care == "psychiatry_inpatient"
    dis = _days(v["discharge_date"])
    seg = _levels(code[mask], day[mask], dis[mask], np.ones(int(mask.sum()), np.int64), cap=1)
    out["inpatient_psychiatry_days"] = q.cover(seg)
    n_over = _overlapping(code[mask], day[mask], dis[mask])
    _record(ctx["log"], "visits", "overlapping inpatient stays (a day counted once)", n_over)
    return out


def _sick_leave_outcomes(
    spells: pd.DataFrame, ctx: dict[str, Any], problems: list[Problem]
) -> dict[str, np.ndarray]:
    name = "register/sick_leave"
    problems += _check_intervals(spells, name, "start_date", "end_date")
    ext = spells["extent"].to_numpy(dtype=float)
    bad = ~((ext > 0) & (ext <= 100))
    problems += [
        Problem(name, r, "extent", float(ext[i]), "a percentage in (0, 100], e.g. 25, 50, 75, 100")
        for r, i in zip(_rows(spells, bad), np.flatnonzero(bad), strict=True)
    ]
    if problems:
        return {}
    s, code = _select(spells, ctx["index"], ctx["relevant"], "sick_leave", ctx["log"])
    a, b = _days(s["start_date"]), _days(s["end_date"])
    level = np.rint(s["extent"].to_numpy(dtype=float) * 100).astype(np.int64)
    seg = _levels(code, a, b, level, cap=10000)
    net = ctx["q"].cover(seg)
    _record(
        ctx["log"],
        "sick_leave",
        "overlapping spells (net days capped at 1 per calendar day)",
        _overlapping(code, a, b),
        f"{seg['capped_days']} calendar days where extents summed to more than 100 %",
    )
    return {"sick_leave_net_days": net, "any_sick_leave": (net > 0).astype(float)}


def _dispensation_outcomes(
    disp: pd.DataFrame, ctx: dict[str, Any], problems: list[Problem]
) -> dict[str, np.ndarray]:
    problems += [
        Problem("register/dispensations", r, "date", None, "a dispensation date")
        for r in _rows(disp, disp["date"].isna().to_numpy())
    ]
    if problems:
        return {}
    d, code = _select(disp, ctx["index"], ctx["relevant"], "dispensations", ctx["log"])
    day = _days(d["date"])
    _record(
        ctx["log"],
        "dispensations",
        "dispensation outside the person's register coverage (ignored)",
        _outside(day, code, ctx["lo_cov"], ctx["hi_cov"]),
    )
    ddd = d["ddd"].to_numpy(dtype=float)
    _record(
        ctx["log"],
        "dispensations",
        "dispensation without DDD (counted in any_<ATC>, not in ddd_<ATC>)",
        int(np.isnan(ddd).sum()),
    )
    atc = d["atc"].astype(str)
    out = {}
    for group in ctx["atc_groups"]:
        mask = atc.str.startswith(group).to_numpy()
        q: _Queries = ctx["q"]
        out[f"ddd_{group}"] = q.points(code[mask], day[mask], np.nan_to_num(ddd[mask]))
        out[f"any_{group}"] = (q.points(code[mask], day[mask]) > 0).astype(float)
    return out


def _population_index(population: pd.DataFrame) -> pd.Index:
    index = pd.Index(population["person_id"].astype(str))
    dup = index.duplicated()
    if dup.any():
        raise DataError(
            [
                Problem("register/population", r, "person_id", v, "a person id that occurs once")
                for r, v in zip(_rows(population, dup), index[dup], strict=True)
            ]
        )
    return index


def _window_days(
    idx_day: np.ndarray, windows: Sequence[WindowConfig]
) -> tuple[np.ndarray, np.ndarray]:
    """First and last day of every (matched row, window), rows major."""
    n = len(idx_day)
    lo = np.repeat(idx_day, len(windows)) + np.tile([w.start for w in windows], n)
    hi = np.repeat(idx_day, len(windows)) + np.tile([w.end for w in windows], n)
    return lo, hi


def _assemble(
    matched: pd.DataFrame,
    windows: Sequence[WindowConfig],
    win_lo: np.ndarray,
    win_hi: np.ndarray,
    exposure: np.ndarray,
    exposed: np.ndarray,
    outcomes: dict[str, np.ndarray],
) -> pd.DataFrame:
    rows = np.repeat(np.arange(len(matched)), len(windows))
    out = matched.iloc[rows][["id", "set_id", "treat", "weight", "index_date"]].reset_index(
        drop=True
    )
    out["window"] = np.tile([w.name for w in windows], len(matched))
    out["window_start"] = pd.to_datetime(win_lo, unit="D")
    out["window_end"] = pd.to_datetime(win_hi, unit="D")
    out["exposure_days"] = exposure
    for name, values in outcomes.items():
        out[name] = np.where(exposed, values, np.nan)
    return out


def windows_from_tables(
    matched: pd.DataFrame,
    population: pd.DataFrame,
    visits: pd.DataFrame | None = None,
    sick_leave: pd.DataFrame | None = None,
    dispensations: pd.DataFrame | None = None,
    windows: Sequence[WindowConfig] = DEFAULT_WINDOWS,
    register: RegisterConfig | None = None,
    log: Any = None,
) -> pd.DataFrame:
    """Windowed outcomes from plain register tables (see the module docstring).

    Parameters
    ----------
    matched : DataFrame
        One row per person in a matched set: ``id, set_id, treat, weight, index_date``.
    population, visits, sick_leave, dispensations : DataFrame
        Register tables in the data contract's columns (DESIGN.md §4).
    windows : sequence of WindowConfig
        Days relative to the index date, both ends included.
    register : RegisterConfig
        Coverage (``data_start``, ``data_end``) and ATC groups.
    log : ExclusionLog, optional
        Receives counted exclusions under step ``"windows"``.

    Returns
    -------
    DataFrame
        One row per matched row × window: ``id, set_id, treat, weight,
        index_date, window, window_start, window_end, exposure_days`` and the
        outcomes.  ``.attrs["notes"]`` says whether coverage was assumed.

    Raises
    ------
    DataError
        Matched persons missing from the population; stays or spells ending
        before they start; extents outside (0, 100]; missing dates (all listed).
    """
    register = register or RegisterConfig()
    index = _population_index(population)
    codes = _matched_rows(matched, index)
    dates = [
        _days(t[c])
        for t, c in (
            (visits, "date"),
            (sick_leave, "end_date"),
            (sick_leave, "start_date"),
            (dispensations, "date"),
        )
        if t is not None
    ]
    d_start, d_end, notes = _bounds(register, dates)
    in_from, exit_day = _days(population["in_register_from"]), _days(population["exit_date"])
    lo_cov = np.maximum(np.where(in_from == _NAT, d_start, in_from), d_start)
    hi_cov = np.minimum(np.where(exit_day == _NAT, d_end, exit_day), d_end)
    relevant = np.zeros(len(index), bool)
    relevant[codes] = True
    idx_day = _days(matched["index_date"])
    win_lo, win_hi = _window_days(idx_day, windows)
    q_code = np.repeat(codes, len(windows))
    obs_lo, obs_hi = np.maximum(win_lo, lo_cov[q_code]), np.minimum(win_hi, hi_cov[q_code])
    q = _Queries(q_code, obs_lo, obs_hi)
    ctx = {
        "index": index,
        "relevant": relevant,
        "lo_cov": lo_cov,
        "hi_cov": hi_cov,
        "q": q,
        "log": log,
        "atc_groups": register.atc_groups,
    }
    problems: list[Problem] = []
    outcomes: dict[str, np.ndarray] = {}
    for table, fn in (
        (visits, _visit_outcomes),
        (sick_leave, _sick_leave_outcomes),
        (dispensations, _dispensation_outcomes),
    ):
        if table is not None:
            outcomes.update(fn(table, ctx, problems))
    if problems:
        raise DataError(problems, title="the register tables cannot be windowed")
    out = _assemble(
        matched, windows, win_lo, win_hi, np.maximum(obs_hi - obs_lo + 1, 0), q.exposed, outcomes
    )
    for w in windows:
        n0 = int(((out["window"] == w.name) & ~q.exposed).sum())
        _record(log, "matched persons", f"no exposure in window {w.name} (outcomes missing)", n0)
    after_exit = (exit_day[codes] != _NAT) & (exit_day[codes] < idx_day)
    _record(log, "matched persons", "exit_date before the index date", int(after_exit.sum()))
    out.attrs["notes"] = notes
    return out


def register_windows(study: Any, match: Any) -> pd.DataFrame:
    """Windowed register outcomes for every matched person (``kv.register_windows``).

    Parameters
    ----------
    study : Study
        A loaded study with register tables; windows, coverage and ATC groups
        come from ``study.config.windows`` and ``study.config.register``.
    match : MatchResult or DataFrame
        Matched sets with ``id, set_id, treat, weight, index_date``
        (``kv.match_reference(study)``).

    Returns
    -------
    DataFrame
        See :func:`windows_from_tables`; exclusions go to ``study.exclusions``.
    """
    if study.population is None:
        raise DataError("the study has no register/population table; register outcomes need one")
    matched = match.matched if hasattr(match, "matched") else match
    config = study.config
    return windows_from_tables(
        matched,
        study.population,
        study.visits,
        study.sick_leave,
        study.dispensations,
        windows=config.windows or DEFAULT_WINDOWS,
        register=config.register,
        log=study.exclusions,
    )
