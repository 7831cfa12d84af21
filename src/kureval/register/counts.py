"""Count models on matched windows: ratio of rate ratios (Poisson, negative binomial).

For a count outcome (visits, inpatient days, DDD) the two windows of every
matched person are stacked and fitted with a log-linear model

``log E[y] = log(exposure_days) + β0 + β1·treat + β2·post + β3·treat·post``

weighted by the matching weights.  ``exp(β3)`` is the **ratio of rate
ratios**: (post/pre rate ratio in participants) / (post/pre rate ratio in
their references); < 1 means that the participants' rate fell more.  The
offset makes rates per exposure day correct for persons whose window was
truncated by death, emigration or the end of the data.

Poisson: ``glm(y ~ treat * post + offset(log(exposure)), family = poisson,
weights = weight)``.  Negative binomial (NB2, ``Var = μ + μ²/θ``):
``MASS::glm.nb`` — θ by weighted maximum likelihood (``MASS::theta.ml``)
alternating with the GLM fit at fixed θ until both converge.  Standard
errors: cluster-robust on the matched set (two-way on set and person when
references are reused), ``sandwich::vcovCL`` with its ``glm`` default
``type = "HC0"`` and ``G/(G−1)``, the bread taken at fixed θ as R does;
inference uses the normal distribution (as ``lmtest::coeftest`` for glm).
Checked against R in ``tests/results/register/counts_fixture.R``.

References
----------
Venables WN, Ripley BD (2002). *Modern Applied Statistics with S*, 4th ed.,
§7.4 (glm.nb).  Zeileis A, Köll S, Graham N (2020). *J Stat Softw* 95(1).
doi:10.18637/jss.v095.i01
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from kureval.errors import ConfigError, DataError
from kureval.register.compare import _clusters, _restrict, _wide, matched_frame
from kureval.register.sandwich import cluster_vcov

__all__ = ["RateRatioResult", "did_rate", "fit_count_model"]

TERMS = ("intercept", "treat", "post", "treat:post")


@dataclass(frozen=True)
class RateRatioResult:
    """Ratio of rate ratios from a weighted log-linear count model on matched windows.

    Attributes
    ----------
    outcome, family, pre, post : str
    coef : ndarray
        Coefficients ``intercept, treat, post, treat:post`` (log scale).
    vcov : ndarray
        Cluster-robust covariance of ``coef``.
    theta : float or None
        NB2 dispersion θ (``Var = μ + μ²/θ``); None for Poisson.
    n_rows : int
        Person-window rows fitted.
    n_clusters : tuple of int
    cluster : tuple of str
    excluded : DataFrame
        Rows set aside (``reason, n``).
    """

    outcome: str
    family: str
    pre: str
    post: str
    coef: np.ndarray
    vcov: np.ndarray
    theta: float | None
    n_rows: int
    n_clusters: tuple[int, ...]
    cluster: tuple[str, ...]
    excluded: pd.DataFrame
    vcov_type: str = "vcovCL(type='HC0'), G/(G-1), clustered"

    @property
    def log_estimate(self) -> float:
        return float(self.coef[3])

    @property
    def se(self) -> float:
        """Standard error of ``log_estimate``."""
        return float(np.sqrt(self.vcov[3, 3]))

    @property
    def estimate(self) -> float:
        """Ratio of rate ratios ``exp(β3)``."""
        return float(np.exp(self.coef[3]))

    @property
    def pvalue(self) -> float:
        return float(2 * stats.norm.sf(abs(self.log_estimate / self.se)))

    def conf_int(self, alpha: float = 0.05) -> tuple[float, float]:
        """``exp(β3 ± z · se)``."""
        z = stats.norm.ppf(1 - alpha / 2)
        return (
            float(np.exp(self.log_estimate - z * self.se)),
            float(np.exp(self.log_estimate + z * self.se)),
        )

    @property
    def coefficients(self) -> pd.DataFrame:
        se = np.sqrt(np.diag(self.vcov))
        return pd.DataFrame(
            {
                "term": TERMS,
                "coef": self.coef,
                "se": se,
                "pvalue": 2 * stats.norm.sf(np.abs(self.coef / se)),
            }
        )

    @property
    def table(self) -> pd.DataFrame:
        lo, hi = self.conf_int()
        return pd.DataFrame(
            [
                {
                    "outcome": self.outcome,
                    "model": self.family,
                    "ratio_of_rate_ratios": self.estimate,
                    "ci_low": lo,
                    "ci_high": hi,
                    "pvalue": self.pvalue,
                    "theta": self.theta,
                    "n_rows": self.n_rows,
                    "n_clusters": "/".join(map(str, self.n_clusters)),
                    "cluster": "+".join(self.cluster),
                    "vcov": self.vcov_type,
                }
            ]
        )

    def _repr_html_(self) -> str:
        return self.table.to_html(index=False)


def _irls(
    y: np.ndarray,
    X: np.ndarray,
    offset: np.ndarray,
    w: np.ndarray,
    theta: float | None,
    beta: np.ndarray | None = None,
) -> np.ndarray:
    """Weighted GLM (log link, Poisson or NB2 at fixed θ) by iteratively reweighted least squares."""
    if beta is None:
        mu = y + 0.1
        eta = np.log(mu)
    else:
        eta = X @ beta + offset
        mu = np.exp(eta)
    for _ in range(100):
        var_factor = 1.0 if theta is None else 1.0 + mu / theta
        wk = w * mu / var_factor
        z = eta - offset + (y - mu) / mu
        new = np.linalg.solve(X.T @ (wk[:, None] * X), X.T @ (wk * z))
        if beta is not None and np.max(np.abs(new - beta)) < 1e-11 * (1 + np.max(np.abs(beta))):
            return new
        beta = new
        eta = X @ beta + offset
        mu = np.exp(eta)
    raise DataError(
        "the count model did not converge in 100 IRLS iterations (separation or all-zero group?)"
    )


def _theta_ml(y: np.ndarray, mu: np.ndarray, w: np.ndarray) -> float:
    """Weighted ML of θ given μ (``MASS::theta.ml``), solved on log θ."""

    def score(log_t: float) -> float:
        t = np.exp(log_t)
        return float(
            np.sum(
                w
                * (
                    special.digamma(y + t)
                    - special.digamma(t)
                    + np.log(t)
                    + 1
                    - np.log(t + mu)
                    - (y + t) / (t + mu)
                )
            )
        )

    lo, hi = -15.0, 15.0
    if score(hi) > 0:  # no overdispersion: θ → ∞
        return float(np.exp(hi))
    return float(np.exp(optimize.brentq(score, lo, hi, xtol=1e-14, rtol=1e-14)))


def fit_count_model(
    y: np.ndarray,
    X: np.ndarray,
    offset: np.ndarray,
    w: np.ndarray,
    family: Literal["poisson", "negbin"],
) -> tuple[np.ndarray, float | None, np.ndarray, np.ndarray]:
    """Fit the weighted count model; return ``coef, theta, scores, bread`` for the sandwich."""
    beta = _irls(y, X, offset, w, None)
    theta: float | None = None
    if family == "negbin":
        for _ in range(200):
            mu = np.exp(X @ beta + offset)
            new_theta = _theta_ml(y, mu, w)
            beta = _irls(y, X, offset, w, new_theta, beta)
            if theta is not None and abs(new_theta - theta) < 1e-10 * (1 + theta):
                theta = new_theta
                break
            theta = new_theta
    mu = np.exp(X @ beta + offset)
    var_factor = 1.0 if theta is None else 1.0 + mu / theta
    scores = (w * (y - mu) / var_factor)[:, None] * X
    bread = np.linalg.inv(X.T @ ((w * mu / var_factor)[:, None] * X))
    return beta, theta, scores, bread


def did_rate(
    windows: pd.DataFrame,
    match: Any,
    outcome: str,
    family: str = "poisson",
    pre: str = "pre",
    post: str = "post",
) -> RateRatioResult:
    """Ratio of rate ratios of a count outcome between participants and references.

    Parameters
    ----------
    windows : DataFrame
        :func:`kureval.register_windows` output.
    match : MatchResult or DataFrame
        Matched sets (``id, treat, set_id, weight``).
    outcome : str
        A count outcome, e.g. ``"visits_primary_care"``, ``"inpatient_psychiatry_days"``.
    family : {"poisson", "negbin"}
    pre, post : str
        Window names.

    Returns
    -------
    RateRatioResult
        ``estimate`` = exp(β_treat:post) with cluster-robust CI (see module notes).
        Exclusions as in :func:`kureval.register.compare.did`.
    """
    if family not in ("poisson", "negbin"):
        raise ConfigError(f"family must be 'poisson' or 'negbin', not {family!r}")
    matched = matched_frame(match)[["id", "set_id", "treat", "weight"]]
    data = matched.merge(
        _wide(windows, outcome, pre, post), on=["id", "set_id"], how="left", validate="one_to_one"
    )
    data, excluded = _restrict(data)
    y = np.concatenate([data["y_pre"], data["y_post"]]).astype(float)
    if (y < 0).any() or not np.allclose(y, np.round(y)):
        raise DataError(
            f"{outcome!r} is not a count (non-negative whole numbers); use kv.did for it"
        )
    treat = np.tile(data["treat"].to_numpy(dtype=float), 2)
    is_post = np.repeat([0.0, 1.0], len(data))
    X = np.column_stack([np.ones_like(y), treat, is_post, treat * is_post])
    offset = np.log(np.concatenate([data["exp_pre"], data["exp_post"]]).astype(float))
    w = np.tile(data["weight"].to_numpy(dtype=float), 2)
    beta, theta, scores, bread = fit_count_model(y, X, offset, w, family)  # type: ignore[arg-type]
    names = _clusters(data, ("set_id",), "id")
    clusters = [np.tile(data[c].to_numpy(), 2) for c in names]
    vcov = cluster_vcov(scores, bread, clusters, type="HC0")
    return RateRatioResult(
        outcome=outcome,
        family=family,
        pre=pre,
        post=post,
        coef=beta,
        vcov=vcov,
        theta=theta,
        n_rows=len(y),
        n_clusters=tuple(int(data[c].nunique()) for c in names),
        cluster=names,
        excluded=pd.DataFrame(excluded),
    )
