"""WHO-5 Well-Being Index: percentage score 0–100 (higher = better)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kureval.instruments._core import (
    ScaleScores,
    as_matrix,
    band_codes,
    check_values,
    prorated_sum,
    to_frame,
)

__all__ = ["BANDS", "score", "score_matrix"]

CODE = "who5"
N_ITEMS = 5
ITEM_MIN, ITEM_MAX = 0, 5
#: Inclusive upper bounds on the 0–100 scale: ≤ 28 likely depression, 29–50
#: poor well-being (screen for depression), > 50 (Topp et al. 2015; the ≤ 50
#: screening cut-off is verified in the review's abstract, the ≤ 28 cut-off is
#: the one commonly cited from it).
BANDS = ((28, 50), ("likely_depression", "poor", "adequate"))
CASE_UPPER = 50  # case = score ≤ 50: screen positive (Topp et al. 2015)


def score_matrix(m: np.ndarray, max_missing: int = 0) -> list[ScaleScores]:
    """Score a validated (n, 5) matrix; see :func:`score`."""
    raw, n_missing, imputed = prorated_sum(m, max_missing, integer=True)
    s = raw * 4.0
    case = np.where(np.isnan(s), np.nan, (s <= CASE_UPPER).astype(float))
    reason = (
        "who5: item missing"
        if max_missing == 0
        else f"who5: more than {max_missing} of 5 items missing"
    )
    return [ScaleScores("who5", s, 5, n_missing, imputed, band_codes(s, *BANDS), case, reason)]


def score(items: Any, max_missing: int = 0) -> pd.DataFrame:
    """Score the WHO-5 Well-Being Index.

    Parameters
    ----------
    items : DataFrame or array, shape (n, 5)
        Answers 0 ("at no time") … 5 ("all of the time"), columns 1..5.
    max_missing : int, default 0
        Default: complete answers only (no official missing-item rule exists).
        With 1 the raw sum is prorated (mean × 5, rounded half up) and flagged.

    Returns
    -------
    DataFrame
        Columns ``("who5", field)``: ``score`` = raw sum × 4 (0–100, in steps
        of 4), ``band`` (``likely_depression`` ≤ 28, ``poor`` 29–50,
        ``adequate`` > 50) and ``case`` (score ≤ 50, the screening cut-off).

    References
    ----------
    Topp CW, Østergaard SD, Søndergaard S, Bech P. The WHO-5 Well-Being Index:
    a systematic review of the literature. Psychother Psychosom 2015;84:167–176.
    doi:10.1159/000376585

    Examples
    --------
    >>> res = score([[3, 3, 2, 2, 3], [1, 1, 1, 1, 3]])
    >>> res["who5", "score"].tolist(), res["who5", "band"].tolist()
    ([52.0, 28.0], ['adequate', 'likely_depression'])
    """
    m, index = as_matrix(items, N_ITEMS, "WHO-5")
    check_values(m, index, ITEM_MIN, ITEM_MAX, True, "WHO-5")
    return to_frame(score_matrix(m, max_missing), index)
