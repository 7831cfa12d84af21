"""The vectorised typing and validation of kureval.study.schema (and the Parquet
date columns read in Arrow by kureval.study.io) give exactly what the plain,
value-by-value computation gives.

The plain computation is written out here (``_plain_*``): each cell through
``schema._text_value`` (the definition of "a value as text"), membership on
Python objects, every cell of a column turned into a Python object before the
offending rows are picked — what ``coerce_table`` did before it was vectorised.
Each test compares the fast result with it: the same typed frame (values and
dtypes) and the same problems (file, row, column, value — type included — and
expected text).  No timings.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kureval.errors import Problem
from kureval.study import io as study_io
from kureval.study import schema
from kureval.study.schema import TABLES, ColumnSpec, coerce_table, plain_value

# inf cast to Int64 warns in pandas, on both paths alike
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")

# --------------------------------------------------------------------------- the plain computation


def _plain_as_text(s: pd.Series) -> pd.Series:
    text = s.map(schema._text_value).astype(object)
    return text.astype("str").where(text.notna())


def _plain_isin(values: pd.Series, allowed: Any) -> np.ndarray:
    return values.astype(object).isin(list(allowed)).to_numpy(dtype=bool)


def _plain_add(sink: list[Problem], file: str, df, mask, column, values, expected) -> None:
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return
    rows = df["_row"].to_numpy()[mask]
    vals = np.asarray(values, dtype=object)[mask]
    sink.extend(
        Problem(file, int(r), column, plain_value(v), expected)
        for r, v in zip(rows, vals, strict=True)
    )


def _plain_far(values: pd.Series) -> np.ndarray:
    """Per value: a date outside what datetime64[ns] holds (reported as out of range)."""
    lo, hi = pd.Timestamp("1678-01-01"), pd.Timestamp("2261-12-31")
    return np.array([v is not pd.NaT and pd.notna(v) and (v < lo or v > hi) for v in values])


def _plain_column(s: pd.Series, spec: ColumnSpec, df, sink: list[Problem], file: str):
    add = lambda mask, values, expected: _plain_add(  # noqa: E731
        sink, file, df, mask, spec.name, values, expected
    )
    out: Any = None
    if spec.kind == "date" and pd.api.types.is_datetime64_any_dtype(s):
        parsed = pd.to_datetime(s).dt.tz_localize(None) if getattr(s.dt, "tz", None) else s
        far = _plain_far(parsed)
        out = parsed.where(~far).astype("datetime64[ns]")
        text = parsed.map(schema._text_value)
    elif (
        spec.kind in ("int", "float")
        and pd.api.types.is_numeric_dtype(s)
        and not pd.api.types.is_bool_dtype(s)
    ):
        out = s.astype("float64")
        text = s.astype(object)
    else:
        text = s.map(schema._text_value).astype(object)
    present = text.notna().to_numpy()
    if not spec.nullable:
        add(~present, text, f"a value ({spec.name} may not be empty)")
    if spec.kind in ("id", "text"):
        codes = text.astype("str").where(text.notna())
        has = codes.notna().to_numpy()
        if spec.allowed is not None:
            add(has & ~_plain_isin(codes, spec.allowed), codes, "one of " + ", ".join(spec.allowed))
        if spec.pattern is not None:
            ok = codes.str.fullmatch(spec.pattern).fillna(False)
            add(has & ~ok.to_numpy(dtype=bool), codes, spec.pattern_text)
        return codes
    if spec.kind == "date":
        if out is None:
            parsed = pd.to_datetime(
                text.astype("str").where(text.notna()), format="ISO8601", errors="coerce"
            )
            far = _plain_far(parsed)
            out = parsed.where(~far).astype("datetime64[ns]")
        add(present & out.isna().to_numpy() & ~far, text, "a date written YYYY-MM-DD")
        odd = ((out < schema._DATE_MIN) | (out > schema._DATE_MAX)).to_numpy(dtype=bool) | far
        add(odd, text, "a date between 1900-01-01 and 2100-12-31")
        return out
    if out is None:
        out = schema._parse_numbers(text.astype("str").where(text.notna()))
    bad = present & out.isna().to_numpy()
    add(bad, text, "a number" if spec.kind == "float" else "a whole number")
    if spec.kind == "int":
        frac = (out % 1 != 0).to_numpy(dtype=bool) & ~bad & present
        add(frac, text, "a whole number")
        out = out.where(out % 1 == 0).round().astype("Int64")
    if spec.allowed is not None:
        add(
            out.notna().to_numpy() & ~_plain_isin(out, spec.allowed),
            text,
            "one of " + ", ".join(f"{a:g}" for a in spec.allowed),
        )
    return out


def _plain_coerce(raw: pd.DataFrame, table: str, file: str):
    spec = TABLES[table]
    problems: list[Problem] = []
    out = {}
    for col in spec.columns:
        if col.name in raw.columns:
            out[col.name] = _plain_column(raw[col.name], col, raw, problems, file)
        else:
            out[col.name] = schema._empty_column(col.kind, raw.index)
    frame = pd.DataFrame(out, index=raw.index)
    for c in [c for c in raw.columns if c not in out and c != "_row"]:
        frame[c] = raw[c]
    frame["_row"] = raw["_row"].astype("int64")
    return frame.reset_index(drop=True), problems


def _plain_personnummer(ids: pd.Series) -> pd.Series:
    text = ids.astype("str")
    out = pd.Series(False, index=ids.index)
    candidate = text.str.contains(r"\d{6}", regex=True).fillna(False).to_numpy(dtype=bool)
    if candidate.any():
        out[candidate] = (text[candidate].str.fullmatch(schema.PERSONNUMMER).fillna(False)).astype(
            bool
        )
    return out


def _shown(problems: list[Problem]) -> list[tuple[str, ...]]:
    """Problems with each field as repr (so 1 and 1.0, "1" and 1 differ)."""
    return [
        tuple(repr(x) for x in (p.file, p.row, p.column, p.value, p.expected)) for p in problems
    ]


def _outcome(fn: Any) -> tuple[Any, ...]:
    """(frame, problems), or the exception raised (compared between the two paths;
    a date that does not fit datetime64[ns], such as year 1000, is a problem, not
    an exception)."""
    try:
        return fn()
    except Exception as err:  # compared between the two paths, not hidden
        return ("raised", type(err).__name__, str(err))


def _assert_same_typing(raw: pd.DataFrame, table: str) -> None:
    fast_out = _outcome(lambda: coerce_table(raw.copy(), table, "t.csv"))
    plain_out = _outcome(lambda: _plain_coerce(raw.copy(), table, "t.csv"))
    raised = [isinstance(o[0], str) for o in (fast_out, plain_out)]
    if any(raised):
        assert all(raised), fast_out if raised[0] else plain_out
        assert fast_out == plain_out
        return
    (fast, fast_problems), (plain, plain_problems) = fast_out, plain_out
    pd.testing.assert_frame_equal(fast, plain, check_exact=True)
    assert list(fast.dtypes.astype(str)) == list(plain.dtypes.astype(str))
    assert _shown(fast_problems) == _shown(plain_problems)


# --------------------------------------------------------------------------- columns of every kind

D = dt.date
T = pd.Timestamp

COLUMNS: dict[str, pd.Series] = {
    "str": pd.Series([" P1", "NA", "", None, "x y ", "F32.1", "19121212-1212", "NA "], dtype="str"),
    "string_na": pd.Series(["P1", pd.NA, " ", "b", "NA", "M", "  F", "c"], dtype="string"),
    "object_text": pd.Series(
        ["P1", None, " ", "b", "NA", np.nan, " F", "\x1f c\x1f"], dtype=object
    ),
    "object_mixed": pd.Series(
        [1, 2.5, "x", D(2020, 1, 2), T("2021-03-04 05:06"), None, True, 1001.0], dtype=object
    ),
    "category_text": pd.Series(
        pd.Categorical([" a", "a", None, "NA", "", "F", "primary_care", "a "])
    ),
    "category_int": pd.Series(pd.Categorical([3, 1, None, 3, 2, 1, 1, 2])),
    "category_empty": pd.Series(pd.Categorical([None] * 8, categories=["x"])),
    "int64": pd.Series([1, -5, 0, 2**62, 7, 1900, 25, 100], dtype="int64"),
    "uint64": pd.Series([2**64 - 1, 0, 3, 4, 5, 6, 7, 8], dtype="uint64"),
    "Int64": pd.Series([1, None, -3, 4, None, 1950, 50, 75], dtype="Int64"),
    "float64": pd.Series([1001.0, 0.1, np.nan, np.inf, -0.0, 1e20, 25.0, 2.5e-7], dtype="float64"),
    "float32": pd.Series([0.1, 1.0, np.nan, 3.5, 75.0, -2.0, 1e10, 100.0], dtype="float32"),
    "Float64": pd.Series([0.5, None, 2.0, 3.0, 25.0, 50.0, 1e3, -1.5], dtype="Float64"),
    "bool": pd.Series([True, False, True, True, False, False, True, False]),
    "datetime": pd.Series(
        pd.to_datetime(
            [
                "2020-01-01",
                "2020-01-01 10:00",
                None,
                "1899-12-31",
                "2101-01-01",
                "2019-05-05",
                "2000-02-29",
                "2020-01-01 00:00:00.000001",
            ],  # fmt: skip
            format="ISO8601",
        )
    ),
    "datetime_tz": pd.Series(
        pd.to_datetime(
            [
                "2020-01-01 23:30",
                None,
                "2020-06-01",
                "2020-01-02",
                "1850-01-01",
                "2020-01-03",
                "2020-01-04",
                "2020-01-05",
            ],  # fmt: skip
            format="ISO8601",
        ).tz_localize("Europe/Stockholm")
    ),
    "object_dates": pd.Series(
        [
            D(2020, 1, 1),
            None,
            D(1899, 1, 1),
            D(2020, 2, 29),
            D(2150, 1, 1),
            D(2000, 1, 1),
            np.nan,
            D(2020, 12, 31),
        ],  # fmt: skip
        dtype=object,
    ),
    "date_text": pd.Series(
        ["2020-01-01", "2020-13-01", "", "01/02/2020", " 2020-01-02 ", "1899-12-31", "NA", None],
        dtype="str",
    ),
    "number_text": pd.Series(["1", "2,5", "x", "", "25", "1e3", " 50 ", "-3,25"], dtype="str"),
}


@pytest.mark.parametrize("kind", sorted(COLUMNS))
def test_as_text_is_text_value_per_cell(kind):
    s = COLUMNS[kind].set_axis(pd.RangeIndex(10, 18))
    fast = schema._as_text(s)
    pd.testing.assert_series_equal(fast, _plain_as_text(s), check_exact=True)
    assert str(fast.dtype) == "str"


@given(
    st.lists(
        st.one_of(
            st.none(),
            st.text(alphabet=" \tNA0123456789-+.,abcFMX\u00e5\u00a0", max_size=8),
            st.sampled_from(["", "NA", " NA ", "F", "M"]),
        ),
        min_size=1,
        max_size=30,
    )
)
@settings(max_examples=150, deadline=None)
def test_as_text_of_arrow_and_categorical_text(values):
    for s in (pd.Series(values, dtype="str"), pd.Series(pd.Categorical(values))):
        pd.testing.assert_series_equal(schema._as_text(s), _plain_as_text(s), check_exact=True)


@given(
    st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.integers(-(2**70), 2**70).map(float),
        ),
        min_size=1,
        max_size=30,
    )
)
@settings(max_examples=150, deadline=None)
def test_as_text_of_floats(values):
    s = pd.Series(values, dtype="float64")
    pd.testing.assert_series_equal(schema._as_text(s), _plain_as_text(s), check_exact=True)


@given(st.lists(st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)), min_size=1, max_size=30))
@settings(max_examples=100, deadline=None)
def test_as_text_of_integers(values):
    s = pd.Series(values, dtype="Int64")
    pd.testing.assert_series_equal(schema._as_text(s), _plain_as_text(s), check_exact=True)
    full = pd.Series([0 if v is None else v for v in values], dtype="int64")
    pd.testing.assert_series_equal(schema._as_text(full), _plain_as_text(full), check_exact=True)


@pytest.mark.parametrize("kind", sorted(COLUMNS))
@pytest.mark.parametrize("table", sorted(TABLES))
def test_coerce_table_matches_plain_typing(kind, table):
    """Every contract column of every table filled with each column kind (an
    absent optional column stays absent): same frame, same problems."""
    s = COLUMNS[kind]
    raw = pd.DataFrame({c.name: s.to_numpy(copy=True) for c in TABLES[table].columns})
    for c in raw.columns:
        raw[c] = s.copy().set_axis(raw.index)
    raw["extra"] = COLUMNS["object_dates"].to_numpy()
    raw["_row"] = np.arange(2, 2 + len(raw))
    raw.index = pd.RangeIndex(5, 5 + len(raw))
    _assert_same_typing(raw, table)


def test_coerce_table_with_mixed_column_kinds():
    raw = pd.DataFrame(
        {
            "person_id": COLUMNS["category_text"].to_numpy(),
            "date": COLUMNS["date_text"].to_numpy(),
            "care_type": pd.Categorical(
                ["primary_care", "x", None, "emergency", " specialist", "NA", "", "a"]
            ),
            "discharge_date": COLUMNS["datetime"].to_numpy(),
            "diagnosis": pd.Categorical(["F32", "F32.1", "32", None, "f3", "Z00.0", " F43 ", ""]),
            "_row": [2, 3, 4, 5, 6, 7, 8, 9],
        }
    )
    raw["person_id"] = raw["person_id"].astype("category")
    _assert_same_typing(raw, "visits")
    raw = pd.DataFrame(
        {
            "person_id": COLUMNS["int64"].to_numpy(),
            "start_date": COLUMNS["object_dates"].to_numpy(),
            "end_date": COLUMNS["datetime_tz"].to_numpy(),
            "extent": COLUMNS["number_text"].to_numpy(),
            "_row": np.arange(2, 10),
        }
    )
    _assert_same_typing(raw, "sick_leave")


@pytest.mark.parametrize("table", ["visits", "dispensations"])
def test_long_register_columns_match_plain_typing(table):
    """A few thousand rows with repeated codes (the per-distinct-value paths)."""
    rng = np.random.default_rng(7)
    n = 5000
    codes = np.array(["F32", "F32.1", "N06AB06", "N06A", "x", "", "NA", " Z00.0", "J06.9 "])
    ids = np.array(["P1", "P2", "19121212-1212", " P3", "121212+1212", "", "p4"])
    dates = pd.to_datetime("2018-01-01") + pd.to_timedelta(rng.integers(-50000, 50000, n), "D")
    raw = pd.DataFrame(
        {
            "person_id": pd.Series(rng.choice(ids, n), dtype="str"),
            "date": dates,
            "care_type": pd.Categorical(rng.choice(list(schema.CARE_TYPES) + ["other", ""], n)),
            "discharge_date": pd.Series(dates.strftime("%Y-%m-%d"), dtype="str"),
            "diagnosis": pd.Series(rng.choice(codes, n), dtype="str"),
            "atc": pd.Categorical(rng.choice(codes, n)),
            "ddd": rng.choice([0.5, np.nan, -1.0, 2.0], n),
            "_row": np.arange(2, n + 2),
        }
    )
    raw.loc[rng.random(n) < 0.05, "person_id"] = None
    keep = [c.name for c in TABLES[table].columns] + ["_row"]
    _assert_same_typing(raw[keep], table)


def test_isin_matches_python_membership():
    text = pd.Series(["a", None, "b", " a", "NA", "c"], dtype="str")
    for allowed in (
        ["a", "b"],
        ("a", np.nan),
        pd.Series(["b", None], dtype="str"),
        pd.Index(["a", " a"], dtype="str"),
        pd.Series(["c", "c"], dtype="str"),
        [],
        [1, "a"],
    ):
        assert schema.isin(text, allowed).tolist() == _plain_isin(text, allowed).tolist()
    numbers = pd.Series([25.0, 50.0, np.nan, 33.0, 100.0, -0.0])
    for allowed in (schema.EXTENTS, (0, 25), (np.nan, 25.0), (True, 33)):
        assert schema.isin(numbers, allowed).tolist() == _plain_isin(numbers, allowed).tolist()
    ints = pd.Series([1, 2, 3], dtype="Int64")
    assert schema.isin(ints, (1, 3)).tolist() == _plain_isin(ints, (1, 3)).tolist()


@pytest.mark.parametrize("dtype", ["str", "object", "category"])
def test_personnummer_flags_match_plain(dtype):
    values = [
        "19121212-1212", "121212+1212", "P0001", "1234567890", None, " 201212121212 ",
        "121272-1212", "abc123456", "19121212 1212", "121212-1212", "P0001",
    ]  # fmt: skip
    s = pd.Series(values, dtype=dtype)
    fast = schema.looks_like_personnummer(s)
    pd.testing.assert_series_equal(fast, _plain_personnummer(s), check_exact=True)


def test_problem_values_are_taken_from_the_offending_cells_only():
    """add_rows picks the cells first, then makes them Python values: same
    problems as converting the whole column first."""
    df = pd.DataFrame({"_row": np.arange(2, 10)})
    mask = np.array([1, 0, 1, 1, 0, 0, 1, 1], dtype=bool)
    for s in COLUMNS.values():
        sink = schema.ProblemSink("f.csv", {"x": "X"})
        sink.add_rows(df, mask, "x", s, "something")
        plain: list[Problem] = []
        _plain_add(plain, "f.csv", df, mask, "X", s, "something")
        assert _shown(sink.problems) == _shown(plain)
        sink = schema.ProblemSink("f.csv")
        sink.add_rows(df, mask, "x", s.to_numpy(), "something")
        plain = []
        _plain_add(plain, "f.csv", df, mask, "x", s.to_numpy(), "something")
        assert _shown(sink.problems) == _shown(plain)


# --------------------------------------------------------------------------- Parquet dates


def _register_parquet(path, *, index=False, extra_dates=True, far=False, date64=False):
    n = 40
    day = pa.date64() if date64 else pa.date32()
    base = [D(2019, 1, 1) + dt.timedelta(days=int(i) * 37) for i in range(n)]
    base[3] = None
    base[5] = D(1899, 12, 31)
    base[7] = D(2101, 1, 1)
    if far:
        base[9] = D(1, 1, 1)
    discharge = [None if i % 3 else d for i, d in enumerate(base)]
    discharge[11] = D(2000, 1, 1)  # before its admission
    columns = {
        "person_id": pa.array([f"P{i % 7}" if i != 13 else " " for i in range(n)]),
        "date": pa.array(base, type=day),
        "care_type": pa.array(["primary_care", "specialist", "x", None] * 10).dictionary_encode(),
        "discharge_date": pa.array(discharge, type=day),
        "diagnosis": pa.array(["F32.1", "Z00.0", "bad", None, "F43"] * 8),
    }
    if extra_dates:
        columns["seen"] = pa.array(base, type=pa.date32())
    table = pa.table(columns)
    if index:
        frame = table.to_pandas()
        frame.index = pd.Index([f"r{i}" for i in range(n)], name="key")
        table = pa.Table.from_pandas(frame, preserve_index=True)
    pq.write_table(table, path, row_group_size=16)


def _plain_read_parquet(path, table: str):
    raw = pd.read_parquet(path).reset_index(drop=True)
    raw["_row"] = range(2, len(raw) + 2)
    return _plain_coerce(raw, table, path.name)


@pytest.mark.parametrize(
    "variant",
    [{}, {"index": True}, {"extra_dates": False}, {"date64": True}],
    ids=["date32", "pandas-index", "no-extra", "date64"],
)
def test_parquet_dates_read_in_arrow_match_plain_reading(tmp_path, variant):
    path = tmp_path / "visits.parquet"
    _register_parquet(path, **variant)
    typed, problems = study_io.read_table(path, None, "visits")
    plain, plain_problems = _plain_read_parquet(path, "visits")
    pd.testing.assert_frame_equal(typed, plain, check_exact=True)
    assert list(typed.dtypes.astype(str)) == list(plain.dtypes.astype(str))
    assert _shown(problems) == _shown(plain_problems)
    assert problems  # the file holds bad dates, codes and an empty id
    # the fast path was taken: the contract dates arrive from Arrow as datetime64[ns]
    raw = study_io._read_parquet(path, study_io._date_columns("visits", study_io.TableConfig()))
    # (a file with a pandas index stored as a column is read by pandas as it is)
    want = "object" if variant.get("index") else "datetime64[ns]"
    assert str(raw["date"].dtype) == want
    assert str(raw["discharge_date"].dtype) == want
    if variant.get("extra_dates", True):  # a column outside the contract is left as read
        assert typed["seen"].dtype == object
        assert isinstance(typed["seen"].dropna().iloc[0], dt.date)


def test_parquet_persons_read_matches_plain_reading(tmp_path):
    path = tmp_path / "visits.parquet"
    _register_parquet(path)
    persons = frozenset({"P1", "P3"})
    typed, problems = study_io.read_table(path, None, "visits", persons=persons)
    raw = pd.read_parquet(path)
    raw["_row"] = range(2, len(raw) + 2)
    raw = raw[_plain_as_text(raw["person_id"]).isin(persons).to_numpy()].reset_index(drop=True)
    plain, plain_problems = _plain_coerce(raw, "visits", path.name)
    pd.testing.assert_frame_equal(typed, plain, check_exact=True)
    assert _shown(problems) == _shown(plain_problems)


def test_parquet_date_beyond_nanoseconds_is_read_as_before(tmp_path):
    """A date that does not fit datetime64[ns] (year 1) keeps the column on the
    plain path: the same outcome as reading it with pandas."""
    path = tmp_path / "visits.parquet"
    _register_parquet(path, far=True)

    def outcome(fn):
        try:
            typed, problems = fn()
        except Exception as err:  # the plain path's own outcome, whatever it is
            return ("raised", type(err).__name__)
        return ("typed", typed, _shown(problems))

    fast = outcome(lambda: study_io.read_table(path, None, "visits"))
    plain = outcome(lambda: _plain_read_parquet(path, "visits"))
    assert fast[0] == plain[0]
    if fast[0] == "raised":
        assert fast == plain
    else:
        pd.testing.assert_frame_equal(fast[1], plain[1], check_exact=True)
        assert fast[2] == plain[2]


def test_arrow_columns_of_several_chunks():
    """A column concatenated from pieces holds several Arrow chunks."""
    pieces = [
        pd.Series([" P1", None, "19121212-1212", "F32"], dtype="str"),
        pd.Series(["NA", "F32.1", "P1", "", "x"], dtype="str"),
    ]
    s = pd.concat(pieces, ignore_index=True)
    pd.testing.assert_series_equal(schema._as_text(s), _plain_as_text(s), check_exact=True)
    pd.testing.assert_series_equal(
        schema.looks_like_personnummer(s), _plain_personnummer(s), check_exact=True
    )
    text = schema._as_text(s)
    plain = text.str.fullmatch(schema._ICD10).fillna(False).to_numpy(dtype=bool)
    assert schema._matches(text, schema._ICD10).tolist() == plain.tolist()
    other = pd.concat([pieces[1], pieces[0]], ignore_index=True)
    assert schema.isin(s, other).tolist() == _plain_isin(s, other).tolist()
