"""Outcome comparison on matched data: ATT and difference in differences.

:func:`att` is the estimator underneath everything here: the weighted
least-squares regression ``y ~ treat`` with the matching weights, whose
``treat`` coefficient is the weighted mean of the participants minus the
weighted mean of their references, and a covariance clustered on the matched
set (CR1, ``sandwich::vcovCL(type = "HC1")``; see
:mod:`kureval.register.sandwich`).  :func:`did` is :func:`att` applied to the
change score ``post − pre`` of a windowed register outcome
(:func:`kureval.register.windows.register_windows`).

This follows the MatchIt "Estimating effects after matching" vignette (Greifer
2023) and reproduces ``lm(y ~ treat, weights = weights)`` +
``lmtest::coeftest(vcov. = vcovCL, cluster = ~subclass, type = "HC1")``
to 1e-6 on MatchIt's Lalonde matchings (``tests/results/register/``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from kureval.errors import ConfigError, DataError, Problem
from kureval.register.sandwich import cluster_vcov

__all__ = ["DidResult", "EffectResult", "att", "did", "matched_frame", "weighted_mean"]

VCOV_LABEL = "CR1: vcovCL(type='HC1'), G/(G-1)·(n-1)/(n-k)"


@dataclass(frozen=True)
class EffectResult:
    """Average effect in the treated (participants) from matched data.

    Attributes
    ----------
    outcome : str
        Outcome column analysed.
    estimate : float
        Weighted mean of participants minus weighted mean of references
        (participant − reference, signed).
    se : float
        Cluster-robust standard error (see ``vcov_type``, ``cluster``).
    df : int
        Residual degrees of freedom ``n − 2`` used for the t reference
        distribution (as ``lmtest::coeftest`` on an ``lm``).
    mean_treated, mean_control : float
        Weighted means per group.
    n_treated, n_control : int
        Rows per group (a reference reused in several sets counts once per set).
    n_clusters : tuple of int
        Number of clusters per clustering variable.
    cluster : tuple of str
        Clustering variables (two when references are reused: set and person).
    vcov_type : str
        The covariance variant.
    """

    outcome: str
    estimate: float
    se: float
    df: int
    mean_treated: float
    mean_control: float
    n_treated: int
    n_control: int
    n_clusters: tuple[int, ...]
    cluster: tuple[str, ...]
    vcov_type: str = VCOV_LABEL

    @property
    def statistic(self) -> float:
        """t statistic ``estimate / se``."""
        return self.estimate / self.se

    @property
    def pvalue(self) -> float:
        """Two-sided p-value from the t distribution with ``df`` degrees of freedom."""
        return float(2 * stats.t.sf(abs(self.statistic), self.df))

    def conf_int(self, alpha: float = 0.05) -> tuple[float, float]:
        """``estimate ± t(1 − alpha/2, df) · se``."""
        q = stats.t.ppf(1 - alpha / 2, self.df)
        return (self.estimate - q * self.se, self.estimate + q * self.se)

    @property
    def table(self) -> pd.DataFrame:
        """One row: outcome, means, estimate, se, CI, p, n and clustering."""
        lo, hi = self.conf_int()
        return pd.DataFrame(
            [
                {
                    "outcome": self.outcome,
                    "mean_treated": self.mean_treated,
                    "mean_control": self.mean_control,
                    "estimate": self.estimate,
                    "se": self.se,
                    "ci_low": lo,
                    "ci_high": hi,
                    "pvalue": self.pvalue,
                    "df": self.df,
                    "n_treated": self.n_treated,
                    "n_control": self.n_control,
                    "n_clusters": "/".join(map(str, self.n_clusters)),
                    "cluster": "+".join(self.cluster),
                    "vcov": self.vcov_type,
                }
            ]
        )

    def _repr_html_(self) -> str:
        return self.table.to_html(index=False)


def _check_columns(data: pd.DataFrame, columns: Sequence[str], what: str) -> list[Problem]:
    problems = []
    for col in columns:
        if col not in data.columns:
            problems.append(Problem(what, None, col, None, "a column of that name"))
        elif data[col].isna().any():
            rows = np.flatnonzero(data[col].isna().to_numpy())
            problems.append(
                Problem(
                    what,
                    None,
                    col,
                    f"{len(rows)} missing (first row index {rows[0]})",
                    "no missing values",
                )
            )
    return problems


def _clusters(
    data: pd.DataFrame, cluster: str | Sequence[str], person: str | None
) -> tuple[str, ...]:
    names = (cluster,) if isinstance(cluster, str) else tuple(cluster)
    if person is None or person in names or person not in data.columns:
        return names
    reused = data.groupby(person, sort=False)[names[0]].nunique()
    return (*names, person) if bool((reused > 1).any()) else names


def att(
    matched: pd.DataFrame,
    outcome: str,
    treat: str = "treat",
    weight: str = "weight",
    cluster: str | Sequence[str] = "set_id",
    person: str | None = "id",
) -> EffectResult:
    """ATT from matched data: WLS of ``outcome`` on ``treat`` with matching weights.

    Parameters
    ----------
    matched : DataFrame
        One row per person in a matched set (``MatchResult.matched`` or
        MatchIt's ``match.data()``/``get_matches()``) with the outcome added.
    outcome, treat, weight : str
        Columns: the outcome, the 0/1 participant indicator, the matching weight (> 0).
    cluster : str or sequence of str
        Matched-set column(s) to cluster on.
    person : str or None
        Person id column.  When a person occurs in more than one matched set
        (matching with replacement), the covariance is clustered on the set
        **and** on the person (two-way, inclusion–exclusion as
        ``vcovCL(cluster = ~ set + id)``), so the reuse of references is
        accounted for; ``.cluster`` reports what was used.  ``None`` disables this.

    Returns
    -------
    EffectResult

    Notes
    -----
    Point estimate: ``Σ_T w y / Σ_T w − Σ_C w y / Σ_C w``.  Covariance: CR1
    (``G/(G−1)·(n−1)/(n−k)``, k = 2), the default ``type = "HC1"`` of
    ``sandwich::vcovCL`` for ``lm`` and the default of statsmodels'
    ``cov_type="cluster"``; multiway clusters get ``G_c/(G_c−1)`` per
    dimension.  Inference uses the t distribution with ``n − 2`` degrees of
    freedom, as ``lmtest::coeftest`` does for an ``lm`` fit (Stata would use
    ``G − 1``; with hundreds of matched sets the difference is negligible).
    Matching weights are not inverse-variance weights: the model-based WLS
    covariance would be wrong, which is why only the sandwich is offered.

    References
    ----------
    Greifer N, Stuart EA (2023). Estimating effects after matching. MatchIt
    vignette.  Zeileis A, Köll S, Graham N (2020). *J Stat Softw* 95(1).
    doi:10.18637/jss.v095.i01
    """
    names = (cluster,) if isinstance(cluster, str) else tuple(cluster)
    problems = _check_columns(matched, [outcome, treat, weight, *names], "matched data")
    if not problems:
        t_val = matched[treat]
        if not t_val.isin([0, 1]).all():
            problems.append(
                Problem("matched data", None, treat, sorted(set(t_val) - {0, 1})[:5], "0 or 1")
            )
        elif t_val.nunique() < 2:
            problems.append(
                Problem("matched data", None, treat, int(t_val.iloc[0]), "both 0 and 1 present")
            )
        if (matched[weight] <= 0).any():
            problems.append(
                Problem("matched data", None, weight, float(matched[weight].min()), "weights > 0")
            )
        if not pd.api.types.is_numeric_dtype(matched[outcome]):
            problems.append(
                Problem(
                    "matched data", None, outcome, str(matched[outcome].dtype), "a numeric outcome"
                )
            )
    if problems:
        raise DataError(problems, title=f"cannot estimate the effect on {outcome!r}")
    names = _clusters(matched, names, person)
    y = matched[outcome].to_numpy(dtype=float)
    d = matched[treat].to_numpy(dtype=float)
    w = matched[weight].to_numpy(dtype=float)
    X = np.column_stack([np.ones_like(d), d])
    n_clusters = tuple(int(matched[c].nunique()) for c in names)
    if min(n_clusters) < 2:
        raise DataError(
            Problem(
                "matched data",
                None,
                ", ".join(names),
                min(n_clusters),
                "at least two matched sets to compute cluster-robust standard errors",
            ),
            title=f"cannot estimate the effect on {outcome!r}",
        )
    beta, vcov = wls_cluster(y, X, w, [matched[c].to_numpy() for c in names])
    return EffectResult(
        outcome=outcome,
        estimate=float(beta[1]),
        se=float(np.sqrt(vcov[1, 1])),
        df=len(y) - 2,
        mean_treated=float(beta[0] + beta[1]),
        mean_control=float(beta[0]),
        n_treated=int((d == 1).sum()),
        n_control=int((d == 0).sum()),
        n_clusters=n_clusters,
        cluster=names,
    )


def wls_cluster(
    y: np.ndarray, X: np.ndarray, w: np.ndarray, clusters: Sequence[np.ndarray], type: str = "HC1"
) -> tuple[np.ndarray, np.ndarray]:
    """WLS coefficients and their cluster-robust covariance (``vcovCL`` on ``lm(weights = w)``)."""
    xtwx = X.T @ (w[:, None] * X)
    bread = np.linalg.inv(xtwx)
    beta = bread @ (X.T @ (w * y))
    resid = y - X @ beta
    scores = (w * resid)[:, None] * X
    return beta, cluster_vcov(scores, bread, clusters, type="HC1" if type == "HC1" else "HC0")


def weighted_mean(
    data: pd.DataFrame, outcome: str, weight: str, cluster: Sequence[str], alpha: float = 0.05
) -> dict[str, float]:
    """Weighted mean with a CR1 cluster-robust CI (intercept-only WLS; t with n − 1 df)."""
    y = data[outcome].to_numpy(dtype=float)
    X = np.ones((len(y), 1))
    clusters = [data[c].to_numpy() for c in cluster]
    if len(y) < 2 or min(data[c].nunique() for c in cluster) < 2:
        return {
            "mean": float(np.average(y, weights=data[weight])) if len(y) else np.nan,
            "se": np.nan,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "n": len(y),
        }
    beta, vcov = wls_cluster(y, X, data[weight].to_numpy(dtype=float), clusters)
    se = float(np.sqrt(vcov[0, 0]))
    q = stats.t.ppf(1 - alpha / 2, len(y) - 1)
    return {
        "mean": float(beta[0]),
        "se": se,
        "ci_low": float(beta[0] - q * se),
        "ci_high": float(beta[0] + q * se),
        "n": len(y),
    }


def matched_frame(match: Any) -> pd.DataFrame:
    """``match.matched`` (or a DataFrame) checked for the matched-data contract columns."""
    frame = match.matched if hasattr(match, "matched") else match
    if not isinstance(frame, pd.DataFrame):
        raise ConfigError(f"match must be a MatchResult or a DataFrame, not {type(frame).__name__}")
    problems = _check_columns(frame, ["id", "treat", "set_id", "weight"], "matched sets")
    if problems:
        raise DataError(problems, title="the matched sets lack required columns")
    return frame


@dataclass(frozen=True)
class DidResult:
    """Difference in differences of a windowed register outcome on matched sets.

    Attributes
    ----------
    outcome, pre, post : str
        Outcome and the two windows compared.
    effect : EffectResult
        :func:`att` of the change ``post − pre``: (mean change in participants)
        − (weighted mean change in their references).
    means : DataFrame
        Weighted mean per window and group with cluster-robust 95 % CI
        (``window, group, mean, se, ci_low, ci_high, n``).
    excluded : DataFrame
        Rows set aside (``reason, n``): persons without exposure in a window and
        matched sets left without a participant or without a reference.
    scale : str
        ``"count"`` (outcome per window) or ``"per_year"`` (× 365.25 / exposure days).
    """

    outcome: str
    pre: str
    post: str
    effect: EffectResult
    means: pd.DataFrame
    excluded: pd.DataFrame
    scale: str = "count"

    @property
    def estimate(self) -> float:
        return self.effect.estimate

    @property
    def se(self) -> float:
        return self.effect.se

    @property
    def pvalue(self) -> float:
        return self.effect.pvalue

    def conf_int(self, alpha: float = 0.05) -> tuple[float, float]:
        return self.effect.conf_int(alpha)

    @property
    def table(self) -> pd.DataFrame:
        """Means per window and group, then the DiD row (``group == "did"``)."""
        lo, hi = self.conf_int()
        did_row = pd.DataFrame(
            [
                {
                    "window": f"{self.post}-{self.pre}",
                    "group": "did",
                    "mean": self.estimate,
                    "se": self.se,
                    "ci_low": lo,
                    "ci_high": hi,
                    "n": self.effect.n_treated + self.effect.n_control,
                    "pvalue": self.pvalue,
                }
            ]
        )
        out = pd.concat([self.means.assign(pvalue=np.nan), did_row], ignore_index=True)
        return out.assign(outcome=self.outcome)

    def _repr_html_(self) -> str:
        return f"<p>DiD {self.outcome} ({self.effect.vcov_type})</p>" + self.table.to_html(
            index=False
        )


def _wide(windows: pd.DataFrame, outcome: str, pre: str, post: str) -> pd.DataFrame:
    problems = _check_columns(windows, ["id", "set_id", "window", "exposure_days"], "windows")
    if outcome not in windows.columns:
        known = [c for c in windows.columns if c.startswith(("visits_", "ddd_", "any_"))]
        problems.append(
            Problem(
                "windows",
                None,
                outcome,
                outcome,
                f"an outcome of register_windows, e.g. {', '.join(known[:6])}",
            )
        )
    for name in (pre, post):
        if "window" in windows.columns and name not in set(windows["window"]):
            problems.append(
                Problem("windows", None, "window", name, f"one of {sorted(set(windows['window']))}")
            )
    if problems:
        raise DataError(problems, title=f"cannot compare {outcome!r} between windows")
    sub = windows.loc[
        windows["window"].isin([pre, post]), ["id", "set_id", "window", "exposure_days", outcome]
    ]
    wide = sub.pivot(index=["id", "set_id"], columns="window", values=[outcome, "exposure_days"])
    wide.columns = [
        f"{'y' if col[0] == outcome else 'exp'}_{'pre' if col[1] == pre else 'post'}"
        for col in wide.columns
    ]
    return wide.reset_index()


def _restrict(data: pd.DataFrame) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Drop rows without exposure, then sets left one-sided; rescale reference weights."""
    excluded: list[dict[str, Any]] = []
    refs_before = data[data["treat"] == 0].groupby("set_id").size()
    for label, col in (
        ("no exposure in pre window", "exp_pre"),
        ("no exposure in post window", "exp_post"),
    ):
        bad = data[col].isna() | (data[col] <= 0)
        excluded.append({"reason": label, "n": int(bad.sum())})
        data = data[~bad]
    groups = data.groupby("set_id")["treat"].agg(["min", "max"])
    one_sided = groups.index[groups["min"] == groups["max"]]
    lost = data["set_id"].isin(one_sided)
    excluded.append(
        {"reason": "matched set left without participant or reference", "n": int(lost.sum())}
    )
    data = data[~lost].copy()
    refs_after = data[data["treat"] == 0].groupby("set_id").size()
    factor = (refs_before / refs_after).reindex(data["set_id"]).to_numpy()
    is_ref = data["treat"].to_numpy() == 0
    data.loc[is_ref, "weight"] = data.loc[is_ref, "weight"].to_numpy() * factor[is_ref]
    return data, excluded


def did(
    windows: pd.DataFrame,
    match: Any,
    outcome: str,
    pre: str = "pre",
    post: str = "post",
    scale: str = "count",
) -> DidResult:
    """Difference in differences of a register outcome between participants and references.

    Parameters
    ----------
    windows : DataFrame
        :func:`kureval.register_windows` output (one row per matched person × window).
    match : MatchResult or DataFrame
        The matched sets (``id, treat, set_id, weight``).
    outcome : str
        For example ``"visits_primary_care"``, ``"sick_leave_net_days"``,
        ``"any_sick_leave"`` (DiD in the share, a linear probability model).
    pre, post : str
        Window names from ``study.toml``.
    scale : {"count", "per_year"}
        ``"count"``: the outcome in the window as is.  ``"per_year"``: the
        outcome × 365.25 / exposure days, for windows truncated by death,
        emigration or the end of the data.

    Returns
    -------
    DidResult
        ``estimate`` = mean(post − pre | participants) − weighted
        mean(post − pre | references), CI and p from :func:`att` of the change
        (CR1 clustered on matched set; with references reused, two-way on set
        and person).

    Notes
    -----
    Persons with zero exposure days in either window are excluded (counted in
    ``.excluded``); a matched set left without its participant or without any
    reference is dropped, and the weights of the remaining references of a
    set are rescaled by ``m_before / m_after`` so that each participant's
    references keep their total weight.
    """
    if scale not in ("count", "per_year"):
        raise ConfigError(f"scale must be 'count' or 'per_year', not {scale!r}")
    matched = matched_frame(match)[["id", "set_id", "treat", "weight"]]
    wide = _wide(windows, outcome, pre, post)
    data = matched.merge(wide, on=["id", "set_id"], how="left", validate="one_to_one")
    data, excluded = _restrict(data)
    if scale == "per_year":
        for part in ("pre", "post"):
            data[f"y_{part}"] = data[f"y_{part}"] * 365.25 / data[f"exp_{part}"]
    data["change"] = data["y_post"] - data["y_pre"]
    effect = att(data, "change")
    means = []
    for window, part in ((pre, "pre"), (post, "post")):
        for group, code in (("participants", 1), ("references", 0)):
            sub = data[data["treat"] == code]
            row = weighted_mean(sub, f"y_{part}", "weight", effect.cluster)
            means.append({"window": window, "group": group, **row})
    return DidResult(
        outcome=outcome,
        pre=pre,
        post=post,
        effect=effect,
        means=pd.DataFrame(means),
        excluded=pd.DataFrame(excluded),
        scale=scale,
    )
