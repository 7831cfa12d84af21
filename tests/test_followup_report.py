"""The programme follow-up section of the report (page 5) on the demo study: "–" for
programmes without questionnaires, the methods text, labels shared with page 1 and
readable suppression marks in the bar figures."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

import kureval as kv
from kureval.plots import followup as fplots
from kureval.report.labels import t

DEMO = Path(__file__).resolve().parents[1] / "data" / "raw" / "demo"


@pytest.fixture(scope="module")
def fl():
    return kv.flow(kv.load_study(DEMO))


def test_self_rating_rows_are_not_applicable_without_questionnaires(fl):
    tab = fplots.flow_table(fl, lang="en")
    answered = fl.stages[fl.stages["stage"] == "answered"]
    none = [g for g, n in answered.groupby("programme")["n"].sum().items() if n == 0]
    some = [g for g in tab.columns if g not in none]
    assert none and some
    rows = [r for r in tab.index if r.startswith("Answered") or r == "In the pre/post analysis"]
    assert (tab.loc[rows, none] == "–").all().all()
    assert not (tab.loc[rows, some] == "–").any().any()
    assert (tab.loc["Referred", none] != "–").all()
    by_sex = fplots.flow_table(fl, lang="sv", by_sex=True)
    cols = [c for c in by_sex.columns if c.split(" | ")[0] in none]
    rows = [r for r in by_sex.index if r.startswith("Besvarade") or r.startswith("Med i")]
    assert cols and (by_sex.loc[rows, cols] == "–").all().all()


@pytest.mark.parametrize("lang", ["en", "sv"])
def test_methods_paragraph_names_denominators_intervals_and_both_marks(fl, lang):
    text = fplots.methods_paragraph(fl, lang=lang)
    assert "Wilson" in text and "95 %" in text
    assert f"<{fl.min_cell}" in text and ".." in text
    if lang == "en":
        assert "shares of those who ended" in text and "share of those who started" in text
    else:
        assert "andelar av dem som avslutat" in text and "andelar av dem som påbörjat" in text


def test_provision_labels_are_page_one_labels(fl):
    key = fl.groups()[0]
    tab = fplots.shares_table(fl, "provision", key, lang="sv")
    assert t("overview_provision_financial_assistance", "sv") in tab.index
    assert t("fu_note_unknown", "en").startswith("“Unknown”")


def _overlaps(ax):
    ax.figure.canvas.draw()
    boxes = [txt.get_window_extent() for txt in ax.texts if txt.get_text()]
    return [(a, b) for a, b in combinations(boxes, 2) if a.overlaps(b)]


@pytest.mark.parametrize("kind", ["destinations", "provision"])
def test_suppression_marks_do_not_overlap(fl, kind):
    plot = fplots.plot_destinations if kind == "destinations" else fplots.plot_provision
    marks = 0
    for key in fl.groups():
        d = fl.for_group(kind, key)
        col = "exit_destination" if kind == "destinations" else "provision_at_start"
        if d.loc[(d["sex"] == "all") & (d[col] != "not_recorded"), "n"].sum() == 0:
            continue
        ax = plot(fl, key, lang="en")
        marks += len([t_ for t_ in ax.texts if t_.get_text() in ("<5", "..")])
        assert _overlaps(ax) == []
    assert marks > 0, "the demo has suppressed cells to mark"


def test_no_interval_is_drawn_for_a_hidden_denominator(fl):
    """A 0 of 1 share has a Wilson interval 0–79.3 %: drawing it would reveal the denominator."""
    import numpy as np

    p = fl.provision
    small = p[(p["n_started"] > 0) & (p["n_started"] < fl.min_cell)]
    assert len(small), "the demo has a sex with fewer than min_cell starters"
    for key in {tuple(r) for r in small[list(fl.by)].itertuples(index=False, name=None)}:
        ax = fplots.plot_provision(fl, key, lang="en")
        ends = np.concatenate(
            [
                np.asarray(c.get_segments())[:, :, 0].ravel()
                for c in ax.collections
                if c.get_segments()
            ]
        )
        rows = small[(small[list(fl.by)] == list(key)).all(axis=1)]
        for hi in 100 * rows["ci_high"]:
            assert not np.isclose(ends, hi).any()
