"""Tests of kureval.plots.followup: the figures show the result's numbers and hide small counts."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.patches import Rectangle
from numpy.testing import assert_allclose

from kureval.followup.flow import flow
from kureval.plots.followup import (
    SECONDARY,
    goal_label,
    hidden_counts,
    plot_destinations,
    plot_flow,
    plot_goals,
    plot_provision,
)

sys.path.insert(0, str(Path(__file__).parent))
from test_flow import make_study


def _study(min_cell=5, responses=None):
    rows = []
    for i in range(
        40
    ):  # programme A: 30 ended (20 work, 7 studies, 3 moved), 6 ongoing, 4 not started
        status = (
            "completed"
            if i < 27
            else "dropped_out"
            if i < 30
            else "ongoing"
            if i < 36
            else "referred"
        )
        dest = "work" if i < 20 else "studies" if i < 27 else "moved" if i < 30 else None
        start = None if status == "referred" else "2022-02-01"
        end = "2022-06-01" if status in ("completed", "dropped_out") else None
        prov = (
            None
            if status == "referred"
            else ("financial_assistance" if i % 2 else "sickness_benefit")
        )
        rows.append((f"a{i}", "A", "F" if i % 3 else "M", status, start, end, dest, prov))
    goals = [
        {
            "programme": "A",
            "name": "work_or_studies",
            "destinations": ["work", "studies"],
            "target": 0.3,
        }
    ]
    return make_study(rows, goals=goals, min_cell=min_cell, responses=responses)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _texts(ax):
    return [t.get_text() for t in ax.texts]


# --------------------------------------------------------------------------- suppression
def test_hidden_counts_primary_secondary_and_zero():
    counts = {"tot": 20, "a": 3, "b": 10, "c": 7, "d": 0}
    shown = hidden_counts(counts, [("tot", ["a", "b", "c", "d"])], min_cell=5)
    assert shown == {"tot": "20", "a": "<5", "b": "10", "c": SECONDARY, "d": "0"}
    assert hidden_counts({"t": 9, "x": 9, "y": 0}, [("t", ["x", "y"])], 5) == {
        "t": "9",
        "x": "9",
        "y": "0",
    }


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 12), min_size=2, max_size=6), st.integers(2, 6))
def test_no_hidden_count_can_be_recovered_from_one_equation(parts, min_cell):
    counts = {f"p{i}": n for i, n in enumerate(parts)} | {"tot": sum(parts)}
    shown = hidden_counts(counts, [("tot", [f"p{i}" for i in range(len(parts))])], min_cell)
    hidden = [k for k, v in shown.items() if not v.isdigit()]
    assert len(hidden) != 1
    for k, v in shown.items():
        assert (v == str(counts[k])) or counts[k] > 0  # zeros are never hidden
        if 0 < counts[k] < min_cell:
            assert v == f"<{min_cell}"


# --------------------------------------------------------------------------- figures
@pytest.mark.parametrize("lang", ["en", "sv"])
def test_flow_diagram_shows_counts_and_hides_small_ones(lang):
    fl = flow(_study())
    ax = plot_flow(fl, lang=lang)
    text = "\n".join(_texts(ax))
    assert "n = 40" in text and "n = 30" in text
    assert "n = 3\n" not in text and "n = <5" in text  # 3 dropped out: suppressed
    assert "n = 4\n" not in text  # 4 not started: suppressed too
    # ... and what would reveal them (40 - 4 started, 30 - 3 completed; then 6 ongoing = 36 - 30)
    assert "n = 36" not in text and "n = 27" not in text and "Ongoing: 6" not in text
    assert text.count("n = ..") == 2
    assert ("Referred" in text) == (lang == "en") and ("Anvisade" in text) == (lang == "sv")
    assert len([c for c in ax.get_children() if type(c).__name__ == "Annotation"]) >= 6


def test_destination_bars_are_the_results_shares_with_wilson_cis():
    fl = flow(_study())
    ax = plot_destinations(fl, lang="sv")
    bars = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_width() > 0]
    d = fl.destinations
    shown = d[(d["n"] >= 5)]
    allowed = 100 * shown["share"].to_numpy()
    assert bars and all(np.isclose(allowed, p.get_width(), rtol=1e-12).any() for p in bars)
    work = shown[(shown["sex"] == "all") & (shown["exit_destination"] == "work")]["share"].iloc[0]
    assert np.isclose([p.get_width() for p in bars], 100 * work).any()  # 20 of 30 to work
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert (
        "Till arbete" in labels and "Flytt" in labels and "Arbetssökande" not in labels
    )  # zero: left out
    assert "<5" in _texts(ax)  # 3 moved (all), and the small sex cells
    lines = np.concatenate(
        [
            np.asarray(seg)[:, :, 0].ravel()
            for c in ax.collections
            for seg in [c.get_segments()]
            if len(seg)
        ]
    )
    for p in bars:  # each drawn bar carries its own row's Wilson interval
        row = shown.iloc[int(np.argmin(np.abs(allowed - p.get_width())))]
        assert (
            np.isclose(lines, 100 * row["ci_low"]).any()
            and np.isclose(lines, 100 * row["ci_high"]).any()
        )


def test_provision_and_goals_plots():
    fl = flow(_study())
    ax = plot_provision(fl, lang="en")
    assert ax.get_xlabel() == "Share of those who started (%)"
    ax = plot_goals(fl, lang="sv")
    g = fl.goals.iloc[0]
    target_line = [
        ln
        for ln in ax.lines
        if len(ln.get_xdata()) == 2
        and np.allclose(np.asarray(ln.get_xdata(), dtype=float), 100 * g["target"])
    ]
    assert len(target_line) == 1
    point = [ln for ln in ax.lines if ln.get_marker() == "o"]
    assert_allclose(np.asarray(point[0].get_xdata(), dtype=float), [100 * g["share"]])
    assert ax.get_yticklabels()[0].get_text() == "Till arbete eller till studier\n(A)"
    assert goal_label("work, studies", "en") == "To work or to studies"


def test_plot_goal_with_small_count_is_not_drawn():
    fl = flow(_study(min_cell=30))
    ax = plot_goals(fl)
    assert "<30" in _texts(ax)
    assert not [ln for ln in ax.lines if ln.get_marker() == "o"]


def test_unknown_group_and_language():
    fl = flow(_study())
    with pytest.raises(KeyError, match="no group"):
        plot_flow(fl, group="Z")
    from kureval.errors import ConfigError

    with pytest.raises(ConfigError):
        plot_destinations(fl, lang="de")


def test_flow_diagram_with_self_ratings():
    resp = pd.DataFrame(
        {
            "person_id": [f"a{i}" for i in range(30)] * 2,
            "timepoint": ["start"] * 30 + ["end"] * 30,
            "instrument": "srh",
            "item": 1,
            "value": 2.0,
            "date": pd.NaT,
        }
    )
    scores = resp.assign(scale="srh", score=2.0)
    ax = plot_flow(flow(_study(responses=resp), scores=scores), lang="en")
    text = "\n".join(_texts(ax))
    assert "In the pre/post analysis: n = 30" in text


# --------------------------------------------------------------------------- display tables
def test_flow_table_suppresses_with_the_flow_equations():
    from kureval.plots.followup import flow_table

    tab = flow_table(flow(_study()), lang="sv")
    col = tab["A"]
    assert col["Anvisade"] == 40 and col["Avslutade"] == 30
    assert col["Påbörjade inte"] == "<5" and col["Avbröt"] == "<5"
    assert col["Påbörjade"] == ".." and col["Fullföljde"] == ".."  # would reveal 4 and 3
    assert "Påbörjade, avslutsstatus saknas" not in tab.index  # nobody there: row left out


def test_shares_and_goals_tables():
    from kureval.plots.followup import goals_table, shares_table

    fl = flow(_study())
    tab = shares_table(fl, "destinations", lang="en")
    assert tab.loc["To work", "All n"] == 20 and tab.loc["To work", "All %"] == "67"
    lo, hi = fl.destinations.query("sex == 'all' and exit_destination == 'work'")[
        ["ci_low", "ci_high"]
    ].iloc[0]
    assert tab.loc["To work", "95 % CI (%)"] == f"{100 * lo:.1f}–{100 * hi:.1f}"
    assert tab.loc["Moved", "All n"] == "<5" and tab.loc["Moved", "All %"] == ""
    assert tab.loc["Ended (n)", "All n"] == 30
    g = goals_table(fl, lang="sv")
    assert list(g.iloc[0])[2:] == ["30", 27, 30, "90,0", g.iloc[0, 6], "ja"]


def test_flow_table_by_sex_adds_up_and_is_suppressed():
    from kureval.plots.followup import flow_table

    fl = flow(_study())
    tab = flow_table(fl, lang="en", by_sex=True)
    assert list(tab.columns) == ["A | All", "A | Women", "A | Men"]
    s = fl.stages.set_index("stage")
    assert tab.loc["Referred", "A | Women"] == s.loc["referred", "n_F"] == 26
    assert tab.loc["Referred", "A | Men"] == s.loc["referred", "n_M"] == 14
    visible = tab.map(lambda v: isinstance(v, int | np.integer))
    hidden = tab.map(lambda v: v in ("<5", ".."))
    assert (visible | hidden).all().all()
    assert (hidden.sum(axis=1) != 1).all()  # no row with a single hidden cell (all = women + men)
