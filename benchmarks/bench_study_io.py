"""Benchmark: reading and validating study folders (kureval.study.io).

Run:  .venv/bin/python benchmarks/bench_study_io.py [--rows 500000] [--repeat 3]
      .venv/bin/python benchmarks/bench_study_io.py --register 250000

``--register N`` times one ``kv.load_study(benchmarks/output/study_N)`` (the
Parquet register written by ``benchmarks/bench_windows.py``: N persons, 60
visits, 3 sick-leave spells and 20 dispensations per person; every row read,
typed and checked) in a fresh process: wall time, CPU time
(``time.process_time``), peak RSS (``ru_maxrss``), load average and UTC time,
and the memory of the loaded tables.  ``--matched K`` loads only K persons'
register rows (``kv.load_study(folder, persons=ids)``, every n-th person of
the population), as the register design does after matching.  Run one at a time (1,000,000 persons
needs about 7 GiB).

Otherwise it reports the best-of-``repeat`` wall time of

1. ``kureval.study.io.load_study`` on the demo study (``data/raw/demo``,
   generated if missing): every table read and every contract check, without
   the instrument checks that ``kureval.load_study`` adds;
2. ``read_table`` on a synthetic ``visits.csv`` of ``--rows`` rows, through the
   fast CSV path (pandas' C parser) and through the exact path (Python's csv
   module, used when a quoted field holds a line break);

and the peak memory traced by ``tracemalloc`` for (2) in a separate run.
Figures are recorded in benchmarks/RESULTS-study-io.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from kureval.study.io import load_study, read_table

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "output"


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def make_visits(n: int, exact: bool) -> Path:
    rng = np.random.default_rng(1)
    dates = pd.Timestamp("2018-01-01") + pd.to_timedelta(rng.integers(0, 1800, n), unit="D")
    df = pd.DataFrame(
        {
            "person_id": [f"R{i:05d}" for i in rng.integers(0, 30_000, n)],
            "date": dates.strftime("%Y-%m-%d"),
            "care_type": rng.choice(["primary_care", "specialist", "psychiatry_outpatient"], n),
            "discharge_date": "",
            "diagnosis": rng.choice(["F32.1", "F43.2", "M54.5", "J06.9"], n),
        }
    )
    if exact:  # one quoted line break forces the exact reader
        df.loc[0, "diagnosis"] = "F32\n(comment)"
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"visits_{n}_{'exact' if exact else 'fast'}.csv"
    df.to_csv(path, index=False)
    return path


def bench_register(persons: int, matched: int = 0) -> None:
    """One full kv.load_study of the Parquet register study of ``persons`` persons
    (with ``matched``: of only that many persons' register rows, ``persons=``)."""
    import kureval as kv

    folder = OUT / f"study_{persons}"
    if not (folder / "study.toml").is_file():
        sys.exit(f"{folder} is missing: run benchmarks/bench_windows.py --persons {persons} first")
    ids = None
    if matched:  # every k-th person of the population, as a matched sample would be
        import pyarrow.parquet as pq

        population = pq.read_table(OUT / f"register_{persons}" / "population.parquet")
        all_ids = population.column("person_id").to_pylist()
        ids = all_ids[:: max(1, len(all_ids) // matched)][:matched]
    t0, c0 = time.perf_counter(), time.process_time()
    study = kv.load_study(folder, persons=ids)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB -> GiB
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    what = f"study_{persons}" + (f", persons=<{matched:,} ids>" if matched else "")
    print(
        f"{now}  kv.load_study({what}): wall {wall:.1f} s, CPU {cpu:.1f} s, "
        f"peak RSS {rss:.2f} GiB, load average {load}"
    )
    for name in ("population", "visits", "sick_leave", "dispensations"):
        df = study.table(name)
        mib = df.memory_usage(deep=True).sum() / 2**20
        dtypes = ", ".join(f"{c} {t}" for c, t in df.dtypes.astype(str).items())
        print(f"  {name}: {len(df):,} rows, {mib:,.0f} MiB ({dtypes})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=500_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--register", type=int, default=None, metavar="PERSONS")
    ap.add_argument("--matched", type=int, default=0, metavar="IDS")
    args = ap.parse_args()
    if args.register is not None:
        bench_register(args.register, args.matched)
        return
    demo = ROOT / "data" / "raw" / "demo"
    if not (demo / "study.toml").exists():
        from kureval.study.demo import generate

        generate(demo)
    study = load_study(demo)
    rows = {n: len(study.table(n)) for n in study.files}
    t = best_of(lambda: load_study(demo), args.repeat)
    print(f"load_study(demo): {t:.2f} s  ({', '.join(f'{k} {v}' for k, v in rows.items())})")
    for exact in (False, True):
        path = make_visits(args.rows, exact)
        t = best_of(lambda p=path: read_table(p, None, "visits"), args.repeat)
        tracemalloc.start()
        read_table(path, None, "visits")
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        label = "exact (csv module)" if exact else "fast (pandas C parser)"
        print(f"read_table visits {args.rows} rows, {label}: {t:.2f} s, peak {peak:.0f} MiB traced")


if __name__ == "__main__":
    main()
