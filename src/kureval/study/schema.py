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
from collections.abc import Callable, Mapping
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
        where = np.flatnonzero(mask)
        rows = df["_row"].to_numpy()[where]
        # only the offending cells become Python objects (a column may hold millions)
        if isinstance(values, pd.Series):
            vals = np.asarray(values.iloc[where], dtype=object)
        else:
            vals = np.asarray(values, dtype=object)[where]
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
#
# Every column is typed and checked with vectorised operations (pandas / pyarrow):
# a register holds tens of millions of rows.  Text stays Arrow-backed ("str");
# only the cells of a problem become Python objects (ProblemSink.add_rows).  The
# per-value :func:`_text_value` is the definition of "a value as text"; the
# vectorised paths give the same text and fall back on it for value kinds they
# do not cover (mixed Python objects from Excel or SPSS).  tests/test_schema_fast.py
# checks each path against the per-value computation.


def _is_arrow_text(values: Any) -> bool:
    """Is ``values`` pandas' Arrow-backed string dtype (``"str"`` with pyarrow)?"""
    dtype = getattr(values, "dtype", None)
    return isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"


def _missing(value: Any) -> bool:
    return (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and value != value)
    )


def isin(values: pd.Series, allowed: Any) -> np.ndarray:
    """Boolean array: is each value in ``allowed``?  (Python equality, as
    ``values.astype(object).isin(list(allowed))``; a missing value is "in"
    when ``allowed`` holds a missing value.)

    Arrow-backed text against text is compared in Arrow
    (``pyarrow.compute.is_in``), float64 / int64 against numbers in numpy;
    anything else on Python objects."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if _is_arrow_text(values) and _is_arrow_text(allowed):  # e.g. the ids of another table
        hit = pc.is_in(pa.array(values.array), value_set=pa.array(allowed.array).drop_null())
        out = np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)
        if bool(allowed.isna().any()):
            out |= values.isna().to_numpy()
        return out
    allowed = list(allowed)
    if _is_arrow_text(values) and all(isinstance(a, str) or _missing(a) for a in allowed):
        value_set = pa.array([a for a in allowed if isinstance(a, str)], type=pa.large_string())
        arr = pa.array(values.array)
        hit = pc.is_in(arr.cast(pa.large_string()), value_set=value_set, skip_nulls=True)
        out = np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)
        if any(_missing(a) for a in allowed):  # missing "in" missing, as in pandas
            out |= values.isna().to_numpy()
        return out
    if (
        isinstance(values, pd.Series)
        and values.dtype.kind in "fiu"
        and not isinstance(values.dtype, pd.api.extensions.ExtensionDtype)
        and all(
            isinstance(a, int | float | np.integer | np.floating)
            and not isinstance(a, bool | np.bool_)
            and abs(float(a)) < 2**53  # (NaN fails)
            for a in allowed
        )
    ):
        return np.isin(values.to_numpy(), np.asarray(allowed, dtype="float64"))
    return values.astype(object).isin(allowed).to_numpy(dtype=bool)


def _text_value(v: Any) -> Any:
    """One value as text (stripped; missing, empty and "NA" as None): the per-value
    definition that the vectorised :func:`_as_text` follows."""
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


def _text_plain(s: pd.Series) -> pd.Series:
    """:func:`_text_value` value by value, as ``"str"`` (missing = NaN)."""
    text = s.map(_text_value).astype(object)
    return text.astype("str").where(text.notna())


def _str_series(arr: Any, index: pd.Index) -> pd.Series:
    """An Arrow string array as a ``"str"`` Series (null = NaN) on ``index``."""
    import pyarrow as pa

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    out = pd.Series(arr.cast(pa.large_string()).to_pandas(), copy=False)
    if out.dtype != "str":  # pragma: no cover - a pandas without the Arrow string default
        out = out.astype("str")
    return out.set_axis(index)


def _as_text(s: pd.Series) -> pd.Series:
    """Values as stripped text, missing (empty, "NA") as NaN; dtype ``"str"``.

    Equal to :func:`_text_value` applied to each value (:func:`_text_plain`), but
    vectorised for text, categorical (e.g. Parquet dictionary) and number columns.
    """
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        import pyarrow as pa

        categories = _as_text(pd.Series(dtype.categories, dtype=dtype.categories.dtype))
        codes = s.cat.codes.to_numpy()
        absent = codes < 0
        indices = pa.array(codes, mask=absent if absent.any() else None)
        taken = pa.array(categories.array).cast(pa.large_string()).take(indices)
        return _str_series(taken, s.index)
    if pd.api.types.is_string_dtype(s) and not pd.api.types.is_object_dtype(s):
        out = s.str.strip()
        missing = (out == MISSING_MARKERS[0]) | (out == MISSING_MARKERS[1])
        out = out.where(~missing)
        if _is_arrow_text(out) and getattr(out.dtype, "na_value", None) is not pd.NA:
            return out
        text = out.astype(object)
        return text.astype("str").where(text.notna())
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        return _text_plain(s)  # Python objects, dates, booleans: value by value
    # numbers: whole numbers as integers ("1001", also for 1001.0), others as repr()
    import pyarrow as pa
    import pyarrow.compute as pc

    absent = s.isna().to_numpy()
    if dtype.kind in "iu":
        numbers = (s.fillna(0) if absent.any() else s).to_numpy()
        return _str_series(pc.cast(pa.array(numbers, mask=absent), pa.large_string()), s.index)
    if dtype.kind != "f":
        return _text_plain(s)
    x = s.to_numpy(dtype="float64", na_value=np.nan)
    whole = ~absent & np.isfinite(x) & (np.abs(x) < 2.0**63)
    whole[whole] = x[whole] % 1 == 0
    ints = np.where(whole, x, 0).astype("int64")
    text = _str_series(pc.cast(pa.array(ints, mask=~whole), pa.large_string()), s.index)
    rest = np.flatnonzero(~absent & ~whole)
    if len(rest):
        text.iloc[rest] = np.asarray([_text_value(float(v)) for v in x[rest]], dtype=object)
    return text


def _far_dates(values: pd.Series) -> pd.Series:
    """Dates outside what ``datetime64[ns]`` holds (they are reported as out of range)."""
    if values.dtype == "datetime64[ns]":
        return pd.Series(False, index=values.index)
    lo, hi = pd.Timestamp("1678-01-01"), pd.Timestamp("2261-12-31")
    return (values.notna() & ((values < lo) | (values > hi))).fillna(False).astype(bool)


def _parse_numbers(text: pd.Series) -> pd.Series:
    cleaned = text.str.replace(r"^(-?\d+),(\d+)$", r"\1.\2", regex=True)  # decimal comma
    return pd.to_numeric(cleaned, errors="coerce").astype("float64")


def _coerce_column(
    s: pd.Series, spec: ColumnSpec, df: pd.DataFrame, sink: ProblemSink
) -> pd.Series:
    # ``shown``: the values a problem shows (the cell as text, or the typed value
    # where that reads the same: plain_value(Timestamp) is _text_value's ISO text)
    out: Any
    far = None  # dates pandas cannot hold in nanoseconds (year < 1678 or > 2261)
    if spec.kind == "date" and pd.api.types.is_datetime64_any_dtype(s):
        parsed = pd.to_datetime(s).dt.tz_localize(None) if getattr(s.dt, "tz", None) else s
        far = _far_dates(parsed)
        out = parsed.where(~far).astype("datetime64[ns]")
        shown = parsed
    elif (
        spec.kind in ("int", "float")
        and pd.api.types.is_numeric_dtype(s)
        and not pd.api.types.is_bool_dtype(s)
    ):
        out = s.astype("float64")
        shown = s
    else:
        shown = _as_text(s)
        out = None
    present = shown.notna().to_numpy()
    if not spec.nullable:
        sink.add_rows(df, ~present, spec.name, shown, f"a value ({spec.name} may not be empty)")
    if spec.kind in ("id", "text"):
        return _check_codes(shown, spec, df, sink)
    if spec.kind == "date":
        if out is None:
            out = pd.to_datetime(shown, format="ISO8601", errors="coerce")
            far = _far_dates(out)
            out = out.where(~far).astype("datetime64[ns]")
        assert far is not None  # set on both paths to a date column
        bad = present & out.isna().to_numpy() & ~far.to_numpy(dtype=bool)
        sink.add_rows(df, bad, spec.name, shown, "a date written YYYY-MM-DD")
        odd = ((out < _DATE_MIN) | (out > _DATE_MAX)) | far
        sink.add_rows(
            df,
            odd.to_numpy(dtype=bool),
            spec.name,
            shown,
            "a date between 1900-01-01 and 2100-12-31",
        )
        return out
    if out is None:
        out = _parse_numbers(shown)
    bad = present & out.isna().to_numpy()
    sink.add_rows(
        df, bad, spec.name, shown, "a number" if spec.kind == "float" else "a whole number"
    )
    if spec.kind == "int":
        whole = (out % 1 == 0).to_numpy(dtype=bool)
        sink.add_rows(df, ~whole & ~bad & present, spec.name, shown, "a whole number")
        out = out.where(whole).round().astype("Int64")
    if spec.allowed is not None:
        sink.add_rows(
            df,
            out.notna().to_numpy() & ~isin(out, spec.allowed),
            spec.name,
            shown,
            "one of " + ", ".join(f"{a:g}" for a in spec.allowed),
        )
    return out


def _per_distinct(text: pd.Series, test: Callable[[pd.Series], np.ndarray]) -> np.ndarray:
    """``test(text)`` (a boolean array, False where missing) computed once per
    distinct value of Arrow-backed ``text`` and spread back to the rows: a
    register column such as ``diagnosis``, ``atc`` or ``person_id`` holds few
    distinct values among millions of rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(pa.array(text.array))
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    words = _str_series(encoded.dictionary, pd.RangeIndex(len(encoded.dictionary)))
    hit = np.append(np.asarray(test(words), dtype=bool), False)  # last: missing values
    return hit[encoded.indices.fill_null(len(hit) - 1).to_numpy(zero_copy_only=False)]


def _fullmatch(text: pd.Series, pattern: str) -> np.ndarray:
    return text.str.fullmatch(pattern).fillna(False).to_numpy(dtype=bool)


def _matches(text: pd.Series, pattern: str) -> np.ndarray:
    """Boolean array: does each (present) value match ``pattern`` in full?"""
    if _is_arrow_text(text) and len(text) > 0:
        return _per_distinct(text, lambda words: _fullmatch(words, pattern))
    return _fullmatch(text, pattern)


def _check_codes(
    out: pd.Series, spec: ColumnSpec, df: pd.DataFrame, sink: ProblemSink
) -> pd.Series:
    has = out.notna().to_numpy()
    if spec.allowed is not None:
        bad = has & ~isin(out, spec.allowed)
        sink.add_rows(df, bad, spec.name, out, "one of " + ", ".join(spec.allowed))
    if spec.pattern is not None:
        bad = has & ~_matches(out, spec.pattern)
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
    if _is_arrow_text(ids) and len(ids) > 0:  # once per distinct value (ids repeat)
        return pd.Series(_per_distinct(ids, _personnummer_mask), index=ids.index)
    return pd.Series(_personnummer_mask(ids), index=ids.index)


def _personnummer_mask(ids: pd.Series) -> np.ndarray:
    text = ids.astype("str")
    out = pd.Series(False, index=ids.index)
    candidate = text.str.contains(r"\d{6}", regex=True).fillna(False).to_numpy(dtype=bool)
    if candidate.any():  # the full pattern only where six digits occur: fast on long tables
        out[candidate] = text[candidate].str.fullmatch(PERSONNUMMER).fillna(False).astype(bool)
    return out.to_numpy(dtype=bool)


def declared_order(config: StudyConfig) -> pd.CategoricalDtype:
    """The ordered categorical dtype of ``responses.timepoint``."""
    return pd.CategoricalDtype(list(config.timepoints), ordered=True)
