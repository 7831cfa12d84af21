"""Figures of the register section: window means, DiD forest plot, return-to-work curves.

Every function takes result objects from :mod:`kureval.register` (duck-typed:
plots import no analysis module), an optional Axes and the report language,
and returns the Axes.  Nothing is computed here: means, CIs and curves come
from the results.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.ticker as mticker
import numpy as np
from matplotlib.axes import Axes

from kureval.plots.style import FULL_WIDTH, HALF_WIDTH, PALETTE, new_axes, style
from kureval.report.labels import check_lang, has, t

__all__ = [
    "did_table",
    "means_table",
    "methods_paragraph",
    "outcome_label",
    "plot_did_forest",
    "plot_km",
    "plot_window_means",
]

_GROUPS = (("participants", "reg_participants"), ("references", "reg_references"))


def outcome_label(outcome: str, lang: str = "en") -> str:
    """Display name of a register outcome (``visits_<care_type>``, ``ddd_<ATC>``, ...)."""
    key = f"reg_outcome_{outcome}"
    if has(key):
        return t(key, lang)
    if outcome.startswith("ddd_"):
        return t("reg_outcome_ddd", lang, atc=outcome[4:])
    if outcome.startswith("any_"):
        return t("reg_outcome_any_atc", lang, atc=outcome[4:])
    if outcome.startswith("visits_"):
        return t("reg_outcome_visits_other", lang, care_type=outcome[7:].replace("_", " "))
    return outcome


def window_label(window: str, lang: str = "en") -> str:
    """Display name of a window (``pre``/``post`` from the catalogue, else its name)."""
    key = f"reg_window_{window}"
    return t(key, lang) if has(key) else window


def plot_window_means(result: Any, ax: Axes | None = None, lang: str = "en") -> Axes:
    """Weighted mean per window and group with 95 % CIs (``DidResult.means``).

    Participants and references are drawn side by side (offset on the x axis)
    with lines joining each group's windows.
    """
    check_lang(lang)
    means = result.means
    windows = list(dict.fromkeys(means["window"]))
    x = np.arange(len(windows))
    with style():
        ax = ax if ax is not None else new_axes(HALF_WIDTH, 0.8 * HALF_WIDTH)
        for offset, (group, key) in zip((-0.06, 0.06), _GROUPS, strict=True):
            sub = means[means["group"] == group].set_index("window").reindex(windows)
            y = sub["mean"].to_numpy(float)
            err = np.vstack([y - sub["ci_low"].to_numpy(float), sub["ci_high"].to_numpy(float) - y])
            ax.errorbar(
                x + offset,
                y,
                yerr=err,
                marker="o",
                capsize=3,
                color=PALETTE[group if group == "participants" else "reference"],
                label=t(key, lang),
            )
        ax.set_xticks(x, [window_label(w, lang) for w in windows])
        ax.set_xlim(-0.5, len(windows) - 0.5)
        ax.set_ylabel(t("reg_mean_ci", lang))
        ax.set_title(outcome_label(result.outcome, lang))
        ax.legend(frameon=False)
    return ax


def plot_did_forest(results: Sequence[Any], ax: Axes | None = None, lang: str = "en") -> Axes:
    """Forest plot of DiD estimates (or ratios of rate ratios) with 95 % CIs, one row per outcome.

    ``results`` are all :class:`~kureval.register.compare.DidResult` (additive
    scale, reference line at 0) or all
    :class:`~kureval.register.counts.RateRatioResult` (log scale, line at 1).
    Outcomes have their own units, given in the row labels.
    """
    check_lang(lang)
    ratio = bool(results) and hasattr(results[0], "family")
    n = len(results)
    with style():
        ax = ax if ax is not None else new_axes(FULL_WIDTH, 0.9 + 0.32 * max(n, 1))
        for i, res in enumerate(results):
            lo, hi = res.conf_int()
            y = n - 1 - i
            ax.plot([lo, hi], [y, y], color=PALETTE["participants"], linewidth=1.5)
            ax.plot([res.estimate], [y], "o", color=PALETTE["participants"])
        ax.axvline(1.0 if ratio else 0.0, color=PALETTE["neutral"], linewidth=1, linestyle="--")
        if ratio:
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _pos: f"{v:g}"))
        labels = [
            outcome_label(r.outcome, lang)
            + (f" ({t('reg_family_' + r.family, lang)})" if ratio else "")
            for r in results
        ]
        ax.set_yticks(np.arange(n)[::-1], labels)
        ax.set_ylim(-0.7, n - 0.3)
        ax.set_xlabel(t("reg_rrr_axis" if ratio else "reg_did_axis", lang))
        ax.grid(axis="y", visible=False)
    return ax


def plot_km(result: Any, ax: Axes | None = None, lang: str = "en") -> Axes:
    """Kaplan–Meier curves of remaining on sick leave per group, with 95 % log-log bands.

    ``result`` is a :class:`~kureval.register.survival.ReturnToWork`; the
    curve falls when persons return to work.
    """
    check_lang(lang)
    km = result.km
    with style():
        ax = ax if ax is not None else new_axes(FULL_WIDTH, 0.55 * FULL_WIDTH)
        for group, key in _GROUPS:
            sub = km[km["group"] == group] if len(km) else km
            if len(sub) == 0:
                continue
            colour = PALETTE["participants" if group == "participants" else "reference"]
            times = np.concatenate([[0.0], sub["time"].to_numpy(float)])
            surv = np.concatenate([[1.0], sub["surv"].to_numpy(float)])
            ax.step(times, surv, where="post", color=colour, label=t(key, lang))
            lo = np.concatenate([[1.0], sub["ci_low"].to_numpy(float)])
            hi = np.concatenate([[1.0], sub["ci_high"].to_numpy(float)])
            ax.fill_between(times, lo, hi, step="post", color=colour, alpha=0.15, linewidth=0)
        ax.set_ylim(0, 1.02)
        ax.set_xlim(0, result.horizon)
        ax.set_xlabel(t("reg_km_axis_time", lang))
        ax.set_ylabel(t("reg_km_axis_surv", lang))
        ax.legend(frameon=False)
    return ax


def _fmt(value: Any, decimals: int, lang: str) -> str:
    from kureval.report.tables import format_number

    return "" if value == "" or value is None else format_number(float(value), decimals, lang)


def _fmt_p(p: float, lang: str) -> str:
    """p with three decimals; below 0.001 as "<0.001" (decimal comma in Swedish)."""
    return "<" + _fmt(0.001, 3, lang) if p < 0.001 else _fmt(p, 3, lang)


def _p_phrase(p: float, lang: str) -> str:
    text = _fmt_p(p, lang)
    return f"p {text[0]} {text[1:]}" if text.startswith("<") else f"p = {text}"


def means_table(
    results: Sequence[Any], lang: str = "en", min_cell: int = 5, decimals: int = 2
) -> Any:
    """Display table: weighted mean (95 % CI) per outcome, group and window; small groups suppressed.

    A mean whose group has fewer than ``min_cell`` persons is blanked with its
    count (:func:`kureval.report.privacy.suppress_counts`).
    """
    import pandas as pd

    from kureval.report.privacy import suppress_counts

    check_lang(lang)
    rows = []
    for res in results:
        for group, key in _GROUPS:
            row: dict[str, Any] = {
                t("reg_outcome", lang): outcome_label(res.outcome, lang),
                t("reg_group", lang): t(key, lang),
            }
            for w in dict.fromkeys(res.means["window"]):
                m = res.means[(res.means["group"] == group) & (res.means["window"] == w)].iloc[0]
                row[f"n {window_label(w, lang)}"] = int(m["n"])
                row[window_label(w, lang)] = m["mean"]
                row[f"ci {window_label(w, lang)}"] = (m["ci_low"], m["ci_high"])
            rows.append(row)
    table = pd.DataFrame(rows)
    counts = [c for c in table.columns if c.startswith("n ")]
    derived: dict[str, str] = {}
    for c in counts:
        derived[c[2:]] = c
        derived[f"ci {c[2:]}"] = c
    shown = suppress_counts(table, counts, min_cell=min_cell, pct_cols=derived)
    for c in counts:
        w = c[2:]
        shown[w] = [
            ""
            if m == ""
            else f"{_fmt(m, decimals, lang)} ({_fmt(ci[0], decimals, lang)}; {_fmt(ci[1], decimals, lang)})"
            for m, ci in zip(shown[w], shown[f"ci {w}"], strict=True)
        ]
        shown = shown.drop(columns=f"ci {w}").rename(columns={c: f"{t('reg_n', lang)} {w}"})
    return shown


def did_table(results: Sequence[Any], lang: str = "en", decimals: int = 2) -> Any:
    """Display table of DiD estimates or ratios of rate ratios with 95 % CI and p (no counts)."""
    import pandas as pd

    check_lang(lang)
    rows = []
    for res in results:
        lo, hi = res.conf_int()
        label = outcome_label(res.outcome, lang) + (
            f" ({t('reg_family_' + res.family, lang)})" if hasattr(res, "family") else ""
        )
        rows.append(
            {
                t("reg_outcome", lang): label,
                t("reg_estimate", lang): _fmt(res.estimate, decimals, lang),
                t("reg_ci_low", lang): _fmt(lo, decimals, lang),
                t("reg_ci_high", lang): _fmt(hi, decimals, lang),
                t("reg_pvalue", lang): _fmt_p(res.pvalue, lang),
            }
        )
    return pd.DataFrame(rows)


def methods_paragraph(
    matched: Any,
    windows: Sequence[Any],
    results: Sequence[Any],
    data_end: Any,
    free_days: int,
    lang: str = "en",
) -> str:
    """The methods paragraph, filled in from the matched sets, the windows and the DiD results."""
    check_lang(lang)
    reused = any("id" in r.effect.cluster for r in results)
    wins = ", ".join(f"{w.name} {w.start}…{w.end}" for w in windows)
    text = t(
        "reg_methods",
        lang,
        n_sets=int(matched["set_id"].nunique()),
        n_ref=int((matched["treat"] == 0).sum()),
        weights=t("reg_weights_equal", lang),
        windows=wins,
        data_end=str(data_end),
        reuse=t("reg_methods_reuse", lang) if reused else "",
        free_days=free_days,
    )
    lines = [text]
    for r in results:
        lo, hi = r.conf_int()
        lines.append(
            t(
                "reg_result_sentence",
                lang,
                outcome=outcome_label(r.outcome, lang),
                est=_fmt(r.estimate, 2, lang),
                lo=_fmt(lo, 2, lang),
                hi=_fmt(hi, 2, lang),
                p=_p_phrase(r.pvalue, lang),
            )
        )
    return " ".join(lines)
