"""Questionnaire scoring: one module per instrument family, a registry of scale
metadata, and value sets / conversion tables as cited CSV data files.

Submodules load lazily (``kureval.instruments.hads`` imports on first use):
``hads``, ``eq5d``, ``who5``, ``wemwbs`` (WEMWBS and SWEMWBS), ``single``
(EQ VAS, self-rated health, Work Ability Score, pain NRS), ``ucla3``, ``k6``,
``generic``, ``registry``, ``checks``, ``score``.  See ``docs/instruments.md``.
"""

from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = (
    "hads",
    "eq5d",
    "who5",
    "wemwbs",
    "single",
    "ucla3",
    "k6",
    "generic",
    "registry",
    "checks",
    "score",
)

__all__ = list(_SUBMODULES)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"kureval.instruments.{name}")
    raise AttributeError(f"module 'kureval.instruments' has no attribute {name!r}")
