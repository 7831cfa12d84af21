"""Demo programme 2, "Naturunderstödd rehabilitering": selection into the programme, its effect, truth.

The synthetic register itself (population, visits, stays, sick leave,
dispensations) is made by :mod:`kureval.study.demo_register`, whose module
docstring documents the whole generating model, including the selection of
the 118 participants and the programme effect implemented here.

True effects come at two levels: :func:`participant_effects` gives each
participant's expected effect on their own post window, and
:func:`true_effects` (the ``effects`` of ``TRUTH``) averages it over all 118
participants.  A caliper-matched analysis leaves out the participants whose
propensity scores no reference reaches — the heaviest users, whose expected
reduction in inpatient psychiatric days is several times the others' — so it
estimates the mean of :func:`participant_effects` over the participants it
keeps, not the all-participant average; :func:`build_detailed` returns the
per-participant effects so that a simulation can compare each analysis with
its own estimand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kureval.study.demo_register import (
    CARE_TYPES,
    CONDITIONS,
    DATA_START,
    DAY,
    GROUP_CODES,
    GROUP_COUNTS,
    INDEX_FROM,
    INDEX_TO,
    N_PARTICIPANTS,
    N_PERSONS,
    PROGRAMME,
    Q_INPATIENT,
    SELECTION_BETA,
    YEARS,
    events,
    exposure,
    inpatient_stays,
    overlap_days,
    population,
    yearly_rate,
)


def _prepare(ev: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Flat arrays (person, day number, …) the selection step reads once per index date."""
    kinds = (*CARE_TYPES, "psychiatry_inpatient")
    prefix_group = {
        c[:3]: g for g, codes in enumerate(GROUP_CODES.values(), start=1) for c in codes
    }
    diag = np.concatenate([ev[k]["diagnosis"] for k in kinds]).astype(str)
    group = np.array([prefix_group.get(d[:3], 0) for d in np.unique(diag)])[
        np.unique(diag, return_inverse=True)[1]
    ]
    ip, sl, d = ev["psychiatry_inpatient"], ev["sick_leave"], ev["dispensations"]
    n06a = np.char.startswith(d["atc"].astype(str), "N06A")
    return {
        "v_person": np.concatenate([ev[k]["person"] for k in kinds]),
        "v_day": np.concatenate([ev[k]["date"] for k in kinds]).astype(int),
        "v_kind": np.concatenate([np.full(ev[k]["person"].size, i) for i, k in enumerate(kinds)]),
        "v_group": group,
        "ip_person": ip["person"],
        "ip_a": ip["date"].astype(int),
        "ip_b": ip["discharge"].astype(int),
        "sl_person": sl["person"],
        "sl_a": sl["start"].astype(int),
        "sl_b": sl["end"].astype(int),
        "sl_w": sl["extent"] / 100.0,
        "n06a_person": d["person"][n06a],
        "n06a_day": d["date"][n06a].astype(int),
    }


def _subset(flat: dict[str, np.ndarray], persons: np.ndarray) -> dict[str, np.ndarray]:
    """The arrays of :func:`_prepare` restricted to events of the persons where ``persons`` is true."""
    out = {}
    for prefix, key in (
        ("v_", "v_person"),
        ("ip_", "ip_person"),
        ("sl_", "sl_person"),
        ("n06a_", "n06a_person"),
    ):
        keep = persons[flat[key]]
        out.update({k: v[keep] for k, v in flat.items() if k.startswith(prefix)})
    return out


def pre_covariates(
    flat: dict[str, np.ndarray], n: int, index: int
) -> tuple[np.ndarray, np.ndarray]:
    """Selection covariates of every person over the 365 days before day ``index`` (n × 5),
    and each person's diagnosis groups seen on visits in those days (n × 4, bool)."""
    w0, w1 = index - 365, index - 1
    m = (flat["v_day"] >= w0) & (flat["v_day"] <= w1)
    person, kind = flat["v_person"][m], flat["v_kind"][m]
    pc = np.bincount(person[kind == 0], minlength=n)
    po = np.bincount(person[kind == 2], minlength=n)
    groups = np.zeros((n, 4), dtype=bool)
    groups[person, flat["v_group"][m]] = True
    ip = np.maximum(np.minimum(flat["ip_b"], w1) - np.maximum(flat["ip_a"], w0) + 1, 0)
    ip_days = np.bincount(flat["ip_person"], weights=ip, minlength=n)
    sl = (
        np.maximum(np.minimum(flat["sl_b"], w1) - np.maximum(flat["sl_a"], w0) + 1, 0)
        * flat["sl_w"]
    )
    net = np.bincount(flat["sl_person"], weights=sl, minlength=n)
    md = (flat["n06a_day"] >= w0) & (flat["n06a_day"] <= w1)
    n06a = np.bincount(flat["n06a_person"][md], minlength=n) > 0
    return np.column_stack([pc, po, ip_days, net, n06a]), groups


def select_participants(
    rng: np.random.Generator, pop: dict[str, np.ndarray], ev: dict[str, dict[str, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw the participants (person index, index date, diagnosis group) as the module doc says."""
    n = pop["cond"].size
    flat = _prepare(ev)
    by_group = {c: _subset(flat, pop["cond"] == c) for c in range(1, len(CONDITIONS))}
    span = (INDEX_TO - INDEX_FROM).astype(int) + 1
    index = np.sort(INDEX_FROM + rng.integers(0, span, N_PARTICIPANTS) * DAY)
    groups = np.array([g for g, k in GROUP_COUNTS.items() for _ in range(k)], dtype=object)
    groups = groups[rng.permutation(groups.size)]
    chosen = np.zeros(n, dtype=bool)
    picks = np.empty(N_PARTICIPANTS, dtype=int)
    for j, (idx, group) in enumerate(zip(index, groups, strict=True)):
        age = idx.astype("datetime64[Y]").astype(int) + 1970 - pop["birth"]
        c = CONDITIONS.index(group)
        x, seen = pre_covariates(by_group[c], n, int(idx.astype(int)))
        ok = (
            (pop["cond"] == c)
            & ~chosen
            & (age >= 20)
            & (age <= 64)
            & seen[:, c]
            & (pop["in_from"] <= idx - 365 * DAY)
            & (pop["cov_hi"] > idx)
            & (pop["cov_lo"] <= idx - 365 * DAY)
        )
        lp = x @ SELECTION_BETA[:5] + SELECTION_BETA[5] * pop["female"]
        w = np.where(ok, np.exp(lp - lp[ok].max()), 0.0)
        picks[j] = rng.choice(n, p=w / w.sum())
        chosen[picks[j]] = True
    return picks, index, groups


def apply_effect(
    rng: np.random.Generator,
    pop: dict[str, np.ndarray],
    ev: dict[str, dict[str, np.ndarray]],
    picks: np.ndarray,
    index: np.ndarray,
) -> None:
    """Remove participants' post-index primary-care visits and inpatient admissions (in place)."""
    n = pop["cond"].size
    idx_of = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    idx_of[picks] = index
    pc = ev["primary_care"]
    after = pc["date"] >= idx_of[pc["person"]]  # NaT compares False
    year = pc["date"].astype("datetime64[Y]").astype(int) + 1970 - YEARS[0]
    rate = yearly_rate(pop, "primary_care")[pc["person"], year]
    drop = after & (rng.random(pc["person"].size) < np.minimum(1.0, 1.0 / rate))
    ev["primary_care"] = {k: v[~drop] for k, v in pc.items()}
    ip = ev["psychiatry_inpatient"]
    drop = (ip["date"] >= idx_of[ip["person"]]) & (rng.random(ip["person"].size) < Q_INPATIENT)
    ev["psychiatry_inpatient"] = {k: v[~drop] for k, v in ip.items()}


def _window_share(pop: dict[str, np.ndarray], persons: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Covered days of the post window 0…364 per person (rows) and calendar year (columns)."""
    y0 = YEARS.astype(str).astype("datetime64[D]")
    y1 = (YEARS + 1).astype(str).astype("datetime64[D]") - DAY
    lo = np.maximum(np.maximum(index, pop["cov_lo"][persons])[:, None], y0[None, :])
    hi = np.minimum(np.minimum(index + 364 * DAY, pop["cov_hi"][persons])[:, None], y1[None, :])
    return np.maximum((hi - lo).astype(int) + 1, 0)


def participant_effects(
    pop: dict[str, np.ndarray],
    picks: np.ndarray,
    index: np.ndarray,
    n_rep: int = 1000,
    seed: int = 4627,
) -> dict[str, np.ndarray]:
    """True programme effect of each participant on their post window (index day 0…364).

    One value per participant (in the order of ``picks``), conditional on the
    participant's person-level rates, index date and exit date: primary care
    exactly, ``−Σ_y days_y · min(rate_y, 1) / 365``; inpatient psychiatric
    days by Monte Carlo (``n_rep`` replays of the participant's stays with a
    separate seed) as ``−Q_INPATIENT`` × the expected days in the window of
    stays admitted on or after the index date, counting a stay's days either
    as calendar days from admission to discharge inclusive or as nights
    (discharge − admission).  ``post_exposure_days``: covered days of the
    window.

    A matched analysis estimates the effect in the participants it keeps
    (those in a matched set); the mean of these values over exactly those
    participants is its estimand, while :func:`true_effects` averages over all
    participants.  The two differ when the participants left unmatched
    (propensity scores beyond the references' within the caliper) are the
    heaviest users, as they are for inpatient psychiatric days.
    """
    cover = _window_share(pop, picks, index)
    rate = yearly_rate(pop, "primary_care")[picks]
    rep = np.tile(picks, n_rep)
    sub = {k: v[rep] for k, v in pop.items()}
    lo, days = exposure(sub)
    person, adm, dis = inpatient_stays(
        np.random.default_rng(seed), sub, yearly_rate(sub, "psychiatry_inpatient"), lo, days
    )
    idx = np.tile(index, n_rep)[person]
    post = adm >= idx
    incl = np.where(post, overlap_days(adm, dis, idx, idx + 364 * DAY), 0)
    nights = np.where(post, overlap_days(adm, dis - DAY, idx, idx + 364 * DAY), 0)
    who = person % picks.size  # replay row r · n + j is participant j
    return {
        "visits_primary_care": -(cover * np.minimum(rate, 1.0)).sum(axis=1) / 365.0,
        "inpatient_psychiatry_days": -Q_INPATIENT
        * np.bincount(who, weights=incl, minlength=picks.size)
        / n_rep,
        "inpatient_psychiatry_days_nights": -Q_INPATIENT
        * np.bincount(who, weights=nights, minlength=picks.size)
        / n_rep,
        "post_exposure_days": cover.sum(axis=1).astype(float),
    }


def true_effects(
    pop: dict[str, np.ndarray],
    picks: np.ndarray,
    index: np.ndarray,
    n_rep: int = 1000,
    seed: int = 4627,
    by_participant: dict[str, np.ndarray] | None = None,
) -> dict[str, float]:
    """True programme effects on the participants' post window (index day 0…364).

    The average over all participants of :func:`participant_effects` (the
    average treatment effect on the treated of the generating model, given the
    participants' person-level rates, index dates and exit dates), the same per
    person-year of exposure, and 0 for every outcome the programme does not
    touch.  ``by_participant``: the result of :func:`participant_effects`, when
    already computed.
    """
    e = by_participant or participant_effects(pop, picks, index, n_rep, seed)
    exposure_years = e["post_exposure_days"].sum() / 365.0
    return {
        "visits_primary_care": float(e["visits_primary_care"].mean()),
        "visits_primary_care_per_person_year": float(
            e["visits_primary_care"].sum() / exposure_years
        ),
        "inpatient_psychiatry_days": float(e["inpatient_psychiatry_days"].mean()),
        "inpatient_psychiatry_days_nights": float(e["inpatient_psychiatry_days_nights"].mean()),
        "inpatient_psychiatry_days_per_person_year": float(
            e["inpatient_psychiatry_days"].sum() / exposure_years
        ),
        "visits_specialist": 0.0,
        "visits_psychiatry_outpatient": 0.0,
        "visits_emergency": 0.0,
        "sick_leave_net_days": 0.0,
        "any_sick_leave": 0.0,
        "ddd_N06A": 0.0,
        "any_N06A": 0.0,
        "mean_post_exposure_days": float(e["post_exposure_days"].mean()),
    }


REFERRER_P = {
    "vårdcentral": 0.70,
    "psykiatri": 0.15,
    "företagshälsovård": 0.10,
    "Försäkringskassan": 0.05,
}
PROVISION_P = {
    "sickness_benefit": 0.80,
    "sickness_compensation": 0.05,
    "activity_compensation": 0.05,
    "financial_assistance": 0.05,
    "none": 0.05,
}
SESSIONS_OFFERED = 36  # 12 weeks, 3 half-days a week


def build(seed: int = 2014) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], dict[str, object]]:
    """Participants of programme 2, the register tables and the true effects with counts."""
    part, tables, info, _ = build_detailed(seed)
    return part, tables, info


def build_detailed(
    seed: int = 2014,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], dict[str, object], pd.DataFrame]:
    """As :func:`build`, plus each participant's true effects (:func:`participant_effects`).

    The fourth item has one row per participant, indexed by ``person_id``, with
    the columns of :func:`participant_effects`; the outcomes the programme does
    not touch have a true effect of 0 for everybody and are not listed.
    """
    rng = np.random.default_rng(seed)
    pop = population(rng, N_PERSONS)
    ev = events(rng, pop)
    picks, index, groups = select_participants(np.random.default_rng(seed + 1), pop, ev)
    apply_effect(np.random.default_rng(seed + 2), pop, ev, picks, index)
    ids = np.empty(N_PERSONS, dtype=object)
    rest = np.setdiff1d(np.arange(N_PERSONS), picks)
    ids[rest] = [f"R{i + 1:06d}" for i in range(rest.size)]
    ids[picks] = [f"N{i + 1:04d}" for i in range(picks.size)]
    tables = _tables(pop, ev, ids)
    part = _participants(np.random.default_rng(seed + 3), pop, picks, index, groups, ids)
    overlapping = count_overlaps(
        ids[ev["sick_leave"]["person"]], ev["sick_leave"]["start"], ev["sick_leave"]["end"]
    )
    each = participant_effects(pop, picks, index)
    info: dict[str, object] = {
        "effects": true_effects(pop, picks, index, by_participant=each),
        "n_persons": N_PERSONS,
        "n_exits": int(pop["has_exit"].sum()),
        "n_movers_in": int((pop["in_from"] > DATA_START).sum()),
        "rows": {k: len(v) for k, v in tables.items()},
        "sick_leave_overlapping_spells": overlapping,
        "participants_by_group": {g: int((groups == g).sum()) for g in GROUP_COUNTS},
    }
    by_participant = pd.DataFrame(each, index=pd.Index(ids[picks], name="person_id"))
    return part, tables, info, by_participant


def count_overlaps(person: np.ndarray, start: np.ndarray, end: np.ndarray) -> int:
    """Spells that start on or before the latest end of an earlier spell of the same person.

    Spells are taken in order of person, start and end date (the order of the file).
    """
    order = np.lexsort((end, start, person))
    p, s0, e0 = person[order], start[order].astype(int), end[order].astype(int)
    run_end = pd.Series(e0).groupby(p).cummax().to_numpy()
    return int(((p[1:] == p[:-1]) & (s0[1:] <= run_end[:-1])).sum())


def _tables(
    pop: dict[str, np.ndarray], ev: dict[str, dict[str, np.ndarray]], ids: np.ndarray
) -> dict[str, pd.DataFrame]:
    population = pd.DataFrame(
        {
            "person_id": ids,
            "sex": np.where(pop["female"], "F", "M"),
            "birth_year": pop["birth"],
            "municipality": pop["municipality"],
            "in_register_from": pop["in_from"].astype(str),
            "exit_date": np.where(pop["has_exit"], pop["cov_hi"].astype(str), ""),
        }
    ).sort_values("person_id")
    frames = []
    for kind in (*CARE_TYPES, "psychiatry_inpatient"):
        e = ev[kind]
        frames.append(
            pd.DataFrame(
                {
                    "person_id": ids[e["person"]],
                    "date": e["date"].astype(str),
                    "care_type": kind,
                    "discharge_date": e["discharge"].astype(str) if "discharge" in e else "",
                    "diagnosis": e["diagnosis"],
                }
            )
        )
    visits = pd.concat(frames, ignore_index=True).sort_values(
        ["person_id", "date", "care_type", "diagnosis"]
    )
    s = ev["sick_leave"]
    sick = pd.DataFrame(
        {
            "person_id": ids[s["person"]],
            "start_date": s["start"].astype(str),
            "end_date": s["end"].astype(str),
            "extent": s["extent"],
        }
    )
    sick = sick.sort_values(["person_id", "start_date", "end_date", "extent"])
    d = ev["dispensations"]
    disp = pd.DataFrame(
        {
            "person_id": ids[d["person"]],
            "date": d["date"].astype(str),
            "atc": d["atc"],
            "ddd": np.char.mod("%.1f", d["ddd"]),
        }
    )
    disp = disp.sort_values(["person_id", "date", "atc", "ddd"])
    return {"population": population, "visits": visits, "sick_leave": sick, "dispensations": disp}


def _participants(
    rng: np.random.Generator,
    pop: dict[str, np.ndarray],
    picks: np.ndarray,
    index: np.ndarray,
    groups: np.ndarray,
    ids: np.ndarray,
) -> pd.DataFrame:
    n = picks.size
    dropped = rng.random(n) < 0.15
    end = np.where(dropped, index + rng.integers(7, 70, n) * DAY, index + 83 * DAY)
    attended = np.where(dropped, rng.integers(2, 20, n), rng.binomial(SESSIONS_OFFERED, 0.85, n))
    quarter = (index.astype("datetime64[M]").astype(int) % 12) // 3 + 1
    year = index.astype("datetime64[Y]").astype(int) + 1970

    def draw(probs: dict[str, float]) -> np.ndarray:
        keys = np.array(list(probs), dtype=object)
        p = np.array(list(probs.values()))
        return keys[rng.choice(keys.size, n, p=p / p.sum())]

    return pd.DataFrame(
        {
            "person_id": ids[picks],
            "programme": PROGRAMME,
            "site": "Alnarp",
            "cohort": [f"{y} Q{q}" for y, q in zip(year, quarter, strict=True)],
            "sex": np.where(pop["female"][picks], "F", "M"),
            "birth_year": pop["birth"][picks],
            "referral_date": (index - rng.integers(14, 91, n) * DAY).astype(str),
            "referrer": draw(REFERRER_P),
            "start_date": index.astype(str),
            "end_date": end.astype(str),
            "sessions_offered": str(SESSIONS_OFFERED),
            "sessions_attended": attended.astype(str),
            "diagnosis_group": groups,
            "provision_at_start": draw(PROVISION_P),
            "status": np.where(dropped, "dropped_out", "completed"),
            "exit_destination": "",
        }
    )
