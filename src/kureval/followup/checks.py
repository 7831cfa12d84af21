"""Consistency checks the follow-up flow relies on.

The loader (:mod:`kureval.study.schema`) validates each column on its own; the
flow additionally needs the columns to agree with each other.  Every problem
is collected and raised once as a :class:`~kureval.errors.DataError` naming the
file, the row as seen in the file, the column and the value.  Nothing is
recoded: an exit destination recorded for a person still ongoing is an error,
not a value to be dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from kureval.errors import DataError, Problem
from kureval.followup.destinations import PROVISIONS, SEXES
from kureval.study.goals_config import EXIT_DESTINATIONS

__all__ = ["ENDED", "NOT_STARTED", "STARTED", "STATUSES", "check_participants"]

STATUSES = ("referred", "started", "ongoing", "completed", "dropped_out")
NOT_STARTED = ("referred",)
STARTED = ("started", "ongoing", "completed", "dropped_out")
ENDED = ("completed", "dropped_out")
REQUIRED = ("person_id", "programme", "sex", "status")


def check_participants(p: pd.DataFrame, file: str | None) -> None:
    """Raise DataError listing every inconsistency in ``participants`` the flow depends on."""
    missing = [c for c in REQUIRED if c not in p.columns]
    if missing:
        raise DataError(
            [Problem(file, None, c, None, "a column named " + repr(c)) for c in missing],
            title="participants lack columns the follow-up needs",
        )
    rows = p["_row"] if "_row" in p.columns else pd.Series(p.index + 2, index=p.index)
    problems: list[Problem] = []

    def add(mask: pd.Series, column: str, expected: str) -> None:
        for idx in p.index[mask.fillna(False).to_numpy(dtype=bool)]:
            value = p.at[idx, column] if column in p.columns else None
            problems.append(Problem(file, _int(rows[idx]), column, _plain(value), expected))

    status = p["status"].astype("string")
    start = _col(p, "start_date")
    end = _col(p, "end_date")
    dest = _col(p, "exit_destination")
    add(
        p["person_id"].duplicated(keep=False),
        "person_id",
        "one row per person (person_id is repeated)",
    )
    add(~status.isin(STATUSES), "status", "one of " + ", ".join(STATUSES))
    add(p["programme"].isna(), "programme", "a programme name")
    add(~p["sex"].astype("string").isin(SEXES), "sex", "one of " + ", ".join(SEXES))
    add(
        status.isin(NOT_STARTED) & start.notna(),
        "start_date",
        "empty, since status is 'referred' (never started)",
    )
    add(
        status.isin(STARTED) & start.isna(),
        "start_date",
        "a start date, since the status says the person started",
    )
    add(
        status.isin(ENDED) & end.isna(),
        "end_date",
        "an end date, since the status says the person ended (completed or dropped_out)",
    )
    add(
        ~status.isin(ENDED) & status.isin(STATUSES) & end.notna(),
        "end_date",
        "empty, since the status says the person has not ended",
    )
    add(start.notna() & end.notna() & (end < start), "end_date", "a date on or after start_date")
    add(
        ~status.isin(ENDED) & status.isin(STATUSES) & dest.notna(),
        "exit_destination",
        "empty, since the status says the person has not ended (only those who completed or "
        "dropped out have an exit destination)",
    )
    add(
        dest.notna() & ~dest.astype("string").isin(EXIT_DESTINATIONS),
        "exit_destination",
        "one of " + ", ".join(EXIT_DESTINATIONS),
    )
    prov = _col(p, "provision_at_start")
    add(
        prov.notna() & ~prov.astype("string").isin(PROVISIONS),
        "provision_at_start",
        "one of " + ", ".join(PROVISIONS),
    )
    if problems:
        problems.sort(key=lambda q: (q.row if q.row is not None else -1, q.column or ""))
        raise DataError(problems, title="participants are inconsistent for the follow-up flow")


def check_columns(
    p: pd.DataFrame, columns: Iterable[str], file: str | None, what: str
) -> list[Problem]:
    """Problems for each of ``columns`` missing from ``p``."""
    return [
        Problem(file, None, c, None, f"a participants column (named in {what})")
        for c in columns
        if c not in p.columns
    ]


def _col(p: pd.DataFrame, name: str) -> pd.Series:
    return p[name] if name in p.columns else pd.Series(pd.NA, index=p.index, dtype="object")


def _int(x: object) -> int | None:
    try:
        return int(x)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def _plain(value: Any) -> object:
    if value is None or (not isinstance(value, str | list | tuple) and bool(pd.isna(value))):
        return "(empty)"
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return value
