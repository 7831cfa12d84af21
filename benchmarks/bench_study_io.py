"""Benchmark: reading and validating study folders (kureval.study.io).

Run:  .venv/bin/python benchmarks/bench_study_io.py [--rows 500000] [--repeat 3]

Reports the best-of-``repeat`` wall time of

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=500_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
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
