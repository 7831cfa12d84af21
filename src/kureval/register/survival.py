"""Return to work after the index date: Kaplan–Meier per group and a Cox model stratified on matched set.

**Definition.**  Among matched persons on sick leave (any extent) on their
index date, return to work is the first day of the first run of
``free_days`` (default ``[register] rtw_free_days`` = 30) consecutive
calendar days without any sick leave; time = days from the index date to
that day.  A run counts only when all its days are observed (before
``min(exit_date, data_end)``), so a person is censored at the last day a run
could still have been confirmed, or at ``horizon`` days.  Persons not on sick
leave on their index date are not at risk and are counted as exclusions.

**Models.**  Kaplan–Meier per group (statsmodels ``SurvfuncRight``) with the
matching weights as case weights — the references' curve is then the
weighted curve of the participants' matched references — and Greenwood
standard errors from the weighted counts (as ``survival::survfit(weights=, robust = FALSE)``),
log-log pointwise 95 % CIs.  Cox proportional hazards stratified on the
matched set (statsmodels ``PHReg(strata=set_id, ties="breslow")``,
``survival::coxph(Surv(time, status) ~ treat + strata(set_id),
ties = "breslow")``): each set has its own baseline hazard, so the hazard
ratio compares a participant with their own references; it is conditional on
the set and unweighted.  When references are reused in several sets the
covariance is the robust sandwich clustered on the person (``cluster(id)``).

References
----------
Therneau TM, Grambsch PM (2000). *Modeling Survival Data*. Springer, §3.1, §8.
Gail MH, Lubin JH, Rubinstein LV (1981). Likelihood calculations for matched
case-control studies and survival studies with tied death times.
*Biometrika* 68:703–707. doi:10.1093/biomet/68.3.703
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from kureval.errors import DataError
from kureval.register.compare import matched_frame
from kureval.register.windows import _NAT, _check_intervals, _days, _key

MIN_INFORMATIVE_SETS = 10

__all__ = [
    "CoxResult",
    "ReturnToWork",
    "cox_stratified",
    "kaplan_meier",
    "return_to_work",
    "rtw_times",
]


def _merged(code: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union of each person's intervals as sorted disjoint keys ``(start, end)``."""
    order = np.lexsort((start, code))
    a, b = _key(code[order], start[order]), _key(code[order], end[order])
    if len(a) == 0:
        return a, b
    run_end = np.maximum.accumulate(b)
    new = np.concatenate([[True], a[1:] > run_end[:-1] + 1])
    group = np.cumsum(new) - 1
    ends = np.full(int(group[-1]) + 1, np.iinfo(np.int64).min)
    np.maximum.at(ends, group, b)
    return a[new], ends


def rtw_times(
    matched: pd.DataFrame,
    population: pd.DataFrame,
    sick_leave: pd.DataFrame,
    data_end: Any = None,
    free_days: int = 30,
    horizon: int = 364,
) -> pd.DataFrame:
    """Return-to-work time and status per matched row (see module docstring).

    Returns
    -------
    DataFrame
        ``id, set_id, treat, weight, at_risk`` (on sick leave on the index
        date), ``time`` (days), ``status`` (1 = returned, 0 = censored); time
        and status are missing when not at risk.
    """
    problems = _check_intervals(sick_leave, "register/sick_leave", "start_date", "end_date")
    if problems:
        raise DataError(problems, title="sick-leave spells cannot be used")
    index = pd.Index(population["person_id"].astype(str))
    codes = index.get_indexer(pd.Index(matched["id"].astype(str)))
    if (codes < 0).any():
        raise DataError(f"{int((codes < 0).sum())} matched persons are not in the population table")
    s_code = index.get_indexer(pd.Index(sick_leave["person_id"].astype(str)))
    ok = s_code >= 0
    a, b = _days(sick_leave["start_date"])[ok], _days(sick_leave["end_date"])[ok]
    m_start, m_end = _merged(s_code[ok], a, b)
    # without a configured data_end, the latest spell end date closes the follow-up
    end_day = int(_days([data_end])[0]) if data_end is not None else int(b[b != _NAT].max())
    t0 = _days(matched["index_date"])
    k0 = _key(codes, t0)
    j = np.searchsorted(m_start, k0, "right") - 1
    at_risk = (j >= 0) & (m_end[np.maximum(j, 0)] >= k0)
    gap = np.concatenate([m_start[1:] - m_end[:-1] - 1, [np.iinfo(np.int64).max]])
    big = np.flatnonzero(
        gap >= free_days
    )  # includes every person's last interval (next key is another person's)
    jj = big[np.searchsorted(big, np.maximum(j, 0))]
    t_event = m_end[jj] + 1 - k0
    exit_day = _days(population["exit_date"])[codes]
    cov_end = np.where(exit_day == _NAT, end_day, np.minimum(exit_day, end_day))
    last = np.minimum(cov_end - free_days + 1 - t0, horizon)
    status = (t_event <= last).astype(int)
    time = np.where(status == 1, t_event, last)
    out = matched[["id", "set_id", "treat", "weight"]].reset_index(drop=True).copy()
    out["at_risk"] = at_risk & (last > 0)
    out["time"] = np.where(out["at_risk"], time, np.nan)
    out["status"] = np.where(out["at_risk"], status, np.nan)
    out["not_followed"] = at_risk & (last <= 0)
    return out


@dataclass(frozen=True)
class CoxResult:
    """Hazard ratio participants vs references from a Cox model stratified on matched set.

    Attributes
    ----------
    log_hr, se : float
        Coefficient of ``treat`` and its standard error (model-based, or robust
        clustered on person when ``robust``).
    n, events, n_strata_informative : int
    robust : bool
    ties : str
    """

    log_hr: float
    se: float
    n: int
    events: int
    n_strata_informative: int
    robust: bool
    ties: str = "breslow"

    @property
    def estimate(self) -> float:
        """Hazard ratio ``exp(log_hr)`` (> 1: participants return to work sooner)."""
        return float(np.exp(self.log_hr))

    @property
    def pvalue(self) -> float:
        return float(2 * stats.norm.sf(abs(self.log_hr / self.se)))

    def conf_int(self, alpha: float = 0.05) -> tuple[float, float]:
        z = stats.norm.ppf(1 - alpha / 2)
        return (float(np.exp(self.log_hr - z * self.se)), float(np.exp(self.log_hr + z * self.se)))

    @property
    def table(self) -> pd.DataFrame:
        lo, hi = self.conf_int()
        return pd.DataFrame(
            [
                {
                    "hazard_ratio": self.estimate,
                    "ci_low": lo,
                    "ci_high": hi,
                    "pvalue": self.pvalue,
                    "log_hr": self.log_hr,
                    "se": self.se,
                    "n": self.n,
                    "events": self.events,
                    "informative_sets": self.n_strata_informative,
                    "robust_se": self.robust,
                    "ties": self.ties,
                }
            ]
        )

    def _repr_html_(self) -> str:
        return self.table.to_html(index=False)


def cox_stratified(
    data: pd.DataFrame,
    time: str = "time",
    status: str = "status",
    treat: str = "treat",
    strata: str = "set_id",
    cluster: str | None = None,
) -> CoxResult:
    """Cox PH of ``treat`` stratified on matched set, Breslow ties (``PHReg``), optional robust SE."""
    from statsmodels.duration.hazard_regression import PHReg

    d = data.dropna(subset=[time, status])
    model = PHReg(
        d[time].to_numpy(float),
        d[[treat]].to_numpy(float),
        status=d[status].to_numpy(float),
        strata=pd.factorize(d[strata])[0],
        ties="breslow",
    )
    fit = model.fit()
    se = float(fit.bse[0])
    if cluster:
        se = float(np.sqrt(_robust_cov(model, fit.params, d, time, status, strata, cluster)[0, 0]))
    grp = d.groupby(strata)
    informative = int(((grp[treat].nunique() == 2) & (grp[status].sum() > 0)).sum())
    return CoxResult(
        log_hr=float(fit.params[0]),
        se=se,
        n=len(d),
        events=int(d[status].sum()),
        n_strata_informative=int(informative),
        robust=cluster is not None,
    )


def _robust_cov(
    model: Any,
    params: np.ndarray,
    d: pd.DataFrame,
    time: str,
    status: str,
    strata: str,
    cluster: str,
) -> np.ndarray:
    """Sandwich ``H⁻¹ (Σ_g r_g r_gᵀ) H⁻¹`` from score residuals summed per cluster (``coxph(cluster=)``).

    statsmodels returns NaN score residuals for persons censored before the
    first event of their stratum; their score residual is exactly 0 (they are
    in no risk set at an event time), which is what is used.  Any other NaN is
    an error.
    """
    resid = model.score_residuals(params)
    first_event = d[time].where(d[status] == 1).groupby(d[strata]).transform("min").to_numpy()
    zero = (d[status].to_numpy() == 0) & ~(d[time].to_numpy() >= first_event)
    bad = np.isnan(resid).any(axis=1)
    if (bad & ~zero).any():
        raise DataError(
            "the Cox model's score residuals are undefined; cannot compute a robust variance"
        )
    resid = np.where(bad[:, None], 0.0, resid)
    codes = pd.factorize(d[cluster])[0]
    summed = np.column_stack(
        [np.bincount(codes, weights=resid[:, j]) for j in range(resid.shape[1])]
    )
    h_inv = np.linalg.inv(model.hessian(params))
    return np.asarray(h_inv @ (summed.T @ summed) @ h_inv)


def kaplan_meier(
    data: pd.DataFrame,
    time: str = "time",
    status: str = "status",
    treat: str = "treat",
    weight: str = "weight",
) -> pd.DataFrame:
    """Weighted KM per group: ``group, time, surv, se, ci_low, ci_high, n_risk, n_events`` (log-log CI)."""
    from statsmodels.duration.survfunc import SurvfuncRight

    rows = []
    d = data.dropna(subset=[time, status])
    for group, code in (("participants", 1), ("references", 0)):
        g = d[d[treat] == code]
        if len(g) == 0:
            continue
        sf = SurvfuncRight(
            g[time].to_numpy(float),
            g[status].to_numpy(float),
            freq_weights=g[weight].to_numpy(float),
        )
        # Greenwood from the weighted counts, as survfit(robust = FALSE); statsmodels'
        # surv_prob_se uses another formula
        n, ev = sf.n_risk, sf.n_events
        with np.errstate(divide="ignore", invalid="ignore"):
            se = sf.surv_prob * np.sqrt(np.cumsum(ev / (n * (n - ev))))
        lo, hi = _loglog(sf.surv_prob, se)
        rows.append(
            pd.DataFrame(
                {
                    "group": group,
                    "time": sf.surv_times,
                    "surv": sf.surv_prob,
                    "se": se,
                    "ci_low": lo,
                    "ci_high": hi,
                    "n_risk": sf.n_risk,
                    "n_events": sf.n_events,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def _loglog(surv: np.ndarray, se: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise 95 % CI on the log(−log S) scale (``survfit(conf.type = "log-log")``)."""
    z = stats.norm.ppf(0.975)
    with np.errstate(divide="ignore", invalid="ignore"):
        lls = np.log(-np.log(surv))
        se_ll = se / (surv * np.abs(np.log(surv)))
        lo = np.exp(-np.exp(lls + z * se_ll))
        hi = np.exp(-np.exp(lls - z * se_ll))
    return np.where(np.isfinite(lo), lo, np.nan), np.where(np.isfinite(hi), hi, np.nan)


@dataclass(frozen=True)
class ReturnToWork:
    """Return to work after the index date: times, KM curves and stratified Cox HR."""

    times: pd.DataFrame
    km: pd.DataFrame
    cox: CoxResult | None
    free_days: int
    horizon: int
    excluded: pd.DataFrame

    note: str = ""

    @property
    def table(self) -> pd.DataFrame:
        """The Cox hazard ratio row (empty when it could not be estimated; see ``note``)."""
        return self.cox.table if self.cox is not None else pd.DataFrame()

    def _repr_html_(self) -> str:
        return self.table.to_html(index=False) + (f"<p>{self.note}</p>" if self.note else "")


def return_to_work(
    study: Any, match: Any, free_days: int | None = None, horizon: int | None = None
) -> ReturnToWork:
    """Return to work (first ``free_days`` consecutive days free of sick leave) per group.

    Parameters
    ----------
    study : Study
        With ``sick_leave`` and ``population``; ``[register] rtw_free_days`` and ``data_end``.
    match : MatchResult or DataFrame
        Matched sets with ``index_date``.
    free_days : int, optional
        Defaults to ``study.config.register.rtw_free_days``.
    horizon : int, optional
        Follow-up in days; defaults to the end of the last window.
    """
    if study.sick_leave is None or study.population is None:
        raise DataError("return to work needs register/sick_leave and register/population tables")
    reg = study.config.register
    free = free_days or reg.rtw_free_days
    hz = horizon if horizon is not None else max(w.end for w in study.config.windows)
    matched = matched_frame(match)
    times = rtw_times(matched, study.population, study.sick_leave, reg.data_end, free, hz)
    excluded = pd.DataFrame(
        [
            {
                "reason": "not on sick leave on the index date (not at risk)",
                "n": int((~times["at_risk"] & ~times["not_followed"]).sum()),
            },
            {
                "reason": "on sick leave but no follow-up to confirm a return",
                "n": int(times["not_followed"].sum()),
            },
        ]
    )
    for row in excluded.itertuples():
        study.exclusions.record("return_to_work", "matched persons", row.reason, row.n)
    risk = times[times["at_risk"]]
    reused = risk.groupby("id")["set_id"].nunique().gt(1).any()
    grp = risk.groupby("set_id")
    informative = int(((grp["treat"].nunique() == 2) & (grp["status"].sum() > 0)).sum())
    cox, note = None, ""
    if informative < MIN_INFORMATIVE_SETS:
        note = (
            f"Cox model not estimated: {informative} matched sets have both a participant and a "
            f"reference at risk and an event (at least {MIN_INFORMATIVE_SETS} needed)"
        )
    else:
        cox = cox_stratified(risk, cluster="id" if reused else None)
    return ReturnToWork(
        times=times,
        km=kaplan_meier(risk) if len(risk) else pd.DataFrame(),
        cox=cox,
        free_days=free,
        horizon=hz,
        excluded=excluded,
        note=note,
    )
