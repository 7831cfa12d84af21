"""The long responses table as integer codes and float arrays, computed once.

Validation (:mod:`kureval.instruments.checks`) and scoring
(:mod:`kureval.instruments.score`) both work on these arrays, so a million
rows are factorised once and no string column is compared element by element.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Encoded", "encode"]


@dataclass(frozen=True)
class Encoded:
    """Codes of ``study.responses`` (all arrays have one entry per row).

    ``person`` indexes ``persons`` (sorted), ``tp`` indexes ``timepoints`` (study
    order), ``inst`` indexes ``instruments``; −1 = missing.  ``item`` and
    ``value`` are float (NaN = missing or not a number); ``value_text`` is True
    where a non-empty value could not be read as a number.
    """

    person: np.ndarray
    persons: pd.Index
    tp: np.ndarray
    timepoints: pd.Index
    inst: np.ndarray
    instruments: pd.Index
    item: np.ndarray
    value: np.ndarray
    value_text: np.ndarray
    rows: np.ndarray

    def instrument_mask(self, code: str) -> np.ndarray:
        """Rows of instrument ``code``."""
        k = self.instruments.get_indexer(pd.Index([code]))[0]
        return self.inst == k if k >= 0 else np.zeros(len(self.inst), dtype=bool)


def _numeric(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        x = s.to_numpy(dtype=float, na_value=np.nan)
        return x, np.zeros(len(x), dtype=bool)
    x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    text = (
        np.isnan(x)
        & s.notna().to_numpy()
        & (s.astype("string").str.strip() != "").to_numpy(dtype=bool, na_value=False)
    )
    return x, text


def _timepoints(tp: pd.Series, order: Any) -> tuple[np.ndarray, pd.Index]:
    if isinstance(tp.dtype, pd.CategoricalDtype):
        return tp.cat.codes.to_numpy().astype(np.int64), tp.cat.categories
    order = list(order or [])
    seen = [t for t in pd.unique(tp.dropna()) if t not in order]
    cats = pd.Index(order + sorted(seen, key=str))
    return cats.get_indexer(tp).astype(np.int64), cats


def encode(study: Any) -> Encoded:
    """Encode ``study.responses`` (see :class:`Encoded`)."""
    r = study.responses
    config = getattr(study, "config", None)
    person, persons = pd.factorize(r["person_id"].astype("str"), sort=True)
    tp, tcats = _timepoints(r["timepoint"], getattr(config, "timepoints", ()))
    inst, instruments = pd.factorize(r["instrument"].astype("str"))
    item, _ = _numeric(r["item"])
    value, text = _numeric(r["value"])
    rows = r["_row"].to_numpy() if "_row" in r.columns else np.arange(len(r)) + 2
    return Encoded(
        person.astype(np.int64),
        pd.Index(persons),
        tp,
        tcats,
        inst.astype(np.int64),
        pd.Index(instruments),
        item,
        value,
        text,
        rows,
    )
