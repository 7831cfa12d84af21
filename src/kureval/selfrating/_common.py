"""Input checks and scale metadata shared by prepost, caseness and longitudinal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from kureval.errors import ConfigError, DataError, KurevalError, Problem

T = TypeVar("T")

SCORE_COLUMNS = ("person_id", "timepoint", "scale", "score")


@dataclass(frozen=True)
class Codes:
    """Integer codes of person_id, timepoint and scale (``pd.factorize``), computed once per call."""

    person: np.ndarray
    persons: np.ndarray
    timepoint: np.ndarray
    timepoints: np.ndarray
    scale: np.ndarray
    scales: np.ndarray


def factorize(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (first-appearance order) and the unique values as str; NA is a value of its own.

    Uses Arrow's dictionary encoding, which is several times faster than
    ``pd.factorize`` on pandas' Arrow-backed strings.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pd.api.types.is_string_dtype(col) or isinstance(col.dtype, pd.CategoricalDtype):
        col = col.astype(str)
    arr = pa.array(col, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    enc = pc.dictionary_encode(arr, null_encoding="encode")
    codes = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    uniques = np.asarray(enc.dictionary.to_pylist(), dtype=object)
    return codes, uniques


def _duplicated(key: np.ndarray, n_keys: int) -> np.ndarray:
    """Positions whose integer key occurs more than once (dense counting when the key space is small)."""
    if n_keys <= 50_000_000:
        return np.bincount(key, minlength=n_keys)[key] > 1
    return pd.Series(key).duplicated(keep=False).to_numpy()


def check_scores(scores: pd.DataFrame, arg: str = "scores") -> Codes:
    """Raise DataError listing every missing column and duplicated person × time × scale.

    Returns the factorized key columns, so callers need not factorize again.
    """
    if not isinstance(scores, pd.DataFrame):
        raise ConfigError(Problem(None, None, arg, type(scores).__name__, "a pandas DataFrame"))
    missing = [c for c in SCORE_COLUMNS if c not in scores.columns]
    if missing:
        raise DataError(
            [Problem(arg, None, c, None, "a column of the tidy scores table") for c in missing],
            title="the scores table lacks required columns",
        )
    p, pu = factorize(scores["person_id"])
    t, tu = factorize(scores["timepoint"])
    s, su = factorize(scores["scale"])
    problems: list[Problem] = []
    for c, codes_c, uniq in (("person_id", p, pu), ("timepoint", t, tu), ("scale", s, su)):
        empty = [i for i, u in enumerate(uniq) if u is None]  # NA is its own dictionary entry
        for pos in np.flatnonzero(np.isin(codes_c, empty))[:200] if empty else []:
            problems.append(
                Problem(arg, _row(scores, scores.index[pos]), c, None, "a value (not empty)")
            )
    if problems:
        raise DataError(problems, title="the scores table has empty keys")
    codes = Codes(p, pu, t, tu, s, su)
    key = (s * len(tu) + t) * len(pu) + p
    dup = _duplicated(key, len(su) * len(tu) * len(pu))
    for pos in np.flatnonzero(dup)[:200]:
        idx = scores.index[pos]
        problems.append(
            Problem(
                arg,
                _row(scores, idx),
                "person_id/timepoint/scale",
                (pu[p[pos]], tu[t[pos]], su[s[pos]]),
                "one score per person × time point × scale",
            )
        )
    score = pd.to_numeric(scores["score"], errors="coerce")
    bad = (score.isna() & scores["score"].notna()).to_numpy().copy()
    bad |= np.isinf(score.to_numpy(dtype=float, na_value=np.nan))
    for pos in np.flatnonzero(bad)[:200]:
        idx = scores.index[pos]
        problems.append(
            Problem(
                arg,
                _row(scores, idx),
                "score",
                scores["score"].iloc[pos],
                "a finite number or empty",
            )
        )
    if problems:
        raise DataError(problems, title="the scores table is invalid")
    return codes


def _row(df: pd.DataFrame, idx: Any) -> int | None:
    if "_row" in df.columns:
        value: Any = df.at[idx, "_row"]
        return None if pd.isna(value) else int(value)
    return None


def check_timepoints(scores: pd.DataFrame, **named: str) -> None:
    """ConfigError when a named time point (pre=, post=, …) does not occur in the scores."""
    present = set(pd.unique(scores["timepoint"].astype(str)))
    problems = [
        Problem(
            None, None, key, value, f"a time point in the scores ({', '.join(sorted(present))})"
        )
        for key, value in named.items()
        if str(value) not in present
    ]
    if problems:
        raise ConfigError(problems, title="unknown time point")


def select_scales(scores: pd.DataFrame, scales: Sequence[str] | str | None) -> list[str]:
    """The scales to analyse, in first-appearance order; ConfigError for unknown names."""
    present = list(pd.unique(scores["scale"].astype(str)))
    if scales is None:
        return present
    wanted = [scales] if isinstance(scales, str) else list(scales)
    unknown = [s for s in wanted if s not in present]
    if unknown:
        raise ConfigError(
            [
                Problem(None, None, "scales", s, f"a scale in the scores ({', '.join(present)})")
                for s in unknown
            ],
            title="unknown scale",
        )
    return wanted


def attach_by(
    scores: pd.DataFrame, by: Sequence[str] | str | None, participants: pd.DataFrame | None
) -> tuple[pd.DataFrame, list[str]]:
    """Scores with the ``by`` columns, taken from scores or joined from ``participants`` on person_id."""
    cols = [] if by is None else ([by] if isinstance(by, str) else list(by))
    need = [c for c in cols if c not in scores.columns]
    if not need:
        return scores, cols
    if participants is None or "person_id" not in participants.columns:
        raise ConfigError(
            [
                Problem(
                    None,
                    None,
                    "by",
                    c,
                    "a column of scores, or of participants= (joined on person_id)",
                )
                for c in need
            ],
            title="subgroup columns not found",
        )
    absent = [c for c in need if c not in participants.columns]
    if absent:
        raise ConfigError(
            [Problem("participants", None, c, None, "a participants column") for c in absent]
        )
    if participants["person_id"].duplicated().any():
        dups = participants.loc[participants["person_id"].duplicated(), "person_id"].head(50)
        raise DataError(
            [Problem("participants", None, "person_id", v, "unique person ids") for v in dups]
        )
    extra = participants[["person_id", *need]].astype({"person_id": str})
    out = scores.assign(person_id=scores["person_id"].astype(str)).merge(
        extra, on="person_id", how="left"
    )
    return out, cols


@dataclass(frozen=True)
class ScaleMeta:
    """Direction, MCID and reliability of one scale, with where each came from."""

    scale: str
    higher_is_better: bool | None
    mcid: float | None
    mcid_source: str
    reliability: float | None
    reliability_source: str


def _pick(arg: Mapping[str, T] | T | None, scale: str) -> T | None:
    if isinstance(arg, Mapping):
        return arg.get(scale)
    return arg


def scale_meta(
    scale: str,
    higher_is_better: Any = None,
    mcid: Any = None,
    reliability: Any = None,
    study: Any = None,
) -> ScaleMeta:
    """Scale metadata: keyword arguments (scalar or mapping scale → value) override the registry.

    ``study`` (a Study or StudyConfig) is passed to the registry so that
    study.toml overrides and the EQ-5D value set's MID apply.
    """
    hib, m, r = _pick(higher_is_better, scale), _pick(mcid, scale), _pick(reliability, scale)
    m_src = "argument" if m is not None else ""
    r_src = "argument" if r is not None else ""
    if hib is None or m is None or r is None:
        info = _registry(scale, study)
        if info is not None:
            hib = info.higher_is_better if hib is None else hib
            if m is None and info.mcid is not None:
                m, m_src = info.mcid, str(info.mcid_source or "instrument registry")
            if r is None and info.reliability is not None:
                r, r_src = info.reliability, str(info.reliability_source or "instrument registry")
    problems = []
    if m is not None and not float(m) > 0:
        problems.append(Problem(None, None, f"mcid[{scale}]", m, "a positive number"))
    if r is not None and not 0 <= float(r) < 1:
        problems.append(Problem(None, None, f"reliability[{scale}]", r, "a number in [0, 1)"))
    if problems:
        raise ConfigError(problems)
    return ScaleMeta(
        scale,
        None if hib is None else bool(hib),
        None if m is None else float(m),
        m_src,
        None if r is None else float(r),
        r_src,
    )


def _registry(scale: str, study: Any = None) -> Any:
    """The registry's ScaleInfo, or None for a scale it does not know."""
    try:
        from kureval.instruments.registry import scale_info
    except ModuleNotFoundError as err:  # registry not installed: behave as for an unknown scale
        if err.name != "kureval.instruments.registry":
            raise
        return None
    try:
        return scale_info(scale, study)
    except (KeyError, LookupError, KurevalError):
        return None
