"""kureval — evaluate social-prescribing programmes.

The public API (DESIGN.md §5) is loaded lazily: ``import kureval`` does no
work, and ``kureval.prepost`` imports the self-rating module on first use.

>>> import kureval as kv
>>> kv.__version__
'0.1.0'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kureval.errors import ConfigError, DataError, KurevalError, Problem

__version__ = "0.1.0"

# public name -> "module:attribute"
_API = {
    "load_study": "kureval.api:load_study",
    "score": "kureval.api:score",
    "demo": "kureval.study.demo:generate",
    "prepost": "kureval.selfrating.prepost:prepost",
    "caseness": "kureval.selfrating.caseness:caseness",
    "longitudinal": "kureval.selfrating.longitudinal:longitudinal",
    "match_reference": "kureval.api:match_reference",
    "register_windows": "kureval.register.windows:register_windows",
    "did": "kureval.register.compare:did",
    "flow": "kureval.followup.flow:flow",
}
_SUBMODULES = {
    "study",
    "instruments",
    "selfrating",
    "reference",
    "register",
    "followup",
    "plots",
    "report",
    "errors",
    "api",
    "cli",
}

__all__ = [
    "ConfigError",
    "DataError",
    "KurevalError",
    "Problem",
    "__version__",
    *_API,
    *sorted(_SUBMODULES),
]

if TYPE_CHECKING:  # pragma: no cover
    from kureval.api import load_study, match_reference, score  # noqa: F401


def __getattr__(name: str) -> Any:
    if name in _API:
        module, attr = _API[name].split(":")
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"kureval.{name}")
    raise AttributeError(f"module 'kureval' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
