"""Shares with Wilson score confidence intervals.

The follow-up section reports shares of small groups (for example 13 of 52
women who ended went to work), where the Wald interval is known to cover badly
and can leave [0, 1].  Every share in :mod:`kureval.followup` therefore carries
the **Wilson score interval without continuity correction** (Wilson 1927;
method 3 of Newcombe 1998), computed by
:func:`statsmodels.stats.proportion.proportion_confint` with
``method="wilson"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from statsmodels.stats.proportion import proportion_confint

from kureval.errors import ConfigError, Problem

__all__ = ["wilson_ci"]


def wilson_ci(
    count: npt.ArrayLike, nobs: npt.ArrayLike, alpha: float = 0.05
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Wilson score confidence interval for a binomial proportion.

    Parameters
    ----------
    count : array_like of int
        Number of "successes" (persons in the category).
    nobs : array_like of int
        Number of trials (the denominator); broadcast against ``count``.
    alpha : float, default 0.05
        1 − confidence level (0.05 gives a 95 % interval).

    Returns
    -------
    low, high : ndarray of float
        Lower and upper limits.  Where ``nobs`` is 0 the share is undefined and
        both limits are NaN.

    Notes
    -----
    With :math:`\\hat p = x/n` and :math:`z = \\Phi^{-1}(1-\\alpha/2)` the limits are

    .. math::

        \\frac{\\hat p + z^2/(2n) \\pm z\\sqrt{\\hat p(1-\\hat p)/n + z^2/(4n^2)}}{1 + z^2/n},

    the interval of all :math:`p` not rejected by the score test (Wilson 1927).
    No continuity correction is applied (method 3 in Newcombe 1998).  The
    limits always lie within [0, 1]; at :math:`x = 0` the lower limit is 0.

    References
    ----------
    .. [1] Wilson EB. Probable inference, the law of succession, and statistical
       inference. J Am Stat Assoc 1927;22:209–212. doi:10.1080/01621459.1927.10502953
    .. [2] Newcombe RG. Two-sided confidence intervals for the single proportion:
       comparison of seven methods. Stat Med 1998;17:857–872.
       doi:10.1002/(SICI)1097-0258(19980430)17:8<857::AID-SIM777>3.0.CO;2-E
    .. [3] Brown LD, Cai TT, DasGupta A. Interval estimation for a binomial
       proportion. Stat Sci 2001;16:101–133. doi:10.1214/ss/1009213286

    Examples
    --------
    Newcombe (1998), Table I, method 3: 81 of 263 gives 0.2553 to 0.3662.

    >>> low, high = wilson_ci(81, 263)
    >>> print(f"{float(low):.4f} {float(high):.4f}")
    0.2553 0.3662
    """
    if not 0 < alpha < 1:
        raise ConfigError(Problem(None, None, "alpha", alpha, "a number between 0 and 1"))
    x = np.asarray(count, dtype=float)
    n = np.asarray(nobs, dtype=float)
    x, n = np.broadcast_arrays(x, n)
    bad = (x < 0) | (x > n) | (n < 0) | ~np.isfinite(x) | ~np.isfinite(n)
    if bad.any():
        raise ConfigError(
            Problem(None, None, "count", f"{x[bad][0]:g} of {n[bad][0]:g}", "0 <= count <= nobs")
        )
    low = np.full(x.shape, np.nan)
    high = np.full(x.shape, np.nan)
    ok = n > 0
    if ok.any():
        lo, hi = _confint(x[ok], n[ok], alpha)
        low[ok] = lo
        high[ok] = hi
    return low, high


def _confint(x: Any, n: Any, alpha: float) -> tuple[Any, Any]:
    lo, hi = proportion_confint(x, n, alpha=alpha, method="wilson")
    lo = np.clip(np.asarray(lo, dtype=float), 0.0, 1.0)
    hi = np.clip(np.asarray(hi, dtype=float), 0.0, 1.0)
    # The exact limits at x = 0 and x = n are 0 and 1; the closed form leaves ~1e-16 residue.
    return np.where(x == 0, 0.0, lo), np.where(x == n, 1.0, hi)
