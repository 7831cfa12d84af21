"""Figures and display tables of the matched reference group section.

Every function takes result objects of :mod:`kureval.reference` (duck-typed:
``BalanceResult``, ``MatchResult``), an optional Axes and the report
language, and returns the Axes (or a display DataFrame).  Nothing is computed
here beyond histogram binning: SMDs, weights and counts come from the results.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

from kureval.plots.style import FULL_WIDTH, PALETTE, new_axes, style
from kureval.report.labels import check_lang, has, t
from kureval.report.tables import format_number

__all__ = [
    "balance_display",
    "flow_display",
    "format_as_given",
    "group_label",
    "exact_label",
    "intro_text",
    "method_text",
    "propensity_bins",
    "suppress_flow",
    "plot_flow",
    "plot_love",
    "plot_propensity",
    "term_label",
]

NOT_APPLICABLE = "\u2013"  # en dash: the statistic does not apply (e.g. variance ratio of yes/no)


def _num(value: float, decimals: int, lang: str) -> str:
    """``format_number`` without a negative zero ("-0.000" → "0.000")."""
    return format_number(round(float(value), decimals) + 0.0, decimals, lang)


def _tick_formatter(lang: str, absolute: bool = False) -> FuncFormatter:
    """Tick labels in the report language (decimal comma in Swedish), optionally |value|."""

    def fmt(value: float, _pos: object = None) -> str:
        v = abs(value) if absolute else value
        text = f"{v:g}"
        return text.replace("-", "\u2212").replace(".", "," if lang == "sv" else ".")

    return FuncFormatter(fmt)


def term_label(term: str, lang: str = "en") -> str:
    """Display name of a balance term (covariate, level or the propensity score)."""
    key = f"ref_term_{term}"
    return t(key, lang) if has(key) else term


def plot_love(balance: Any, ax: Axes | None = None, lang: str = "en") -> Axes:
    """Love plot: SMD of every term before (open circles) and after matching (filled).

    Dashed lines at ±threshold (|SMD| = 0.1).  The SMDs are those of
    ``balance.table`` (participants' SD before matching as denominator).
    """
    check_lang(lang)
    wide = balance.wide()
    n = len(wide)
    if ax is None:
        ax = new_axes(FULL_WIDTH, 0.9 + 0.28 * n)
    with style():
        y = np.arange(n)[::-1]
        ax.scatter(
            wide["before"],
            y,
            facecolors="none",
            edgecolors=PALETTE["neutral"],
            label=t("ref_before", lang),
            zorder=3,
        )
        ax.scatter(
            wide["after"], y, color=PALETTE["participants"], label=t("ref_after", lang), zorder=4
        )
        for x in (-balance.threshold, balance.threshold):
            ax.axvline(x, color=PALETTE["worse"], linestyle="--", linewidth=0.8)
        ax.axvline(0, color="black", linewidth=0.6)
        ax.set_yticks(y)
        ax.set_yticklabels([term_label(str(v), lang) for v in wide["term"]])
        ax.set_xlabel(t("ref_love_xlabel", lang))
        ax.xaxis.set_major_formatter(_tick_formatter(lang))
        # above the axes, outside the data region
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    return ax


def propensity_bins(result: Any, bins: int = 30, min_cell: int = 5) -> tuple[np.ndarray, list[str]]:
    """Histogram bin edges of the propensity score that hold no small counts.

    Starts from ``bins`` equal-width bins over the range of the score and
    merges neighbouring bins (left to right, the last ones backwards) until
    every bin holds either no one or at least ``min_cell`` persons of each
    drawn group: participants and references, all persons before matching
    and those in the matched sample (weight > 0).

    Returns the edges and the groups that are not drawn
    (``"participants_before"``, ``"references_before"``,
    ``"participants_after"``, ``"references_after"``): a group with fewer
    than ``min_cell`` persons in all; and a "before" group when, in some
    bin, between 1 and ``min_cell`` − 1 of its persons were left out of the
    matched sample, since the "before" and "after" bars (with the published
    group sizes) would then show how many.
    """
    u = result.units
    d = u["distance"].to_numpy(dtype=float)
    t1, used = (u["treat"] == 1).to_numpy(), (u["weight"] > 0).to_numpy()
    groups = {
        "participants_before": t1,
        "references_before": ~t1,
        "participants_after": t1 & used,
        "references_after": ~t1 & used,
    }
    left_out = {"participants_before": t1 & ~used, "references_before": ~t1 & ~used}
    dropped = [g for g, m in groups.items() if 0 < m.sum() < min_cell]
    while True:  # at most two rounds: the "before" groups can only be dropped once
        edges = _merged_edges(d, [m for g, m in groups.items() if g not in dropped], bins, min_cell)
        more = [
            g
            for g, m in left_out.items()
            if g not in dropped
            and groups[g.replace("before", "after")].any()
            and _has_small(np.histogram(d[m], edges)[0], min_cell)
        ]
        if not more:
            return edges, dropped
        dropped += more


def _has_small(counts: np.ndarray, min_cell: int) -> bool:
    return bool(np.any((counts > 0) & (counts < min_cell)))


def _merged_edges(d: np.ndarray, masks: list[np.ndarray], bins: int, min_cell: int) -> np.ndarray:
    """Equal-width bins merged until each holds 0 or ≥ ``min_cell`` of every mask.

    The range is that of the masked persons, widened to round numbers (a
    tenth of the range's order of magnitude), so no edge is one person's score.
    """
    shown = d[np.logical_or.reduce(masks)] if masks else d
    step = 10.0 ** (np.floor(np.log10(max(np.ptp(shown), 1e-12))) - 1)
    fine = np.linspace(
        np.floor(shown.min() / step) * step, np.ceil(shown.max() / step) * step, bins + 1
    )
    counts = np.array([np.histogram(d[m], fine)[0] for m in masks]).reshape(len(masks), -1)
    keep = [0]  # indices into fine of the kept edges
    acc = np.zeros(len(masks), dtype=int)
    for j in range(bins):
        acc = acc + counts[:, j]
        if acc.any() and not _has_small(acc, min_cell):
            keep.append(j + 1)
            acc = np.zeros(len(masks), dtype=int)
    if keep[-1] != bins:  # the rest of the range did not fill a bin: join it to the last one
        if len(keep) > 1:
            keep.pop()
        keep.append(bins)
    while len(keep) > 2:  # the last bin may still hold small counts: merge backwards
        lo, hi = fine[keep[-2]], fine[keep[-1]]
        c = np.array([((d[m] >= lo) & (d[m] <= hi)).sum() for m in masks])
        if not _has_small(c, min_cell):
            break
        keep.pop(-2)
    return fine[keep]


def plot_propensity(
    result: Any, ax: Axes | None = None, lang: str = "en", bins: int = 30, min_cell: int = 5
) -> Axes:
    """Mirrored histograms of the propensity score: participants up, references down.

    Outlines: all persons before matching; filled bars: the matched sample,
    references weighted by their matching weights.  Densities, so the groups'
    shapes compare although the pools differ in size.  Bins come from
    :func:`propensity_bins`: every bin holds no one or at least ``min_cell``
    persons of each group, so no bar stands for fewer persons than a
    published count may.
    """
    check_lang(lang)
    u = result.units
    if ax is None:
        ax = new_axes()
    d = u["distance"].to_numpy(dtype=float)
    edges, dropped = propensity_bins(result, bins, min_cell)
    t1, used = (u["treat"] == 1).to_numpy(), (u["weight"] > 0).to_numpy()
    w = u["weight"].to_numpy(dtype=float)
    with style():
        for sign, mask, colour, name, grp in (
            (1, t1, PALETTE["participants"], "ref_participants", "participants"),
            (-1, ~t1, PALETTE["reference"], "ref_references", "references"),
        ):
            if f"{grp}_after" not in dropped and (mask & used).any():
                after, _ = np.histogram(d[mask & used], edges, weights=w[mask & used], density=True)
                ax.bar(
                    edges[:-1],
                    sign * after,
                    width=np.diff(edges),
                    align="edge",
                    color=colour,
                    alpha=0.75,
                    label=f"{t(name, lang)}, {t('ref_after', lang).lower()}",
                )
            if f"{grp}_before" not in dropped and mask.any():
                before, _ = np.histogram(d[mask], edges, density=True)
                ax.stairs(
                    sign * before,
                    edges,
                    color=colour,
                    linewidth=1.0,
                    label=f"{t(name, lang)}, {t('ref_before', lang).lower()}",
                )
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_xlabel(t(f"ref_ps_xlabel_{result.spec.link}", lang))
        ax.set_ylabel(t("ref_density", lang))
        ax.xaxis.set_major_formatter(_tick_formatter(lang))
        ax.yaxis.set_major_formatter(_tick_formatter(lang, absolute=True))
        # outside the axes, to the right: the histograms fill the whole data region
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=7)
    return ax


def flow_display(result: Any, lang: str = "en") -> pd.DataFrame:
    """The matching flow with sub-totals, translated step names as index; column ``n``.

    Rows: participants in the programme and those not placeable in the
    register (by reason, when matching ran on a study), participants to
    match, **matched sets** (participants with at least one reference
    person, as counted in the register section), of them matched to all
    ``k`` and to fewer than ``k`` (sub-total, then by reason), and no
    reference person (sub-total, then by reason).  All counts come from
    ``result.flow()``.

    ``.attrs["total_rows"]`` maps each total row to the rows that add up to
    it, so that :func:`kureval.report.privacy.suppress_counts` can apply
    secondary suppression through every sub-total.
    """
    check_lang(lang)
    k = result.spec.ratio
    flow = result.flow()
    rows: list[tuple[str, int]] = []
    parts: dict[str, list[str]] = {}

    def add(stage: str, n: Any, reason: Any = "") -> str:
        why = t(f"ref_reason_{reason}", lang) if reason else ""
        label = t(f"ref_stage_{stage}", lang, k=k, reason=why)
        rows.append((label, int(n)))
        return label

    def reasons(stage: str) -> pd.DataFrame:
        return flow[flow["stage"] == stage]

    n_of = dict(zip(flow["stage"], flow["n"], strict=False))
    if "programme" in n_of:
        top = add("programme", n_of["programme"])
        excl = [add("excluded", r.n, r.reason) for r in reasons("excluded").itertuples()]
    fewer, none = reasons("fewer"), reasons("none")
    to_match = add("to_match", n_of["to_match"])
    if "programme" in n_of:
        parts[top] = [to_match, *excl]
    any_ = add("matched_any", n_of["all_k"] + int(fewer["n"].sum()))
    all_k = add("all_k", n_of["all_k"])
    fewer_total = add("fewer_total", int(fewer["n"].sum()))
    fewer_rows = [add("fewer", r.n, r.reason) for r in fewer.itertuples()]
    none_total = add("none_total", int(none["n"].sum()))
    none_rows = [add("none", r.n, r.reason) for r in none.itertuples()]
    parts[to_match] = [any_, none_total]
    parts[any_] = [all_k, fewer_total]
    if fewer_rows:
        parts[fewer_total] = fewer_rows
    if none_rows:
        parts[none_total] = none_rows
    out = pd.DataFrame(
        {"n": [n for _, n in rows]},
        index=pd.Index([lab for lab, _ in rows], name=t("ref_col_stage", lang)),
    )
    out.attrs["total_rows"] = parts
    return out


def suppress_flow(flow: pd.DataFrame, min_cell: int = 5) -> pd.DataFrame:
    """The flow table of :func:`flow_display` with small counts hidden, safe against bounds.

    :func:`kureval.report.privacy.suppress_counts` (primary and secondary
    suppression through ``flow.attrs["total_rows"]``), followed by an audit
    that also uses what a reader knows about hidden cells: ``"<5"`` lies in
    1 … ``min_cell`` − 1 and ``".."`` is at least 1.  For every hidden cell
    the smallest and largest value consistent with the visible cells and the
    totals are found by linear programming; while some hidden cell has only
    one possible whole-number value, the smallest visible non-zero cell of a
    total it takes part in is hidden as well (``".."``).
    """
    from kureval.report.privacy import SECONDARY_MARK, suppress_counts

    totals = flow.attrs.get("total_rows", {})
    shown = suppress_counts(flow, ["n"], min_cell=min_cell, total_rows=totals)
    labels = list(flow.index)
    for _ in range(len(labels)):
        cell = _determined_cell(shown, labels, totals, min_cell)
        if cell is None:
            break
        near = [[tot, *parts] for tot, parts in totals.items() if cell in (tot, *parts)]
        values: list[Any] = shown["n"].tolist()
        pool = [
            (int(values[labels.index(lab)]), labels.index(lab))
            for eq in near
            for lab in eq
            if not isinstance(values[labels.index(lab)], str) and values[labels.index(lab)] > 0
        ]
        if not pool:  # nothing left to hide next to it: hide the smallest visible count anywhere
            pool = [(int(v), i) for i, v in enumerate(values) if not isinstance(v, str) and v > 0]
        if not pool:
            break
        values[min(pool)[1]] = SECONDARY_MARK
        shown["n"] = pd.Series(values, index=shown.index, dtype=object)
    return shown


def _determined_cell(
    shown: pd.DataFrame, labels: list[Any], totals: dict[Any, list[Any]], min_cell: int
) -> Any:
    """A hidden row whose count has a single possible whole-number value, or None."""
    from scipy.optimize import linprog

    pos = {lab: i for i, lab in enumerate(labels)}
    values: list[Any] = shown["n"].tolist()
    bounds: list[tuple[float, float | None]] = []
    for v in values:
        if not isinstance(v, str):
            bounds.append((int(v), int(v)))
        elif v.startswith("<"):
            bounds.append((1, min_cell - 1))
        else:
            bounds.append((1, None))
    a_eq = []
    for tot, parts in totals.items():
        row = np.zeros(len(labels))
        row[pos[tot]] = 1.0
        for p in parts:
            row[pos[p]] -= 1.0
        a_eq.append(row)
    if not a_eq:
        return None
    b_eq = np.zeros(len(a_eq))
    for lab, v in zip(labels, values, strict=True):
        if not isinstance(v, str):
            continue
        c = np.zeros(len(labels))
        c[pos[lab]] = 1.0
        lo = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=bounds)
        hi = linprog(-c, A_eq=a_eq, b_eq=b_eq, bounds=bounds)
        if lo.status == 0 and hi.status == 0:
            if np.floor(-hi.fun + 1e-9) <= np.ceil(lo.fun - 1e-9):
                return lab
    return None


def plot_flow(
    result: Any, ax: Axes | None = None, lang: str = "en", shown: pd.DataFrame | None = None
) -> Axes:
    """Horizontal bars of the matching flow.

    ``shown`` is the suppressed display table (``suppress_counts`` applied to
    :func:`flow_display`); its hidden cells ("<5", "..") are drawn as text
    without a bar, so the figure never shows more than the table.
    """
    table = flow_display(result, lang) if shown is None else shown
    n = len(table)
    if ax is None:
        ax = new_axes(FULL_WIDTH, 0.8 + 0.3 * n)
    with style():
        y = np.arange(n)[::-1]
        values = [v if isinstance(v, int | np.integer) else None for v in table["n"]]
        bars = np.array([v if v is not None else 0 for v in values], dtype=float)
        top = bars.max() if bars.size and bars.max() > 0 else 1.0
        ax.barh(y, bars, color=PALETTE["participants"])
        for yi, v, raw in zip(y, bars, table["n"], strict=True):
            ax.text(v + top * 0.01, yi, format_number(raw, 0, lang), va="center", fontsize=8)
        ax.set_yticks(y)
        ax.set_yticklabels(list(table.index))
        ax.set_xlabel(t("ref_flow_xlabel", lang))
        ax.xaxis.set_major_formatter(_tick_formatter(lang))
        ax.set_xlim(0, top * 1.12)
    return ax


def balance_display(balance: Any, lang: str = "en", decimals: int = 3) -> pd.DataFrame:
    """Balance table for the report: one row per term, before/after side by side, as text.

    Numbers are rounded to ``decimals`` in the report language (decimal
    comma in Swedish, never "-0.000"); a statistic that does not apply (the
    variance ratio of a yes/no term) is shown as "–".
    """
    check_lang(lang)
    tab = balance.table
    cols = ["mean_treated", "mean_control", "smd", "var_ratio", "ecdf_max"]
    wide = tab.pivot(index="term", columns="sample", values=cols)
    wide = wide.reindex(list(dict.fromkeys(tab["term"])))

    def shown(values: np.ndarray) -> list[str]:
        return [
            NOT_APPLICABLE if pd.isna(v) else _num(v, decimals, lang) for v in values.astype(float)
        ]

    data = {
        (t(f"ref_{sample}", lang), t(f"ref_col_{c}", lang)): shown(wide[(c, sample)].to_numpy())
        for sample in ("before", "after")
        for c in cols
    }
    out = pd.DataFrame(data, index=[term_label(str(i), lang) for i in wide.index])
    out.index.name = t("ref_col_term", lang)
    return out


def exact_label(name: str, config: Any = None, lang: str = "en") -> str:
    """Display name of an exact-matching variable; ``index_period`` says week, month or day."""
    if name == "index_period" and config is not None:
        return t(f"ref_exact_index_{config.index_period}", lang)
    if name == "age_band" and config is not None:
        return t("ref_exact_age_band", lang, years=config.age_band_years)
    key = f"ref_exact_{name}"
    return t(key, lang) if has(key) else term_label(name, lang)


def _join(items: list[str], lang: str) -> str:
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + t("ref_and", lang) + items[-1]


def intro_text(config: Any, lang: str = "en") -> str:
    """The section's opening paragraph from the study's ``[reference]`` settings.

    ``config`` is :class:`kureval.study.reference_config.ReferenceConfig`
    (``study.config.reference``): the exact-matching variables (with the
    index period and age-band width), and the length of the window before
    the index date from which the propensity score's covariates come.
    """
    check_lang(lang)
    exact = [exact_label(e, config, lang) for e in config.exact]
    same = t("ref_intro_exact", lang, exact=_join(exact, lang)) if exact else ""
    return t("ref_intro", lang, exact=same, days=format_number(config.pre_window_days, 0, lang))


def method_text(result: Any, lang: str = "en", config: Any = None) -> str:
    """One paragraph saying how the reference persons were chosen (from ``result.spec``).

    ``config`` (the study's ``ReferenceConfig``, optional) gives the index
    period and age-band width in the names of the exact-matching variables.
    """
    s = result.spec
    if s.caliper is None:
        cal = t("ref_caliper_none", lang)
    elif s.std_caliper:
        cal = t(
            "ref_caliper_sd",
            lang,
            caliper=format_number(s.caliper, _decimals(s.caliper), lang),
            width=_num(s.caliper_width, 3, lang),
            scale=t(f"ref_scale_{s.link}", lang),
        )
    else:
        cal = t(
            "ref_caliper_raw",
            lang,
            caliper=format_number(s.caliper, _decimals(s.caliper), lang),
            scale=t(f"ref_scale_{s.link}", lang),
        )
    exact = [exact_label(e, config, lang) for e in s.exact]
    return t(
        "ref_method",
        lang,
        ratio=s.ratio,
        replace=t("ref_with_replacement" if s.replace else "ref_without_replacement", lang),
        scale=t(f"ref_scale_{s.link}", lang),
        covariates="; ".join(term_label(c, lang) for c in s.covariates),
        exact=_join(exact, lang) if exact else NOT_APPLICABLE,
        caliper=cal,
        order=t(f"ref_order_{s.order}", lang),
    )


def format_as_given(value: float, lang: str = "en") -> str:
    """A setting (caliper, threshold) with the decimals it was given with: 0.1, 0.05, 0,2 (sv)."""
    return format_number(value, _decimals(value), lang)


def _decimals(value: float) -> int:
    """Decimals needed to show ``value`` as given in study.toml (0.2 → 1, 0.25 → 2)."""
    text = f"{float(value):g}"
    return len(text.split(".")[1]) if "." in text and "e" not in text else 0


def group_label(group: str, lang: str = "en") -> str:
    """Display name of a histogram group of :func:`propensity_bins` (e.g. ``"references_after"``)."""
    who, when = group.rsplit("_", 1)
    return f"{t(f'ref_{who}', lang)}, {t(f'ref_{when}', lang).lower()}"
