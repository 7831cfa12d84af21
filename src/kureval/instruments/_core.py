"""Array-level building blocks shared by the instrument modules.

Every scorer works on a float matrix of keyed item answers (one row per
response set, i.e. person × time point; one column per item in the
instrument's standard order; NaN = missing) and returns one
:class:`ScaleScores` per scale.  The public per-instrument functions wrap these
in a DataFrame (:func:`to_frame`); :func:`kureval.instruments.score.score_study`
turns them into the tidy long scores table.  Nothing here loops over persons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kureval.errors import DataError, Problem

__all__ = [
    "FIELDS",
    "ScaleScores",
    "as_matrix",
    "band_codes",
    "check_values",
    "prorated_sum",
    "round_half_up",
    "to_frame",
]

FIELDS = ("score", "n_items", "n_missing", "imputed", "band", "case")


@dataclass(frozen=True)
class ScaleScores:
    """Scores of one scale for ``n`` response sets (internal, array form).

    Attributes
    ----------
    scale : str
        Scale name (e.g. ``"hads_anxiety"``).
    score : ndarray of float64
        The score; NaN where the scale could not be scored.
    n_items : int
        Number of items the scale has.
    n_missing : ndarray of int64
        Items of the scale that were missing in each response set.
    imputed : ndarray of bool
        True where missing items were prorated (score estimated).
    band : pandas.Categorical or None
        Band label per response set (NA where unscored); None when the scale
        defines no bands.
    case : ndarray of float64 or None
        1.0 / 0.0 caseness, NaN where unscored or undefined; None when the scale
        defines no caseness rule.
    reason : str
        Why a response set without a score could not be scored (the exclusion
        reason recorded in the study's exclusion log).
    """

    scale: str
    score: np.ndarray
    n_items: int
    n_missing: np.ndarray
    imputed: np.ndarray
    band: pd.Categorical | None = None
    case: np.ndarray | None = None
    reason: str = ""

    @property
    def scored(self) -> np.ndarray:
        """Boolean mask of response sets that received a score."""
        return ~np.isnan(self.score)


def round_half_up(x: np.ndarray) -> np.ndarray:
    """Round to the nearest integer, halves upwards (``floor(x + 0.5)``).

    Used for prorated sums of integer-keyed items.  Python's and NumPy's
    ``round`` round halves to even (7.5 → 8 but 10.5 → 10), which would make the
    band a prorated score falls in depend on the parity of the neighbouring
    integer; half-up treats every half the same way.
    """
    return np.floor(np.asarray(x, dtype=float) + 0.5)


def prorated_sum(
    m: np.ndarray, max_missing: int, *, integer: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum of items with person-mean prorating of up to ``max_missing`` items.

    Parameters
    ----------
    m : ndarray, shape (n, k)
        Item answers, NaN = missing.
    max_missing : int
        Largest number of missing items that is still prorated.
    integer : bool
        When True (integer-keyed items) a prorated sum is rounded half up to an
        integer, exactly (integer arithmetic: ``floor((2·k·s + a) / (2·a))`` with
        ``s`` the sum of the ``a`` answered items).

    Returns
    -------
    score, n_missing, imputed
        ``score`` is ``s`` when complete, ``k · s / a`` (rounded when
        ``integer``) when ``1 ≤ k − a ≤ max_missing``, NaN otherwise (and NaN
        when no item was answered, whatever ``max_missing``).
    """
    k = m.shape[1]
    answered = ~np.isnan(m)
    a = answered.sum(axis=1)
    s = np.where(answered, m, 0.0).sum(axis=1)
    n_missing = (k - a).astype(np.int64)
    ok = (n_missing <= max_missing) & (a > 0)
    imputed = ok & (n_missing > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if integer:
            prorated = np.floor((2.0 * k * s + a) / (2.0 * a))
        else:
            prorated = k * s / a
    score = np.where(n_missing == 0, s, prorated)
    score = np.where(ok, score, np.nan)
    return score, n_missing, imputed


def band_codes(score: np.ndarray, uppers: Sequence[float], labels: Sequence[str]) -> pd.Categorical:
    """Band per score: ``labels[i]`` for ``uppers[i-1] < score ≤ uppers[i]``.

    ``uppers`` are inclusive upper bounds in increasing order; the last band is
    open above (give ``len(labels) == len(uppers) + 1``).  NaN → NA.
    """
    if len(labels) != len(uppers) + 1:
        raise ValueError("labels must have one more entry than uppers")
    codes = np.searchsorted(np.asarray(uppers, dtype=float), score, side="left")
    codes = np.where(np.isnan(score), -1, codes).astype(np.int8)
    return pd.Categorical.from_codes(codes, categories=pd.Index(list(labels)))  # type: ignore[return-value]


def as_matrix(items: Any, n_items: int, name: str) -> tuple[np.ndarray, pd.Index]:
    """Wide items (DataFrame with columns 1..n, or 2-D array) → float matrix.

    DataFrame columns may be ints or strings of ints; absent item columns are
    all missing.  Columns that are not item numbers of the instrument raise
    :class:`~kureval.errors.DataError`.
    """
    if isinstance(items, pd.DataFrame):
        problems = []
        cols: dict[int, Any] = {}
        for c in items.columns:
            try:
                num = int(str(c))
            except ValueError:
                num = -1
            if not 1 <= num <= n_items:
                problems.append(
                    Problem(None, None, str(c), c, f"an item number of {name}: 1..{n_items}")
                )
            else:
                cols[num] = c
        if problems:
            raise DataError(problems, title=f"{name}: unknown item columns")
        m = np.full((len(items), n_items), np.nan)
        for num, c in cols.items():
            m[:, num - 1] = pd.to_numeric(items[c], errors="raise").to_numpy(
                dtype=float, na_value=np.nan
            )
        return m, items.index
    arr = np.asarray(items, dtype=float)
    if arr.ndim == 1 and n_items == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != n_items:
        raise DataError(
            Problem(
                None, None, None, f"shape {arr.shape}", f"a 2-D array with {n_items} item columns"
            ),
            title=f"{name}: wrong shape",
        )
    return arr, pd.RangeIndex(arr.shape[0])


def check_values(
    m: np.ndarray, index: pd.Index, lo: float, hi: float, integer: bool, name: str
) -> None:
    """Raise DataError listing every answer outside ``lo..hi`` (or non-integer)."""
    bad = ~np.isnan(m) & ((m < lo) | (m > hi))
    if integer:
        bad |= ~np.isnan(m) & (m != np.floor(m))
    if not bad.any():
        return
    rows, cols = np.nonzero(bad)
    kind = "an integer" if integer else "a number"
    problems = [
        Problem(None, None, str(c + 1), m[r, c], f"{kind} from {lo:g} to {hi:g} (row {index[r]!r})")
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True)
    ]
    raise DataError(problems, title=f"{name}: answers outside the item range")


def to_frame(results: Sequence[ScaleScores], index: pd.Index) -> pd.DataFrame:
    """Per-scale results → DataFrame with columns ``(scale, field)``."""
    parts: dict[tuple[str, str], Any] = {}
    for r in results:
        parts[(r.scale, "score")] = r.score
        parts[(r.scale, "n_items")] = np.full(len(r.score), r.n_items, dtype=np.int64)
        parts[(r.scale, "n_missing")] = r.n_missing
        parts[(r.scale, "imputed")] = r.imputed
        parts[(r.scale, "band")] = (
            pd.array(np.asarray(r.band.astype(object)), dtype="string")
            if r.band is not None
            else pd.array([pd.NA] * len(r.score), dtype="string")
        )
        parts[(r.scale, "case")] = case_array(r.case, len(r.score))
    out = pd.DataFrame(parts, index=index)
    out.columns = pd.MultiIndex.from_tuples(list(parts), names=["scale", "field"])
    return out


def case_array(case: np.ndarray | None, n: int) -> pd.arrays.BooleanArray:
    """Float 1/0/NaN caseness → pandas nullable boolean array."""
    if case is None:
        return pd.array([pd.NA] * n, dtype="boolean")
    mask = np.isnan(case)
    return pd.arrays.BooleanArray(np.where(mask, False, case == 1.0), mask)
