"""Participant flow of a programme follow-up, with exit destinations, provision and goals.

``flow(study)`` answers the questions of the yearly project reports that
samordningsförbund write for each programme (DESIGN.md §1, design 3): how many
were referred, started, are still ongoing, completed or dropped out; how many
answered the self-ratings at each time point and how many are in the pre/post
analysis, with the reason for every step down; where those who ended went
(exit destinations, overall and by sex); what provision they had at start; and
whether the programme's goals were met.

Every count comes from ``study.participants`` (and ``study.responses`` and the
scores for the self-rating stages); every person referred falls into exactly one
final box (not started, no end status, ongoing, completed, dropped out).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from kureval.errors import ConfigError, Problem
from kureval.followup.checks import ENDED, STARTED, check_columns, check_participants
from kureval.followup.destinations import EXIT_DESTINATIONS, PROVISIONS, category_shares
from kureval.followup.goals import check_goals, goal_table
from kureval.followup.period import parse_period
from kureval.followup.stages import FINAL_BOXES, final_box, stage_tables

__all__ = ["FINAL_BOXES", "FlowResult", "final_box", "flow"]


_VALUE_COLUMNS = {
    "n",
    "n_ended",
    "n_started",
    "share",
    "ci_low",
    "ci_high",
    "target",
    "met",
    "ci_vs_target",
    "destinations",
}


@dataclass(frozen=True, eq=False)
class FlowResult:
    """Participant flow, exit destinations, provision at start and goal attainment.

    All tables are long, at full precision (shares in [0, 1], not rounded),
    with the grouping columns ``by`` first.

    Attributes
    ----------
    by : tuple of str
        Participants columns the results are grouped by (default ``("programme",)``).
    period : str or None
        Label of the reporting period (``"2022"``, ``"2022-01-01–2022-06-30"``), None for all.
    period_by : str or None
        Date column the period selects on (see :mod:`kureval.followup.period`).
    timepoints : tuple of str
        Self-rating time points in study order.
    pre, post : str or None
        Time points of the pre/post analysis.
    min_cell : int
        Smallest count the study allows to publish (for presentation only).
    stages : DataFrame
        ``[*by, stage, timepoint, parent, final, n, n_F, n_M, n_X, n_parent, share_of_parent]``.
        Stages: ``referred``; ``not_started`` and ``started`` (of referred);
        ``ongoing``, ``no_end_status`` (status ``started``: started, no end
        status recorded) and ``ended`` (of started); ``completed`` and
        ``dropped_out`` (of ended); ``answered`` at each ``timepoint`` (started
        persons with at least one non-missing answer then); ``prepost``
        (started persons with a score on at least one scale at both ``pre``
        and ``post``).  ``final`` marks the five boxes that partition the referred.
    reasons : DataFrame
        ``[*by, stage, timepoint, reason, status, n]``: why persons did not reach
        a stage from its parent.  For ``answered``, split by status; for
        ``prepost``: ``no_answer_pre``, ``no_answer_post`` and ``not_scorable``
        (answered at both, but no scale could be scored at both).
    destinations : DataFrame
        ``[*by, sex, exit_destination, n, n_ended, share, ci_low, ci_high]`` among
        those who ended (completed + dropped out); ``sex = "all"`` and each sex;
        Wilson score 95 % CI.  Empty destination = ``"not_recorded"``.
    provision : DataFrame
        ``[*by, sex, provision_at_start, n, n_started, share, ci_low, ci_high]``
        among those who started.
    goals : DataFrame
        ``[*by, goal, goal_programme, destinations, target, n, n_ended, share,
        ci_low, ci_high, met, ci_vs_target]`` (see :mod:`kureval.followup.goals`).
    selection : DataFrame
        ``reason, n``: persons set aside by the ``period`` selection.
    exclusions : DataFrame
        The study's exclusion log (``step, table, reason, n, detail``) at the time of the call.
    """

    by: tuple[str, ...]
    period: str | None
    period_by: str | None
    timepoints: tuple[str, ...]
    pre: str | None
    post: str | None
    min_cell: int
    stages: pd.DataFrame
    reasons: pd.DataFrame
    destinations: pd.DataFrame
    provision: pd.DataFrame
    goals: pd.DataFrame
    selection: pd.DataFrame
    exclusions: pd.DataFrame

    def groups(self) -> list[tuple[Any, ...]]:
        """The group keys (values of ``by``) in table order."""
        if not self.by:
            return [()]
        keys = self.stages[list(self.by)].drop_duplicates()
        return list(keys.itertuples(index=False, name=None))

    def group_label(self, key: tuple[Any, ...]) -> str:
        """Readable label of a group key (its values joined by ' / ')."""
        return " / ".join(str(v) for v in key) if key else "all"

    def for_group(self, table: str, key: tuple[Any, ...]) -> pd.DataFrame:
        """Rows of ``table`` (e.g. ``"destinations"``) belonging to group ``key``."""
        frame: pd.DataFrame = getattr(self, table)
        mask = pd.Series(True, index=frame.index)
        for col, val in zip(self.by, key, strict=True):
            mask &= frame[col].isna() if pd.isna(val) else (frame[col] == val).fillna(False)
        return frame.loc[mask]

    def conf_int(self, table: str = "destinations") -> pd.DataFrame:
        """Wilson 95 % limits of the shares in ``table`` (destinations, provision or goals)."""
        if table not in ("destinations", "provision", "goals"):
            raise ConfigError(
                Problem(None, None, "table", table, "destinations, provision or goals")
            )
        frame: pd.DataFrame = getattr(self, table)
        keys = [c for c in frame.columns if c not in _VALUE_COLUMNS]
        return frame[[*keys, "share", "ci_low", "ci_high"]]

    @property
    def table(self) -> pd.DataFrame:
        """Counts per stage (rows) and group (columns), the programmes side by side."""
        s = self.stages.copy()
        s["row"] = [
            st if pd.isna(tp) else f"{st}:{tp}"
            for st, tp in zip(s["stage"], s["timepoint"], strict=True)
        ]
        s["group"] = (
            [
                self.group_label(tuple(r))
                for r in s[list(self.by)].itertuples(index=False, name=None)
            ]
            if self.by
            else "all"
        )
        order = list(dict.fromkeys(s["row"]))
        wide = s.pivot(index="row", columns="group", values="n").reindex(order)
        wide = wide[list(dict.fromkeys(s["group"]))]
        wide.index.name = "stage"
        wide.columns.name = None
        return wide

    def _repr_html_(self) -> str:
        head = "<h4>Participant flow"
        if self.period is not None:
            head += f" ({html.escape(self.period_by or '')} in {html.escape(self.period)})"
        head += "</h4>"
        dest = self.destinations[self.destinations["sex"] == "all"]
        parts = [
            head,
            self.table.to_html(),
            "<h4>Exit destinations among those who ended (Wilson 95 % CI)</h4>",
            dest.drop(columns="sex").to_html(index=False),
        ]
        if len(self.goals):
            parts += ["<h4>Goals</h4>", self.goals.to_html(index=False)]
        return "\n".join(parts)


def flow(
    study: Any,
    period: int | tuple[Any, Any] | None = None,
    by: Sequence[str] = ("programme",),
    *,
    period_by: str = "start_date",
    scores: pd.DataFrame | None = None,
    alpha: float = 0.05,
) -> FlowResult:
    """Participant flow, exit destinations, provision at start and goal attainment.

    Parameters
    ----------
    study : kureval.study.model.Study
        A loaded study (``participants``, ``responses``, ``config``, ``files``,
        ``exclusions``).
    period : int, (start, end) or None
        Reporting period: a calendar year (``2022``) or a closed date range
        (``("2022-01-01", "2022-06-30")``, either end may be None); None = all.
        See :mod:`kureval.followup.period` for the exact semantics.
    by : sequence of str, default ("programme",)
        Participants columns to group by, shown side by side; ``()`` for one group.
    period_by : {"start_date", "end_date", "referral_date"}, default "start_date"
        Date column ``period`` selects on.  Persons set aside are counted in
        ``result.selection`` and in ``study.exclusions`` (step ``flow``).
    scores : DataFrame, optional
        Scores as from ``kureval.score(study)``, to avoid scoring twice; by
        default they are computed with :func:`kureval.instruments.score.score_study`.
    alpha : float, default 0.05
        1 − confidence level of the Wilson intervals.

    Returns
    -------
    FlowResult

    Raises
    ------
    DataError
        Participants inconsistent with the flow (an exit destination or end date
        for a person not ended, a person who ended without an end date, a
        status that contradicts ``start_date``, unknown codes, repeated ids).
    ConfigError
        Bad ``period``/``by``, or a goal naming an unknown destination or programme.

    Notes
    -----
    "Ended" is status ``completed`` or ``dropped_out``.  Shares of exit
    destinations and goal attainment use those who ended as denominator;
    provision at start uses those who started.  Confidence intervals are Wilson
    score intervals without continuity correction (Wilson 1927; Newcombe 1998,
    method 3).
    """
    by = tuple(by)
    p = study.participants
    file = _file(study, "participants")
    check_participants(p, file)
    problems = check_columns(p, by, file, "by")
    if problems:
        raise ConfigError(problems, title="flow(by=...) names unknown columns")
    cfg = study.config
    goals = tuple(getattr(cfg, "goals", ()) or ())
    check_goals(goals, p["programme"].dropna().astype(str).unique(), _source(cfg))
    per = parse_period(period, period_by)
    selection = pd.DataFrame({"reason": pd.Series(dtype="string"), "n": pd.Series(dtype="int64")})
    if per is not None:
        mask, selection = per.select(p)
        _log(study, selection)
        p = p.loc[mask]
    groups = _groups(p, by)
    timepoints = tuple(str(x) for x in getattr(cfg, "timepoints", ()) or ())
    pre, post = getattr(cfg, "pre", None), getattr(cfg, "post", None)
    stages, reasons = stage_tables(
        p, by, groups, study.responses, timepoints, pre, post, _scores(study, scores, pre, post)
    )
    status = p["status"].astype("string")
    ended = p.loc[status.isin(ENDED).to_numpy(dtype=bool)]
    started = p.loc[status.isin(STARTED).to_numpy(dtype=bool)]
    return FlowResult(
        by=by,
        period=None if per is None else per.label,
        period_by=None if per is None else per.by,
        timepoints=timepoints,
        pre=pre,
        post=post,
        min_cell=int(getattr(cfg, "min_cell", 5)),
        stages=stages,
        reasons=reasons,
        destinations=category_shares(
            ended, "exit_destination", EXIT_DESTINATIONS, by, groups, "n_ended", alpha
        ),
        provision=category_shares(
            started, "provision_at_start", PROVISIONS, by, groups, "n_started", alpha
        ),
        goals=goal_table(ended, goals, by, groups, alpha),
        selection=selection.reset_index(drop=True),
        exclusions=_exclusions(study),
    )


def _groups(p: pd.DataFrame, by: tuple[str, ...]) -> pd.DataFrame:
    if not by:
        return pd.DataFrame(index=[0])
    return (
        p[list(by)]
        .drop_duplicates()
        .sort_values(list(by), na_position="last")
        .reset_index(drop=True)
    )


def _scores(
    study: Any, scores: pd.DataFrame | None, pre: str | None, post: str | None
) -> pd.DataFrame | None:
    if pre is None or post is None:
        return None
    if scores is not None:
        return scores
    responses = study.responses
    if responses is None or len(responses) == 0:
        return None
    from kureval.instruments.score import score_study

    scored = score_study(study)
    return scored if isinstance(scored, pd.DataFrame) else scored[0]


def _log(study: Any, selection: pd.DataFrame) -> None:
    log = getattr(study, "exclusions", None)
    if log is None:
        return
    for reason, n in zip(selection["reason"], selection["n"], strict=True):
        log.record("flow", "participants", str(reason), int(n))


def _exclusions(study: Any) -> pd.DataFrame:
    log = getattr(study, "exclusions", None)
    if log is None:
        return pd.DataFrame(columns=["step", "table", "reason", "n", "detail"])
    return log.table.copy()


def _file(study: Any, table: str) -> str | None:
    files = getattr(study, "files", None) or {}
    path = files.get(table)
    return None if path is None else getattr(path, "name", str(path))


def _source(cfg: Any) -> str:
    src = getattr(cfg, "source", None)
    return "study.toml" if src is None else getattr(src, "name", str(src))
