"""Figures of the self-rating section.

Every function takes a result object from :mod:`kureval.selfrating`, an
optional Axes and the report language, draws, and returns the Axes. Nothing
is computed here beyond placing the result's numbers (the forest plot and the
bars only re-orient lower-is-better scales so that "better" is always to the
right, and say so on the axis).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes

from kureval.plots.style import FULL_WIDTH, PALETTE, new_axes, style
from kureval.report.labels import check_lang, has, t

__all__ = [
    "plot_caseness",
    "plot_forest",
    "plot_paired_change",
    "plot_shares",
    "plot_trajectories",
    "scale_label",
]


def scale_label(name: str, lang: str = "en") -> str:
    """Display name of a scale or time point from the catalogues, else the name itself."""
    for key in (name, f"sr_scale_{name}", f"sr_tp_{name}"):
        if has(key):
            return t(key, lang)
    return name


def _axes(ax: Axes | None, height: float | None = None) -> Axes:
    return ax if ax is not None else new_axes(FULL_WIDTH, height)


def plot_paired_change(result: Any, scale: str, ax: Axes | None = None, lang: str = "en") -> Axes:
    """Each person's start and end score as a line over box plots of the two distributions.

    ``result`` is a :class:`~kureval.selfrating.prepost.PrePostResult`; only
    persons with both scores (``result.pairs``) are drawn.
    """
    check_lang(lang)
    pairs = result.pairs[result.pairs["scale"] == scale]
    with style():
        ax = _axes(ax)
        offsets = np.linspace(-0.06, 0.06, max(len(pairs), 1))  # fixed spread, no randomness
        direction = 1 if _hib(result, scale) else -1
        for (a, b), off in zip(pairs[["pre", "post"]].to_numpy(), offsets, strict=False):
            better = (b - a) * direction
            colour = (
                PALETTE["improved"]
                if better > 0
                else PALETTE["worse"]
                if better < 0
                else PALETTE["neutral"]
            )
            ax.plot([0 + off, 1 + off], [a, b], color=colour, alpha=0.25, linewidth=0.6)
        if len(pairs):
            ax.boxplot(
                [pairs["pre"], pairs["post"]],
                positions=[0, 1],
                widths=0.25,
                showfliers=False,
                medianprops={"color": "black"},
                boxprops={"facecolor": "none"},
                patch_artist=True,
            )
        ax.set_xticks([0, 1], [scale_label(result.pre, lang), scale_label(result.post, lang)])
        ax.set_xlim(-0.5, 1.5)
        ax.set_ylabel(t("sr_fig_score", lang))
        ax.set_title(scale_label(scale, lang))
    return ax


def _hib(result: Any, scale: str) -> bool:
    hib = result.table.loc[result.table["scale"] == scale, "higher_is_better"]
    return not (len(hib) and hib.iloc[0] is not None and not bool(hib.iloc[0]))


def plot_trajectories(
    result: Any, scale: str, ax: Axes | None = None, lang: str = "en", min_cell: int | None = None
) -> Axes:
    """Mixed-model means with CIs and completers' observed means with CIs over the time points.

    ``result`` is a :class:`~kureval.selfrating.longitudinal.LongitudinalResult`.
    With ``min_cell``, means of fewer than ``min_cell`` persons are not drawn.
    """
    check_lang(lang)
    m = result.means[result.means["scale"] == scale].copy()
    if min_cell is not None:
        m.loc[m["n_obs"] < min_cell, ["estimate", "ci_low", "ci_high"]] = np.nan
        m.loc[
            m["n_completers"] < min_cell,
            ["mean_completers", "ci_low_completers", "ci_high_completers"],
        ] = np.nan
    x = np.arange(len(m))
    with style():
        ax = _axes(ax)
        ax.errorbar(
            x - 0.05,
            m["estimate"],
            yerr=[m["estimate"] - m["ci_low"], m["ci_high"] - m["estimate"]],
            marker="o",
            capsize=3,
            color=PALETTE["participants"],
            label=t("sr_fig_model", lang),
        )
        ax.errorbar(
            x + 0.05,
            m["mean_completers"],
            yerr=[
                m["mean_completers"] - m["ci_low_completers"],
                m["ci_high_completers"] - m["mean_completers"],
            ],
            marker="s",
            capsize=3,
            linestyle="--",
            color=PALETTE["reference"],
            label=t("sr_fig_completers", lang),
        )
        ax.set_xticks(x, [scale_label(tp, lang) for tp in m["timepoint"]])
        ax.set_xlabel(t("sr_fig_timepoint", lang))
        ax.set_ylabel(t("sr_fig_score", lang))
        ax.set_title(scale_label(scale, lang))
        ax.legend(frameon=False)
    return ax


def plot_forest(result: Any, ax: Axes | None = None, lang: str = "en") -> Axes:
    """Forest plot of d_z with its CI per scale (× subgroup), oriented so that better is to the right.

    For scales where lower is better the sign of d_z and its CI is reversed;
    the axis label says so.
    """
    check_lang(lang)
    tab = result.table.iloc[::-1]
    sign = np.array(
        [-1.0 if h is False or h is np.False_ else 1.0 for h in tab["higher_is_better"]]
    )
    est = sign * tab["d_z"].to_numpy(float)
    lo = np.where(sign > 0, tab["d_z_ci_low"], -tab["d_z_ci_high"])
    hi = np.where(sign > 0, tab["d_z_ci_high"], -tab["d_z_ci_low"])
    names = [
        " · ".join([scale_label(str(r["scale"]), lang), *[str(r[b]) for b in result.by]])
        for _, r in tab.iterrows()
    ]
    y = np.arange(len(tab))
    with style():
        ax = _axes(ax, 0.25 + 0.28 * len(tab) + 0.8)
        ax.errorbar(
            est, y, xerr=[est - lo, hi - est], fmt="o", capsize=3, color=PALETTE["participants"]
        )
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(y, names)
        ax.set_xlabel(t("sr_fig_effect", lang) + "\n" + t("sr_fig_effect_better", lang))
        ax.grid(axis="y", visible=False)
    return ax


def _small(share: Any, n: Any, min_cell: int | None) -> np.ndarray:
    """Whether share × n is a count of 1 … min_cell − 1 (to be hidden like in the tables)."""
    k = np.rint(np.asarray(share, dtype=float) * np.asarray(n, dtype=float))
    if min_cell is None:
        return np.zeros(k.shape, dtype=bool)
    return (k > 0) & (k < min_cell)


def plot_shares(
    result: Any, ax: Axes | None = None, lang: str = "en", min_cell: int | None = None
) -> Axes:
    """Stacked horizontal bars of the shares improved / unchanged / worse by the MCID per scale.

    With ``min_cell``, a scale where any of the three groups has 1 … min_cell − 1
    persons is drawn without bars and marked ``<min_cell``, so the figure
    reveals no count the tables suppress.
    """
    check_lang(lang)
    tab = result.table[result.table["share_improved"].notna()].iloc[::-1]
    hide = np.zeros(len(tab), dtype=bool)
    for col in ("share_improved", "share_unchanged", "share_worse"):
        hide |= _small(tab[col], tab["n_pairs"], min_cell)
    names = [
        " · ".join([scale_label(str(r["scale"]), lang), *[str(r[b]) for b in result.by]])
        for _, r in tab.iterrows()
    ]
    y = np.arange(len(tab))
    with style():
        ax = _axes(ax, 0.25 + 0.28 * len(tab) + 0.8)
        left = np.zeros(len(tab))
        for col, key, colour in (
            ("share_improved", "sr_fig_improved", PALETTE["improved"]),
            ("share_unchanged", "sr_fig_unchanged", PALETTE["unchanged"]),
            ("share_worse", "sr_fig_worse", PALETTE["worse"]),
        ):
            width = np.where(hide, 0.0, 100 * tab[col].to_numpy(float))
            ax.barh(y, width, left=left, color=colour, label=t(key, lang))
            left += width
        for yi in y[hide]:
            ax.text(1, yi, f"<{min_cell}", va="center", fontsize=8)
        ax.set_yticks(y, names)
        ax.set_xlim(0, 100)
        ax.set_xlabel(t("sr_fig_share", lang))
        ax.legend(frameon=False, ncols=3, loc="upper center", bbox_to_anchor=(0.5, -0.25))
        ax.grid(axis="y", visible=False)
    return ax


def plot_caseness(
    result: Any, ax: Axes | None = None, lang: str = "en", min_cell: int | None = None
) -> Axes:
    """Share of cases at start and at end per scale (persons with both time points), side by side.

    With ``min_cell``, a bar standing for 1 … min_cell − 1 cases or non-cases is not drawn.
    """
    check_lang(lang)
    tab = result.table.iloc[::-1]
    hide_pre = _small(tab["share_case_pre"], tab["n_pairs"], min_cell) | _small(
        1 - tab["share_case_pre"], tab["n_pairs"], min_cell
    )
    hide_post = _small(tab["share_case_post"], tab["n_pairs"], min_cell) | _small(
        1 - tab["share_case_post"], tab["n_pairs"], min_cell
    )
    names = [
        " · ".join([scale_label(str(r["scale"]), lang), *[str(r[b]) for b in result.by]])
        for _, r in tab.iterrows()
    ]
    y = np.arange(len(tab))
    with style():
        ax = _axes(ax, 0.25 + 0.35 * len(tab) + 0.8)
        ax.barh(
            y + 0.18,
            np.where(hide_pre, 0.0, 100 * tab["share_case_pre"]),
            height=0.35,
            color=PALETTE["neutral"],
            label=t("sr_fig_case_pre", lang),
        )
        ax.barh(
            y - 0.18,
            np.where(hide_post, 0.0, 100 * tab["share_case_post"]),
            height=0.35,
            color=PALETTE["participants"],
            label=t("sr_fig_case_post", lang),
        )
        ax.set_yticks(y, names)
        ax.set_xlim(0, 100)
        ax.set_xlabel(t("sr_fig_share", lang))
        ax.legend(frameon=False)
        ax.grid(axis="y", visible=False)
    return ax
