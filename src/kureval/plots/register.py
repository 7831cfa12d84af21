"""Figures of the register section: window means, DiD forest plot, return-to-work curves.

Every function takes result objects from :mod:`kureval.register` (duck-typed:
plots import no analysis module), an optional Axes and the report language,
and returns the Axes.  Nothing is computed here: means, CIs and curves come
from the results.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

import matplotlib.ticker as mticker
import numpy as np
from matplotlib.axes import Axes

from kureval.plots.style import FULL_WIDTH, HALF_WIDTH, PALETTE, new_axes, style
from kureval.report.labels import check_lang, has, t

__all__ = [
    "did_forest_panels",
    "did_table",
    "exclusions_table",
    "decimal_comma",
    "means_table",
    "methods_paragraph",
    "outcome_kind",
    "outcome_label",
    "persons_at_risk",
    "plot_did_forest",
    "plot_km",
    "plot_window_means",
    "window_means_panels",
    "window_span",
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


_KINDS = ("visits", "days", "ddd", "share")


def outcome_kind(outcome: str) -> str:
    """Unit family of an outcome: ``"visits"``, ``"days"``, ``"ddd"`` or ``"share"``.

    Shares (``any_*``: 0/1 per person) are shown in per cent and their
    differences in percentage points; the others as counts per person and window.
    """
    if outcome.startswith("any_"):
        return "share"
    if outcome.startswith("ddd_"):
        return "ddd"
    if outcome.endswith("_days"):
        return "days"
    return "visits"


def _scale(outcome: str) -> float:
    """Display factor: 100 for shares (per cent, percentage points), else 1."""
    return 100.0 if outcome_kind(outcome) == "share" else 1.0


class _CommaFormatter(mticker.ScalarFormatter):
    """Matplotlib's default tick labels with a decimal comma (Swedish)."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return str(super().__call__(x, pos)).replace(".", ",")


def decimal_comma(ax: Axes, lang: str, axis: str = "both") -> Axes:
    """Give ``ax`` decimal commas in its linear tick labels when ``lang == "sv"``."""
    if lang != "sv":
        return ax
    for name in ("x", "y") if axis == "both" else (axis,):
        a = ax.xaxis if name == "x" else ax.yaxis
        if (ax.get_xscale() if name == "x" else ax.get_yscale()) == "linear":
            a.set_major_formatter(_CommaFormatter())
    return ax


def plot_window_means(
    result: Any, ax: Axes | None = None, lang: str = "en", legend: bool = True
) -> Axes:
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
                y * _scale(result.outcome),
                yerr=err * _scale(result.outcome),
                marker="o",
                capsize=3,
                color=PALETTE[group if group == "participants" else "reference"],
                label=t(key, lang),
            )
        ax.set_xticks(x, [window_label(w, lang) for w in windows])
        ax.set_xlim(-0.5, len(windows) - 0.5)
        ax.set_ylabel(t(f"reg_unit_mean_{outcome_kind(result.outcome)}", lang))
        ax.set_title(textwrap.fill(outcome_label(result.outcome, lang), 24))
        if legend:
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, frameon=False)
        decimal_comma(ax, lang, "y")
    return ax


def window_means_panels(results: Sequence[Any], lang: str = "en") -> list[Axes]:
    """One :func:`plot_window_means` panel per result side by side, one legend below them all."""
    import matplotlib.pyplot as plt

    with style():
        fig, axes = plt.subplots(
            1, len(results), figsize=(FULL_WIDTH, 0.46 * FULL_WIDTH), squeeze=False
        )
        for ax, res in zip(axes[0], results, strict=True):
            plot_window_means(res, ax=ax, lang=lang, legend=False)
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False)
        fig.tight_layout(rect=(0, 0.08, 1, 1))
    return list(axes[0])


def plot_did_forest(
    results: Sequence[Any], ax: Axes | None = None, lang: str = "en", xlabel: str | None = None
) -> Axes:
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
            k = 1.0 if ratio else _scale(res.outcome)
            lo, hi = res.conf_int()
            y = n - 1 - i
            ax.plot([k * lo, k * hi], [y, y], color=PALETTE["participants"], linewidth=1.5)
            ax.plot([k * res.estimate], [y], "o", color=PALETTE["participants"])
        ax.axvline(1.0 if ratio else 0.0, color=PALETTE["neutral"], linewidth=1, linestyle="--")
        if ratio:
            ax.set_xscale("log")
            sep = "," if lang == "sv" else "."
            ax.xaxis.set_major_formatter(
                mticker.FuncFormatter(lambda v, _pos: f"{v:g}".replace(".", sep))
            )
        labels = [
            outcome_label(r.outcome, lang)
            + (f" ({t('reg_family_' + r.family, lang)})" if ratio else "")
            for r in results
        ]
        ax.set_yticks(np.arange(n)[::-1], labels)
        ax.set_ylim(-0.7, n - 0.3)
        ax.set_xlabel(xlabel or t("reg_rrr_axis" if ratio else "reg_did_axis", lang))
        ax.grid(axis="y", visible=False)
        decimal_comma(ax, lang, "x")
    return ax


def did_forest_panels(results: Sequence[Any], lang: str = "en") -> list[Axes]:
    """DiD forest plots, one panel per unit (visits, days, DDD, percentage points).

    Outcomes measured in the same unit share an axis; each panel's x label
    names the unit (per person and window).
    """
    import matplotlib.pyplot as plt

    groups = [
        (k, [r for r in results if outcome_kind(r.outcome) == k])
        for k in _KINDS
        if any(outcome_kind(r.outcome) == k for r in results)
    ]
    sizes = [len(g) + 1.6 for _, g in groups]
    with style():
        fig, axes = plt.subplots(
            len(groups),
            1,
            figsize=(FULL_WIDTH, 0.3 * sum(sizes)),
            gridspec_kw={"height_ratios": sizes},
            squeeze=False,
        )
        for ax, (kind, res) in zip(axes[:, 0], groups, strict=True):
            unit = t(f"reg_unit_did_{kind}", lang)
            plot_did_forest(res, ax=ax, lang=lang, xlabel=unit[:1].upper() + unit[1:])
        fig.tight_layout()
    return list(axes[:, 0])


def persons_at_risk(result: Any, group: str, times: Sequence[float]) -> list[int]:
    """Distinct persons of ``group`` still at risk (followed and not yet returned) at each time.

    Unweighted counts of persons (a reference reused in several matched sets
    counts once), from ``result.times``: at risk at ``t`` when ``time >= t``.
    These are the counts disclosure control applies to; the KM curves
    themselves are weighted.
    """
    d = result.times
    d = d[d["at_risk"].astype(bool) & (d["treat"] == (1 if group == "participants" else 0))]
    return [int(d.loc[d["time"] >= x, "id"].nunique()) for x in times]


def _risk_ticks(horizon: int) -> list[int]:
    step = 30 if horizon <= 120 else 60 if horizon <= 240 else 90
    return list(range(0, int(horizon) + 1, step))


def plot_km(result: Any, ax: Axes | None = None, lang: str = "en", min_cell: int = 5) -> Axes:
    """Kaplan–Meier curves of remaining on sick leave per group, with 95 % log-log bands.

    ``result`` is a :class:`~kureval.register.survival.ReturnToWork`; the
    curve falls when persons return to work.

    Disclosure control: a curve is drawn only up to its last step at which
    at least ``min_cell`` persons of the group were at risk (later steps would
    show single persons' return days), and not at all when the group has
    fewer than ``min_cell`` persons at risk or fewer than ``min_cell`` returns;
    a note under the axis says so.  The numbers of persons at risk are printed
    under the axis, ``"<min_cell"`` when small.
    """
    check_lang(lang)
    km = result.km
    ticks = _risk_ticks(result.horizon)
    notes = []
    with style():
        ax = ax if ax is not None else new_axes(FULL_WIDTH, 0.62 * FULL_WIDTH)
        rows = []
        for group, key in _GROUPS:
            sub = km[km["group"] == group] if len(km) else km
            at_risk = persons_at_risk(result, group, ticks)
            rows.append((t(key, lang), at_risk))
            if len(sub) == 0:
                continue
            n_times = persons_at_risk(result, group, sub["time"].to_numpy(float))
            keep = np.asarray(n_times) >= min_cell
            events = int(sub["n_events"].to_numpy(float)[keep].sum()) if keep.any() else 0
            if at_risk[0] < min_cell or events < min_cell:
                notes.append(t("reg_km_not_drawn", lang, group=t(key, lang), min_cell=min_cell))
                continue
            sub = sub[keep]
            colour = PALETTE["participants" if group == "participants" else "reference"]
            times = np.concatenate([[0.0], sub["time"].to_numpy(float)])
            surv = np.concatenate([[1.0], sub["surv"].to_numpy(float)])
            ax.step(times, surv, where="post", color=colour, label=t(key, lang))
            lo = np.concatenate([[1.0], sub["ci_low"].to_numpy(float)])
            hi = np.concatenate([[1.0], sub["ci_high"].to_numpy(float)])
            ax.fill_between(times, lo, hi, step="post", color=colour, alpha=0.15, linewidth=0)
        ax.set_ylim(0, 1.02)
        ax.set_xlim(0, result.horizon)
        ax.set_xticks(ticks)
        ax.set_xlabel(t("reg_km_axis_time", lang))
        ax.set_ylabel(t("reg_km_axis_surv", lang))
        if ax.get_legend_handles_labels()[0]:
            ax.legend(frameon=False)
        _risk_table(ax, ticks, rows, min_cell, lang, notes)
        decimal_comma(ax, lang, "y")
    return ax


def _risk_table(
    ax: Axes,
    ticks: Sequence[int],
    rows: Sequence[tuple[str, list[int]]],
    min_cell: int,
    lang: str,
    notes: Sequence[str],
) -> None:
    """Numbers at risk under the x axis (small counts as ``"<min_cell"``), then the notes."""
    import matplotlib.transforms as mtransforms

    trans = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
    y = -0.24
    ax.text(-0.06, y, t("reg_km_at_risk", lang), transform=ax.transAxes, fontsize=7.5, ha="right")
    y -= 0.07
    for label, counts in rows:
        ax.text(-0.06, y, label, transform=ax.transAxes, fontsize=7.5, ha="right")
        for x, n in zip(ticks, counts, strict=True):
            text = f"<{min_cell}" if 0 < n < min_cell else str(n)
            ax.text(x, y, text, transform=trans, fontsize=7.5, ha="center")
        y -= 0.07
    for note in notes:
        ax.text(0, y - 0.02, note, transform=ax.transAxes, fontsize=7.5, ha="left")
        y -= 0.07


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
            k = _scale(res.outcome)
            row: dict[str, Any] = {
                t("reg_outcome", lang): outcome_label(res.outcome, lang),
                t("reg_unit", lang): t(f"reg_unit_{outcome_kind(res.outcome)}", lang),
                t("reg_group", lang): t(key, lang),
            }
            for w in dict.fromkeys(res.means["window"]):
                m = res.means[(res.means["group"] == group) & (res.means["window"] == w)].iloc[0]
                row[f"n {window_label(w, lang)}"] = int(m["n"])
                row[window_label(w, lang)] = k * m["mean"]
                row[f"ci {window_label(w, lang)}"] = (k * m["ci_low"], k * m["ci_high"])
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
        ratio = hasattr(res, "family")
        k = 1.0 if ratio else _scale(res.outcome)
        unit = t("reg_unit_ratio" if ratio else f"reg_unit_did_{outcome_kind(res.outcome)}", lang)
        rows.append(
            {
                t("reg_outcome", lang): label,
                t("reg_unit", lang): unit,
                t("reg_estimate", lang): _fmt(k * res.estimate, decimals, lang),
                t("reg_ci_low", lang): _fmt(k * lo, decimals, lang),
                t("reg_ci_high", lang): _fmt(k * hi, decimals, lang),
                t("reg_pvalue", lang): _fmt_p(res.pvalue, lang),
            }
        )
    return pd.DataFrame(rows)


def window_span(windows: Sequence[Any], lang: str = "en") -> str:
    """Windows as "before −365…−1, after 0…364" (days relative to the index date)."""

    def num(v: int) -> str:
        return str(v).replace("-", "−")

    return ", ".join(
        f"{t(f'reg_window_short_{w.name}', lang) if has(f'reg_window_short_{w.name}') else w.name}"
        f" {num(w.start)}…{num(w.end)}"
        for w in windows
    )


def _hc1_factor(result: Any) -> float:
    """``(n − 1)/(n − k)`` of a DiD's regression ``change ~ treat`` (k = 2 coefficients)."""
    n = result.effect.n_treated + result.effect.n_control
    return (n - 1) / (n - 2)


def methods_paragraph(
    matched: Any,
    windows: Sequence[Any],
    results: Sequence[Any],
    data_end: Any,
    free_days: int,
    lang: str = "en",
    min_cell: int = 5,
    n_unmatched: int | None = None,
) -> str:
    """The methods paragraph, filled in from the matched sets, the windows and the DiD results.

    States the unit of the differences (per person and window, as counted;
    shares in percentage points), the covariance of the DiD (CR1) and of the
    count models (HC0 with the cluster factor only), and the KM disclosure rule.
    ``n_unmatched``: participants of the programme without any reference (not
    placed in the register, or none in their stratum or within the caliper);
    when > 0 the paragraph says that the estimates are about the matched
    participants only (with a caliper the estimand is the effect in the
    matched participants, not in all), giving the number as "fewer than
    ``min_cell``" when it is small.
    """
    check_lang(lang)
    reused = any("id" in r.effect.cluster for r in results)
    text = t(
        "reg_methods",
        lang,
        n_sets=int(matched["set_id"].nunique()),
        n_ref=int((matched["treat"] == 0).sum()),
        weights=t("reg_weights_equal", lang),
        windows=window_span(windows, lang),
        data_end=str(data_end),
        reuse=t("reg_methods_reuse", lang) if reused else "",
        free_days=free_days,
        min_cell=min_cell,
        hc1_factor=_fmt(max(_hc1_factor(r) for r in results), 4, lang) if results else "–",
    )
    lines = [text]
    if n_unmatched:
        shown = (
            str(n_unmatched)
            if n_unmatched >= min_cell
            else t("reg_fewer_than", lang, min_cell=min_cell)
        )
        lines.append(
            t(
                "reg_methods_estimand",
                lang,
                n_sets=int(matched["set_id"].nunique()),
                n_unmatched=shown,
            )
        )
    for r in results:
        k = _scale(r.outcome)
        lo, hi = r.conf_int()
        lines.append(
            t(
                "reg_result_sentence",
                lang,
                outcome=outcome_label(r.outcome, lang),
                est=_fmt(k * r.estimate, 2, lang),
                lo=_fmt(k * lo, 2, lang),
                hi=_fmt(k * hi, 2, lang),
                unit=t(f"reg_unit_did_{outcome_kind(r.outcome)}", lang),
                p=_p_phrase(r.pvalue, lang),
            )
        )
    return " ".join(lines)


# Reasons logged by kureval.register.windows / .survival (English free text) → catalogue keys.
_REASONS: tuple[tuple[str, str], ...] = (
    (r"person not in the population table \(ignored\)", "reg_excl_not_in_population"),
    (r"contact outside the person's register coverage \(ignored\)", "reg_excl_contact_outside"),
    (r"overlapping inpatient stays \(a day counted once\)", "reg_excl_overlapping_stays"),
    (
        r"overlapping spells \(net days capped at 1 per calendar day\)",
        "reg_excl_overlapping_spells",
    ),
    (
        r"dispensation outside the person's register coverage \(ignored\)",
        "reg_excl_dispensation_outside",
    ),
    (r"dispensation without DDD .*", "reg_excl_no_ddd"),
    (r"no exposure in window (?P<window>\S+) \(outcomes missing\)", "reg_excl_no_exposure"),
    (r"exit_date before the index date", "reg_excl_exit_before_index"),
    (r"not on sick leave on the index date \(not at risk\)", "reg_excl_not_at_risk"),
    (r"on sick leave but no follow-up to confirm a return", "reg_excl_no_follow_up"),
    (r"(?P<n>\d+) calendar days where extents summed to more than 100 %", "reg_excl_capped_days"),
)


def _translate(text: Any, lang: str) -> tuple[str, bool]:
    """(display text, whether it was translated) of a logged reason or detail."""
    import re

    if not isinstance(text, str) or text == "":
        return ("" if not isinstance(text, str) else text), True
    for pattern, key in _REASONS:
        m = re.fullmatch(pattern, text)
        if m:
            fields = m.groupdict()
            if "window" in fields:
                fields["window"] = window_label(fields["window"], lang)
            return t(key, lang, **fields), True
    return text, False


def exclusions_table(log: Any, lang: str = "en", min_cell: int = 5) -> tuple[Any, bool]:
    """The register steps of the exclusions log, translated, small counts suppressed.

    Steps and tables are fixed codes (catalogue ``reg_excl_step_*``,
    ``reg_excl_table_*``); known reasons and details are mapped to catalogue
    keys, others are shown as logged (English) and marked with ``*``.
    Returns the display table (no row index to show) and whether any text
    was left as logged.
    """
    from kureval.report.tables import exclusions_table as base

    check_lang(lang)
    d = log.reset_index(drop=True).copy()
    untranslated = False
    for col in ("reason", "detail"):
        if col not in d:
            continue
        out = []
        for v in d[col]:
            text, ok = _translate(v, lang)
            untranslated |= not ok
            out.append(text if ok else f"{text} *")
        d[col] = out
    for col in ("step", "table"):
        d[col] = [
            t(f"reg_excl_{col}_{str(v).replace(' ', '_')}", lang)
            if has(f"reg_excl_{col}_{str(v).replace(' ', '_')}")
            else str(v)
            for v in d[col]
        ]
    return base(d, lang=lang, min_cell=min_cell), untranslated
