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

__all__ = [
    "CARE_TYPES",
    "anchor_covariates",
    "pre_window_covariates",
    "register_windows",
    "windows_from_tables",
]

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
Tables = tuple[pd.DataFrame | None, pd.DataFrame | None, pd.DataFrame | None]
"""Visits, sick-leave spells and dispensations (any of them absent)."""


def _key(code: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Sortable key of (person code, day): persons never share a key range."""
    return code.astype(np.int64) * SPAN + day + OFFSET


def _days(values: Any) -> np.ndarray:
    """Dates → int64 days since 1970-01-01 (NaT stays the int64 minimum)."""
    raw = values.to_numpy() if isinstance(values, pd.Series | pd.Index) else None
    if raw is not None and raw.dtype.kind == "M":  # datetime64 of any unit: no pandas round trip
        return raw.astype("datetime64[D]").view(np.int64)
    arr = pd.to_datetime(pd.Series(values)).to_numpy("datetime64[D]")
    return arr.astype(np.int64)


def _rows(frame: pd.DataFrame, mask: np.ndarray) -> list[int | None]:
    idx = np.flatnonzero(mask)
    if "_row" in frame.columns:
        return [int(r) for r in frame["_row"].to_numpy()[idx]]
    return [int(i) + 2 for i in idx]


def _point_sums(
    skey: np.ndarray, values: np.ndarray | None, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Count (and sum of ``values``, same order) of sorted point keys in ``[lo, hi]`` per query."""
    left = np.searchsorted(skey, lo, "left")
    right = np.searchsorted(skey, hi, "right")
    count = np.maximum(right - left, 0)
    if values is None:
        return count, count.astype(float)
    csum = np.concatenate([[0.0], np.cumsum(values)])
    return count, np.where(count > 0, csum[right] - csum[np.minimum(left, right)], 0.0)


def _sorted_events(code: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keys of (person code, day) sorted stably (ties in table order), and the order.

    The order is read off a value sort of the unique ``compact key × rows + row``
    (10× faster than a stable argsort) when that fits in int64."""
    key = _key(code, day)
    n = len(key)
    span = int(day.max()) - int(day.min()) + 1 if n else 0
    if n and (int(code.max()) + 1) * span * n < 2**62:
        compact = code.astype(np.int64) * span + (day - day.min())
        order = np.sort(compact * n + np.arange(n, dtype=np.int64)) % n
    else:
        order = np.argsort(key, kind="stable")
    return key[order], order


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
    codes = _lookup(index, matched["id"])
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
    """Observed part of every matched person × window as key ranges, searched in key order."""

    def __init__(self, code: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        klo, khi = _key(code, lo), _key(code, hi)
        self.order = np.argsort(klo)  # any order of ties: each query is answered on its own
        self.klo, self.khi = klo[self.order], khi[self.order]
        self.exposed = hi >= lo

    def _back(self, values: np.ndarray) -> np.ndarray:
        out = np.empty(len(values), dtype=values.dtype)
        out[self.order] = values
        return out

    def points(self, skey: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
        """Count (``values`` None) or sum of ``values`` of sorted event keys per query."""
        count, sums = _point_sums(skey, values, self.klo, self.khi)
        return self._back(count.astype(float) if values is None else sums)

    def cover(self, seg: dict[str, Any]) -> np.ndarray:
        both = self._back(_cover(seg, self.khi) - _cover(seg, self.klo - 1))
        return np.where(self.exposed, both, 0.0)


def _select(table: pd.DataFrame, ctx: dict[str, Any], name: str) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the matched persons with their population codes; persons unknown to the population counted.

    Set membership is tested first (hash ``isin``, done by pyarrow for Arrow
    strings), so the positional look-up only runs on the matched persons' rows.
    """
    code = ctx["table_codes"].get(name)
    if code is None:
        code = _lookup(ctx["index"], table["person_id"])
    unknown = int((code < 0).sum())
    _record(ctx["log"], name, "person not in the population table (ignored)", unknown)
    keep = np.zeros(len(code), bool)
    keep[code >= 0] = ctx["relevant"][code[code >= 0]]
    return keep, code[keep]


def _lookup(index: pd.Index, ids: pd.Series) -> np.ndarray:
    """Position of every id in the (unique) population index, −1 when absent.

    One pyarrow hash look-up (``index_in``); the same positions as
    ``index.get_indexer`` without building Python string objects.
    """
    arr = pa.array(ids.astype(str))
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = arr.cast(pa.string())
    value_set = pa.array(index.to_numpy(dtype=object), type=arr.type)
    pos = pc.index_in(arr, value_set=value_set)
    return np.asarray(pos.fill_null(-1)).astype(np.int64)


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
    keep, code = _select(visits, ctx, "visits")
    day = _days(visits["date"])[keep]
    _record(
        ctx["log"],
        "visits",
        "contact outside the person's register coverage (ignored)",
        _outside(day, code, ctx["lo_cov"], ctx["hi_cov"]),
    )
    q: _Queries = ctx["q"]
    care_code, care_names = _labels(visits["care_type"])
    care_code = care_code[keep]
    skey, order = _sorted_events(code, day)
    s_care = care_code[order]
    out = {}
    for ct in _care_kinds(care_names[np.unique(care_code)]):
        out[f"visits_{ct}"] = q.points(skey[np.isin(s_care, np.flatnonzero(care_names == ct))])
    mask = np.isin(care_code, np.flatnonzero(care_names == "psychiatry_inpatient"))
    dis = _days(visits["discharge_date"])[keep]
    seg = _levels(code[mask], day[mask], dis[mask], np.ones(int(mask.sum()), np.int64), cap=1)
    out["inpatient_psychiatry_days"] = q.cover(seg)
    n_over = _overlapping(code[mask], day[mask], dis[mask])
    _record(ctx["log"], "visits", "overlapping inpatient stays (a day counted once)", n_over)
    return out


def _care_kinds(seen: np.ndarray) -> list[str]:
    """The ``visits_<care type>`` columns: the standard care types, then others seen (sorted)."""
    return list(CARE_TYPES) + sorted(set(seen) - set(CARE_TYPES))


def _atc_hit(atc_names: np.ndarray, group: str) -> np.ndarray:
    """Which ATC codes belong to ``group`` (code starts with it)."""
    return np.array([str(a).startswith(group) for a in atc_names], dtype=bool)


def _labels(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes and labels of a column, ``labels[codes]`` = ``values.astype(str)`` (done on uniques)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    names = pd.Series(uniques, dtype=values.dtype).astype(str).to_numpy(dtype=object)
    return codes, names


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
    keep, code = _select(spells, ctx, "sick_leave")
    a, b = _days(spells["start_date"])[keep], _days(spells["end_date"])[keep]
    level = np.rint(ext[keep] * 100).astype(np.int64)
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
    keep, code = _select(disp, ctx, "dispensations")
    day = _days(disp["date"])[keep]
    _record(
        ctx["log"],
        "dispensations",
        "dispensation outside the person's register coverage (ignored)",
        _outside(day, code, ctx["lo_cov"], ctx["hi_cov"]),
    )
    ddd = disp["ddd"].to_numpy(dtype=float)[keep]
    _record(
        ctx["log"],
        "dispensations",
        "dispensation without DDD (counted in any_<ATC>, not in ddd_<ATC>)",
        int(np.isnan(ddd).sum()),
    )
    atc_code, atc_names = _labels(disp["atc"])
    atc_code = atc_code[keep]
    skey, order = _sorted_events(code, day)
    s_atc, s_ddd = atc_code[order], np.nan_to_num(ddd[order])
    q: _Queries = ctx["q"]
    out = {}
    for group in ctx["atc_groups"]:
        mask = np.isin(s_atc, np.flatnonzero(_atc_hit(atc_names, group)))
        out[f"ddd_{group}"] = q.points(skey[mask], s_ddd[mask])
        out[f"any_{group}"] = (q.points(skey[mask]) > 0).astype(float)
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
    matched: pd.DataFrame, windows: Sequence[WindowConfig], res: dict[str, Any]
) -> pd.DataFrame:
    rows = np.repeat(np.arange(len(matched)), len(windows))
    out = matched.iloc[rows][["id", "set_id", "treat", "weight", "index_date"]].reset_index(
        drop=True
    )
    out["window"] = np.tile([w.name for w in windows], len(matched))
    out["window_start"] = pd.to_datetime(res["win_lo"], unit="D")
    out["window_end"] = pd.to_datetime(res["win_hi"], unit="D")
    out["exposure_days"] = res["exposure"]
    for name, values in res["outcomes"].items():
        out[name] = np.where(res["exposed"], values, np.nan)
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
    idx_day = _days(matched["index_date"])
    tables = (visits, sick_leave, dispensations)
    res = _outcomes(codes, idx_day, index, population, tables, windows, register, log)
    out = _assemble(matched, windows, res)
    _record_exposure(log, windows, res["exposed"])
    exit_day = _days(population["exit_date"])
    after_exit = (exit_day[codes] != _NAT) & (exit_day[codes] < idx_day)
    _record(log, "matched persons", "exit_date before the index date", int(after_exit.sum()))
    out.attrs["notes"] = res["notes"]
    return out


def _record_exposure(log: Any, windows: Sequence[WindowConfig], exposed: np.ndarray) -> None:
    per_window = exposed.reshape(-1, len(windows))
    for j, w in enumerate(windows):
        n0 = int((~per_window[:, j]).sum())
        _record(log, "matched persons", f"no exposure in window {w.name} (outcomes missing)", n0)


def _outcomes(
    codes: np.ndarray,
    idx_day: np.ndarray,
    index: pd.Index,
    population: pd.DataFrame,
    tables: Tables,
    windows: Sequence[WindowConfig],
    register: RegisterConfig,
    log: Any,
    table_codes: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Outcomes of every (row, window) of persons ``codes`` (population rows) at ``idx_day``."""
    visits, sick_leave, dispensations = tables
    configured = register.data_start is not None and register.data_end is not None
    pairs = [(visits, "date"), (sick_leave, "end_date"), (sick_leave, "start_date")]
    pairs.append((dispensations, "date"))
    dates = [_days(t[c]) for t, c in pairs if t is not None and not configured]
    d_start, d_end, notes = _bounds(register, dates)
    in_from, exit_day = _days(population["in_register_from"]), _days(population["exit_date"])
    lo_cov = np.maximum(np.where(in_from == _NAT, d_start, in_from), d_start)
    hi_cov = np.minimum(np.where(exit_day == _NAT, d_end, exit_day), d_end)
    relevant = np.zeros(len(index), bool)
    relevant[codes] = True
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
        "table_codes": table_codes or {},
    }
    problems: list[Problem] = []
    outcomes: dict[str, np.ndarray] = {}
    for table, fn in zip(
        tables, (_visit_outcomes, _sick_leave_outcomes, _dispensation_outcomes), strict=True
    ):
        if table is not None:
            outcomes.update(fn(table, ctx, problems))
    if problems:
        raise DataError(problems, title="the register tables cannot be windowed")
    return {
        "win_lo": win_lo,
        "win_hi": win_hi,
        "exposure": np.maximum(obs_hi - obs_lo + 1, 0),
        "exposed": q.exposed,
        "outcomes": outcomes,
        "notes": notes,
    }


def pre_window_covariates(
    codes: np.ndarray,
    idx_day: np.ndarray,
    population: pd.DataFrame,
    tables: Tables,
    window: WindowConfig,
    register: RegisterConfig,
    table_codes: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """``exposure_days`` and outcomes of one window for population rows ``codes`` at ``idx_day``.

    As :func:`windows_from_tables`, without id look-ups or per-row frame (for the
    reference pool); ``table_codes``: known population positions of table rows."""
    index = _population_index(population)
    res = _outcomes(
        codes, idx_day, index, population, tables, (window,), register, None, table_codes
    )
    out = pd.DataFrame({"exposure_days": res["exposure"]})
    for name, values in res["outcomes"].items():
        out[name] = np.where(res["exposed"], values, np.nan)
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


def _day_order(day: np.ndarray) -> np.ndarray:
    """Stable order of ``day`` (int64 day numbers); a radix sort when the days span < 2¹⁶."""
    if len(day) and int(day.max()) - int(day.min()) < 1 << 16:
        return np.argsort((day - day.min()).astype(np.uint16), kind="stable")
    return np.argsort(day, kind="stable")


class _ByDay:
    """Point events of known persons sorted by day, answered per window as dense per-person sums."""

    def __init__(self, code: np.ndarray, day: np.ndarray, *extra: np.ndarray) -> None:
        order = _day_order(day)
        small = np.int32 if len(code) == 0 or int(code.max()) < 2**31 - 1 else np.int64
        self.code, self.day = code.astype(small)[order], day[order]
        self.extra = [e[order] for e in extra]

    def span(self, lo: int, hi: int) -> slice:
        """The events with ``lo ≤ day ≤ hi``."""
        a = int(np.searchsorted(self.day, lo, side="left"))
        return slice(a, int(np.searchsorted(self.day, hi, side="right")))


def _segment_sums(n: int, lo: int, hi: int, sort: dict[str, Any]) -> np.ndarray:
    """Σ value × days of each person's level segments inside days ``lo…hi`` (dense over persons)."""
    i0 = int(np.searchsorted(sort["start"], lo - sort["max_len"], side="left"))
    i1 = int(np.searchsorted(sort["start"], hi, side="right"))
    s, ln = sort["start"][i0:i1], sort["len"][i0:i1]
    days = np.minimum(s + ln - 1, hi) - np.maximum(s, lo) + 1
    keep = days > 0
    return np.bincount(
        sort["person"][i0:i1][keep],
        weights=sort["value"][i0:i1][keep] * days[keep],
        minlength=n,
    )


def _segments_by_start(seg: dict[str, Any]) -> dict[str, Any]:
    """The segments of :func:`_levels` as person, first day, length, value, sorted by first day."""
    person = seg["start"] // SPAN
    start = seg["start"] - person * SPAN - OFFSET
    order = _day_order(start)
    return {
        "person": person[order],
        "start": start[order],
        "len": seg["len"][order],
        "value": seg["value"][order],
        "max_len": int(seg["len"].max()) if len(seg["len"]) else 0,
    }


def anchor_covariates(
    groups: Sequence[tuple[int, np.ndarray]],
    population: pd.DataFrame,
    tables: Tables,
    window: WindowConfig,
    register: RegisterConfig,
    table_codes: dict[str, np.ndarray] | None = None,
    validate: bool = True,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """:func:`pre_window_covariates` for many persons sharing few index days (the reference pool).

    ``groups`` is a sequence of ``(index day, population positions)``; the
    result has one row per position, groups in the order given.  Each group's
    window is answered for the whole population at once (events sorted by day,
    one ``bincount`` per group and table), which is far cheaper than one pair
    of binary searches per row when millions of candidate rows share a few
    dozen index days.  Rows whose window is not wholly inside their register
    coverage are computed by :func:`pre_window_covariates`, which also checks
    the tables and raises on bad rows; ``validate=False`` skips that check
    when no row needs it (the caller has checked the same tables already).
    ``table_codes`` (population position of every row of ``"visits"``,
    ``"sick_leave"``, ``"dispensations"``) is filled in for tables it lacks.
    ``columns``: compute only these outcomes (default all); ``exposure_days``
    is always returned.  The numbers are the same as
    :func:`pre_window_covariates`' (sums of the same terms; with non-integer
    extents or DDDs they may differ in the last bits, since the terms are
    added in another order).
    """
    index = _population_index(population)
    n = len(index)
    table_codes = {} if table_codes is None else table_codes
    visits, sick_leave, dispensations = tables
    for name, t in zip(("visits", "sick_leave", "dispensations"), tables, strict=True):
        if t is not None and name not in table_codes:
            table_codes[name] = _lookup(index, t["person_id"])
    configured = register.data_start is not None and register.data_end is not None
    pairs = [(visits, "date"), (sick_leave, "end_date"), (sick_leave, "start_date")]
    pairs.append((dispensations, "date"))
    dates = [_days(t[c]) for t, c in pairs if t is not None and not configured]
    d_start, d_end, _ = _bounds(register, dates)
    in_from, exit_day = _days(population["in_register_from"]), _days(population["exit_date"])
    lo_cov = np.maximum(np.where(in_from == _NAT, d_start, in_from), d_start)
    hi_cov = np.minimum(np.where(exit_day == _NAT, d_end, exit_day), d_end)
    codes = np.concatenate([np.asarray(g, dtype=np.int64) for _, g in groups] or [np.zeros(0, int)])
    anchor = np.concatenate(
        [np.full(len(g), a, dtype=np.int64) for a, g in groups] or [np.zeros(0, int)]
    )
    full = (lo_cov[codes] <= anchor + window.start) & (hi_cov[codes] >= anchor + window.end)
    if validate or not full.all():
        rest = pre_window_covariates(
            codes[~full], anchor[~full], population, tables, window, register, table_codes
        )
    relevant = np.zeros(n, bool)
    relevant[codes] = True
    cols: dict[str, list[np.ndarray]] = {}
    want = None if columns is None else set(columns)
    parts = _dense_parts(
        visits, sick_leave, dispensations, index, relevant, register, table_codes, want
    )
    for a, g in groups:
        g = np.asarray(g, dtype=np.int64)
        lo, hi = a + window.start, a + window.end
        for name, values in _dense_window(parts, n, lo, hi).items():
            if want is None or name in want:
                cols.setdefault(name, []).append(values[g])
    out = pd.DataFrame({"exposure_days": np.full(len(codes), window.end - window.start + 1)})
    for name, chunks in cols.items():
        out[name] = np.concatenate(chunks) if chunks else np.zeros(0)
    if (~full).any():
        if want is not None:
            rest = rest[[c for c in rest.columns if c in want or c == "exposure_days"]]
        out = out.reindex(columns=list(dict.fromkeys([*out.columns, *rest.columns])))
        pos = np.flatnonzero(~full)
        for c in rest.columns:
            out.loc[pos, c] = rest[c].to_numpy()
        out = zero_unseen_visits(out)
    return out


def zero_unseen_visits(frame: pd.DataFrame) -> pd.DataFrame:
    """Covariates of row groups computed apart, put together: a ``visits_<care type>``
    column that one group lacks (nobody there had that care type) is 0 where the
    window was observed, not missing."""
    cols = [c for c in frame.columns if c.startswith("visits_")]
    if frame[cols].isna().any().any():
        exposed = frame["exposure_days"].to_numpy() > 0
        frame.loc[exposed, cols] = frame.loc[exposed, cols].fillna(0.0)
    return frame


def _dense_parts(
    visits: pd.DataFrame | None,
    sick_leave: pd.DataFrame | None,
    dispensations: pd.DataFrame | None,
    index: pd.Index,
    relevant: np.ndarray,
    register: RegisterConfig,
    table_codes: dict[str, np.ndarray],
    want: set[str] | None = None,
) -> dict[str, Any]:
    """Events of the population's persons prepared once for :func:`_dense_window`.

    ``want``: the outcome names needed (None: all); tables and event kinds no
    wanted outcome uses are not prepared."""

    def wanted(name: str) -> bool:
        return want is None or name in want

    parts: dict[str, Any] = {}
    if visits is not None:
        code = table_codes["visits"]
        ok = code >= 0
        day = _days(visits["date"])
        care_code, care_names = _labels(visits["care_type"])
        seen = np.bincount(care_code[ok & relevant[code]], minlength=len(care_names)) > 0
        kinds = [k for k in _care_kinds(care_names[seen]) if wanted(f"visits_{k}")]
        if kinds:
            col = {k: int(np.flatnonzero(care_names == k)[0]) for k in kinds if k in care_names}
            codes_of = np.full(len(care_names), len(col), dtype=np.int8)  # len(col): not wanted
            for j, k in enumerate(col):
                codes_of[col[k]] = j
            kind = codes_of[care_code]
            sel = ok & (kind < len(col))
            by_day = _ByDay(code[sel], day[sel], kind[sel])
            parts["visits"] = (by_day, len(col), kinds, {k: j for j, k in enumerate(col)})
        if wanted("inpatient_psychiatry_days"):
            inpatient = ok & np.isin(
                care_code, np.flatnonzero(care_names == "psychiatry_inpatient")
            )
            dis = _days(visits["discharge_date"])[inpatient]
            seg = _levels(
                code[inpatient],
                day[inpatient],
                dis,
                np.ones(int(inpatient.sum()), np.int64),
                cap=1,
            )
            parts["inpatient"] = _segments_by_start(seg)
    if sick_leave is not None and (wanted("sick_leave_net_days") or wanted("any_sick_leave")):
        code = table_codes["sick_leave"]
        ok = code >= 0
        a, b = _days(sick_leave["start_date"])[ok], _days(sick_leave["end_date"])[ok]
        level = np.rint(sick_leave["extent"].to_numpy(dtype=float)[ok] * 100).astype(np.int64)
        parts["sick_leave"] = _segments_by_start(_levels(code[ok], a, b, level, cap=10000))
    groups = [g for g in register.atc_groups if wanted(f"ddd_{g}") or wanted(f"any_{g}")]
    if dispensations is not None and groups:
        code = table_codes["dispensations"]
        ok = code >= 0
        atc_code, atc_names = _labels(dispensations["atc"])
        ddd = np.nan_to_num(dispensations["ddd"].to_numpy(dtype=float))
        hits = {g: _atc_hit(atc_names, g) for g in groups}
        day = _days(dispensations["date"])
        parts["dispensations"] = (_ByDay(code[ok], day[ok], atc_code[ok], ddd[ok]), hits, want)
    return parts


def _dense_window(parts: dict[str, Any], n: int, lo: int, hi: int) -> dict[str, np.ndarray]:
    """The prepared covariates of every population person over days ``lo…hi`` (no truncation)."""
    out: dict[str, np.ndarray] = {}
    if "visits" in parts:
        ev, k, kinds, col = parts["visits"]
        s = ev.span(lo, hi)
        counts = np.bincount(
            ev.code[s].astype(np.int64) * k + ev.extra[0][s], minlength=n * k
        ).reshape(n, k)
        for kind in kinds:
            j = col.get(kind)
            out[f"visits_{kind}"] = counts[:, j].astype(float) if j is not None else np.zeros(n)
    if "inpatient" in parts:
        out["inpatient_psychiatry_days"] = _segment_sums(n, lo, hi, parts["inpatient"])
    if "sick_leave" in parts:
        net = _segment_sums(n, lo, hi, parts["sick_leave"])
        out["sick_leave_net_days"] = net
        out["any_sick_leave"] = (net > 0).astype(float)
    if "dispensations" in parts:
        ev, hits, want = parts["dispensations"]
        s = ev.span(lo, hi)
        code, atc, ddd = ev.code[s], ev.extra[0][s], ev.extra[1][s]
        for group, hit in hits.items():
            m = hit[atc]
            if want is None or f"ddd_{group}" in want:
                out[f"ddd_{group}"] = np.bincount(code[m], weights=ddd[m], minlength=n)
            if want is None or f"any_{group}" in want:
                out[f"any_{group}"] = (np.bincount(code[m], minlength=n) > 0).astype(float)
    return out
