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
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

from kureval.plots.style import FULL_WIDTH, PALETTE, new_axes, style
from kureval.report.labels import check_lang, has, t
from kureval.report.privacy import suppress_counts
from kureval.report.tables import format_number

__all__ = [
    "caseness_hidden",
    "plot_caseness",
    "plot_forest",
    "plot_paired_change",
    "plot_shares",
    "plot_trajectories",
    "scale_label",
    "share_counts",
]


def scale_label(name: str, lang: str = "en") -> str:
    """Display name of a scale or time point from the catalogues, else the name itself."""
    for key in (name, f"sr_scale_{name}", f"sr_tp_{name}"):
        if has(key):
            return t(key, lang)
    return name


def _axes(ax: Axes | None, height: float | None = None) -> Axes:
    return ax if ax is not None else new_axes(FULL_WIDTH, height)


def _sv_ticks(ax: Axes, lang: str, axes: str = "xy") -> None:
    """Tick labels with a decimal comma in Swedish (matplotlib's default is a point)."""
    if lang != "sv":
        return
    fmt = FuncFormatter(lambda v, _pos: f"{v:g}".replace(".", ",").replace("-", "\u2212"))
    if "x" in axes:
        ax.xaxis.set_major_formatter(fmt)
    if "y" in axes:
        ax.yaxis.set_major_formatter(fmt)


def plot_paired_change(
    result: Any,
    scale: str,
    ax: Axes | None = None,
    lang: str = "en",
    min_cell: int | None = None,
) -> Axes:
    """Box plots of the start and end scores and the mean change with its CI, per scale.

    ``result`` is a :class:`~kureval.selfrating.prepost.PrePostResult`; only
    persons with both scores (``result.pairs``) are summarised. Nothing that
    stands for one person is drawn: boxes span the quartiles with the median,
    whiskers reach the 10th and 90th percentiles, no outlying points are
    shown, and the mean at each time point is a diamond. The mean change
    (end − start) with its confidence interval is written under the title.
    With ``min_cell``, a scale with fewer than ``min_cell`` complete pairs is
    not drawn.
    """
    check_lang(lang)
    pairs = result.pairs[result.pairs["scale"] == scale]
    row = result.table[result.table["scale"] == scale]
    with style():
        ax = _axes(ax)
        small = min_cell is not None and len(pairs) < min_cell
        if len(pairs) and not small:
            ax.boxplot(
                [pairs["pre"].to_numpy(float), pairs["post"].to_numpy(float)],
                positions=[0, 1],
                widths=0.35,
                whis=(10, 90),
                showfliers=False,
                showmeans=True,
                meanprops={"marker": "D", "markerfacecolor": "black", "markeredgecolor": "black"},
                medianprops={"color": "black"},
                boxprops={"facecolor": PALETTE["participants"], "alpha": 0.35},
                patch_artist=True,
            )
        elif small:
            ax.text(0.5, 0.5, f"n < {min_cell}", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([0, 1], [scale_label(result.pre, lang), scale_label(result.post, lang)])
        ax.set_xlim(-0.5, 1.5)
        ax.set_ylabel(t("sr_fig_score", lang))
        title = scale_label(scale, lang)
        if len(row) == 1 and len(pairs) and not small:
            title += "\n" + _change_text(row.iloc[0], lang)
        ax.set_title(title)
        _sv_ticks(ax, lang, "y")
    return ax


def _change_text(r: Any, lang: str) -> str:
    """``Mean change 2.70 (1.83 to 3.57)`` in the report language."""
    sd = abs(float(r["sd_pre"])) if np.isfinite(r["sd_pre"]) else 1.0
    dec = 3 if sd < 1 else 2
    est, lo, hi = (
        format_number(float(r[c]), dec, lang) for c in ("mean_diff", "diff_ci_low", "diff_ci_high")
    )
    return t("sr_fig_mean_change", lang, est=est, lo=lo, hi=hi)


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
        _sv_ticks(ax, lang, "y")
    return ax


def plot_forest(result: Any, ax: Axes | None = None, lang: str = "en") -> Axes:
    """Forest plot of d_z with its CI per scale (× subgroup), oriented so that better is to the right.

    For scales where lower is better the sign of d_z and its CI is reversed,
    so positive always means improvement; the axis label says so (the tables
    keep the sign of end − start).
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
        ax.set_xlabel(
            t("sr_fig_effect", lang)
            + "\n"
            + t("sr_fig_effect_better", lang)
            + "\n"
            + t("sr_fig_effect_flipped", lang)
        )
        ax.grid(axis="y", visible=False)
        _sv_ticks(ax, lang, "x")
    return ax


_PARTS = ("improved", "unchanged", "worse")
_TRANSITIONS = ("case_case", "recovered", "new_case", "noncase_noncase")


def _hidden_cells(
    counts: pd.DataFrame, parts: list[str], min_cell: int | None, total: str = "n_pairs"
) -> np.ndarray:
    """Boolean (rows × parts + total) of the cells the tables suppress, with secondary suppression.

    Uses :func:`kureval.report.privacy.suppress_counts` with the same structure
    as the report's tables (``total`` = sum of ``parts`` in every row), so a
    figure hides exactly the cells its table hides.
    """
    if min_cell is None:
        return np.zeros((len(counts), len(parts) + 1), dtype=bool)
    shown = suppress_counts(
        counts[[*parts, total]].reset_index(drop=True),
        parts,
        min_cell=min_cell,
        total_cols={total: parts},
    )
    return shown[[*parts, total]].map(lambda v: isinstance(v, str) and v != "").to_numpy()


def share_counts(result: Any) -> pd.DataFrame:
    """Counts improved / unchanged / worse (share × n, rounded) of the classified rows of a
    :class:`~kureval.selfrating.prepost.PrePostResult`, one row per scale (× subgroup)."""
    tab = result.table[result.table["share_improved"].notna()].reset_index(drop=True)
    out = tab[["scale", *result.by, "n_pairs"]].copy()
    for part in _PARTS:
        out[part] = (tab[f"share_{part}"] * tab["n_pairs"]).round().astype(int)
    return out


def caseness_hidden(result: Any, min_cell: int | None) -> np.ndarray:
    """Rows of a :class:`~kureval.selfrating.caseness.CasenessResult` with any suppressed cell.

    In such a row the McNemar p-value and the shares of cases at start and end
    would let a reader work the hidden transition counts out (p depends only on
    the two discordant cells; the shares give case→case + case→non-case and
    case→case + non-case→case), so the report blanks them all.
    """
    hidden = _hidden_cells(result.table.reset_index(drop=True), list(_TRANSITIONS), min_cell)
    return np.asarray(hidden.any(axis=1), dtype=bool)


def plot_shares(
    result: Any, ax: Axes | None = None, lang: str = "en", min_cell: int | None = None
) -> Axes:
    """Stacked horizontal bars of the shares improved / unchanged / worse by the MCID per scale.

    With ``min_cell``, the groups the shares table suppresses (counts of
    1 … min_cell − 1 and the cells hidden with them) are not drawn on their
    own: the visible groups are drawn first and the hidden ones together as
    one hatched grey segment at the end of the bar, whose width is known from
    the visible cells anyway.
    """
    check_lang(lang)
    counts = share_counts(result)
    hidden = _hidden_cells(counts, list(_PARTS), min_cell)
    counts, hidden = counts.iloc[::-1], hidden[::-1]
    names = [
        " · ".join([scale_label(str(r["scale"]), lang), *[str(r[b]) for b in result.by]])
        for _, r in counts.iterrows()
    ]
    y = np.arange(len(counts))
    n = counts["n_pairs"].to_numpy(float)
    with style():
        ax = _axes(ax, 0.25 + 0.28 * len(counts) + 0.8)
        left = np.zeros(len(counts))
        for k, (part, colour) in enumerate(
            zip(_PARTS, (PALETTE["improved"], PALETTE["unchanged"], PALETTE["worse"]), strict=True)
        ):
            vis = ~hidden[:, k] & ~hidden[:, -1]
            width = np.where(vis, 100 * counts[part].to_numpy(float) / np.where(n > 0, n, 1), 0.0)
            ax.barh(y, width, left=left, color=colour, label=t(f"sr_fig_{part}", lang))
            left += width
        rest = np.where(hidden.any(axis=1), 100 - left, 0.0)
        if rest.any():
            ax.barh(
                y,
                rest,
                left=left,
                color="white",
                edgecolor=PALETTE["neutral"],
                hatch="///",
                label=t("sr_fig_suppressed", lang, min_cell=min_cell),
            )
        ax.set_yticks(y, names)
        ax.set_xlim(0, 100)
        ax.set_xlabel(t("sr_fig_share", lang))
        ax.legend(frameon=False, ncols=2, loc="upper center", bbox_to_anchor=(0.5, -0.22))
        ax.grid(axis="y", visible=False)
        _sv_ticks(ax, lang, "x")
    return ax


def plot_caseness(
    result: Any, ax: Axes | None = None, lang: str = "en", min_cell: int | None = None
) -> Axes:
    """Share of cases at start and at end per scale (persons with both time points), side by side.

    With ``min_cell``, a scale whose transition table has any suppressed cell
    (see :func:`caseness_hidden`) is drawn without bars and marked as
    suppressed, since either share would reveal a hidden count.
    """
    check_lang(lang)
    hide = caseness_hidden(result, min_cell)[::-1]
    tab = result.table.iloc[::-1]
    names = [
        " · ".join([scale_label(str(r["scale"]), lang), *[str(r[b]) for b in result.by]])
        for _, r in tab.iterrows()
    ]
    y = np.arange(len(tab))
    with style():
        ax = _axes(ax, 0.25 + 0.35 * len(tab) + 0.8)
        ax.barh(
            y + 0.18,
            np.where(hide, 0.0, 100 * tab["share_case_pre"].to_numpy(float)),
            height=0.35,
            color=PALETTE["neutral"],
            label=t("sr_fig_case_pre", lang),
        )
        ax.barh(
            y - 0.18,
            np.where(hide, 0.0, 100 * tab["share_case_post"].to_numpy(float)),
            height=0.35,
            color=PALETTE["participants"],
            label=t("sr_fig_case_post", lang),
        )
        for yi in y[hide]:
            ax.text(1, yi, t("sr_fig_not_shown", lang, min_cell=min_cell), va="center", fontsize=8)
        ax.set_yticks(y, names)
        ax.set_xlim(0, 100)
        ax.set_xlabel(t("sr_fig_share", lang))
        ax.legend(frameon=False, loc="upper center", ncols=2, bbox_to_anchor=(0.5, -0.3))
        ax.grid(axis="y", visible=False)
        _sv_ticks(ax, lang, "x")
    return ax
