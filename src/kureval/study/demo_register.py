"""Demo programme 2, "Naturunderstödd rehabilitering": participants inside a regional register.

Imitates the design of Währborg, Petersson & Grahn, *J Rehabil Med*
2014;46:271–276 (118 participants in nature-based rehabilitation compared
with matched usual-care reference persons from the Skåne Health Care
Register; outcomes: visits by care type, inpatient psychiatric care, sick
leave; result: fewer primary-care visits and less inpatient psychiatric care
after the programme, no difference in sick leave).  Only the design, the
number of participants and the *directions* of the effects come from the
paper; every rate and effect size below is a generating parameter of this
synthetic demo.

Generating model
----------------
* ``N_PERSONS`` = 30,000 persons born 1955–2002, half women, covered
  ``DATA_START``…``DATA_END``.  85 % were in the region before the coverage
  (``in_register_from`` uniform between 1 January of the later of 1990 and
  the birth year, and 2017-12-31), 15 % move in during it (uniform
  2018-01-01…2022-06-29).
  Exits (death or emigration): hazard ``0.012 * exp(0.04 (age − 45) + 0.3 f)``
  per year (about 1.2–1.5 % a year).
* Each person has at most one of the conditions depression / anxiety_stress /
  pain (``CONDITION_P``, by sex) and a frailty ``f ~ N(0, 1)``.
* Events are Poisson per calendar year of coverage with rate
  ``BASE_RATE[type][condition] * exp(s f − s²/2) * TREND[type] ** (year − 2018)``
  (``FRAILTY_SD[type]`` = s; the same frailty drives every type, so all outcomes
  are correlated), dated uniformly within the covered part of the year.  The
  trend is common to everybody (a difference in differences removes it).
* Visit diagnoses: a visit of a person with a condition carries a code of the
  condition's ICD-10 group with probability ``P_GROUP_DIAGNOSIS[type]``
  (F32/F33, F41/F43, M54/M79), otherwise a code from ``OTHER_CODES``.  Codes of
  the three groups occur only for persons with that condition.
* Inpatient psychiatric stays: length 1 + Geometric(0.1) days (discharge =
  admission + length, truncated at the end of coverage or exit); a stay
  admitted before the previous one's discharge is dropped (no overlaps).
* Sick-leave spells: length 14 + round(LogNormal(log 25, 1.0)) days, extent
  100/75/50/25 % with probabilities 0.68/0.05/0.17/0.10; spells may overlap
  (their number is in TRUTH).
* Dispensations: a person is "on" a drug group with probability
  ``ON_DRUG[atc][condition]``, then dispensed ``DISPENSING_RATE[atc]`` times a
  year (frailty sd 0.4), one substance per person and group, DDD per
  dispensing from ``DDD_CHOICES``.
* Selection: 118 index dates drawn uniformly over 2019-01-01…2021-12-31, the
  diagnosis groups fixed at 48 anxiety_stress, 42 depression, 28 pain.  In
  index-date order, each participant is drawn from the persons of that group
  aged 20–64, in the register for the whole 365 days before the index date,
  alive and resident at it, never drawn before and with a visit of the group in
  those 365 days, with probability proportional to ``exp(lp)``,
  ``lp = SELECTION_BETA · (primary-care visits, psychiatric outpatient visits,
  inpatient psychiatric days, net sick-leave days, any N06A, female)`` over the
  365 days before the index date (linear, as a logistic propensity model
  assumes) — so participants are heavier users than their peers and a naive
  comparison is biased, but the selection depends only on the covariates of
  ``[reference]`` in the demo's study.toml, which a matching can use.
  (Implemented in :mod:`kureval.study.demo_nature`, with the effect and truth.)
* Programme effect (from the index date to the end of the data): each
  primary-care visit is removed with probability ``min(1, 1 / rate)`` where
  ``rate`` is the person's yearly primary-care rate that year (one visit a
  person-year fewer, fewer if the rate is below 1); each inpatient psychiatric
  admission is removed with probability ``Q_INPATIENT``.  Sick leave and
  dispensations are untouched (true effect 0).
"""

from __future__ import annotations

import numpy as np

PROGRAMME = "Naturunderstödd rehabilitering"
N_PERSONS = 30_000
N_PARTICIPANTS = 118
DATA_START = np.datetime64("2018-01-01")
DATA_END = np.datetime64("2022-12-31")
YEARS = np.arange(2018, 2023)
INDEX_FROM, INDEX_TO = np.datetime64("2019-01-01"), np.datetime64("2021-12-31")
GROUP_COUNTS = {"anxiety_stress": 48, "depression": 42, "pain": 28}
CONDITIONS = ("none", "depression", "anxiety_stress", "pain")
CONDITION_P = {"F": (0.64, 0.11, 0.13, 0.12), "M": (0.76, 0.07, 0.08, 0.09)}
CARE_TYPES = ("primary_care", "specialist", "psychiatry_outpatient", "emergency")
#: yearly event rates in 2018 by condition (none, depression, anxiety_stress, pain)
BASE_RATE = {
    "primary_care": (0.2, 1.8, 1.8, 2.2),
    "specialist": (0.05, 0.2, 0.2, 0.5),
    "psychiatry_outpatient": (0.01, 1.0, 0.8, 0.1),
    "emergency": (0.03, 0.2, 0.2, 0.2),
    "psychiatry_inpatient": (0.001, 0.3, 0.15, 0.01),
    "sick_leave": (0.03, 0.35, 0.4, 0.45),
}
FRAILTY_SD = {
    "primary_care": 0.6,
    "specialist": 0.7,
    "psychiatry_outpatient": 0.8,
    "emergency": 0.8,
    "psychiatry_inpatient": 1.0,
    "sick_leave": 0.8,
}
#: common secular trend: rate multiplier per calendar year after 2018
TREND = {
    "primary_care": 1.05,
    "specialist": 1.02,
    "psychiatry_outpatient": 1.03,
    "emergency": 1.03,
    "psychiatry_inpatient": 1.0,
    "sick_leave": 0.95,
}
P_GROUP_DIAGNOSIS = {
    "primary_care": 0.55,
    "specialist": 0.5,
    "psychiatry_outpatient": 0.9,
    "psychiatry_inpatient": 0.9,
    "emergency": 0.1,
}
GROUP_CODES = {
    "depression": ("F32.0", "F32.1", "F32.9", "F33.0", "F33.1"),
    "anxiety_stress": ("F41.0", "F41.1", "F41.9", "F43.2", "F43.8"),
    "pain": ("M54.2", "M54.4", "M54.5", "M79.1", "M79.7"),
}
OTHER_CODES = {
    "primary_care": (
        "J06.9",
        "I10",
        "E11.9",
        "Z00.0",
        "K59.0",
        "R51",
        "N39.0",
        "J45.9",
        "L30.9",
        "H10.9",
        "R53",
        "K21.9",
        "E78.0",
        "Z76.0",
        "J02.9",
    ),
    "specialist": ("I48.9", "K80.2", "N18.3", "M17.1", "G43.9", "I25.1", "H40.1", "E05.0"),
    "psychiatry_outpatient": ("F90.0", "F60.3", "F10.2", "F45.4", "F50.2"),
    "psychiatry_inpatient": ("F10.2", "F20.0", "F31.3", "F60.3"),
    "emergency": ("S52.5", "S93.4", "R07.4", "R10.4", "T78.4", "S01.8", "J18.9"),
}
ATC_GROUPS = ("N06A", "N05B", "N05C", "N02B", "other")
ON_DRUG = {
    "N06A": (0.02, 0.65, 0.55, 0.2),
    "N05B": (0.005, 0.15, 0.25, 0.05),
    "N05C": (0.01, 0.2, 0.2, 0.15),
    "N02B": (0.02, 0.05, 0.05, 0.5),
    "other": (0.02, 0.05, 0.05, 0.05),
}
DISPENSING_RATE = {"N06A": 2.0, "N05B": 1.0, "N05C": 1.0, "N02B": 1.5, "other": 1.0}
SUBSTANCES = {
    "N06A": ("N06AB06", "N06AB10", "N06AX11", "N06AB04"),
    "N05B": ("N05BA01", "N05BB01", "N05BA04"),
    "N05C": ("N05CF01", "N05CH01", "N05CF02"),
    "N02B": ("N02BE01", "N02BA01"),
    "other": ("C09AA05", "C10AA01", "A02BC01", "R03AC02", "N02AX02"),
}
DDD_CHOICES = {
    "N06A": (28.0, 50.0, 100.0),
    "N05B": (10.0, 25.0, 50.0),
    "N05C": (10.0, 30.0),
    "N02B": (16.7, 33.3, 50.0),
    "other": (30.0, 56.0, 98.0, 100.0),
}
SICK_EXTENT = ((100, 0.68), (75, 0.05), (50, 0.17), (25, 0.10))
#: share of sick-leave spells kept although they overlap an earlier spell (register artefacts)
P_KEEP_OVERLAP = 0.1
#: selection log-odds per primary-care visit, psychiatric outpatient visit, inpatient psychiatric day,
#: net sick-leave day and any N06A over the 365 days before the index date, and for women
SELECTION_BETA = np.array([0.12, 0.08, 0.02, 0.003, 0.3, 0.5])
Q_INPATIENT = 0.5
MUNICIPALITIES = (
    ("1280", 0.30),
    ("1281", 0.12),
    ("1283", 0.14),
    ("1290", 0.08),
    ("1282", 0.05),
    ("1287", 0.05),
    ("1286", 0.03),
    ("1285", 0.04),
    ("1293", 0.05),
    ("1292", 0.05),
    ("1261", 0.05),
    ("1230", 0.04),
)
DAY = np.timedelta64(1, "D")


def population(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    female = rng.random(n) < 0.5
    birth = rng.integers(1955, 2003, n)
    u = rng.random(n)
    cum_f, cum_m = np.cumsum(CONDITION_P["F"]), np.cumsum(CONDITION_P["M"])
    cond = np.where(
        female, np.searchsorted(cum_f, u * cum_f[-1]), np.searchsorted(cum_m, u * cum_m[-1])
    )
    frailty = rng.normal(0.0, 1.0, n)
    mover = rng.random(n) < 0.15
    early = np.maximum(
        np.datetime64("1990-01-01"),
        (birth - 1970).astype("datetime64[Y]").astype("datetime64[D]"),
    )
    span_old = (np.datetime64("2017-12-31") - early).astype(int)
    old = early + (rng.random(n) * span_old).astype(int) * DAY
    new = (
        DATA_START
        + rng.integers(0, (np.datetime64("2022-06-30") - DATA_START).astype(int), n) * DAY
    )
    in_from = np.where(mover, new, old)
    cov_lo = np.maximum(in_from, DATA_START)
    age = 2020 - birth
    hazard = 0.012 * np.exp(0.04 * (age - 45) + 0.3 * frailty)
    t_exit = np.floor(rng.exponential(1.0, n) / hazard * 365).astype(int)
    exit_date = cov_lo + t_exit * DAY
    has_exit = exit_date <= DATA_END
    m_codes = np.array([m for m, _ in MUNICIPALITIES])
    m_p = np.array([p for _, p in MUNICIPALITIES])
    return {
        "female": female,
        "birth": birth,
        "cond": cond,
        "frailty": frailty,
        "in_from": in_from,
        "cov_lo": cov_lo,
        "cov_hi": np.where(has_exit, exit_date, DATA_END),
        "has_exit": has_exit,
        "municipality": m_codes[rng.choice(m_codes.size, n, p=m_p / m_p.sum())],
    }


def yearly_rate(pop: dict[str, np.ndarray], kind: str) -> np.ndarray:
    """Yearly rate per person (rows) and calendar year 2018…2022 (columns), before any programme effect."""
    s = FRAILTY_SD[kind]
    base = np.asarray(BASE_RATE[kind])[pop["cond"]] * np.exp(s * pop["frailty"] - s * s / 2)
    return base[:, None] * TREND[kind] ** (YEARS - 2018)[None, :]


def exposure(pop: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """First covered day and number of covered days per person and calendar year."""
    y0 = YEARS.astype(str).astype("datetime64[D]")
    y1 = (YEARS + 1).astype(str).astype("datetime64[D]") - DAY
    lo = np.maximum(pop["cov_lo"][:, None], y0[None, :])
    hi = np.minimum(pop["cov_hi"][:, None], y1[None, :])
    days = np.maximum((hi - lo).astype(int) + 1, 0)
    return lo, days


def poisson_events(
    rng: np.random.Generator, rate: np.ndarray, lo: np.ndarray, days: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Person index and date of Poisson events with yearly ``rate`` over covered days."""
    counts = rng.poisson(rate * days / 365.0)
    person, year = np.nonzero(counts)
    reps = counts[person, year]
    person, year = np.repeat(person, reps), np.repeat(year, reps)
    offset = (rng.random(person.size) * days[person, year]).astype(int)
    return person, lo[person, year] + offset * DAY


def _diagnoses(rng: np.random.Generator, kind: str, cond: np.ndarray) -> np.ndarray:
    """ICD-10 code per event of care type ``kind`` given the persons' conditions."""
    n = cond.size
    other = np.array(OTHER_CODES[kind], dtype=object)
    out = other[rng.integers(0, other.size, n)]
    if kind in ("psychiatry_outpatient", "psychiatry_inpatient"):
        out = np.where(cond == CONDITIONS.index("pain"), "F45.4", out)
    use_group = rng.random(n) < P_GROUP_DIAGNOSIS[kind]
    pick = rng.integers(0, 5, n)
    for c, group in enumerate(CONDITIONS[1:], start=1):
        if kind.startswith("psychiatry") and group == "pain":
            continue
        if kind == "specialist" and group != "pain":
            continue
        codes = np.array(GROUP_CODES[group], dtype=object)
        sel = use_group & (cond == c)
        out[sel] = codes[pick[sel]]
    return out


def inpatient_stays(
    rng: np.random.Generator,
    pop: dict[str, np.ndarray],
    rate: np.ndarray,
    lo: np.ndarray,
    days: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inpatient psychiatric stays (person, admission, discharge), without overlaps."""
    person, adm = poisson_events(rng, rate, lo, days)
    los = 1 + rng.geometric(0.1, person.size)
    dis = np.minimum(adm + los * DAY, pop["cov_hi"][person])
    keep = drop_overlaps(person, adm, dis, np.zeros(person.size, dtype=bool))
    return person[keep], adm[keep], dis[keep]


def drop_overlaps(
    person: np.ndarray, start: np.ndarray, end: np.ndarray, exempt: np.ndarray
) -> np.ndarray:
    """Mask of spells kept when, in order of start, a spell starting on or before the end of the
    previous kept spell of the same person is dropped (unless ``exempt``)."""
    order = np.lexsort((end, start, person))
    p, s0, e0, ex = person[order], start[order], end[order], exempt[order]
    alive = np.ones(p.size, dtype=bool)
    while True:
        idx = np.flatnonzero(alive)
        clash = np.zeros(idx.size, dtype=bool)
        clash[1:] = (p[idx[1:]] == p[idx[:-1]]) & (s0[idx[1:]] <= e0[idx[:-1]]) & ~ex[idx[1:]]
        if not clash.any():
            break
        first = clash & ~np.concatenate([[False], clash[:-1]])
        alive[idx[first]] = False
    keep = np.empty(p.size, dtype=bool)
    keep[order] = alive
    return keep


def events(
    rng: np.random.Generator, pop: dict[str, np.ndarray]
) -> dict[str, dict[str, np.ndarray]]:
    """All register events of the population, before any programme effect."""
    lo, days = exposure(pop)
    ev: dict[str, dict[str, np.ndarray]] = {}
    for kind in CARE_TYPES:
        person, date = poisson_events(rng, yearly_rate(pop, kind), lo, days)
        ev[kind] = {
            "person": person,
            "date": date,
            "diagnosis": _diagnoses(rng, kind, pop["cond"][person]),
        }
    person, adm, dis = inpatient_stays(rng, pop, yearly_rate(pop, "psychiatry_inpatient"), lo, days)
    ev["psychiatry_inpatient"] = {
        "person": person,
        "date": adm,
        "discharge": dis,
        "diagnosis": _diagnoses(rng, "psychiatry_inpatient", pop["cond"][person]),
    }
    person, start = poisson_events(rng, yearly_rate(pop, "sick_leave"), lo, days)
    length = 14 + np.round(rng.lognormal(np.log(25.0), 1.0, person.size)).astype(int)
    end = np.minimum(start + (length - 1) * DAY, pop["cov_hi"][person])
    ext_v = np.array([e for e, _ in SICK_EXTENT])
    ext_p = np.array([p for _, p in SICK_EXTENT])
    extent = ext_v[rng.choice(ext_v.size, person.size, p=ext_p)]
    keep = drop_overlaps(person, start, end, rng.random(person.size) < P_KEEP_OVERLAP)
    ev["sick_leave"] = {
        "person": person[keep],
        "start": start[keep],
        "end": end[keep],
        "extent": extent[keep],
    }
    ev["dispensations"] = _dispensations(rng, pop, lo, days)
    return ev


def _dispensations(
    rng: np.random.Generator, pop: dict[str, np.ndarray], lo: np.ndarray, days: np.ndarray
) -> dict[str, np.ndarray]:
    n = pop["cond"].size
    parts = []
    for group in ATC_GROUPS:
        on = rng.random(n) < np.asarray(ON_DRUG[group])[pop["cond"]]
        rate = np.where(on, DISPENSING_RATE[group] * np.exp(0.4 * pop["frailty"] - 0.08), 0.0)
        person, date = poisson_events(rng, np.repeat(rate[:, None], YEARS.size, 1), lo, days)
        subst = np.array(SUBSTANCES[group], dtype=object)
        atc = subst[rng.integers(0, subst.size, n)][person]
        ddd = np.asarray(DDD_CHOICES[group])[rng.integers(0, len(DDD_CHOICES[group]), person.size)]
        parts.append((person, date, atc, ddd))
    return {
        "person": np.concatenate([p[0] for p in parts]),
        "date": np.concatenate([p[1] for p in parts]),
        "atc": np.concatenate([p[2] for p in parts]),
        "ddd": np.concatenate([p[3] for p in parts]),
    }


def overlap_days(a: np.ndarray, b: np.ndarray, w0: np.datetime64, w1: np.datetime64) -> np.ndarray:
    """Calendar days of [a, b] (inclusive) inside [w0, w1]."""
    return np.maximum((np.minimum(b, w1) - np.maximum(a, w0)).astype(int) + 1, 0)
