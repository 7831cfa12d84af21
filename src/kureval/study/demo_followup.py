"""Demo programme 3, "Steg framåt": a samordningsförbund programme followed up over a year.

Imitates the yearly project report of a samordningsförbund (Skaraborg 2022:
"458 participants, 254 women, 204 men; 238 ended, of whom 20 % to work, 13 %
to FK/AF collaboration, 6 % to studies, 11 % ended for worse health, 5 %
moved, 5 % job-seeking, 1 % parental leave, 29 % to continued
rehabilitation"; provision at start 48 % financial assistance, 33 % sickness
benefit, 13 % activity compensation, 3 % sickness compensation, 3 % none).
The published figures are percentages; the counts below are the whole
numbers that reproduce them when rounded to whole percent:

=====================  =====  =====================
exit destination        n      n / 238
=====================  =====  =====================
work                    48     20.2 % → 20 %
fk_af_collaboration     31     13.0 % → 13 %
studies                 14      5.9 % →  6 %
health_deteriorated     26     10.9 % → 11 %
moved                   12      5.0 % →  5 %
job_seeking             12      5.0 % →  5 %
parental_leave           2      0.8 % →  1 %
continued_rehab         69     29.0 % → 29 %
other / unknown      15 + 9    10.1 % (the rest, 100 − 90 = 10 %)
=====================  =====  =====================

Provision at start (n / 458): financial_assistance 220 (48.0 %),
sickness_benefit 151 (33.0 %), activity_compensation 59 (12.9 %),
sickness_compensation 14 (3.1 %), none 14 (3.1 %).

Who ended is drawn at random (238 of 458), destinations and provisions are
assigned to random persons, so they are independent of sex in expectation.
Status: an ended person is ``completed`` when the destination is work,
studies, job_seeking, fk_af_collaboration or continued_rehab, otherwise
``dropped_out``; the 220 others are ``ongoing`` (no end date, no
destination).  Referral and start dates fall in 2022; end dates of those who
ended fall between 30 days after start and 2022-12-31; referral
5–60 days before start (not before 2022-01-03).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PROGRAMME = "Steg framåt"
N_WOMEN, N_MEN = 254, 204
N_ENDED = 238
DESTINATIONS = {
    "work": 48,
    "fk_af_collaboration": 31,
    "studies": 14,
    "health_deteriorated": 26,
    "moved": 12,
    "job_seeking": 12,
    "parental_leave": 2,
    "continued_rehab": 69,
    "other": 15,
    "unknown": 9,
}
COMPLETED_DESTINATIONS = (
    "work",
    "studies",
    "job_seeking",
    "fk_af_collaboration",
    "continued_rehab",
)
PROVISION = {
    "financial_assistance": 220,
    "sickness_benefit": 151,
    "activity_compensation": 59,
    "sickness_compensation": 14,
    "none": 14,
}
SITES = {"Skövde": 0.35, "Lidköping": 0.25, "Falköping": 0.2, "Mariestad": 0.2}
REFERRERS = {
    "Arbetsförmedlingen": 0.30,
    "socialtjänst": 0.30,
    "Försäkringskassan": 0.20,
    "vårdcentral": 0.12,
    "psykiatri": 0.08,
}
DAY = np.timedelta64(1, "D")


def build(seed: int = 2022) -> pd.DataFrame:
    """The 458 participants of "Steg framåt" (one row each, contract columns)."""
    n = N_WOMEN + N_MEN
    rng = np.random.default_rng(seed)
    sex = np.array(["F"] * N_WOMEN + ["M"] * N_MEN, dtype=object)[rng.permutation(n)]
    provision = np.repeat(list(PROVISION), list(PROVISION.values())).astype(object)[
        rng.permutation(n)
    ]
    start = np.datetime64("2022-01-10") + rng.integers(0, 325, n) * DAY
    ended = np.zeros(n, dtype=bool)
    # earlier starters are more likely to have ended by the end of the year
    weight = (np.datetime64("2023-01-01") - start).astype(float)
    ended[rng.choice(n, N_ENDED, replace=False, p=weight / weight.sum())] = True
    dest = np.full(n, "", dtype=object)
    dest[ended] = np.repeat(list(DESTINATIONS), list(DESTINATIONS.values()))[
        rng.permutation(N_ENDED)
    ]
    room = np.maximum((np.datetime64("2022-12-31") - start).astype(int) - 30, 0)
    end = start + (30 + (rng.random(n) * (room + 1)).astype(int)) * DAY
    wait = np.minimum(rng.integers(5, 61, n), (start - np.datetime64("2022-01-03")).astype(int))
    referral = start - wait * DAY
    status = np.where(
        ~ended,
        "ongoing",
        np.where(np.isin(dest, COMPLETED_DESTINATIONS), "completed", "dropped_out"),
    )

    def draw(probs: dict[str, float]) -> np.ndarray:
        keys = np.array(list(probs), dtype=object)
        p = np.array(list(probs.values()))
        return keys[rng.choice(keys.size, n, p=p / p.sum())]

    return pd.DataFrame(
        {
            "person_id": [f"S{i + 1:04d}" for i in range(n)],
            "programme": PROGRAMME,
            "site": draw(SITES),
            "cohort": "2022",
            "sex": sex,
            "birth_year": 2022 - rng.integers(19, 64, n),
            "referral_date": referral.astype(str),
            "referrer": draw(REFERRERS),
            "start_date": start.astype(str),
            "end_date": np.where(ended, end.astype(str), ""),
            "sessions_offered": "",
            "sessions_attended": "",
            "diagnosis_group": "",
            "provision_at_start": provision,
            "status": status,
            "exit_destination": dest,
        }
    )
