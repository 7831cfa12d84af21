"""Scale metadata, labels, and the study-level path through load_study → score."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from numpy.testing import assert_allclose

from kureval.errors import ConfigError, DataError
from kureval.instruments import eq5d
from kureval.instruments.registry import (
    INSTRUMENTS,
    STANDARD_SCALES,
    band_label_key,
    instrument_scales,
    scale_info,
    study_scales,
)
from kureval.instruments.score import score_study

CATALOGUE = (
    Path(__file__).parents[1] / "src" / "kureval" / "report" / "catalogues" / "instruments.toml"
)


def test_every_scale_and_band_has_labels_in_both_languages() -> None:
    labels = tomllib.loads(CATALOGUE.read_text(encoding="utf-8"))
    keys = set()
    for info in STANDARD_SCALES.values():
        keys.add(info.label_key)
        keys.update(band_label_key(info, b) for b in info.bands)
    keys.update(f"instrument_{code}" for code in INSTRUMENTS)
    missing = sorted(k for k in keys if k not in labels or set(labels[k]) != {"en", "sv"})
    assert not missing


def test_metadata_defaults_and_directions() -> None:
    better = {s for s, i in STANDARD_SCALES.items() if i.higher_is_better}
    assert better == {"eq5d_index", "eq_vas", "who5", "swemwbs", "wemwbs", "srh_good", "was"}
    assert (scale_info("who5").min, scale_info("who5").max, scale_info("who5").mcid) == (
        0,
        100,
        10.0,
    )
    assert scale_info("hads_depression").reliability == 0.82
    for info in STANDARD_SCALES.values():
        assert info.mcid_source and info.reliability_source


@pytest.mark.parametrize("value_set", sorted(eq5d.VALUE_SETS))
def test_eq5d_metadata_follows_value_set(value_set: str) -> None:
    info = scale_info("eq5d_index", {"value_set": value_set})
    table = eq5d.state_table(value_set)
    assert (info.min, info.max) == (table.min(), table.max())
    assert 0 < info.mcid < 0.2 and value_set in info.mcid_source


def test_unknown_scale_and_instrument() -> None:
    with pytest.raises(ConfigError):
        scale_info("phq9")
    with pytest.raises(ConfigError):
        instrument_scales("phq9")
    assert instrument_scales("phq9", {"type": "generic"}) == ("phq9",)


STUDY_TOML = """
[study]
name = "t"
language = "en"
min_cell = 5

[timepoints]
order = ["start", "end"]
pre = "start"
post = "end"

[instruments.hads]
mcid = { hads_anxiety = 2.0 }

[instruments.eq5d]
version = "3L"
value_set = "SE_3L_Burstrom2014"

[instruments.steg]
type = "generic"
items = 2
min = 1
max = 10
higher_is_better = true
method = "mean"
"""


def _write(tmp: Path, responses: str) -> Path:
    (tmp / "study.toml").write_text(STUDY_TOML, encoding="utf-8")
    (tmp / "participants.csv").write_text(
        "person_id,programme,sex,birth_year,referral_date,status\n"
        "a1,P,F,1980,2020-01-01,completed\na2,P,M,1970,2020-01-02,completed\n",
        encoding="utf-8",
    )
    (tmp / "responses.csv").write_text(
        "person_id,timepoint,date,instrument,item,value\n" + responses, encoding="utf-8"
    )
    return tmp


def test_load_and_score_a_study_folder(tmp_path: Path) -> None:
    kv = pytest.importorskip("kureval.api")
    rows = [f"a1,start,2020-02-01,hads,{i},1" for i in range(1, 15)]
    rows += [f"a1,end,2020-05-01,hads,{i},{'' if i == 3 else 0}" for i in range(1, 15)]
    rows += [
        f"a2,start,2020-02-01,eq5d,{d},{lv}"
        for d, lv in zip(range(1, 6), [1, 2, 3, 2, 1], strict=True)
    ]
    rows += ["a2,end,2020-05-01,steg,1,4", "a2,end,2020-05-01,steg,2,7"]
    study = kv.load_study(_write(tmp_path, "\n".join(rows) + "\n"))
    scores = kv.score(study)
    got = scores.set_index(["person_id", "timepoint", "scale"])["score"]
    assert got[("a1", "start", "hads_anxiety")] == 7 and got[("a1", "end", "hads_anxiety")] == 0
    assert_allclose(got[("a2", "start", "eq5d_index")], 0.9694 - 0.0276 - 0.1355 - 0.0345 - 0.0433)
    assert got[("a2", "end", "steg")] == 5.5
    infos = study_scales(study)
    assert infos["hads_anxiety"].mcid == 2.0 and infos["steg"].max == 10
    assert_allclose(infos["eq5d_index"].mcid, 0.0570, atol=1e-4)
    assert len(study.exclusions) == 0


def test_load_study_reports_instrument_problems(tmp_path: Path) -> None:
    kv = pytest.importorskip("kureval.api")
    rows = [
        "a1,start,2020-02-01,hads,15,1",
        "a1,start,2020-02-01,eq5d,1,4",
        "a1,start,2020-02-01,steg,1,0",
    ]
    with pytest.raises(DataError) as err:
        kv.load_study(_write(tmp_path, "\n".join(rows) + "\n"))
    found = {(p.file, p.row, p.column) for p in err.value.problems}
    assert {
        ("responses.csv", 2, "item"),
        ("responses.csv", 3, "value"),
        ("responses.csv", 4, "value"),
    } <= found


def test_demo_study_scores_and_exclusions_match_planted_missing_items(tmp_path: Path) -> None:
    demo = pytest.importorskip("kureval.study.demo")
    import kureval.api as api

    folder = Path(__file__).parents[1] / "data" / "raw" / "demo"
    if not (folder / "study.toml").is_file():
        folder = demo.generate(path=tmp_path / "demo")
    study = api.load_study(folder)
    scores, excluded = score_study(study, return_excluded=True)
    truth = demo.TRUTH["kultur_pa_recept"]
    assert excluded.groupby("scale").size().to_dict() == truth["not_scorable"]
    log = study.exclusions.table
    log = log[log.step == "scoring"]
    assert log.n.sum() == sum(truth["not_scorable"].values())
    assert scores[scores.imputed].groupby("scale").size().to_dict() == truth["prorated"]
    wide = scores.pivot_table(
        index=["person_id", "scale"], columns="timepoint", values="score", observed=True
    )
    pairs = wide[["start", "end"]].notna().all(axis=1).groupby(level="scale").sum().to_dict()
    assert pairs == truth["pairs_start_end"]
    for scale, info in study_scales(study).items():
        s = scores.loc[scores.scale == scale, "score"].to_numpy()
        assert ((s >= info.min - 1e-12) & (s <= info.max + 1e-12)).all(), scale
