"""Exit destinations and provision at start: counts and shares with Wilson CIs.

Both are categorical participant columns summarised the same way: per group
(``by``), overall (``sex = "all"``) and by sex, the count in each category, the
denominator, the share and its Wilson score 95 % interval
(:func:`kureval.followup.proportions.wilson_ci`).  Every category of the
contract is listed, with zero counts, so that tables of different programmes
and years line up.  A missing value is not recoded into ``"unknown"``: it is
its own category, ``"not_recorded"``, shown whenever it occurs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd

from kureval.followup.proportions import wilson_ci
from kureval.study.schema import EXIT_DESTINATIONS, PROVISION, SEX

__all__ = ["EXIT_DESTINATIONS", "NOT_RECORDED", "PROVISIONS", "SEXES", "category_shares"]

#: Code lists of the data contract (``kureval.study.schema`` is their one source).
PROVISIONS = PROVISION
SEXES = SEX
#: Category used for an empty cell (nothing is recoded into ``"unknown"``).
NOT_RECORDED = "not_recorded"


def category_shares(
    persons: pd.DataFrame,
    column: str,
    codes: Sequence[str],
    by: Sequence[str],
    groups: pd.DataFrame,
    denominator: str,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Counts and shares of ``column`` among ``persons`` per group, overall and by sex.

    Parameters
    ----------
    persons : DataFrame
        The denominator population (e.g. those who ended), with ``by`` columns,
        ``sex`` and ``column``.
    column : str
        Categorical column to summarise.
    codes : sequence of str
        All categories, in display order; ``"not_recorded"`` is appended when
        ``column`` has missing values anywhere in ``persons``.
    by : sequence of str
        Group columns.
    groups : DataFrame
        One row per group (columns ``by``) to report, including groups where
        ``persons`` is empty (their shares are NaN).
    denominator : str
        Name of the denominator column in the output (e.g. ``"n_ended"``).
    alpha : float
        1 − confidence level of the Wilson intervals.

    Returns
    -------
    DataFrame
        ``[*by, sex, <column>, n, <denominator>, share, ci_low, ci_high]``;
        ``sex`` is ``"all"`` for the whole group, then each sex present in it
        (when ``sex`` is itself in ``by``, there is no extra split: one row per
        group and category).
    """
    if column in persons.columns:
        values = [NOT_RECORDED if pd.isna(v) else str(v) for v in persons[column]]
    else:
        values = [NOT_RECORDED] * len(persons)
    cats = list(codes) + ([NOT_RECORDED] if NOT_RECORDED in values else [])
    keys = list(zip(*(persons[c] for c in by), strict=True)) if by else [()] * len(persons)
    sexes = [str(x) for x in persons["sex"].astype("string")]
    counts: Counter[tuple] = Counter()
    for key, sex, value in zip(keys, sexes, values, strict=True):
        k = _key(key)
        for cell in ((k, "all", value), (k, sex, value), (k, "all", None), (k, sex, None)):
            counts[cell] += 1
    rows = []
    for key in groups.itertuples(index=False, name=None):
        k = _key(key)
        for sex in ["all", *[s for s in SEXES if counts[(k, s, None)]]]:
            rows += [
                (*key, sex, cat, counts[(k, sex, cat)], counts[(k, sex, None)]) for cat in cats
            ]
    out = pd.DataFrame(rows, columns=[*by, "_sex", column, "n", denominator])
    if "sex" in by:  # each group is one sex already: keep its whole-group rows only
        out = out.loc[out["_sex"] == "all"].drop(columns="_sex").reset_index(drop=True)
    else:
        out = out.rename(columns={"_sex": "sex"})
    n = out["n"].to_numpy(dtype=float)
    d = out[denominator].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["share"] = np.where(d > 0, n / np.where(d > 0, d, 1), np.nan)
    out["ci_low"], out["ci_high"] = wilson_ci(n, d, alpha=alpha)
    return out


def _key(key: tuple) -> tuple:
    """A group key usable in a dict (every missing value the same)."""
    return tuple(None if pd.isna(v) else v for v in key)


def _group_mask(frame: pd.DataFrame, by: Sequence[str], key: tuple) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for col, val in zip(by, key, strict=True):
        if pd.isna(val):
            mask &= frame[col].isna()
        else:
            mask &= (frame[col] == val).fillna(False)
    return mask
