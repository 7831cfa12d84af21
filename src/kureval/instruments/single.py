"""Single-item instruments: EQ VAS, self-rated health, Work Ability Score, pain NRS.

Each takes one answer per response set (item 1).  A missing answer gives no
score; there is nothing to prorate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kureval.instruments._core import ScaleScores, as_matrix, band_codes, check_values, to_frame

__all__ = ["SRH_BANDS", "WAS_BANDS", "score_eqvas", "score_pain", "score_srh", "score_was"]

#: Item range per instrument code: (min, max).
RANGES = {"eqvas": (0, 100), "srh": (1, 5), "was": (0, 10), "pain": (0, 10)}
#: Self-rated health, coded 1 = very good … 5 = very bad (EU minimum health module).
SRH_BANDS = ((1, 2, 3, 4), ("very_good", "good", "fair", "bad", "very_bad"))
#: Work Ability Score bands: poor 0–5, moderate 6–7, good/excellent 8–10 (Jääskeläinen et al.
#: 2016, verified in the abstract; band code "good").
WAS_BANDS = ((5, 7), ("poor", "moderate", "good"))


def _single(v: np.ndarray, scale: str, **kw: Any) -> ScaleScores:
    s = v.astype(float)
    missing = np.isnan(s)
    return ScaleScores(
        scale,
        s,
        1,
        missing.astype(np.int64),
        np.zeros(len(s), dtype=bool),
        reason=f"{scale}: item missing",
        **kw,
    )


def score_matrix(code: str, m: np.ndarray) -> list[ScaleScores]:
    """Score a validated (n, 1) matrix of instrument ``code``."""
    v = m[:, 0]
    if code == "eqvas":
        return [_single(v, "eq_vas")]
    if code == "pain":
        return [_single(v, "pain")]
    if code == "was":
        return [_single(v, "was", band=band_codes(v, *WAS_BANDS))]
    if code == "srh":
        good = np.where(np.isnan(v), np.nan, (v <= 2).astype(float))
        return [_single(v, "srh", band=band_codes(v, *SRH_BANDS)), _single(good, "srh_good")]
    raise ValueError(f"not a single-item instrument: {code!r}")


def _score(code: str, values: Any) -> pd.DataFrame:
    m, index = as_matrix(values, 1, code)
    lo, hi = RANGES[code]
    check_values(m, index, lo, hi, True, code)
    return to_frame(score_matrix(code, m), index)


def score_eqvas(values: Any) -> pd.DataFrame:
    """EQ VAS 0 (worst imaginable) – 100 (best imaginable health), as answered.

    >>> score_eqvas([70, None])["eq_vas", "score"].tolist()
    [70.0, nan]
    """
    return _score("eqvas", values)


def score_srh(values: Any) -> pd.DataFrame:
    """Self-rated health: ``srh`` (1 = very good … 5 = very bad; lower is better)
    with its band, and ``srh_good`` = 1 when very good or good (1 or 2), else 0
    — Folkhälsomyndigheten's indicator "good or very good health".

    >>> res = score_srh([1, 3])
    >>> res["srh_good", "score"].tolist(), res["srh", "band"].tolist()
    ([1.0, 0.0], ['very_good', 'fair'])
    """
    return _score("srh", values)


def score_was(values: Any) -> pd.DataFrame:
    """Work Ability Score 0 (cannot work at all) – 10 (lifetime best).

    Bands poor 0–5, moderate 6–7, good 8–10 as in Jääskeläinen et al. (2016),
    Scand J Work Environ Health 42:490–499, doi:10.5271/sjweh.3598.

    >>> score_was([5, 6, 8])["was", "band"].tolist()
    ['poor', 'moderate', 'good']
    """
    return _score("was", values)


def score_pain(values: Any) -> pd.DataFrame:
    """Pain intensity NRS 0 (no pain) – 10 (worst possible); lower is better.

    >>> score_pain([4])["pain", "score"].tolist()
    [4.0]
    """
    return _score("pain", values)
