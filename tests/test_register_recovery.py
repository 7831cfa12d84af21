"""Recovery of the demo study's true register effects (kureval.study.demo.TRUTH).

The fast tests run the whole pipeline on the demo (load → match → windows →
DiD) and check that every true effect lies in the 95 % CI, and that a naive
unmatched comparison is biased.  The slow test (and ``python
tests/test_register_recovery.py --reps 200``) regenerates the register part of
the demo with new seeds and records how often the CI covers the truth.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kureval as kv
from kureval.register.compare import att
from kureval.register.windows import windows_from_tables

OUTCOMES = [
    "visits_primary_care",
    "inpatient_psychiatry_days",
    "sick_leave_net_days",
    "any_sick_leave",
    "ddd_N06A",
    "visits_specialist",
]


@pytest.fixture(scope="module")
def pipeline(demo_study):
    match = kv.match_reference(demo_study)
    windows = kv.register_windows(demo_study, match)
    return demo_study, match, windows


def test_true_effects_inside_ci(pipeline) -> None:
    from kureval.study.demo import TRUTH

    _, match, windows = pipeline
    truth = TRUTH["naturunderstodd"]["effects"]
    for outcome in OUTCOMES:
        d = kv.did(windows, match, outcome)
        lo, hi = d.conf_int()
        assert lo <= truth[outcome] <= hi, (outcome, d.estimate, (lo, hi), truth[outcome])
    # the primary-care effect is detected (power near 1: simulation SD 0.21 against an effect of -0.98);
    # the inpatient effect is not always (attenuated, SD 0.95: benchmarks/RESULTS-register.md)
    assert kv.did(windows, match, "visits_primary_care").conf_int()[1] < 0


def naive_comparison(study, match, outcome: str, seed: int = 1):
    """Participants' post-window mean vs every non-participant of the register (no matching, no
    pre-period): each non-participant gets the index date of a random participant."""
    matched = match.matched
    part = matched[matched["treat"] == 1][["id", "index_date"]]
    others = study.population.loc[
        ~study.population["person_id"].isin(study.participants["person_id"]), "person_id"
    ]
    rng = np.random.default_rng(seed)
    pool = pd.DataFrame(
        {
            "id": others.to_numpy(),
            "treat": 0,
            "index_date": part["index_date"].to_numpy()[rng.integers(0, len(part), len(others))],
        }
    )
    frame = pd.concat([part.assign(treat=1), pool], ignore_index=True).assign(
        set_id=lambda d: d["id"], weight=1.0
    )
    w = windows_from_tables(
        frame,
        study.population,
        study.visits,
        study.sick_leave,
        study.dispensations,
        windows=study.config.windows,
        register=study.config.register,
    )
    post = w[(w["window"] == "post") & (w["exposure_days"] > 0)]
    return att(post, outcome, cluster="set_id")


def test_naive_unmatched_comparison_is_biased(pipeline) -> None:
    from kureval.study.demo import TRUTH

    study, match, _ = pipeline
    truth = TRUTH["naturunderstodd"]["effects"]
    naive = naive_comparison(study, match, "visits_primary_care")
    lo, hi = naive.conf_int()
    # participants are heavier users than their peers: the naive difference is far above the truth
    assert lo > truth["visits_primary_care"] + 1.0, (naive.estimate, (lo, hi))


def simulate(
    reps: int, first_seed: int = 5000, base: Path | None = None, out: Path | None = None
) -> pd.DataFrame:
    """Regenerate the register part of the demo ``reps`` times; DiD estimate and CI per outcome."""
    from kureval.study import demo, demo_nature

    tmp = Path(tempfile.mkdtemp(prefix="kureval_cov_"))
    base = base or demo.generate(tmp / "base")
    participants = pd.read_csv(base / "participants.csv", dtype=str, keep_default_na=False)
    rows = []
    for rep in range(reps):
        seed = first_seed + rep
        part, tables, info = demo_nature.build(seed)
        folder = tmp / f"rep{rep}"
        (folder / "register").mkdir(parents=True)
        shutil.copy(base / "study.toml", folder / "study.toml")
        # the questionnaire answers play no part here: an empty responses table keeps loading fast
        pd.read_csv(base / "responses.csv", nrows=0).to_csv(folder / "responses.csv", index=False)
        keep = ~participants["programme"].isin([demo_nature.PROGRAMME, "Kultur på recept"])
        others = participants[keep]
        both = pd.concat(
            [others, part.astype(str).replace({"nan": "", "<NA>": "", "NaT": ""})],
            ignore_index=True,
        )
        demo._write(
            both[demo.PARTICIPANT_COLUMNS].sort_values("person_id"), folder / "participants.csv"
        )
        for name, table in tables.items():
            demo._write(table, folder / "register" / f"{name}.csv")
        study = kv.load_study(folder)
        match = kv.match_reference(study)
        windows = kv.register_windows(study, match)
        for outcome in OUTCOMES:
            d = kv.did(windows, match, outcome)
            lo, hi = d.conf_int()
            truth = info["effects"][outcome]  # type: ignore[index]
            rows.append(
                {
                    "rep": rep,
                    "seed": seed,
                    "outcome": outcome,
                    "estimate": d.estimate,
                    "ci_low": lo,
                    "ci_high": hi,
                    "truth": truth,
                    "covered": lo <= truth <= hi,
                }
            )
        shutil.rmtree(folder)
        if out is not None:  # partial results after every replication
            pd.DataFrame(rows).to_csv(out, index=False)
            print(f"rep {rep + 1}/{reps} done", file=sys.stderr, flush=True)
    shutil.rmtree(tmp, ignore_errors=True)
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def coverage_run() -> pd.DataFrame:
    return simulate(200)


_RTM = (
    "inpatient days: in the 2026-11-22 run (320 replications) coverage was 0.912 with a mean bias of "
    "+0.71 days (MC SE 0.05) against a truth of -2.12; most likely the references' change differs from "
    "the participants' counterfactual change for this outcome - see benchmarks/RESULTS-register.md"
)


@pytest.mark.slow
@pytest.mark.parametrize(
    "outcome",
    [
        o
        if o != "inpatient_psychiatry_days"
        else pytest.param(o, marks=pytest.mark.xfail(reason=_RTM, strict=False))
        for o in OUTCOMES
    ],
)
def test_coverage_simulation(coverage_run: pd.DataFrame, outcome: str) -> None:
    cov = coverage_run.loc[coverage_run["outcome"] == outcome, "covered"].mean()
    # 200 replications: the Monte Carlo SE of a 95 % coverage is 1.5 points
    assert 0.91 <= cov <= 0.99, cov


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=5000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    t0 = time.time()
    out = simulate(args.reps, args.seed, out=args.out)
    out.to_csv(args.out, index=False)
    summary = out.groupby("outcome").agg(
        truth=("truth", "mean"),
        mean_estimate=("estimate", "mean"),
        coverage=("covered", "mean"),
        reps=("rep", "nunique"),
    )
    print(summary.to_string())
    print(f"{time.time() - t0:.0f} s", file=sys.stderr)
