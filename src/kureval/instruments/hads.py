"""Hospital Anxiety and Depression Scale (HADS): anxiety and depression subscales.

Input are *keyed* item scores 0–3 in the standard item order (items 1, 3, …, 13
anxiety; 2, 4, …, 14 depression).  The response-option key itself belongs to
the licence holder (GL Assessment / Mapi Research Trust) and is not shipped;
neither are item texts.
"""

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

__all__ = ["BANDS", "N_ITEMS", "score", "score_matrix"]

CODE = "hads"
N_ITEMS = 14
ITEM_MIN, ITEM_MAX = 0, 3
SUBSCALES = {"hads_anxiety": np.arange(0, 14, 2), "hads_depression": np.arange(1, 14, 2)}
#: Inclusive upper bounds and labels: 0–7 normal, 8–10 borderline, ≥ 11 case
#: (Zigmond & Snaith 1983; Snaith 2003).
BANDS = ((7, 10), ("normal", "borderline", "case"))
DEFAULT_MAX_MISSING = 1
DEFAULT_CASE_THRESHOLD = 11


def score_matrix(
    m: np.ndarray,
    max_missing: int = DEFAULT_MAX_MISSING,
    case_threshold: int = DEFAULT_CASE_THRESHOLD,
) -> list[ScaleScores]:
    """Score a validated (n, 14) matrix; see :func:`score`."""
    out = []
    for scale, cols in SUBSCALES.items():
        s, n_missing, imputed = prorated_sum(m[:, cols], max_missing, integer=True)
        case = np.where(np.isnan(s), np.nan, (s >= case_threshold).astype(float))
        out.append(
            ScaleScores(
                scale=scale,
                score=s,
                n_items=7,
                n_missing=n_missing,
                imputed=imputed,
                band=band_codes(s, *BANDS),
                case=case,
                reason=f"{scale}: more than {max_missing} of 7 items missing",
            )
        )
    return out


def score(
    items: Any, max_missing: int = DEFAULT_MAX_MISSING, case_threshold: int = DEFAULT_CASE_THRESHOLD
) -> pd.DataFrame:
    """Score HADS anxiety (HADS-A) and depression (HADS-D), 0–21 each.

    Parameters
    ----------
    items : DataFrame or array, shape (n, 14)
        Keyed item scores 0–3; DataFrame columns are item numbers 1..14 (absent
        columns count as missing); NaN = missing.
    max_missing : int, default 1
        Largest number of missing items per subscale that is prorated.
    case_threshold : int, default 11
        ``case`` is True when the subscale score is at least this (11 = the
        "probable case" band; use 8 for Bjelland et al.'s screening cut-off).

    Returns
    -------
    DataFrame
        Index as ``items``; columns ``(scale, field)`` with scales
        ``hads_anxiety``, ``hads_depression`` and fields ``score`` (NaN when
        more than ``max_missing`` items are missing), ``n_items`` (7),
        ``n_missing``, ``imputed``, ``band`` (normal 0–7, borderline 8–10,
        case ≥ 11) and ``case``.

    Notes
    -----
    Subscale score = sum of its 7 keyed items.  With ``1 ≤ m ≤ max_missing``
    items missing the score is prorated: mean of the ``7 − m`` answered items
    × 7, rounded half up to an integer (``floor(x + 0.5)``, computed exactly in
    integer arithmetic) so that the integer bands apply; e.g. answered items
    summing to 9 with one missing give 9 × 7 / 6 = 10.5 → 11 (case).  Half-up
    rather than half-to-even so that every half is treated alike whatever the
    parity of its neighbours.  The HADS manual's own missing-item rule could not
    be consulted; the one-missing-item prorating rule is the common one (e.g.
    the qscorer R package), and Bell et al. (2016) support person-mean
    imputation for up to half of the items.

    References
    ----------
    Zigmond AS, Snaith RP. The Hospital Anxiety and Depression Scale. Acta
    Psychiatr Scand 1983;67:361–370. doi:10.1111/j.1600-0447.1983.tb09716.x
    Bell ML, Fairclough DL, Fiero MH, Butow PN. Handling missing items in the
    HADS: a simulation study. BMC Res Notes 2016;9:479. doi:10.1186/s13104-016-2284-z

    Examples
    --------
    >>> import numpy as np
    >>> res = score([[1, 0, 2, 1, 2, 1, 1, 0, 2, 1, 1, 1, np.nan, 0]])
    >>> float(res["hads_anxiety", "score"].iloc[0]), bool(res["hads_anxiety", "imputed"].iloc[0])
    (11.0, True)
    >>> str(res["hads_anxiety", "band"].iloc[0]), float(res["hads_depression", "score"].iloc[0])
    ('case', 4.0)
    """
    m, index = as_matrix(items, N_ITEMS, "HADS")
    check_values(m, index, ITEM_MIN, ITEM_MAX, True, "HADS")
    return to_frame(score_matrix(m, max_missing, case_threshold), index)
