"""Benchmark of register windows on a large synthetic register in Parquet.

Run:  .venv/bin/python benchmarks/bench_windows.py [--persons 1000000] [--matched 12000]
          [--path filtered|full|arrow|pandas|both]

The register (written once to ``benchmarks/output/register_<persons>/``) has,
per person on average, 60 visits (1 % psychiatric admissions with a stay of
1–30 days), 3 sick-leave spells (14–120 days, extents 25/50/75/100) and 20
dispensations (ATC codes from 12 substances) over 2018–2022; ``person_id`` is
a string.  Matched persons: ``--matched`` rows in sets of 1 participant + 5
references, index dates 2019–2021.  A study folder
``benchmarks/output/study_<persons>/`` (``study.toml`` naming the register's
Parquet files, the participants = the matched sets' first persons, an empty
responses table) is written around it, so the public API can read it.

Paths, each in its own process so that peak memory (max RSS) is its own:

* ``filtered`` (public API): ``kv.load_study(folder, persons=matched ids)``
  (register tables read only for the matched persons, Parquet filtered while
  read, every row validated) then ``kv.register_windows(study, matched)``;
* ``full`` (public API): ``kv.load_study(folder)`` (every row read and
  validated) then ``kv.register_windows``;
* ``arrow``: a pyarrow dataset read filtered to the matched ids, converted to
  contract types by hand (no validation), then ``windows_from_tables``;
* ``pandas``: ``pandas.read_parquet``-style read of whole tables converted by
  hand, then ``windows_from_tables``.

``both`` runs ``filtered`` then ``full``; at 1,000,000 persons ``full`` needs
more than 8.5 GiB (it was stopped there after 212 s, still reading), so run it
only on a machine with about 16 GiB free.  Each run prints wall-clock and CPU
(``time.process_time``) seconds of the read and of the windows, peak RSS, the
load average (1, 5, 15 min) before and after and the time of day (UTC).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

OUT = Path(__file__).parent / "output"
DAY0 = np.datetime64("2018-01-01")
N_DAYS = 5 * 365
SUBSTANCES = np.array(
    [
        "N06AB06",
        "N06AB10",
        "N06AX11",
        "N05BA01",
        "N05CF01",
        "N02BE01",
        "N02BA01",
        "C09AA05",
        "C10AA01",
        "A02BC01",
        "R03AC02",
        "N02AX02",
    ]
)
CARE = np.array(
    ["primary_care", "specialist", "psychiatry_outpatient", "psychiatry_inpatient", "emergency"]
)


_DICT: dict[int, pa.Array] = {}


def _ids(codes: np.ndarray, persons: int | None = None) -> pa.Array:
    """Person ids "R0000001" as Arrow strings, built through a dictionary (fast for 60 M rows)."""
    n = persons or int(codes.max()) + 1
    if n not in _DICT:
        _DICT[n] = pa.array(np.char.add("R", np.char.zfill(np.arange(n).astype(str), 7)))
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), _DICT[n]).cast(
        pa.string()
    )


def _write(path: Path, make, total: int, chunk: int = 5_000_000) -> None:
    writer = None
    for start in range(0, total, chunk):
        table = make(start, min(total, start + chunk) - start)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=1_000_000)
    assert writer is not None
    writer.close()


def generate(folder: Path, persons: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    codes = np.arange(persons)
    exit_ = np.where(
        rng.random(persons) < 0.05, DAY0 + rng.integers(0, N_DAYS, persons), np.datetime64("NaT")
    )
    pq.write_table(
        pa.table(
            {
                "person_id": _ids(codes, persons),
                "sex": pa.array(rng.choice(["F", "M"], persons)),
                "birth_year": rng.integers(1950, 2003, persons),
                "in_register_from": pa.array(np.full(persons, np.datetime64("2000-01-01", "D"))),
                "exit_date": pa.array(exit_.astype("datetime64[D]")),
            }
        ),
        folder / "population.parquet",
    )

    def visits(start: int, n: int) -> pa.Table:
        person = np.sort(rng.integers(0, persons, n))
        day = DAY0 + rng.integers(0, N_DAYS, n)
        care = CARE[rng.choice(5, n, p=[0.6, 0.2, 0.12, 0.01, 0.07])]
        discharge = np.where(
            care == "psychiatry_inpatient", day + rng.integers(0, 30, n), np.datetime64("NaT")
        )
        return pa.table(
            {
                "person_id": _ids(person, persons),
                "date": pa.array(day.astype("datetime64[D]")),
                "care_type": pa.array(care).dictionary_encode(),
                "discharge_date": pa.array(discharge.astype("datetime64[D]")),
                "diagnosis": pa.array(np.full(n, "Z00.0")).dictionary_encode(),
            }
        )

    def spells(start: int, n: int) -> pa.Table:
        person = np.sort(rng.integers(0, persons, n))
        s = DAY0 + rng.integers(0, N_DAYS, n)
        return pa.table(
            {
                "person_id": _ids(person, persons),
                "start_date": pa.array(s.astype("datetime64[D]")),
                "end_date": pa.array((s + rng.integers(13, 120, n)).astype("datetime64[D]")),
                "extent": rng.choice([25.0, 50.0, 75.0, 100.0], n, p=[0.1, 0.17, 0.05, 0.68]),
            }
        )

    def disp(start: int, n: int) -> pa.Table:
        person = np.sort(rng.integers(0, persons, n))
        return pa.table(
            {
                "person_id": _ids(person, persons),
                "date": pa.array((DAY0 + rng.integers(0, N_DAYS, n)).astype("datetime64[D]")),
                "atc": pa.array(
                    SUBSTANCES[rng.integers(0, len(SUBSTANCES), n)]
                ).dictionary_encode(),
                "ddd": rng.choice([10.0, 28.0, 50.0, 100.0], n),
            }
        )

    _write(folder / "visits.parquet", visits, 60 * persons)
    _write(folder / "sick_leave.parquet", spells, 3 * persons)
    _write(folder / "dispensations.parquet", disp, 20 * persons)


def matched_sets(persons: int, n: int, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    codes = rng.choice(persons, n, replace=False)
    n_sets = n // 6
    return pd.DataFrame(
        {
            "id": np.char.add("R", np.char.zfill(codes.astype(str), 7)),
            "set_id": np.repeat(np.arange(n_sets), 6)[:n] if n >= 6 else np.zeros(n, int),
            "treat": np.tile([1, 0, 0, 0, 0, 0], n_sets + 1)[:n],
            "weight": np.tile([1.0, 0.2, 0.2, 0.2, 0.2, 0.2], n_sets + 1)[:n],
            "index_date": np.repeat(DAY0 + 365 + rng.integers(0, 3 * 365, n_sets + 1), 6)[
                :n
            ].astype("datetime64[ns]"),
        }
    )


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    df = table.to_pandas()
    for col in df.columns:  # contract types: str ids and codes, datetime64[ns] dates
        if isinstance(df[col].dtype, pd.CategoricalDtype):
            df[col] = df[col].astype(str)
        elif col.endswith("date") or col in ("date", "in_register_from"):
            df[col] = pd.to_datetime(df[col])
    df["person_id"] = df["person_id"].astype(str)
    return df


STUDY_TOML = """# Benchmark study around the synthetic register (written by bench_windows.py).
[study]
name = "bench_windows {persons}"

[timepoints]
order = ["start"]

[tables.population]
file = "../register_{persons}/population.parquet"
[tables.visits]
file = "../register_{persons}/visits.parquet"
[tables.sick_leave]
file = "../register_{persons}/sick_leave.parquet"
[tables.dispensations]
file = "../register_{persons}/dispensations.parquet"

[register]
data_start = 2018-01-01
data_end = 2022-12-30
"""


def write_study(persons: int, matched: pd.DataFrame) -> Path:
    """Study folder (study.toml, participants, empty responses) around register_<persons>."""
    folder = OUT / f"study_{persons}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "study.toml").write_text(STUDY_TOML.format(persons=persons), encoding="utf-8")
    first = matched[matched["treat"] == 1]
    start = pd.to_datetime(first["index_date"])
    pd.DataFrame(
        {
            "person_id": first["id"],
            "programme": "Bench",
            "sex": "F",
            "birth_year": 1980,
            "referral_date": (start - pd.Timedelta(days=14)).dt.strftime("%Y-%m-%d"),
            "start_date": start.dt.strftime("%Y-%m-%d"),
            "status": "ongoing",
        }
    ).to_csv(folder / "participants.csv", index=False)
    (folder / "responses.csv").write_text("person_id,timepoint,instrument,item,value\n")
    return folder


def _stamp() -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{dt.datetime.now(dt.UTC):%H:%M:%S} UTC, load {load}"


def run(folder: Path, matched: pd.DataFrame, path: str) -> dict[str, float | str]:
    import pyarrow.dataset as ds

    import kureval as kv
    from kureval.register.windows import windows_from_tables
    from kureval.study.register_config import RegisterConfig

    start = _stamp()
    t0, c0 = time.perf_counter(), time.process_time()
    if path in ("filtered", "full"):
        study_dir = write_study(folder_persons(folder), matched)
        t0, c0 = time.perf_counter(), time.process_time()  # writing the folder is not timed
        study = kv.load_study(study_dir, persons=matched["id"] if path == "filtered" else None)
        t1, c1 = time.perf_counter(), time.process_time()
        out = kv.register_windows(study, matched)
        visits = study.visits
    else:
        tables = {}
        ids = pa.array(matched["id"].unique())
        for name in ("population", "visits", "sick_leave", "dispensations"):
            if path == "pandas" or name == "population":
                tables[name] = _to_pandas(pq.read_table(folder / f"{name}.parquet"))
            else:
                dset = ds.dataset(folder / f"{name}.parquet")
                tables[name] = _to_pandas(dset.to_table(filter=ds.field("person_id").isin(ids)))
        t1, c1 = time.perf_counter(), time.process_time()
        out = windows_from_tables(
            matched,
            tables["population"],
            tables["visits"],
            tables["sick_leave"],
            tables["dispensations"],
            register=RegisterConfig(data_start=dt.date(2018, 1, 1), data_end=dt.date(2022, 12, 30)),
        )
        visits = tables["visits"]
    t2, c2 = time.perf_counter(), time.process_time()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    assert visits is not None
    return {
        "read_s": t1 - t0,
        "windows_s": t2 - t1,
        "total_s": t2 - t0,
        "read_cpu_s": c1 - c0,
        "windows_cpu_s": c2 - c1,
        "peak_gib": peak,
        "rows_out": len(out),
        "visit_rows_used": len(visits),
        "start": start,
        "end": _stamp(),
    }


def folder_persons(folder: Path) -> int:
    return int(folder.name.rsplit("_", 1)[1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--matched", type=int, default=12_000)
    ap.add_argument(
        "--path", choices=["filtered", "full", "arrow", "pandas", "both"], default="both"
    )
    args = ap.parse_args()
    folder = OUT / f"register_{args.persons}"
    if not (folder / "dispensations.parquet").exists():
        t = time.perf_counter()
        generate(folder, args.persons)
        print(f"generated {folder} in {time.perf_counter() - t:.0f} s", flush=True)
    if args.path == "both":
        for p in ("filtered", "full"):
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--persons",
                    str(args.persons),
                    "--matched",
                    str(args.matched),
                    "--path",
                    p,
                ],
                check=False,
            )
        return
    res = run(folder, matched_sets(args.persons, args.matched), args.path)
    print(
        f"{args.path}: persons={args.persons:,} matched={args.matched:,} "
        + " ".join(
            f"{k}={v:.1f}"
            if isinstance(v, float)
            else (f"{k}={v:,}" if isinstance(v, int) else f"{k}=[{v}]")
            for k, v in res.items()
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
