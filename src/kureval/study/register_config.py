"""``[register]`` and ``[[windows]]`` sections of study.toml: register coverage and outcome windows.

Owned by the register design (``kureval.register``).  Filled by the generic
parser in :mod:`kureval.study.config` from the type annotations; ``problems()``
adds semantic checks.

Example::

    [register]
    data_start = 2018-01-01     # first day the register tables cover
    data_end = 2024-12-31       # last day they cover; windows are truncated here
    atc_groups = ["N06A", "N05B", "N05C", "N02"]
    rtw_free_days = 30          # return to work = first run of this many days free of sick leave

    [[windows]]
    name = "pre"
    start = -365                # days relative to the index date, inclusive
    end = -1
    [[windows]]
    name = "post"
    start = 0
    end = 364

Without ``[[windows]]`` the defaults are pre −365…−1 and post 0…364.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class RegisterConfig:
    data_start: dt.date | None = None
    data_end: dt.date | None = None
    atc_groups: tuple[str, ...] = ("N06A", "N05B", "N05C", "N02")
    rtw_free_days: int = 30

    def problems(self) -> list[tuple[str, object, str]]:
        out: list[tuple[str, object, str]] = []
        if self.data_start and self.data_end and self.data_end < self.data_start:
            out.append(
                ("data_end", self.data_end, f"a date on or after data_start ({self.data_start})")
            )
        if self.rtw_free_days < 1:
            out.append(("rtw_free_days", self.rtw_free_days, "a positive number of days"))
        return out


@dataclass(frozen=True)
class WindowConfig:
    name: str
    start: int
    end: int

    def problems(self) -> list[tuple[str, object, str]]:
        if self.end < self.start:
            return [("end", self.end, f"a day on or after start ({self.start})")]
        return []


DEFAULT_WINDOWS = (WindowConfig("pre", -365, -1), WindowConfig("post", 0, 364))
