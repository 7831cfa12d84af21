"""Covariate balance before and after matching, as MatchIt's ``summary()`` computes it.

For every term (the distance, each numeric covariate, and each level of a
categorical covariate as ``<variable>_<level>``) and each sample — ``before``
(all persons, unweighted) and ``after`` (the matched sample, weighted by the
matching weights) — :func:`balance` gives:

``mean_treated``, ``mean_control``
    (weighted) group means.
``smd``
    standardised mean difference (mean_treated − mean_control) / s, where s
    is the **participants' standard deviation before matching** (ATT), the
    same s before and after matching.  For continuous terms s² is the sample
    variance (n − 1); for binary (0/1) terms s² = p(1 − p) with p the
    participants' proportion (the proportion formula).  A difference smaller
    than √ε (1.5e-8) is reported unstandardised (it is 0 for practical
    purposes), as MatchIt does.
``var_ratio``
    weighted variance of the participants over that of the references
    (variances with the reliability-weights formula of R's ``cov.wt``:
    Σwᵢ(xᵢ − x̄)² / (1 − Σwᵢ²) with wᵢ normalised to sum to 1); not defined for
    binary terms.
``ecdf_mean``, ``ecdf_max``
    mean and maximum over the distinct values of the term in the whole sample
    of |F_t(x) − F_c(x)|, the (weighted) empirical CDFs of the two groups
    (``ecdf_max`` is the Kolmogorov–Smirnov distance); for binary terms both
    equal |p_t − p_c|.

These equal R MatchIt's ``summary(m, un = TRUE)`` (``sum.all``,
``sum.matched``; tests/results/matchit/*_balance_*.csv).  Flags mark
|SMD| > 0.1 (Austin 2009, Stat Med 28:3083–3107, doi:10.1002/sim.3697).
Everything is computed with vectorised numpy: one sort per term.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kureval.errors import ConfigError
from kureval.reference.match import MatchResult
from kureval.reference.propensity import design_matrix

__all__ = ["BalanceResult", "balance", "balance_table"]

SQRT_EPS = float(np.sqrt(np.finfo(float).eps))
COLUMNS = [
    "term",
    "sample",
    "mean_treated",
    "mean_control",
    "smd",
    "var_ratio",
    "ecdf_mean",
    "ecdf_max",
]


@dataclass(frozen=True)
class BalanceResult:
    """Balance table and effective sample sizes.

    Attributes
    ----------
    table : DataFrame
        One row per term and sample (columns as in the module docstring) plus
        ``large`` (|smd| > threshold).
    ess : DataFrame
        ``group, sample, n, ess``: persons with weight > 0 and Kish's effective
        sample size (Σw)² / Σw².
    threshold : float
        The |SMD| flag threshold (0.1).
    smd_denominator : str
        Which SD standardises the differences.
    """

    table: pd.DataFrame
    ess: pd.DataFrame
    threshold: float = 0.1
    smd_denominator: str = (
        "participants' SD before matching (ATT); binary terms: sqrt(p(1 - p)) of "
        "the participants' proportion"
    )

    def large(self, sample: str = "after", include_distance: bool = False) -> pd.DataFrame:
        """Rows of ``sample`` whose |SMD| exceeds the threshold."""
        t = self.table[(self.table["sample"] == sample) & self.table["large"]]
        return t if include_distance else t[t["term"] != "distance"]

    @property
    def balanced(self) -> bool:
        """Whether every covariate term (not the distance) has |SMD| ≤ threshold after matching."""
        return self.large().empty

    def wide(self) -> pd.DataFrame:
        """One row per term: SMD before and after (what a love plot shows)."""
        w = self.table.pivot(index="term", columns="sample", values="smd")
        order = list(dict.fromkeys(self.table["term"]))
        return w.reindex(order)[["before", "after"]].rename_axis(columns=None).reset_index()

    def _repr_html_(self) -> str:
        note = html.escape(
            f"SMD denominator: {self.smd_denominator}; flag |SMD| > {self.threshold}"
        )
        return self.table.to_html(index=False) + f"<p>{note}</p>" + self.ess.to_html(index=False)


def _wvar(x: np.ndarray, w: np.ndarray, binary: np.ndarray) -> np.ndarray:
    """Column-wise weighted variance (MatchIt ``wvar``): p(1-p) for binary columns, cov.wt otherwise.

    Rows with weight 0 do not contribute, so they are dropped first.
    """
    keep = w > 0
    if not keep.all():
        x, w = x[keep], w[keep]
    wn = w / w.sum()
    mx = wn @ x
    cont = (wn @ (x - mx) ** 2) / (1.0 - np.sum(wn**2))
    return np.where(binary, mx * (1.0 - mx), cont)


def _ecdf(x: np.ndarray, t: np.ndarray, weights: Sequence[np.ndarray]) -> list[tuple[float, float]]:
    """(mean, max) over the distinct values of ``x`` of |ΔeCDF|, for each weight vector.

    The cumulative sums are read at the last element of each run of equal
    values, so the order within a run does not matter (no stable sort needed).
    """
    order = np.argsort(x)
    xs = x[order]
    last = np.append(xs[1:] != xs[:-1], True)
    ts = t[order]
    out = []
    for w in weights:
        ws = w[order]
        s1, s0 = ws[ts].sum(), ws[~ts].sum()
        signed = np.where(ts, -ws / (s1 if s1 else 1.0), ws / (s0 if s0 else 1.0))
        diff = np.abs(np.cumsum(signed))[last]
        out.append((float(diff.mean()), float(diff.max())))
    return out


def balance_table(x: pd.DataFrame, treat: np.ndarray, weights: np.ndarray) -> pd.DataFrame:
    """Balance of the numeric columns of ``x`` before (unweighted) and after (``weights``) matching.

    ``treat`` is 1/0 (participants / candidates); ``weights`` are the matching
    weights of every row (0 = not in the matched sample).  Returns the long
    table described in the module docstring, ``before`` rows first.
    """
    t = np.asarray(treat).astype(bool)
    xm = x.to_numpy(dtype=float)
    x1, x0 = xm[t], xm[~t]
    w_after = np.asarray(weights, dtype=float)
    binary = np.array([bool(np.all((c == 0) | (c == 1))) for c in xm.T], dtype=bool)
    sd = np.sqrt(_wvar(x1, np.ones(len(x1)), binary))
    if not (np.isfinite(sd) & (sd >= SQRT_EPS)).all():  # MatchIt's fallback for a constant group
        pooled = np.sqrt((sd**2 + _wvar(x0, np.ones(len(x0)), binary)) / 2)
        sd = np.where(np.isfinite(sd) & (sd >= SQRT_EPS), sd, pooled)
    ecdf_cols = [
        None if binary[j] else _ecdf(xm[:, j], t, [np.ones(len(t)), w_after])
        for j in range(xm.shape[1])
    ]
    rows = []
    for k, (sample, w) in enumerate((("before", np.ones(len(t))), ("after", w_after))):
        w1, w0 = w[t], w[~t]
        m1 = (w1 @ x1) / w1.sum()
        m0 = (w0 @ x0) / w0.sum()
        diff = m1 - m0
        too_small = (np.count_nonzero(w1) < 2) and (np.count_nonzero(w0) < 2)
        smd = np.where(np.abs(diff) > SQRT_EPS, np.nan if too_small else diff / sd, diff)
        vr = np.where(binary, np.nan, _wvar(x1, w1, binary) / _wvar(x0, w0, binary))
        for j, term in enumerate(x.columns):
            stats = ecdf_cols[j]
            if binary[j] or stats is None:
                em = ex = abs(diff[j])
            else:
                em, ex = stats[k] if not too_small else (np.nan, np.nan)
            rows.append((term, sample, m1[j], m0[j], smd[j], vr[j], em, ex))
    return pd.DataFrame(rows, columns=COLUMNS)


def balance(
    result: MatchResult,
    data: pd.DataFrame | None = None,
    covariates: Sequence[str] | None = None,
    threshold: float = 0.1,
) -> BalanceResult:
    """Balance before and after matching, MatchIt ``summary()`` statistics (see module docstring).

    Parameters
    ----------
    result : MatchResult
        From :func:`kureval.reference.match`.
    data : DataFrame, optional
        Covariates, one row per person; aligned on the id column of the match
        (or its index when the match used the index).  Default: the data given
        to ``match``.
    covariates : sequence of str, optional
        Terms to show; default the match's covariates.  The distance is always
        the first term.
    threshold : float
        |SMD| above which a term is flagged (default 0.1).
    """
    covs = tuple(covariates if covariates is not None else result.spec.covariates)
    units = result.units
    if data is None:
        frame = result.data
    else:
        key = data[result.spec.id] if result.spec.id else pd.Series(data.index, index=data.index)
        pos = pd.Index(key).get_indexer(units["id"])
        if (pos < 0).any():
            missing = units["id"][pos < 0].head(5).tolist()
            raise ConfigError(
                f"balance(): data lack {int((pos < 0).sum())} matched persons (e.g. {missing})"
            )
        frame = data.iloc[pos].reset_index(drop=True)
    x = design_matrix(frame, covs, drop_first=False)
    x.insert(0, "distance", units["distance"].to_numpy())
    tab = balance_table(x, units["treat"].to_numpy(), units["weight"].to_numpy())
    tab["large"] = tab["smd"].abs() > threshold
    return BalanceResult(table=tab, ess=_ess(units), threshold=threshold)


def _ess(units: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for group, code in (("participants", 1), ("references", 0)):
        g = units[units["treat"] == code]
        for sample, w in (("before", np.ones(len(g))), ("after", g["weight"].to_numpy())):
            w = w[w > 0]
            ess = float(w.sum() ** 2 / (w**2).sum()) if w.size else 0.0
            rows.append((group, sample, int(w.size), ess))
    return pd.DataFrame(rows, columns=["group", "sample", "n", "ess"])
