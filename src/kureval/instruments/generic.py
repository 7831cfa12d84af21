"""Generic scales declared in study.toml (``type = "generic"``).

For local scales without a published scoring manual, e.g. a samordningsförbund's
1–10 "steps" self-rating::

    [instruments.steg]
    type = "generic"
    items = 1                 # number of items, numbered 1..items
    min = 1                   # smallest allowed answer of every item
    max = 10                  # largest allowed answer
    higher_is_better = true
    method = "sum"            # "sum" (default) or "mean"
    max_missing = 0           # items that may be missing (default 0)
    integer = true            # answers must be whole numbers (default true)
    mcid = 1.0                # optional: minimal important change, score units
    reliability = 0.8         # optional: reliability for the RCI
    label = "Steps to work"   # optional: display name (both languages)

The scale takes the instrument's name.  ``sum`` ranges ``items·min … items·max``;
with missing items (at most ``max_missing``) it is prorated as mean × items,
*not* rounded (a declared scale has no integer bands or tables to serve).
``mean`` ranges ``min … max`` and is the mean of the answered items.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kureval.errors import ConfigError, Problem
from kureval.instruments._core import ScaleScores, as_matrix, check_values, prorated_sum, to_frame

__all__ = [
    "GenericScale",
    "OPTION_KEYS",
    "option_problems",
    "score",
    "score_matrix",
    "spec_from_options",
]

REQUIRED = ("type", "items", "min", "max", "higher_is_better")
OPTION_KEYS = (*REQUIRED, "method", "max_missing", "integer", "mcid", "reliability", "label")


@dataclass(frozen=True)
class GenericScale:
    """A declared scale (see module docstring for the meaning of each field)."""

    name: str
    items: int
    min: float
    max: float
    higher_is_better: bool
    method: str = "sum"
    max_missing: int = 0
    integer: bool = True
    mcid: float | None = None
    reliability: float | None = None
    label: str | None = None

    @property
    def score_range(self) -> tuple[float, float]:
        """(lowest, highest) possible score."""
        if self.method == "sum":
            return self.items * self.min, self.items * self.max
        return self.min, self.max


def _is_num(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def option_problems(name: str, options: Mapping[str, Any], where: str = "") -> list[Problem]:
    """Every problem with a generic declaration (key paths ``instruments.<name>.<key>``)."""
    key = f"instruments.{name}."
    out = [
        Problem(where or None, None, key + k, None, f"'{k}' (required for a generic scale)")
        for k in REQUIRED
        if k not in options
    ]
    for k, v in options.items():
        if k not in OPTION_KEYS:
            out.append(
                Problem(
                    where or None,
                    None,
                    key + k,
                    v,
                    "a generic-scale option: " + ", ".join(OPTION_KEYS),
                )
            )
    checks = {
        "items": (
            lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
            "a whole number ≥ 1",
        ),
        "min": (_is_num, "a number"),
        "max": (_is_num, "a number"),
        "higher_is_better": (lambda v: isinstance(v, bool), "true or false"),
        "method": (lambda v: v in ("sum", "mean"), '"sum" or "mean"'),
        "integer": (lambda v: isinstance(v, bool), "true or false"),
        "mcid": (lambda v: _is_num(v) and v > 0, "a positive number (score units)"),
        "reliability": (lambda v: _is_num(v) and 0 < v < 1, "a number between 0 and 1"),
        "label": (lambda v: isinstance(v, str), "a text"),
    }
    for k, (ok, expected) in checks.items():
        if k in options and not ok(options[k]):
            out.append(Problem(where or None, None, key + k, options[k], expected))
    mm = options.get("max_missing", 0)
    n = options.get("items")
    if not (
        isinstance(mm, int)
        and not isinstance(mm, bool)
        and mm >= 0
        and (not isinstance(n, int) or mm < n)
    ):
        out.append(
            Problem(
                where or None, None, key + "max_missing", mm, "a whole number from 0 to items − 1"
            )
        )
    lo, hi = options.get("min"), options.get("max")
    if (
        isinstance(lo, int | float)
        and isinstance(hi, int | float)
        and _is_num(lo)
        and _is_num(hi)
        and lo >= hi
    ):
        out.append(
            Problem(where or None, None, key + "max", hi, f"a number greater than min ({lo})")
        )
    return out


def spec_from_options(name: str, options: Mapping[str, Any]) -> GenericScale:
    """Build a :class:`GenericScale` from study.toml options (ConfigError if invalid)."""
    problems = option_problems(name, options)
    if problems:
        raise ConfigError(problems, title=f"generic scale {name!r}")
    fields = {k: v for k, v in options.items() if k != "type"}
    if isinstance(fields.get("mcid"), Mapping):  # pragma: no cover - rejected above
        fields["mcid"] = fields["mcid"].get(name)
    return GenericScale(name=name, **fields)


def score_matrix(m: np.ndarray, spec: GenericScale) -> list[ScaleScores]:
    """Score a validated (n, items) matrix; see :func:`score`."""
    s, n_missing, imputed = prorated_sum(m, spec.max_missing, integer=False)
    if spec.method == "mean":
        s = s / spec.items
    reason = (
        f"{spec.name}: item missing"
        if spec.max_missing == 0
        else f"{spec.name}: more than {spec.max_missing} of {spec.items} items missing"
    )
    return [ScaleScores(spec.name, s, spec.items, n_missing, imputed, reason=reason)]


def score(items: Any, spec: GenericScale) -> pd.DataFrame:
    """Score a declared scale.

    Parameters
    ----------
    items : DataFrame or array, shape (n, spec.items)
        Answers within ``spec.min … spec.max``.
    spec : GenericScale
        The declaration.

    Returns
    -------
    DataFrame
        Columns ``(spec.name, field)``.  ``sum``: sum of the items, prorated
        (mean of answered × items, unrounded) when 1..max_missing are missing;
        ``mean``: mean of the answered items.

    Examples
    --------
    >>> spec = GenericScale("steps", items=2, min=1, max=10, higher_is_better=True, max_missing=1)
    >>> score([[3, 4], [5, None]], spec)["steps", "score"].tolist()
    [7.0, 10.0]
    """
    m, index = as_matrix(items, spec.items, spec.name)
    check_values(m, index, spec.min, spec.max, spec.integer, spec.name)
    return to_frame(score_matrix(m, spec), index)
