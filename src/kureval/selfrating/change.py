"""Individual change: improved / unchanged / worse by the MCID, and reliable change.

Direction is always taken into account: a change *in the better direction*
is ``post − pre`` when higher scores are better and ``pre − post`` when lower
scores are better (HADS, K6, UCLA-3, pain).

MCID categories
    improved  : better-direction change ≥ MCID;
    worse     : better-direction change ≤ −MCID;
    unchanged : everything in between.
    Changes are compared after rounding to 9 decimals, so a change that
    equals the MCID up to floating-point noise counts as reaching it.

Reliable change (Jacobson & Truax 1991, doi:10.1037/0022-006X.59.1.12)
    ``S_diff = SD_pre · √2 · √(1 − r_xx)`` (the standard error of the
    difference with the √2 of Christensen & Mendoza 1986,
    doi:10.1016/S0005-7894(86)80100-X), ``RCI = (post − pre)/S_diff``;
    reliably improved when the better-direction RCI > z₀.₉₇₅ = 1.959964
    (strictly), reliably worse when it is < −1.959964. ``SD_pre`` is the
    sample SD (n − 1) of the pre scores **of the complete pairs** analysed, so
    that the index refers to the same persons as the change it divides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

__all__ = ["ChangeShares", "better_change", "mcid_categories", "reliable_change", "s_diff"]

_DEC = 9


def better_change(diff: ArrayLike, higher_is_better: bool) -> NDArray[np.float64]:
    """Change in the better direction: ``diff`` if higher is better, else ``−diff``."""
    d = np.asarray(diff, dtype=float)
    return d if higher_is_better else -d


def mcid_categories(diff: ArrayLike, mcid: float, higher_is_better: bool) -> NDArray[np.int8]:
    """Per person +1 (improved ≥ MCID), 0 (unchanged) or −1 (worse ≥ MCID).

    Examples
    --------
    >>> mcid_categories([2.0, 1.0, -1.5, 0.0], mcid=1.5, higher_is_better=False).tolist()
    [-1, 0, 1, 0]
    """
    if not mcid > 0:
        raise ValueError(f"mcid must be positive, got {mcid!r}")
    b = np.round(better_change(diff, higher_is_better), _DEC)
    m = round(float(mcid), _DEC)
    return np.where(b >= m, 1, np.where(b <= -m, -1, 0)).astype(np.int8)


def s_diff(sd_pre: float, reliability: float) -> float:
    """Jacobson–Truax standard error of the difference, SD_pre·√2·√(1 − r_xx)."""
    if not 0 <= reliability < 1:
        raise ValueError(f"reliability must be in [0, 1), got {reliability!r}")
    return float(sd_pre * np.sqrt(2.0) * np.sqrt(1.0 - reliability))


def reliable_change(
    pre: ArrayLike,
    post: ArrayLike,
    reliability: float,
    higher_is_better: bool,
    confidence: float = 0.95,
) -> NDArray[np.float64]:
    """Per person +1 (reliably improved), 0 (no reliable change), −1 (reliably worse).

    Uses :func:`s_diff` with the SD (n − 1) of ``pre``. When that SD is 0 or
    there are fewer than two pairs the index is undefined, and every person
    gets NaN (so shares derived from it are NaN, never a misleading 0).
    """
    a = np.asarray(pre, dtype=float)
    b = np.asarray(post, dtype=float)
    undefined = np.full(a.size, np.nan)
    if a.size < 2:
        return undefined
    sd = s_diff(float(np.std(a, ddof=1)), reliability)
    if sd == 0:
        return undefined
    rci = better_change(b - a, higher_is_better) / sd
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    return np.where(rci > z, 1.0, np.where(rci < -z, -1.0, 0.0))


@dataclass(frozen=True)
class ChangeShares:
    """Shares of persons in each change category (of the complete pairs)."""

    improved: float
    unchanged: float
    worse: float

    @classmethod
    def from_categories(cls, cat: NDArray[np.int8]) -> ChangeShares:
        """Shares from an array of +1/0/−1 categories (NaN when empty)."""
        n = cat.size
        if n == 0:
            return cls(float("nan"), float("nan"), float("nan"))
        return cls(
            float((cat == 1).sum() / n), float((cat == 0).sum() / n), float((cat == -1).sum() / n)
        )
