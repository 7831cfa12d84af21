"""Reading study folders: types, row numbers, every file format, and the Study object."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kureval.errors import DataError, Problem
from kureval.study.config import TableConfig
from kureval.study.io import load_study, read_table, summary
from kureval.study.model import ExclusionLog, Study
from kureval.study.schema import TABLES, looks_like_personnummer

MINI = Path(__file__).parent / "fixtures" / "mini_study"
REGISTER = ("population", "visits", "sick_leave", "dispensations")


@pytest.fixture(scope="module")
def mini() -> Study:
    return load_study(MINI)


def _copy(tmp_path: Path) -> Path:
    dest = tmp_path / "study"
    shutil.copytree(MINI, dest)
    return dest


def test_mini_study_tables_and_types(mini):
    p, r = mini.participants, mini.responses
    assert len(p) == 8 and len(r) == 51
    assert [len(mini.table(n)) for n in REGISTER] == [8, 9, 5, 5]
    assert p["person_id"].tolist() == [f"P0{i}" for i in range(1, 9)]  # mapped from 'lopnr'
    assert list(p.columns) == [*TABLES["participants"].column_names, "_row"]
    assert p["cohort"].isna().all()  # optional column absent from the file: present, empty
    for col in ("referral_date", "start_date", "end_date"):
        assert p[col].dtype == "datetime64[ns]"
    for col in ("birth_year", "sessions_offered", "sessions_attended"):
        assert p[col].dtype == "Int64"
    assert pd.api.types.is_string_dtype(p["person_id"]) and pd.api.types.is_string_dtype(p["sex"])
    assert p.loc[2, "start_date"] is pd.NaT and pd.isna(p.loc[2, "sessions_offered"])
    assert p["_row"].tolist() == list(range(2, 10))
    assert isinstance(r["timepoint"].dtype, pd.CategoricalDtype) and r["timepoint"].cat.ordered
    assert list(r["timepoint"].cat.categories) == ["start", "end", "6m"]
    assert r["item"].dtype == "Int64" and r["value"].dtype == "float64"
    assert r["value"].isna().sum() == 1  # the empty answer stays, as missing
    assert r["_row"].tolist() == list(range(2, 53))
    assert (
        mini.sick_leave["extent"].dtype == "float64"
        and mini.dispensations["ddd"].dtype == "float64"
    )
    assert mini.dispensations["ddd"].tolist() == [30.0, 30.0, 45.5, 10.0, 20.0]
    assert mini.files["visits"] == MINI / "register" / "visits.csv"
    assert len(mini.exclusions) == 0 and mini.notes == ()
    assert mini.has_register and "8 participants" in repr(mini)
    with pytest.raises(dataclasses.FrozenInstanceError):
        mini.participants = p  # type: ignore[misc]


def test_summary_names_counts_and_coverage(mini):
    text = summary(mini)
    for part in (
        "Mini study",
        "participants",
        "8 rows",
        "Kultur på recept: 3",
        "start, end, 6m",
        "pre = start, post = end",
        "hads",
        "Register: 8 persons",
        "found in population: 2 of 2",
        "visits: 9 rows, 5 persons, 2019-06-03 to 2020-10-05",
        "empty answers (missing values): 1 of 51",
    ):
        assert part in text, part


def _write_format(folder: Path, name: str, rel: str, fmt: str) -> None:
    """Rewrite one CSV table of ``folder`` as .xlsx, .sav or .parquet, with typed cells."""
    csv_path = folder / rel
    raw = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    typed = raw.copy()
    for col in raw.columns:
        spec = {c.name: c for c in TABLES[name].columns}.get(col)
        kind = spec.kind if spec else ("id" if col == "lopnr" else "text")
        empty = raw[col] == ""
        if kind == "date":
            typed[col] = pd.to_datetime(raw[col].mask(empty))
        elif kind in ("int", "float"):
            typed[col] = pd.to_numeric(raw[col].mask(empty)).astype("float64")
        else:
            typed[col] = raw[col].astype(object)
    out = csv_path.with_suffix("." + fmt)
    if fmt == "parquet":
        typed.to_parquet(out, index=False)
    elif fmt == "sav":
        import pyreadstat

        pyreadstat.write_sav(typed, str(out))
    else:
        import openpyxl

        wb = openpyxl.Workbook()
        ws = wb.active
        ws.append(list(typed.columns))
        for rec in typed.itertuples(index=False):
            ws.append(
                [
                    None
                    if (v is pd.NaT or (isinstance(v, float) and np.isnan(v)) or v == "")
                    else (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v)
                    for v in rec
                ]
            )
        wb.save(out)
    csv_path.unlink()


@pytest.mark.parametrize("fmt", ["xlsx", "sav", "parquet"])
def test_every_format_gives_the_same_study(tmp_path, mini, fmt):
    folder = _copy(tmp_path)
    tables = {
        "participants": "participants.csv",
        "responses": "responses.csv",
        **{n: f"register/{n}.csv" for n in REGISTER},
    }
    for name, rel in tables.items():
        _write_format(folder, name, rel, fmt)
    study = load_study(folder)
    for name in tables:
        # same values, same types, and the same row numbers (_row) as the CSV version
        pd.testing.assert_frame_equal(study.table(name), mini.table(name), check_dtype=True)
    assert study.files["participants"].suffix == "." + fmt


def test_formats_can_be_mixed(tmp_path, mini):
    folder = _copy(tmp_path)
    _write_format(folder, "responses", "responses.csv", "parquet")
    _write_format(folder, "visits", "register/visits.csv", "xlsx")
    study = load_study(folder)
    pd.testing.assert_frame_equal(study.visits, mini.visits)


def test_excel_header_row_and_sheet_settings(tmp_path, mini):
    import openpyxl

    folder = _copy(tmp_path)
    rows = pd.read_csv(folder / "participants.csv", dtype=str, keep_default_na=False)
    wb = openpyxl.Workbook()
    wb.active.title = "Om filen"
    wb.active.append(["Uttag 2024-01-05"])
    ws = wb.create_sheet("Deltagare")
    ws.append(["Deltagare, Kultur på recept m.fl."])
    ws.append([])
    ws.append(list(rows.columns))
    for rec in rows.itertuples(index=False):
        ws.append([v or None for v in rec])
    wb.save(folder / "participants.xlsx")
    (folder / "participants.csv").unlink()
    toml = (folder / "study.toml").read_text(encoding="utf-8")
    (folder / "study.toml").write_text(
        toml.replace(
            'columns = { person_id = "lopnr" }',
            'columns = { person_id = "lopnr" }\nsheet = "Deltagare"\nheader_row = 3',
        ),
        encoding="utf-8",
    )
    study = load_study(folder)
    assert study.participants["_row"].tolist() == list(range(4, 12))  # sheet rows
    cols = [c for c in mini.participants.columns if c != "_row"]
    pd.testing.assert_frame_equal(study.participants[cols], mini.participants[cols])
    (folder / "study.toml").write_text(
        toml.replace(
            'columns = { person_id = "lopnr" }', 'columns = { person_id = "lopnr" }\nsheet = 2'
        ),
        encoding="utf-8",
    )
    with pytest.raises(DataError, match="header_row = 3"):
        load_study(folder)
    (folder / "study.toml").write_text(
        toml.replace(
            'columns = { person_id = "lopnr" }',
            'columns = { person_id = "lopnr" }\nsheet = "Blad1"',
        ),
        encoding="utf-8",
    )
    with pytest.raises(DataError, match="Om filen, Deltagare"):
        load_study(folder)


def test_csv_dialects(tmp_path, mini):
    """Semicolons with decimal commas, CRLF, a BOM, quoted newlines, blank lines, NA."""
    folder = _copy(tmp_path)
    disp = (folder / "register" / "dispensations.csv").read_text(encoding="utf-8")
    disp = disp.replace(",", ";").replace("45.5", "45,5")
    (folder / "register" / "dispensations.csv").write_bytes(
        ("\ufeff" + disp).replace("\n", "\r\n").encode()
    )
    toml = (folder / "study.toml").read_text(encoding="utf-8")
    (folder / "study.toml").write_text(
        toml + '\n[tables.dispensations]\ndelimiter = ";"\n', encoding="utf-8"
    )
    visits = (folder / "register" / "visits.csv").read_text(encoding="utf-8").splitlines()
    visits[2] = visits[2].replace("P04,", '"P04",')
    visits.insert(3, "")  # a blank line: later rows keep their line numbers
    visits[1] = visits[1] + ",NA"  # hmm: keeps 5 fields? no: replace below
    visits[1] = "P04,2019-06-03,primary_care,NA,F43.8"
    (folder / "register" / "visits.csv").write_text("\n".join(visits) + "\n", encoding="utf-8")
    study = load_study(folder)
    pd.testing.assert_frame_equal(study.dispensations, mini.dispensations)
    assert study.visits["_row"].tolist() == [2, 3, 5, 6, 7, 8, 9, 10, 11]
    assert study.visits["discharge_date"].isna().sum() == mini.visits["discharge_date"].isna().sum()
    assert study.notes == ()


def test_quoted_newline_keeps_line_numbers(tmp_path):
    f = tmp_path / "visits.csv"
    f.write_text(
        'person_id,date,care_type,diagnosis\nA,2020-01-01,primary_care,"F32\nsecond line"\n'
        "B,2020-01-02,nowhere,F33\n",
        encoding="utf-8",
    )
    df, problems = read_table(f, None, "visits")
    assert df is not None and df["_row"].tolist() == [2, 4]
    assert sorted((p.row, p.column) for p in problems) == [(2, "diagnosis"), (4, "care_type")]


def test_read_table_reports_instead_of_raising(tmp_path):
    df, problems = read_table(tmp_path / "nope.csv", TableConfig(), "visits")
    assert df is None and problems == [
        Problem("nope.csv", None, None, None, "the file nope.csv (it does not exist)")
    ]
    f = tmp_path / "population.csv"
    f.write_text("person_id,sex,birth_year,extra\nA,F,1950,keep me\nB,M,19x0,\n", encoding="utf-8")
    df, problems = read_table(f, None, "population")
    assert df is not None and len(df) == 2  # no row dropped, even a bad one
    assert df["extra"].tolist() == ["keep me", ""]  # columns outside the contract are kept as read
    assert [(p.file, p.row, p.column, p.value) for p in problems] == [
        ("population.csv", 3, "birth_year", "19x0")
    ]


def test_latin1_csv_is_read_and_noted(tmp_path, mini):
    folder = _copy(tmp_path)
    text = (folder / "participants.csv").read_text(encoding="utf-8")
    (folder / "participants.csv").write_bytes(text.encode("cp1252"))
    study = load_study(folder)
    pd.testing.assert_frame_equal(study.participants, mini.participants)
    assert len(study.notes) == 1 and "Windows-1252" in study.notes[0] and "line 2" in study.notes[0]


def test_extra_checks_are_reported_with_table_problems(tmp_path):
    seen = []

    def check(study: Study) -> list[Problem]:
        seen.append(study)
        return [Problem("responses.csv", 2, "value", 9.0, "a HADS answer 0–3")]

    with pytest.raises(DataError) as info:
        load_study(MINI, extra_checks=[check])
    assert len(seen) == 1 and isinstance(seen[0], Study) and len(seen[0].responses) == 51
    assert [p.expected for p in info.value.problems] == ["a HADS answer 0–3"]
    # a broken table: the check is not run on half-read data, the table problem is reported
    folder = _copy(tmp_path)
    (folder / "responses.csv").write_text("", encoding="utf-8")
    seen.clear()
    with pytest.raises(DataError, match="empty"):
        load_study(folder, extra_checks=[check])
    assert seen == []


def test_register_is_optional_as_a_set(tmp_path):
    folder = _copy(tmp_path)
    shutil.rmtree(folder / "register")
    toml = (folder / "study.toml").read_text(encoding="utf-8")
    start = toml.index("[reference]")
    (folder / "study.toml").write_text(
        toml[:start] + toml[toml.index("[register]") :], encoding="utf-8"
    )
    study = load_study(folder)
    assert study.population is None and study.visits is None and not study.has_register
    assert "Register: none" in summary(study)


def test_participants_of_register_programme_must_be_in_population(tmp_path):
    folder = _copy(tmp_path)
    pop = folder / "register" / "population.csv"
    pop.write_text(pop.read_text(encoding="utf-8").replace("P05,", "R99,"), encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_study(folder)
    assert [(p.file, p.row, p.column, p.value) for p in info.value.problems] == [
        ("participants.csv", 6, "lopnr", "P05"),  # the column as named in the file
        ("register/visits.csv", 5, "person_id", "P05"),
        ("register/visits.csv", 6, "person_id", "P05"),
        ("register/sick_leave.csv", 4, "person_id", "P05"),
        ("register/dispensations.csv", 4, "person_id", "P05"),
    ]


def test_exclusion_log_records_and_replaces():
    log = ExclusionLog()
    log.record("scoring", "responses", "too many missing items", 3, "HADS: > 1 missing")
    log.record("prepost", "scores", "no post value", 10)
    log.record("scoring", "responses", "too many missing items", 4, "HADS: > 1 missing")
    t = log.table
    assert list(t.columns) == ["step", "table", "reason", "n", "detail"]
    assert t.values.tolist() == [
        ["scoring", "responses", "too many missing items", 4, "HADS: > 1 missing"],
        ["prepost", "scores", "no post value", 10, ""],
    ]
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError):
            log.record("x", "y", "z", bad)
    assert ExclusionLog().table.empty


@pytest.mark.parametrize(
    ("value", "flag"),
    [
        ("19121212-1212", True),
        ("191212121212", True),
        ("121212-1212", True),
        ("1212121212", True),
        ("121212+1212", True),
        ("121212 1212", True),
        ("19121272-1212", True),  # samordningsnummer
        ("P0001", False),
        ("1234567890", False),
        ("12345", False),
        ("20201340-1234", False),
        ("lopnr-121212-1212", False),
        ("00042", False),
    ],
)
def test_personnummer_pattern(value, flag):
    assert looks_like_personnummer(pd.Series([value])).item() is flag


def test_long_register_table_keeps_every_row(tmp_path):
    """50,000 rows through the fast CSV path: no row lost, line numbers exact.
    (Speed is measured in benchmarks/bench_study_io.py, not here.)"""
    n = 50_000
    rng = np.random.default_rng(1)
    f = tmp_path / "visits.csv"
    dates = pd.Timestamp("2018-01-01") + pd.to_timedelta(rng.integers(0, 2000, n), unit="D")
    frame = pd.DataFrame(
        {
            "person_id": [f"R{i % 30000:05d}" for i in range(n)],
            "date": dates.strftime("%Y-%m-%d"),
            "care_type": rng.choice(["primary_care", "specialist"], n),
            "discharge_date": "",
            "diagnosis": "F32.1",
        }
    )
    frame.loc[n - 1, "care_type"] = "tandvård"
    frame.to_csv(f, index=False)
    df, problems = read_table(f, None, "visits")
    assert df is not None and len(df) == n and df["_row"].tolist() == list(range(2, n + 2))
    assert df["date"].tolist() == list(dates.as_unit("ns"))
    assert [(p.row, p.column, p.value) for p in problems] == [(n + 1, "care_type", "tandvård")]


def test_unsupported_file_format_is_named(tmp_path):
    folder = _copy(tmp_path)
    (folder / "participants.csv").rename(folder / "participants.xls")
    with pytest.raises(DataError) as info:
        load_study(folder)
    (problem,) = info.value.problems
    assert problem.file == "participants.csv" and "found participants.xls" in problem.expected


def test_demo_study_loads_and_validates(demo_path):
    """The generated demo study passes every table check (instrument checks: tests of kureval.api)."""
    study = load_study(demo_path)
    counts = study.participants["programme"].value_counts().to_dict()
    assert counts == {
        "Kultur på recept": 187,
        "Naturunderstödd rehabilitering": 118,
        "Steg framåt": 458,
    }
    assert study.population is not None and len(study.population) >= 30_000
    assert list(study.responses["timepoint"].cat.categories) == ["start", "end", "6m", "12m"]
    assert study.notes == ()
    text = summary(study)
    assert "found in population: 118 of 118" in text


def test_fast_and_exact_csv_readers_agree():
    """The pandas fast path and the csv-module path give the same grid and line numbers."""
    from kureval.study.io import _read_csv_exact, _read_csv_fast

    for rel in ("participants.csv", "responses.csv", "register/visits.csv"):
        text = (MINI / rel).read_text(encoding="utf-8")
        text = text.replace("\n", "\n\n", 3).replace("Helsingborg", '"Helsingborg, centrum"')
        fast = _read_csv_fast(text, ",")
        exact, problems = _read_csv_exact(text, rel, ",")
        assert fast is not None and exact is not None and problems == []
        assert fast.numbers == exact.numbers
        pd.testing.assert_frame_equal(fast.frame, exact.frame)
    assert _read_csv_fast('a,b\n1,"x\ny"\n', ",") is None  # quoted line break: exact path


def test_typed_parquet_values_in_problems(tmp_path):
    f = tmp_path / "population.parquet"
    pd.DataFrame(
        {
            "person_id": [101, 102],
            "sex": pd.Categorical(["F", "Q"]),
            "birth_year": [1950.0, None],
            "in_register_from": pd.to_datetime(["2010-01-01", None]),
        }
    ).to_parquet(f)
    df, problems = read_table(f, None, "population")
    assert df is not None and df["person_id"].tolist() == ["101", "102"]
    assert df["in_register_from"].dtype == "datetime64[ns]"
    assert sorted((p.row, p.column, p.value) for p in problems) == [
        (3, "birth_year", None),
        (3, "sex", "Q"),
    ]


# --------------------------------------------------------------------------- properties


@given(
    day=st.dates(
        min_value=pd.Timestamp("1900-01-01").date(), max_value=pd.Timestamp("2025-12-31").date()
    ),
    tail=st.integers(0, 9999),
    sep=st.sampled_from(["", "-", "+", " "]),
    long_form=st.booleans(),
    coordination=st.booleans(),
)
def test_every_personnummer_form_is_flagged(day, tail, sep, long_form, coordination):
    dd = day.day + (60 if coordination else 0)
    date_part = (
        f"{day.year:04d}{day.month:02d}{dd:02d}"
        if long_form
        else f"{day.year % 100:02d}{day.month:02d}{dd:02d}"
    )
    assert looks_like_personnummer(pd.Series([f"{date_part}{sep}{tail:04d}"])).item()


@given(
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789-", min_size=1, max_size=14).filter(
        lambda t: any(c.isalpha() or c == "_" for c in t)
    )
)
def test_ids_with_letters_are_not_flagged(text):
    assert not looks_like_personnummer(pd.Series([text])).item()


@settings(max_examples=30, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["F", "M", "X"]), st.integers(1900, 2020), st.booleans(), st.booleans()
        ),
        min_size=1,
        max_size=12,
    ),
    crlf=st.booleans(),
)
def test_csv_rows_keep_their_line_numbers(tmp_path_factory, rows, crlf):
    """Blank lines, quoting and line endings never change values or row numbers; no row is lost."""
    lines, expected_rows = ["person_id,sex,birth_year"], []
    for i, (sex, year, blank_before, quoted) in enumerate(rows):
        if blank_before:
            lines.append("")
        lines.append(f'"ID{i}",{sex},"{year}"' if quoted else f"ID{i},{sex},{year}")
        expected_rows.append(len(lines))
    f = tmp_path_factory.mktemp("csv") / "population.csv"
    f.write_bytes(("\r\n" if crlf else "\n").join(lines).encode() + b"\n")
    df, problems = read_table(f, None, "population")
    assert problems == [] and df is not None
    assert df["_row"].tolist() == expected_rows
    assert df["person_id"].tolist() == [f"ID{i}" for i in range(len(rows))]
    assert df["sex"].tolist() == [r[0] for r in rows] and df["birth_year"].tolist() == [
        r[1] for r in rows
    ]


def test_header_only_responses_is_a_study_without_answers(tmp_path):
    folder = _copy(tmp_path)
    header = (MINI / "responses.csv").read_text(encoding="utf-8").splitlines()[0]
    (folder / "responses.csv").write_text(header + "\n", encoding="utf-8")
    study = load_study(folder)
    assert len(study.responses) == 0 and study.responses["item"].dtype == "Int64"
    assert "Instruments answered: (none)" in summary(study)


def test_study_table_accessor_and_html(mini):
    assert mini.table("visits") is mini.visits
    with pytest.raises(KeyError, match="sick_leave"):
        mini.table("config")
    assert mini._repr_html_().startswith("<pre>Study: Mini study")


def test_model_knows_the_contract_tables():
    from kureval.study.model import TABLE_NAMES

    assert TABLE_NAMES == tuple(TABLES)


def test_status_rules_apply_only_to_recorded_columns(tmp_path):
    """A study without start/end dates (self-ratings only) is not held to date rules."""
    folder = _copy(tmp_path)
    part = pd.read_csv(folder / "participants.csv", dtype=str, keep_default_na=False)
    part.drop(columns=["start_date", "end_date"]).to_csv(folder / "participants.csv", index=False)
    study = load_study(folder)
    assert study.participants["start_date"].isna().all()
    assert "kureval_absent_columns" not in study.participants.attrs
    part.loc[0, "end_date"] = ""  # P01 completed, end date column present but empty
    part.to_csv(folder / "participants.csv", index=False)
    with pytest.raises(DataError) as info:
        load_study(folder)
    assert [(p.row, p.column) for p in info.value.problems] == [(2, "end_date")]
