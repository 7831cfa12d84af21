"""Benchmark: score 1,000,000 response rows across all standard instruments.

Run:  .venv/bin/python benchmarks/bench_scoring.py [--rows 1000000] [--seed 1]
      /usr/bin/time -v .venv/bin/python benchmarks/bench_scoring.py   (peak RSS)

Target (issue 3): ≤ 2 s and ≤ 1 GB peak on the 2-core project machine.
Reports wall time of ``score_study`` with and without the response validation
(``validate=True`` is what ``kv.score`` does; ``load_study`` has already run the
same checks), and the peak memory traced by ``tracemalloc`` in a separate run
(tracing slows Python down, so timings come from untraced runs).
Figures are recorded in benchmarks/RESULTS-scoring.md.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from kureval.instruments.registry import INSTRUMENTS, response_problems
from kureval.instruments.score import score_study
from kureval.study.model import ExclusionLog

TIMEPOINTS = ("start", "end", "6m", "12m")
OPTIONS = {code: {} for code in INSTRUMENTS}
OPTIONS["eq5d"] = {"version": "5L", "value_set": "SE_5L_Sun2022"}


def make_study(n_rows: int, seed: int = 1, p_missing: float = 0.03) -> SimpleNamespace:
    """A synthetic study whose responses hold about ``n_rows`` rows over all instruments."""
    rng = np.random.default_rng(seed)
    per_set = sum(s.n_items for s in INSTRUMENTS.values())
    n_sets = -(-n_rows // per_set)
    n_persons = -(-n_sets // len(TIMEPOINTS))
    frames = []
    for code, spec in INSTRUMENTS.items():
        hi = 5 if code == "eq5d" else spec.item_max
        k = spec.n_items
        person = np.repeat(np.arange(n_persons), len(TIMEPOINTS) * k)
        tp = np.tile(np.repeat(np.arange(len(TIMEPOINTS)), k), n_persons)
        item = np.tile(np.arange(1, k + 1), n_persons * len(TIMEPOINTS))
        value = rng.integers(spec.item_min, hi + 1, len(item)).astype(float)
        value[rng.random(len(item)) < p_missing] = np.nan
        frames.append(
            pd.DataFrame(
                {"person_id": person, "tp": tp, "instrument": code, "item": item, "value": value}
            )
        )
    r = pd.concat(frames, ignore_index=True).iloc[:n_rows]
    r["person_id"] = pd.Series(
        np.char.add("P", r["person_id"].to_numpy().astype(str)), dtype="string"
    )
    r["timepoint"] = pd.Categorical.from_codes(
        r.pop("tp").to_numpy(), categories=list(TIMEPOINTS), ordered=True
    )
    r["item"] = r["item"].astype("Int64")
    r["_row"] = np.arange(len(r)) + 2
    config = SimpleNamespace(instruments=OPTIONS, timepoints=TIMEPOINTS, source=Path("study.toml"))
    return SimpleNamespace(
        config=config,
        responses=r,
        files={"responses": Path("responses.csv")},
        exclusions=ExclusionLog(),
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    study = make_study(args.rows, args.seed)
    print(
        f"responses: {len(study.responses):,} rows, {study.responses.memory_usage(deep=True).sum() / 1e6:.0f} MB"
    )
    for validate in (False, True):
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            scores = score_study(study, validate=validate)
            times.append(time.perf_counter() - t0)
        print(
            f"score_study(validate={validate}): best {min(times):.2f} s, median {np.median(times):.2f} s "
            f"over {args.repeat} runs -> {len(scores):,} scores"
        )
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        response_problems(study)
        times.append(time.perf_counter() - t0)
    print(
        f"response_problems (what load_study runs): best {min(times):.2f} s, median {np.median(times):.2f} s"
    )
    tracemalloc.start()
    score_study(study, validate=True)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"tracemalloc peak during score_study(validate=True): {peak / 1e6:.0f} MB")
    print(study.exclusions.table[["reason", "n"]].to_string(index=False))


if __name__ == "__main__":
    main()
