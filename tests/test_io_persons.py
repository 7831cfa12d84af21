"""Loading only some persons' register rows: ``kv.load_study(path, persons=...)``.

Each test compares the person-filtered load with a plain computation on the
same file: the full load restricted to those persons with pandas, or the
file's rows read with pandas/pyarrow and their record numbers.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import kureval as kv
from kureval.errors import ConfigError, DataError
from kureval.study import io as study_io
from kureval.study.io import PERSONS_REASON, is_person_filtered

MINI = Path(__file__).parent / "fixtures" / "mini_study"
REGISTER = ("population", "visits", "sick_leave", "dispensations")
NON_REGISTER = ("participants", "responses")


def _copy(tmp_path: Path) -> Path:
    dest = tmp_path / "study"
    shutil.copytree(MINI, dest)
    return dest


def _restricted(df: pd.DataFrame, persons: list[str]) -> pd.DataFrame:
    return df[df["person_id"].isin(persons)].reset_index(drop=True)


def _assert_same_as_full(full, part, persons: list[str]) -> None:
    for name in REGISTER:
        pd.testing.assert_frame_equal(part.table(name), _restricted(full.table(name), persons))
    for name in NON_REGISTER:
        pd.testing.assert_frame_equal(part.table(name), full.table(name))


def _to_parquet(folder: Path, name: str, **kw) -> Path:
    """Rewrite register/<name>.csv as Parquet with typed columns (dates as dates)."""
    src = folder / "register" / f"{name}.csv"
    df = pd.read_csv(src, dtype=str, keep_default_na=False)
    for col in df.columns:
        if col.endswith("date") or col in ("date", "in_register_from"):
            df[col] = pd.to_datetime(df[col].mask(df[col] == ""))
        elif col in ("birth_year", "extent", "ddd"):
            df[col] = pd.to_numeric(df[col].mask(df[col] == ""))
    out = src.with_suffix(".parquet")
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), out, **kw)
    src.unlink()
    return out


# --------------------------------------------------------------------------- same rows as a full load


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_filtered_load_equals_full_load_restricted(tmp_path, fmt):
    folder = _copy(tmp_path)
    if fmt == "parquet":
        for name in REGISTER:
            _to_parquet(folder, name)
    full = kv.load_study(folder)
    persons = ["P04", "R01", "R03"]
    part = kv.load_study(folder, persons=persons)
    _assert_same_as_full(full, part, persons)
    # plain count from the file: visits of these persons in register/visits.*
    raw = (
        pd.read_csv(folder / "register" / "visits.csv", dtype=str)
        if fmt == "csv"
        else pd.read_parquet(folder / "register" / "visits.parquet")
    )
    assert len(part.visits) == int(raw["person_id"].isin(persons).sum()) == 6
    # _row is the row in the file: CSV line (header = 1) or record number + 1
    expected_rows = (np.flatnonzero(raw["person_id"].isin(persons)) + 2).tolist()
    assert part.visits["_row"].tolist() == expected_rows == [2, 3, 4, 7, 8, 9]
    assert set(part.population["person_id"]) == set(persons)


def test_many_batches_keep_row_numbers_and_order(tmp_path, monkeypatch):
    """A shuffled Parquet register read in small batches (row groups of 250, batches
    of 97): the kept rows, their order and their record numbers are the file's."""
    rng = np.random.default_rng(7)
    folder = _copy(tmp_path)
    refs = [f"R{i:03d}" for i in range(1, 201)]
    pop = pd.DataFrame(
        {
            "person_id": ["P04", "P05", *refs],
            "sex": rng.choice(["F", "M"], 202),
            "birth_year": rng.integers(1950, 2000, 202),
            "in_register_from": pd.Timestamp("2010-01-01"),
        }
    )
    n = 3000
    visits = pd.DataFrame(
        {
            "person_id": rng.choice(pop["person_id"], n),
            "date": pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 900, n), "D"),
            "care_type": rng.choice(["primary_care", "specialist"], n),
        }
    )
    reg = folder / "register"
    for f in reg.iterdir():
        f.unlink()
    pop.to_parquet(reg / "population.parquet", index=False)
    pq.write_table(pa.Table.from_pandas(visits), reg / "visits.parquet", row_group_size=250)
    monkeypatch.setattr(study_io, "_BATCH_ROWS", 97)
    full = kv.load_study(folder)
    persons = sorted(rng.choice(refs, 25, replace=False).tolist()) + ["P04"]
    part = kv.load_study(folder, persons=persons)
    for name in ("population", "visits"):
        pd.testing.assert_frame_equal(part.table(name), _restricted(full.table(name), persons))
    hit = np.flatnonzero(visits["person_id"].isin(persons).to_numpy())
    assert part.visits["_row"].tolist() == (hit + 2).tolist()
    assert part.visits["date"].tolist() == visits["date"].iloc[hit].tolist()
    left = part.exclusions.table.set_index(["step", "table", "reason"])["n"]
    assert left[("load", "visits", PERSONS_REASON)] == n - len(hit)
    assert left[("load", "population", PERSONS_REASON)] == 202 - len(persons)


def test_integer_and_padded_and_dictionary_ids_in_parquet(tmp_path):
    """Ids stored as integers, as text with spaces around, or dictionary-encoded are
    matched on the id as text, as in a full load."""
    folder = _copy(tmp_path)
    for name in REGISTER:
        _to_parquet(folder, name)
    reg = folder / "register"
    # visits: dictionary-encoded ids; sick_leave: ids padded with spaces
    t = pq.read_table(reg / "visits.parquet")
    i = t.schema.get_field_index("person_id")
    t = t.set_column(i, "person_id", pa.compute.dictionary_encode(t.column(i)))
    pq.write_table(t, reg / "visits.parquet")
    assert pa.types.is_dictionary(pq.ParquetFile(reg / "visits.parquet").schema_arrow[i].type)
    sl = pd.read_parquet(reg / "sick_leave.parquet")
    sl["person_id"] = "  " + sl["person_id"] + " "
    sl.to_parquet(reg / "sick_leave.parquet", index=False)
    full = kv.load_study(folder)
    persons = ["P05", "R01"]
    part = kv.load_study(folder, persons=persons)
    _assert_same_as_full(full, part, persons)
    assert len(part.sick_leave) == 2 and len(part.visits) == 4  # lines 4-5 and 5-8 of the CSVs


def test_integer_ids(tmp_path):
    """A register keyed by whole numbers: persons=[1003, "1005"] select the ids 1003, 1005."""
    folder = _copy(tmp_path)
    for name in ("participants.csv", "responses.csv"):
        text = (folder / name).read_text(encoding="utf-8")
        (folder / name).write_text(
            text.replace("P04,", "1004,").replace("P05,", "1005,"), encoding="utf-8"
        )
    reg = folder / "register"
    for name in REGISTER:
        src = reg / f"{name}.csv"
        df = pd.read_csv(src, dtype=str, keep_default_na=False)
        df["person_id"] = df["person_id"].map(
            lambda p: int(p.replace("P", "10").replace("R", "20"))
        )
        for col in ("date", "start_date", "end_date", "discharge_date", "in_register_from"):
            if col in df:
                df[col] = pd.to_datetime(df[col].mask(df[col] == ""))
        df.to_parquet(src.with_suffix(".parquet"), index=False)
        src.unlink()
    full = kv.load_study(folder)
    assert full.visits["person_id"].iloc[0] == "1004"  # ids are text after loading
    part = kv.load_study(folder, persons=[2001, "1005"])
    _assert_same_as_full(full, part, ["2001", "1005"])
    assert len(part.visits) == 4


# --------------------------------------------------------------------------- validation of the rows read


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_broken_row_of_selected_person_keeps_its_file_row(tmp_path, fmt):
    folder = _copy(tmp_path)
    path = folder / "register" / "visits.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    # line 8 (R01) gets a discharge before its date; line 5 (P05, not selected) an unknown care type
    assert lines[7].startswith("R01,2020-04-01,emergency")
    lines[7] = "R01,2020-04-01,psychiatry_inpatient,2020-03-01,R07.4"
    lines[4] = "P05,2020-01-14,sauna,,F32.1"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if fmt == "parquet":
        _to_parquet(folder, "visits", row_group_size=3)
    label = f"register/visits.{fmt}"
    with pytest.raises(DataError) as full_err:
        kv.load_study(folder)
    with pytest.raises(DataError) as part_err:
        kv.load_study(folder, persons=["R01", "R03"])
    full_rows = {(p.file, p.row, p.column) for p in full_err.value.problems}
    part_rows = {(p.file, p.row, p.column) for p in part_err.value.problems}
    assert full_rows == {(label, 5, "care_type"), (label, 8, "discharge_date")}
    assert part_rows == {(label, 8, "discharge_date")}  # the same message, the same row
    same = [p for p in full_err.value.problems if p.row == 8]
    assert list(part_err.value.problems) == same


def test_participants_presence_in_population_is_still_checked(tmp_path):
    """A participant of the register design missing from the population is an error
    in a filtered load too, even when the participant is not among persons."""
    folder = _copy(tmp_path)
    path = folder / "register" / "population.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[2].startswith("P05,")
    path.write_text("\n".join(lines[:2] + lines[3:]) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as full_err:
        kv.load_study(folder)
    with pytest.raises(DataError) as part_err:
        kv.load_study(folder, persons=["R01"])
    missing = [p for p in full_err.value.problems if p.file == "participants.csv"]
    assert missing and missing[0].value == "P05"
    assert [p for p in part_err.value.problems if p.file == "participants.csv"] == missing


# --------------------------------------------------------------------------- arguments and refusal


def test_unknown_ids_are_a_config_error_listing_them(tmp_path):
    folder = _copy(tmp_path)
    with pytest.raises(ConfigError) as err:
        kv.load_study(folder, persons=["R01", "X9", "P01", "X1"])
    # P01 is a participant of another programme, not in the register
    assert sorted(p.value for p in err.value.problems) == ["P01", "X1", "X9"]
    assert all(p.column == "persons" for p in err.value.problems)


def test_bad_persons_arguments(tmp_path):
    folder = _copy(tmp_path)
    with pytest.raises(ConfigError, match="single id"):
        kv.load_study(folder, persons="R01")
    with pytest.raises(ConfigError, match="empty"):
        kv.load_study(folder, persons=["R01", None])
    shutil.rmtree(folder / "register")
    (folder / "study.toml").write_text(
        (folder / "study.toml")
        .read_text(encoding="utf-8")
        .split("[reference]")[0]
        .replace('[[goals]]\nprogramme = "Steg framåt"', "[[goals]]"),
        encoding="utf-8",
    )
    kv.load_study(folder)  # valid without a register
    with pytest.raises(ConfigError, match="register tables"):
        kv.load_study(folder, persons=["R01"])


def test_empty_persons_gives_empty_register_tables(tmp_path):
    folder = _copy(tmp_path)
    part = kv.load_study(folder, persons=[])
    assert all(len(part.table(n)) == 0 for n in REGISTER)
    assert list(part.visits.columns) == list(kv.load_study(folder).visits.columns)


def test_study_records_the_filter_and_matching_refuses(tmp_path):
    folder = _copy(tmp_path)
    full = kv.load_study(folder)
    part = kv.load_study(folder, persons=["P04", "R01"])
    assert is_person_filtered(part) and not is_person_filtered(full)
    log = part.exclusions.table
    rows = log[(log["step"] == "load") & (log["reason"] == PERSONS_REASON)]
    n_full = {name: len(full.table(name)) for name in REGISTER}
    n_part = {name: len(part.table(name)) for name in REGISTER}
    assert dict(zip(rows["table"], rows["n"], strict=True)) == {
        name: n_full[name] - n_part[name] for name in REGISTER
    }
    assert any("persons=" in note for note in part.notes)
    with pytest.raises(ConfigError, match="whole register"):
        kv.match_reference(part)


def test_windows_of_a_filtered_study_equal_the_full_studys(tmp_path):
    """kv.register_windows on the filtered study gives the full study's windows."""
    folder = _copy(tmp_path)
    full = kv.load_study(folder)
    matched = pd.DataFrame(
        {
            "id": ["P04", "R01", "R03"],
            "set_id": [0, 0, 0],
            "treat": [1, 0, 0],
            "weight": [1.0, 0.5, 0.5],
            "index_date": pd.to_datetime(["2020-03-02"] * 3),
        }
    )
    part = kv.load_study(folder, persons=matched["id"])
    pd.testing.assert_frame_equal(
        kv.register_windows(part, matched), kv.register_windows(full, matched)
    )


def test_demo_matched_sets_windows_through_the_public_api(demo_path):
    """The intended use: match on the whole register, then load only the matched
    persons' register rows; the windows equal those of the full study."""
    full = kv.load_study(demo_path)  # not the shared fixture: matching and windows log into it
    match = kv.match_reference(full)
    few = kv.load_study(demo_path, persons=match.matched["id"])
    assert set(few.population["person_id"]) == set(match.matched["id"])
    assert len(few.visits) == int(full.visits["person_id"].isin(match.matched["id"]).sum())
    pd.testing.assert_frame_equal(kv.register_windows(few, match), kv.register_windows(full, match))
