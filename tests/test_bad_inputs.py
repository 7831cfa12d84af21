"""The bad-input corpus (tests/bad_inputs/): every broken study is rejected with
one error naming the right file, row and column, and nothing else."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path

import pytest

from kureval.errors import ConfigError, DataError, Problem
from kureval.study.io import load_study, summary

CORPUS = Path(__file__).parent / "bad_inputs"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.toml").is_file())
ERRORS = {"DataError": DataError, "ConfigError": ConfigError}


def _expected(case: str) -> dict:
    return tomllib.loads((CORPUS / case / "expected.toml").read_text(encoding="utf-8"))


def _matches(p: Problem, want: dict) -> bool:
    if "file" in want and p.file != want["file"]:
        return False
    if "file_endswith" in want and not str(p.file).endswith(want["file_endswith"]):
        return False
    return p.row == want.get("row") and p.column == want.get("column")


def test_corpus_is_large_enough():
    broken = [c for c in CASES if _expected(c)["error"] != "none"]
    assert len(broken) >= 30


@pytest.mark.parametrize("case", [c for c in CASES if _expected(c)["error"] != "none"])
def test_bad_input_is_rejected_with_file_row_column(case):
    exp = _expected(case)
    with pytest.raises(ERRORS[exp["error"]]) as info:
        load_study(CORPUS / case)
    err = info.value
    wanted = exp["problems"]
    remaining = list(err.problems)
    for want in wanted:
        hit = next((p for p in remaining if _matches(p, want)), None)
        assert hit is not None, f"{case}: no problem matching {want} in\n{err}"
        remaining.remove(hit)
    if exp.get("exact", True):
        assert not remaining, f"{case}: unexpected extra problems {remaining}"
    # the message a user reads names the same places
    text = str(err)
    for want in wanted:
        if "file" in want:
            assert want["file"] in text
        if "row" in want:
            assert f"row {want['row']}" in text
        if "column" in want:
            assert f"column {want['column']!r}" in text
    if "contains" in exp:
        assert exp["contains"] in text
    assert "Traceback" not in text


def test_several_defects_are_all_listed_in_one_error():
    with pytest.raises(DataError) as info:
        load_study(CORPUS / "several_defects")
    err = info.value
    places = {(p.file, p.row, p.column) for p in err.problems}
    assert places == {
        ("participants.csv", 2, "sex"),
        ("participants.csv", 5, "person_id"),
        ("responses.csv", 5, "value"),
        ("register/visits.csv", 4, "person_id"),
        ("register/sick_leave.csv", 3, "extent"),
    }
    assert str(err).count("\n  - ") == 5
    assert "(5 data problems)" in str(err)


def test_latin1_file_loads_with_swedish_letters_intact():
    study = load_study(CORPUS / "latin1_file")
    part = study.participants
    assert set(part["programme"]) == {"Kultur på recept", "Steg framåt"}
    assert part.loc[part["person_id"] == "A1", "site"].item() == "Höör"
    assert any("participants.csv is not UTF-8" in n and "Windows-1252" in n for n in study.notes)
    assert "not UTF-8" in summary(study)


def test_corpus_matches_its_generator(tmp_path):
    """The committed folders are what make_bad_inputs.py writes (text files compared)."""
    spec = importlib.util.spec_from_file_location("make_bad_inputs", CORPUS / "make_bad_inputs.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert sorted(gen.CASES) == CASES
    assert gen.readme() == (CORPUS / "README.md").read_text(encoding="utf-8")
    for name, (edit, expected) in gen.CASES.items():
        folder = gen.write_case(name, edit, expected, root=tmp_path)
        written = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
        committed = sorted(
            p.relative_to(CORPUS / name) for p in (CORPUS / name).rglob("*") if p.is_file()
        )
        assert written == committed, name
        for rel in written:
            if rel.suffix in (".csv", ".toml"):
                assert (folder / rel).read_bytes() == (CORPUS / name / rel).read_bytes(), (
                    f"{name}/{rel}"
                )


@pytest.mark.parametrize("case", CASES)
def test_kureval_validate_prints_problems_and_exits_nonzero(case, capsys):
    """The command line, with the instrument checks of kureval.load_study: a message, never a traceback."""
    from kureval.cli import main

    exp = _expected(case)
    status = main(["validate", str(CORPUS / case)])
    out, err = capsys.readouterr()
    if exp["error"] == "none":
        assert status == 0 and "not UTF-8" in out
        return
    assert status == 1 and out == ""
    for want in exp["problems"]:
        assert want.get("file", want.get("file_endswith", "")) in err
