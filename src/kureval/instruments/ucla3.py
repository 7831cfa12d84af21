"""UCLA 3-item Loneliness Scale (Hughes et al. 2004): sum 3–9, higher = lonelier."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kureval.instruments._core import ScaleScores, as_matrix, check_values, prorated_sum, to_frame

__all__ = ["score", "score_matrix"]

CODE = "ucla3"
N_ITEMS = 3
ITEM_MIN, ITEM_MAX = 1, 3


def score_matrix(
    m: np.ndarray, max_missing: int = 0, case_threshold: int | None = None
) -> list[ScaleScores]:
    """Score a validated (n, 3) matrix; see :func:`score`."""
    s, n_missing, imputed = prorated_sum(m, max_missing, integer=True)
    case = None
    if case_threshold is not None:
        case = np.where(np.isnan(s), np.nan, (s >= case_threshold).astype(float))
    reason = (
        "ucla3: item missing"
        if max_missing == 0
        else f"ucla3: more than {max_missing} of 3 items missing"
    )
    return [ScaleScores("ucla3", s, 3, n_missing, imputed, None, case, reason)]


def score(items: Any, max_missing: int = 0, case_threshold: int | None = None) -> pd.DataFrame:
    """Score the UCLA 3-item Loneliness Scale.

    Parameters
    ----------
    items : DataFrame or array, shape (n, 3)
        Answers 1 (hardly ever) – 3 (often).
    max_missing : int, default 0
        Complete answers only by default.
    case_threshold : int, optional
        No official cut-off exists; when given, ``case`` = score ≥ threshold
        (≥ 6 is used in several studies).

    References
    ----------
    Hughes ME, Waite LJ, Hawkley LC, Cacioppo JT. A short scale for measuring
    loneliness in large surveys. Res Aging 2004;26:655–672.
    doi:10.1177/0164027504268574

    Examples
    --------
    >>> score([[1, 2, 3], [1, None, 1]])["ucla3", "score"].tolist()
    [6.0, nan]
    """
    m, index = as_matrix(items, N_ITEMS, "UCLA-3")
    check_values(m, index, ITEM_MIN, ITEM_MAX, True, "UCLA-3")
    return to_frame(score_matrix(m, max_missing, case_threshold), index)
