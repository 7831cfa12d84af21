"""Errors kureval raises for bad input.

Every user error is a :class:`DataError` (the data) or a :class:`ConfigError`
(``study.toml`` or a keyword argument).  Both carry **all** problems found, not
just the first, as :class:`Problem` records naming file, row, column, the bad
value and what was expected.  ``str(err)`` is a readable, complete message, so
no user has to read a traceback to learn what is wrong.

Row numbers
-----------
``row`` is the row as a person sees it in the file: in a CSV the line number
(the header is line 1, so the first data row is 2); in an Excel sheet the sheet's
row number; in SPSS and Parquet files, which have no header line, the record
number plus one, so that the same convention holds.  ``row=None`` means the
problem concerns the whole file or column.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["ConfigError", "DataError", "KurevalError", "Problem"]

_MAX_SHOWN = 200


@dataclass(frozen=True)
class Problem:
    """One problem found in the input.

    Attributes
    ----------
    file : str or None
        File name (relative to the study folder when there is one).
    row : int or None
        Row as seen in the file (see module docstring); None for whole-file problems.
    column : str or None
        Column (or, for ``study.toml``, the dotted key) concerned.
    value : object
        The offending value, as read.  ``None`` when there is none (missing file).
    expected : str
        What was expected instead, in words.
    """

    file: str | None
    row: int | None
    column: str | None
    value: Any
    expected: str

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(str(self.file))
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column!r}")
        place = ", ".join(where) if where else "input"
        if self.value is None:
            return f"{place}: expected {self.expected}"
        return f"{place}: value {_show(self.value)} — expected {self.expected}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class KurevalError(Exception):
    """Base class of every error kureval raises on purpose."""


class _ProblemsError(KurevalError, ValueError):
    kind = "problem"

    def __init__(self, problems: Iterable[Problem] | Problem | str, title: str | None = None):
        if isinstance(problems, str):
            problems = [Problem(None, None, None, None, problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.title = title
        super().__init__(self._message())

    def _message(self) -> str:
        n = len(self.problems)
        head = self.title or f"{n} {self.kind}{'s' if n != 1 else ''} found"
        if self.title:
            head = f"{head} ({n} {self.kind}{'s' if n != 1 else ''})"
        lines = [head + ":"]
        for p in self.problems[:_MAX_SHOWN]:
            lines.append(f"  - {p}")
        if n > _MAX_SHOWN:
            lines.append(f"  ... and {n - _MAX_SHOWN} more (see the .problems attribute)")
        return "\n".join(lines)

    def to_frame(self):  # pragma: no cover - thin convenience
        """All problems as a DataFrame (file, row, column, value, expected)."""
        import pandas as pd

        return pd.DataFrame([p.__dict__ for p in self.problems])


class DataError(_ProblemsError):
    """The study's data break the data contract (DESIGN.md §4)."""

    kind = "data problem"


class ConfigError(_ProblemsError):
    """``study.toml`` or an argument is invalid."""

    kind = "configuration problem"
