"""Kessler K6 psychological distress: sum 0–24, higher = more distress."""

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

CODE = "k6"
N_ITEMS = 6
ITEM_MIN, ITEM_MAX = 0, 4
#: 0–4 low, 5–12 moderate, ≥ 13 serious psychological distress (Kessler et al.
#: 2003 for ≥ 13; Prochaska et al. 2012 for the 5–12 moderate band).
BANDS = ((4, 12), ("low", "moderate", "serious"))
DEFAULT_CASE_THRESHOLD = 13


def score_matrix(
    m: np.ndarray, max_missing: int = 0, case_threshold: int = DEFAULT_CASE_THRESHOLD
) -> list[ScaleScores]:
    """Score a validated (n, 6) matrix; see :func:`score`."""
    s, n_missing, imputed = prorated_sum(m, max_missing, integer=True)
    case = np.where(np.isnan(s), np.nan, (s >= case_threshold).astype(float))
    reason = (
        "k6: item missing"
        if max_missing == 0
        else f"k6: more than {max_missing} of 6 items missing"
    )
    return [ScaleScores("k6", s, 6, n_missing, imputed, band_codes(s, *BANDS), case, reason)]


def score(
    items: Any, max_missing: int = 0, case_threshold: int = DEFAULT_CASE_THRESHOLD
) -> pd.DataFrame:
    """Score the Kessler K6.

    Parameters
    ----------
    items : DataFrame or array, shape (n, 6)
        Answers 0 (none of the time) – 4 (all of the time).
    max_missing : int, default 0
        Complete answers only by default.
    case_threshold : int, default 13
        ``case`` = score ≥ 13, serious psychological distress.

    References
    ----------
    Kessler RC, Barker PR, Colpe LJ, et al. Screening for serious mental illness
    in the general population. Arch Gen Psychiatry 2003;60:184–189.
    doi:10.1001/archpsyc.60.2.184
    Prochaska JJ, Sung H-Y, Max W, Shi Y, Ong M. Validity study of the K6 scale
    as a measure of moderate mental distress based on mental health treatment
    need and utilization. Int J Methods Psychiatr Res 2012;21:88–97.
    doi:10.1002/mpr.1349

    Examples
    --------
    >>> res = score([[2, 2, 2, 2, 2, 2], [3, 2, 2, 2, 2, 2]])
    >>> res["k6", "score"].tolist(), res["k6", "case"].tolist()
    ([12.0, 13.0], [False, True])
    """
    m, index = as_matrix(items, N_ITEMS, "K6")
    check_values(m, index, ITEM_MIN, ITEM_MAX, True, "K6")
    return to_frame(score_matrix(m, max_missing, case_threshold), index)
