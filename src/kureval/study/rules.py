"""Row-level and cross-table rules of the data contract (stage 2 of validation).

:func:`check_study` runs on the typed tables that :func:`kureval.study.schema.coerce_table`
made, and returns every problem found (never raises, never drops a row):
duplicate ``person_id``; ids that look like Swedish personal identity
numbers; birth years before 1900 or in the future; date order (referral ≤
start ≤ end, admission ≤ discharge, spell start ≤ end, register entry ≤
exit); sessions attended ≤ offered; status consistent with the dates and the exit
destination (``referred`` = no start date; any other status = a start date;
an end date and an exit destination only for ``completed``/``dropped_out``,
who must have an end date); answers for undeclared time points or instruments, for unknown
persons, or twice for the same person × time point × instrument × item;
register events for persons outside ``register/population``; negative DDD;
and study.toml settings that name programmes absent from the data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kureval.errors import Problem
from kureval.study.schema import (
    ABSENT,
    ProblemSink,
    isin,
    looks_like_personnummer,
    plain_value,
)
from kureval.study.schema import (
    STATUS as STATUSES,
)

if TYPE_CHECKING:  # pragma: no cover
    from kureval.study.config import StudyConfig

__all__ = ["ENDED", "check_study"]

ENDED = ("completed", "dropped_out")


def _ids(df: pd.DataFrame, sink: ProblemSink, unique: bool) -> None:
    pid = df["person_id"]
    sink.add_rows(
        df,
        looks_like_personnummer(pid).to_numpy(),
        "person_id",
        pid,
        "a pseudonymous id, not a personal identity number (personnummer): "
        "replace it by a study id (löpnummer) before the data enter the study",
    )
    if unique:
        dup = pid.notna() & pid.duplicated(keep="first")
        if dup.any():
            first = df.loc[pid.notna()].drop_duplicates("person_id").set_index("person_id")["_row"]
            for i in np.flatnonzero(dup.to_numpy()):
                v = pid.iloc[i]
                sink.problems.append(
                    Problem(
                        sink.file,
                        int(df["_row"].iloc[i]),
                        sink.col("person_id"),
                        v,
                        f"each person_id once (also on row {int(first[v])})",
                    )
                )


def _order(
    df: pd.DataFrame, sink: ProblemSink, early: str, late: str, what: str, rel: str = "on or after"
) -> None:
    if early in df and late in df:
        bad = (df[late] < df[early]).fillna(False).to_numpy(dtype=bool)
        for i in np.flatnonzero(bad):
            sink.problems.append(
                Problem(
                    sink.file,
                    int(df["_row"].iloc[i]),
                    sink.col(late),
                    plain_value(df[late].iloc[i]),
                    f"{what} {rel} {sink.col(early)} ({plain_value(df[early].iloc[i])})",
                )
            )


def _known(df: pd.DataFrame, sink: ProblemSink, column: str, known: Any, expected: str) -> None:
    s = df[column]
    sink.add_rows(df, s.notna().to_numpy() & ~isin(s, known), column, s, expected)


def _birth_year(df: pd.DataFrame, sink: ProblemSink, today: dt.date) -> None:
    by = df["birth_year"]
    bad = (by.notna() & ((by > today.year) | (by < 1900))).fillna(False).to_numpy(dtype=bool)
    sink.add_rows(
        df, bad, "birth_year", by.astype(object), f"a year of birth between 1900 and {today.year}"
    )


def _participants(df: pd.DataFrame, sink: ProblemSink, today: dt.date) -> None:
    _ids(df, sink, unique=True)
    _birth_year(df, sink, today)
    _order(df, sink, "referral_date", "start_date", "a start date")
    _order(df, sink, "start_date", "end_date", "an end date")
    _order(
        df,
        sink,
        "sessions_attended",
        "sessions_offered",
        "a number of sessions offered",
        "at least",
    )
    for col in ("sessions_offered", "sessions_attended"):
        s = df[col]
        sink.add_rows(
            df, (s < 0).fillna(False).to_numpy(dtype=bool), col, s.astype(object), "a count ≥ 0"
        )
    _status_consistency(df, sink)


def _status_consistency(df: pd.DataFrame, sink: ProblemSink) -> None:
    """Status agrees with start_date, end_date and exit_destination (the follow-up
    flow relies on it); a rule on a column applies only when the file has it."""
    absent = set(df.attrs.get(ABSENT, ()))
    status = df["status"]
    ended = isin(status, ENDED)
    known = isin(status, STATUSES)
    rules = [
        (
            "start_date",
            isin(status, ("referred",)) & df["start_date"].notna().to_numpy(),
            "no start date while status is {status!r} (the person never started)",
        ),
        (
            "start_date",
            known & ~isin(status, ("referred",)) & df["start_date"].isna().to_numpy(),
            "a start date, since status {status!r} says the person started",
        ),
        (
            "end_date",
            ended & df["end_date"].isna().to_numpy(),
            "an end date, since status {status!r} says the person ended",
        ),
        (
            "end_date",
            known & ~ended & df["end_date"].notna().to_numpy(),
            "no end date while status is {status!r} (only persons who ended have one)",
        ),
        (
            "exit_destination",
            known & ~ended & df["exit_destination"].notna().to_numpy(),
            "no exit destination while status is {status!r} (only persons who ended have one)",
        ),
    ]
    for column, mask, expected in rules:
        if column in absent:
            continue
        for i in np.flatnonzero(mask):
            value = plain_value(df[column].iloc[i])
            text = expected.format(status=status.iloc[i])
            sink.problems.append(
                Problem(sink.file, int(df["_row"].iloc[i]), sink.col(column), value, text)
            )


def _responses(
    df: pd.DataFrame, sink: ProblemSink, config: StudyConfig, persons: pd.Series | None
) -> None:
    _ids(df, sink, unique=False)
    _known(
        df,
        sink,
        "timepoint",
        config.timepoints,
        "a time point declared in study.toml [timepoints] order: " + ", ".join(config.timepoints),
    )
    _known(
        df,
        sink,
        "instrument",
        list(config.instruments),
        "an instrument declared in study.toml as [instruments.<name>]: "
        + (", ".join(config.instruments) or "(none declared)"),
    )
    if persons is not None:
        _known(df, sink, "person_id", persons, "a person_id present in participants")
    sink.add_rows(
        df,
        (df["item"] < 1).fillna(False).to_numpy(dtype=bool),
        "item",
        df["item"].astype(object),
        "an item number ≥ 1",
    )
    key = ["person_id", "timepoint", "instrument", "item"]
    complete = df[key].notna().all(axis=1)
    dup = complete & df.duplicated(key, keep=False)
    if dup.any():
        sub = df.loc[dup]
        first = sub.groupby(key, sort=False, dropna=False)["_row"].transform("min")
        for i, (r, f) in enumerate(zip(sub["_row"], first, strict=True)):
            if r != f:
                row = sub.iloc[i]
                sink.problems.append(
                    Problem(
                        sink.file,
                        int(r),
                        sink.col("item"),
                        int(row["item"]),
                        f"one answer per person × time point × instrument × item (same as row {int(f)}: "
                        f"{row['person_id']}, {row['timepoint']}, {row['instrument']})",
                    )
                )


def _register(
    name: str, df: pd.DataFrame, sink: ProblemSink, persons: pd.Series | None, today: dt.date
) -> None:
    if name == "population":
        _ids(df, sink, unique=True)
        _birth_year(df, sink, today)
        _order(df, sink, "in_register_from", "exit_date", "an exit date")
        return
    _ids(df, sink, unique=False)
    if persons is not None:
        _known(df, sink, "person_id", persons, "a person_id present in register/population")
    if name == "visits":
        _order(df, sink, "date", "discharge_date", "a discharge date")
    elif name == "sick_leave":
        _order(df, sink, "start_date", "end_date", "an end date")
    elif name == "dispensations":
        d = df["ddd"]
        sink.add_rows(
            df, (d < 0).to_numpy(dtype=bool), "ddd", d.astype(object), "a number of DDD ≥ 0"
        )


def _identity_columns(df: pd.DataFrame, sink: ProblemSink) -> None:
    """One problem per column other than person_id that holds personal identity numbers."""
    for col in df.columns:
        if col in ("person_id", "_row") or not pd.api.types.is_string_dtype(df[col]):
            continue
        hit = looks_like_personnummer(df[col]).to_numpy()
        if hit.any():
            i = int(np.flatnonzero(hit)[0])
            expected = (
                f"no personal identity numbers (personnummer) in the data: {int(hit.sum())} "
                f"value(s) in this column look like one, the first on row {int(df['_row'].iloc[i])}; "
                "remove the column or pseudonymise it"
            )
            sink.problems.append(Problem(sink.file, None, sink.col(col), None, expected))


def check_study(
    tables: Mapping[str, pd.DataFrame],
    config: StudyConfig,
    files: Mapping[str, str],
    colnames: Mapping[str, Mapping[str, str]] | None = None,
    today: dt.date | None = None,
) -> list[Problem]:
    """Row-level and cross-table rules on typed tables (stage 2).

    Parameters
    ----------
    tables : Mapping[str, DataFrame]
        Typed tables by contract name (as returned by :func:`coerce_table`);
        absent tables are skipped.
    config : StudyConfig
        Declares time points, instruments, goals and the reference programme.
    files : Mapping[str, str]
        Table name → file name used in problems.
    colnames : Mapping, optional
        Table name → (contract name → column name in the file).
    today : date, optional
        For "birth year in the future"; default today.
    """
    today = today or dt.date.today()
    colnames = colnames or {}
    problems: list[Problem] = []

    def sink(name: str) -> ProblemSink:
        return ProblemSink(files[name], colnames.get(name))

    part = tables.get("participants")
    pop = tables.get("population")
    persons = part["person_id"] if part is not None else None
    register_persons = pop["person_id"] if pop is not None else None
    for name, df in tables.items():
        s = sink(name)
        if name == "participants":
            _participants(df, s, today)
        elif name == "responses":
            _responses(df, s, config, persons)
        else:
            _register(name, df, s, register_persons, today)
        _identity_columns(df, s)
        problems += s.problems
    if part is not None:
        problems += _config_vs_data(part, pop, config, sink("participants"))
    return problems


def _config_vs_data(
    part: pd.DataFrame, pop: pd.DataFrame | None, config: StudyConfig, sink: ProblemSink
) -> list[Problem]:
    out: list[Problem] = []
    programmes = set(part["programme"].dropna())
    shown = ", ".join(sorted(programmes)) or "(none)"
    for i, goal in enumerate(config.goals):
        if goal.programme is not None and goal.programme not in programmes:
            out.append(
                Problem(
                    "study.toml",
                    None,
                    f"goals[{i}].programme",
                    goal.programme,
                    f"a programme found in participants: {shown}",
                )
            )
    ref = config.reference
    if ref is not None and ref.programme not in programmes:
        out.append(
            Problem(
                "study.toml",
                None,
                "reference.programme",
                ref.programme,
                f"a programme found in participants: {shown}",
            )
        )
    elif ref is not None and pop is not None:
        mask = (part["programme"] == ref.programme).to_numpy() & ~isin(
            part["person_id"], pop["person_id"]
        )
        sink.add_rows(
            part,
            mask,
            "person_id",
            part["person_id"],
            f"a participant of {ref.programme!r} (the register design) present in register/population",
        )
        out += sink.problems
    return out
