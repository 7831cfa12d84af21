"""Benchmark of the reference-group design (issue 5 §6): matching, propensity + matching, pool + matching.

Run from the repository root::

    .venv/bin/python benchmarks/bench_matching.py            # all parts, full size
    .venv/bin/python benchmarks/bench_matching.py --scale 0.1 --parts pool

Parts
-----
``match``
    2,000 participants × 5 references, no replacement, caliper 0.2 SD, against
    1,000,000 candidates with a precomputed distance: the engine alone
    (:func:`kureval.reference.nearest.match_stratum`) and :func:`kureval.reference.match`
    end to end (id checks, canonical order, result tables).
``glm``
    the same with ``distance="glm"`` on 6 covariates (propensity fit + matching).
``balance``
    :func:`kureval.reference.balance` of that matching (8 terms, before and after).
``pool``
    a generated register of 1,000,000 persons with 60,000,000 visits, 3,000,000
    sick-leave spells and 20,000,000 dispensations stored as Parquet under
    ``benchmarks/output/`` (git-ignored; generated on the fly, reused when
    present), and 2,000 participants with index dates over 36 months: read the
    Parquet files, build the pool (exact on sex × age band × diagnosis group ×
    index month, covariates over the year before) and match (propensity on 6
    covariates, caliper 0.2, k = 5, no replacement).  ``--scale`` shrinks
    every count.

Times are wall-clock seconds of one run (``time.perf_counter``; for the pool
part also the process CPU time and the 1-minute load average at the end, since
the development machine is shared); the peak resident memory is ``ru_maxrss``
of the process.  On the Firecracker VM much of the pool's time is the kernel
zeroing freshly mapped pages; glibc's allocator can be told to keep freed memory
(``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=100000000000``), which cut pool + match
by 10–30 % in the measurements of ``RESULTS-matching.md``.  On the same VM numpy's
huge-page requests make first-touch faults dearer (``NUMPY_MADVISE_HUGEPAGE=0`` is
numpy's switch; see ``RESULTS-matching.md`` for when it helped).
Results go to stdout and to ``benchmarks/output/bench_matching.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent / "output"
GROUPS = {"depression": ("F32", "F33"), "anxiety_stress": ("F41", "F43"), "pain": ("M54", "M79")}
CODES = np.array(
    [
        "F32.1",
        "F33.0",
        "F41.1",
        "F43.2",
        "M54.5",
        "M79.1",
        "J06.9",
        "Z00.0",
        "I10",
        "E11.9",
        "K21.0",
        "R51",
    ]
)
CODE_P = np.array([0.05, 0.02, 0.05, 0.04, 0.06, 0.03, 0.2, 0.15, 0.15, 0.1, 0.1, 0.05])
CARE = np.array(
    ["primary_care", "specialist", "psychiatry_outpatient", "psychiatry_inpatient", "emergency"]
)
CARE_P = np.array([0.6, 0.2, 0.1, 0.02, 0.08])
ATC = np.array(["N06AB06", "N06AX11", "N05BA01", "N05CF01", "N02BE01", "C09AA05", "A02BC01"])
START, END = np.datetime64("2018-01-01"), np.datetime64("2022-12-31")
COVARIATES = [
    "age",
    "visits_primary_care",
    "visits_psychiatry_outpatient",
    "inpatient_psychiatry_days",
    "sick_leave_net_days",
    "any_N06A",
]


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _dates(rng: np.random.Generator, n: int) -> np.ndarray:
    span = int((END - START).astype(int))
    return START + rng.integers(0, span + 1, n).astype("timedelta64[D]")


def generate(folder: Path, scale: float, seed: int = 5) -> dict[str, int]:
    """Write population, visits, sick_leave, dispensations and participants as Parquet."""
    rng = np.random.default_rng(seed)
    n = int(1_000_000 * scale)
    ids = pd.array([f"R{i:07d}" for i in range(n)], dtype="string[pyarrow]")
    frailty = rng.gamma(2.0, 0.5, n)
    weight = frailty / frailty.sum()
    folder.mkdir(parents=True, exist_ok=True)
    in_from = np.where(rng.random(n) < 0.9, np.datetime64("2000-01-01"), _dates(rng, n))
    exit_ = np.where(rng.random(n) < 0.05, _dates(rng, n), np.datetime64("NaT"))
    pd.DataFrame(
        {
            "person_id": ids,
            "sex": np.where(rng.random(n) < 0.5, "F", "M"),
            "birth_year": rng.integers(1955, 2003, n),
            "municipality": "1280",
            "in_register_from": in_from,
            "exit_date": exit_,
        }
    ).to_parquet(folder / "population.parquet")
    nv = int(60_000_000 * scale)
    pv = rng.choice(n, nv, p=weight)
    vdate = _dates(rng, nv)
    care = rng.choice(len(CARE), nv, p=CARE_P)
    stay = rng.geometric(0.1, nv).astype("timedelta64[D]")
    visits = pd.DataFrame(
        {
            "person_id": ids[pv],
            "date": vdate,
            "care_type": pd.Categorical.from_codes(care, CARE),
            "discharge_date": np.where(
                CARE[care] == "psychiatry_inpatient", vdate + stay, np.datetime64("NaT")
            ),
            "diagnosis": pd.Categorical.from_codes(rng.choice(len(CODES), nv, p=CODE_P), CODES),
        }
    )
    visits.to_parquet(folder / "visits.parquet")
    del visits, pv, vdate, care, stay
    ns = int(3_000_000 * scale)
    ps = rng.choice(n, ns, p=weight)
    sstart = _dates(rng, ns)
    pd.DataFrame(
        {
            "person_id": ids[ps],
            "start_date": sstart,
            "end_date": sstart
            + (14 + rng.lognormal(np.log(25), 1.0, ns).astype(int)).astype("timedelta64[D]"),
            "extent": rng.choice([100.0, 75.0, 50.0, 25.0], ns, p=[0.68, 0.05, 0.17, 0.10]),
        }
    ).to_parquet(folder / "sick_leave.parquet")
    nd = int(20_000_000 * scale)
    pdp = rng.choice(n, nd, p=weight)
    pd.DataFrame(
        {
            "person_id": ids[pdp],
            "date": _dates(rng, nd),
            "atc": pd.Categorical.from_codes(rng.integers(0, len(ATC), nd), ATC),
            "ddd": rng.choice([30.0, 60.0, 90.0], nd),
        }
    ).to_parquet(folder / "dispensations.parquet")
    npart = 2000
    who = rng.choice(n, npart, replace=False, p=weight)
    index = np.datetime64("2019-01-01") + rng.integers(0, 36 * 30, npart).astype("timedelta64[D]")
    pop = pd.read_parquet(folder / "population.parquet")
    pd.DataFrame(
        {
            "person_id": ids[who],
            "programme": "P",
            "sex": pop["sex"].to_numpy()[who],
            "birth_year": pop["birth_year"].to_numpy()[who],
            "referral_date": index,
            "status": "started",
            "start_date": index,
            "diagnosis_group": rng.choice(list(GROUPS), npart),
        }
    ).to_parquet(folder / "participants.parquet")
    return {
        "persons": n,
        "visits": nv,
        "sick_leave": ns,
        "dispensations": nd,
        "participants": npart,
    }


def bench_pool(scale: float) -> dict[str, float]:
    from kureval.reference.study import match_reference
    from kureval.study.reference_config import EligibilityConfig, ReferenceConfig
    from kureval.study.register_config import RegisterConfig

    folder = OUT / f"register_{scale:g}"
    t0 = time.perf_counter()
    counts = generate(folder, scale) if not (folder / "participants.parquet").exists() else {}
    t_gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    tables = {
        name: pd.read_parquet(folder / f"{name}.parquet")
        for name in ("participants", "population", "visits", "sick_leave", "dispensations")
    }
    t_read = time.perf_counter() - t0
    cfg = ReferenceConfig(
        programme="P",
        covariates=tuple(COVARIATES),
        ratio=5,
        caliper=0.2,
        link="logit",
        exact=("sex", "age_band", "diagnosis_group", "index_period"),
        seed=1,
        diagnosis_groups=GROUPS,
        eligibility=EligibilityConfig(diagnosis_visit_days=365),
    )
    register = RegisterConfig(data_start=dt.date(2018, 1, 1), data_end=dt.date(2022, 12, 31))
    study = SimpleNamespace(
        config=SimpleNamespace(reference=cfg, register=register), exclusions=None, **tables
    )
    t0, c0 = time.perf_counter(), time.process_time()
    res = match_reference(study)
    t_match, c_match = time.perf_counter() - t0, time.process_time() - c0
    flow = res.pool_flow.set_index("step")["n"].to_dict()
    return {
        "generate_s": t_gen,
        "read_parquet_s": t_read,
        "pool_and_match_s": t_match,
        "pool_and_match_cpu_s": c_match,
        "load_average_1min": os.getloadavg()[0],
        "candidate_rows": int(flow["candidate rows in strata with participants"]),
        "eligible_rows": int(flow["eligible candidate rows (persons × periods)"]),
        "participants_matched": int(res.matched["set_id"].nunique()),
        "references": int((res.matched["treat"] == 0).sum()),
        **counts,
    }


def _candidates(n_c: int = 1_000_000, n_t: int = 2000, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_t + n_c
    x = rng.normal(size=(n, 6))
    t = np.r_[np.ones(n_t, int), np.zeros(n_c, int)]
    lin = -6.3 + x @ np.array([0.3, 0.2, 0.1, -0.2, 0.1, 0.05]) + 0.8 * t
    df = pd.DataFrame(x, columns=[f"x{i}" for i in range(6)])
    df["x5"] = (df["x5"] > 1).astype(float)
    df["treat"] = t
    df["ps"] = lin
    df["id"] = pd.array([f"P{i:07d}" for i in range(n)], dtype="string[pyarrow]")
    return df


def bench_match() -> dict[str, float]:
    from kureval.reference.balance import balance
    from kureval.reference.match import match
    from kureval.reference.nearest import match_stratum

    df = _candidates()
    d = df["ps"].to_numpy()
    tr = df["treat"].to_numpy().astype(bool)
    width = 0.2 * d.std(ddof=1)
    visit = np.flatnonzero(tr)[np.argsort(-d[tr], kind="stable")]
    t0 = time.perf_counter()
    out = match_stratum(d, tr, visit, ratio=5, replace=False, width=width)
    t_engine = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = match(df, "treat", distance="ps", link="logit", caliper=0.2, ratio=5, id="id")
    t_match = time.perf_counter() - t0
    covs = [f"x{i}" for i in range(6)]
    t0 = time.perf_counter()
    res_glm = match(df, "treat", covariates=covs, link="logit", caliper=0.2, ratio=5, id="id")
    t_glm = time.perf_counter() - t0
    t0 = time.perf_counter()
    bal = balance(res_glm)
    t_bal = time.perf_counter() - t0
    return {
        "engine_s": t_engine,
        "engine_refs": sum(len(v) for v in out.matches.values()),
        "match_precomputed_s": t_match,
        "match_precomputed_refs": int((res.matched.treat == 0).sum()),
        "glm_and_match_s": t_glm,
        "glm_refs": int((res_glm.matched.treat == 0).sum()),
        "balance_s": t_bal,
        "balance_rows": len(bal.table),
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--scale", type=float, default=1.0, help="register size relative to the issue's (pool part)"
    )
    ap.add_argument("--parts", nargs="+", default=["match", "pool"], choices=["match", "pool"])
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    result: dict[str, object] = {
        "machine": platform.platform(),
        "python": platform.python_version(),
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    if "match" in args.parts:
        result["match"] = bench_match()
        print(json.dumps(result["match"], indent=1))
    if "pool" in args.parts:
        result["pool"] = {"scale": args.scale, **bench_pool(args.scale)}
        print(json.dumps(result["pool"], indent=1))
    result["peak_rss_gb"] = _peak_gb()
    print(f"peak RSS {result['peak_rss_gb']:.2f} GB")
    (OUT / "bench_matching.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
