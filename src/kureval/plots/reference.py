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

from kureval.plots.style import FULL_WIDTH, PALETTE, new_axes, style
from kureval.report.labels import check_lang, has, t

__all__ = [
    "balance_display",
    "flow_display",
    "method_text",
    "plot_flow",
    "plot_love",
    "plot_propensity",
    "term_label",
]


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
        ax.legend(loc="lower right", frameon=False)
    return ax


def plot_propensity(result: Any, ax: Axes | None = None, lang: str = "en", bins: int = 30) -> Axes:
    """Mirrored histograms of the propensity score: participants up, references down.

    Outlines: all persons before matching; filled bars: the matched sample,
    references weighted by their matching weights.  Densities, so the groups'
    shapes compare although the pools differ in size.
    """
    check_lang(lang)
    u = result.units
    if ax is None:
        ax = new_axes()
    d = u["distance"].to_numpy()
    edges = np.linspace(d.min(), d.max(), bins + 1)
    t1, used = (u["treat"] == 1).to_numpy(), (u["weight"] > 0).to_numpy()
    w = u["weight"].to_numpy()
    with style():
        for sign, mask, colour, name in (
            (1, t1, PALETTE["participants"], "ref_participants"),
            (-1, ~t1, PALETTE["reference"], "ref_references"),
        ):
            before, _ = np.histogram(d[mask], edges, density=True)
            after, _ = (
                np.histogram(d[mask & used], edges, weights=w[mask & used], density=True)
                if (mask & used).any()
                else (np.zeros(bins), None)
            )
            ax.bar(
                edges[:-1],
                sign * after,
                width=np.diff(edges),
                align="edge",
                color=colour,
                alpha=0.75,
                label=f"{t(name, lang)}, {t('ref_after', lang).lower()}",
            )
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
        ticks = ax.get_yticks()
        ax.set_yticks(ticks)
        ax.set_yticklabels([f"{abs(v):g}" for v in ticks])
        ax.legend(loc="upper left", frameon=False, fontsize=7)
    return ax


def flow_display(result: Any, lang: str = "en") -> pd.DataFrame:
    """The matching flow (``result.flow()``) with translated step names as index; column ``n``.

    ``.attrs["total_rows"]`` maps each total row to the rows that add up to it
    (for :func:`kureval.report.privacy.suppress_counts`' secondary suppression).
    """
    check_lang(lang)
    k = result.spec.ratio
    flow = result.flow()
    labels = []
    for stage, reason in zip(flow["stage"], flow["reason"], strict=True):
        why = t(f"ref_reason_{reason}", lang) if reason else ""
        labels.append(t(f"ref_stage_{stage}", lang, k=k, reason=why))
    out = pd.DataFrame(
        {"n": flow["n"].astype(int).to_numpy()},
        index=pd.Index(labels, name=t("ref_col_stage", lang)),
    )
    stage = flow["stage"].to_numpy()
    lab = np.array(labels, dtype=object)
    totals = {lab[stage == "to_match"][0]: list(lab[np.isin(stage, ["all_k", "fewer", "none"])])}
    if (stage == "programme").any():
        totals[lab[stage == "programme"][0]] = list(lab[np.isin(stage, ["to_match", "excluded"])])
    out.attrs["total_rows"] = totals
    return out


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
            ax.text(v + top * 0.01, yi, str(raw), va="center", fontsize=8)
        ax.set_yticks(y)
        ax.set_yticklabels(list(table.index))
        ax.set_xlabel(t("ref_flow_xlabel", lang))
        ax.set_xlim(0, top * 1.12)
    return ax


def balance_display(balance: Any, lang: str = "en") -> pd.DataFrame:
    """Balance table for the report: one row per term, before/after side by side, translated."""
    check_lang(lang)
    tab = balance.table
    cols = ["mean_treated", "mean_control", "smd", "var_ratio", "ecdf_max"]
    wide = tab.pivot(index="term", columns="sample", values=cols)
    wide = wide.reindex(list(dict.fromkeys(tab["term"])))
    data = {
        (t(f"ref_{sample}", lang), t(f"ref_col_{c}", lang)): wide[(c, sample)].to_numpy()
        for sample in ("before", "after")
        for c in cols
    }
    out = pd.DataFrame(data, index=[term_label(str(i), lang) for i in wide.index])
    out.index.name = t("ref_col_term", lang)
    return out


def method_text(result: Any, lang: str = "en") -> str:
    """One paragraph saying how the reference persons were chosen (from ``result.spec``)."""
    s = result.spec
    if s.caliper is None:
        cal = t("ref_caliper_none", lang)
    elif s.std_caliper:
        cal = t("ref_caliper_sd", lang, caliper=s.caliper, width=s.caliper_width)
    else:
        cal = t("ref_caliper_raw", lang, caliper=s.caliper)
    return t(
        "ref_method",
        lang,
        ratio=s.ratio,
        replace=t("ref_with_replacement" if s.replace else "ref_without_replacement", lang),
        scale=t(f"ref_scale_{s.link}", lang),
        covariates="; ".join(term_label(c, lang) for c in s.covariates),
        exact=", ".join(s.exact) if s.exact else "—",
        caliper=cal,
        order=t(f"ref_order_{s.order}", lang),
    )
