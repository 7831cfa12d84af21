"""Counting the stages of the participant flow, with the reasons for every step down.

Stages nest: referred → (not started | started); started → (ongoing | no end
status | ended); ended → (completed | dropped out).  The five leaves
(:data:`FINAL_BOXES`) partition the referred: every person is in exactly one,
decided by ``status`` alone (:func:`final_box`).  The self-rating stages count,
among those who started, who answered at each time point and who is in the
pre/post analysis.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pandas as pd

from kureval.followup.destinations import SEXES, _group_mask

__all__ = ["FINAL_BOXES", "final_box", "stage_tables"]

#: The boxes partitioning the referred, by status.
FINAL_BOXES = ("not_started", "no_end_status", "ongoing", "completed", "dropped_out")
_BOX_OF_STATUS = {
    "referred": "not_started",
    "started": "no_end_status",
    "ongoing": "ongoing",
    "completed": "completed",
    "dropped_out": "dropped_out",
}
# stage -> (parent, final?)
_TREE = {
    "referred": (None, False),
    "not_started": ("referred", True),
    "started": ("referred", False),
    "ongoing": ("started", True),
    "no_end_status": ("started", True),
    "ended": ("started", False),
    "completed": ("ended", True),
    "dropped_out": ("ended", True),
}


def final_box(status: pd.Series) -> pd.Series:
    """The final flow box of each person, from ``status`` (a status outside the contract → NA)."""
    return status.astype("string").map(_BOX_OF_STATUS).astype("string")


def stage_tables(
    p: pd.DataFrame,
    by: Sequence[str],
    groups: pd.DataFrame,
    responses: pd.DataFrame | None,
    timepoints: Sequence[str],
    pre: str | None,
    post: str | None,
    scores: pd.DataFrame | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``stages`` and ``reasons`` tables of :class:`~kureval.followup.flow.FlowResult`."""
    answered = _answered(responses, timepoints)
    scored = _scored_both(scores, pre, post)
    stage_rows: list[dict] = []
    reason_rows: list[dict] = []
    for key in groups.itertuples(index=False, name=None):
        g = p.loc[_group_mask(p, by, key).to_numpy(dtype=bool)]
        base = dict(zip(by, key, strict=True))
        members = _members(g)
        sex_of = dict(zip(g["person_id"], g["sex"].astype(str), strict=True))
        for stage, (parent, final) in _TREE.items():
            stage_rows.append(
                _row(base, stage, None, parent, final, sex_of, members[stage], members)
            )
        reason_rows += _tree_reasons(base, g, members)
        started = members["started"]
        for tp in timepoints:
            ids = started & answered.get(tp, set())
            stage_rows.append(_row(base, "answered", tp, "started", False, sex_of, ids, members))
            missing = g.loc[g["person_id"].isin(started - ids)]
            for status, n in missing["status"].astype("string").value_counts().sort_index().items():
                reason_rows.append(
                    {
                        **base,
                        "stage": "answered",
                        "timepoint": tp,
                        "reason": "no_answer",
                        "status": status,
                        "n": int(n),
                    }
                )
        if pre is not None and post is not None and timepoints:
            ids, why = _prepost(started, answered, scored, pre, post)
            stage_rows.append(_row(base, "prepost", None, "started", False, sex_of, ids, members))
            reason_rows += [
                {
                    **base,
                    "stage": "prepost",
                    "timepoint": pd.NA,
                    "reason": r,
                    "status": pd.NA,
                    "n": n,
                }
                for r, n in why.items()
            ]
    stages = pd.DataFrame(
        stage_rows,
        columns=[
            *by,
            "stage",
            "timepoint",
            "parent",
            "final",
            "n",
            *[f"n_{s}" for s in SEXES],
            "n_parent",
        ],
    )
    n_parent = pd.to_numeric(stages["n_parent"], errors="coerce")
    stages["n_parent"] = n_parent.astype("Int64")
    stages["share_of_parent"] = (stages["n"] / n_parent.where(n_parent > 0)).astype(float)
    for col in ("stage", "timepoint", "parent"):
        stages[col] = stages[col].astype("string")
    reasons = pd.DataFrame(
        reason_rows, columns=[*by, "stage", "timepoint", "reason", "status", "n"]
    )
    for col in ("stage", "timepoint", "reason", "status"):
        reasons[col] = reasons[col].astype("string")
    return stages, reasons


def _members(g: pd.DataFrame) -> dict[str, set]:
    box = final_box(g["status"])
    ids = g["person_id"]
    out = {b: set(ids[(box == b).fillna(False).to_numpy(dtype=bool)]) for b in FINAL_BOXES}
    out["referred"] = set(ids)
    out["ended"] = out["completed"] | out["dropped_out"]
    out["started"] = out["ended"] | out["ongoing"] | out["no_end_status"]
    return out


def _row(
    base: dict,
    stage: str,
    tp: str | None,
    parent: str | None,
    final: bool,
    sex_of: dict,
    ids: set,
    members: dict[str, set],
) -> dict:
    row = {
        **base,
        "stage": stage,
        "timepoint": pd.NA if tp is None else tp,
        "parent": pd.NA if parent is None else parent,
        "final": final,
        "n": len(ids),
    }
    counts = Counter(sex_of[i] for i in ids)
    for s in SEXES:
        row[f"n_{s}"] = counts.get(s, 0)
    row["n_parent"] = len(members[parent]) if parent is not None else pd.NA
    return row


def _tree_reasons(base: dict, g: pd.DataFrame, members: dict[str, set]) -> list[dict]:
    """Step-down reasons inside the status tree: why someone is not in ``started``/``ended``."""
    out = []
    for stage, reason in (
        ("started", "not_started"),
        ("ended", "ongoing"),
        ("ended", "no_end_status"),
    ):
        out.append(
            {
                **base,
                "stage": stage,
                "timepoint": pd.NA,
                "reason": reason,
                "status": pd.NA,
                "n": len(members[reason]),
            }
        )
    return out


def _answered(responses: pd.DataFrame | None, timepoints: Sequence[str]) -> dict[str, set]:
    """Persons with at least one non-missing answer at each time point."""
    if responses is None or len(responses) == 0:
        return {}
    r = responses.loc[responses["value"].notna(), ["person_id", "timepoint"]]
    tp = r["timepoint"].astype("string")
    return {
        t: set(r.loc[(tp == t).fillna(False).to_numpy(dtype=bool), "person_id"]) for t in timepoints
    }


def _scored_both(scores: pd.DataFrame | None, pre: str | None, post: str | None) -> set:
    """Persons with a non-missing score on the same scale at both ``pre`` and ``post``."""
    if scores is None or len(scores) == 0 or pre is None or post is None:
        return set()
    s = scores.loc[scores["score"].notna(), ["person_id", "timepoint", "scale"]]
    tp = s["timepoint"].astype("string")
    a = s.loc[(tp == pre).to_numpy(dtype=bool), ["person_id", "scale"]].drop_duplicates()
    b = s.loc[(tp == post).to_numpy(dtype=bool), ["person_id", "scale"]].drop_duplicates()
    return set(a.merge(b, on=["person_id", "scale"])["person_id"])


def _prepost(
    started: set, answered: dict[str, set], scored: set, pre: str, post: str
) -> tuple[set, dict[str, int]]:
    at_pre = started & answered.get(pre, set())
    both = at_pre & answered.get(post, set())
    ids = both & scored
    why = {
        "no_answer_pre": len(started - at_pre),
        "no_answer_post": len(at_pre - both),
        "not_scorable": len(both - ids),
    }
    return ids, why
