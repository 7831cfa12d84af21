"""Table specifications of the data contract (DESIGN.md §4) and their checks.

Two stages, both returning :class:`~kureval.errors.Problem` lists (never
raising, never dropping a row):

1. :func:`coerce_table` turns a raw table (contract column names, values as
   read: text, numbers or dates) into typed columns — ``person_id`` text,
   dates ``datetime64[ns]``, counts ``Int64``, measurements ``float64``,
   codes text — and lists every cell that does not parse or is not allowed.
2. :func:`kureval.study.rules.check_study` runs the row-level and
   cross-table rules (duplicates, personal identity numbers, date order,
   unknown persons, time points and instruments, …) on the typed tables.

A problem names the file, the row as seen in the file (``_row``), the
column as named in the file, the value and what was expected.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kureval.errors import Problem

if TYPE_CHECKING:  # pragma: no cover
    from kureval.study.config import StudyConfig

__all__ = [
    "TABLES",
    "ColumnSpec",
    "TableSpec",
    "coerce_table",
    "looks_like_personnummer",
]

SEX = ("F", "M", "X")
STATUS = ("referred", "started", "completed", "dropped_out", "ongoing")
PROVISION = (
    "financial_assistance",
    "sickness_benefit",
    "activity_compensation",
    "sickness_compensation",
    "none",
    "other",
    "unknown",
)
EXIT_DESTINATIONS = (
    "work",
    "studies",
    "job_seeking",
    "fk_af_collaboration",
    "continued_rehab",
    "health_deteriorated",
    "moved",
    "parental_leave",
    "other",
    "unknown",
)
CARE_TYPES = (
    "primary_care",
    "specialist",
    "psychiatry_outpatient",
    "psychiatry_inpatient",
    "emergency",
)
EXTENTS = (25.0, 50.0, 75.0, 100.0)
MISSING_MARKERS = ("", "NA")
#: ``DataFrame.attrs`` key listing the optional columns that were not in the file
ABSENT = "kureval_absent_columns"
_ICD10 = r"[A-Za-z]\d{2}(\.?[0-9A-Za-z]{0,4})"
_ATC = r"[A-Z](\d{2}([A-Z]([A-Z](\d{2})?)?)?)?"
_DATE_MIN, _DATE_MAX = pd.Timestamp("1900-01-01"), pd.Timestamp("2100-12-31")

# 12 or 10 digits, date part plausible (day + 60 = samordningsnummer), optional - or + or space
_MONTH = r"(0[1-9]|1[0-2])"
_DAY = r"(0[1-9]|[12]\d|3[01]|6[1-9]|[78]\d|9[01])"
PERSONNUMMER = rf"\s*((19|20)\d{{2}}|\d{{2}}){_MONTH}{_DAY}[-+ ]?\d{{4}}\s*"


@dataclass(frozen=True)
class ColumnSpec:
    """One contract column.

    ``kind`` is ``"id"`` / ``"text"`` (str), ``"date"`` (datetime64[ns]),
    ``"int"`` (Int64) or ``"float"`` (float64).  ``required``: the column must
    exist; ``nullable``: empty cells are allowed.  ``allowed``: the codes a
    text column (or the values a number column) may take.
    """

    name: str
    kind: str
    required: bool = False
    nullable: bool = True
    allowed: tuple[Any, ...] | None = None
    pattern: str | None = None
    pattern_text: str = ""


@dataclass(frozen=True)
class TableSpec:
    """A contract table: name, columns, and whether it lives under ``register/``."""

    name: str
    columns: tuple[ColumnSpec, ...]
    register: bool = False

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


def _req(name: str, kind: str, **kw: Any) -> ColumnSpec:
    return ColumnSpec(name, kind, required=True, nullable=kw.pop("nullable", False), **kw)


TABLES: dict[str, TableSpec] = {
    "participants": TableSpec(
        "participants",
        (
            _req("person_id", "id"),
            _req("programme", "text"),
            _req("sex", "text", allowed=SEX),
            _req("birth_year", "int"),
            _req("referral_date", "date"),
            _req("status", "text", allowed=STATUS),
            ColumnSpec("site", "text"),
            ColumnSpec("cohort", "text"),
            ColumnSpec("referrer", "text"),
            ColumnSpec("start_date", "date"),
            ColumnSpec("end_date", "date"),
            ColumnSpec("sessions_offered", "int"),
            ColumnSpec("sessions_attended", "int"),
            ColumnSpec("diagnosis_group", "text"),
            ColumnSpec("provision_at_start", "text", allowed=PROVISION),
            ColumnSpec("exit_destination", "text", allowed=EXIT_DESTINATIONS),
        ),
    ),
    "responses": TableSpec(
        "responses",
        (
            _req("person_id", "id"),
            _req("timepoint", "text"),
            ColumnSpec("date", "date"),
            _req("instrument", "text"),
            _req("item", "int"),
            _req("value", "float", nullable=True),
        ),
    ),
    "population": TableSpec(
        "population",
        (
            _req("person_id", "id"),
            _req("sex", "text", allowed=SEX),
            _req("birth_year", "int"),
            ColumnSpec("municipality", "text"),
            ColumnSpec("in_register_from", "date"),
            ColumnSpec("exit_date", "date"),
        ),
        register=True,
    ),
    "visits": TableSpec(
        "visits",
        (
            _req("person_id", "id"),
            _req("date", "date"),
            _req("care_type", "text", allowed=CARE_TYPES),
            ColumnSpec("discharge_date", "date"),
            ColumnSpec(
                "diagnosis",
                "text",
                pattern=_ICD10,
                pattern_text="an ICD-10 code such as F32 or F32.1",
            ),
        ),
        register=True,
    ),
    "sick_leave": TableSpec(
        "sick_leave",
        (
            _req("person_id", "id"),
            _req("start_date", "date"),
            _req("end_date", "date"),
            _req("extent", "float", allowed=EXTENTS),
        ),
        register=True,
    ),
    "dispensations": TableSpec(
        "dispensations",
        (
            _req("person_id", "id"),
            _req("date", "date"),
            _req("atc", "text", pattern=_ATC, pattern_text="an ATC code such as N06A or N06AB06"),
            ColumnSpec("ddd", "float"),
        ),
        register=True,
    ),
}


class ProblemSink:
    """Problems of one table: knows the file name and the file's column names."""

    def __init__(self, file: str, colnames: Mapping[str, str] | None = None):
        self.file = file
        self.colnames = dict(colnames or {})
        self.problems: list[Problem] = []

    def col(self, name: str) -> str:
        return self.colnames.get(name, name)

    def add_rows(
        self, df: pd.DataFrame, mask: Any, column: str, values: Any, expected: str
    ) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        rows = df["_row"].to_numpy()[mask]
        vals = np.asarray(values, dtype=object)[mask]
        shown = self.col(column)
        self.problems.extend(
            Problem(self.file, int(r), shown, plain_value(v), expected)
            for r, v in zip(rows, vals, strict=True)
        )


def plain_value(value: Any) -> Any:
    """A value as shown in a Problem: plain Python, dates as ISO text, missing as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and value != value)
    ):
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat()
    return value


# --------------------------------------------------------------------------- stage 1: typing


def isin(values: pd.Series, allowed: Any) -> np.ndarray:
    """Boolean array: is each value in ``allowed``?  (Hash-based on object values;
    pandas' ``isin`` on Arrow-backed strings is much slower.)"""
    return values.astype(object).isin(list(allowed)).to_numpy(dtype=bool)


def _text_value(v: Any) -> Any:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float):
        if np.isnan(v):
            return None
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, np.floating):
        return _text_value(float(v))
    if isinstance(v, dt.datetime | pd.Timestamp):
        return (
            v.date().isoformat()
            if v == v.replace(hour=0, minute=0, second=0, microsecond=0)
            else v.isoformat()
        )
    if isinstance(v, dt.date):
        return v.isoformat()
    text = str(v).strip()
    return None if text in MISSING_MARKERS else text


def _as_text(s: pd.Series) -> pd.Series:
    """Values as stripped text, missing (empty, "NA") as NaN; object dtype."""
    if pd.api.types.is_string_dtype(s) and not pd.api.types.is_object_dtype(s):
        out = s.str.strip()
        missing = (out == MISSING_MARKERS[0]) | (out == MISSING_MARKERS[1])
        return out.where(~missing).astype(object)
    return s.map(_text_value).astype(object)


def _parse_numbers(text: pd.Series) -> pd.Series:
    cleaned = text.str.replace(r"^(-?\d+),(\d+)$", r"\1.\2", regex=True)  # decimal comma
    return pd.to_numeric(cleaned, errors="coerce").astype("float64")


def _coerce_column(
    s: pd.Series, spec: ColumnSpec, df: pd.DataFrame, sink: ProblemSink
) -> pd.Series:
    out: Any
    if spec.kind == "date" and pd.api.types.is_datetime64_any_dtype(s):
        parsed = pd.to_datetime(s).dt.tz_localize(None) if getattr(s.dt, "tz", None) else s
        out = parsed.astype("datetime64[ns]")
        text = out.map(_text_value)
    elif (
        spec.kind in ("int", "float")
        and pd.api.types.is_numeric_dtype(s)
        and not pd.api.types.is_bool_dtype(s)
    ):
        out = s.astype("float64")
        text = s.astype(object)
    else:
        text = _as_text(s)
        out = None
    present = text.notna().to_numpy()
    if not spec.nullable:
        sink.add_rows(df, ~present, spec.name, text, f"a value ({spec.name} may not be empty)")
    if spec.kind in ("id", "text"):
        return _check_codes(text.astype("str").where(text.notna()), spec, df, sink)
    if spec.kind == "date":
        if out is None:
            out = pd.to_datetime(
                text.astype("str").where(text.notna()), format="ISO8601", errors="coerce"
            )
            out = out.astype("datetime64[ns]")
        bad = present & out.isna().to_numpy()
        sink.add_rows(df, bad, spec.name, text, "a date written YYYY-MM-DD")
        odd = (out < _DATE_MIN) | (out > _DATE_MAX)
        sink.add_rows(
            df,
            odd.to_numpy(dtype=bool),
            spec.name,
            text,
            "a date between 1900-01-01 and 2100-12-31",
        )
        return out
    if out is None:
        out = _parse_numbers(text.astype("str").where(text.notna()))
    bad = present & out.isna().to_numpy()
    sink.add_rows(
        df, bad, spec.name, text, "a number" if spec.kind == "float" else "a whole number"
    )
    if spec.kind == "int":
        frac = (out % 1 != 0).to_numpy(dtype=bool) & ~bad & present
        sink.add_rows(df, frac, spec.name, text, "a whole number")
        out = out.where(out % 1 == 0).round().astype("Int64")
    if spec.allowed is not None:
        sink.add_rows(
            df,
            out.notna().to_numpy() & ~isin(out, spec.allowed),
            spec.name,
            text,
            "one of " + ", ".join(f"{a:g}" for a in spec.allowed),
        )
    return out


def _check_codes(
    out: pd.Series, spec: ColumnSpec, df: pd.DataFrame, sink: ProblemSink
) -> pd.Series:
    has = out.notna().to_numpy()
    if spec.allowed is not None:
        bad = has & ~isin(out, spec.allowed)
        sink.add_rows(df, bad, spec.name, out, "one of " + ", ".join(spec.allowed))
    if spec.pattern is not None:
        bad = has & ~out.str.fullmatch(spec.pattern).fillna(False).to_numpy(dtype=bool)
        sink.add_rows(df, bad, spec.name, out, spec.pattern_text)
    return out


def coerce_table(
    raw: pd.DataFrame, table: str, file: str, colnames: Mapping[str, str] | None = None
) -> tuple[pd.DataFrame, list[Problem]]:
    """Type the contract columns of a raw table (see module docstring).

    Parameters
    ----------
    raw : DataFrame
        Columns already renamed to contract names, plus ``_row``.  Missing
        required columns must have been reported by the caller; missing
        optional columns are added as all-missing.
    table : str
        Contract table name (key of :data:`TABLES`).
    file : str
        File name used in problems.
    colnames : Mapping, optional
        Contract name → column name in the file (used in problems).

    Returns
    -------
    (DataFrame, list of Problem)
        Contract columns in contract order, then any extra columns, then ``_row``.
        ``df.attrs[ABSENT]`` lists the optional columns that the file lacked
        (added as all-missing), for rules that apply only to recorded columns.
    """
    spec = TABLES[table]
    sink = ProblemSink(file, colnames)
    out: dict[str, pd.Series] = {}
    for col in spec.columns:
        if col.name in raw.columns:
            out[col.name] = _coerce_column(raw[col.name], col, raw, sink)
        else:
            out[col.name] = _empty_column(col.kind, raw.index)
    extra = [c for c in raw.columns if c not in out and c != "_row"]
    frame = pd.DataFrame(out, index=raw.index)
    for c in extra:
        frame[c] = raw[c]
    frame["_row"] = raw["_row"].astype("int64")
    frame = frame.reset_index(drop=True)
    frame.attrs[ABSENT] = [c.name for c in spec.columns if c.name not in raw.columns]
    return frame, sink.problems


def _empty_column(kind: str, index: pd.Index) -> pd.Series:
    if kind == "date":
        return pd.Series(pd.NaT, index=index, dtype="datetime64[ns]")
    if kind == "int":
        return pd.Series(pd.NA, index=index, dtype="Int64")
    if kind == "float":
        return pd.Series(np.nan, index=index, dtype="float64")
    return pd.Series(np.nan, index=index, dtype="str")


# --------------------------------------------------------------------------- helpers


def looks_like_personnummer(ids: pd.Series) -> pd.Series:
    """True where a value looks like a Swedish personal identity (or co-ordination) number.

    YYYYMMDD-NNNN, YYMMDD-NNNN, with ``-``, ``+``, a space or nothing between,
    with a plausible month and day (day + 60 for samordningsnummer).  No check
    digit test: a mistyped identity number is still an identity.

    >>> looks_like_personnummer(pd.Series(["19121212-1212", "121212+1212", "P0001", "1234567890"])).tolist()
    [True, True, False, False]
    """
    text = ids.astype("str")
    out = pd.Series(False, index=ids.index)
    candidate = text.str.contains(r"\d{6}", regex=True).fillna(False).to_numpy(dtype=bool)
    if candidate.any():  # the full pattern only where six digits occur: fast on long tables
        out[candidate] = text[candidate].str.fullmatch(PERSONNUMMER).fillna(False).astype(bool)
    return out


def declared_order(config: StudyConfig) -> pd.CategoricalDtype:
    """The ordered categorical dtype of ``responses.timepoint``."""
    return pd.CategoricalDtype(list(config.timepoints), ordered=True)
