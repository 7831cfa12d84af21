"""Presentation tables: counts and baseline characteristics, suppressed and translated.

These functions only count and average; they never test or model.  Every
count they return has passed :func:`kureval.report.privacy.suppress_counts`
(small cells shown as ``"<5"``, secondary suppression as ``".."``), and every
header and category label comes from the label catalogues, so the same call
gives the English or the Swedish table.

Conventions
-----------
* Age is the age reached in the calendar year of referral: ``year of
  referral_date − birth_year`` (the contract holds birth years only).
* Percentages are of the group's participants (all levels, including "not
  recorded", add up to 100), shown with one decimal in the report's language
  (decimal comma in Swedish), and blank when their count or the group size
  is suppressed.
* A mean (SD) is shown only when at least ``min_cell`` persons contribute.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

import pandas as pd

from kureval.report.labels import check_lang, has, t
from kureval.report.privacy import suppress_counts

__all__ = [
    "AGE_BANDS",
    "baseline_table",
    "code_label",
    "exclusions_table",
    "format_number",
    "programme_counts",
    "response_counts",
]

AGE_BANDS = (
    (0, 29, "–29"),
    (30, 39, "30–39"),
    (40, 49, "40–49"),
    (50, 59, "50–59"),
    (60, 69, "60–69"),
    (70, 200, "70–"),
)
STATUSES = ("referred", "started", "completed", "dropped_out", "ongoing")
_CATEGORICAL = ("sex", "diagnosis_group", "provision_at_start", "referrer")


def format_number(value: object, decimals: int = 1, lang: str = "en") -> str:
    """``value`` rounded to ``decimals`` as text in the report's language.

    English: ``1,234.5``; Swedish: ``1 234,5`` (no-break space, decimal
    comma).  Missing values give ``""``; text (e.g. ``"<5"``) is returned
    unchanged.

    >>> format_number(1234.56, 1, "en"), format_number(1234.56, 1, "sv")
    ('1,234.6', '1\\xa0234,6')
    """
    check_lang(lang)
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    text = f"{float(value):,.{decimals}f}"  # type: ignore[arg-type]
    if lang == "sv":
        text = text.replace(",", "\u00a0").replace(".", ",")
    return text


def _label(key: str, lang: str, fallback: str) -> str:
    return t(key, lang) if has(key) else fallback


def _levels(values: pd.Series, variable: str, lang: str) -> pd.Series:
    """Category labels for display; missing → "not recorded"."""
    missing = t("overview_not_recorded", lang)
    if variable == "sex":
        return values.map(lambda v: missing if pd.isna(v) else _label(f"sex_{v}", lang, str(v)))
    if variable == "provision_at_start":
        return values.map(
            lambda v: missing if pd.isna(v) else _label(f"overview_provision_{v}", lang, str(v))
        )
    if variable == "diagnosis_group":
        return values.map(
            lambda v: missing if pd.isna(v) else _label(f"overview_diagnosis_{v}", lang, str(v))
        )
    return values.map(lambda v: missing if pd.isna(v) else str(v))


def code_label(kind: str, code: object, lang: str) -> str:
    """Display label of a study code (``kind`` = "timepoint" or "instrument"):
    the catalogue label ``overview_<kind>_<code>`` when there is one, else the code."""
    return _label(f"overview_{kind}_{code}", lang, str(code))


def _age(participants: pd.DataFrame) -> pd.Series:
    years = participants["referral_date"].dt.year.astype("Float64")
    return (years - participants["birth_year"].astype("Float64")).astype("float64")


def _age_band(age: pd.Series, lang: str) -> pd.Series:
    missing = t("overview_not_recorded", lang)

    def band(a: float) -> str:
        if math.isnan(a):
            return missing
        return next(lab for lo, hi, lab in AGE_BANDS if lo <= a <= hi)

    return age.map(band)


def _blocks(participants: pd.DataFrame, lang: str) -> list[tuple[str, pd.Series, list[str]]]:
    """(variable label, level per person, level order) for each characteristic present."""
    blocks = []
    for var in _CATEGORICAL:
        if var not in participants or participants[var].isna().all():
            continue
        levels = _levels(participants[var], var, lang)
        order = sorted(set(levels) - {t("overview_not_recorded", lang)})
        if var == "sex":
            order = [lab for lab in (t(f"sex_{s}", lang) for s in "FMX") if lab in set(levels)]
        blocks.append((t(f"overview_{var}", lang), levels, order))
        if var == "sex" and "birth_year" in participants and "referral_date" in participants:
            bands = _age_band(_age(participants), lang)
            band_order = [lab for _, _, lab in AGE_BANDS if lab in set(bands)]
            blocks.append((t("overview_age_band", lang), bands, band_order))
    missing = t("overview_not_recorded", lang)
    return [
        (lab, s, order + ([missing] if (s == missing).any() else [])) for lab, s, order in blocks
    ]


def baseline_table(
    participants: pd.DataFrame, by: str = "programme", lang: str = "en", min_cell: int = 5
) -> pd.DataFrame:
    """Baseline characteristics per group: n (%) for sex, age band, diagnosis
    group, provision at start and referrer, and age mean (SD).

    Parameters
    ----------
    participants : DataFrame
        The study's participants table (contract columns; optional columns
        that are absent or entirely empty are left out).
    by : str, default "programme"
        Grouping column; a "Total" group over all rows is added.
    lang : {"en", "sv"}
    min_cell : int, default 5
        Smallest count shown (see :mod:`kureval.report.privacy`).

    Returns
    -------
    DataFrame
        Rows indexed by (characteristic, category); columns a MultiIndex
        (group, ``n`` / ``%``), object dtype, ready to display or save.
        Suppression is applied to the whole table at once, so a suppressed
        cell cannot be recovered from the group sizes or the total column
        of any characteristic.
    """
    check_lang(lang)
    groups = [str(g) for g in pd.unique(participants[by].dropna())]
    total = t("total", lang)
    n_label, pct_label = t("n", lang), t("percent", lang)
    blocks = _blocks(participants, lang)
    labels: list[tuple[str, str]] = [(t("overview_participants", lang), "")]
    rows = [[int((participants[by] == g).sum()) for g in groups]]
    decomposition: list[list[int]] = []
    for var_label, levels, order in blocks:
        part = []
        for level in order:
            part.append(len(rows))
            labels.append((var_label, level))
            rows.append([int(((participants[by] == g) & (levels == level)).sum()) for g in groups])
        decomposition.append(part)
    counts = pd.DataFrame(rows, columns=groups)
    counts[total] = counts[groups].sum(axis=1)
    shown = suppress_counts(
        counts,
        groups,
        min_cell=min_cell,
        total_cols={total: groups},
        total_rows={0: decomposition} if decomposition else None,
    )
    out = {}
    for g in [*groups, total]:
        out[(g, n_label)] = shown[g]
        out[(g, pct_label)] = _percentages(counts[g], shown[g], lang)
    table = pd.DataFrame(out)
    table.index = pd.MultiIndex.from_tuples(labels, names=[t("overview_characteristic", lang), ""])
    age_row = _age_summary(participants, by, groups, total, lang, min_cell, n_label, pct_label)
    if age_row is None:
        return table
    return pd.concat([table.iloc[:1], age_row, table.iloc[1:]])


def _percentages(counts: pd.Series, shown: pd.Series, lang: str) -> pd.Series:
    """Share of the group (row 0 = group size), blank where the count or the size is hidden."""
    size = counts.iloc[0]
    hidden_size = isinstance(shown.iloc[0], str)
    pct = []
    for k, (n, s) in enumerate(zip(counts, shown, strict=True)):
        if k == 0 or hidden_size or isinstance(s, str) or size == 0:
            pct.append("")
        else:
            pct.append(format_number(100 * n / size, 1, lang))
    return pd.Series(pct, index=counts.index, dtype=object)


def _age_summary(participants, by, groups, total, lang, min_cell, n_label, pct_label):
    if "birth_year" not in participants or "referral_date" not in participants:
        return None
    age = _age(participants)
    cells: dict[tuple[str, str], list[object]] = {}
    for g in [*groups, total]:
        a = age if g == total else age[participants[by] == g]
        a = a.dropna()
        text = (
            f"{format_number(a.mean(), 1, lang)} ({format_number(a.std(ddof=1), 1, lang)})"
            if len(a) >= max(min_cell, 2)
            else ""
        )
        cells[(g, n_label)] = [text]
        cells[(g, pct_label)] = [""]
    index = pd.MultiIndex.from_tuples([(t("overview_age_mean_sd", lang), "")])
    return pd.DataFrame(cells, index=index)


def programme_counts(
    participants: pd.DataFrame, by: str = "programme", lang: str = "en", min_cell: int = 5
) -> pd.DataFrame:
    """Participants per group and status (referred, started, completed,
    dropped out, ongoing), with row and column totals, suppressed.

    When every person with a ``start_date`` (the index date) has a status
    other than "referred" and vice versa, a column "with start date" is
    added; it is the total of those statuses and is protected as such, so
    that a hidden "referred" count cannot be recovered as total − started.
    When the two disagree the column is left out (the counts would not
    identify the same people).
    """
    check_lang(lang)
    groups = [str(g) for g in pd.unique(participants[by].dropna())]
    total = t("total", lang)
    status_cols = [s for s in STATUSES if (participants["status"] == s).any()]
    rows = []
    for g in groups:
        sub = participants[participants[by] == g]
        rows.append([int((sub["status"] == s).sum()) for s in status_cols])
    counts = pd.DataFrame(rows, index=groups, columns=status_cols)
    counts[total] = counts[status_cols].sum(axis=1)
    totals: dict[str, list[str]] = {total: status_cols}
    started = [s for s in status_cols if s != "referred"]
    if "start_date" in participants and started:
        has_start = participants["start_date"].notna()
        if (has_start == (participants["status"] != "referred")).all():
            label = t("overview_with_start_date", lang)
            counts[label] = counts[started].sum(axis=1)
            totals[label] = started
    counts.loc[total] = counts.sum(axis=0)
    shown = suppress_counts(
        counts, status_cols, min_cell=min_cell, total_cols=totals, total_rows=total
    )
    shown.columns = [t(f"overview_status_{c}", lang) if c in STATUSES else c for c in shown.columns]
    shown.index.name = t("overview_programme", lang) if by == "programme" else by
    return shown


def response_counts(
    responses: pd.DataFrame,
    participants: pd.DataFrame | None = None,
    by: str = "programme",
    lang: str = "en",
    min_cell: int = 5,
    timepoints: Sequence[Hashable] | None = None,
    per_instrument: bool = True,
) -> pd.DataFrame:
    """Persons with at least one answered item, per instrument × time point.

    With ``participants``, rows are (group, instrument), or only the group
    when ``per_instrument=False`` (persons answering any instrument);
    columns are the time points in study order.  Counts are persons, so they
    do not add up across time points or instruments and no totals are shown
    (primary suppression only).
    """
    check_lang(lang)
    answered = responses[responses["value"].notna()]
    keys = ["instrument"] if per_instrument else []
    if participants is not None:
        answered = answered.merge(participants[["person_id", by]], on="person_id", how="left")
        keys = [by, *keys]
    if not keys:
        answered = answered.assign(_all=t("total", lang))
        keys = ["_all"]
    if timepoints is None:
        tp = responses["timepoint"]
        timepoints = (
            list(tp.cat.categories)
            if isinstance(tp.dtype, pd.CategoricalDtype)
            else sorted(tp.unique())
        )
    counts = (
        answered.groupby([*keys, "timepoint"], observed=True)["person_id"]
        .nunique()
        .unstack("timepoint")
        .reindex(columns=list(timepoints))
        .fillna(0)
        .astype(int)
    )
    counts.columns = [code_label("timepoint", c, lang) for c in counts.columns]
    if "instrument" in keys:
        counts = counts.rename(
            index=lambda c: code_label("instrument", c, lang), level=keys.index("instrument")
        )
    shown = suppress_counts(counts, list(counts.columns), min_cell=min_cell)
    names = {
        "programme": t("overview_programme", lang),
        "instrument": t("overview_instrument", lang),
        "_all": "",
    }
    shown.index = shown.index.set_names([names.get(k, k) for k in keys])
    shown.columns.name = t("overview_timepoint", lang)
    return shown


def exclusions_table(log: pd.DataFrame, lang: str = "en", min_cell: int = 5) -> pd.DataFrame:
    """The exclusions log (``study.exclusions.table``) with translated headers
    and counts below ``min_cell`` suppressed.  Reasons are shown as logged."""
    check_lang(lang)
    shown = suppress_counts(log.reset_index(drop=True), ["n"], min_cell=min_cell)
    return shown.rename(
        columns={
            c: t(f"overview_excl_{c}", lang) for c in ["step", "table", "reason", "n", "detail"]
        }
    )
