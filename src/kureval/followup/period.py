"""Selecting the persons of a reporting period (a calendar year or a date range).

Semantics
---------
``period`` picks the persons whose date in the column ``period_by`` falls in
a closed interval:

* ``None`` — everyone (no selection);
* an ``int`` such as ``2022`` — the calendar year, 2022-01-01 to 2022-12-31;
* a pair ``(start, end)`` of dates (``str`` in ISO format, ``datetime.date`` or
  ``pandas.Timestamp``), both ends included; either end may be ``None`` for an
  open interval.

``period_by`` is ``"start_date"`` (default: the cohort that started in the
period, as the yearly reports count new participants), ``"end_date"`` (those
who ended in the period — persons without an end date are outside), or
``"referral_date"`` (everyone referred in the period, including those who
never started).  A person whose date is empty is outside any period and is
counted under that reason, never dropped silently.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from kureval.errors import ConfigError, Problem

__all__ = ["PERIOD_BY", "Period", "parse_period"]

PERIOD_BY = ("start_date", "end_date", "referral_date")


@dataclass(frozen=True)
class Period:
    """A closed date interval on one participants date column."""

    start: pd.Timestamp | None
    end: pd.Timestamp | None
    by: str
    label: str

    def select(self, p: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
        """Mask of persons in the period, and the counts set aside with reasons."""
        dates = (
            pd.to_datetime(p[self.by]) if self.by in p.columns else pd.Series(pd.NaT, index=p.index)
        ).dt.normalize()
        empty = dates.isna()
        inside = ~empty
        if self.start is not None:
            inside &= dates >= self.start
        if self.end is not None:
            inside &= dates <= self.end
        outside = ~inside & ~empty
        left = pd.DataFrame(
            {
                "reason": [f"no {self.by}", f"{self.by} outside {self.label}"],
                "n": [int(empty.sum()), int(outside.sum())],
            }
        )
        return inside.fillna(False).astype(bool), left


def parse_period(period: object, period_by: str) -> Period | None:
    """Validate ``period`` and ``period_by`` (see module docstring); None means no selection."""
    problems = []
    if period_by not in PERIOD_BY:
        problems.append(
            Problem(None, None, "period_by", period_by, "one of " + ", ".join(PERIOD_BY))
        )
    if period is None:
        if problems:
            raise ConfigError(problems)
        return None
    start = end = None
    if isinstance(period, bool) or not isinstance(period, int | tuple | list):
        problems.append(
            Problem(
                None,
                None,
                "period",
                period,
                "a calendar year (int) or a pair (start, end) of dates",
            )
        )
    elif isinstance(period, int):
        if not 1900 <= period <= 2200:
            problems.append(Problem(None, None, "period", period, "a calendar year such as 2022"))
        else:
            start, end = pd.Timestamp(period, 1, 1), pd.Timestamp(period, 12, 31)
    elif len(period) != 2:
        problems.append(Problem(None, None, "period", period, "a pair (start, end)"))
    else:
        start, end = (_date(x, f"period[{i}]", problems) for i, x in enumerate(period))
        if start is not None and end is not None and start > end:
            problems.append(Problem(None, None, "period", period, "start on or before end"))
    if problems:
        raise ConfigError(problems, title="invalid reporting period")
    if isinstance(period, int):
        label = str(period)
    else:
        label = f"{_iso(start)}–{_iso(end)}"
    return Period(start, end, period_by, label)


def _date(x: object, name: str, problems: list[Problem]) -> pd.Timestamp | None:
    if x is None:
        return None
    if isinstance(x, str | dt.date | pd.Timestamp):
        try:
            ts = pd.Timestamp(x)
        except (ValueError, TypeError):
            ts = None
        if ts is not None and not pd.isna(ts):
            return ts.normalize()
    problems.append(Problem(None, None, name, x, "a date (YYYY-MM-DD) or None"))
    return None


def _iso(ts: pd.Timestamp | None) -> str:
    return "…" if ts is None else ts.date().isoformat()
