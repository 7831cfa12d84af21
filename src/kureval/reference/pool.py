"""The candidate pool at each index date (risk-set sampling) with covariates as of that date.

A participant's index date is their programme start (``start_date``).  Index
dates are grouped into periods (``[reference] index_period`` = day, week or
month); a period is represented by its **anchor**, its first day (the date
itself, the Monday, or the 1st of the month).  Everything about candidates is
computed once per period for the whole register, not once per participant.
The price: a candidate's covariates are as of the anchor while a
participant's are as of their own index date, up to one period later.  With
covariates that change quickly (sick leave) a month can matter: on the demo
study ``index_period = "week"`` balances every covariate (|SMD| ≤ 0.09) where
``"month"`` leaves net sick-leave days at −0.16.

A register person is an eligible candidate for a period when

* they are in the register for the whole pre-window before the anchor
  (``in_register_from`` ≤ anchor − ``pre_window_days``, and that day is on or
  after the register's ``data_start``),
* alive and resident through the period (``exit_date`` after its last day),
* not a participant: never listed in the participants table
  (``exclude_participants = "ever"``), or not started by the end of the period
  (``"not_yet_started"``),
* and they meet ``[reference.eligibility]``: a visit with a diagnosis of one
  of ``[reference.diagnosis_groups]`` within ``diagnosis_visit_days`` before
  the anchor (their ``diagnosis_group`` is then the group of the latest such
  visit; of visits on the same day, the group listed last in
  ``diagnosis_groups``), and/or ongoing sick leave at the anchor.

Covariates are those of :mod:`kureval.register.windows` over the pre-window
(anchor − ``pre_window_days`` … anchor − 1 for candidates, index date −
``pre_window_days`` … index date − 1 for participants), so they are defined
exactly like the outcomes: ``visits_<care_type>``,
``inpatient_psychiatry_days``, ``sick_leave_net_days``, ``any_sick_leave``,
``ddd_<ATC>``, ``any_<ATC>``; plus ``age`` = calendar year of the index date −
birth year, ``age_band`` (``age_band_years`` wide, e.g. "40-49"), ``sex`` and
``index_period``.  Candidate rows in exact strata (``[reference] exact``, always
with ``index_period``) that hold no participant can never be matched; they
are counted and left out.

Participants who cannot be placed are never dropped silently: they are listed
in ``PoolResult.excluded`` with the reason (no index date, not in the
population, index date outside the register's coverage, not in the register
for the whole pre-window, left the register before the index date).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from kureval.errors import ConfigError, DataError, Problem
from kureval.register.windows import Tables, pre_window_covariates
from kureval.study.reference_config import ReferenceConfig
from kureval.study.register_config import RegisterConfig, WindowConfig

__all__ = ["EXCLUSIONS", "PoolResult", "anchor_of", "build_pool"]

EXCLUSIONS = {
    "no_index_date": "no index date (never started)",
    "not_in_population": "not in the register population",
    "index_outside_coverage": "index date outside the register's coverage",
    "not_covered_pre_window": "not in the register for the whole pre-window",
    "left_before_index": "left the register before the index date",
}


@dataclass(frozen=True)
class PoolResult:
    """Participants and candidate rows ready for matching.

    Attributes
    ----------
    data : DataFrame
        One row per participant (``treat`` 1) and per candidate × period
        (``treat`` 0): ``row_id`` (participant: person id; candidate:
        ``<anchor>|<person id>``), ``person_id, treat, index_date`` (candidates:
        the anchor), ``index_period, sex, age, age_band, diagnosis_group`` and
        the covariates.
    excluded : DataFrame
        Participants left out: ``person_id, reason`` (code, see ``EXCLUSIONS``)
        and ``reason_text``.
    flow : DataFrame
        ``step, n``: counts from participants in the programme to candidate rows.
    """

    data: pd.DataFrame
    excluded: pd.DataFrame
    flow: pd.DataFrame


def anchor_of(dates: pd.Series, period: str) -> pd.Series:
    """First day of the day / week (Monday) / month period of each date."""
    d = pd.to_datetime(dates).dt.normalize()
    if period == "day":
        return d
    if period == "week":
        return pd.Series(d - pd.to_timedelta(d.dt.day_of_week, unit="D"), index=d.index)
    return pd.Series(d.dt.to_period("M").dt.to_timestamp(), index=d.index)


def _group_of_codes(codes: pd.Series, groups: dict[str, tuple[str, ...]]) -> pd.Series:
    """ICD-10 code → diagnosis group name (NA when in none); longest prefix wins."""
    cat = codes.astype("category")
    names = []
    for code in cat.cat.categories.astype(str):
        best, length = None, -1
        for g, prefixes in groups.items():
            for p in prefixes:
                if code.upper().startswith(p.upper()) and len(p) > length:
                    best, length = g, len(p)
        names.append(best)
    lookup = np.array(names + [None], dtype=object)
    return pd.Series(lookup[cat.cat.codes.to_numpy()], index=codes.index)


def _participant_group(values: pd.Series, groups: dict[str, tuple[str, ...]]) -> pd.Series:
    if not groups:
        return values.astype(object)
    named = values.where(values.isin(list(groups)))
    coded = _group_of_codes(values.fillna("").astype(str), groups)
    return named.fillna(coded).where(lambda s: s.notna(), values)


def _place_participants(
    participants: pd.DataFrame,
    population: pd.DataFrame,
    cfg: ReferenceConfig,
    lo: pd.Timestamp,
    hi: pd.Timestamp,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    p = participants[participants["programme"] == cfg.programme].copy()
    if p.empty:
        have = sorted(participants["programme"].dropna().astype(str).unique())
        raise ConfigError(
            [
                Problem(
                    "study.toml",
                    None,
                    "reference.programme",
                    cfg.programme,
                    f"a programme in participants (have: {', '.join(have)})",
                )
            ]
        )
    pop = population.set_index(population["person_id"].astype(str))
    pid = p["person_id"].astype(str)
    start = pd.to_datetime(p["start_date"])
    in_pop = _is_in(pid, pop.index)
    in_from = pd.to_datetime(pid.map(pop["in_register_from"]))
    exit_ = pd.to_datetime(pid.map(pop["exit_date"]))
    pre = pd.Timedelta(days=cfg.pre_window_days)
    reason = pd.Series(pd.NA, index=p.index, dtype=object)
    rules = [
        (start.isna(), "no_index_date"),
        (~in_pop, "not_in_population"),
        ((start - pre < lo) | (start > hi), "index_outside_coverage"),
        (in_from.notna() & (in_from > start - pre), "not_covered_pre_window"),
        (exit_.notna() & (exit_ <= start), "left_before_index"),
    ]
    for mask, why in rules:
        reason = reason.mask(mask.fillna(False) & reason.isna(), why)
    excluded = pd.DataFrame(
        {
            "person_id": pid[reason.notna()],
            "reason": reason[reason.notna()],
            "reason_text": reason[reason.notna()].map(EXCLUSIONS),
        }
    )
    ok = p[reason.isna()]
    out = pd.DataFrame(
        {
            "row_id": ok["person_id"].astype(str),
            "person_id": ok["person_id"].astype(str),
            "treat": 1,
            "index_date": pd.to_datetime(ok["start_date"]).dt.normalize(),
            "sex": ok["sex"].astype(str),
            "age": (
                pd.to_datetime(ok["start_date"]).dt.year - ok["birth_year"].astype(float)
            ).to_numpy(),
            "diagnosis_group": _participant_group(
                ok.get("diagnosis_group", pd.Series(pd.NA, index=ok.index)),
                dict(cfg.diagnosis_groups),
            ),
        }
    )
    out["index_period"] = anchor_of(out["index_date"], cfg.index_period)
    return out.reset_index(drop=True), excluded.reset_index(drop=True)


_NAT = np.iinfo(np.int64).min


def _is_in(ids: pd.Series, index: pd.Index) -> pd.Series:
    """``ids.isin(index)`` by a pyarrow hash look-up (pandas builds a Python set of ``index``)."""
    value_set = pa.array(index.to_numpy(dtype=object), type=pa.string())
    hit = pc.is_in(pa.array(ids, type=pa.string()), value_set=value_set)
    return pd.Series(hit.to_numpy(zero_copy_only=False), index=ids.index)


def _positions(index: pd.Index, ids: pd.Series) -> np.ndarray:
    """``index.get_indexer(ids)`` (unique ``index``) by one pyarrow hash look-up."""
    value_set = pa.array(index.to_numpy(dtype=object), type=pa.string())
    pos = pc.index_in(pa.array(ids.astype(str), type=pa.string()), value_set=value_set)
    return pos.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def _days(values: pd.Series, missing: int) -> np.ndarray:
    """Dates → int64 days since 1970-01-01; missing dates → ``missing``."""
    d = pd.to_datetime(values).to_numpy("datetime64[D]").astype(np.int64)
    return np.where(d == _NAT, missing, d)


@dataclass
class _Register:
    """The population as arrays indexed by person code (row of the population table)."""

    ids: pd.Series
    sex: np.ndarray
    birth: np.ndarray
    in_from: np.ndarray
    exit: np.ndarray
    index: pd.Index
    gv_person: np.ndarray  # group visits, sorted by (date, group)
    gv_day: np.ndarray
    gv_group: np.ndarray
    groups: list[str]
    sick: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    table_codes: dict[str, np.ndarray]  # population position of every visit / spell


def _register(
    population: pd.DataFrame,
    visits: pd.DataFrame | None,
    sick_leave: pd.DataFrame | None,
    groups: dict[str, tuple[str, ...]],
) -> _Register:
    ids = population["person_id"].astype(str).reset_index(drop=True)
    index = pd.Index(ids)
    big = np.iinfo(np.int64).max
    names = list(groups)
    gp = np.zeros(0, np.int64)
    gd = np.zeros(0, np.int64)
    gg = np.zeros(0, np.int64)
    table_codes: dict[str, np.ndarray] = {}
    if visits is not None and groups:
        codes, uniques = pd.factorize(visits["diagnosis"])
        of_code = _group_of_codes(pd.Series(np.asarray(uniques, dtype=object)).astype(str), groups)
        lookup = np.array([names.index(g) if isinstance(g, str) else -1 for g in of_code] + [-1])
        g = lookup[codes]  # code −1 (missing diagnosis) → last entry, −1
        keep = g >= 0
        table_codes["visits"] = _positions(index, visits["person_id"])
        person = table_codes["visits"][keep]
        day = _days(visits["date"][keep], _NAT)
        ok = person >= 0
        order = np.lexsort((g[keep][ok], day[ok]))
        gp, gd, gg = person[ok][order], day[ok][order], g[keep][ok][order]
    sick = None
    if sick_leave is not None:
        sp = table_codes["sick_leave"] = _positions(index, sick_leave["person_id"])
        sick = (sp, _days(sick_leave["start_date"], big), _days(sick_leave["end_date"], big))
    return _Register(
        ids=ids,
        sex=population["sex"].astype(str).to_numpy(),
        birth=population["birth_year"].to_numpy(dtype=float),
        in_from=_days(population["in_register_from"], np.iinfo(np.int64).min // 2),
        exit=_days(population["exit_date"], big),
        index=index,
        gv_person=gp,
        gv_day=gd,
        gv_group=gg,
        groups=names,
        sick=sick,
        table_codes=table_codes,
    )


def _latest_group(person: np.ndarray, group: np.ndarray, n: int) -> np.ndarray:
    """Group of each person's last entry (entries sorted by date, group), −1 when none."""
    last = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last, person, np.arange(len(person), dtype=np.int64))
    out = np.full(n, -1, dtype=np.int64)
    has = last >= 0
    out[has] = group[last[has]]
    return out


def _candidates(
    anchor: pd.Timestamp,
    period_end: pd.Timestamp,
    reg: _Register,
    barred: np.ndarray,
    cfg: ReferenceConfig,
    lo: pd.Timestamp,
    keys: pd.DataFrame,
) -> tuple[pd.DataFrame, int, np.ndarray]:
    """Eligible candidate rows of one period, restricted to the participants' exact strata.

    Returns the rows, the number of eligible persons before that restriction
    and the rows' population positions.
    """
    a = int(np.datetime64(anchor.date(), "D").astype(np.int64))
    e = int(np.datetime64(period_end.date(), "D").astype(np.int64))
    lo_d = int(np.datetime64(lo.date(), "D").astype(np.int64))
    pre = cfg.pre_window_days
    ok = (reg.in_from <= a - pre) & (a - pre >= lo_d) & (reg.exit > e) & ~barred
    days = cfg.eligibility.diagnosis_visit_days
    span = days if days > 0 else pre
    i0, i1 = np.searchsorted(reg.gv_day, [a - span, a], side="left")
    group = _latest_group(reg.gv_person[i0:i1], reg.gv_group[i0:i1], len(reg.ids))
    if days > 0 and reg.groups:
        ok &= group >= 0
    if cfg.eligibility.sick_leave_at_index and reg.sick is not None:
        sp, s0, s1 = reg.sick
        on = np.zeros(len(reg.ids), dtype=bool)
        on[sp[(sp >= 0) & (s0 <= a) & (s1 >= a)]] = True
        ok &= on
    n_eligible = int(ok.sum())
    idx = np.flatnonzero(ok)
    age = float(anchor.year) - reg.birth[idx]
    names = np.array([*reg.groups, "none"], dtype=object)
    out = pd.DataFrame(
        {
            "person_id": reg.ids.iloc[idx].reset_index(drop=True),
            "treat": 0,
            "index_date": anchor,
            "sex": reg.sex[idx],
            "age": age,
            "age_band": _band(pd.Series(age), cfg.age_band_years).to_numpy(),
            "diagnosis_group": names[group[idx]],
            "index_period": anchor,
        }
    )
    exact = [v for v in keys.columns if v != "index_period"]
    if exact:
        inside = _in_strata(out[exact], keys[exact])
        out, idx = out.loc[inside].reset_index(drop=True), idx[inside]
    out.insert(0, "row_id", anchor.strftime("%Y-%m-%d") + "|" + out["person_id"].astype(str))
    return out, n_eligible, idx


def _in_strata(rows: pd.DataFrame, keys: pd.DataFrame) -> np.ndarray:
    """Rows whose exact-variable values occur in ``keys`` (an inner join, rows kept in order)."""
    both = pd.concat([keys, rows], ignore_index=True)
    codes = both.groupby(list(both.columns), sort=False, dropna=False).ngroup().to_numpy()
    return np.isin(codes[len(keys) :], codes[: len(keys)])


def build_pool(
    participants: pd.DataFrame,
    population: pd.DataFrame,
    visits: pd.DataFrame | None,
    sick_leave: pd.DataFrame | None,
    dispensations: pd.DataFrame | None,
    config: ReferenceConfig,
    register: RegisterConfig | None = None,
) -> PoolResult:
    """Participants and eligible candidates per index period, with covariates (module docstring)."""
    register = register or RegisterConfig()
    lo, hi = _coverage(register, visits)
    parts, excluded = _place_participants(participants, population, config, lo, hi)
    if parts.empty:
        raise DataError(
            [
                Problem(
                    "participants",
                    None,
                    "start_date",
                    None,
                    f"at least one participant of {config.programme!r} who can be placed in the "
                    f"register ({len(excluded)} excluded: "
                    f"{excluded['reason'].value_counts().to_dict()})",
                )
            ],
            title="no participant can be matched",
        )
    reg = _register(population, visits, sick_leave, dict(config.diagnosis_groups))
    parts["age_band"] = _band(parts["age"], config.age_band_years)
    exact = [v for v in dict.fromkeys([*config.exact, "index_period"]) if v in parts.columns]
    frames, n_all = [], 0
    codes = [reg.index.get_indexer(pd.Index(parts["person_id"]))]
    for anchor in sorted(parts["index_period"].unique()):
        anchor = pd.Timestamp(anchor)
        end = _period_end(anchor, config.index_period)
        keys = parts.loc[parts["index_period"] == anchor, exact]
        rows, n_elig, idx = _candidates(
            anchor, end, reg, _barred(participants, config, end, reg.index), config, lo, keys
        )
        frames.append(rows)
        codes.append(idx)
        n_all += n_elig
    cands = pd.concat(frames, ignore_index=True) if frames else parts.iloc[:0]
    data = pd.concat([parts, cands], ignore_index=True)
    tables = (visits, sick_leave, dispensations)
    data = _add_covariates(data, np.concatenate(codes), reg, population, tables, config, register)
    flow = pd.DataFrame(
        {
            "step": [
                "participants in the programme",
                "participants excluded",
                "participants to match",
                "index periods",
                "eligible candidate rows (persons × periods)",
                "candidate rows in strata with participants",
            ],
            "n": [
                len(parts) + len(excluded),
                len(excluded),
                len(parts),
                parts["index_period"].nunique(),
                n_all,
                len(cands),
            ],
        }
    )
    return PoolResult(data=data, excluded=excluded, flow=flow)


def _coverage(
    register: RegisterConfig, visits: pd.DataFrame | None
) -> tuple[pd.Timestamp, pd.Timestamp]:
    if register.data_start is not None and register.data_end is not None:
        return pd.Timestamp(register.data_start), pd.Timestamp(register.data_end)
    if visits is None or visits.empty:
        raise ConfigError(
            [
                Problem(
                    "study.toml",
                    None,
                    "register.data_start",
                    None,
                    "data_start and data_end (the register's coverage); there are no visits "
                    "to infer it from",
                )
            ]
        )
    dates = pd.to_datetime(visits["date"])
    lo = pd.Timestamp(register.data_start) if register.data_start else dates.min()
    hi = pd.Timestamp(register.data_end) if register.data_end else dates.max()
    return lo, hi


def _period_end(anchor: pd.Timestamp, period: str) -> pd.Timestamp:
    if period == "day":
        return anchor
    if period == "week":
        return anchor + pd.Timedelta(days=6)
    return anchor + pd.offsets.MonthEnd(0)


def _barred(
    participants: pd.DataFrame, cfg: ReferenceConfig, period_end: pd.Timestamp, index: pd.Index
) -> np.ndarray:
    """Population persons who may not be candidates in a period ending ``period_end``."""
    ids = participants["person_id"].astype(str)
    if cfg.exclude_participants != "ever":
        started = pd.to_datetime(participants["start_date"]) <= period_end
        ids = ids[started.fillna(False).to_numpy()]
    out = np.zeros(len(index), dtype=bool)
    pos = index.get_indexer(pd.Index(ids))
    out[pos[pos >= 0]] = True
    return out


def _band(age: pd.Series, width: int) -> pd.Series:
    """Age band label ("40-49" for width 10) of every age; labels built once per band."""
    lo = (np.floor(age.to_numpy(dtype=float) / width) * width).astype(np.int64)
    uniq, inv = np.unique(lo, return_inverse=True)
    labels = np.array([f"{a}-{a + width - 1}" for a in uniq], dtype=object)
    return pd.Series(labels[inv.reshape(-1)], index=age.index, dtype=object)


def _needed(
    covariates: tuple[str, ...], register: RegisterConfig
) -> tuple[set[str], RegisterConfig]:
    """Register tables the covariates come from, and the ATC groups they use."""
    tables: set[str] = set()
    atc = [
        c.split("_", 1)[1]
        for c in covariates
        if c.startswith(("ddd_", "any_")) and c != "any_sick_leave"
    ]
    for c in covariates:
        if c.startswith("visits_") or c == "inpatient_psychiatry_days":
            tables.add("visits")
        elif c.startswith("sick_leave") or c == "any_sick_leave":
            tables.add("sick_leave")
    if atc:
        tables.add("dispensations")
    return tables, dataclasses.replace(register, atc_groups=tuple(atc) or register.atc_groups)


def _add_covariates(
    data: pd.DataFrame,
    codes: np.ndarray,
    pop: _Register,
    population: pd.DataFrame,
    tables: Tables,
    cfg: ReferenceConfig,
    register: RegisterConfig,
) -> pd.DataFrame:
    """Covariates of every row over its pre-window, by :mod:`kureval.register.windows`.

    ``codes`` are the rows' positions in the population table.  Only the
    register tables (and ATC groups) the configured covariates need are windowed.
    """
    needed, reg = _needed(cfg.covariates, register)
    visits, sick_leave, dispensations = tables
    used: Tables = (
        visits if "visits" in needed else None,
        sick_leave if "sick_leave" in needed else None,
        dispensations if "dispensations" in needed else None,
    )
    idx_day = pd.to_datetime(data["index_date"]).to_numpy("datetime64[D]").astype(np.int64)
    window = WindowConfig("pre", -cfg.pre_window_days, -1)
    cov = pre_window_covariates(codes, idx_day, population, used, window, reg, pop.table_codes)
    missing = [c for c in cfg.covariates if c not in cov.columns and c not in data.columns]
    if missing:
        raise ConfigError(
            [
                Problem(
                    "study.toml",
                    None,
                    "reference.covariates",
                    m,
                    "a covariate kureval computes (age, visits_<care type>, "
                    "inpatient_psychiatry_days, sick_leave_net_days, any_sick_leave, "
                    "ddd_<ATC>, any_<ATC>)",
                )
                for m in missing
            ]
        )
    return pd.concat([data.reset_index(drop=True), cov], axis=1)
