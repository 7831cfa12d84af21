"""Goal attainment: observed share of those who ended, against the programme's goal.

A goal (``[[goals]]`` in study.toml, :class:`kureval.study.goals_config.GoalConfig`)
names a set of exit destinations and a target share, e.g. ``work_or_studies``:
destinations ``work`` and ``studies``, target 0.30 of those who ended.  The
observed share is (persons who ended in one of the destinations) / (persons who
ended, i.e. status ``completed`` or ``dropped_out``), with a Wilson score 95 %
interval.  ``met`` compares the point estimate with the target (as the yearly
reports do); ``ci_vs_target`` says whether the whole interval lies above
(``"above"``) or below (``"below"``) the target, or includes it
(``"includes"``), so the reader can see when "met" rests on chance.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from kureval.errors import ConfigError, Problem
from kureval.followup.destinations import _group_mask
from kureval.followup.proportions import wilson_ci
from kureval.study.goals_config import EXIT_DESTINATIONS, GoalConfig

__all__ = ["goal_problems", "goal_table"]

GOAL_COLUMNS = [
    "goal",
    "goal_programme",
    "destinations",
    "target",
    "n",
    "n_ended",
    "share",
    "ci_low",
    "ci_high",
    "met",
    "ci_vs_target",
]


def goal_problems(
    goals: Iterable[GoalConfig], programmes: Iterable[str], source: str | None
) -> list[Problem]:
    """Every problem with ``goals``: unknown destination, bad target, unknown programme."""
    known = set(programmes)
    out: list[Problem] = []
    for i, goal in enumerate(goals):
        where = f"goals[{i}] ({goal.name})"
        for d in goal.destinations:
            if d not in EXIT_DESTINATIONS:
                out.append(
                    Problem(
                        source,
                        None,
                        f"{where}.destinations",
                        d,
                        "an exit destination: " + ", ".join(EXIT_DESTINATIONS),
                    )
                )
        if not goal.destinations:
            out.append(
                Problem(source, None, f"{where}.destinations", [], "at least one exit destination")
            )
        if not (isinstance(goal.target, int | float) and 0 < goal.target <= 1):
            out.append(Problem(source, None, f"{where}.target", goal.target, "a share in (0, 1]"))
        if goal.programme is not None and goal.programme not in known:
            out.append(
                Problem(
                    source,
                    None,
                    f"{where}.programme",
                    goal.programme,
                    "a programme in participants: " + ", ".join(sorted(known)),
                )
            )
    return out


def goal_table(
    ended: pd.DataFrame,
    goals: Sequence[GoalConfig],
    by: Sequence[str],
    groups: pd.DataFrame,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Observed share, Wilson CI and attainment of every goal in every group.

    A goal with a ``programme`` is evaluated on that programme's persons in each
    group that contains any of them; a goal without one on every group.

    Parameters
    ----------
    ended : DataFrame
        Persons who ended (completed or dropped out) with ``by``, ``programme``
        and ``exit_destination``.
    goals : sequence of GoalConfig
    by : sequence of str
    groups : DataFrame
        One row per group (columns ``by``); a group where the goal's programme
        has persons but none ended gets a row with NaN share and ``met`` NA.
    alpha : float
        1 − confidence level.
    """
    rows = []
    for key in groups.itertuples(index=False, name=None):
        in_group = _group_mask(ended, by, key)
        for goal in goals:
            mask = in_group
            if goal.programme is not None:
                if "programme" in by and key[list(by).index("programme")] != goal.programme:
                    continue
                mask = mask & (ended["programme"] == goal.programme).fillna(False)
            dest = ended.loc[mask, "exit_destination"].astype("string")
            hit = int(dest.isin(list(goal.destinations)).fillna(False).sum())
            rows.append(
                (
                    *key,
                    goal.name,
                    goal.programme,
                    ", ".join(goal.destinations),
                    float(goal.target),
                    hit,
                    int(mask.sum()),
                )
            )
    out = pd.DataFrame(rows, columns=[*by, *GOAL_COLUMNS[:6]])
    n = out["n"].to_numpy(dtype=float)
    d = out["n_ended"].to_numpy(dtype=float)
    out["share"] = np.where(d > 0, n / np.where(d > 0, d, 1), np.nan)
    out["ci_low"], out["ci_high"] = wilson_ci(n, d, alpha=alpha)
    target = out["target"].to_numpy(dtype=float)
    met = pd.array(
        [
            pd.NA if dd == 0 else bool(s >= t)
            for s, t, dd in zip(out["share"], target, d, strict=True)
        ],
        dtype="boolean",
    )
    out["met"] = met
    out["ci_vs_target"] = [
        pd.NA if dd == 0 else ("above" if lo >= t else "below" if hi < t else "includes")
        for lo, hi, t, dd in zip(out["ci_low"], out["ci_high"], target, d, strict=True)
    ]
    out["ci_vs_target"] = out["ci_vs_target"].astype("string")
    return out


def check_goals(goals: Sequence[GoalConfig], programmes: Iterable[str], source: str | None) -> None:
    """Raise :class:`ConfigError` listing every problem with ``goals``."""
    problems = goal_problems(goals, programmes, source)
    if problems:
        raise ConfigError(
            problems, title="programme goals in study.toml are inconsistent with the data"
        )
