"""All time points: linear mixed model per scale, completers, and attrition.

For each scale, ``score ~ C(timepoint) + (1 | person)`` is fitted by REML
(random intercept per person, time as a categorical fixed effect, reference =
first time point), by default with statsmodels ``MixedLM(reml=True)``; for
register-sized data ``engine="kureval"`` gives the same fit in closed form
about 150 times faster (see :func:`fit_random_intercept`). Every available
score enters, so the estimates are valid under missing at random given the
observed scores of the same person (Laird & Ware 1982), unlike the completers'
means shown beside them.

* Estimated means per time point: ``L β`` with SE √(L C Lᵀ), where
  ``C = (Xᵀ V̂⁻¹ X)⁻¹`` is the covariance of the fixed effects given the
  REML variance components, as ``lme4::lmer``/``vcov`` and ``nlme`` report
  it (statsmodels' own ``bse_fe`` inverts the joint information matrix of
  fixed effects and variance parameters and differs in the 4th decimal). CIs and
  p-values are Wald *z* (normal), as statsmodels; no small-sample df.
* Contrasts: each time point minus the first, with the same SE and CI.
* Completers: persons with a score at **every** analysed time point (at
  which the scale has any score); observed mean, SD (n − 1) and t-based CI
  per time point.
* Attrition: at each later time point, persons with a baseline score are
  *retained* (score there) or *lost* (none). Baseline score and the
  participant characteristics are compared by the standardised difference
  (retained − lost)/√((s²_retained + s²_lost)/2) — the pooled SD of the two
  groups, as neither group is a reference; for a category the proportions
  p give s² = p(1 − p) (Austin 2009, doi:10.1080/03610910902859574).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from kureval.errors import ConfigError, Problem
from kureval.selfrating._common import attach_by, check_scores, check_timepoints, select_scales

__all__ = ["LongitudinalResult", "fit_random_intercept", "longitudinal", "standardised_difference"]


@dataclass(frozen=True, eq=False)
class LongitudinalResult:
    """Result of :func:`longitudinal`, full precision.

    Attributes
    ----------
    means : DataFrame
        ``scale, timepoint, estimate, se, ci_low, ci_high, n_obs`` (model),
        ``n_completers, mean_completers, sd_completers, ci_low_completers,
        ci_high_completers``.
    contrasts : DataFrame
        ``scale, timepoint, vs, estimate, se, ci_low, ci_high, z, p``.
    attrition : DataFrame
        ``scale, timepoint, variable, level, n_retained, n_lost,
        k_retained, k_lost`` (persons with the level, categories only),
        ``mean_retained, sd_retained, mean_lost, sd_lost`` (for a category:
        the share with the level), ``std_diff``.
    models : DataFrame
        ``scale, n_persons, n_obs, n_missing_score, var_person,
        var_residual, reml_loglik, converged, warnings``.
    engine : str
        The REML fitter used: ``"kureval"`` (closed form) or ``"statsmodels"``.
    timepoints : tuple of str
    confidence : float
    """

    means: pd.DataFrame
    contrasts: pd.DataFrame
    attrition: pd.DataFrame
    models: pd.DataFrame
    timepoints: tuple[str, ...]
    confidence: float
    engine: str = "statsmodels"

    @property
    def table(self) -> pd.DataFrame:
        """Model-based and completers' means per scale × time point."""
        return self.means

    def conf_int(self, what: str = "means") -> pd.DataFrame:
        """``low``/``high`` of the model means (``"means"``) or the contrasts (``"contrasts"``)."""
        if what not in ("means", "contrasts"):
            raise ConfigError(Problem(None, None, "what", what, "'means' or 'contrasts'"))
        df = self.means if what == "means" else self.contrasts
        return df[["scale", "timepoint", "estimate", "ci_low", "ci_high"]].rename(
            columns={"ci_low": "low", "ci_high": "high"}
        )

    def _repr_html_(self) -> str:
        return (
            "<p><b>Mixed model</b> (random intercept per person, time categorical, REML), "
            f"{self.confidence:.0%} Wald CIs</p>"
            + self.means.to_html(index=False, float_format=lambda v: f"{v:.4g}")
        )


def fit_random_intercept(
    y: np.ndarray, x: np.ndarray, groups: np.ndarray, engine: str = "statsmodels"
) -> dict[str, Any]:
    """REML fit of ``y = Xβ + u_group + e``, ``u ~ N(0, τ²)``, ``e ~ N(0, σ²)``.

    ``engine="statsmodels"`` (default) fits ``statsmodels`` ``MixedLM(reml=True)``
    and takes its variance components; ``engine="kureval"`` profiles σ² out and maximises the REML
    likelihood over λ = τ²/σ² in closed form per group (bounded Brent search
    on √λ), using the criterion of ``lme4`` (Bates et al. 2015, J Stat Softw
    67(1), eq. 42): Σ log(1 + n_i λ) + log|Xᵀ H⁻¹ X| + (N − p)(1 + log(2π
    rᵀH⁻¹r/(N − p))), with H = V/σ² (10,000 persons × 4 time points:
    0.07 s against 10.6 s for statsmodels on an idle 2-core machine). The
    tests check that both agree with lme4. With either engine the covariance
    of the fixed effects is σ̂²(XᵀH⁻¹X)⁻¹ given the REML variance components,
    as ``lme4`` reports it. Returns ``beta``, ``cov_beta`` (= σ̂²(XᵀH⁻¹X)⁻¹),
    ``var_person``, ``var_residual``, ``reml_loglik``, ``converged`` and
    ``warnings`` (text).
    """
    if engine == "statsmodels":
        return _fit_statsmodels(y, x, groups)
    if engine != "kureval":
        raise ConfigError(Problem(None, None, "engine", engine, "'kureval' or 'statsmodels'"))
    g = _GroupSums(y, x, groups)
    res = optimize.minimize_scalar(
        g.criterion, bounds=(0.0, 50.0), method="bounded", options={"xatol": 1e-10, "maxiter": 500}
    )
    theta = float(res.x)
    notes = []
    if theta > 49.9:
        notes.append("variance ratio at the search bound (50² × residual variance)")
    if g.criterion(0.0) <= res.fun:
        theta = 0.0
        notes.append("random-intercept variance estimated at 0 (boundary)")
    beta, a_inv, sigma2, crit = g.solve(theta)
    return {
        "beta": beta,
        "cov_beta": sigma2 * a_inv,
        "var_person": theta**2 * sigma2,
        "var_residual": sigma2,
        "reml_loglik": -crit / 2,
        "converged": bool(res.success),
        "warnings": "; ".join(notes),
    }


class _GroupSums:
    """Sufficient statistics of the random-intercept model, per group."""

    def __init__(self, y: np.ndarray, x: np.ndarray, groups: np.ndarray):
        codes = np.unique(groups, return_inverse=True)[1]
        self.n_i = np.bincount(codes).astype(float)
        self.s = np.column_stack([np.bincount(codes, weights=x[:, j]) for j in range(x.shape[1])])
        self.t = np.bincount(codes, weights=y)
        self.xtx, self.xty, self.yty = x.T @ x, x.T @ y, float(y @ y)
        self.n, self.p = y.size, x.shape[1]

    def solve(self, theta: float) -> tuple[np.ndarray, np.ndarray, float, float]:
        lam = theta * theta
        gamma = lam / (1.0 + self.n_i * lam)
        a = self.xtx - self.s.T @ (gamma[:, None] * self.s)
        b = self.xty - self.s.T @ (gamma * self.t)
        a_inv = np.linalg.inv(a)
        beta = a_inv @ b
        pwrss = self.yty - float(np.sum(gamma * self.t**2)) - float(b @ beta)
        dof = self.n - self.p
        sigma2 = pwrss / dof
        crit = (
            float(np.sum(np.log1p(self.n_i * lam)))
            + float(np.linalg.slogdet(a)[1])
            + dof * (1.0 + np.log(2.0 * np.pi * sigma2))
        )
        return beta, a_inv, sigma2, crit

    def criterion(self, theta: float) -> float:
        return self.solve(theta)[3]


def _fit_statsmodels(y: np.ndarray, x: np.ndarray, groups: np.ndarray) -> dict[str, Any]:
    import statsmodels.api as sm

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = sm.MixedLM(y, x, groups=groups).fit(reml=True)
    tau2 = float(np.asarray(fit.cov_re)[0, 0])
    sigma2 = float(fit.scale)
    g = _GroupSums(y, x, groups)
    a_inv = g.solve(np.sqrt(tau2 / sigma2))[1]
    return {
        "beta": np.asarray(fit.fe_params, dtype=float),
        "cov_beta": sigma2 * a_inv,
        "var_person": tau2,
        "var_residual": sigma2,
        "reml_loglik": float(fit.llf),
        "converged": bool(fit.converged),
        "warnings": "; ".join(sorted({str(w.message) for w in caught})),
    }


def standardised_difference(a: np.ndarray, b: np.ndarray, binary: bool = False) -> float:
    """(mean a − mean b)/√((s²_a + s²_b)/2); for 0/1 data s² = p(1 − p)."""
    if a.size == 0 or b.size == 0:
        return float("nan")
    if binary:
        pa, pb = a.mean(), b.mean()
        var = (pa * (1 - pa) + pb * (1 - pb)) / 2
        return float((pa - pb) / np.sqrt(var)) if var > 0 else float("nan")
    va = np.var(a, ddof=1) if a.size > 1 else np.nan
    vb = np.var(b, ddof=1) if b.size > 1 else np.nan
    s = np.sqrt((va + vb) / 2)
    return float((a.mean() - b.mean()) / s) if s > 0 else float("nan")


def _timepoints(scores: pd.DataFrame, timepoints: Sequence[str] | None) -> list[str]:
    if timepoints is not None:
        tps = [str(t) for t in timepoints]
        check_timepoints(scores, **{f"timepoints[{i}]": t for i, t in enumerate(tps)})
        return tps
    col = scores["timepoint"]
    if isinstance(col.dtype, pd.CategoricalDtype) and col.cat.ordered:
        present = set(col.dropna().astype(str))
        return [str(c) for c in col.cat.categories if str(c) in present]
    return [str(t) for t in pd.unique(col.dropna().astype(str))]


def _mean_row(
    scale: str, tp: str, k: int, beta: np.ndarray, cov: np.ndarray, n_obs: int, z: float
) -> dict:
    """Estimated mean at time point k = β₀ + β_k, Var = C₀₀ + C_kk + 2C₀k (k > 0)."""
    est = beta[0] + (beta[k] if k else 0.0)
    var = cov[0, 0] + (cov[k, k] + 2 * cov[0, k] if k else 0.0)
    se = float(np.sqrt(var))
    return {
        "scale": scale,
        "timepoint": tp,
        "estimate": float(est),
        "se": se,
        "ci_low": est - z * se,
        "ci_high": est + z * se,
        "n_obs": n_obs,
    }


def _contrast_row(scale: str, tp: str, ref: str, b: float, var: float, z: float) -> dict:
    s = float(np.sqrt(var))
    return {
        "scale": scale,
        "timepoint": tp,
        "vs": ref,
        "estimate": float(b),
        "se": s,
        "ci_low": b - z * s,
        "ci_high": b + z * s,
        "z": b / s,
        "p": float(2 * stats.norm.sf(abs(b / s))),
    }


def _model_rows(
    scale: str, d: pd.DataFrame, tps: list[str], z: float, engine: str
) -> tuple[list[dict], list[dict], dict]:
    """Means and contrasts of one scale; time points without any score get NaN rows."""
    all_codes = pd.Categorical(d["timepoint"], categories=tps).codes
    n_obs = np.bincount(all_codes, minlength=len(tps))
    present = [k for k in range(len(tps)) if n_obs[k] > 0]
    nan = float("nan")
    fit: dict[str, Any] = {
        "var_person": nan,
        "var_residual": nan,
        "reml_loglik": nan,
        "converged": False,
    }
    if n_obs[0] == 0 or len(present) < 2 or d["person_id"].nunique() < 2:
        fit["warnings"] = "not fitted: needs scores at the first and at least one later time point"
        beta, cov = np.full(len(present), nan), np.full((len(present), len(present)), nan)
    else:
        x = np.column_stack(
            [np.ones(len(d))] + [(all_codes == k).astype(float) for k in present[1:]]
        )
        fit = fit_random_intercept(d["score"].to_numpy(float), x, d["person_id"].to_numpy(), engine)
        beta, cov = fit["beta"], fit["cov_beta"]
    # coefficients on the full time-point grid: NaN for time points without scores
    full_beta = np.full(len(tps), nan)
    full_cov = np.full((len(tps), len(tps)), nan)
    full_beta[present] = beta
    full_cov[np.ix_(present, present)] = cov
    means = [
        _mean_row(scale, tp, k, full_beta, full_cov, int(n_obs[k]), z) for k, tp in enumerate(tps)
    ]
    contrasts = [
        _contrast_row(scale, tp, tps[0], full_beta[k], full_cov[k, k], z)
        for k, tp in enumerate(tps)
        if k
    ]
    model = {
        "scale": scale,
        "n_persons": int(d["person_id"].nunique()),
        "n_obs": len(d),
        **{
            k: fit[k]
            for k in ("var_person", "var_residual", "reml_loglik", "converged", "warnings")
        },
    }
    return means, contrasts, model


def _completers(wide: pd.DataFrame, tps: list[str], confidence: float) -> pd.DataFrame:
    comp = wide.dropna(subset=tps)
    n = len(comp)
    out = []
    for tp in tps:
        v = comp[tp].to_numpy(float)
        m = float(v.mean()) if n else np.nan
        sd = float(v.std(ddof=1)) if n > 1 else np.nan
        h = stats.t.ppf(1 - (1 - confidence) / 2, n - 1) * sd / np.sqrt(n) if n > 1 else np.nan
        out.append(
            {
                "timepoint": tp,
                "n_completers": n,
                "mean_completers": m,
                "sd_completers": sd,
                "ci_low_completers": m - h,
                "ci_high_completers": m + h,
            }
        )
    return pd.DataFrame(out)


def _attrition(scale: str, wide: pd.DataFrame, tps: list[str], chars: list[str]) -> list[dict]:
    rows = []
    base = wide[wide[tps[0]].notna()]
    for tp in tps[1:]:
        kept = base[tp].notna().to_numpy()
        rows.append(
            _compare(scale, tp, "baseline_score", None, base[tps[0]].to_numpy(float), kept, False)
        )
        for c in chars:
            col = base[c]
            if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
                v = col.to_numpy(float)
                ok = ~np.isnan(v)
                rows.append(_compare(scale, tp, c, None, v[ok], kept[ok], False))
            else:
                labels = col.astype("string").fillna("(missing)")
                for level in sorted(labels.unique()):
                    rows.append(
                        _compare(scale, tp, c, level, (labels == level).to_numpy(float), kept, True)
                    )
    return rows


def _compare(
    scale: str, tp: str, var: str, level: Any, v: np.ndarray, kept: np.ndarray, binary: bool
) -> dict:
    a, b = v[kept], v[~kept]

    def sd(x: np.ndarray) -> float:
        return float(x.std(ddof=1)) if x.size > 1 else np.nan

    return {
        "scale": scale,
        "timepoint": tp,
        "variable": var,
        "level": level,
        "n_retained": int(a.size),
        "n_lost": int(b.size),
        "k_retained": int(a.sum()) if binary else np.nan,
        "k_lost": int(b.sum()) if binary else np.nan,
        "mean_retained": float(a.mean()) if a.size else np.nan,
        "sd_retained": sd(a),
        "mean_lost": float(b.mean()) if b.size else np.nan,
        "sd_lost": sd(b),
        "std_diff": standardised_difference(a, b, binary),
    }


def longitudinal(
    scores: pd.DataFrame,
    timepoints: Sequence[str] | None = None,
    scales: Sequence[str] | str | None = None,
    *,
    participants: pd.DataFrame | None = None,
    characteristics: Sequence[str] | None = None,
    confidence: float = 0.95,
    engine: str = "statsmodels",
) -> LongitudinalResult:
    """Mixed-model means over all time points, completers' means, and attrition.

    Parameters
    ----------
    scores : DataFrame
        Tidy scores; rows with a missing score are counted (``n_missing_score``)
        and left out of the model.
    timepoints : list of str, optional
        Time points in order, the first being the reference (default: the
        categorical order of ``scores.timepoint``, else order of appearance).
    scales : str or list of str, optional
    participants : DataFrame, optional
        Source of ``characteristics`` not in ``scores`` (joined on person_id).
    characteristics : list of str, optional
        Baseline characteristics compared in the attrition table (default
        ``sex`` and ``birth_year`` when available).
    confidence : float
    engine : {"statsmodels", "kureval"}
        REML fitter (default statsmodels ``MixedLM``), see :func:`fit_random_intercept`.
    """
    check_scores(scores)
    tps = _timepoints(scores, timepoints)
    if len(tps) < 2:
        raise ConfigError(Problem(None, None, "timepoints", tps, "at least two time points"))
    scale_list = select_scales(scores, scales)
    if characteristics is None:
        pool = set(scores.columns) | (
            set(participants.columns) if participants is not None else set()
        )
        characteristics = [c for c in ("sex", "birth_year") if c in pool]
    data, chars = attach_by(scores, characteristics, participants)
    data = data.assign(
        timepoint=data["timepoint"].astype(str), person_id=data["person_id"].astype(str)
    )
    data = data[data["timepoint"].isin(tps)]
    z = float(stats.norm.ppf(1 - (1 - confidence) / 2))
    means, contrasts, models, attr = [], [], [], []
    for s in scale_list:
        d = data[data["scale"] == s]
        n_missing = int(d["score"].isna().sum())
        d = d[d["score"].notna()].assign(score=lambda x: pd.to_numeric(x["score"]).astype(float))
        m, c, model = _model_rows(s, d, tps, z, engine)
        wide = d.pivot(index="person_id", columns="timepoint", values="score").reindex(columns=tps)
        if chars:
            wide = wide.join(d.drop_duplicates("person_id").set_index("person_id")[chars])
        asked = [
            tp for tp in tps if wide[tp].notna().any()
        ]  # completers: every time point with scores
        comp = _completers(wide, asked, confidence)
        means.append(pd.DataFrame(m).merge(comp, on="timepoint", how="left"))
        contrasts += c
        models.append({**model, "n_missing_score": n_missing})
        attr += _attrition(s, wide, tps, chars)
    return LongitudinalResult(
        pd.concat(means, ignore_index=True),
        pd.DataFrame(contrasts),
        pd.DataFrame(attr),
        pd.DataFrame(models),
        tuple(tps),
        confidence,
        engine,
    )
