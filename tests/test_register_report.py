"""The register section of the report (page 4): disclosure control in the return-to-work
figure, units and panels of the DiD forest plot, Swedish number formats, translated
exclusions and the methods text."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

matplotlib.use("Agg")

from test_compare import count_fixture

from kureval.plots import register as rplots
from kureval.register.compare import did
from kureval.register.survival import kaplan_meier

ROOT = Path(__file__).resolve().parents[1]


def _rtw(n_part: int = 12, n_ref: int = 3) -> SimpleNamespace:
    """Participants return on days 1, 2, ..., n_part (no censoring); references on 10, 20, 30."""
    rows = [
        {"id": f"p{i}", "set_id": i, "treat": 1, "weight": 1.0, "time": float(i), "status": 1.0}
        for i in range(1, n_part + 1)
    ] + [
        {"id": f"r{i}", "set_id": i, "treat": 0, "weight": 1.0, "time": 10.0 * i, "status": 1.0}
        for i in range(1, n_ref + 1)
    ]
    times = pd.DataFrame(rows).assign(at_risk=True, not_followed=False)
    return SimpleNamespace(times=times, km=kaplan_meier(times), horizon=60, free_days=30)


def _curves(ax):
    return [ln for ln in ax.lines if len(ln.get_xdata()) > 1]


def test_km_curve_stops_where_fewer_than_min_cell_persons_are_at_risk():
    ax = rplots.plot_km(_rtw(), lang="en", min_cell=5)
    (curve,) = _curves(ax)  # the references (3 persons) are not drawn at all
    x = np.asarray(curve.get_xdata(), float)
    y = np.asarray(curve.get_ydata(), float)
    # persons at risk on day t = 12 - t + 1: >= 5 up to day 8, so days 9-12 are not shown
    assert x.max() == 8
    # the drawn steps are the product-limit estimate (12 - t) / 12 (no censoring)
    assert_allclose(y[1:], (12 - x[1:]) / 12, rtol=1e-12)
    texts = [t.get_text() for t in ax.texts]
    assert any("References: curve not drawn" in t for t in texts)
    assert "Persons at risk" in texts
    # numbers at risk at 0, 30, 60 days: 12 participants, then 0; references 3 -> "<5"
    assert texts.count("12") == 1 and "<5" in texts and "3" not in texts


def test_km_persons_at_risk_counts_distinct_persons():
    r = _rtw()
    r.times.loc[len(r.times)] = {
        "id": "p1",
        "set_id": 99,
        "treat": 1,
        "weight": 1.0,
        "time": 1.0,
        "status": 1.0,
        "at_risk": True,
        "not_followed": False,
    }
    assert rplots.persons_at_risk(r, "participants", [0, 1, 2]) == [12, 12, 11]


def test_km_swedish_ticks_have_decimal_commas():
    ax = rplots.plot_km(_rtw(20, 20), lang="sv", min_cell=5)
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "0,2" in labels and not any("." in s for s in labels)
    assert len(_curves(ax)) == 2


def test_did_tables_and_panels_carry_units():
    windows, matched, _ = count_fixture()
    visits = did(windows, matched, "visits_primary_care")
    share_windows = windows.assign(
        any_sick_leave=(windows["visits_primary_care"] > 2).astype(float)
    )
    share = did(share_windows, matched, "any_sick_leave")
    tab = rplots.did_table([visits, share], lang="sv")
    assert list(tab["Enhet"]) == ["besök per person och fönster", "procentenheter"]
    # shares are shown in percentage points (x 100), with a decimal comma
    assert tab["Skattning"].iloc[1] == f"{100 * share.estimate:.2f}".replace(".", ",")
    axes = rplots.did_forest_panels([visits, share], lang="en")
    assert [a.get_xlabel() for a in axes] == [
        "Visits per person and window",
        "Percentage points",
    ]
    point = [ln for ln in axes[1].lines if ln.get_marker() == "o"][0]
    assert_allclose(point.get_xdata(), [100 * share.estimate], rtol=1e-12)
    means = rplots.means_table([share], lang="en")
    assert means["Unit"].iloc[0] == "% of persons"
    m = share.means.set_index(["window", "group"])["mean"]["post", "participants"]
    assert means["Year after"].iloc[0].startswith(f"{100 * m:.2f} (")


def test_window_means_legend_is_outside_the_data_and_ticks_swedish():
    windows, matched, _ = count_fixture()
    d = did(windows, matched, "visits_primary_care")
    axes = rplots.window_means_panels([d, d], lang="sv")
    assert all(a.get_legend() is None for a in axes)
    assert axes[0].figure.legends
    axes[0].figure.canvas.draw()
    assert all("." not in t.get_text() for t in axes[0].get_yticklabels())


def test_methods_text_states_units_covariance_types_and_windows():
    windows, matched, _ = count_fixture()
    d = did(windows, matched, "visits_primary_care")
    wins = [
        SimpleNamespace(name="pre", start=-365, end=-1),
        SimpleNamespace(name="post", start=0, end=364),
    ]
    assert rplots.window_span(wins, "sv") == "före −365…−1, efter 0…364"
    text = rplots.methods_paragraph(matched, wins, [d], "2022-12-31", 30, lang="en", min_cell=5)
    n = d.effect.n_treated + d.effect.n_control
    assert "HC1" in text and "HC0" in text and "per person and window" in text
    assert f"at most {(n - 1) / (n - 2):.4f}" in text
    assert "visits per person and window (95 % CI" in text
    sv = rplots.methods_paragraph(matched, wins, [d], "2022-12-31", 30, lang="sv")
    assert not re.search(r"\d\.\d", sv.split("Varje deltagares")[1])  # decimal commas only
    assert "describe the" not in text  # everybody matched: no estimand sentence
    n_sets = matched["set_id"].nunique()
    some = rplots.methods_paragraph(matched, wins, [d], "2022-12-31", 30, n_unmatched=12)
    assert f"describe the {n_sets} participants who got at least one reference" in some
    assert "12 participants had none" in some
    few = rplots.methods_paragraph(matched, wins, [d], "2022-12-31", 30, lang="sv", n_unmatched=3)
    assert "Färre än 5 deltagare fick ingen" in few and " 3 deltagare" not in few


def test_exclusions_are_translated_and_suppressed():
    log = pd.DataFrame(
        {
            "step": ["windows", "windows", "return_to_work", "windows"],
            "table": ["sick_leave", "matched persons", "matched persons", "visits"],
            "reason": [
                "overlapping spells (net days capped at 1 per calendar day)",
                "no exposure in window post (outcomes missing)",
                "not on sick leave on the index date (not at risk)",
                "a reason nobody has translated",
            ],
            "n": [10, 3, 565, 0],
            "detail": ["244 calendar days where extents summed to more than 100 %", "", "", ""],
        }
    )
    tab, untranslated = rplots.exclusions_table(log, lang="sv", min_cell=5)
    assert untranslated
    assert list(tab["Steg"]) == ["Registerfönster"] * 2 + ["Återgång i arbete", "Registerfönster"]
    assert tab["Tabell"].iloc[1] == "Matchade personer"
    assert tab["Skäl"].iloc[1] == 'inga observerade dagar i fönstret "Året efter" (utfall saknas)'
    assert tab["Detalj"].iloc[0].startswith("244 kalenderdagar")
    assert tab["Skäl"].iloc[3] == "a reason nobody has translated *"
    assert list(tab["n"]) == [10, "<5", 565, 0]
    _, untranslated = rplots.exclusions_table(log.iloc[:3], lang="en")
    assert not untranslated


@pytest.mark.parametrize("name", ["4.0-register-outcomes.ipynb", "5.0-programme-follow-up.ipynb"])
def test_notebooks_are_clean_and_hide_range_indexes(name):
    nb = json.loads((ROOT / "notebooks" / name).read_text("utf-8"))
    assert nb["metadata"]["kernelspec"]["name"] == "kureval"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"].get("tags", [])
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)
    text = "\n".join("".join(c["source"]) for c in code)
    # tables with a default row index are shown without it; flow and share tables
    # have meaningful row labels (stages, categories)
    for var in re.findall(r"^\s*display\((\w+)\)", text, flags=re.M):
        assert var in {"flow_tab", "flow_sex", "tab"}, f"{var} shown with its row index"
