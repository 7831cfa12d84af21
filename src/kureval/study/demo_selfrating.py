"""Demo programme 1, "Kultur på recept": self-ratings at start, end, 6 and 12 months.

Imitates ERC Syd's evaluation of *Kultur på recept 2.0* (Helsingborg
2012–2014; Region Skåne / Epidemiologi- och registercentrum Syd, report
2016): 187 persons prescribed, 123 who started and answered at start,
questionnaires at start, at the end of the 10-week programme, and 6 and 12
months later, with heavy loss to follow-up, and "a clinically relevant
improvement in 41 %" right after the programme.  All numbers below are
generating parameters of this synthetic demo, not data from the report.

Generating model (one person ``i``, time point ``t`` in start/end/6m/12m)
-------------------------------------------------------------------------
* General distress: a stable level ``tau_i ~ N(0, 0.85)`` plus occasion noise
  ``eps_it ~ N(0, 0.15)``; ``theta_i0 = tau_i + eps_i0`` (variance 1) is the
  distress at start that drives drop-out and loss to follow-up.  Improvement
  ``Delta_i ~ N(1, 1)`` (halved for those who drop out of the programme) acts
  with maintenance weights ``W = (0, 1, 0.85, 0.75)`` at start/end/6m/12m.
* Scale ``s`` (HADS-A, HADS-D, EQ-5D, EQ VAS, WHO-5, SWEMWBS, WAS) has the latent
  ``eta_sit = RHO * (tau_i + eps_it) + sqrt(1 - RHO**2) * u_si - K[s] * Delta_i * W[t]``
  with a stable scale-specific person effect ``u_si ~ N(0, 1)``, ``RHO = 0.8``
  and a scale-specific responsiveness ``K[s]`` (``EFFECT_K``), calibrated so
  that about 40 % of those answering at start and end improve by at least the
  scale's MCID.
* Item answer = ``clip(round(a_j + b_s * eta_sit + e), lo, hi)`` with
  ``e ~ N(0, sd_s)``; intercepts ``a_j``, slope ``b_s`` and noise ``sd_s`` in
  ``ITEMS``.  Answers are keyed (higher HADS and EQ-5D = worse; higher WHO-5,
  SWEMWBS, EQ VAS, WAS = better; the sign of ``b_s`` sets the direction).
  EQ VAS answers are heaped: 60 % are rounded to the nearest 5.
* Programme status: drops out with probability ``expit(-1.6 + 0.4 theta_i0)``
  (distressed people drop out more), otherwise completed.
* Answering: at end ``expit(2.4 - 0.2 theta_i0)`` when completed and
  ``expit(-0.6 - 0.2 theta_i0)`` when dropped out; at 6 months, given an
  answer at end, ``expit(1.15 - 0.3 theta_i0)``; at 12 months, given one at
  6 months, ``expit(1.4 - 0.3 theta_i0)`` (monotone loss, depending mildly on
  distress at start, so the attrition table has something to show).
* Missing items: every item of a returned questionnaire is independently left
  empty with probability ``P_MISSING = 0.03`` (missing completely at random).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

PROGRAMME = "Kultur på recept"
N_REFERRED = 187
N_STARTED = 123
TIMEPOINTS = ("start", "end", "6m", "12m")
W = np.array([0.0, 1.0, 0.85, 0.75])
RHO = 0.8
P_MISSING = 0.03
#: days after start when each questionnaire is answered (mean, sd)
DAYS_AFTER_START = ((0, 0), (70, 4), (182, 10), (365, 12))


@dataclass(frozen=True)
class ItemSpec:
    """Items of one latent scale: instrument code, item numbers, intercepts, slope, noise, range."""

    latent: str
    instrument: str
    items: tuple[int, ...]
    intercepts: tuple[float, ...]
    slope: float
    noise: float
    lo: int
    hi: int


ITEMS: tuple[ItemSpec, ...] = (
    # HADS: odd items anxiety, even items depression, keyed 0-3, higher = worse
    ItemSpec(
        "hads_anxiety",
        "hads",
        (1, 3, 5, 7, 9, 11, 13),
        (1.6, 1.3, 1.5, 1.2, 1.7, 1.1, 1.4),
        0.6,
        0.45,
        0,
        3,
    ),
    ItemSpec(
        "hads_depression",
        "hads",
        (2, 4, 6, 8, 10, 12, 14),
        (1.0, 1.2, 0.9, 1.3, 1.1, 0.8, 1.2),
        0.6,
        0.45,
        0,
        3,
    ),
    # EQ-5D-5L: MO, SC, UA, PD, AD, levels 1-5, higher = worse
    ItemSpec("eq5d", "eq5d", (1, 2, 3, 4, 5), (1.4, 1.15, 2.1, 2.4, 2.6), 0.55, 0.5, 1, 5),
    ItemSpec("eq_vas", "eqvas", (1,), (55.0,), -15.0, 7.0, 0, 100),
    ItemSpec("who5", "who5", (1, 2, 3, 4, 5), (2.2, 1.9, 1.8, 1.9, 2.2), -0.8, 0.6, 0, 5),
    ItemSpec(
        "swemwbs",
        "swemwbs",
        (1, 2, 3, 4, 5, 6, 7),
        (2.8, 2.9, 2.6, 3.0, 3.0, 3.1, 3.2),
        -0.75,
        0.5,
        1,
        5,
    ),
    ItemSpec("was", "was", (1,), (4.5,), -1.6, 0.6, 0, 10),
)

#: responsiveness K[s] of each latent scale to the improvement Delta (calibrated, see module doc)
EFFECT_K = {
    "hads_anxiety": 0.21,
    "hads_depression": 0.24,
    "eq5d": 0.70,
    "eq_vas": 0.385,
    "who5": 0.45,
    "swemwbs": 0.595,
    "was": 0.145,
}

#: minimal clinically important differences used for "improved" (scale units)
MCID = {
    "hads_anxiety": 1.5,
    "hads_depression": 1.5,
    "eq5d_index": 0.066,
    "eq_vas": 10.0,
    "who5": 10.0,
    "swemwbs": 3.0,
    "was": 1.0,
}
#: +1 when a higher score is better
HIGHER_IS_BETTER = {
    "hads_anxiety": -1,
    "hads_depression": -1,
    "eq5d_index": 1,
    "eq_vas": 1,
    "who5": 1,
    "swemwbs": 1,
    "was": 1,
}


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def simulate(n: int, rng: np.random.Generator, *, complete: bool = False) -> dict[str, np.ndarray]:
    """Simulate ``n`` starters: status, answering pattern and item answers.

    With ``complete=True`` everybody answers every item at every time point
    (same model otherwise; used for the all-starters truth).

    Returns a dict of arrays: ``dropped`` (bool, n), ``answered`` (bool,
    n × 4), ``theta0`` (n), and for each :class:`ItemSpec` under its
    ``latent`` name the item answers (float, n × 4 × k, NaN where the item is
    missing or the questionnaire not returned).
    """
    tau = rng.normal(0.0, np.sqrt(0.85), n)
    eps = rng.normal(0.0, np.sqrt(0.15), (n, 4))
    delta = rng.normal(1.0, 1.0, n)
    theta0 = tau + eps[:, 0]
    dropped = rng.random(n) < _expit(-1.6 + 0.4 * theta0)
    delta = np.where(dropped, 0.5 * delta, delta)
    p_end = np.where(dropped, _expit(-0.6 - 0.2 * theta0), _expit(2.4 - 0.2 * theta0))
    ans = np.ones((n, 4), dtype=bool)
    ans[:, 1] = rng.random(n) < p_end
    ans[:, 2] = ans[:, 1] & (rng.random(n) < _expit(1.15 - 0.3 * theta0))
    ans[:, 3] = ans[:, 2] & (rng.random(n) < _expit(1.4 - 0.3 * theta0))
    if complete:
        ans[:] = True
    out: dict[str, np.ndarray] = {"dropped": dropped, "answered": ans, "theta0": theta0}
    general = tau[:, None] + eps
    for spec in ITEMS:
        u = rng.normal(0.0, 1.0, n)
        eta = (
            RHO * general
            + np.sqrt(1 - RHO**2) * u[:, None]
            - EFFECT_K[spec.latent] * delta[:, None] * W
        )
        k = len(spec.items)
        cont = (
            np.asarray(spec.intercepts)[None, None, :]
            + spec.slope * eta[:, :, None]
            + rng.normal(0.0, spec.noise, (n, 4, k))
        )
        if spec.latent == "eq_vas":
            heap = rng.random((n, 4, k)) < 0.6
            cont = np.where(heap, 5.0 * np.round(cont / 5.0), cont)
        vals = np.clip(np.round(cont), spec.lo, spec.hi)
        missing = (rng.random((n, 4, k)) < P_MISSING) & (not complete)
        vals[missing | ~ans[:, :, None]] = np.nan
        out[spec.latent] = vals
    return out


# --- scoring used only for the generator's truth (mirrors kureval.instruments) ---

#: EQ-5D-5L Sweden, Sun et al. 2022 (HQLO 20:167): decrements for levels 2..5 of MO, SC, UA, PD, AD
SUN2022 = np.array(
    [
        [0.022, 0.026, 0.087, 0.132],
        [0.019, 0.056, 0.113, 0.159],
        [0.022, 0.048, 0.131, 0.187],
        [0.010, 0.047, 0.319, 0.442],
        [0.031, 0.122, 0.277, 0.394],
    ]
)
#: SWEMWBS raw sum 7..35 -> metric score (Stewart-Brown et al. 2009 conversion table)
# fmt: off
SWEMWBS_METRIC = np.array([
    7.00, 9.51, 11.25, 12.40, 13.33, 14.08, 14.75, 15.32, 15.84, 16.36,
    16.88, 17.43, 17.98, 18.59, 19.25, 19.98, 20.73, 21.54, 22.35, 23.21,
    24.11, 25.03, 26.02, 27.03, 28.13, 29.31, 30.70, 32.55, 35.00,
])
# fmt: on


def score(sim: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Scale scores (n × 4, NaN = not scorable) by the rules kureval.instruments applies.

    HADS subscales: at most 1 of 7 items missing, prorated as mean × 7 rounded
    half up to an integer (as :mod:`kureval.instruments.hads` does); EQ-5D
    index (SE_5L_Sun2022), WHO-5 (raw sum × 4), SWEMWBS (metric score of the
    raw sum): all items required; EQ VAS, WAS: the item.
    """
    out: dict[str, np.ndarray] = {}
    for name in ("hads_anxiety", "hads_depression"):
        v = sim[name]
        answered = (~np.isnan(v)).sum(axis=2)
        total = np.nansum(v, axis=2)
        # mean of the k answered items × 7, rounded half up exactly: floor((14 s + k) / 2k)
        prorated = np.floor_divide(14 * total + answered, 2 * np.maximum(answered, 1))
        out[name] = np.where(answered >= 6, prorated, np.nan)
    eq = sim["eq5d"]
    dec = np.zeros(eq.shape[:2])
    for d in range(5):
        lev = np.nan_to_num(eq[:, :, d], nan=1).astype(int)
        dec += np.concatenate([[0.0], SUN2022[d]])[lev - 1]
    out["eq5d_index"] = np.where(np.isnan(eq).any(axis=2), np.nan, 1.0 - dec)
    out["eq_vas"] = sim["eq_vas"][:, :, 0]
    out["who5"] = sim["who5"].sum(axis=2) * 4.0
    raw = sim["swemwbs"].sum(axis=2)
    idx = np.nan_to_num(raw, nan=7).astype(int) - 7
    out["swemwbs"] = np.where(np.isnan(raw), np.nan, SWEMWBS_METRIC[idx])
    out["was"] = sim["was"][:, :, 0]
    return out


def monte_carlo_truth(n: int = 200_000, seed: int = 20160408) -> dict[str, dict[str, float]]:
    """True start → end values per scale, by Monte Carlo from the generating model.

    For each scale: ``mean_change`` = E[score_end − score_start] (signed, end −
    start, scale units) among persons with a scorable score at both start and
    end (the complete-pair population a paired analysis uses: answers at end
    depend on status and distress at start, missing items are MCAR);
    ``share_improved`` = P(change ≥ MCID in the better direction) in that
    population (differences rounded to 10 decimals before comparing);
    ``mean_change_all_starters`` = the same mean change had nobody been lost
    (all starters, no missing items); ``mc_se`` = Monte Carlo standard error
    of ``mean_change``.
    """
    rng = np.random.default_rng(seed)
    sim = simulate(n, rng)
    sc = score(sim)
    sc_full = score(simulate(n, np.random.default_rng(seed + 1), complete=True))
    truth: dict[str, dict[str, float]] = {}
    for name, s in sc.items():
        diff = s[:, 1] - s[:, 0]
        diff = diff[~np.isnan(diff)]
        better = np.round(HIGHER_IS_BETTER[name] * diff, 10) >= MCID[name]
        dfull = sc_full[name][:, 1] - sc_full[name][:, 0]
        truth[name] = {
            "mean_change": float(diff.mean()),
            "mc_se": float(diff.std(ddof=1) / np.sqrt(diff.size)),
            "share_improved": float(better.mean()),
            "mean_change_all_starters": float(dfull.mean()),
        }
    return truth


# --- the demo's participants and responses -----------------------------------------------

#: groups of Kultur på recept: (cohort, site, first session); 10 weeks, 2 sessions a week
GROUPS = (
    ("2012 HT", "Helsingborg", "2012-09-10"),
    ("2012 HT", "Landskrona", "2012-10-01"),
    ("2013 VT", "Helsingborg", "2013-01-21"),
    ("2013 VT", "Helsingborg", "2013-03-04"),
    ("2013 VT", "Landskrona", "2013-02-11"),
    ("2013 HT", "Helsingborg", "2013-09-09"),
    ("2013 HT", "Landskrona", "2013-09-30"),
    ("2014 VT", "Helsingborg", "2014-01-20"),
    ("2014 VT", "Helsingborg", "2014-03-03"),
    ("2014 VT", "Landskrona", "2014-02-10"),
)
SESSIONS_OFFERED = 20
SEX_P = {"F": 0.80, "M": 0.185, "X": 0.015}
REFERRER_P = {
    "vårdcentral": 0.80,
    "företagshälsovård": 0.08,
    "psykiatri": 0.07,
    "rehabkoordinator": 0.05,
}
DIAGNOSIS_P = {"anxiety_stress": 0.55, "depression": 0.30, "pain": 0.15}
PROVISION_P = {
    "sickness_benefit": 0.74,
    "none": 0.10,
    "financial_assistance": 0.06,
    "sickness_compensation": 0.05,
    "activity_compensation": 0.05,
}


def _choice(rng: np.random.Generator, probs: dict[str, float], n: int) -> np.ndarray:
    keys = list(probs)
    p = np.array([probs[k] for k in keys])
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=n, p=p / p.sum())]


def build(seed: int = 2012) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, object]]:
    """Participants (187 rows), responses (long, one row per answered item slot) and counts.

    The third value holds the planted counts the tests check: answers per
    time point, missing items per instrument, and per scale the questionnaires
    not scorable or prorated under the rules of :func:`score`.
    """
    rng = np.random.default_rng(seed)
    n = N_REFERRED
    started = np.zeros(n, dtype=bool)
    started[rng.choice(n, N_STARTED, replace=False)] = True
    group = rng.integers(0, len(GROUPS), n)
    first = np.array([np.datetime64(GROUPS[g][2]) for g in group])
    referral = first - rng.integers(7, 61, n).astype("timedelta64[D]")
    start = first + rng.integers(0, 4, n).astype("timedelta64[D]")
    sim = simulate(N_STARTED, rng)
    dropped = np.zeros(n, dtype=bool)
    dropped[started] = sim["dropped"]
    status = np.where(~started, "referred", np.where(dropped, "dropped_out", "completed"))
    end = np.where(
        dropped,
        start + rng.integers(7, 50, n).astype("timedelta64[D]"),
        start + np.timedelta64(67, "D"),
    )
    attended = np.where(dropped, rng.integers(1, 9, n), rng.binomial(SESSIONS_OFFERED, 0.82, n))
    attended = np.where(dropped, attended, np.maximum(attended, 10))
    ids = np.array([f"K{i + 1:04d}" for i in range(n)], dtype=object)
    part = pd.DataFrame(
        {
            "person_id": ids,
            "programme": PROGRAMME,
            "site": [GROUPS[g][1] for g in group],
            "cohort": [GROUPS[g][0] for g in group],
            "sex": _choice(rng, SEX_P, n),
            "birth_year": 2013 - rng.integers(25, 65, n),
            "referral_date": referral.astype(str),
            "referrer": _choice(rng, REFERRER_P, n),
            "start_date": np.where(started, start.astype(str), ""),
            "end_date": np.where(started, end.astype(str), ""),
            "sessions_offered": np.where(started, str(SESSIONS_OFFERED), ""),
            "sessions_attended": np.where(started, attended.astype(str), ""),
            "diagnosis_group": _choice(rng, DIAGNOSIS_P, n),
            "provision_at_start": _choice(rng, PROVISION_P, n),
            "status": status,
            "exit_destination": "",
        }
    )
    resp = _responses(sim, ids[started], start[started], rng)
    return part, resp, _planted_counts(sim)


def _responses(
    sim: dict[str, np.ndarray], ids: np.ndarray, start: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    """Long responses: one row per returned questionnaire × item (empty value = missing item)."""
    n = ids.size
    offsets = np.stack([np.round(rng.normal(m, s, n)).astype(int) for m, s in DAYS_AFTER_START], 1)
    dates = start[:, None] + offsets.astype("timedelta64[D]")
    frames = []
    for spec in ITEMS:
        vals = sim[spec.latent]
        k = len(spec.items)
        person, tp, item = np.nonzero(np.broadcast_to(sim["answered"][:, :, None], (n, 4, k)))
        v = vals[person, tp, item]
        frames.append(
            pd.DataFrame(
                {
                    "person_id": ids[person],
                    "tp": tp,
                    "timepoint": np.array(TIMEPOINTS, dtype=object)[tp],
                    "date": dates[person, tp].astype(str),
                    "instrument": spec.instrument,
                    "item": np.asarray(spec.items)[item],
                    "value": np.where(np.isnan(v), "", np.nan_to_num(v).astype(int).astype(str)),
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    out = out.sort_values(["person_id", "tp", "instrument", "item"], kind="stable")
    return out.drop(columns="tp").reset_index(drop=True)


def _planted_counts(sim: dict[str, np.ndarray]) -> dict[str, object]:
    answered = sim["answered"]
    sc = score(sim)
    missing: dict[str, int] = {}
    for spec in ITEMS:
        missing[spec.instrument] = missing.get(spec.instrument, 0) + int(
            np.isnan(sim[spec.latent][answered]).sum()
        )
    not_scorable = {k: int((np.isnan(v) & answered).sum()) for k, v in sc.items()}
    prorated = {
        k: int(((np.isnan(sim[k]).sum(axis=2) == 1) & answered).sum())
        for k in ("hads_anxiety", "hads_depression")
    }
    return {
        "answered": {tp: int(answered[:, j].sum()) for j, tp in enumerate(TIMEPOINTS)},
        "completed": int((~sim["dropped"]).sum()),
        "dropped_out": int(sim["dropped"].sum()),
        "missing_items": missing,
        "not_scorable": not_scorable,
        "prorated": prorated,
        "pairs_start_end": {
            k: int((np.isfinite(v[:, 0]) & np.isfinite(v[:, 1])).sum()) for k, v in sc.items()
        },
    }
