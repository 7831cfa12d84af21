"""Input checks and canonical (id) order for :func:`kureval.reference.match.match`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from kureval.errors import ConfigError, DataError, Problem
from kureval.reference.propensity import LINKS

__all__ = ["ORDERS", "bad_ids", "canonical_order", "check_data", "validate"]

ORDERS = ("largest", "smallest", "random", "data")


def validate(
    data: pd.DataFrame,
    treat: str,
    covariates: Sequence[str],
    distance: str,
    link: str,
    exact: Sequence[str],
    caliper: float | None,
    ratio: int,
    order: str,
    id: str | None,
    unit: str | None = None,
) -> None:
    bad: list[Problem] = []

    def arg(name: str, value: object, expected: str) -> None:
        bad.append(Problem(None, None, name, value, expected))

    if link not in LINKS:
        arg("link", link, "'probability' or 'logit'")
    if order not in ORDERS:
        arg("order", order, f"one of {', '.join(ORDERS)}")
    if not isinstance(ratio, int | np.integer) or ratio < 1:
        arg("ratio", ratio, "a whole number ≥ 1")
    if caliper is not None and not (np.isfinite(caliper) and caliper > 0):
        arg("caliper", caliper, "a positive number, or None for no caliper")
    if distance == "glm" and not covariates:
        arg("covariates", covariates, "at least one covariate when distance='glm'")
    needed = [
        treat,
        *covariates,
        *exact,
        *([distance] if distance != "glm" else []),
        *([id] if id else []),
        *([unit] if unit else []),
    ]
    for col in dict.fromkeys(needed):
        if col not in data.columns:
            arg(col, None, f"a column of the data (have: {', '.join(map(str, data.columns))})")
    if bad:
        raise ConfigError(bad, title="match(): invalid arguments")


def check_data(
    data: pd.DataFrame,
    treat: str,
    ids: pd.Series,
    canon: np.ndarray,
    distance: str,
    exact: Sequence[str],
) -> np.ndarray:
    bad: list[Problem] = []
    t = data[treat]
    tv = pd.to_numeric(t.astype(object) if t.dtype == bool else t, errors="coerce").to_numpy(
        dtype=float
    )
    ok = (tv == 0) | (tv == 1)
    for i in np.flatnonzero(~ok)[:20]:
        bad.append(Problem(None, int(i) + 2, treat, t.iloc[i], "1 (participant) or 0 (candidate)"))
    for i in bad_ids(ids, canon)[:20]:
        bad.append(Problem(None, int(i) + 2, "id", ids.iloc[i], "a unique, non-missing person id"))
    if distance != "glm":
        d = pd.to_numeric(data[distance], errors="coerce")
        for i in np.flatnonzero(~np.isfinite(d.to_numpy(dtype=float)))[:20]:
            bad.append(
                Problem(None, int(i) + 2, distance, data[distance].iloc[i], "a finite number")
            )
    for col in exact:
        for i in np.flatnonzero(data[col].isna().to_numpy())[:20]:
            bad.append(
                Problem(
                    None,
                    int(i) + 2,
                    col,
                    None,
                    "a value (exact-matching variables cannot be missing)",
                )
            )
    if not bad:
        tt = tv.astype(int)
        if tt.sum() == 0 or tt.sum() == tt.size:
            bad.append(Problem(None, None, treat, None, "both participants (1) and candidates (0)"))
    if bad:
        raise DataError(bad, title="match(): the data cannot be matched")
    return tv.astype(int)


def canonical_order(ids: pd.Series) -> np.ndarray:
    """Row order sorted by id (numbers numerically, anything else as text); stable."""
    if pd.api.types.is_numeric_dtype(ids.dtype):
        v = ids.to_numpy()
        if v.dtype.kind in "iu" and bool(np.all(v[1:] >= v[:-1])):
            return np.arange(len(v), dtype=np.int64)  # already in order (the reference pool)
        return np.argsort(v, kind="stable")
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(ids.astype(str).to_numpy(dtype=object)) if ids.dtype == object else pa.array(ids)
    return np.asarray(pc.sort_indices(arr), dtype=np.int64)


def bad_ids(ids: pd.Series, order: np.ndarray) -> np.ndarray:
    """Positions of missing or duplicated ids (every occurrence); ``order`` sorts the ids."""
    missing = ids.isna().to_numpy()
    if missing.any():
        return np.flatnonzero(missing | ids.duplicated(keep=False).to_numpy())
    if pd.api.types.is_numeric_dtype(ids.dtype):
        srt = ids.to_numpy()[order]
        same = srt[1:] == srt[:-1]
    else:
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = (
            pa.array(ids.astype(str).to_numpy(dtype=object))
            if ids.dtype == object
            else pa.array(ids)
        )
        srt = pc.take(arr, pa.array(order))
        same = np.asarray(pc.equal(srt[1:], srt[:-1]), dtype=bool)
    if not same.any():
        return np.zeros(0, dtype=np.int64)
    flag = np.zeros(len(ids), dtype=bool)
    flag[1:] |= same
    flag[:-1] |= same
    return np.sort(order[flag])
