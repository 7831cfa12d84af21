"""Caseness transitions between two time points with McNemar's test.

A score is dichotomised into *case* / *non-case* (for example HADS ≥ 8,
WHO-5 ≤ 50) at ``pre`` and ``post`` for the same persons, giving the 2 × 2
transition table

=================  ==============  ===================
pre \\ post         case            non-case
=================  ==============  ===================
case               ``case_case``   ``recovered`` (b)
non-case           ``new_case`` (c)  ``noncase_noncase``
=================  ==============  ===================

McNemar's test uses only the discordant pairs b and c. With fewer than
``exact_below`` (default 25) discordant pairs the p-value is the exact
two-sided binomial test of b ~ Bin(b + c, ½) (McNemar's exact conditional
test, as ``binom.test`` in R and ``statsmodels`` ``mcnemar(exact=True)``);
otherwise χ² = (b − c)²/(b + c) on 1 df **without** continuity correction
(Agresti 2013, *Categorical Data Analysis*, 3rd ed., §11.1; the uncorrected
asymptotic test keeps its level better than the corrected one, Fagerland,
Lydersen & Laake 2013, BMC Med Res Methodol 13:91,
doi:10.1186/1471-2288-13-91). ``correction=True`` gives Edwards'
(|b − c| − 1)²/(b + c), as R's ``mcnemar.test`` default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from kureval.errors import ConfigError, DataError, Problem
from kureval.selfrating._common import (
    attach_by,
    check_scores,
    check_timepoints,
    scale_meta,
    select_scales,
)

__all__ = ["CasenessResult", "caseness", "mcnemar"]

CaseWhen = Literal[">=", ">", "<=", "<"]
_OPS = {">=": np.greater_equal, ">": np.greater, "<=": np.less_equal, "<": np.less}


def mcnemar(
    b: int, c: int, *, exact_below: int = 25, correction: bool = False
) -> tuple[float, float, str]:
    """McNemar's test on the discordant counts; returns ``(statistic, p, method)``.

    ``statistic`` is min(b, c) for the exact binomial test and χ² otherwise.

    Examples
    --------
    Agresti (2007), table 8.1 (presidential approval, 794/150/86/570):

    >>> stat, p, method = mcnemar(150, 86)
    >>> round(stat, 2), method
    (17.36, 'chi2')
    """
    n = b + c
    if n == 0:
        return float("nan"), float("nan"), "none"
    if n < exact_below:
        p = min(1.0, 2 * float(stats.binom.cdf(min(b, c), n, 0.5)))
        return float(min(b, c)), p, "exact"
    num = (abs(b - c) - 1) ** 2 if correction else (b - c) ** 2
    chi2 = num / n
    return float(chi2), float(stats.chi2.sf(chi2, 1)), "chi2_cc" if correction else "chi2"


@dataclass(frozen=True, eq=False)
class CasenessResult:
    """Result of :func:`caseness`.

    Attributes
    ----------
    table : DataFrame
        One row per scale (× subgroup): ``n_pairs``, ``n_pre_only``,
        ``n_post_only``, ``case_case``, ``recovered`` (case → non-case),
        ``new_case`` (non-case → case), ``noncase_noncase``,
        ``share_case_pre``, ``share_case_post``, ``statistic``, ``p``,
        ``method`` (``exact``, ``chi2``, ``chi2_cc`` or ``none``),
        ``threshold``, ``case_when``.
    pre, post : str
    by : tuple of str
    exact_below : int
    correction : bool
    """

    table: pd.DataFrame
    pre: str
    post: str
    by: tuple[str, ...]
    exact_below: int
    correction: bool

    def transitions(self, row: int = 0) -> pd.DataFrame:
        """The 2 × 2 transition table of one row of ``table`` (rows = pre, columns = post)."""
        r = self.table.iloc[row]
        return pd.DataFrame(
            [[r.case_case, r.recovered], [r.new_case, r.noncase_noncase]],
            index=pd.Index(["case", "non-case"], name=self.pre),
            columns=pd.Index(["case", "non-case"], name=self.post),
        )

    def _repr_html_(self) -> str:
        return (
            f"<p><b>Caseness</b> {self.pre} → {self.post}, McNemar exact when discordant &lt; "
            f"{self.exact_below}</p>"
            + self.table.to_html(index=False, float_format=lambda v: f"{v:.4g}")
        )


def caseness(
    scores: pd.DataFrame,
    scale: str | Sequence[str],
    threshold: float | Mapping[str, float] | None = None,
    case_when: CaseWhen | Mapping[str, CaseWhen] | None = None,
    pre: str = "start",
    post: str = "end",
    by: Sequence[str] | str | None = None,
    *,
    participants: pd.DataFrame | None = None,
    exact_below: int = 25,
    correction: bool = False,
    study: Any = None,
) -> CasenessResult:
    """Transitions between case and non-case from ``pre`` to ``post`` with McNemar's test.

    Parameters
    ----------
    scores : DataFrame
        Tidy scores; with ``threshold=None`` the boolean ``case`` column the
        instrument scoring provides is used instead.
    scale : str or list of str
        Scale(s) to dichotomise.
    threshold : float or mapping scale → float, optional
        Cut-off; a score is a case when ``score <case_when> threshold``.
    case_when : {">=", ">", "<=", "<"} or mapping scale → operator, optional
        Default ``">="`` when lower scores are better (HADS ≥ 8) and ``"<="``
        when higher are better (WHO-5 ≤ 50), from the instrument registry.
    pre, post, by, participants
        As in :func:`kureval.selfrating.prepost.prepost`.
    exact_below : int
        Exact binomial test when the discordant pairs number fewer than this.
    correction : bool
        Continuity correction of the χ² test (default False).
    study : Study or StudyConfig, optional
        Passed to the instrument registry for the direction of generic scales.
    """
    check_scores(scores)
    check_timepoints(scores, pre=pre, post=post)
    scales = select_scales(scores, scale)
    data, by_cols = attach_by(scores, by, participants)
    rows = []
    for s in scales:
        thr = threshold.get(s) if isinstance(threshold, Mapping) else threshold
        when = case_when.get(s) if isinstance(case_when, Mapping) else case_when
        flag, op = _flags(data[data["scale"] == s], s, thr, when, study)
        sub = data.loc[flag.index].assign(
            _case=flag, timepoint=lambda d: d["timepoint"].astype(str)
        )
        sub = sub[sub["timepoint"].isin([str(pre), str(post)])]
        wide = sub.pivot(index="person_id", columns="timepoint", values="_case").reindex(
            columns=[str(pre), str(post)]
        )
        wide.columns = ["pre", "post"]
        if by_cols:
            wide = wide.join(_subgroups(sub, by_cols, s))
        for key, g in wide.groupby(by_cols, dropna=False, sort=False) if by_cols else [((), wide)]:
            keys = dict(zip(by_cols, key if isinstance(key, tuple) else (key,), strict=True))
            rows.append(
                {
                    "scale": s,
                    **keys,
                    **_counts(g, exact_below, correction),
                    "threshold": thr,
                    "case_when": op,
                }
            )
    return CasenessResult(
        pd.DataFrame(rows), str(pre), str(post), tuple(by_cols), exact_below, correction
    )


def _subgroups(sub: pd.DataFrame, by_cols: list[str], scale: str) -> pd.DataFrame:
    """One subgroup value per person; DataError when a person's rows disagree (as prepost)."""
    per_person = sub[["person_id", *by_cols]].astype(object).fillna("\x00missing")
    n_values = per_person.drop_duplicates().groupby("person_id").size()
    clash = n_values[n_values > 1].index[:50]
    if len(clash):
        raise DataError(
            [
                Problem(
                    "scores",
                    None,
                    "/".join(by_cols),
                    (scale, pid),
                    "the same subgroup at pre and post",
                )
                for pid in clash
            ],
            title="subgroup differs between time points",
        )
    return sub.drop_duplicates("person_id").set_index("person_id")[by_cols]


def _flags(
    sub: pd.DataFrame, scale: str, threshold: float | None, case_when: str | None, study: Any
) -> tuple[pd.Series, str]:
    """Case flag per row (NA when the score is missing) and the operator used."""
    if threshold is None:
        if "case" not in sub.columns:
            raise ConfigError(
                Problem(
                    None,
                    None,
                    "threshold",
                    None,
                    f"a cut-off for {scale} (the scores have no 'case' column)",
                )
            )
        return sub["case"].astype("boolean"), "instrument"
    if case_when is None:
        hib = scale_meta(scale, study=study).higher_is_better
        if hib is None:
            raise ConfigError(
                Problem(
                    None, None, "case_when", None, f"'>=' or '<=' for {scale} (direction unknown)"
                )
            )
        case_when = "<=" if hib else ">="
    if case_when not in _OPS:
        raise ConfigError(Problem(None, None, "case_when", case_when, "one of >=, >, <=, <"))
    score = pd.to_numeric(sub["score"]).astype(float)
    flag = pd.Series(_OPS[case_when](score.to_numpy(), threshold), index=sub.index, dtype="boolean")
    flag[score.isna()] = pd.NA
    return flag, case_when


def _counts(g: pd.DataFrame, exact_below: int, correction: bool) -> dict[str, Any]:
    pre, post = g["pre"], g["post"]
    both = pre.notna() & post.notna()
    a = pre[both].astype(bool).to_numpy()
    b = post[both].astype(bool).to_numpy()
    n = int(both.sum())
    out: dict[str, Any] = {
        "n_pairs": n,
        "n_pre_only": int((pre.notna() & post.isna()).sum()),
        "n_post_only": int((pre.isna() & post.notna()).sum()),
        "case_case": int((a & b).sum()),
        "recovered": int((a & ~b).sum()),
        "new_case": int((~a & b).sum()),
        "noncase_noncase": int((~a & ~b).sum()),
    }
    out["share_case_pre"] = float(a.mean()) if n else float("nan")
    out["share_case_post"] = float(b.mean()) if n else float("nan")
    stat, p, method = mcnemar(
        out["recovered"], out["new_case"], exact_below=exact_below, correction=correction
    )
    out.update(statistic=stat, p=p, method=method)
    return out
