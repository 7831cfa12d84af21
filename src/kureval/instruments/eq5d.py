"""EQ-5D-3L / EQ-5D-5L index values from a named value set.

The value sets are data files, ``data/valuesets/<name>.csv`` (``term,
coefficient``), each cited in ``data/references.csv``.  Every shipped set is an
additive model::

    index = start + Σ_d coef[d, level_d]
                  + any_problem · [some level > 1]
                  + any_level3  · [some level = 3]      (3L models with an N3 term)
                  + any_level5  · [some level = 5]      (5L models with an N5 term)

with ``coef[d, 1] = 0``.  All 3^5 or 5^5 states are tabulated once per value set
and looked up, so scoring a million rows is one integer indexing operation.

The user always names the value set: there is no silent default (DESIGN §4).
No EQ-5D item texts are shipped (EuroQol licence).
"""

from __future__ import annotations

import csv
import io
from functools import cache
from importlib import resources
from itertools import product
from typing import Any

import numpy as np
import pandas as pd

from kureval.errors import ConfigError, Problem
from kureval.instruments._core import ScaleScores, as_matrix, check_values, to_frame

__all__ = [
    "DIMENSIONS",
    "VALUE_SETS",
    "index",
    "instrument_defined_mid",
    "score",
    "score_matrix",
    "state_table",
    "value_set_coefficients",
]

CODE = "eq5d"
N_ITEMS = 5
DIMENSIONS = ("MO", "SC", "UA", "PD", "AD")
#: value-set name → EQ-5D version it belongs to.
VALUE_SETS = {
    "SE_3L_Burstrom2014": "3L",
    "DK_3L_Wittrup2009": "3L",
    "UK_3L_Dolan1997": "3L",
    "SE_5L_Sun2022": "5L",
    "SE_5L_Burstrom2020": "5L",
    "DK_5L_Jensen2021": "5L",
    "EN_5L_Devlin2018": "5L",
}
LEVELS = {"3L": 3, "5L": 5}


def check_value_set(value_set: Any, version: Any = None) -> list[Problem]:
    """Problems with a (version, value_set) pair; empty when it is usable."""
    out = []
    if version is not None and version not in LEVELS:
        out.append(Problem(None, None, "version", version, 'EQ-5D version "3L" or "5L"'))
    if value_set not in VALUE_SETS:
        available = ", ".join(VALUE_SETS)
        out.append(
            Problem(
                None, None, "value_set", value_set, f"one of the shipped value sets: {available}"
            )
        )
    elif version in LEVELS and VALUE_SETS[value_set] != version:
        sets = ", ".join(k for k, v in VALUE_SETS.items() if v == version)
        out.append(
            Problem(
                None,
                None,
                "value_set",
                value_set,
                f"a value set for EQ-5D-{version} ({value_set} is for EQ-5D-{VALUE_SETS[value_set]}): {sets}",
            )
        )
    return out


def _resolve(version: str | None, value_set: str) -> str:
    problems = check_value_set(value_set, version)
    if problems:
        raise ConfigError(problems, title="EQ-5D value set")
    return VALUE_SETS[value_set]


@cache
def value_set_coefficients(value_set: str) -> dict[str, float]:
    """Coefficients of a shipped value set, read from its CSV data file."""
    _resolve(None, value_set)
    text = (
        resources.files("kureval.instruments") / "data" / "valuesets" / f"{value_set}.csv"
    ).read_text(encoding="utf-8")
    return {row["term"]: float(row["coefficient"]) for row in csv.DictReader(io.StringIO(text))}


@cache
def state_table(value_set: str) -> np.ndarray:
    """Index of every state, position ``Σ (level_d − 1) · L^(4 − d)`` (d = 0 for MO)."""
    version = _resolve(None, value_set)
    n_levels = LEVELS[version]
    coef = value_set_coefficients(value_set)
    states = np.array(list(product(range(1, n_levels + 1), repeat=5)))
    value = np.full(len(states), coef["start"])
    for d, dim in enumerate(DIMENSIONS):
        for level in range(2, n_levels + 1):
            value += coef.get(f"{dim}{level}", 0.0) * (states[:, d] == level)
    value += coef.get("any_problem", 0.0) * (states.max(axis=1) > 1)
    for level in (3, 5):
        value += coef.get(f"any_level{level}", 0.0) * (states == level).any(axis=1)
    return value


def _lookup(m: np.ndarray, value_set: str, n_levels: int) -> np.ndarray:
    complete = ~np.isnan(m).any(axis=1)
    powers = n_levels ** np.arange(4, -1, -1)
    codes = (np.where(np.isnan(m), 1.0, m).astype(np.int64) - 1) @ powers
    return np.where(complete, state_table(value_set)[codes], np.nan)


def score_matrix(m: np.ndarray, value_set: str, version: str | None = None) -> list[ScaleScores]:
    """Score a validated (n, 5) level matrix; see :func:`score`."""
    version = _resolve(version, value_set)
    n_missing = np.isnan(m).sum(axis=1).astype(np.int64)
    return [
        ScaleScores(
            scale="eq5d_index",
            score=_lookup(m, value_set, LEVELS[version]),
            n_items=5,
            n_missing=n_missing,
            imputed=np.zeros(len(m), dtype=bool),
            reason="eq5d_index: at least one dimension missing",
        )
    ]


def _levels_matrix(levels: Any, version: str) -> tuple[np.ndarray, pd.Index]:
    if isinstance(levels, pd.DataFrame) and set(DIMENSIONS) <= set(map(str, levels.columns)):
        levels = levels.rename(columns={d: i + 1 for i, d in enumerate(DIMENSIONS)})[
            [1, 2, 3, 4, 5]
        ]
    m, idx = as_matrix(levels, N_ITEMS, f"EQ-5D-{version}")
    check_values(m, idx, 1, LEVELS[version], True, f"EQ-5D-{version}")
    return m, idx


def index(levels: Any, *, version: str, value_set: str) -> pd.Series:
    """EQ-5D index value of each health state under a named value set.

    Parameters
    ----------
    levels : DataFrame or array, shape (n, 5)
        Levels 1..3 (3L) or 1..5 (5L) of MO, SC, UA, PD, AD — DataFrame columns
        1..5 or ``MO, SC, UA, PD, AD``; NaN = missing.
    version : {"3L", "5L"}
    value_set : str
        One of :data:`VALUE_SETS` and matching ``version``; required.

    Returns
    -------
    Series of float64
        Index value at full precision; NaN when any dimension is missing.

    Examples
    --------
    >>> index([[1, 2, 3, 4, 5], [1, 1, 1, 1, 1]], version="5L", value_set="SE_5L_Sun2022").round(3).tolist()
    [0.22, 1.0]
    >>> round(float(index([[3, 3, 3, 3, 3]], version="3L", value_set="UK_3L_Dolan1997").iloc[0]), 3)
    -0.594
    """
    version = _resolve(version, value_set)
    m, idx = _levels_matrix(levels, version)
    return pd.Series(_lookup(m, value_set, LEVELS[version]), index=idx, name="eq5d_index")


def score(levels: Any, *, version: str, value_set: str) -> pd.DataFrame:
    """:func:`index` in the common scores layout (columns ``(scale, field)``).

    ``n_missing`` counts missing dimensions; a state with any missing dimension
    gets no index (no imputation).
    """
    version = _resolve(version, value_set)
    m, idx = _levels_matrix(levels, version)
    return to_frame(score_matrix(m, value_set, version), idx)


def instrument_defined_mid(value_set: str) -> float:
    """Instrument-defined minimally important difference (MID) of a value set.

    The mean index gain of all *single-level transitions*: every health state
    paired with the state one level better in one dimension, all other
    dimensions unchanged.

    - EQ-5D-3L (Luo et al. 2010): transitions between level 2 and level 1
      only.  For the UK (Dolan 1997) set this gives 0.0816, Luo et al.'s
      published 0.082 (tested); counting the 3 → 2 transitions too would give
      0.15, so Luo's estimate is the level-1/2 mean.
    - EQ-5D-5L (McClure et al. 2017): every one-level transition (1↔2, …,
      4↔5).  This reproduces McClure et al.'s observation that the MID is about
      1/20 of the index range; their per-country values were not available to
      test against.

    References
    ----------
    Luo N, Johnson J, Coons SJ. Using instrument-defined health state transitions
    to estimate minimally important differences for four preference-based
    health-related quality of life instruments. Med Care 2010;48:365–371.
    doi:10.1097/MLR.0b013e3181c162a2
    McClure NS, Sayah FA, Xie F, Luo N, Johnson JA. Instrument-defined estimates
    of the minimally important difference for EQ-5D-5L index scores. Value
    Health 2017;20:644–650. doi:10.1016/j.jval.2016.11.015

    Examples
    --------
    >>> round(instrument_defined_mid("UK_3L_Dolan1997"), 4)
    0.0816
    """
    version = _resolve(None, value_set)
    n = LEVELS[version]
    table = state_table(value_set)
    states = np.array(list(product(range(1, n + 1), repeat=5)))
    powers = n ** np.arange(4, -1, -1)
    top = 2 if version == "3L" else n
    gains = []
    for d in range(5):
        worse = states[(states[:, d] > 1) & (states[:, d] <= top)]
        better = worse.copy()
        better[:, d] -= 1
        gains.append(table[(better - 1) @ powers] - table[(worse - 1) @ powers])
    return float(np.mean(np.concatenate(gains)))
