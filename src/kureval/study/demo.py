"""The deterministic synthetic demo study (``kureval demo``, ``make data``).

:func:`generate` writes one study folder with three programmes, one per design
of DESIGN.md §1:

1. "Kultur på recept" — self-ratings at start, end, 6 and 12 months
   (:mod:`kureval.study.demo_selfrating`, imitating ERC Syd's *Kultur på
   recept 2.0*, Helsingborg 2012–2014);
2. "Naturunderstödd rehabilitering" — 118 participants inside a synthetic
   regional register of 30,000 persons (:mod:`kureval.study.demo_register`,
   :mod:`kureval.study.demo_nature`,
   imitating Währborg, Petersson & Grahn, J Rehabil Med 2014;46:271–276);
3. "Steg framåt" — a samordningsförbund programme with exit destinations
   and provision at start (:mod:`kureval.study.demo_followup`, imitating the
   Skaraborg samordningsförbund 2022 project report).

Every generating parameter is documented in those modules and in
``data/raw/README.md``.  The output is byte-identical on every run: fixed
seeds of numpy ``Generator`` objects, integers and fixed-format decimals
only, rows sorted, UTF-8, ``\\n`` line endings.

:data:`TRUTH` holds the true values of the generating model that later
analyses must recover.  The numbers are written out here (so a reader sees
them) and ``tests/test_demo.py`` recomputes every one of them from the
generator: the self-rating truths by :func:`demo_selfrating.monte_carlo_truth`
(200,000 simulated starters, seed 20160408; exactly in a slow test, within
Monte Carlo error with another seed in a fast one), the register effects by
:func:`demo_nature.true_effects`, the planted counts from the generated data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from kureval.errors import ConfigError, Problem
from kureval.study import demo_followup, demo_nature, demo_selfrating

__all__ = ["FILES", "STUDY_TOML", "TRUTH", "generate"]

#: files written by :func:`generate`, relative to the study folder
FILES = (
    "study.toml",
    "participants.csv",
    "responses.csv",
    "register/population.csv",
    "register/visits.csv",
    "register/sick_leave.csv",
    "register/dispensations.csv",
)

PARTICIPANT_COLUMNS = [
    "person_id",
    "programme",
    "site",
    "cohort",
    "sex",
    "birth_year",
    "referral_date",
    "referrer",
    "start_date",
    "end_date",
    "sessions_offered",
    "sessions_attended",
    "diagnosis_group",
    "provision_at_start",
    "status",
    "exit_destination",
]

STUDY_TOML = """\
# kureval demo study: SYNTHETIC data written by kureval.study.demo.generate (`kureval demo`).
# Every generating parameter and the public figure it imitates: data/raw/README.md.

[study]
name = "kureval demo study (synthetic)"
language = "en"
min_cell = 5

[timepoints]
order = ["start", "end", "6m", "12m"]
pre = "start"
post = "end"

[instruments.hads]
[instruments.eq5d]
version = "5L"
value_set = "SE_5L_Sun2022"
mcid = { eq5d_index = 0.066 }
[instruments.eqvas]
mcid = { eq_vas = 10 }
[instruments.who5]
[instruments.swemwbs]
mcid = { swemwbs = 3 }
[instruments.was]
mcid = { was = 1 }

[[goals]]
programme = "Steg framåt"
name = "work_or_studies"
destinations = ["work", "studies"]
target = 0.30

[[goals]]
programme = "Steg framåt"
name = "active_rehab"
destinations = ["continued_rehab", "fk_af_collaboration"]
target = 0.25

[reference]
programme = "Naturunderstödd rehabilitering"
ratio = 5
replace = false
caliper = 0.2
std_caliper = true
link = "logit"
order = "largest"
seed = 2014
exact = ["sex", "age_band", "diagnosis_group", "index_period"]
covariates = ["age", "visits_primary_care", "visits_psychiatry_outpatient",
              "inpatient_psychiatry_days", "sick_leave_net_days", "any_N06A"]
pre_window_days = 365
index_period = "week"
age_band_years = 10
exclude_participants = "ever"

[reference.diagnosis_groups]
depression = ["F32", "F33"]
anxiety_stress = ["F41", "F43"]
pain = ["M54", "M79"]

[reference.eligibility]
diagnosis_visit_days = 365
sick_leave_at_index = false

[register]
data_start = 2018-01-01
data_end = 2022-12-31
atc_groups = ["N06A", "N05B", "N05C", "N02"]
rtw_free_days = 30

[[windows]]
name = "pre"
start = -365
end = -1

[[windows]]
name = "post"
start = 0
end = 364
"""


def generate(path: str | Path = "data/raw/demo", *, overwrite: bool = False) -> Path:
    """Write the demo study to ``path`` and return the folder.

    Parameters
    ----------
    path : str or Path
        Study folder to write (created with its ``register/`` sub-folder).
    overwrite : bool
        Replace the demo's files when the folder already holds a
        ``study.toml`` or any of :data:`FILES`; other files are left alone.

    Raises
    ------
    ConfigError
        When demo files exist already and ``overwrite`` is false.
    """
    out = Path(path)
    present = [f for f in FILES if (out / f).exists()]
    if present and not overwrite:
        raise ConfigError(
            [
                Problem(
                    str(out / f),
                    None,
                    None,
                    f,
                    "no existing file (pass overwrite=True / --overwrite to replace)",
                )
                for f in present
            ],
            title=f"the demo study already exists in {out}",
        )
    kpr, responses, _ = demo_selfrating.build()
    nat, register, _ = demo_nature.build()
    steg = demo_followup.build()
    participants = pd.concat([kpr, nat, steg], ignore_index=True)[PARTICIPANT_COLUMNS]
    (out / "register").mkdir(parents=True, exist_ok=True)
    (out / "study.toml").write_bytes(STUDY_TOML.encode("utf-8"))
    _write(participants.sort_values("person_id"), out / "participants.csv")
    _write(responses, out / "responses.csv")
    for name, table in register.items():
        _write(table, out / "register" / f"{name}.csv")
    return out


def _write(df: pd.DataFrame, file: Path) -> None:
    """CSV, UTF-8, '\\n' line endings, no index: the same bytes for the same frame."""
    text = df.to_csv(index=False, lineterminator="\n")
    file.write_bytes(text.encode("utf-8"))


# ---------------------------------------------------------------------------------------------
# TRUTH: the generating model's true values (tests/test_demo.py recomputes every number).
#
# kultur_pa_recept
#   answered / completed / dropped_out: questionnaires returned per time point, programme status
#       of the 123 starters.  missing_items: empty item values per instrument (all time points).
#   not_scorable: returned questionnaires whose scale cannot be scored under the rules of
#       demo_selfrating.score (HADS: ≥ 2 of a subscale's 7 items missing; EQ-5D, WHO-5,
#       SWEMWBS: any item missing; EQ VAS, WAS: the item missing).  prorated: HADS subscales
#       scored from 6 items (mean × 7, rounded half up).  pairs_start_end: persons scorable at start and end.
#   change_start_end[scale]: mean_change = E[end − start] in the scale's units (EQ-5D index
#       SE_5L_Sun2022, WHO-5 0–100, SWEMWBS metric score) among persons scorable at start and
#       end (the complete-pair population of a paired analysis); share_improved = P(change ≥ the
#       MCID in `mcid`, in the better direction) in that population; mean_change_all_starters =
#       the same mean had nobody been lost; mc_se = Monte Carlo SE of mean_change.  From
#       demo_selfrating.monte_carlo_truth(n=200_000, seed=20160408).
# naturunderstodd
#   effects: participants' expected outcome with the programme minus without it over the post
#       window (index day 0…364, truncated at exit), given their person-level rates and index
#       dates (demo_nature.true_effects): visits per window, inpatient psychiatric days per
#       window (calendar days admission…discharge inclusive; `_nights` = discharge − admission),
#       the same per person-year of exposure, and 0 for every outcome the programme does not touch.
#   rows: rows per register table; sick_leave_overlapping_spells: spells starting on or before
#       the latest end of an earlier spell of the same person (demo_nature.count_overlaps).
# steg_framat
#   the published follow-up figures as counts (demo_followup), and the goals of study.toml.
# ---------------------------------------------------------------------------------------------
TRUTH: dict[str, Any] = {
    "kultur_pa_recept": {
        "programme": "Kultur på recept",
        "n_referred": 187,
        "n_started": 123,
        "answered": {"start": 123, "end": 101, "6m": 75, "12m": 59},
        "completed": 101,
        "dropped_out": 22,
        "missing_items": {
            "hads": 151,
            "eq5d": 53,
            "eqvas": 8,
            "who5": 49,
            "swemwbs": 73,
            "was": 13,
        },
        "not_scorable": {
            "hads_anxiety": 8,
            "hads_depression": 8,
            "eq5d_index": 52,
            "eq_vas": 8,
            "who5": 46,
            "swemwbs": 69,
            "was": 13,
        },
        "prorated": {"hads_anxiety": 67, "hads_depression": 52},
        "pairs_start_end": {
            "hads_anxiety": 98,
            "hads_depression": 94,
            "eq5d_index": 74,
            "eq_vas": 96,
            "who5": 74,
            "swemwbs": 66,
            "was": 93,
        },
        "mcid": {
            "hads_anxiety": 1.5,
            "hads_depression": 1.5,
            "eq5d_index": 0.066,
            "eq_vas": 10.0,
            "who5": 10.0,
            "swemwbs": 3.0,
            "was": 1.0,
        },
        "change_start_end": {
            "hads_anxiety": {
                "mean_change": -0.773029776769303,
                "mc_se": 0.007006977428219674,
                "share_improved": 0.3932143445688136,
                "mean_change_all_starters": -0.76439,
            },
            "hads_depression": {
                "mean_change": -0.8415275946028203,
                "mc_se": 0.006882230997669187,
                "share_improved": 0.3962602718879984,
                "mean_change_all_starters": -0.82234,
            },
            "eq5d_index": {
                "mean_change": 0.05662045760430686,
                "mc_se": 0.00041941570081118054,
                "share_improved": 0.40409251782064703,
                "mean_change_all_starters": 0.055566054999999996,
            },
            "eq_vas": {
                "mean_change": 5.370323613433895,
                "mc_se": 0.03353447356830012,
                "share_improved": 0.3991449264988189,
                "mean_change_all_starters": 5.200885,
            },
            "who5": {
                "mean_change": 6.764182480416451,
                "mc_se": 0.0370679576657871,
                "share_improved": 0.3988141766594043,
                "mean_change_all_starters": 6.47208,
            },
            "swemwbs": {
                "mean_change": 2.3461846422076826,
                "mc_se": 0.010754587983214523,
                "share_improved": 0.39636489754597776,
                "mean_change_all_starters": 2.2412573,
            },
            "was": {
                "mean_change": 0.2097672361076777,
                "mc_se": 0.0030407004666266496,
                "share_improved": 0.4004605836661939,
                "mean_change_all_starters": 0.20981,
            },
        },
    },
    "naturunderstodd": {
        "programme": "Naturunderstödd rehabilitering",
        "n_participants": 118,
        "effects": {
            "visits_primary_care": -0.9841365826727613,
            "visits_primary_care_per_person_year": -0.9881285578076238,
            "inpatient_psychiatry_days": -2.063830508474576,
            "inpatient_psychiatry_days_nights": -1.8930254237288135,
            "inpatient_psychiatry_days_per_person_year": -2.0722020701230885,
            "visits_specialist": 0.0,
            "visits_psychiatry_outpatient": 0.0,
            "visits_emergency": 0.0,
            "sick_leave_net_days": 0.0,
            "any_sick_leave": 0.0,
            "ddd_N06A": 0.0,
            "any_N06A": 0.0,
            "mean_post_exposure_days": 363.52542372881356,
        },
        "n_persons": 30000,
        "n_exits": 1720,
        "n_movers_in": 4562,
        "rows": {
            "population": 30000,
            "visits": 169312,
            "sick_leave": 16121,
            "dispensations": 73702,
        },
        "sick_leave_overlapping_spells": 138,
        "participants_by_group": {"anxiety_stress": 48, "depression": 42, "pain": 28},
    },
    "steg_framat": {
        "programme": demo_followup.PROGRAMME,
        "n": demo_followup.N_WOMEN + demo_followup.N_MEN,
        "women": demo_followup.N_WOMEN,
        "men": demo_followup.N_MEN,
        "ended": demo_followup.N_ENDED,
        "ongoing": demo_followup.N_WOMEN + demo_followup.N_MEN - demo_followup.N_ENDED,
        "exit_destinations": dict(demo_followup.DESTINATIONS),
        "provision_at_start": dict(demo_followup.PROVISION),
        "goals": {
            "work_or_studies": {"n": 62, "share": 0.2605042016806723, "target": 0.3, "met": False},
            "active_rehab": {"n": 100, "share": 0.42016806722689076, "target": 0.25, "met": True},
        },
    },
}
