"""Demo study: generation time and size, and a crude sanity check of the register design.

Run: ``.venv/bin/python benchmarks/bench_demo.py [folder]`` (default: a temporary folder).

1. Times :func:`kureval.study.demo.generate` (wall clock and CPU time of this process)
   and prints the size of every file.
2. A deliberately simple, independent check that the register programme works as
   designed — NOT the package's matcher: for each participant, the risk set at its
   index date (same sex, 10-year age band, diagnosis group, a visit of the group in the
   365 days before, in the register the whole pre-year, alive, never a participant);
   a pooled logistic propensity on the six ``[reference]`` covariates; greedy 5:1
   nearest-neighbour matching on the logit within each risk set, largest propensity
   first, caliper 0.2 × SD of the logit (all rows), no person used twice; the
   difference in differences (post 0…364 − pre −365…−1) with its naive counterpart
   against every eligible person.  Results go in benchmarks/RESULTS-demo.md.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm

from kureval.study import demo, demo_nature

COVARIATES = ["age", "pc", "po", "ipd", "net", "n06a"]
GROUPS = {"depression": ("F32", "F33"), "anxiety_stress": ("F41", "F43"), "pain": ("M54", "M79")}


def timing(root: Path) -> None:
    t0, c0 = time.perf_counter(), time.process_time()
    demo.generate(root, overwrite=True)
    print(f"generate: wall {time.perf_counter() - t0:.2f} s, cpu {time.process_time() - c0:.2f} s")
    total = 0
    for f in demo.FILES:
        size = (root / f).stat().st_size
        total += size
        print(f"  {f:30s} {size:>10,d} bytes")
    print(f"  total {total / 1e6:.2f} MB")


def _day(s: pd.Series) -> np.ndarray:
    return pd.to_datetime(s).to_numpy().astype("datetime64[D]").astype(int)


class Register:
    """Event arrays of the demo register, indexed by population row."""

    def __init__(self, root: Path) -> None:
        read = {"dtype": str, "keep_default_na": False}
        pop = pd.read_csv(root / "register/population.csv", **read)
        vis = pd.read_csv(root / "register/visits.csv", **read)
        sl = pd.read_csv(root / "register/sick_leave.csv", **read)
        dp = pd.read_csv(root / "register/dispensations.csv", **read)
        self.ids = pop["person_id"].to_numpy()
        pos = pd.Series(np.arange(self.ids.size), index=self.ids)
        self.n = self.ids.size
        self.sex, self.birth = pop["sex"].to_numpy(), pop["birth_year"].astype(int).to_numpy()
        self.in_from = _day(pop["in_register_from"])
        self.exit = _day(pop["exit_date"].replace("", "2099-01-01"))
        self.vp, self.vd, self.vt = (
            pos[vis["person_id"]].to_numpy(),
            _day(vis["date"]),
            vis["care_type"].to_numpy(),
        )
        self.vdiag = vis["diagnosis"].str[:3].to_numpy()
        ip = vis["care_type"] == "psychiatry_inpatient"
        self.ip = (
            pos[vis.loc[ip, "person_id"]].to_numpy(),
            _day(vis.loc[ip, "date"]),
            _day(vis.loc[ip, "discharge_date"]),
        )
        self.sl = (
            pos[sl["person_id"]].to_numpy(),
            _day(sl["start_date"]),
            _day(sl["end_date"]),
            sl["extent"].astype(float).to_numpy() / 100,
        )
        n06 = dp["atc"].str.startswith("N06A")
        self.n06 = (pos[dp.loc[n06, "person_id"]].to_numpy(), _day(dp.loc[n06, "date"]))
        self.pos = pos

    def window(self, idx: int, a: int, b: int) -> dict[str, np.ndarray]:
        lo, hi = idx + a, idx + b
        m = (self.vd >= lo) & (self.vd <= hi)
        p, s, e = self.ip
        p2, s2, e2, w2 = self.sl
        p3, d3 = self.n06
        m3 = (d3 >= lo) & (d3 <= hi)
        return {
            "pc": np.bincount(self.vp[m & (self.vt == "primary_care")], minlength=self.n),
            "po": np.bincount(self.vp[m & (self.vt == "psychiatry_outpatient")], minlength=self.n),
            "ipd": np.bincount(
                p, np.maximum(np.minimum(e, hi) - np.maximum(s, lo) + 1, 0), minlength=self.n
            ),
            "net": np.bincount(
                p2,
                np.maximum(np.minimum(e2, hi) - np.maximum(s2, lo) + 1, 0) * w2,
                minlength=self.n,
            ),
            "n06a": (np.bincount(p3[m3], minlength=self.n) > 0).astype(int),
            "_visits": m,
        }


def risk_sets(root: Path) -> pd.DataFrame:
    reg = Register(root)
    part = pd.read_csv(root / "participants.csv", dtype=str, keep_default_na=False)
    part = part[part["programme"] == demo_nature.PROGRAMME]
    is_part = np.char.startswith(reg.ids.astype(str), "N")
    rows = []
    for r in part.itertuples():
        idx = int(_day(pd.Series([r.start_date]))[0])
        year = int(r.start_date[:4])
        pre, post = reg.window(idx, -365, -1), reg.window(idx, 0, 364)
        seen = np.zeros(reg.n, dtype=bool)
        seen[reg.vp[pre["_visits"] & np.isin(reg.vdiag, GROUPS[r.diagnosis_group])]] = True
        age = year - reg.birth
        ok = seen & (reg.in_from <= idx - 365) & (reg.exit > idx) & (reg.sex == r.sex)
        ok &= (age // 10 == (year - int(r.birth_year)) // 10) & ~is_part
        me = reg.pos[r.person_id]
        ok[me] = True
        for i in np.flatnonzero(ok):
            row = {"set": r.person_id, "id": reg.ids[i], "treat": int(i == me), "age": age[i]}
            row.update({k: pre[k][i] for k in ("pc", "po", "ipd", "net", "n06a")})
            row.update({f"{k}_post": post[k][i] for k in ("pc", "ipd", "net")})
            rows.append(row)
    return pd.DataFrame(rows)


def match(d: pd.DataFrame) -> list[tuple[pd.Series, pd.DataFrame]]:
    x = sm.add_constant(d[COVARIATES].astype(float))
    p = sm.Logit(d["treat"], x).fit(disp=0).predict(x)
    d["lp"] = np.log(p / (1 - p))
    cal = 0.2 * d["lp"].std()
    used: set[str] = set()
    out = []
    for _, t in d[d["treat"] == 1].sort_values("lp", ascending=False).iterrows():
        c = d[(d["set"] == t["set"]) & (d["treat"] == 0) & ~d["id"].isin(used)]
        c = c.assign(dist=(c["lp"] - t["lp"]).abs())
        c = c[c["dist"] <= cal].nsmallest(5, "dist")
        used |= set(c["id"])
        out.append((t, c))
    return out


def report(d: pd.DataFrame, sets: list[tuple[pd.Series, pd.DataFrame]]) -> None:
    k = pd.Series([len(c) for _, c in sets]).value_counts().sort_index()
    print("references per participant:", k.to_dict())
    good = [(t, c) for t, c in sets if len(c)]
    tr, co = d[d["treat"] == 1], d[d["treat"] == 0]
    for v in COVARIATES:
        sd = tr[v].astype(float).std()
        before = (tr[v].astype(float).mean() - co[v].astype(float).mean()) / sd
        after = np.mean([float(t[v]) - c[v].astype(float).mean() for t, c in good]) / sd
        print(f"  SMD {v:5s} before {before:6.3f} after {after:6.3f}")
    for a in ("pc", "ipd", "net"):
        b = f"{a}_post"
        diffs = np.array([(t[b] - t[a]) - (c[b] - c[a]).mean() for t, c in good], dtype=float)
        naive = (tr[b] - tr[a]).mean() - (co[b] - co[a]).mean()
        print(
            f"  DiD {a:4s} matched {diffs.mean():7.3f} (SE {diffs.std(ddof=1) / np.sqrt(diffs.size):.3f}),"
            f" naive {naive:7.3f}; truth {truth(a):7.3f}"
        )


def truth(a: str) -> float:
    key = {
        "pc": "visits_primary_care",
        "ipd": "inpatient_psychiatry_days",
        "net": "sick_leave_net_days",
    }[a]
    return float(demo.TRUTH["naturunderstodd"]["effects"][key])


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tmp)
        timing(root)
        d = risk_sets(root)
        report(d, match(d))


if __name__ == "__main__":
    main()
