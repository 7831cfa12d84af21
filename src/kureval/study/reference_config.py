"""``[reference]`` section of study.toml: how reference persons are chosen and matched.

Owned by the reference-group design (``kureval.reference``).  The generic
parser in :mod:`kureval.study.config` fills these dataclasses from TOML by
their type annotations (unknown keys and wrong types are ConfigErrors);
``problems()`` adds the semantic checks.

Example::

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
    index_period = "month"                # day | week | month: candidates' covariates are computed
                                          # once per period, as of its first day (see kureval.reference.pool)
    age_band_years = 10
    exclude_participants = "ever"

    [reference.diagnosis_groups]          # group name -> ICD-10 code prefixes
    depression = ["F32", "F33"]
    anxiety_stress = ["F41", "F43"]
    pain = ["M54", "M79"]

    [reference.eligibility]
    diagnosis_visit_days = 365            # visit with a diagnosis of the same group within this many days before index; 0 = no such rule
    sick_leave_at_index = false           # require ongoing sick leave at the index date
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class EligibilityConfig:
    diagnosis_visit_days: int = 365
    sick_leave_at_index: bool = False

    def problems(self) -> list[tuple[str, object, str]]:
        """Semantic problems as (key, value, expected)."""
        out: list[tuple[str, object, str]] = []
        if self.diagnosis_visit_days < 0:
            out.append(
                (
                    "diagnosis_visit_days",
                    self.diagnosis_visit_days,
                    "0 or a positive number of days",
                )
            )
        return out


@dataclass(frozen=True)
class ReferenceConfig:
    programme: str
    covariates: tuple[str, ...]
    ratio: int = 1
    replace: bool = False
    caliper: float | None = None
    std_caliper: bool = True
    link: str = "logit"
    order: str = "largest"
    seed: int | None = None
    exact: tuple[str, ...] = ("sex",)
    pre_window_days: int = 365
    index_period: str = "month"
    age_band_years: int = 10
    exclude_participants: str = "ever"
    diagnosis_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    eligibility: EligibilityConfig = field(default_factory=EligibilityConfig)

    def problems(self) -> list[tuple[str, object, str]]:
        """Semantic problems as (key, value, expected)."""
        out: list[tuple[str, object, str]] = []
        if self.ratio < 1:
            out.append(("ratio", self.ratio, "a whole number ≥ 1"))
        if self.caliper is not None and self.caliper <= 0:
            out.append(
                ("caliper", self.caliper, "a positive number (or leave it out for no caliper)")
            )
        if self.link not in ("probability", "logit"):
            out.append(("link", self.link, "'probability' or 'logit'"))
        if self.order not in ("largest", "smallest", "random", "data"):
            out.append(("order", self.order, "one of 'largest', 'smallest', 'random', 'data'"))
        if self.index_period not in ("day", "week", "month"):
            out.append(("index_period", self.index_period, "one of 'day', 'week', 'month'"))
        if self.exclude_participants not in ("ever", "not_yet_started"):
            out.append(
                ("exclude_participants", self.exclude_participants, "'ever' or 'not_yet_started'")
            )
        if self.pre_window_days < 1:
            out.append(("pre_window_days", self.pre_window_days, "a positive number of days"))
        if self.age_band_years < 1:
            out.append(("age_band_years", self.age_band_years, "a positive number of years"))
        out += [(f"eligibility.{k}", v, e) for k, v, e in self.eligibility.problems()]
        return out
