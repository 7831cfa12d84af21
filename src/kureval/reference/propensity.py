"""Propensity scores for matching: logistic regression on dummy-coded covariates.

The model is the one R's ``glm(treat ~ covariates, family = binomial)`` fits and
MatchIt uses for ``distance = "glm"``: a logistic regression with an intercept,
numeric covariates entered as they are and each categorical covariate as
treatment-coded dummies (first level, in sorted order, as reference).  It is
fitted by maximum likelihood with Newton-Raphson (for the logistic model the
same iterations as R's IRLS), written in numpy so that a register of 10⁶
persons fits in about a second; the fitted values agree with R's ``glm()`` to
within its convergence tolerance (about 1e-8 on the Lalonde fixtures) and with
statsmodels ``Logit`` (tests/test_match.py).

The score is returned on one of two scales:

``"probability"``
    the fitted probability of being a participant (MatchIt's default,
    ``link = "logit"``);
``"logit"``
    the linear predictor, log(p / (1 − p)) (MatchIt's ``link = "linear.logit"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kureval.errors import ConfigError, DataError, Problem

__all__ = ["PropensityFit", "design_matrix", "fit_propensity", "is_categorical"]

LINKS = ("probability", "logit")


def is_categorical(s: pd.Series) -> bool:
    """Whether a covariate is treated as categorical (dummy-coded): text, category or bool."""
    return bool(
        isinstance(s.dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(s.dtype)
        or pd.api.types.is_string_dtype(s.dtype)
        or pd.api.types.is_bool_dtype(s.dtype)
    )


def _levels(s: pd.Series) -> list:
    if isinstance(s.dtype, pd.CategoricalDtype):
        return [lv for lv in s.cat.categories if (s == lv).any()]
    return sorted(s.dropna().unique().tolist(), key=str)


def design_matrix(
    data: pd.DataFrame, covariates: Sequence[str], *, drop_first: bool
) -> pd.DataFrame:
    """Numeric design matrix: numeric columns as they are, categoricals as 0/1 dummies.

    Dummy columns are named ``<variable>_<level>``; with ``drop_first`` the first
    level (sorted order, or category order) is left out (treatment coding, for
    model fitting); without, every level gets a column (for balance tables, as
    MatchIt's ``summary()`` shows them).
    """
    cols: dict[str, np.ndarray] = {}
    for name in covariates:
        s = data[name]
        if is_categorical(s):
            levels = _levels(s)
            for lv in levels[1:] if drop_first else levels:
                cols[f"{name}_{lv}"] = (s == lv).to_numpy(dtype=float)
        else:
            cols[name] = pd.to_numeric(s).to_numpy(dtype=float)
    return pd.DataFrame(cols, index=data.index)


@dataclass(frozen=True)
class PropensityFit:
    """A fitted propensity model.

    Attributes
    ----------
    params : pandas.Series
        Coefficients on the logit scale (``const`` first).
    probability : numpy.ndarray
        Fitted probability of treatment, one per row of the data.
    linear_predictor : numpy.ndarray
        The same on the logit scale.
    n_iter : int
        Newton-Raphson iterations used.
    """

    params: pd.Series
    probability: np.ndarray
    linear_predictor: np.ndarray
    n_iter: int

    def distance(self, link: str) -> np.ndarray:
        """The score on ``link`` ("probability" or "logit")."""
        return self.probability if link == "probability" else self.linear_predictor


def _constant(s: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        v = s.to_numpy(dtype=float)
        return bool(v.size == 0 or np.nanmin(v) == np.nanmax(v))
    return bool(s.nunique() < 2)


def _check_covariates(data: pd.DataFrame, covariates: Sequence[str]) -> None:
    problems = []
    for name in covariates:
        s = data[name]
        n_missing = int(s.isna().sum())
        if n_missing:
            problems.append(
                Problem(
                    None,
                    None,
                    name,
                    None,
                    f"no missing values in a propensity covariate ({n_missing} missing)",
                )
            )
        elif _constant(s):
            problems.append(
                Problem(
                    None,
                    None,
                    name,
                    s.iloc[0] if len(s) else None,
                    "a covariate that varies (it has one value for everybody; drop it "
                    "from the covariates)",
                )
            )
    if problems:
        raise DataError(problems, title="the propensity covariates cannot be used")


_BLOCK = 1 << 20  # rows per block of the weighted cross-product


def _weighted_gram(xf: np.ndarray, w: np.ndarray, buf: np.ndarray) -> np.ndarray:
    """X' diag(w) X, summed over blocks of ``len(buf)`` rows (one block when n ≤ 2²⁰, the
    same single product as before; larger designs need no n × k temporary)."""
    n, block = len(xf), len(buf)
    if n == block:
        np.multiply(xf, w[:, None], out=buf)
        return xf.T @ buf
    gram = np.zeros((xf.shape[1], xf.shape[1]))
    for i in range(0, n, block):
        xb = xf[i : i + block]
        wb = buf[: len(xb)]
        np.multiply(xb, w[i : i + block, None], out=wb)
        gram += xb.T @ wb
    return gram


def _newton(
    x: np.ndarray, y: np.ndarray, tol: float = 1e-10, maxiter: int = 100
) -> tuple[np.ndarray, int, bool]:
    """Maximum-likelihood logistic regression by Newton-Raphson (= IRLS for the logit link).

    Starts at the intercept-only fit; stops when the relative change in
    deviance is below ``tol`` (R's ``glm`` rule, with a tighter tolerance).
    """
    xf = np.asfortranarray(x)
    n = xf.shape[0]
    block = min(n, _BLOCK)
    buf = np.empty((block, xf.shape[1]), order="F")  # one block of w·X, not all n rows
    p, w, r = np.empty(n), np.empty(n), np.empty(n)  # reused: no fresh pages per iteration
    sign = np.where(y > 0.5, -1.0, 1.0)
    beta = np.zeros(x.shape[1])
    ybar = float(np.clip(y.mean(), 1e-12, 1 - 1e-12))
    beta[0] = np.log(ybar / (1 - ybar))
    eta = xf @ beta
    dev_old = np.inf
    for it in range(1, maxiter + 1):
        np.negative(eta, out=p)  # p = 1 / (1 + exp(−eta))
        np.exp(p, out=p)
        p += 1.0
        np.reciprocal(p, out=p)
        np.subtract(1.0, p, out=w)  # w = p (1 − p)
        w *= p
        np.subtract(y, p, out=r)
        try:
            step = np.linalg.solve(_weighted_gram(xf, w, buf), xf.T @ r)
        except np.linalg.LinAlgError:
            return beta, maxiter, False
        beta = beta + step
        np.matmul(xf, beta, out=eta)
        # binomial deviance, computed stably: 2 Σ log(1 + exp(−s·eta)), s = ±1
        np.multiply(eta, sign, out=r)
        np.logaddexp(0.0, r, out=r)
        dev = 2.0 * float(np.sum(r))
        if not np.isfinite(dev):
            return beta, it, False
        if abs(dev - dev_old) / (abs(dev) + 0.1) < tol:
            return beta, it, True
        dev_old = dev
    return beta, maxiter, False


def fit_propensity(
    data: pd.DataFrame, treat: str | np.ndarray, covariates: Sequence[str]
) -> PropensityFit:
    """Fit the logistic propensity model of ``treat`` on ``covariates``.

    Raises
    ------
    DataError
        A covariate is missing or constant, the model separates the groups
        (some fitted probabilities are 0 or 1), or the fit does not converge.
    """
    if not covariates:
        raise ConfigError("distance='glm' needs at least one covariate")
    y = np.asarray(data[treat] if isinstance(treat, str) else treat, dtype=float)
    _check_covariates(data, covariates)
    x = design_matrix(data, covariates, drop_first=True)
    names = ["const", *x.columns]
    xm = np.empty((len(x), len(names)), order="F")  # the layout _newton works in: no copy
    xm[:, 0] = 1.0
    for j, c in enumerate(x.columns, start=1):
        xm[:, j] = x[c].to_numpy(dtype=float)
    del x
    _check_rank(xm, names, covariates)
    beta, n_iter, converged = _newton(xm, y)
    # row by row (not BLAS gemv), so persons with identical covariates get bit-identical
    # scores and ties stay ties, as in R; in blocks, to bound the temporary
    lin = np.empty(len(xm))
    step = 1 << 20
    for i in range(0, len(xm), step):
        lin[i : i + step] = (xm[i : i + step] * beta).sum(axis=1)
    prob = 1.0 / (1.0 + np.exp(-lin))
    problems = []
    extreme = np.abs(lin) > 30
    if extreme.any() or (not converged and n_iter > 25):
        problems.append(
            Problem(
                None,
                None,
                ", ".join(covariates),
                None,
                "covariates that do not separate participants from candidates perfectly "
                f"({int(extreme.sum())} persons have a fitted probability of 0 or 1; use such a "
                "variable as an exact-matching variable instead)",
            )
        )
    elif not converged:
        problems.append(
            Problem(
                None,
                None,
                ", ".join(covariates),
                None,
                "a propensity model that converges (Newton-Raphson did not converge)",
            )
        )
    if problems:
        raise DataError(problems, title="the propensity model is not usable")
    return PropensityFit(
        params=pd.Series(beta, index=names),
        probability=prob,
        linear_predictor=lin,
        n_iter=n_iter,
    )


def _check_rank(x: np.ndarray, names: list[str], covariates: Sequence[str]) -> None:
    """Refuse a design whose columns are (nearly) linearly dependent (correlation eigenvalues)."""
    n = x.shape[0]
    gram = np.asfortranarray(x).T @ x
    mean = gram[0, 1:] / n
    cov = gram[1:, 1:] / n - np.outer(mean, mean)
    sd = np.sqrt(np.clip(np.diag(cov), 0, None))
    corr = cov / np.outer(np.where(sd > 0, sd, 1.0), np.where(sd > 0, sd, 1.0))
    eig = np.linalg.eigvalsh(corr) if corr.size else np.ones(1)
    if eig.min() < 1e-10 or (sd <= 0).any():
        raise DataError(
            Problem(
                None,
                None,
                ", ".join(covariates),
                None,
                "covariates that are not linear combinations of each other (design columns "
                f"{', '.join(names)} are collinear)",
            ),
            title="the propensity model cannot be fitted",
        )
