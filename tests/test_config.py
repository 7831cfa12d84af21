"""study.toml → StudyConfig: values, defaults, and every kind of ConfigError."""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
from pathlib import Path

import pytest

from kureval.errors import ConfigError
from kureval.study.config import (
    InstrumentConfig,
    StudyConfig,
    TableConfig,
    load_config,
    parse_config,
)
from kureval.study.register_config import DEFAULT_WINDOWS, WindowConfig

MINI = Path(__file__).parent / "fixtures" / "mini_study"
BASE = """
[study]
name = "x"

[timepoints]
order = ["start", "end", "6m"]
"""


def _parse(text: str) -> StudyConfig:
    return parse_config(tomllib.loads(text))


def _problems(text: str) -> dict[str, object]:
    """Dotted key -> offending value, for every problem (all must name study.toml)."""
    with pytest.raises(ConfigError) as info:
        _parse(text)
    err = info.value
    assert all(p.file == "study.toml" for p in err.problems)
    for p in err.problems:
        assert f"column {p.column!r}" in str(err)
    return {p.column: p.value for p in err.problems}


def test_mini_study_config_values():
    cfg = load_config(MINI)
    assert cfg.name == "Mini study (hand-made test fixture)"
    assert (cfg.language, cfg.min_cell) == ("en", 5)
    assert cfg.timepoints == ("start", "end", "6m")
    assert (cfg.pre, cfg.post) == ("start", "end")
    assert cfg.tables["participants"].columns == {"person_id": "lopnr"}
    assert cfg.table("visits") == TableConfig()
    assert cfg.instruments["eq5d"] == InstrumentConfig(
        "eq5d", {"version": "5L", "value_set": "SE_5L_Sun2022"}
    )
    assert list(cfg.instruments) == ["hads", "eqvas", "eq5d"]
    goal = cfg.goals[0]
    assert (goal.programme, goal.destinations, goal.target) == (
        "Steg framåt",
        ("work", "studies"),
        0.30,
    )
    assert cfg.reference is not None
    assert (cfg.reference.programme, cfg.reference.ratio, cfg.reference.seed) == (
        "Naturunderstödd rehabilitering",
        2,
        1,
    )
    assert cfg.reference.covariates == ("age",)
    assert cfg.register.data_start == dt.date(2018, 1, 1) and cfg.register.data_end == dt.date(
        2024, 12, 31
    )
    assert cfg.windows == (WindowConfig("pre", -365, -1), WindowConfig("post", 0, 364))
    assert cfg.source == MINI / "study.toml"
    assert load_config(MINI / "study.toml") == cfg


def test_defaults_and_immutability():
    cfg = _parse(BASE)
    assert (cfg.language, cfg.min_cell, cfg.pre, cfg.post) == ("en", 5, "start", "end")
    assert cfg.windows == DEFAULT_WINDOWS and cfg.reference is None and cfg.goals == ()
    assert cfg.register.atc_groups == ("N06A", "N05B", "N05C", "N02")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.min_cell = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        cfg.tables["participants"] = TableConfig()  # type: ignore[index]
    one = _parse('[study]\nname = "x"\n[timepoints]\norder = ["baseline"]\n')
    assert (one.pre, one.post) == ("baseline", None)


def test_generic_types_are_converted():
    cfg = _parse(
        BASE
        + """
[[goals]]
name = "g"
destinations = ["work"]
target = 1
[register]
data_start = "2019-01-01"
data_end = 2023-12-31
[reference]
programme = "P"
covariates = ["age", "sex"]
caliper = 1
diagnosis_groups = { depression = ["F32", "F33"] }
[reference.eligibility]
sick_leave_at_index = true
[tables.participants]
sheet = 2
header_row = 3
[tables.responses]
sheet = "Svar"
delimiter = ";"
encoding = "cp1252"
file = "svar.csv"
"""
    )
    assert cfg.goals[0].target == 1.0 and isinstance(cfg.goals[0].target, float)
    assert cfg.register.data_start == dt.date(2019, 1, 1)
    assert cfg.reference is not None and cfg.reference.caliper == 1.0
    assert cfg.reference.diagnosis_groups == {"depression": ("F32", "F33")}
    assert cfg.reference.eligibility.sick_leave_at_index is True
    assert cfg.reference.eligibility.diagnosis_visit_days == 365
    assert (cfg.tables["participants"].sheet, cfg.tables["participants"].header_row) == (2, 3)
    assert cfg.tables["responses"] == TableConfig("svar.csv", {}, "Svar", None, ";", "cp1252")


def test_all_problems_are_collected_in_one_error():
    found = _problems("""
colour = "blue"
[study]
nmae = "typo"
language = "fi"
min_cell = 0
[timepoints]
order = ["start", "end", "start"]
pre = "baseline"
post = 6
""")
    assert found == {
        "colour": "blue",
        "study.nmae": "typo",
        "study.name": None,  # missing required setting
        "timepoints.post": 6,  # wrong type
    }
    # the semantic checks run once the types are right
    found = _problems("""
[study]
name = "x"
language = "fi"
min_cell = 0
[timepoints]
order = ["start", "end", "start"]
pre = "baseline"
""")
    assert found == {
        "study.language": "fi",
        "study.min_cell": 0,
        "timepoints.order[2]": "start",
        "timepoints.pre": "baseline",
    }


@pytest.mark.parametrize(
    ("extra", "key", "value"),
    [
        (
            '[study]\nname = "x"\nmin_cell = true\n[timepoints]\norder = ["a"]\n',
            "study.min_cell",
            True,
        ),
        ('[study]\nname = 3\n[timepoints]\norder = ["a"]\n', "study.name", 3),
        ('[study]\nname = "x"\n[timepoints]\norder = "a, b"\n', "timepoints.order", "a, b"),
        ('[study]\nname = "x"\n[timepoints]\norder = ["a", 2]\n', "timepoints.order[1]", 2),
        ('[study]\nname = "x"\n[timepoints]\norder = []\n', "timepoints.order", []),
        (
            '[study]\nname = "x"\n[timepoints]\norder = ["a", "b"]\npre = "b"\npost = "a"\n',
            "timepoints.post",
            "a",
        ),
        ('[study]\nname = "x"\n', "timepoints", None),
        ('[timepoints]\norder = ["a"]\n', "study", None),
        (BASE + "study2 = 1\n", "timepoints.study2", 1),
        ('goals = { name = "g" }\n' + BASE, "goals", {"name": "g"}),
        ("windows = 3\n" + BASE, "windows", 3),
        ("tables = 3\n" + BASE, "tables", 3),
    ],
)
def test_single_problems(extra, key, value):
    assert _problems(extra) == {key: value}


@pytest.mark.parametrize(
    ("extra", "key", "value"),
    [
        ('[reference]\ncovariates = ["age"]\n', "reference.programme", None),
        (
            '[reference]\nprogramme = "P"\ncovariates = ["age"]\nratio = "2"\n',
            "reference.ratio",
            "2",
        ),
        ('[reference]\nprogramme = "P"\ncovariates = ["age"]\nratio = 0\n', "reference.ratio", 0),
        (
            '[reference]\nprogramme = "P"\ncovariates = ["age"]\ncalliper = 0.2\n',
            "reference.calliper",
            0.2,
        ),
        (
            '[reference]\nprogramme = "P"\ncovariates = ["age"]\ndiagnosis_groups = { dep = "F32" }\n',
            "reference.diagnosis_groups.dep",
            "F32",
        ),
        (
            '[reference]\nprogramme = "P"\ncovariates = ["age"]\n[reference.eligibility]\ndiagnosis_visit_days = -1\n',
            "reference.eligibility.diagnosis_visit_days",
            -1,
        ),
        (
            '[reference]\nprogramme = "P"\ncovariates = ["age"]\n[reference.eligibility]\nsick_leave = true\n',
            "reference.eligibility.sick_leave",
            True,
        ),
        ('[register]\ndata_start = "2018-13-01"\n', "register.data_start", "2018-13-01"),
        (
            "[register]\ndata_start = 2018-01-01T10:00:00\n",
            "register.data_start",
            dt.datetime(2018, 1, 1, 10),
        ),
        (
            "[register]\ndata_start = 2019-01-01\ndata_end = 2018-01-01\n",
            "register.data_end",
            dt.date(2018, 1, 1),
        ),
        (
            '[[goals]]\nname = "g"\ndestinations = ["work", 1]\ntarget = 0.3\n',
            "goals[0].destinations[1]",
            1,
        ),
        (
            '[[goals]]\nname = "g"\ndestinations = ["jobb"]\ntarget = 0.3\n',
            "goals[0].destinations",
            "jobb",
        ),
        ('[[goals]]\nname = "g"\ndestinations = ["work"]\ntarget = 30\n', "goals[0].target", 30.0),
        (
            '[[goals]]\nname = "g"\ndestinations = ["work"]\ntarget = 0.3\n[[goals]]\nname = "g"\n'
            'destinations = ["work"]\ntarget = 0.4\n',
            "goals[1].name",
            "g",
        ),
        ('[[windows]]\nname = "pre"\nstart = -1\nend = -365\n', "windows[0].end", -365),
        (
            '[[windows]]\nname = "pre"\nstart = -365\nend = -1\n[[windows]]\nname = "pre"\nstart = 0\nend = 9\n',
            "windows[1].name",
            "pre",
        ),
        ('[[windows]]\nname = "pre"\nstart = -365.5\nend = -1\n', "windows[0].start", -365.5),
        ("[instruments]\nhads = 3\n", "instruments.hads", 3),
        ("[tables.visit]\n", "tables.visit", {}),
        (
            '[tables.visits]\ncolumns = { patient = "lopnr" }\n',
            "tables.visits.columns.patient",
            "patient",
        ),
        (
            '[tables.visits]\ncolumns = { person_id = "id", date = "id" }\n',
            "tables.visits.columns.date",
            "id",
        ),
        ("[tables.visits]\ncolumns = { person_id = 7 }\n", "tables.visits.columns.person_id", 7),
        ('[tables.visits]\ndelimiter = ";;"\n', "tables.visits.delimiter", ";;"),
        ("[tables.visits]\nsheet = 0\n", "tables.visits.sheet", 0),
        ("[tables.visits]\nsheet = 1.5\n", "tables.visits.sheet", 1.5),
        ("[tables.visits]\nheader_row = 0\n", "tables.visits.header_row", 0),
        ('[tables.visits]\nfile = "visits.txt"\n', "tables.visits.file", "visits.txt"),
        ('[tables.visits]\nencoding = "latin-9x"\n', "tables.visits.encoding", "latin-9x"),
    ],
)
def test_section_problems(extra, key, value):
    assert _problems(BASE + extra) == {key: value}


def test_messages_say_what_was_expected():
    with pytest.raises(ConfigError) as info:
        _parse('[study]\nname = "x"\nmin_cell = "five"\n[timepoints]\norder = ["a"]\n')
    text = str(info.value)
    assert (
        "study.toml" in text
        and "'study.min_cell'" in text
        and "'five'" in text
        and "whole number" in text
    )


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    (problem,) = info.value.problems
    assert problem.file == str(tmp_path / "study.toml")
    assert str(tmp_path / "study.toml") in str(info.value)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nowhere")


def test_syntax_error_and_encoding(tmp_path):
    (tmp_path / "study.toml").write_text('[study]\nname = "x\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert info.value.problems[0].row == 2 and "valid TOML" in str(info.value)
    (tmp_path / "study.toml").write_bytes('[study]\nname = "Göteborg"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="UTF-8"):
        load_config(tmp_path)


def _docs_example() -> str:
    doc = (Path(__file__).parents[1] / "docs" / "study-toml.md").read_text(encoding="utf-8")
    block = doc.split("<!-- demo-study-toml:start -->")[1].split("<!-- demo-study-toml:end -->")[0]
    return block.strip().removeprefix("```toml").removesuffix("```")


def test_docs_example_is_the_demo_study_toml():
    documented = _parse(_docs_example())
    from kureval.study.demo import STUDY_TOML

    assert documented == _parse(STUDY_TOML)


def test_docs_mention_every_key():
    doc = (Path(__file__).parents[1] / "docs" / "study-toml.md").read_text(encoding="utf-8")
    from kureval.study.goals_config import GoalConfig
    from kureval.study.reference_config import EligibilityConfig, ReferenceConfig
    from kureval.study.register_config import RegisterConfig

    for cls in (
        TableConfig,
        GoalConfig,
        ReferenceConfig,
        EligibilityConfig,
        RegisterConfig,
        WindowConfig,
    ):
        for f in dataclasses.fields(cls):
            assert f"`{f.name}`" in doc, (cls.__name__, f.name)
    for key in ("name", "language", "min_cell", "order", "pre", "post"):
        assert f"`{key}`" in doc
