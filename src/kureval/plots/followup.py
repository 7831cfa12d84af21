"""Figures of the programme follow-up section.

Every function takes a :class:`~kureval.followup.flow.FlowResult`, an optional
Axes and the report language, draws and returns the Axes; nothing is computed
here beyond placing the result's numbers.  Small counts are suppressed in the
figures as in the tables: a count ``0 < n < min_cell`` (the study's minimum
cell size, ``result.min_cell``) is written ``"<5"`` and no bar or share is
drawn for it; when a hidden count could be worked out from a total and the
other visible parts (total = sum of parts), the smallest other non-zero part
is hidden as well and written ``".."`` (secondary suppression).  Zeros are
shown, as in :func:`kureval.report.privacy.suppress_counts`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Patch
from matplotlib.text import Text

from kureval.plots.style import FULL_WIDTH, PALETTE, new_axes
from kureval.report.labels import check_lang, has, t
from kureval.report.privacy import suppress_counts
from kureval.report.tables import format_number

__all__ = [
    "flow_table",
    "goal_label",
    "goals_table",
    "hidden_counts",
    "methods_paragraph",
    "shares_table",
    "plot_destinations",
    "plot_flow",
    "plot_goals",
    "plot_provision",
]

SECONDARY = ".."
_SEX_COLOURS = {
    "all": PALETTE["participants"],
    "F": PALETTE["women"],
    "M": PALETTE["men"],
    "X": PALETTE["other"],
}
_SEX_KEYS = {"all": "fu_all", "F": "sex_F", "M": "sex_M", "X": "sex_X"}


# --------------------------------------------------------------------------- suppression
def hidden_counts(
    counts: Mapping[str, int], partitions: Iterable[tuple[str, Sequence[str]]], min_cell: int
) -> dict[str, str]:
    """Display text of each count: the number, ``"<min_cell"`` or ``".."``.

    Parameters
    ----------
    counts : mapping of cell name to count
    partitions : iterable of (total, parts)
        Equations ``counts[total] == sum(counts[p] for p in parts)`` a reader could use.
    min_cell : int
        Counts ``0 < n < min_cell`` are hidden (primary suppression).

    Notes
    -----
    Secondary suppression is greedy: while some equation has exactly one
    hidden cell, the smallest visible non-zero part of it is hidden (the total
    when no part qualifies).  Zeros are never hidden.
    """
    primary = {k for k, n in counts.items() if 0 < n < min_cell}
    hidden = set(primary)
    parts_list = [(tot, list(parts)) for tot, parts in partitions]
    changed = True
    while changed:
        changed = False
        for total, parts in parts_list:
            cells = [total, *parts]
            if sum(c in hidden for c in cells) != 1:
                continue
            pool = [p for p in parts if p not in hidden and counts[p] > 0] or [
                c for c in cells if c not in hidden and counts[c] > 0
            ]
            if pool:
                hidden.add(min(pool, key=lambda c: (counts[c], c)))
                changed = True
    return {
        k: (f"<{min_cell}" if k in primary else SECONDARY if k in hidden else f"{n:d}")
        for k, n in counts.items()
    }


# --------------------------------------------------------------------------- flow diagram
def _pick(result: Any, group: tuple[Any, ...] | None) -> tuple[Any, ...]:
    groups = result.groups()
    if group is None:
        return groups[0]
    key = group if isinstance(group, tuple) else (group,)
    if key not in groups:
        raise KeyError(f"no group {key!r} in the result; groups: {groups}")
    return key


_FLOW_PARTS = [
    ("referred", ["not_started", "started"]),
    ("started", ["ongoing", "no_end_status", "ended"]),
    ("ended", ["completed", "dropped_out"]),
]


def _flow_cells(result: Any, key: tuple[Any, ...]) -> tuple[dict[str, int], list, list[str]]:
    s = result.for_group("stages", key)
    counts = {
        str(st): int(n) for st, n in zip(s["stage"], s["n"], strict=True) if st not in ("answered",)
    }
    tps = []
    for tp, n in zip(s["timepoint"], s["n"], strict=True):
        if isinstance(tp, str):
            counts[f"answered:{tp}"] = int(n)
            tps.append(tp)
    if not any(
        counts[f"answered:{tp}"] for tp in tps
    ):  # nobody in this group answered: no such boxes
        counts = {
            k: v for k, v in counts.items() if not k.startswith("answered:") and k != "prepost"
        }
        return counts, _FLOW_PARTS, []
    r = result.for_group("reasons", key)
    r = r[r["stage"] == "prepost"]
    for reason, n in zip(r["reason"], r["n"], strict=True):
        counts[f"why:{reason}"] = int(n)
    parts = list(_FLOW_PARTS)
    if "prepost" in counts:
        parts.append(("started", ["prepost", *[k for k in counts if k.startswith("why:")]]))
    return counts, parts, tps


def _box(
    ax: Axes, x: float, y: float, text: str, colour: str = "white", ha: str = "center"
) -> Text:
    return ax.text(
        x,
        y,
        text,
        ha=ha,
        va="center",
        fontsize=7.5,
        transform=ax.transAxes,
        multialignment="left" if ha == "left" else "center",
        bbox={
            "boxstyle": "round,pad=0.4",
            "facecolor": colour,
            "edgecolor": "#555555",
            "linewidth": 0.8,
        },
    )


def _link(
    ax: Axes,
    src: Any,
    dst: Text,
    src_at: tuple[float, float] = (0.5, 0.0),
    dst_at: tuple[float, float] = (0.5, 1.0),
) -> None:
    """Arrow from ``src`` (a box, or a point in axes fraction) to the box ``dst``."""
    from_text = isinstance(src, Text)
    ax.annotate(
        "",
        xy=dst_at,
        xycoords=dst,
        xytext=src_at if from_text else src,
        textcoords=src if from_text else "axes fraction",
        arrowprops={
            "arrowstyle": "-|>",
            "color": "#555555",
            "linewidth": 0.8,
            "shrinkA": 4 if from_text else 0,
            "shrinkB": 4,
        },
    )


def plot_flow(result: Any, group: Any = None, ax: Axes | None = None, lang: str = "en") -> Axes:
    """CONSORT-style flow diagram of one group (default: the first, e.g. the first programme).

    Boxes: referred → started → ended → completed | dropped out, with side boxes
    for those who did not start and those still ongoing (or without an end
    status); on the right the self-rating stages: answered at each time point
    and in the pre/post analysis, with the reasons for not being in it.
    Counts below ``result.min_cell`` are shown as ``"<5"`` and counts that would
    reveal them as ``".."`` (see :func:`hidden_counts`).
    """
    check_lang(lang)
    key = _pick(result, group)
    counts, parts, tps = _flow_cells(result, key)
    shown = hidden_counts(counts, parts, result.min_cell)
    if ax is None:
        ax = new_axes(FULL_WIDTH, 0.7 * FULL_WIDTH)
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)

    def lab(stage: str) -> str:
        return f"{t('fu_stage_' + stage, lang)}\nn = {shown[stage]}"

    referred = _box(ax, 0.16, 0.92, lab("referred"), "#EAF2FA")
    started = _box(ax, 0.16, 0.64, lab("started"), "#EAF2FA")
    ended = _box(ax, 0.16, 0.36, lab("ended"), "#EAF2FA")
    _link(ax, referred, started)
    _link(ax, started, ended)
    _link(ax, ended, _box(ax, 0.06, 0.08, lab("completed")), (0.3, 0.0))
    _link(ax, ended, _box(ax, 0.27, 0.08, lab("dropped_out")), (0.7, 0.0))
    _link(
        ax,
        (0.16, 0.78),
        _box(ax, 0.30, 0.78, lab("not_started"), "#F5F5F5", ha="left"),
        dst_at=(0, 0.5),
    )
    side = f"{t('fu_stage_ongoing', lang)}: {shown['ongoing']}"
    if counts.get("no_end_status", 0):
        side += f"\n{t('fu_stage_no_end_status', lang)}: {shown['no_end_status']}"
    _link(ax, (0.16, 0.50), _box(ax, 0.30, 0.50, side, "#F5F5F5", ha="left"), dst_at=(0, 0.5))
    if tps:
        _self_rating_boxes(ax, started, shown, tps, lang)
    ax.set_title(result.group_label(key) if result.by else "", loc="left")
    return ax


def _self_rating_boxes(
    ax: Axes, started: Text, shown: Mapping[str, str], tps: Sequence[str], lang: str
) -> None:
    lines = [t("fu_h_answered", lang)] + [
        f"  {_tp(tp, lang)}: {shown['answered:' + tp]}" for tp in tps
    ]
    answered = _box(ax, 0.66, 0.64, "\n".join(lines), "#FFF7E6", ha="left")
    _link(ax, started, answered, (1.0, 0.5), (0.0, 0.5))
    if "prepost" in shown:
        why = [
            f"  – {t('fu_reason_' + k[4:], lang)}: {v}"
            for k, v in shown.items()
            if k.startswith("why:")
        ]
        text = f"{t('fu_stage_prepost', lang)}: n = {shown['prepost']}\n" + "\n".join(why)
        _link(
            ax, answered, _box(ax, 0.52, 0.22, text, "#FFF7E6", ha="left"), (0.3, 0.0), (0.45, 1.0)
        )


def _tp(tp: str, lang: str) -> str:
    return t(f"sr_tp_{tp}", lang) if has(f"sr_tp_{tp}") else tp


# --------------------------------------------------------------------------- bars with CIs
def _category_label(prefix: str, code: str, lang: str) -> str:
    # provision codes use page 1's labels (overview catalogue), so both pages say the same
    if prefix == "fu_prov_" and has(f"overview_provision_{code}"):
        return t(f"overview_provision_{code}", lang)
    return t(f"{prefix}{code}", lang) if has(f"{prefix}{code}") else code


def _share_bars(result: Any, table: str, group: Any, ax: Axes | None, lang: str) -> Axes:
    check_lang(lang)
    column, denom, prefix = _SHARES[table]
    key = _pick(result, group)
    d = result.for_group(table, key)
    all_cats = list(dict.fromkeys(d[column]))
    sexes = list(dict.fromkeys(d["sex"])) if "sex" in d.columns else ["all"]
    cell = {(r[column], r.get("sex", "all")): r for r in d.to_dict("records")}
    counts = {f"{c}|{s}": int(cell[(c, s)]["n"]) for c in all_cats for s in sexes}
    counts |= (
        {f"{denom}|{s}": int(cell[(all_cats[0], s)][denom]) for s in sexes} if all_cats else {}
    )
    parts = [
        (f"{c}|all", [f"{c}|{s}" for s in sexes if s != "all"]) for c in all_cats if len(sexes) > 1
    ]
    parts += [(f"{denom}|{s}", [f"{c}|{s}" for c in all_cats]) for s in sexes]
    shown = hidden_counts(counts, parts, result.min_cell)
    cats = [
        c for c in all_cats if counts[f"{c}|{sexes[0]}"] > 0
    ]  # categories nobody is in are left out
    fig_h = max(0.17 * len(cats) * len(sexes) + 0.8, 2.2)  # room for a "<5" per sex
    ax = ax if ax is not None else new_axes(FULL_WIDTH, fig_h)
    height = 0.8 / len(sexes)
    y = np.arange(len(cats))[::-1].astype(float)
    for j, s in enumerate(sexes):
        yy = y + 0.4 - height * (j + 0.5)
        for i, c in enumerate(cats):
            r = cell[(c, s)]
            text = shown[f"{c}|{s}"]
            if (
                not text.isdigit()
                or not np.isfinite(r["share"])
                or not shown[f"{denom}|{s}"].isdigit()
            ):
                # hidden count, no share, or a hidden denominator (its CI width would reveal it)
                mark = text if np.isfinite(r["share"]) or not text.isdigit() else "–"
                ax.text(0.5, yy[i], mark, va="center", fontsize=6.5)
                continue
            ax.barh(
                yy[i],
                100 * r["share"],
                height=height * 0.9,
                color=_SEX_COLOURS[s],
                xerr=[[100 * (r["share"] - r["ci_low"])], [100 * (r["ci_high"] - r["share"])]],
                error_kw={"elinewidth": 0.7, "capsize": 1.5, "ecolor": "#333333"},
            )
    ax.set_yticks(y, [_category_label(prefix, c, lang) for c in cats])
    ax.set_ylim(-0.6, len(cats) - 0.4)
    ax.set_xlabel(t(f"fu_axis_share_{denom[2:]}", lang))
    ax.set_xlim(0, 100)
    ax.grid(axis="y", visible=False)
    if len(sexes) > 1:
        handles = [Patch(color=_SEX_COLOURS[s], label=t(_SEX_KEYS[s], lang)) for s in sexes]
        ax.legend(handles=handles, loc="lower right", frameon=False)
    ax.set_title(result.group_label(key) if result.by else "", loc="left")
    return ax


def plot_destinations(
    result: Any, group: Any = None, ax: Axes | None = None, lang: str = "en"
) -> Axes:
    """Exit destinations among those who ended: share (%) with Wilson 95 % CI, all and by sex."""
    return _share_bars(result, "destinations", group, ax, lang)


def plot_provision(
    result: Any, group: Any = None, ax: Axes | None = None, lang: str = "en"
) -> Axes:
    """Provision at start among those who started: share (%) with Wilson 95 % CI, all and by sex."""
    return _share_bars(result, "provision", group, ax, lang)


# --------------------------------------------------------------------------- goals
def goal_label(destinations: str, lang: str = "en") -> str:
    """Label of a goal from its destinations (``"work, studies"`` → "To work or to studies")."""
    names = [_category_label("fu_dest_", d.strip(), lang) for d in destinations.split(",")]
    names[1:] = [n[:1].lower() + n[1:] for n in names[1:]]  # "To work or to studies"
    return t("fu_goal_or", lang).join(names)


def plot_goals(result: Any, ax: Axes | None = None, lang: str = "en") -> Axes:
    """Observed share (%) with Wilson 95 % CI for every goal and group, against the goal line.

    The target of each goal is drawn as a vertical red mark across its row.
    A share resting on a count ``0 < n < min_cell`` is not drawn (``"<5"``).
    """
    check_lang(lang)
    g = result.goals
    if ax is None:
        ax = new_axes(FULL_WIDTH, max(0.45 * len(g), 2.0))
    rows = g.to_dict("records")
    y = np.arange(len(rows))[::-1].astype(float)
    labels = []
    for yi, r in zip(y, rows, strict=True):
        name = goal_label(r["destinations"], lang)
        group = result.group_label(tuple(r[c] for c in result.by)) if result.by else ""
        labels.append(f"{name}\n({group})" if group else name)
        ax.plot(
            [100 * r["target"]] * 2,
            [yi - 0.35, yi + 0.35],
            color=PALETTE["worse"],
            linewidth=1.5,
            label=t("fu_goal_line", lang) if yi == y[0] else None,
        )
        if 0 < r["n"] < result.min_cell or not np.isfinite(r["share"]):
            ax.text(1, yi, f"<{result.min_cell}" if r["n_ended"] else "–", va="center", fontsize=7)
            continue
        ax.errorbar(
            100 * r["share"],
            yi,
            xerr=[[100 * (r["share"] - r["ci_low"])], [100 * (r["ci_high"] - r["share"])]],
            fmt="o",
            color=PALETTE["participants"],
            capsize=2,
            markersize=4,
            label=t("fu_observed", lang) if yi == y[0] else None,
        )
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlim(0, 100)
    ax.set_xlabel(t("fu_axis_share_ended", lang))
    ax.grid(axis="y", visible=False)
    if rows:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2, frameon=False)
    return ax


# --------------------------------------------------------------------------- display tables
_TREE_ROWS = {
    "referred": ["not_started", "started"],
    "started": ["ongoing", "no_end_status", "ended"],
    "ended": ["completed", "dropped_out"],
}


def flow_table(result: Any, lang: str = "en", by_sex: bool = False) -> pd.DataFrame:
    """Display table of the flow: stages (rows) × groups (columns), small counts suppressed.

    With ``by_sex=True`` each group has a column for all and one per sex
    present (``"<group> | Women"``).  Rows nobody is in (e.g. "no end status",
    or self-ratings in a programme without questionnaires) are left out.
    Suppression follows :func:`kureval.report.privacy.suppress_counts` with the
    flow's equations (referred = not started + started, …; all = women + men
    + other) protected.
    """
    check_lang(lang)
    wide, col_totals = _flow_counts(result, lang, by_sex)
    wide = wide.loc[(wide > 0).any(axis=1) | wide.index.isin(list(_TREE_ROWS))]
    totals: dict[Any, Any] = {k: [p for p in v if p in wide.index] for k, v in _TREE_ROWS.items()}
    shown = suppress_counts(
        wide,
        list(wide.columns),
        min_cell=result.min_cell,
        total_rows=totals,
        total_cols=col_totals or None,
    )
    _not_applicable(result, shown)
    shown.index = [_stage_label(s, lang) for s in shown.index]
    shown.index.name = t("fu_col_stage", lang)
    return shown


NOT_APPLICABLE = "–"


def _not_applicable(result: Any, shown: pd.DataFrame) -> None:
    """Self-rating rows of a group in which nobody answered anything: "–" (not applicable)."""
    rows = [r for r in shown.index if str(r).startswith("answered") or r == "prepost"]
    for key, label in zip(result.groups(), result.table.columns, strict=True):
        s = result.for_group("stages", key)
        if s.loc[s["stage"] == "answered", "n"].sum() > 0:
            continue
        cols = [c for c in shown.columns if c == label or str(c).startswith(f"{label} | ")]
        shown.loc[rows, cols] = NOT_APPLICABLE


def _flow_counts(result: Any, lang: str, by_sex: bool) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    wide = result.table.fillna(0).astype(int)
    if not by_sex:
        return wide, {}
    cols: dict[str, Any] = {}
    col_totals: dict[str, list[str]] = {}
    for key, label in zip(result.groups(), wide.columns, strict=True):
        g = result.for_group("stages", key)
        cols[f"{label} | {t('fu_all', lang)}"] = g["n"].to_numpy()
        parts = []
        for sex in ("F", "M", "X"):
            if sex != "X" or g[f"n_{sex}"].sum() > 0:
                name = f"{label} | {t(_SEX_KEYS[sex], lang)}"
                cols[name] = g[f"n_{sex}"].to_numpy()
                parts.append(name)
        col_totals[f"{label} | {t('fu_all', lang)}"] = parts
    first = result.for_group("stages", result.groups()[0])
    index = [
        st if pd.isna(tp) else f"{st}:{tp}"
        for st, tp in zip(first["stage"], first["timepoint"], strict=True)
    ]
    return pd.DataFrame(cols, index=index).astype(int), col_totals


def _stage_label(row: str, lang: str) -> str:
    stage, _, tp = row.partition(":")
    return (
        t("fu_stage_answered", lang, timepoint=_tp(tp, lang))
        if tp
        else t(f"fu_stage_{stage}", lang)
    )


def shares_table(result: Any, table: str, group: Any = None, lang: str = "en") -> pd.DataFrame:
    """Display table of exit destinations (``table="destinations"``) or provision at start.

    One row per category with n and % for all and for each sex, and the
    Wilson 95 % CI of the overall share; a last row with the denominator.
    Counts below ``min_cell`` are suppressed (with secondary suppression) and
    the percentages derived from them blanked.
    """
    check_lang(lang)
    column, denom, prefix = _SHARES[table]
    d = result.for_group(table, _pick(result, group))
    sexes = list(dict.fromkeys(d["sex"])) if "sex" in d.columns else ["all"]
    n = d.pivot(index=column, columns="sex", values="n").reindex(
        index=list(dict.fromkeys(d[column]))
    )
    n = n[sexes] if "sex" in d.columns else d.set_index(column)[["n"]].rename(columns={"n": "all"})
    n.loc[denom] = n.sum(axis=0)
    n.columns = [f"n_{s}" for s in sexes]
    for s in sexes:
        n[f"pct_{s}"] = (
            100 * n[f"n_{s}"] / n.loc[denom, f"n_{s}"] if n.loc[denom, f"n_{s}"] else np.nan
        )
    shown = suppress_counts(
        n,
        [f"n_{s}" for s in sexes],
        min_cell=result.min_cell,
        pct_cols={f"pct_{s}": f"n_{s}" for s in sexes},
        total_cols={"n_all": [f"n_{s}" for s in sexes[1:]]} if len(sexes) > 1 else None,
        total_rows=denom,
    )
    ci = d[d["sex"] == "all"] if "sex" in d.columns else d
    ci_text = {
        r[
            column
        ]: f"{format_number(100 * r['ci_low'], 1, lang)}–{format_number(100 * r['ci_high'], 1, lang)}"
        for r in ci.to_dict("records")
        if np.isfinite(r["ci_low"])
    }
    shown["ci"] = [
        ci_text.get(k, "") if shown.at[k, "pct_all"] != "" and k != denom else ""
        for k in shown.index
    ]
    for s in sexes:
        shown[f"pct_{s}"] = [format_number(v, 0, lang) for v in shown[f"pct_{s}"]]
    shown = shown[
        [c for s in sexes for c in (f"n_{s}", f"pct_{s}", *(["ci"] if s == "all" else []))]
    ]
    shown.columns = [_share_col(c, lang) for c in shown.columns]
    shown.index = [
        t(f"fu_col_{denom}", lang) if k == denom else _category_label(prefix, k, lang)
        for k in shown.index
    ]
    return shown


_SHARES = {
    "destinations": ("exit_destination", "n_ended", "fu_dest_"),
    "provision": ("provision_at_start", "n_started", "fu_prov_"),
}


def _share_col(col: str, lang: str) -> str:
    if col == "ci":
        return t("fu_col_ci", lang)
    kind, _, sex = col.partition("_")
    return f"{t(_SEX_KEYS[sex], lang)} {t('n' if kind == 'n' else 'percent', lang)}"


def goals_table(result: Any, lang: str = "en") -> pd.DataFrame:
    """Display table of goal attainment: target, n of ended, share (%), 95 % CI, met."""
    check_lang(lang)
    g = result.goals.reset_index(drop=True)
    counts = g[["n", "n_ended"]].astype(int)
    counts["pct"] = 100 * g["share"]
    shown = suppress_counts(
        counts, ["n", "n_ended"], min_cell=result.min_cell, pct_cols={"pct": "n"}
    )
    blank = shown["pct"] == ""
    out = pd.DataFrame(
        {
            t("fu_col_programme", lang): [
                result.group_label(tuple(r))
                for r in g[list(result.by)].itertuples(index=False, name=None)
            ]
            if result.by
            else "",
            t("fu_col_goal", lang): [goal_label(d, lang) for d in g["destinations"]],
            t("fu_col_target", lang): [format_number(100 * v, 0, lang) for v in g["target"]],
            t("n", lang): shown["n"],
            t("fu_col_n_ended", lang): shown["n_ended"],
            t("fu_col_share", lang): [format_number(v, 1, lang) for v in shown["pct"]],
            t("fu_col_ci", lang): [
                ""
                if b or not np.isfinite(lo)
                else f"{format_number(100 * lo, 1, lang)}–{format_number(100 * hi, 1, lang)}"
                for b, lo, hi in zip(blank, g["ci_low"], g["ci_high"], strict=True)
            ],
            t("fu_col_met", lang): [
                "" if b or pd.isna(m) else t("fu_yes" if m else "fu_no", lang)
                for b, m in zip(blank, g["met"], strict=True)
            ],
        }
    )
    return out


def methods_paragraph(result: Any, lang: str = "en", ci_level: int = 95) -> str:
    """Methods of the follow-up section, filled in from ``result``.

    Denominators (destinations and goals: those who ended; provision: those
    who started), Wilson score intervals at ``ci_level`` % (the level passed
    to :func:`kureval.followup.flow.flow`, 95 by default), the reporting
    period and the disclosure rules (``<min_cell``, ``..``, blank shares).
    """
    check_lang(lang)
    period = (
        t("fu_methods_period", lang, period=result.period, period_by=result.period_by)
        if result.period
        else ""
    )
    return t("fu_methods", lang, period=period, level=ci_level, min_cell=result.min_cell)
