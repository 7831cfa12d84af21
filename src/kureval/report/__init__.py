"""The report: presentation (labels, privacy, tables) and delivery (build).

Submodules are imported on first use (PEP 562), so ``import kureval.report``
does no work.  ``kureval.report.build`` is the builder's module, and calling
it builds a report, as in DESIGN.md §5::

    kv.report.build("data/raw/demo", "reports/demo", lang="en")
    # same as kureval.report.build.build(...)

The module also holds ``save_figure`` and ``save_table`` for the notebooks.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["build", "labels", "privacy", "tables"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return importlib.import_module(f"kureval.report.{name}")
    raise AttributeError(f"module 'kureval.report' has no attribute {name!r}")
