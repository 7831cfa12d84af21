"""``[[goals]]`` section of study.toml: programme goals for the follow-up design.

Owned by the follow-up design (``kureval.followup``).  Filled by the generic
parser in :mod:`kureval.study.config`; ``problems()`` adds semantic checks.

Example::

    [[goals]]
    programme = "Steg framåt"          # omit to apply to every programme
    name = "work_or_studies"
    destinations = ["work", "studies"]  # exit_destination codes that count
    target = 0.30                        # share of those who ended
"""

from __future__ import annotations

from dataclasses import dataclass

from kureval.study.schema import EXIT_DESTINATIONS

__all__ = ["EXIT_DESTINATIONS", "GoalConfig"]


@dataclass(frozen=True)
class GoalConfig:
    name: str
    destinations: tuple[str, ...]
    target: float
    programme: str | None = None

    def problems(self) -> list[tuple[str, object, str]]:
        out: list[tuple[str, object, str]] = []
        for d in self.destinations:
            if d not in EXIT_DESTINATIONS:
                out.append(
                    ("destinations", d, "an exit destination: " + ", ".join(EXIT_DESTINATIONS))
                )
        if not self.destinations:
            out.append(("destinations", [], "at least one exit destination"))
        if not 0 < self.target <= 1:
            out.append(("target", self.target, "a share between 0 and 1"))
        return out
