"""The synthetic demo study: determinism, size, the published figures it imitates, TRUTH.

The generation is timed here only for the record (printed with ``-s``); no
assertion depends on speed.
"""

from __future__ import annotations

import hashlib
import re
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from kureval.errors import ConfigError
from kureval.study import demo, demo_nature, demo_selfrating

TRUTH = demo.TRUTH
KPR, NAT, STEG = "Kultur på recept", "Naturunderstödd rehabilitering", "Steg framåt"


@pytest.fixture(scope="module")
def demo_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    a = tmp_path_factory.mktemp("demo_a")
    b = tmp_path_factory.mktemp("demo_b")
    t0 = time.perf_counter()
    demo.generate(a, overwrite=True)
    print(f"\ndemo generated in {time.perf_counter() - t0:.2f} s")
    demo.generate(b, overwrite=True)
    return a, b


@pytest.fixture(scope="module")
def tables(demo_dirs: tuple[Path, Path]) -> dict[str, pd.DataFrame]:
    root = demo_dirs[0]
    read = {"dtype": str, "keep_default_na": False}
    out = {
        "participants": pd.read_csv(root / "participants.csv", **read),
        "responses": pd.read_csv(root / "responses.csv", **read),
    }
    for name in ("population", "visits", "sick_leave", "dispensations"):
        out[name] = pd.read_csv(root / "register" / f"{name}.csv", **read)
    return out


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- determinism, size, encoding ---------------------------------------------------------


def test_files_byte_identical_across_runs(demo_dirs: tuple[Path, Path]) -> None:
    a, b = demo_dirs
    written = sorted(str(p.relative_to(a)) for p in a.rglob("*") if p.is_file())
    assert written == sorted(demo.FILES)
    for f in demo.FILES:
        assert _sha(a / f) == _sha(b / f), f


def test_total_size_well_under_20_mb(demo_dirs: tuple[Path, Path]) -> None:
    total = sum((demo_dirs[0] / f).stat().st_size for f in demo.FILES)
    print(f"\ndemo total size {total / 1e6:.2f} MB")
    assert total < 12.5e6


def test_utf8_and_unix_line_endings(demo_dirs: tuple[Path, Path]) -> None:
    for f in demo.FILES:
        raw = (demo_dirs[0] / f).read_bytes()
        raw.decode("utf-8")
        assert b"\r" not in raw, f
        assert raw.endswith(b"\n"), f


def test_overwrite_protection(demo_dirs: tuple[Path, Path]) -> None:
    with pytest.raises(ConfigError, match="already exists"):
        demo.generate(demo_dirs[1])


def test_study_toml_sections(demo_dirs: tuple[Path, Path]) -> None:
    cfg = tomllib.loads((demo_dirs[0] / "study.toml").read_text("utf-8"))
    assert cfg["timepoints"]["order"] == ["start", "end", "6m", "12m"]
    assert cfg["instruments"]["eq5d"]["version"] == "5L"
    assert cfg["instruments"]["eq5d"]["value_set"] == "SE_5L_Sun2022"
    # the demo states the MCIDs its truth uses, so reports use the same thresholds
    mcids = {k: v for opts in cfg["instruments"].values() for k, v in opts.get("mcid", {}).items()}
    for scale, value in mcids.items():
        assert demo.TRUTH["kultur_pa_recept"]["mcid"][scale] == value
    assert set(cfg["instruments"]) == {"hads", "eq5d", "eqvas", "who5", "swemwbs", "was"}
    assert cfg["reference"]["programme"] == NAT
    assert {g["name"] for g in cfg["goals"]} == {"work_or_studies", "active_rehab"}


def test_study_toml_parses_with_config_parser(demo_dirs: tuple[Path, Path]) -> None:
    config = pytest.importorskip("kureval.study.config")
    cfg = config.load_config(demo_dirs[0] / "study.toml")
    assert cfg.timepoints == ("start", "end", "6m", "12m")
    assert cfg.reference is not None and cfg.reference.ratio == 5
    assert len(cfg.goals) == 2


def test_demo_loads_without_problems(demo_dirs: tuple[Path, Path]) -> None:
    io = pytest.importorskip("kureval.study.io")
    study = io.load_study(demo_dirs[0])
    assert len(study.participants) == 187 + 118 + 458
    assert len(study.population) == TRUTH["naturunderstodd"]["n_persons"]
    assert len(study.visits) == TRUTH["naturunderstodd"]["rows"]["visits"]


# --- identifiers ---------------------------------------------------------------------------

PNR = re.compile(r"^(\d{2})?\d{6}[-+]?\d{4}$")


def test_person_ids_are_pseudonymous(tables: dict[str, pd.DataFrame]) -> None:
    for name, df in tables.items():
        ids = df["person_id"]
        assert ids.str.fullmatch(r"[KNS]\d{4}|R\d{6}").all(), name
        assert not ids.str.match(PNR).any(), name
    assert tables["participants"]["person_id"].is_unique
    assert tables["population"]["person_id"].is_unique


# --- programme sizes and the published follow-up figures -----------------------------------


def test_programme_sizes(tables: dict[str, pd.DataFrame]) -> None:
    counts = tables["participants"]["programme"].value_counts().to_dict()
    assert counts == {STEG: 458, KPR: 187, NAT: 118}


def test_steg_framat_reproduces_published_figures(tables: dict[str, pd.DataFrame]) -> None:
    p = tables["participants"].query("programme == @STEG")
    assert p["sex"].value_counts().to_dict() == {"F": 254, "M": 204}
    ended = p[p["status"].isin(["completed", "dropped_out"])]
    assert len(ended) == 238 and (p["status"] == "ongoing").sum() == 220
    dest = ended["exit_destination"].value_counts()
    published = {
        "work": 20,
        "fk_af_collaboration": 13,
        "studies": 6,
        "health_deteriorated": 11,
        "moved": 5,
        "job_seeking": 5,
        "parental_leave": 1,
        "continued_rehab": 29,
    }
    for code, pct in published.items():
        assert round(100 * dest[code] / 238) == pct, code
    assert dest.to_dict() == TRUTH["steg_framat"]["exit_destinations"]
    prov = p["provision_at_start"].value_counts()
    for code, pct in {
        "financial_assistance": 48,
        "sickness_benefit": 33,
        "activity_compensation": 13,
        "sickness_compensation": 3,
        "none": 3,
    }.items():
        assert round(100 * prov[code] / 458) == pct, code
    assert (ended["end_date"] != "").all() and (ended["exit_destination"] != "").all()
    ongoing = p[p["status"] == "ongoing"]
    assert (ongoing["end_date"] == "").all() and (ongoing["exit_destination"] == "").all()
    assert (
        p["referral_date"].str.startswith("2022").all()
        and p["start_date"].str.startswith("2022").all()
    )
    assert (p["referral_date"] <= p["start_date"]).all()
    assert (ended["end_date"] > ended["start_date"]).all()


def test_goal_truth_matches_data(tables: dict[str, pd.DataFrame]) -> None:
    p = tables["participants"].query("programme == @STEG and exit_destination != ''")
    share = p["exit_destination"].isin(["work", "studies"]).mean()
    assert_allclose(share, TRUTH["steg_framat"]["goals"]["work_or_studies"]["share"], rtol=1e-15)


# --- Kultur på recept ----------------------------------------------------------------------


def test_kpr_starters_and_answers(tables: dict[str, pd.DataFrame]) -> None:
    p = tables["participants"].query("programme == @KPR")
    started = p[p["start_date"] != ""]
    assert len(started) == 123
    assert (p.loc[p["start_date"] == "", "status"] == "referred").all()
    r = tables["responses"]
    per_tp = r.groupby("timepoint")["person_id"].nunique().to_dict()
    assert per_tp == TRUTH["kultur_pa_recept"]["answered"]
    assert set(r.loc[r["timepoint"] == "start", "person_id"]) == set(started["person_id"])
    status = started["status"].value_counts().to_dict()
    assert status == {
        "completed": TRUTH["kultur_pa_recept"]["completed"],
        "dropped_out": TRUTH["kultur_pa_recept"]["dropped_out"],
    }
    # every returned questionnaire has every item row, in range or empty
    items = r.groupby(["person_id", "timepoint", "instrument"]).size().unstack()
    assert items.notna().all().all()
    for inst, k in {"hads": 14, "eq5d": 5, "eqvas": 1, "who5": 5, "swemwbs": 7, "was": 1}.items():
        assert (items[inst] == k).all(), inst
    v = pd.to_numeric(r["value"].replace("", np.nan))
    ranges = {
        "hads": (0, 3),
        "eq5d": (1, 5),
        "eqvas": (0, 100),
        "who5": (0, 5),
        "swemwbs": (1, 5),
        "was": (0, 10),
    }
    for inst, (lo, hi) in ranges.items():
        x = v[r["instrument"] == inst].dropna()
        assert x.between(lo, hi).all() and (x == np.round(x)).all(), inst


def test_kpr_answer_dates(tables: dict[str, pd.DataFrame]) -> None:
    r = tables["responses"].drop_duplicates(["person_id", "timepoint"])
    p = tables["participants"].set_index("person_id")
    days = (
        pd.to_datetime(r["date"]) - pd.to_datetime(p.loc[r["person_id"], "start_date"]).to_numpy()
    ).dt.days
    med = days.groupby(r["timepoint"].to_numpy()).median()
    assert (
        med["start"] == 0
        and 60 <= med["end"] <= 80
        and 160 <= med["6m"] <= 200
        and 340 <= med["12m"] <= 390
    )


def test_planted_missing_items(tables: dict[str, pd.DataFrame]) -> None:
    r = tables["responses"]
    missing = r[r["value"] == ""].groupby("instrument").size().to_dict()
    assert missing == TRUTH["kultur_pa_recept"]["missing_items"]
    share = (r["value"] == "").mean()
    assert 0.02 < share < 0.04
    # HADS subscales: scorable with at most one missing item, prorated when exactly one
    h = r[r["instrument"] == "hads"].assign(
        sub=lambda d: np.where(d["item"].astype(int) % 2 == 1, "hads_anxiety", "hads_depression")
    )
    n_miss = (
        h.assign(m=h["value"] == "").groupby(["person_id", "timepoint", "sub"])["m"].sum().unstack()
    )
    for sub in ("hads_anxiety", "hads_depression"):
        assert (n_miss[sub] >= 2).sum() == TRUTH["kultur_pa_recept"]["not_scorable"][sub]
        assert (n_miss[sub] == 1).sum() == TRUTH["kultur_pa_recept"]["prorated"][sub]
    q = (
        r.assign(m=r["value"] == "")
        .groupby(["person_id", "timepoint", "instrument"])["m"]
        .any()
        .unstack()
    )
    for inst, scale in {
        "eq5d": "eq5d_index",
        "who5": "who5",
        "swemwbs": "swemwbs",
        "eqvas": "eq_vas",
        "was": "was",
    }.items():
        assert q[inst].sum() == TRUTH["kultur_pa_recept"]["not_scorable"][scale], inst


def test_kpr_counts_equal_generator() -> None:
    _, _, counts = demo_selfrating.build()
    for key, value in counts.items():
        assert TRUTH["kultur_pa_recept"][key] == value, key


# --- scoring used for the truth, against published test vectors and kureval.instruments ----


def test_truth_scorer_eq5d_test_vectors() -> None:
    # Sun et al. 2022 test vectors as listed in shared/reference/instruments.md (B.4)
    states = {
        "11111": 1.0,
        "22222": 0.896,
        "33333": 0.701,
        "44444": 0.073,
        "12345": 0.220,
        "55555": -0.314,
    }
    arr = np.array([[list(map(float, s))] for s in states])  # n × 1 × 5
    sim = {
        k: np.zeros((len(states), 1, 14 if k.startswith("hads") else 7))
        for k in ("hads_anxiety", "hads_depression")
    }
    sim.update(
        {
            "eq5d": arr,
            "eq_vas": np.zeros((len(states), 1, 1)),
            "who5": np.zeros((len(states), 1, 5)),
            "swemwbs": np.full((len(states), 1, 7), 1.0),
            "was": np.zeros((len(states), 1, 1)),
        }
    )
    got = demo_selfrating.score(sim)["eq5d_index"][:, 0]
    assert_allclose(got, list(states.values()), atol=5e-4)


def test_truth_scorer_equals_kureval_scoring(
    demo_dirs: tuple[Path, Path], tables: dict[str, pd.DataFrame]
) -> None:
    api = pytest.importorskip("kureval.api")
    if not hasattr(api, "score"):
        pytest.skip("kureval.api.score not available yet")
    scores = api.score(api.load_study(demo_dirs[0]))
    r = tables["responses"]
    inst_of = {s.latent: s for s in demo_selfrating.ITEMS}
    persons = sorted(r["person_id"].unique())
    tps = list(demo_selfrating.TIMEPOINTS)
    sim = {}
    for latent, spec in inst_of.items():
        sub = r[(r["instrument"] == spec.instrument) & r["item"].astype(int).isin(spec.items)]
        wide = sub.pivot_table(
            index=["person_id", "timepoint"], columns="item", values="value", aggfunc="first"
        )
        full = (
            wide.reindex(pd.MultiIndex.from_product([persons, tps]))
            .replace("", np.nan)
            .astype(float)
        )
        sim[latent] = full.to_numpy().reshape(len(persons), len(tps), len(spec.items))
    mine = demo_selfrating.score(sim)
    for scale, arr in mine.items():
        theirs = (
            scores[scores["scale"] == scale]
            .set_index(["person_id", "timepoint"])["score"]
            .astype(float)
        )
        ours = pd.Series(arr.reshape(-1), index=pd.MultiIndex.from_product([persons, tps])).dropna()
        common = ours.index.intersection(theirs.dropna().index)
        assert len(common) == len(ours), scale
        assert_allclose(
            theirs.loc[common].to_numpy(), ours.loc[common].to_numpy(), atol=1e-9, err_msg=scale
        )


# --- TRUTH recomputed from the generator ---------------------------------------------------


def test_selfrating_truth_consistent_with_generator() -> None:
    """A fresh Monte Carlo run (other seed, 20,000 starters) agrees with TRUTH within MC error."""
    fresh = demo_selfrating.monte_carlo_truth(n=20_000, seed=7)
    for scale, t in TRUTH["kultur_pa_recept"]["change_start_end"].items():
        f = fresh[scale]
        se = np.hypot(f["mc_se"], t["mc_se"])
        assert abs(f["mean_change"] - t["mean_change"]) < 5 * se, scale
        assert abs(f["share_improved"] - t["share_improved"]) < 0.025, scale
        assert 0.37 < t["share_improved"] < 0.43, scale


@pytest.mark.slow
def test_selfrating_truth_reproduced_exactly() -> None:
    fresh = demo_selfrating.monte_carlo_truth()
    for scale, t in TRUTH["kultur_pa_recept"]["change_start_end"].items():
        for key, value in t.items():
            assert_allclose(fresh[scale][key], value, rtol=1e-12, err_msg=f"{scale}.{key}")


def test_register_truth_reproduced() -> None:
    _, _, info = demo_nature.build()
    truth = TRUTH["naturunderstodd"]
    for key, value in info.items():
        if key == "effects":
            for outcome, v in value.items():
                assert_allclose(v, truth["effects"][outcome], rtol=1e-12, err_msg=outcome)
        else:
            assert truth[key] == value, key
    assert -1.0 <= truth["effects"]["visits_primary_care"] < -0.95
    assert -2.6 < truth["effects"]["inpatient_psychiatry_days"] < -1.8


# --- the register ----------------------------------------------------------------------------


def test_register_consistency(tables: dict[str, pd.DataFrame]) -> None:
    pop = tables["population"].set_index("person_id")
    assert len(pop) == 30_000
    start, end = "2018-01-01", "2022-12-31"
    lower = pop[["in_register_from"]].assign(
        lo=lambda d: d["in_register_from"].where(d["in_register_from"] > start, start)
    )["lo"]
    upper = pop["exit_date"].where(pop["exit_date"] != "", end)
    for name, col in (("visits", "date"), ("sick_leave", "start_date"), ("dispensations", "date")):
        ev = tables[name]
        assert ev["person_id"].isin(pop.index).all(), name
        assert (ev[col].to_numpy() >= lower.loc[ev["person_id"]].to_numpy()).all(), name
        assert (ev[col].to_numpy() <= upper.loc[ev["person_id"]].to_numpy()).all(), name
    v = tables["visits"]
    assert set(v["care_type"]) == {
        "primary_care",
        "specialist",
        "psychiatry_outpatient",
        "psychiatry_inpatient",
        "emergency",
    }
    ip = v[v["care_type"] == "psychiatry_inpatient"]
    assert (ip["discharge_date"] >= ip["date"]).all()  # same day only when admitted on the exit day
    assert (v.loc[v["care_type"] != "psychiatry_inpatient", "discharge_date"] == "").all()
    assert v["diagnosis"].str.fullmatch(r"[A-Z]\d{2}(\.\d)?").all()
    sl = tables["sick_leave"]
    assert set(sl["extent"].astype(int)) == {25, 50, 75, 100}
    assert (sl["end_date"] >= sl["start_date"]).all() and (
        sl["end_date"] <= upper.loc[sl["person_id"]].to_numpy()
    ).all()
    d = tables["dispensations"]
    assert (d["ddd"].astype(float) > 0).all()
    for atc in ("N06A", "N05B", "N05C", "N02B"):
        assert d["atc"].str.startswith(atc).sum() > 1000, atc
    n_exit = (pop["exit_date"] != "").sum()
    assert n_exit == TRUTH["naturunderstodd"]["n_exits"]
    assert 0.01 * 5 < n_exit / len(pop) < 0.02 * 5
    overl = demo_nature.count_overlaps(
        sl["person_id"].to_numpy(),
        pd.to_datetime(sl["start_date"]).to_numpy(),
        pd.to_datetime(sl["end_date"]).to_numpy(),
    )
    assert overl == TRUTH["naturunderstodd"]["sick_leave_overlapping_spells"]


def test_register_participants(tables: dict[str, pd.DataFrame]) -> None:
    p = tables["participants"].query("programme == @NAT").set_index("person_id")
    pop = tables["population"].set_index("person_id")
    assert p.index.isin(pop.index).all()
    assert (pop.loc[p.index, "sex"] == p["sex"]).all()
    assert (pop.loc[p.index, "birth_year"] == p["birth_year"]).all()
    assert p["start_date"].min() >= "2019-01-01" and p["start_date"].max() <= "2021-12-31"
    assert p["start_date"].str[:4].value_counts().min() >= 25
    assert p["diagnosis_group"].value_counts().to_dict() == {
        "anxiety_stress": 48,
        "depression": 42,
        "pain": 28,
    }
    # each participant has a visit of their diagnosis group within the 365 days before the index date
    prefixes = {
        "depression": ("F32", "F33"),
        "anxiety_stress": ("F41", "F43"),
        "pain": ("M54", "M79"),
    }
    v = tables["visits"]
    v = v[v["person_id"].isin(p.index)]
    idx = pd.to_datetime(p.loc[v["person_id"], "start_date"]).to_numpy()
    dt = (idx - pd.to_datetime(v["date"]).to_numpy()).astype("timedelta64[D]").astype(int)
    grp = p.loc[v["person_id"], "diagnosis_group"].to_numpy()
    ok = [d.startswith(prefixes[g]) for d, g in zip(v["diagnosis"], grp, strict=True)]
    hit = v[(dt >= 1) & (dt <= 365) & np.array(ok)]["person_id"].unique()
    assert set(hit) == set(p.index)


def test_register_has_reference_candidates(tables: dict[str, pd.DataFrame]) -> None:
    """Enough same-group persons per sex × 10-year age band for 5:1 matching (a necessary condition)."""
    pop = tables["population"].set_index("person_id")
    v = tables["visits"]
    groups = {
        "depression": ("F32", "F33"),
        "anxiety_stress": ("F41", "F43"),
        "pain": ("M54", "M79"),
    }
    p = tables["participants"].query("programme == @NAT")
    for g, pre in groups.items():
        ids = v.loc[v["diagnosis"].str.startswith(pre), "person_id"].unique()
        cand = pop.loc[np.setdiff1d(ids, p["person_id"])]
        pg = p[p["diagnosis_group"] == g]
        for (sex, by), _ in pg.groupby(["sex", pg["birth_year"].astype(int) // 10]):
            n = ((cand["sex"] == sex) & (cand["birth_year"].astype(int) // 10 == by)).sum()
            assert n >= 40, (g, sex, by, n)
