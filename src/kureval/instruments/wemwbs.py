"""WEMWBS (14 items, sum 14–70) and SWEMWBS (7 items, Rasch metric score).

Scoring of keyed answers 1–5 only; the item texts are licensed (NHS Health
Scotland, University of Warwick, University of Edinburgh) and not shipped.
The SWEMWBS raw → metric conversion table is a data file,
``data/swemwbs_conversion.csv``, cited in ``data/references.csv``.
"""

from __future__ import annotations

import csv
import io
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from kureval.instruments._core import ScaleScores, as_matrix, check_values, prorated_sum, to_frame

__all__ = [
    "SWEMWBS_ITEMS_IN_WEMWBS",
    "conversion_table",
    "score_swemwbs",
    "score_wemwbs",
    "swemwbs_metric",
]

ITEM_MIN, ITEM_MAX = 1, 5
#: WEMWBS item numbers that make up SWEMWBS, in SWEMWBS order (Stewart-Brown 2009).
SWEMWBS_ITEMS_IN_WEMWBS = (1, 2, 3, 6, 7, 9, 11)


@cache
def conversion_table() -> dict[int, float]:
    """SWEMWBS raw sum (7–35) → metric score, from the shipped data file."""
    path = resources.files("kureval.instruments") / "data" / "swemwbs_conversion.csv"
    rows = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
    return {int(r["raw"]): float(r["metric"]) for r in rows}


def swemwbs_metric(raw: Any) -> np.ndarray:
    """Convert SWEMWBS raw sums (integers 7–35, NaN allowed) to metric scores.

    >>> swemwbs_metric([7, 21, 35]).tolist()
    [7.0, 19.25, 35.0]
    """
    raw = np.asarray(raw, dtype=float)
    table = np.full(36, np.nan)
    for k, v in conversion_table().items():
        table[k] = v
    ok = ~np.isnan(raw) & (raw >= 7) & (raw <= 35) & (raw == np.floor(raw))
    if (~np.isnan(raw) & ~ok).any():
        raise ValueError("SWEMWBS raw sums must be integers from 7 to 35")
    return np.where(ok, table[np.where(ok, raw, 0).astype(np.int64)], np.nan)


def _reason(scale: str, k: int, max_missing: int) -> str:
    return (
        f"{scale}: item missing"
        if max_missing == 0
        else f"{scale}: more than {max_missing} of {k} items missing"
    )


def score_matrix_wemwbs(m: np.ndarray, max_missing: int = 0) -> list[ScaleScores]:
    """Score a validated (n, 14) matrix; see :func:`score_wemwbs`."""
    s, n_missing, imputed = prorated_sum(m, max_missing, integer=True)
    return [
        ScaleScores("wemwbs", s, 14, n_missing, imputed, reason=_reason("wemwbs", 14, max_missing))
    ]


def score_matrix_swemwbs(m: np.ndarray, max_missing: int = 0) -> list[ScaleScores]:
    """Score a validated (n, 7) matrix; see :func:`score_swemwbs`."""
    raw, n_missing, imputed = prorated_sum(m, max_missing, integer=True)
    return [
        ScaleScores(
            "swemwbs",
            swemwbs_metric(raw),
            7,
            n_missing,
            imputed,
            reason=_reason("swemwbs", 7, max_missing),
        )
    ]


def score_wemwbs(items: Any, max_missing: int = 0) -> pd.DataFrame:
    """Score WEMWBS: sum of the 14 items (1–5), range 14–70, higher = better.

    ``max_missing`` (default 0, complete answers only) allows person-mean
    prorating of that many items (mean × 14, rounded half up), flagged in
    ``imputed``.  No bands: Warwick states WEMWBS is not a screening tool.

    References
    ----------
    Tennant R, Hiller L, Fishwick R, et al. The Warwick-Edinburgh Mental
    Well-being Scale (WEMWBS): development and UK validation. Health Qual Life
    Outcomes 2007;5:63. doi:10.1186/1477-7525-5-63

    Examples
    --------
    >>> score_wemwbs([[3] * 14])["wemwbs", "score"].tolist()
    [42.0]
    """
    m, index = as_matrix(items, 14, "WEMWBS")
    check_values(m, index, ITEM_MIN, ITEM_MAX, True, "WEMWBS")
    return to_frame(score_matrix_wemwbs(m, max_missing), index)


def score_swemwbs(items: Any, max_missing: int = 0) -> pd.DataFrame:
    """Score SWEMWBS: raw sum 7–35 converted to the Rasch metric score.

    Parameters
    ----------
    items : DataFrame or array, shape (n, 7)
        Answers 1–5 to the 7 SWEMWBS items in SWEMWBS order.
    max_missing : int, default 0
        Default complete answers only, because the conversion table applies to
        complete integer raw sums.  With ``max_missing > 0`` the raw sum is
        prorated (mean × 7), rounded half up to an integer before the lookup,
        and flagged in ``imputed``.

    Returns
    -------
    DataFrame
        Columns ``("swemwbs", field)``; ``score`` is the metric score (7.00–35.00).

    References
    ----------
    Stewart-Brown S, Tennant A, Tennant R, et al. Internal construct validity of
    the Warwick-Edinburgh Mental Well-being Scale (WEMWBS): a Rasch analysis
    using data from the Scottish Health Education Population Survey. Health
    Qual Life Outcomes 2009;7:15. doi:10.1186/1477-7525-7-15

    Examples
    --------
    >>> score_swemwbs([[3, 3, 3, 3, 3, 3, 3]])["swemwbs", "score"].tolist()
    [19.25]
    """
    m, index = as_matrix(items, 7, "SWEMWBS")
    check_values(m, index, ITEM_MIN, ITEM_MAX, True, "SWEMWBS")
    return to_frame(score_matrix_swemwbs(m, max_missing), index)
