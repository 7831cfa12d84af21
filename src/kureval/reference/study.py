"""``kv.match_reference(study)``: candidate pool + matching from ``[reference]`` in study.toml.

Steps: :func:`kureval.reference.pool.build_pool` (participants of
``reference.programme`` at their index dates, eligible candidates per index
period with covariates as of the period), then
:func:`kureval.reference.match.match` with

* exact strata: ``reference.exact`` (``sex``, ``age_band``,
  ``diagnosis_group``, ``index_period``, …) — ``index_period`` is always
  added, since a candidate row belongs to one period;
* propensity: logistic regression on ``reference.covariates``; caliper,
  ``std_caliper``, ``link``, ``ratio``, ``replace``, ``order``, ``seed`` as
  configured;
* without replacement a register person serves at most one participant,
  even across periods (``unit = person_id``).

Every matched reference takes the index date of its participant.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from kureval.errors import ConfigError, Problem
from kureval.reference.match import MatchResult, match
from kureval.reference.pool import build_pool

__all__ = ["match_reference"]


def match_reference(study: Any) -> MatchResult:
    """Match the configured programme's participants to register reference persons.

    Parameters
    ----------
    study : Study
        A loaded study with ``[reference]`` in study.toml and register tables.

    Returns
    -------
    MatchResult
        As :func:`kureval.reference.match.match`, with ``matched`` keyed by
        person: ``id`` (person id), ``treat, set_id, weight, distance``,
        ``index_date`` (a reference's is its participant's), ``row_id``,
        ``index_period``, the exact variables and the covariates (as of the
        index period for references); ``pool_flow`` and ``excluded`` filled.
        Exclusions are also recorded in ``study.exclusions`` (step
        ``"reference"``).
    """
    from kureval.study.io import is_person_filtered

    if is_person_filtered(study):
        raise ConfigError(
            [
                Problem(
                    None,
                    None,
                    "persons",
                    None,
                    "a study loaded with kv.load_study(path) without persons=: matching "
                    "chooses reference persons from the whole register, but this study's "
                    "register tables hold only the persons given in persons=",
                )
            ],
            title="match_reference() needs the whole register",
        )
    cfg = study.config.reference
    problems = []
    if cfg is None:
        problems.append(Problem("study.toml", None, "reference", None, "a [reference] section"))
    if study.population is None:
        problems.append(
            Problem("register", None, "population", None, "register tables (register/population.*)")
        )
    if problems:
        raise ConfigError(problems, title="match_reference() needs the reference design")
    pool = build_pool(
        study.participants,
        study.population,
        study.visits,
        study.sick_leave,
        study.dispensations,
        cfg,
        study.config.register,
    )
    exact = list(dict.fromkeys([*cfg.exact, "index_period"]))
    res = match(
        pool.data,
        "treat",
        covariates=list(cfg.covariates),
        exact=exact,
        caliper=cfg.caliper,
        std_caliper=cfg.std_caliper,
        link=cfg.link,
        ratio=cfg.ratio,
        replace=cfg.replace,
        order=cfg.order,
        seed=cfg.seed,
        id="row_key",
        unit=None if cfg.replace else "person_key",
    )
    res = _by_row_id(res)
    matched = _with_index_dates(res.matched, res.data, exact, list(cfg.covariates))
    _log(study, pool.excluded, res.unmatched)
    return dataclasses.replace(res, matched=matched, pool_flow=pool.flow, excluded=pool.excluded)


def _by_row_id(res: MatchResult) -> MatchResult:
    """The result keyed by ``row_id`` (text) instead of the pool's integer ``row_key``.

    The matcher ran on ``row_key`` (see :func:`kureval.reference.pool.build_pool`);
    ``res.data`` and ``res.units`` are in the same (key) order, so ids are read
    off ``res.data`` by position."""
    data = res.data
    keys = data["row_key"].to_numpy()
    row_id = data["row_id"]

    def ids(wanted: pd.Series) -> np.ndarray:
        pos = np.searchsorted(keys, wanted.to_numpy(dtype=np.int64))  # keys are sorted (canonical)
        return row_id.iloc[pos].to_numpy(dtype=object)

    units = res.units.copy(deep=False)
    units["id"] = row_id.array
    matched = res.matched.assign(id=ids(res.matched["id"]))
    unmatched = res.unmatched.assign(id=ids(res.unmatched["id"]) if len(res.unmatched) else [])
    spec = dataclasses.replace(res.spec, id="row_id")
    return dataclasses.replace(res, units=units, matched=matched, unmatched=unmatched, spec=spec)


def _with_index_dates(
    matched: pd.DataFrame, data: pd.DataFrame, exact: list[str], covariates: list[str]
) -> pd.DataFrame:
    info = data[data["row_id"].isin(matched["id"])].set_index("row_id")
    extra = [c for c in dict.fromkeys(["person_id", *exact, *covariates]) if c in info.columns]
    out = matched.rename(columns={"id": "row_id"}).join(info[extra], on="row_id")
    first = out[out["treat"] == 1].set_index("set_id")["row_id"]
    out["index_date"] = out["set_id"].map(info.loc[first, "index_date"].set_axis(first.index))
    out = out.rename(columns={"person_id": "id"})
    cols = ["id", "treat", "set_id", "weight", "distance", "index_date", "row_id"]
    return out[cols + [c for c in out.columns if c not in cols]].reset_index(drop=True)


def _log(study: Any, excluded: pd.DataFrame, unmatched: pd.DataFrame) -> None:
    log = getattr(study, "exclusions", None)
    if log is None:
        return
    for reason, n in excluded["reason_text"].value_counts().items():
        log.record("reference", "participants", f"not matched: {reason}", int(n))
    for reason, n in unmatched["reason_text"].value_counts().items():
        log.record("reference", "participants", f"fewer references than asked: {reason}", int(n))
