"""Write the bad-input corpus: one minimal study folder per defect.

Run from the repository root::

    .venv/bin/python tests/bad_inputs/make_bad_inputs.py

Every case starts from the same small valid study (``BASE`` below) and
changes exactly one thing, unless its name says ``several``.  Beside the
tables each folder holds ``expected.toml``: the error class and, for every
problem the loader must report, the file, row and column it must name (an
absent ``row``/``column`` means "none": a whole-file or whole-column problem),
and optionally a text the message must contain.  ``tests/test_bad_inputs.py``
loads every folder and checks exactly these problems, no more and no fewer.

The folders are committed; rerun this script after changing a case.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent

STUDY_TOML = """\
[study]
name = "Bad-input base study"
language = "en"
min_cell = 5

[timepoints]
order = ["start", "end"]
pre = "start"
post = "end"

[instruments.eqvas]

[[goals]]
programme = "Steg framåt"
name = "work_or_studies"
destinations = ["work", "studies"]
target = 0.30
"""

BASE: dict[str, str] = {
    "participants.csv": """\
person_id,programme,sex,birth_year,referral_date,start_date,end_date,sessions_offered,sessions_attended,status,exit_destination,provision_at_start,site
A1,Kultur på recept,F,1960,2021-01-10,2021-02-01,2021-04-15,10,9,completed,,,Höör
A2,Kultur på recept,M,1975,2021-01-12,2021-02-01,2021-04-15,10,8,completed,,,Lund
A3,Steg framåt,F,1990,2022-01-10,2022-01-24,2022-06-30,,,completed,work,financial_assistance,Skövde
A4,Steg framåt,M,1985,2022-01-15,,,,,referred,,sickness_benefit,Skövde
""",
    "responses.csv": """\
person_id,timepoint,date,instrument,item,value
A1,start,2021-02-01,eqvas,1,50
A1,end,2021-04-15,eqvas,1,70
A2,start,2021-02-01,eqvas,1,60
A2,end,2021-04-15,eqvas,1,65
""",
    "register/population.csv": """\
person_id,sex,birth_year,municipality,in_register_from,exit_date
A1,F,1960,Malmö,2010-01-01,
A2,M,1975,Lund,2010-01-01,
B1,F,1962,Malmö,2010-01-01,
B2,M,1970,Lund,2010-01-01,2022-03-31
""",
    "register/visits.csv": """\
person_id,date,care_type,discharge_date,diagnosis
A1,2020-05-04,primary_care,,F43.8
B1,2020-09-01,psychiatry_inpatient,2020-09-14,F32.2
B2,2021-01-11,specialist,,M54.5
""",
    "register/sick_leave.csv": """\
person_id,start_date,end_date,extent
A1,2020-06-01,2020-08-31,100
B1,2020-09-01,2020-12-31,50
""",
    "register/dispensations.csv": """\
person_id,date,atc,ddd
A1,2020-05-10,N06AB06,30
B2,2021-01-20,N02BE01,15
""",
}

P, R = "participants.csv", "responses.csv"
POP, VIS, SL, DISP = (
    f"register/{n}.csv" for n in ("population", "visits", "sick_leave", "dispensations")
)
TOML = "study.toml"

Files = dict[str, str | bytes | None]
Edit = Callable[[Files], None]


def _sub(file: str, old: str, new: str) -> Edit:
    def edit(files: Files) -> None:
        text = files[file]
        assert isinstance(text, str) and old in text, (file, old)
        files[file] = text.replace(old, new, 1)

    return edit


def _set(file: str, content: str | bytes | None) -> Edit:
    def edit(files: Files) -> None:
        files[file] = content

    return edit


def _append(file: str, line: str) -> Edit:
    def edit(files: Files) -> None:
        text = files[file]
        assert isinstance(text, str)
        files[file] = text + line + "\n"

    return edit


def _drop_column(file: str, column: str) -> Edit:
    def edit(files: Files) -> None:
        text = files[file]
        assert isinstance(text, str)
        rows = [line.split(",") for line in text.strip().splitlines()]
        j = rows[0].index(column)
        files[file] = "\n".join(",".join(r[:j] + r[j + 1 :]) for r in rows) + "\n"

    return edit


def _both(*edits: Edit) -> Edit:
    def edit(files: Files) -> None:
        for e in edits:
            e(files)

    return edit


def _xlsx(rows: list[list[object]]) -> bytes:
    import io

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Deltagare"
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _participant_rows() -> list[list[object]]:
    lines = BASE[P].strip().splitlines()
    return [line.split(",") for line in lines]


def _excel_title_rows(files: Files) -> None:
    rows = _participant_rows()
    files[P] = None
    files["participants.xlsx"] = _xlsx([["Deltagare i Kultur på recept 2021"], [], *rows])


def _excel_empty(files: Files) -> None:
    files[P] = None
    files["participants.xlsx"] = _xlsx([])


def _excel_two_files(files: Files) -> None:
    files["participants.xlsx"] = _xlsx(_participant_rows())


def _sav_bad_sex(files: Files) -> None:
    import tempfile

    import pandas as pd
    import pyreadstat

    rows = _participant_rows()
    df = pd.DataFrame(rows[1:], columns=rows[0])
    df.loc[1, "sex"] = "K"
    df["birth_year"] = df["birth_year"].astype(float)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "p.sav"
        pyreadstat.write_sav(df, str(out))
        files["participants.sav"] = out.read_bytes()
    files[P] = None


def _parquet_bad_item(files: Files) -> None:
    import io

    import pandas as pd

    df = pd.read_csv(io.StringIO(BASE[R]), dtype={"item": "float64"})
    df.loc[2, "item"] = 1.5
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    files["responses.parquet"] = buf.getvalue()
    files[R] = None


def _latin1(files: Files) -> None:
    files[P] = BASE[P].encode("cp1252")


def _latin1_declared_utf8(files: Files) -> None:
    files[P] = BASE[P].encode("cp1252")
    files[TOML] = STUDY_TOML + '\n[tables.participants]\nencoding = "utf-8"\n'


# name -> (edit, expected.toml body)
CASES: dict[str, tuple[Edit, str]] = {
    "missing_participants": (
        _set(P, None),
        'error = "DataError"\n[[problems]]\nfile = "participants.csv"\n',
    ),
    "missing_responses": (
        _set(R, None),
        'error = "DataError"\n[[problems]]\nfile = "responses.csv"\n',
    ),
    "empty_participants": (
        _set(P, ""),
        'error = "DataError"\ncontains = "empty"\n[[problems]]\nfile = "participants.csv"\n',
    ),
    "empty_register_visits": (
        _set(VIS, ""),
        'error = "DataError"\ncontains = "empty"\n[[problems]]\nfile = "register/visits.csv"\n',
    ),
    # exact = false: the answers and the goal then refer to persons and programmes that are gone,
    # which the loader rightly reports as well
    "header_only_participants": (
        _set(P, BASE[P].splitlines()[0] + "\n"),
        'error = "DataError"\nexact = false\ncontains = "at least one participant"\n'
        '[[problems]]\nfile = "participants.csv"\n',
    ),
    "missing_required_column": (
        _drop_column(P, "sex"),
        'error = "DataError"\n[[problems]]\nfile = "participants.csv"\ncolumn = "sex"\n',
    ),
    "wrong_delimiter": (
        _set(P, BASE[P].replace(",", ";")),
        'error = "DataError"\ncontains = \'delimiter = ";"\'\n[[problems]]\nfile = "participants.csv"\nrow = 1\n',
    ),
    "ragged_row": (
        _sub(P, "A2,Kultur på recept,M", "A2,Kultur, på recept,M"),
        'error = "DataError"\ncontains = "quoted"\n[[problems]]\nfile = "participants.csv"\nrow = 3\n',
    ),
    "duplicate_person_id": (
        _sub(P, "A4,Steg", "A3,Steg"),
        'error = "DataError"\ncontains = "also on row 4"\n[[problems]]\nfile = "participants.csv"\nrow = 5\ncolumn = "person_id"\n',
    ),
    "personnummer_12_digits_dash": (
        _sub(P, "A3,", "19900101-1234,"),
        'error = "DataError"\ncontains = "personnummer"\n[[problems]]\nfile = "participants.csv"\nrow = 4\ncolumn = "person_id"\n',
    ),
    "personnummer_10_digits_dash": (
        _sub(P, "A3,", "900101-1234,"),
        'error = "DataError"\ncontains = "personnummer"\n[[problems]]\nfile = "participants.csv"\nrow = 4\ncolumn = "person_id"\n',
    ),
    "personnummer_12_digits_no_dash": (
        _sub(P, "A3,", "199001011234,"),
        'error = "DataError"\n[[problems]]\nfile = "participants.csv"\nrow = 4\ncolumn = "person_id"\n',
    ),
    "personnummer_10_digits_no_dash": (
        _sub(P, "A3,", "9001011234,"),
        'error = "DataError"\n[[problems]]\nfile = "participants.csv"\nrow = 4\ncolumn = "person_id"\n',
    ),
    "personnummer_plus": (
        _sub(P, "A3,", "190101+1234,"),
        'error = "DataError"\n[[problems]]\nfile = "participants.csv"\nrow = 4\ncolumn = "person_id"\n',
    ),
    "personnummer_in_extra_column": (
        _both(
            _sub(P, ",site\n", ",site,pnr\n"),
            _sub(P, ",Höör\n", ",Höör,\n"),
            _sub(P, ",Lund\n", ",Lund,19750112-1234\n"),
        ),
        'error = "DataError"\ncontains = "first on row 3"\n[[problems]]\nfile = "participants.csv"\ncolumn = "pnr"\n',
    ),
    "samordningsnummer_in_register": (
        _append(POP, "19620161-1234,F,1962,Malmö,2010-01-01,"),
        'error = "DataError"\n[[problems]]\nfile = "register/population.csv"\nrow = 6\ncolumn = "person_id"\n',
    ),
    "timepoint_not_declared": (
        _sub(R, "A2,start", "A2,6m"),
        'error = "DataError"\ncontains = "start, end"\n[[problems]]\nfile = "responses.csv"\nrow = 4\ncolumn = "timepoint"\n',
    ),
    "unknown_instrument": (
        _sub(R, "A1,end,2021-04-15,eqvas", "A1,end,2021-04-15,hads"),
        'error = "DataError"\ncontains = "[instruments.<name>]"\n[[problems]]\nfile = "responses.csv"\nrow = 3\ncolumn = "instrument"\n',
    ),
    "non_numeric_value": (
        _sub(R, "eqvas,1,65", "eqvas,1,sextiofem"),
        'error = "DataError"\ncontains = "sextiofem"\n[[problems]]\nfile = "responses.csv"\nrow = 5\ncolumn = "value"\n',
    ),
    "non_integer_item": (
        _sub(R, "A2,start,2021-02-01,eqvas,1,", "A2,start,2021-02-01,eqvas,1.5,"),
        'error = "DataError"\ncontains = "whole number"\n[[problems]]\nfile = "responses.csv"\nrow = 4\ncolumn = "item"\n',
    ),
    "duplicate_response": (
        _append(R, "A1,start,2021-02-01,eqvas,1,55"),
        'error = "DataError"\ncontains = "same as row 2"\n[[problems]]\nfile = "responses.csv"\nrow = 6\ncolumn = "item"\n',
    ),
    "responses_unknown_person": (
        _append(R, "Z9,start,2021-02-01,eqvas,1,55"),
        'error = "DataError"\n[[problems]]\nfile = "responses.csv"\nrow = 6\ncolumn = "person_id"\n',
    ),
    "unparseable_date": (
        _sub(P, "2021-01-12", "12/01/2021x"),
        'error = "DataError"\ncontains = "YYYY-MM-DD"\n[[problems]]\nfile = "participants.csv"\nrow = 3\ncolumn = "referral_date"\n',
    ),
    "date_year_0001": (  # parses, but beyond what pandas holds in ns: an error, not a crash
        _sub(P, "2021-01-12", "0001-01-12"),
        'error = "DataError"\ncontains = "between 1900-01-01 and 2100-12-31"\n[[problems]]\nfile = "participants.csv"\nrow = 3\ncolumn = "referral_date"\n',
    ),
    "end_before_start": (
        _sub(P, "2021-02-01,2021-04-15,10,8", "2021-02-01,2021-01-20,10,8"),
        'error = "DataError"\n[[problems]]\nfile = "participants.csv"\nrow = 3\ncolumn = "end_date"\n',
    ),
    "start_before_referral": (
        _sub(P, "2021-01-10,2021-02-01", "2021-01-10,2021-01-05"),
        'error = "DataError"\ncontains = "referral_date"\n[[problems]]\nfile = "participants.csv"\nrow = 2\ncolumn = "start_date"\n',
    ),
    "birth_year_future": (
        _sub(P, "M,1975", "M,2199"),
        'error = "DataError"\n[[problems]]\nfile = "participants.csv"\nrow = 3\ncolumn = "birth_year"\n',
    ),
    "birth_year_before_1900": (
        _sub(P, "M,1975", "M,1875"),
        'error = "DataError"\n[[problems]]\nfile = "participants.csv"\nrow = 3\ncolumn = "birth_year"\n',
    ),
    "sex_not_fmx": (
        _sub(P, "A1,Kultur på recept,F", "A1,Kultur på recept,K"),
        'error = "DataError"\ncontains = "F, M, X"\n[[problems]]\nfile = "participants.csv"\nrow = 2\ncolumn = "sex"\n',
    ),
    "status_unknown": (
        _sub(P, "referred,,sickness", "avbrott,,sickness"),
        'error = "DataError"\n[[problems]]\nfile = "participants.csv"\nrow = 5\ncolumn = "status"\n',
    ),
    "provision_unknown": (
        _sub(P, "sickness_benefit", "sjukpenning"),
        'error = "DataError"\n[[problems]]\nfile = "participants.csv"\nrow = 5\ncolumn = "provision_at_start"\n',
    ),
    "exit_destination_while_referred": (
        _sub(P, "referred,,sickness", "referred,work,sickness"),
        'error = "DataError"\ncontains = "status is \'referred\'"\n[[problems]]\nfile = "participants.csv"\nrow = 5\ncolumn = "exit_destination"\n',
    ),
    "status_started_without_start_date": (
        _sub(P, "1975,2021-01-12,2021-02-01,", "1975,2021-01-12,,"),
        'error = "DataError"\ncontains = "says the person started"\n[[problems]]\nfile = "participants.csv"\nrow = 3\ncolumn = "start_date"\n',
    ),
    "status_ended_without_end_date": (
        _sub(P, "2021-02-01,2021-04-15,10,9", "2021-02-01,,10,9"),
        'error = "DataError"\n[[problems]]\nfile = "participants.csv"\nrow = 2\ncolumn = "end_date"\n',
    ),
    "end_date_while_referred": (
        _sub(P, "2022-01-15,,,", "2022-01-15,,2022-03-01,"),
        'error = "DataError"\ncontains = "only persons who ended"\n[[problems]]\nfile = "participants.csv"\nrow = 5\ncolumn = "end_date"\n',
    ),
    "sessions_attended_above_offered": (
        _sub(P, "10,8,completed", "10,12,completed"),
        'error = "DataError"\n[[problems]]\nfile = "participants.csv"\nrow = 3\ncolumn = "sessions_offered"\n',
    ),
    "register_unknown_person": (
        _sub(VIS, "B2,2021", "Q7,2021"),
        'error = "DataError"\ncontains = "register/population"\n[[problems]]\nfile = "register/visits.csv"\nrow = 4\ncolumn = "person_id"\n',
    ),
    "register_population_missing": (
        _set(POP, None),
        'error = "DataError"\n[[problems]]\nfile = "register/population.csv"\n',
    ),
    "register_duplicate_person": (
        _append(POP, "B1,F,1962,Malmö,2011-01-01,"),
        'error = "DataError"\ncontains = "also on row 4"\n[[problems]]\nfile = "register/population.csv"\nrow = 6\ncolumn = "person_id"\n',
    ),
    "care_type_unknown": (
        _sub(VIS, "specialist", "specialistvård"),
        'error = "DataError"\n[[problems]]\nfile = "register/visits.csv"\nrow = 4\ncolumn = "care_type"\n',
    ),
    "discharge_before_admission": (
        _sub(VIS, "2020-09-14", "2020-08-14"),
        'error = "DataError"\n[[problems]]\nfile = "register/visits.csv"\nrow = 3\ncolumn = "discharge_date"\n',
    ),
    "sick_leave_extent": (
        _sub(SL, "2020-12-31,50", "2020-12-31,60"),
        'error = "DataError"\ncontains = "25, 50, 75, 100"\n[[problems]]\nfile = "register/sick_leave.csv"\nrow = 3\ncolumn = "extent"\n',
    ),
    "spell_end_before_start": (
        _sub(SL, "2020-06-01,2020-08-31", "2020-06-01,2020-05-31"),
        'error = "DataError"\n[[problems]]\nfile = "register/sick_leave.csv"\nrow = 2\ncolumn = "end_date"\n',
    ),
    "negative_ddd": (
        _sub(DISP, "N02BE01,15", "N02BE01,-15"),
        'error = "DataError"\n[[problems]]\nfile = "register/dispensations.csv"\nrow = 3\ncolumn = "ddd"\n',
    ),
    "atc_malformed": (
        _sub(DISP, "N06AB06", "paroxetin"),
        'error = "DataError"\ncontains = "ATC"\n[[problems]]\nfile = "register/dispensations.csv"\nrow = 2\ncolumn = "atc"\n',
    ),
    "latin1_file": (_latin1, 'error = "none"\n'),
    "latin1_declared_utf8": (
        _latin1_declared_utf8,
        'error = "DataError"\ncontains = "encoding"\n[[problems]]\nfile = "participants.csv"\nrow = 2\n',
    ),
    "excel_title_rows": (
        _excel_title_rows,
        'error = "DataError"\ncontains = "header_row = 3"\n[[problems]]\nfile = "participants.xlsx"\nrow = 3\n',
    ),
    "excel_empty": (
        _excel_empty,
        'error = "DataError"\ncontains = "empty"\n[[problems]]\nfile = "participants.xlsx"\n',
    ),
    "two_participants_files": (
        _excel_two_files,
        'error = "ConfigError"\ncontains = "participants.xlsx"\n[[problems]]\nfile = "participants.csv, participants.xlsx"\n',
    ),
    "sav_bad_sex": (
        _sav_bad_sex,
        'error = "DataError"\n[[problems]]\nfile = "participants.sav"\nrow = 3\ncolumn = "sex"\n',
    ),
    "parquet_non_integer_item": (
        _parquet_bad_item,
        'error = "DataError"\n[[problems]]\nfile = "responses.parquet"\nrow = 4\ncolumn = "item"\n',
    ),
    "mapped_column_missing": (
        _set(TOML, STUDY_TOML + '\n[tables.participants]\ncolumns = { person_id = "lopnr" }\n'),
        'error = "DataError"\ncontains = "mapped to person_id"\n[[problems]]\nfile = "participants.csv"\ncolumn = "lopnr"\n',
    ),
    "toml_missing": (
        _set(TOML, None),
        'error = "ConfigError"\ncontains = "study.toml"\n[[problems]]\nfile_endswith = "study.toml"\n',
    ),
    "toml_unknown_key": (
        _sub(TOML, 'name = "Bad', 'nmae = "Bad'),
        'error = "ConfigError"\n[[problems]]\nfile = "study.toml"\ncolumn = "study.nmae"\n'
        '[[problems]]\nfile = "study.toml"\ncolumn = "study.name"\n',
    ),
    "toml_unknown_section": (
        _set(TOML, STUDY_TOML + "\n[tables.participant]\n"),
        'error = "ConfigError"\n[[problems]]\nfile = "study.toml"\ncolumn = "tables.participant"\n',
    ),
    "toml_wrong_type": (
        _sub(TOML, "min_cell = 5", 'min_cell = "five"'),
        'error = "ConfigError"\ncontains = "whole number"\n[[problems]]\nfile = "study.toml"\ncolumn = "study.min_cell"\n',
    ),
    "toml_min_cell_zero": (
        _sub(TOML, "min_cell = 5", "min_cell = 0"),
        'error = "ConfigError"\n[[problems]]\nfile = "study.toml"\ncolumn = "study.min_cell"\n',
    ),
    "toml_language": (
        _sub(TOML, 'language = "en"', 'language = "fi"'),
        'error = "ConfigError"\n[[problems]]\nfile = "study.toml"\ncolumn = "study.language"\n',
    ),
    "toml_unknown_pre_timepoint": (
        _sub(TOML, 'pre = "start"', 'pre = "baseline"'),
        'error = "ConfigError"\n[[problems]]\nfile = "study.toml"\ncolumn = "timepoints.pre"\n',
    ),
    "toml_duplicate_timepoint": (
        _sub(TOML, '["start", "end"]', '["start", "end", "start"]'),
        'error = "ConfigError"\n[[problems]]\nfile = "study.toml"\ncolumn = "timepoints.order[2]"\n',
    ),
    "toml_missing_timepoints": (
        _sub(TOML, '[timepoints]\norder = ["start", "end"]\npre = "start"\npost = "end"\n', ""),
        'error = "ConfigError"\n[[problems]]\nfile = "study.toml"\ncolumn = "timepoints"\n',
    ),
    "toml_syntax_error": (
        _sub(TOML, "min_cell = 5", "min_cell = 5 5"),
        'error = "ConfigError"\ncontains = "valid TOML"\n[[problems]]\nfile = "study.toml"\nrow = 4\n',
    ),
    "toml_goal_unknown_programme": (
        _sub(TOML, 'programme = "Steg framåt"', 'programme = "Steg fram"'),
        'error = "DataError"\ncontains = "Steg framåt"\n[[problems]]\nfile = "study.toml"\ncolumn = "goals[0].programme"\n',
    ),
    "several_defects": (
        _both(
            _sub(P, "A4,Steg", "A3,Steg"),
            _sub(P, "A1,Kultur på recept,F", "A1,Kultur på recept,K"),
            _sub(R, "eqvas,1,65", "eqvas,1,sextiofem"),
            _sub(SL, "2020-12-31,50", "2020-12-31,60"),
            _sub(VIS, "B2,2021", "Q7,2021"),
        ),
        'error = "DataError"\n'
        '[[problems]]\nfile = "participants.csv"\nrow = 5\ncolumn = "person_id"\n'
        '[[problems]]\nfile = "participants.csv"\nrow = 2\ncolumn = "sex"\n'
        '[[problems]]\nfile = "responses.csv"\nrow = 5\ncolumn = "value"\n'
        '[[problems]]\nfile = "register/sick_leave.csv"\nrow = 3\ncolumn = "extent"\n'
        '[[problems]]\nfile = "register/visits.csv"\nrow = 4\ncolumn = "person_id"\n',
    ),
}


def write_case(name: str, edit: Edit, expected: str, root: Path = HERE) -> Path:
    """Write one case folder under ``root`` (replacing an old one)."""
    folder = root / name
    if folder.exists():
        shutil.rmtree(folder)
    files: Files = {TOML: STUDY_TOML, **BASE}
    edit(files)
    for rel, content in files.items():
        if content is None:
            continue
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="\n")
    (folder / "expected.toml").write_text(
        f"# defect: {name.replace('_', ' ')}\n{expected}", encoding="utf-8"
    )
    return folder


def readme() -> str:
    """A table of the cases: folder, error class and the places the message must name."""
    import tomllib

    lines = [
        "# Bad-input corpus",
        "",
        "One minimal study folder per defect, written by `make_bad_inputs.py` (rerun it after",
        "changing a case) and checked by `tests/test_bad_inputs.py`. Each folder's",
        "`expected.toml` lists the problems the loader must report: file, row, column.",
        "",
        "| case | error | file, row, column named |",
        "|---|---|---|",
    ]
    for name, (_edit, expected) in CASES.items():
        exp = tomllib.loads(expected)
        places = "; ".join(
            ", ".join(str(p[k]) for k in ("file", "file_endswith", "row", "column") if k in p)
            for p in exp.get("problems", [])
        )
        lines.append(f"| `{name}` | {exp['error']} | {places or '(loads)'} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    for name, (edit, expected) in CASES.items():
        write_case(name, edit, expected)
    (HERE / "README.md").write_text(readme(), encoding="utf-8")
    print(f"{len(CASES)} cases written under {HERE}")


if __name__ == "__main__":
    main()
