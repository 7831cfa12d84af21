"""Benchmarks and the coverage simulation of kureval.selfrating (issue 4).

Run from the repository root::

    .venv/bin/python benchmarks/bench_selfrating.py [--reps 400] [--skip-speed]   # --reps 0: speed only

1. ``prepost`` over 20 scales × 100,000 persons (target ≤ 5 s);
2. ``longitudinal`` for one scale, 10,000 persons × 4 time points with
   dropout (target ≤ 20 s);
3. coverage of the 95 % CI for the mean change start → end, on repeated
   samples of 123 starters from the demo's generating model
   (``kureval.study.demo_selfrating.simulate``), against the Monte Carlo truth
   ``monte_carlo_truth()`` (target 93–97 %).

Results are printed as Markdown; copy them to benchmarks/RESULTS-selfrating.md.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import pandas as pd

from kureval.selfrating.longitudinal import longitudinal
from kureval.selfrating.prepost import prepost


def _prepost_data(n_persons: int, n_scales: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = np.array([f"p{i:06d}" for i in range(n_persons)])
    frames = []
    for s in range(n_scales):
        pre = np.round(rng.normal(10, 4, n_persons))
        post = pre + np.round(rng.normal(-1, 3, n_persons))
        post[rng.random(n_persons) < 0.3] = np.nan  # 30 % lost to follow-up
        frames.append(
            pd.DataFrame(
                {
                    "person_id": np.r_[ids, ids],
                    "timepoint": ["start"] * n_persons + ["end"] * n_persons,
                    "scale": f"scale{s:02d}",
                    "score": np.r_[pre, post],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _timed(fn, *args, **kwargs):
    """(wall seconds, CPU seconds of this process, result)."""
    w, c = time.perf_counter(), time.process_time()
    res = fn(*args, **kwargs)
    return time.perf_counter() - w, time.process_time() - c, res


def bench_prepost(n_persons: int = 100_000, n_scales: int = 20) -> tuple[float, float]:
    data = _prepost_data(n_persons, n_scales)
    wall, cpu, res = _timed(prepost, data, higher_is_better=False, mcid=1.5, reliability=0.8)
    assert (
        len(res.table) == n_scales and (res.table.n_pairs + res.table.n_pre_only == n_persons).all()
    )
    return wall, cpu


def bench_longitudinal(n_persons: int = 10_000, seed: int = 2) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    pid = np.repeat(np.arange(n_persons), 4)
    k = np.tile(np.arange(4), n_persons)
    y = (
        50
        + np.array([0, 4, 3, 2])[k]
        + rng.normal(0, 3, n_persons)[pid]
        + rng.normal(0, 4, 4 * n_persons)
    )
    last = rng.choice(4, n_persons, p=[0.15, 0.2, 0.25, 0.4])
    keep = k <= last[pid]
    tps = np.array(["start", "end", "6m", "12m"])
    data = pd.DataFrame(
        {
            "person_id": pid[keep].astype(str),
            "timepoint": tps[k[keep]],
            "scale": "who5",
            "score": y[keep],
        }
    )
    wall, cpu, res = _timed(longitudinal, data, timepoints=list(tps))
    assert res.models.converged.all()
    return wall, cpu


def coverage(reps: int = 400, n: int = 123, seed: int = 2024) -> pd.DataFrame:
    """Per scale: share of replications whose 95 % CI of the mean change covers the truth."""
    from kureval.study import demo_selfrating as demo

    truth = demo.monte_carlo_truth()
    rng = np.random.default_rng(seed)
    hits: dict[str, list[bool]] = {s: [] for s in truth}
    share: dict[str, list[float]] = {s: [] for s in truth}
    for _ in range(reps):
        sc = demo.score(demo.simulate(n, rng))
        frames = [
            pd.DataFrame(
                {
                    "person_id": np.r_[np.arange(n), np.arange(n)].astype(str),
                    "timepoint": ["start"] * n + ["end"] * n,
                    "scale": s,
                    "score": np.r_[v[:, 0], v[:, 1]],
                }
            )
            for s, v in sc.items()
        ]
        tab = prepost(
            pd.concat(frames, ignore_index=True),
            mcid=demo.MCID,
            higher_is_better={s: demo.HIGHER_IS_BETTER[s] > 0 for s in sc},
        ).table.set_index("scale")
        for s in truth:
            hits[s].append(
                bool(
                    tab.at[s, "diff_ci_low"] <= truth[s]["mean_change"] <= tab.at[s, "diff_ci_high"]
                )
            )
            share[s].append(float(tab.at[s, "share_improved"]))
    rows = [
        {
            "scale": s,
            "reps": reps,
            "coverage": np.mean(h),
            "true_mean_change": truth[s]["mean_change"],
            "true_share_improved": truth[s]["share_improved"],
            "mean_share_improved": np.mean(share[s]),
        }
        for s, h in hits.items()
    ]
    out = pd.DataFrame(rows)
    pooled = {
        "scale": "all scales",
        "reps": reps * len(hits),
        "coverage": np.mean([x for h in hits.values() for x in h]),
    }
    return pd.concat([out, pd.DataFrame([pooled])], ignore_index=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reps", type=int, default=400)
    ap.add_argument("--skip-speed", action="store_true")
    args = ap.parse_args()
    print(
        f"Machine: {platform.platform()}, Python {platform.python_version()}, pandas {pd.__version__}\n"
    )
    if not args.skip_speed:
        import os

        print(f"Load average before: {os.getloadavg()}, CPUs: {os.cpu_count()}")
        w, c = min(bench_prepost() for _ in range(3))
        print(
            f"- prepost, 20 scales × 100,000 persons (30 % lost): wall {w:.2f} s, CPU {c:.2f} s (target ≤ 5 s)"
        )
        w, c = min(bench_longitudinal() for _ in range(3))
        print(
            f"- longitudinal, 1 scale, 10,000 persons × 4 time points with dropout: wall {w:.2f} s, "
            f"CPU {c:.2f} s (target ≤ 20 s)\n"
        )
    if args.reps <= 0:
        return
    cov = coverage(args.reps)
    print(cov.to_string(index=False, float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
