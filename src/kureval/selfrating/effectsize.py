"""Paired (within-person) effect sizes and the signed-rank test, on plain arrays.

Every function takes the ``pre`` and ``post`` values of the same persons in the
same order (complete pairs only; :func:`kureval.selfrating.prepost.prepost`
does the pairing and counts what it sets aside) and works on the signed
difference **post − pre**.

Variants (Lakens 2013, doi:10.3389/fpsyg.2013.00863):

* ``d_z`` = mean(diff) / SD(diff) (the standardised response mean); its CI
  inverts the noncentral *t* distribution of ``t = d_z·√n`` with ``n − 1``
  degrees of freedom, as ``effectsize::cohens_d(paired = TRUE)`` does
  (Steiger & Fouladi 1997; Cumming & Finch 2001).
* ``d_av`` = mean(diff) / √((SD_pre² + SD_post²)/2), the mean difference over
  the root mean of the two variances, so that it is comparable with a
  between-group *d*; independent of the pre/post correlation.
* ``g_av`` = ``J · d_av`` with Hedges' exact correction
  ``J(ν) = Γ(ν/2) / (√(ν/2) · Γ((ν−1)/2))`` and ``ν = n − 1``, the same *J*
  as ``effectsize::hedges_g(paired = TRUE)`` (Hedges 1981,
  doi:10.3102/10769986006002107).
* ``rank_biserial`` = matched-pairs rank-biserial correlation
  (R⁺ − R⁻)/(R⁺ + R⁻) (Kerby 2014, doi:10.2466/11.IT.3.1), positive when
  post > pre, zero differences dropped before ranking (as the Wilcoxon test
  here), the same as ``effectsize::rank_biserial(post, pre, paired = TRUE)``;
  its CI is Fisher's *z* with SE √((2m³+3m²+m)/6)/((m²+m)/2), *m* = number
  of nonzero differences.

Floating-point ties: differences are rounded to ``tie_decimals`` (default 9)
decimals before they are ranked or compared with zero, so that noise such as
``83.3 − 80.5 ≠ 85.2 − 82.4`` neither splits a tie nor turns a zero into a
tiny nonzero difference. ``tie_decimals=None`` ranks the raw doubles, as R's
``wilcox.test`` and ``effectsize`` do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special, stats

__all__ = [
    "WilcoxonResult",
    "d_av",
    "d_z",
    "g_av",
    "hedges_j",
    "paired_diff",
    "rank_biserial",
    "signed_ranks",
    "wilcoxon_signed_rank",
]

TIE_DECIMALS = 9


def paired_diff(pre: ArrayLike, post: ArrayLike) -> NDArray[np.float64]:
    """post − pre as a float array (the two must have the same length, no NaN)."""
    a = np.asarray(pre, dtype=float)
    b = np.asarray(post, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(
            f"pre and post must be 1-d and of equal length, got {a.shape} and {b.shape}"
        )
    if np.isnan(a).any() or np.isnan(b).any():
        raise ValueError("pre and post must be complete pairs (no NaN)")
    return b - a


def _cleaned(diff: NDArray[np.float64], tie_decimals: int | None) -> NDArray[np.float64]:
    return diff if tie_decimals is None else np.round(diff, tie_decimals)


def signed_ranks(
    diff: ArrayLike, tie_decimals: int | None = TIE_DECIMALS
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Nonzero differences and the mid-ranks of their absolute values.

    Zero differences (after rounding to ``tie_decimals``) are dropped, as
    ``wilcox.test`` does.
    """
    d = _cleaned(np.asarray(diff, dtype=float), tie_decimals)
    d = d[d != 0]
    return d, stats.rankdata(np.abs(d), method="average")


def hedges_j(df: float) -> float:
    """Hedges' exact small-sample correction ``J(df) = Γ(df/2)/(√(df/2)·Γ((df−1)/2))``."""
    if df <= 1:
        return float("nan")
    return float(
        np.exp(special.gammaln(df / 2) - 0.5 * np.log(df / 2) - special.gammaln((df - 1) / 2))
    )


def _ncp_interval(t: float, df: float, confidence: float) -> tuple[float, float]:
    """Noncentrality parameters whose t distributions put ``t`` at the CI's tail quantiles."""
    alpha = 1 - confidence

    def cdf(ncp: float) -> float:
        value = float(stats.nct.cdf(t, df, ncp))
        if np.isnan(value):  # far tails, where scipy may fail: the cdf is 0 or 1 there
            value = 0.0 if ncp > t else 1.0
        return value

    step = 4.0 * np.sqrt(1.0 + t * t / (2.0 * df)) + 1.0

    def limit(target: float) -> float:
        lo, hi = t - step, t + step
        while cdf(lo) < target:  # cdf decreases in ncp; widen until the root is bracketed
            lo -= step
        while cdf(hi) > target:
            hi += step
        return float(
            optimize.brentq(lambda x: cdf(x) - target, lo, hi, xtol=1e-12, rtol=1e-14, maxiter=500)
        )

    return limit(1 - alpha / 2), limit(alpha / 2)


def d_z(pre: ArrayLike, post: ArrayLike, confidence: float = 0.95) -> tuple[float, float, float]:
    """Cohen's d_z = mean(post − pre)/SD(post − pre) with a noncentral-t CI.

    Returns ``(d_z, ci_low, ci_high)``; the CI is ``ncp/√n`` for the two
    noncentrality parameters that put the observed *t* at the upper and lower
    ``(1 − confidence)/2`` tail (``effectsize::cohens_d(paired = TRUE)``).
    NaN when n < 2 or SD(diff) = 0.

    Examples
    --------
    >>> round(d_z([10, 12, 9, 14], [12, 13, 12, 15])[0], 6)
    1.827815
    """
    diff = paired_diff(pre, post)
    n = diff.size
    if n < 2:
        return (float("nan"),) * 3
    sd = float(np.std(diff, ddof=1))
    if sd == 0:
        return (float("nan"),) * 3
    d = float(np.mean(diff)) / sd
    lo, hi = _ncp_interval(d * np.sqrt(n), n - 1, confidence)
    return d, lo / np.sqrt(n), hi / np.sqrt(n)


def d_av(pre: ArrayLike, post: ArrayLike) -> float:
    """d_av = mean(post − pre)/√((SD_pre² + SD_post²)/2) (SDs with n − 1)."""
    diff = paired_diff(pre, post)
    if diff.size < 2:
        return float("nan")
    s = np.sqrt(
        (np.var(np.asarray(pre, float), ddof=1) + np.var(np.asarray(post, float), ddof=1)) / 2
    )
    return float(np.mean(diff) / s) if s > 0 else float("nan")


def g_av(pre: ArrayLike, post: ArrayLike) -> float:
    """Hedges' g_av = J(n − 1)·d_av with the exact J of :func:`hedges_j`."""
    n = np.asarray(pre).size
    return hedges_j(n - 1) * d_av(pre, post)


def rank_biserial(
    pre: ArrayLike,
    post: ArrayLike,
    confidence: float = 0.95,
    tie_decimals: int | None = TIE_DECIMALS,
) -> tuple[float, float, float]:
    """Matched-pairs rank-biserial correlation of post − pre with a Fisher-z CI.

    Returns ``(r, ci_low, ci_high)``; r = (R⁺ − R⁻)/(R⁺ + R⁻) over the
    nonzero differences. NaN when every difference is zero.
    """
    d, r = signed_ranks(paired_diff(pre, post), tie_decimals)
    m = d.size
    if m == 0:
        return (float("nan"),) * 3
    total = r.sum()
    rb = float((r[d > 0].sum() - r[d < 0].sum()) / total)
    se = np.sqrt((2 * m**3 + 3 * m**2 + m) / 6) / ((m**2 + m) / 2)
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    with np.errstate(divide="ignore"):
        centre = np.arctanh(rb)
    return rb, float(np.tanh(centre - z * se)), float(np.tanh(centre + z * se))


@dataclass(frozen=True)
class WilcoxonResult:
    """Wilcoxon signed-rank test of post − pre.

    Attributes
    ----------
    v : float
        Sum of the ranks of the positive differences (R's ``V``).
    p : float
        Two-sided p-value.
    n_nonzero : int
        Differences that entered the ranking (zeros dropped).
    method : str
        ``"normal"`` (tie-corrected normal approximation) or ``"exact"``.
    correct : bool
        Whether the continuity correction was applied (normal method only).
    """

    v: float
    p: float
    n_nonzero: int
    method: str
    correct: bool


def wilcoxon_signed_rank(
    pre: ArrayLike,
    post: ArrayLike,
    *,
    exact: bool = False,
    correct: bool = True,
    tie_decimals: int | None = TIE_DECIMALS,
) -> WilcoxonResult:
    """Wilcoxon signed-rank test as R's ``wilcox.test(post, pre, paired = TRUE)``.

    Zero differences are dropped (Wilcoxon's original method, R's only one).
    With ``exact=False`` (default) the p-value is the normal approximation with
    the tie-corrected variance n(n+1)(2n+1)/24 − Σ(t³ − t)/48 and, when
    ``correct`` is true, a continuity correction of 0.5 towards zero.
    ``exact=True`` uses the exact null distribution of V, which is valid
    only without ties and zero differences: with either, as R, it falls back
    to the normal approximation and says so in ``method``.
    """
    raw = paired_diff(pre, post)
    d, r = signed_ranks(raw, tie_decimals)
    n = d.size
    if n == 0:
        return WilcoxonResult(0.0, float("nan"), 0, "normal", correct)
    v = float(r[d > 0].sum())
    ties = np.unique(r, return_counts=True)[1]
    had_zeros = n < raw.size
    if exact and ties.max() == 1 and not had_zeros:
        res = stats.wilcoxon(d, zero_method="wilcox", method="exact")
        return WilcoxonResult(v, float(res.pvalue), n, "exact", False)
    z = v - n * (n + 1) / 4
    sigma = np.sqrt(n * (n + 1) * (2 * n + 1) / 24 - np.sum(ties**3 - ties) / 48)
    if sigma == 0:
        return WilcoxonResult(v, float("nan"), n, "normal", correct)
    if correct:
        z -= np.sign(z) * 0.5
    p = float(min(1.0, 2 * stats.norm.sf(abs(z / sigma))))
    return WilcoxonResult(v, p, n, "normal", correct)
