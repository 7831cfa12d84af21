"""Pre/post comparison of self-ratings: :func:`prepost` and :class:`PrePostResult`.

One row per scale (× subgroup) with the paired *t*-test, the Wilcoxon
signed-rank test, effect sizes (d_z with CI, d_av, g_av, rank-biserial), the
shares improved / unchanged / worse by the MCID and by the Jacobson–Truax
reliable change index, and Holm-adjusted p-values. Persons with a score at
only one of the two time points are counted (``n_pre_only`` = attrition,
``n_post_only``), never silently dropped; see :attr:`PrePostResult.exclusions`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from kureval.errors import ConfigError, DataError, Problem
from kureval.selfrating import change as ch
from kureval.selfrating import effectsize as es
from kureval.selfrating._common import (
    Codes,
    ScaleMeta,
    attach_by,
    check_scores,
    check_timepoints,
    scale_meta,
    select_scales,
)

__all__ = ["PrePostResult", "holm", "paired_statistics", "prepost"]

SUMMARY_COLUMNS = [
    "n_pairs",
    "n_pre_only",
    "mean_pre",
    "sd_pre",
    "mean_post",
    "sd_post",
    "mean_diff",
    "diff_ci_low",
    "diff_ci_high",
    "p_t",
    "p_wilcoxon",
    "d_z",
    "d_av",
    "share_improved",
    "share_reliably_improved",
    "p_holm",
]


@dataclass(frozen=True, eq=False)
class PrePostResult:
    """Result of :func:`prepost`, at full precision.

    Attributes
    ----------
    table : DataFrame
        One row per scale (× subgroup); columns documented in :func:`prepost`.
    pairs : DataFrame
        One row per complete pair: ``scale``, subgroup columns, ``person_id``,
        ``pre``, ``post``, ``diff`` (post − pre), ``change_mcid`` and
        ``change_reliable`` (+1 improved, 0 unchanged, −1 worse; NA when the
        MCID/reliability is unknown). For figures; never publish it.
    exclusions : DataFrame
        ``scale``, subgroup columns, ``reason``, ``n``: persons with a score
        for the scale who are not in a pair, by reason.
    pre, post : str
        The two time points compared.
    by : tuple of str
        Subgroup columns.
    confidence : float
        Level of every CI.
    settings : dict
        ``exact``, ``correct``, ``tie_decimals`` of the Wilcoxon test.
    """

    table: pd.DataFrame
    pairs: pd.DataFrame
    exclusions: pd.DataFrame
    pre: str
    post: str
    by: tuple[str, ...]
    confidence: float
    settings: Mapping[str, Any] = field(default_factory=dict)

    def conf_int(self, what: str = "mean_diff") -> pd.DataFrame:
        """CI columns ``low``, ``high`` of ``what`` (``mean_diff``, ``d_z``, ``rank_biserial`` or ``share_improved``)."""
        prefix = {
            "mean_diff": "diff",
            "d_z": "d_z",
            "rank_biserial": "rb",
            "share_improved": "share_improved",
        }
        if what not in prefix:
            raise ConfigError(Problem(None, None, "what", what, f"one of {', '.join(prefix)}"))
        keys = ["scale", *self.by]
        out = self.table[[*keys, what, f"{prefix[what]}_ci_low", f"{prefix[what]}_ci_high"]]
        return out.rename(
            columns={f"{prefix[what]}_ci_low": "low", f"{prefix[what]}_ci_high": "high"}
        )

    def summary(self) -> pd.DataFrame:
        """The main columns only (still unrounded)."""
        return self.table[["scale", *self.by, *SUMMARY_COLUMNS]]

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>Pre/post</b> {self.pre} → {self.post}, differences post − pre, "
            f"{self.confidence:.0%} CIs, p_holm across all rows.</p>"
        )
        return head + self.summary().to_html(index=False, float_format=lambda v: f"{v:.4g}")


def holm(p: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values; NaN entries are left out and stay NaN."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out[order] = adj
    return out


def _describe(x: np.ndarray, prefix: str) -> dict[str, float]:
    if x.size == 0:
        return {f"{k}_{prefix}": np.nan for k in ("mean", "sd", "median", "iqr")}
    q1, med, q3 = np.percentile(x, [25, 50, 75])
    sd = float(np.std(x, ddof=1)) if x.size > 1 else np.nan
    return {
        f"mean_{prefix}": float(x.mean()),
        f"sd_{prefix}": sd,
        f"median_{prefix}": float(med),
        f"iqr_{prefix}": float(q3 - q1),
    }


def _t_test(diff: np.ndarray, confidence: float) -> dict[str, float]:
    n = diff.size
    mean = float(diff.mean()) if n else np.nan
    if n < 2:
        return {
            "mean_diff": mean,
            "diff_ci_low": np.nan,
            "diff_ci_high": np.nan,
            "t": np.nan,
            "df": float(n - 1) if n else np.nan,
            "p_t": np.nan,
        }
    se = float(np.std(diff, ddof=1)) / np.sqrt(n)
    q = stats.t.ppf(1 - (1 - confidence) / 2, n - 1)
    t = mean / se if se > 0 else np.nan
    p = float(2 * stats.t.sf(abs(t), n - 1)) if se > 0 else np.nan
    # every difference equal (SD 0): no t interval exists (R's t.test refuses);
    # a zero-width interval would look like exact precision, so it is NaN
    return {
        "mean_diff": mean,
        "diff_ci_low": mean - q * se if se > 0 else np.nan,
        "diff_ci_high": mean + q * se if se > 0 else np.nan,
        "t": t,
        "df": float(n - 1),
        "p_t": p,
    }


def paired_statistics(
    pre: np.ndarray,
    post: np.ndarray,
    meta: ScaleMeta,
    confidence: float = 0.95,
    exact: bool = False,
    correct: bool = True,
    tie_decimals: int | None = es.TIE_DECIMALS,
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """All statistics of one scale from complete pairs; also the per-person MCID and RC categories."""
    diff = post - pre
    row: dict[str, Any] = {"n_pairs": diff.size, **_describe(pre, "pre"), **_describe(post, "post")}
    row.update(_t_test(diff, confidence))
    w = es.wilcoxon_signed_rank(pre, post, exact=exact, correct=correct, tie_decimals=tie_decimals)
    row.update(wilcoxon_v=w.v, p_wilcoxon=w.p, wilcoxon_method=w.method, n_nonzero=w.n_nonzero)
    row["d_z"], row["d_z_ci_low"], row["d_z_ci_high"] = es.d_z(pre, post, confidence)
    row["d_av"] = es.d_av(pre, post)
    row["g_av"] = es.g_av(pre, post)
    row["rank_biserial"], row["rb_ci_low"], row["rb_ci_high"] = es.rank_biserial(
        pre, post, confidence, tie_decimals
    )
    nan_cat = np.full(diff.size, np.nan)
    mcid_cat: np.ndarray = nan_cat
    rc_cat: np.ndarray = nan_cat
    if meta.mcid is not None and meta.higher_is_better is not None:
        mcid_cat = ch.mcid_categories(diff, meta.mcid, meta.higher_is_better)
    if meta.reliability is not None and meta.higher_is_better is not None:
        rc_cat = ch.reliable_change(pre, post, meta.reliability, meta.higher_is_better)
    row.update(_shares(mcid_cat, rc_cat, confidence))
    row.update(
        higher_is_better=meta.higher_is_better,
        mcid=_num(meta.mcid),
        mcid_source=meta.mcid_source,
        reliability=_num(meta.reliability),
        reliability_source=meta.reliability_source,
    )
    return row, mcid_cat, rc_cat


def _num(x: float | None) -> float:
    return np.nan if x is None else float(x)


def _shares(mcid_cat: np.ndarray, rc_cat: np.ndarray, confidence: float) -> dict[str, float]:
    n = mcid_cat.size
    out = {
        k: np.nan
        for k in (
            "share_improved",
            "share_unchanged",
            "share_worse",
            "share_improved_ci_low",
            "share_improved_ci_high",
            "share_reliably_improved",
            "share_reliably_worse",
        )
    }
    if n and not np.isnan(mcid_cat).all():
        k = int((mcid_cat == 1).sum())
        out.update(
            share_improved=k / n,
            share_unchanged=float((mcid_cat == 0).sum()) / n,
            share_worse=float((mcid_cat == -1).sum()) / n,
        )
        lo, hi = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
        out.update(share_improved_ci_low=float(lo), share_improved_ci_high=float(hi))
    if n and not np.isnan(rc_cat).all():
        out.update(
            share_reliably_improved=float((rc_cat == 1).sum()) / n,
            share_reliably_worse=float((rc_cat == -1).sum()) / n,
        )
    return out


def _wide(
    scores: pd.DataFrame, codes: Codes, scales: list[str], by: list[str], pre: str, post: str
) -> pd.DataFrame:
    """One row per scale × person with a row at pre or post: pre, post, imputed flags, subgroup columns.

    Dense scale × person position arrays (−1 = no row), so no sorting is needed.
    """
    tp_list = list(codes.timepoints)
    n_p = len(codes.persons)
    remap = np.full(len(codes.scales), -1, dtype=np.int64)
    remap[[list(codes.scales).index(s) for s in scales]] = np.arange(len(scales))
    k = remap[codes.scale]
    score = pd.to_numeric(scores["score"]).to_numpy(dtype=float, na_value=np.nan)
    pos = {}
    for name, tp in (("pre", pre), ("post", post)):
        sel = np.flatnonzero((k >= 0) & (codes.timepoint == tp_list.index(tp)))
        arr = np.full((len(scales), n_p), -1, dtype=np.int64)
        arr[k[sel], codes.person[sel]] = sel
        pos[name] = arr
    si, pi = np.nonzero((pos["pre"] >= 0) | (pos["post"] >= 0))
    out: dict[str, Any] = {
        "scale": pd.Categorical.from_codes(si, categories=pd.Index(scales)),
        "person_id": pd.Categorical.from_codes(
            codes.person[_any_pos(pos, si, pi)], categories=pd.Index(codes.persons)
        ),
    }
    imp = (
        scores["imputed"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        if "imputed" in scores
        else None
    )
    for name in ("pre", "post"):
        where = pos[name][si, pi]
        out[name] = np.where(where >= 0, score[where], np.nan)
        if imp is not None:
            out[f"imputed_{name}"] = (where >= 0) & imp[where]
    wide = pd.DataFrame(out)
    if by:
        _attach_labels(wide, scores, by, pos["pre"][si, pi], pos["post"][si, pi])
    return wide


def _any_pos(pos: dict[str, np.ndarray], si: np.ndarray, pi: np.ndarray) -> np.ndarray:
    a = pos["pre"][si, pi]
    return np.where(a >= 0, a, pos["post"][si, pi])


def _attach_labels(
    wide: pd.DataFrame, scores: pd.DataFrame, by: list[str], a: np.ndarray, b: np.ndarray
) -> None:
    """Subgroup values from the pre row (else the post row); DataError when the two rows disagree."""
    first = np.where(a >= 0, a, b)
    both = (a >= 0) & (b >= 0)
    clash = np.zeros(len(wide), dtype=bool)
    for c in by:
        col = scores[c].reset_index(drop=True)
        va, vb = col.iloc[a[both]].reset_index(drop=True), col.iloc[b[both]].reset_index(drop=True)
        clash[both] |= ~((va == vb).fillna(False) | (va.isna() & vb.isna())).to_numpy(dtype=bool)
        wide[c] = col.iloc[first].to_numpy()
    if clash.any():
        bad = wide.loc[clash, ["scale", "person_id"]].head(50)
        raise DataError(
            [
                Problem(
                    "scores",
                    None,
                    "/".join(by),
                    (r.scale, r.person_id),
                    "the same subgroup at pre and post",
                )
                for r in bad.itertuples(index=False)
            ],
            title="subgroup differs between time points",
        )


def prepost(
    scores: pd.DataFrame,
    pre: str = "start",
    post: str = "end",
    by: Sequence[str] | str | None = None,
    scales: Sequence[str] | str | None = None,
    higher_is_better: bool | Mapping[str, bool] | None = None,
    mcid: float | Mapping[str, float] | None = None,
    reliability: float | Mapping[str, float] | None = None,
    confidence: float = 0.95,
    *,
    exact: bool = False,
    correct: bool = True,
    tie_decimals: int | None = es.TIE_DECIMALS,
    participants: pd.DataFrame | None = None,
    study: Any = None,
) -> PrePostResult:
    """Compare each scale's scores at ``pre`` and ``post`` within persons.

    Parameters
    ----------
    scores : DataFrame
        Tidy scores (``person_id, timepoint, scale, score``; optional
        ``imputed``), one row per person × time point × scale. A missing
        ``score`` (NaN) counts as no score at that time point.
    pre, post : str
        Time points compared; differences are **post − pre**, signed.
    by : str or list of str, optional
        Subgroup columns (e.g. ``"programme"``, ``"sex"``, ``"site"``), taken
        from ``scores`` or, when absent there, joined from ``participants`` on
        ``person_id``. Persons with a missing subgroup value form their own
        group (NaN), so nobody is dropped.
    scales : str or list of str, optional
        Scales to compare (default every scale in ``scores``).
    higher_is_better, mcid, reliability : scalar or mapping scale → value, optional
        Override or supply the instrument registry's metadata
        (:func:`kureval.instruments.registry.scale_info`). Without a direction
        or MCID the MCID shares are NaN; without a reliability the reliable
        change shares are NaN.
    confidence : float
        Level of every CI (default 0.95).
    exact : bool
        Exact Wilcoxon p-value (only without ties or zeros; otherwise the
        normal approximation is used and ``wilcoxon_method`` says so).
    correct : bool
        Continuity correction of the normal approximation (default True).
    tie_decimals : int or None
        Differences are rounded to this many decimals before ranking
        (default 9; None = raw doubles as R). See
        :mod:`kureval.selfrating.effectsize`.
    participants : DataFrame, optional
        Source of ``by`` columns that are not in ``scores``.
    study : Study or StudyConfig, optional
        Passed to the instrument registry so that study.toml's ``mcid`` and
        ``reliability`` overrides and the EQ-5D value set's MID apply. A
        Study also gets the persons not in a pair recorded in its
        ``exclusions`` log (step ``"prepost"``, table ``"scores: <scale>"``).

    Returns
    -------
    PrePostResult
        ``.table`` columns: ``scale``, subgroups, ``n_pairs``, ``n_pre_only``
        (score at pre, none at post: attrition), ``n_post_only``,
        ``n_neither`` (a row for the scale but no score at either),
        ``n_imputed`` (imputed scores among the pairs), ``mean/sd/median/iqr``
        ``_pre`` and ``_post`` (SD with n − 1; IQR = Q3 − Q1 of type-7
        quantiles, as R), ``mean_diff`` with ``diff_ci_low/high`` (t), ``t``,
        ``df``, ``p_t`` (paired t-test), ``wilcoxon_v`` (R's V), ``p_wilcoxon``,
        ``wilcoxon_method``, ``n_nonzero``, ``d_z`` with ``d_z_ci_low/high``
        (noncentral t), ``d_av``, ``g_av``, ``rank_biserial`` with
        ``rb_ci_low/high``, ``share_improved`` (better-direction change ≥
        MCID) with a Wilson CI, ``share_unchanged``, ``share_worse``,
        ``share_reliably_improved``, ``share_reliably_worse`` (Jacobson–Truax,
        see :mod:`kureval.selfrating.change`), ``p_holm`` (Holm adjustment of
        ``p_t`` across **all rows** of the call), and the metadata used:
        ``higher_is_better``, ``mcid``, ``mcid_source``, ``reliability``,
        ``reliability_source``.

    Notes
    -----
    Checked against R 4.2.2 on ``MASS::anorexia`` per treatment group
    (``tests/results/selfrating/anorexia.R``): ``t.test(paired = TRUE)``,
    ``wilcox.test(paired = TRUE, exact = FALSE, correct = TRUE)``,
    ``effectsize::cohens_d(paired = TRUE)`` (CI to 1e-6; effectsize finds
    the noncentral-t limits with ``optim``, kureval by root finding, which
    agrees with R's ``uniroot`` to 1e-8) and
    ``effectsize::rank_biserial(paired = TRUE)`` agree to 1e-9 with
    ``tie_decimals=None``. With the default ``tie_decimals=9`` V, its p-value
    and the rank-biserial equal R's on ``round(post - pre, 9)``; in the CBT
    group R's raw doubles split a tie (V = 303.5 instead of 304.5). The
    rank-biserial CI counts the nonzero differences, as effectsize does on
    the differences; effectsize 0.8.3's two-argument paired call counts all
    pairs instead.
    """
    codes = check_scores(scores)
    if not 0 < confidence < 1:
        raise ConfigError(Problem(None, None, "confidence", confidence, "a number between 0 and 1"))
    check_timepoints(scores, pre=pre, post=post)
    scale_list = select_scales(scores, scales)
    data, by_cols = attach_by(scores, by, participants)  # same rows, same order as scores
    metas = {s: scale_meta(s, higher_is_better, mcid, reliability, study) for s in scale_list}
    undirected = [
        m.scale for m in metas.values() if m.higher_is_better is None and (m.mcid or m.reliability)
    ]
    if undirected:
        raise ConfigError(
            [
                Problem(
                    None,
                    None,
                    "higher_is_better",
                    s,
                    "True or False for this scale (it has an MCID or "
                    "reliability, and 'improved' needs a direction)",
                )
                for s in undirected
            ],
            title="direction unknown",
        )
    wide = _wide(data, codes, scale_list, by_cols, str(pre), str(post))
    rows, pair_frames, excl = [], [], []
    for key, g in wide.groupby(["scale", *by_cols], sort=False, dropna=False, observed=True):
        keyd = dict(
            zip(["scale", *by_cols], key if isinstance(key, tuple) else (key,), strict=True)
        )
        row, pairs, ex = _one_group(
            g, keyd, by_cols, metas[str(keyd["scale"])], confidence, exact, correct, tie_decimals
        )
        rows.append(row)
        pair_frames.append(pairs)
        excl += ex
    table = pd.DataFrame(rows)
    table["p_holm"] = holm(table["p_t"].to_numpy())
    _log(study, excl, by_cols, str(pre), str(post))
    return PrePostResult(
        table=_order(table, by_cols),
        pairs=pd.concat(pair_frames, ignore_index=True),
        exclusions=pd.DataFrame(excl),
        pre=str(pre),
        post=str(post),
        by=tuple(by_cols),
        confidence=confidence,
        settings={"exact": exact, "correct": correct, "tie_decimals": tie_decimals},
    )


def _log(study: Any, excl: list[dict[str, Any]], by_cols: list[str], pre: str, post: str) -> None:
    """Record the persons not in a pair in ``study.exclusions`` (step ``prepost``), when a Study is given."""
    log = getattr(study, "exclusions", None)
    if log is None:
        return
    for e in excl:
        where = ", ".join(f"{c}={e[c]}" for c in by_cols)
        table = f"scores: {e['scale']}" + (f" ({where})" if where else "")
        log.record("prepost", table, e["reason"], int(e["n"]), f"{pre} → {post}")


def _one_group(
    g: pd.DataFrame,
    keyd: dict[str, Any],
    by_cols: list[str],
    meta: ScaleMeta,
    confidence: float,
    exact: bool,
    correct: bool,
    tie_decimals: int | None,
) -> tuple[dict[str, Any], pd.DataFrame, list[dict[str, Any]]]:
    """Table row, complete pairs and exclusion counts of one scale × subgroup."""
    has_pre, has_post = g["pre"].notna().to_numpy(), g["post"].notna().to_numpy()
    both = has_pre & has_post
    counts = {
        "n_pre_only": int((has_pre & ~has_post).sum()),
        "n_post_only": int((~has_pre & has_post).sum()),
        "n_neither": int((~has_pre & ~has_post).sum()),
    }
    n_imp = 0
    if "imputed_pre" in g:
        n_imp = int(g.loc[both, "imputed_pre"].sum() + g.loc[both, "imputed_post"].sum())
    a, b = g["pre"].to_numpy()[both], g["post"].to_numpy()[both]
    row, mcat, rcat = paired_statistics(a, b, meta, confidence, exact, correct, tie_decimals)
    pairs = g.loc[both, ["scale", *by_cols, "person_id", "pre", "post"]].assign(
        scale=str(keyd["scale"]),
        person_id=lambda d: d["person_id"].astype(str),
        diff=b - a,
        change_mcid=mcat,
        change_reliable=rcat,
    )
    reasons = (
        ("no score at post (attrition)", counts["n_pre_only"]),
        ("no score at pre", counts["n_post_only"]),
        ("no score at pre or post", counts["n_neither"]),
    )
    excl = [{**keyd, "reason": reason, "n": n} for reason, n in reasons]
    return {**keyd, **row, **counts, "n_imputed": n_imp}, pairs, excl


_ORDER = [
    "n_pairs",
    "n_pre_only",
    "n_post_only",
    "n_neither",
    "n_imputed",
    "mean_pre",
    "sd_pre",
    "median_pre",
    "iqr_pre",
    "mean_post",
    "sd_post",
    "median_post",
    "iqr_post",
    "mean_diff",
    "diff_ci_low",
    "diff_ci_high",
    "t",
    "df",
    "p_t",
    "wilcoxon_v",
    "p_wilcoxon",
    "wilcoxon_method",
    "n_nonzero",
    "d_z",
    "d_z_ci_low",
    "d_z_ci_high",
    "d_av",
    "g_av",
    "rank_biserial",
    "rb_ci_low",
    "rb_ci_high",
    "share_improved",
    "share_improved_ci_low",
    "share_improved_ci_high",
    "share_unchanged",
    "share_worse",
    "share_reliably_improved",
    "share_reliably_worse",
    "p_holm",
    "higher_is_better",
    "mcid",
    "mcid_source",
    "reliability",
    "reliability_source",
]


def _order(table: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return table[["scale", *by, *_ORDER]]
