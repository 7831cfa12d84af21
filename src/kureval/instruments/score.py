"""Score a whole study: long responses → tidy scores table (``kv.score(study)``).

The long table is pivoted once per instrument into a (response sets × items)
matrix with integer indexing — no per-person Python loop — and scored by the
instrument's array scorer.  Response sets (person × time point) whose scale
cannot be scored under the missing-item rule are kept out of the scores table
and every one is recorded: counted per reason in
``study.exclusions.record("scoring", "responses", reason, n, detail)`` and, row
by row, in the table returned with ``return_excluded=True``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kureval.errors import DataError, Problem
from kureval.instruments import eq5d, generic, hads, k6, single, ucla3, wemwbs, who5
from kureval.instruments._core import ScaleScores, case_array
from kureval.instruments._encode import Encoded, encode
from kureval.instruments.checks import response_problems
from kureval.instruments.registry import INSTRUMENTS, instrument_options, is_generic

__all__ = ["COLUMNS", "EXCLUDED_COLUMNS", "score_instrument", "score_study"]

COLUMNS = (
    "person_id",
    "timepoint",
    "instrument",
    "scale",
    "score",
    "n_items",
    "n_missing",
    "imputed",
    "band",
    "case",
)
EXCLUDED_COLUMNS = (
    "person_id",
    "timepoint",
    "instrument",
    "scale",
    "n_items",
    "n_missing",
    "reason",
)


def score_instrument(code: str, options: Mapping[str, Any], m: np.ndarray) -> list[ScaleScores]:
    """Score a validated item matrix of instrument ``code`` under its study.toml options."""
    mm = options.get("max_missing")
    if is_generic(options):
        return generic.score_matrix(m, generic.spec_from_options(code, options))
    if code == "hads":
        return hads.score_matrix(
            m,
            hads.DEFAULT_MAX_MISSING if mm is None else mm,
            options.get("case_threshold", hads.DEFAULT_CASE_THRESHOLD),
        )
    if code == "eq5d":
        return eq5d.score_matrix(m, options["value_set"], options.get("version"))
    if code == "who5":
        return who5.score_matrix(m, mm or 0)
    if code == "swemwbs":
        return wemwbs.score_matrix_swemwbs(m, mm or 0)
    if code == "wemwbs":
        out = wemwbs.score_matrix_wemwbs(m, mm or 0)
        if options.get("derive_swemwbs"):
            cols = [i - 1 for i in wemwbs.SWEMWBS_ITEMS_IN_WEMWBS]
            out += wemwbs.score_matrix_swemwbs(m[:, cols], 0)
        return out
    if code == "ucla3":
        return ucla3.score_matrix(m, mm or 0, options.get("case_threshold"))
    if code == "k6":
        return k6.score_matrix(m, mm or 0, options.get("case_threshold", k6.DEFAULT_CASE_THRESHOLD))
    if code in single.RANGES:
        return single.score_matrix(code, m)
    raise ValueError(f"unknown instrument {code!r}")  # pragma: no cover - prevented by validation


def _n_items(code: str, options: Mapping[str, Any]) -> int:
    return int(options["items"]) if is_generic(options) else INSTRUMENTS[code].n_items


def _unkeyed_problems(study: Any, enc: Encoded) -> list[Problem]:
    files = getattr(study, "files", None) or {}
    file = Path(files["responses"]).name if "responses" in files else "responses"
    r = study.responses
    out = [
        Problem(file, int(enc.rows[i]), "person_id", None, "a person_id")
        for i in np.flatnonzero(enc.person < 0)
    ]
    bad_tp = np.flatnonzero(enc.tp < 0)
    if bad_tp.size:
        tps = r["timepoint"].to_numpy()
        out += [
            Problem(
                file,
                int(enc.rows[i]),
                "timepoint",
                tps[i],
                "a time point declared in study.toml: " + ", ".join(map(str, enc.timepoints)),
            )
            for i in bad_tp
        ]
    return out


def score_study(
    study: Any, *, return_excluded: bool = False, validate: bool = True
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Score every declared instrument of a study.

    Parameters
    ----------
    study : Study
        Needs ``responses`` (long: ``person_id, timepoint, instrument, item,
        value``), ``config`` (``instruments`` options) and ``exclusions``.
    return_excluded : bool, default False
        Also return the response sets that could not be scored, one row per
        person × time point × scale with the reason.
    validate : bool, default True
        Run :func:`~kureval.instruments.checks.response_problems` first and
        raise one :class:`~kureval.errors.DataError` listing every problem.
        ``load_study`` already did this; False skips the repeat (0.2–0.4 s
        per million rows, see benchmarks/RESULTS-scoring.md).

    Returns
    -------
    scores : DataFrame
        One row per person × time point × scale, sorted by person, time point
        and the study.toml order of instruments: ``person_id`` (str),
        ``timepoint`` (ordered Categorical), ``instrument``, ``scale`` (str),
        ``score`` (float64, full precision), ``n_items``, ``n_missing``
        (int64), ``imputed`` (bool: missing items prorated), ``band`` (string,
        NA where the scale has no bands), ``case`` (boolean, NA where the scale
        has no caseness rule).
    excluded : DataFrame, only with ``return_excluded=True``
        ``person_id, timepoint, instrument, scale, n_items, n_missing, reason``,
        in the same order as ``scores``.
    """
    enc = encode(study)
    problems = _unkeyed_problems(study, enc)
    if validate:
        problems += response_problems(study, enc, table_checks=True)
    if problems:
        raise DataError(problems, title="responses do not fit the declared instruments")
    options = instrument_options(study)
    n_tp = max(len(enc.timepoints), 1)
    scored: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    names: list[str] = []
    for code, opts in options.items():
        mask = enc.instrument_mask(code)
        if not mask.any():
            continue
        key = enc.person[mask] * n_tp + enc.tp[mask]
        sets, inv = np.unique(key, return_inverse=True)
        m = np.full((len(sets), _n_items(code, opts)), np.nan)
        m[inv, enc.item[mask].astype(np.int64) - 1] = enc.value[mask]
        for res in score_instrument(code, opts, m):
            base = {
                "p": sets // n_tp,
                "t": sets % n_tp,
                "instrument": code,
                "scale": res.scale,
                "order": len(names),
                "res": res,
            }
            names.append(res.scale)
            scored.append({**base, "ok": res.scored})
            if (~res.scored).any():
                dropped.append({**base, "ok": ~res.scored})
    scores = _assemble(scored, enc)
    excluded = _assemble_excluded(dropped, enc)
    _record(study, dropped)
    return (scores, excluded) if return_excluded else scores


def _cat(codes: np.ndarray, cats: pd.Index) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=cats, ordered=True)


def _strings(names: list[str], codes: np.ndarray) -> pd.Index:
    return pd.Index(names, dtype="str").take(codes)


def _ordered(
    parts: list[dict[str, Any]],
) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows kept per part, their person and time codes, part per row (sorted) and the
    sort order person × time point × part shared by the scores and the excluded rows."""
    counts = [int(d["ok"].sum()) for d in parts]
    p = np.concatenate([d["p"][d["ok"]] for d in parts])
    t = np.concatenate([d["t"][d["ok"]] for d in parts])
    part = np.repeat(np.arange(len(parts)), counts)
    sort = np.lexsort((part, t, p))
    return counts, p, t, part[sort], sort


def _assemble(parts: list[dict[str, Any]], enc: Encoded) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    counts, p, t, part, sort = _ordered(parts)

    def cat(field: str) -> np.ndarray:
        return np.concatenate([getattr(d["res"], field)[d["ok"]] for d in parts])[sort]

    bands, cases = [], []
    for d, n in zip(parts, counts, strict=True):
        res, ok = d["res"], d["ok"]
        bands.append(
            np.asarray(res.band.astype(object))[ok]
            if res.band is not None
            else np.full(n, None, dtype=object)
        )
        cases.append(res.case[ok] if res.case is not None else np.full(n, np.nan))
    case = np.concatenate(cases)[sort]
    return pd.DataFrame(
        {
            "person_id": enc.persons.take(p[sort]),
            "timepoint": _cat(t[sort], enc.timepoints),
            "instrument": _strings([d["instrument"] for d in parts], part),
            "scale": _strings([d["scale"] for d in parts], part),
            "score": cat("score"),
            "n_items": np.array([d["res"].n_items for d in parts], dtype=np.int64)[part],
            "n_missing": cat("n_missing"),
            "imputed": cat("imputed"),
            "band": pd.array(np.concatenate(bands)[sort], dtype="string"),
            "case": case_array(case, len(case)),
        }
    ).reset_index(drop=True)


def _assemble_excluded(parts: list[dict[str, Any]], enc: Encoded) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in EXCLUDED_COLUMNS})
    _, p, t, part, sort = _ordered(parts)
    return pd.DataFrame(
        {
            "person_id": enc.persons.take(p[sort]),
            "timepoint": _cat(t[sort], enc.timepoints),
            "instrument": _strings([d["instrument"] for d in parts], part),
            "scale": _strings([d["scale"] for d in parts], part),
            "n_items": np.array([d["res"].n_items for d in parts], dtype=np.int64)[part],
            "n_missing": np.concatenate([d["res"].n_missing[d["ok"]] for d in parts])[sort],
            "reason": _strings([d["res"].reason for d in parts], part),
        }
    ).reset_index(drop=True)


def _record(study: Any, parts: list[dict[str, Any]]) -> None:
    log = getattr(study, "exclusions", None)
    if log is None:
        return
    for d in parts:
        res = d["res"]
        n = int(d["ok"].sum())
        detail = (
            f"{n} response sets (person × time point) with answers to {d['instrument']} got no "
            f"{res.scale} score; missing-item rule: {res.reason.split(': ', 1)[1]} → not scored"
        )
        log.record("scoring", "responses", res.reason, n, detail)
