"""The loaded study (:class:`Study`) and its exclusions log (:class:`ExclusionLog`).

See ``docs/internals.md`` for the column types every table has after loading.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from kureval.study.config import StudyConfig

__all__ = ["ExclusionLog", "Study"]

_LOG_COLUMNS = ["step", "table", "reason", "n", "detail"]
TABLE_NAMES = ("participants", "responses", "population", "visits", "sick_leave", "dispensations")


class ExclusionLog:
    """Append-only log of rows or persons set aside, with the reason.

    ``record(step, table, reason, n, detail)`` adds an entry, or replaces the
    entry with the same ``(step, table, reason)`` so that re-running a step
    does not count twice.  Entries are never removed.

    Examples
    --------
    >>> log = ExclusionLog()
    >>> log.record("scoring", "responses", "too many missing items", 3)
    >>> log.record("scoring", "responses", "too many missing items", 4)
    >>> log.table[["step", "reason", "n"]].values.tolist()
    [['scoring', 'too many missing items', 4]]
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, str], tuple[int, str]] = {}

    def record(self, step: str, table: str, reason: str, n: int, detail: str = "") -> None:
        """Add (or replace) the entry ``(step, table, reason)`` with count ``n``.

        Parameters
        ----------
        step : str
            Pipeline step, e.g. ``"load"``, ``"scoring"``, ``"reference"``.
        table : str
            Table (or unit) concerned, e.g. ``"responses"``, ``"participants"``.
        reason : str
            Why the rows were set aside, in words a reader understands.
        n : int
            How many rows (or persons) were set aside; ≥ 0.
        detail : str, optional
            Free text, e.g. the rule applied.
        """
        if isinstance(n, bool) or int(n) != n or n < 0:
            raise ValueError(f"n must be a whole number ≥ 0, got {n!r}")
        self._entries[(str(step), str(table), str(reason))] = (int(n), str(detail))

    @property
    def table(self) -> pd.DataFrame:
        """Entries in the order first recorded: ``step, table, reason, n, detail``."""
        rows = [(*key, n, detail) for key, (n, detail) in self._entries.items()]
        df = pd.DataFrame(rows, columns=_LOG_COLUMNS)
        return df.astype({"n": "int64"})

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"ExclusionLog({len(self)} entries)"

    def _repr_html_(self) -> str:
        return self.table.to_html(index=False)


@dataclass(frozen=True, eq=False)  # tables are DataFrames: compare them explicitly
class Study:
    """A validated study folder (see ``docs/internals.md``).

    Attributes
    ----------
    path : Path
        The study folder.
    config : StudyConfig
        Parsed ``study.toml``.
    participants : DataFrame
        One row per referred person; every contract column present (absent
        optional columns are all-missing), typed, plus ``_row``.
    responses : DataFrame
        Long: ``person_id, timepoint, date, instrument, item, value`` plus ``_row``.
    population, visits, sick_leave, dispensations : DataFrame or None
        Register tables; None when the study has no such table.
    files : Mapping[str, Path]
        Table name → file read.
    exclusions : ExclusionLog
        What later steps set aside and why (loading removes no row).
    notes : tuple of str
        Things the reader should know about how the files were read (e.g. a
        CSV file that was not UTF-8 and was read as Windows-1252).
    """

    path: Path
    config: StudyConfig
    participants: pd.DataFrame
    responses: pd.DataFrame
    population: pd.DataFrame | None = None
    visits: pd.DataFrame | None = None
    sick_leave: pd.DataFrame | None = None
    dispensations: pd.DataFrame | None = None
    files: Mapping[str, Path] = field(default_factory=dict)
    exclusions: ExclusionLog = field(default_factory=ExclusionLog)
    notes: tuple[str, ...] = ()

    @property
    def has_register(self) -> bool:
        """True when the study has register tables (at least ``population``)."""
        return self.population is not None

    def table(self, name: str) -> pd.DataFrame | None:
        """The table called ``name`` (``"participants"``, ``"visits"``, …)."""
        if name not in TABLE_NAMES:
            raise KeyError(f"no table {name!r}; the tables are {', '.join(TABLE_NAMES)}")
        return getattr(self, name)

    def _repr_html_(self) -> str:
        return "<pre>" + html.escape(self.summary()) + "</pre>"

    def summary(self) -> str:
        """A readable summary: tables and rows, programmes, time points,
        instruments, register coverage and notes (what ``kureval validate`` prints)."""
        cfg = self.config
        lines = [
            f"Study: {cfg.name}",
            f"Folder: {self.path}",
            f"Language: {cfg.language}; smallest published count (min_cell): {cfg.min_cell}",
            "",
            "Tables:",
        ]
        for name, file in self.files.items():
            df = self.table(name)
            lines.append(
                f"  {name:<14} {0 if df is None else len(df):>9} rows  {_label(self.path, file)}"
            )
        part, resp = self.participants, self.responses
        lines += ["", "Programmes (participants; status):"]
        for prog, grp in part.groupby("programme", sort=True):
            lines.append(f"  {prog}: {len(grp)} ({_counts(grp['status'])})")
        pre = f"pre = {cfg.pre}" + (f", post = {cfg.post}" if cfg.post else "")
        lines += ["", f"Time points: {', '.join(cfg.timepoints)} ({pre})"]
        if len(resp):
            persons = resp.groupby("timepoint", observed=False)["person_id"].nunique()
            lines.append(
                "  persons with answers: " + ", ".join(f"{k}: {v}" for k, v in persons.items())
            )
        used = sorted(set(resp["instrument"].dropna())) if len(resp) else []
        lines.append(f"Instruments declared: {', '.join(cfg.instruments) or '(none)'}")
        lines.append(f"Instruments answered: {', '.join(used) or '(none)'}")
        if len(resp):
            n_missing = int(resp["value"].isna().sum())
            lines.append(f"  empty answers (missing values): {n_missing} of {len(resp)}")
        lines += ["", *self._register_lines()]
        if self.notes:
            lines += ["", "Notes:", *(f"  - {n}" for n in self.notes)]
        return "\n".join(lines)

    def _register_lines(self) -> list[str]:
        pop = self.population
        if pop is None:
            return ["Register: none (no register/ tables)"]
        lines = [f"Register: {len(pop)} persons in population"]
        ref = self.config.reference
        if ref is not None:
            mine = self.participants[self.participants["programme"] == ref.programme]
            inside = int(mine["person_id"].isin(pop["person_id"]).sum())
            lines.append(
                f"  participants of {ref.programme!r} found in population: {inside} of {len(mine)}"
            )
        for name, col in (
            ("visits", "date"),
            ("sick_leave", "start_date"),
            ("dispensations", "date"),
        ):
            df = self.table(name)
            if df is not None and len(df):
                lines.append(
                    f"  {name}: {len(df)} rows, {df['person_id'].nunique()} persons, "
                    f"{df[col].min().date()} to {df[col].max().date()}"
                )
        return lines

    def __repr__(self) -> str:
        reg = "with register" if self.has_register else "no register"
        return (
            f"Study({self.config.name!r}: {len(self.participants)} participants, "
            f"{len(self.responses)} responses, {reg})"
        )


def _counts(values: pd.Series) -> str:
    vc = values.value_counts(dropna=False, sort=False)
    return ", ".join(f"{'(missing)' if k is None or k != k else k}: {n}" for k, n in vc.items())


def _label(folder: Path, path: Path) -> str:
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return str(path)
