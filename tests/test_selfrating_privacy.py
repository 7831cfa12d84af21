"""Disclosure control and language of the self-rating report page (notebooks/2.0-self-ratings).

Unit tests of the figures on synthetic results, then the page itself built from
the demo study in English and Swedish (one build per language per session),
checking the published tables against the analysis results they come from.
Review items: 1 (caseness p and shares), 2 (attrition SMDs of small
categories), 5 (no per-person figure), 7 (scoring exclusions), 9 (Swedish),
12 (forest note, shares bar), 13 (attrition scale name, blank cells).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kureval.selfrating.prepost import prepost

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "2.0-self-ratings.ipynb"
PROGRAMME = "Kultur på recept"


def _pairs(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pre = rng.normal(20, 4, n).round(1)
    post = (pre + rng.normal(2, 3, n)).round(1)
    return pd.DataFrame(
        {
            "person_id": [f"p{i}" for i in range(n)] * 2,
            "timepoint": ["start"] * n + ["end"] * n,
            "score": np.r_[pre, post],
            "scale": "x",
        }
    )


# --------------------------------------------------------------------------- figures


@pytest.mark.parametrize("lang", ["en", "sv"])
def test_paired_change_figure_draws_no_person(lang):
    """Review item 5: the figure's artists do not grow with n and no line has > 2 points."""
    import matplotlib.pyplot as plt
    from matplotlib.collections import Collection

    from kureval.plots.prepost import plot_paired_change

    counts = []
    for n in (12, 400):
        res = prepost(_pairs(n), higher_is_better=True)
        ax = plot_paired_change(res, "x", lang=lang, min_cell=5)
        assert all(len(line.get_xdata()) <= 2 for line in ax.lines)
        assert not [c for c in ax.get_children() if isinstance(c, Collection)]  # no scatter
        counts.append((len(ax.lines), len(ax.patches)))
        row = res.table.iloc[0]
        to = "till" if lang == "sv" else "to"
        assert f" {to} " in ax.get_title()
        diff = f"{row.mean_diff:.2f}"
        assert (diff.replace(".", ",") if lang == "sv" else diff) in ax.get_title()
    assert counts[0] == counts[1] and counts[0][0] <= 20
    small = plot_paired_change(prepost(_pairs(4), higher_is_better=True), "x", min_cell=5)
    assert not small.lines and not small.patches and small.texts[0].get_text() == "n < 5"
    plt.close("all")


def test_swedish_tick_labels_use_decimal_comma():
    """Review item 9: tick labels of the Swedish figures have a decimal comma."""
    import matplotlib.pyplot as plt

    from kureval.plots.prepost import plot_forest

    res = prepost(_pairs(50), higher_is_better=True)
    texts = {}
    for lang in ("en", "sv"):
        ax = plot_forest(res, lang=lang)
        ax.set_xlim(0, 1)
        ax.set_xticks([0, 0.25, 0.5])
        ax.figure.canvas.draw()
        texts[lang] = [tl.get_text() for tl in ax.get_xticklabels()]
        assert "positive = improvement" in ax.get_xlabel() or "positivt = förbättring" in (
            ax.get_xlabel()
        )
    assert texts["en"] == ["0.00", "0.25", "0.50"] or texts["en"] == ["0", "0.25", "0.5"]
    assert texts["sv"] == ["0", "0,25", "0,5"]
    plt.close("all")


# --------------------------------------------------------------------------- the built page


@pytest.fixture(scope="session", params=["en", "sv"])
def page(request, demo_path, tmp_path_factory):
    """The self-rating page built from the demo study alone (tables as DataFrames of text)."""
    from kureval.report.build import build

    lang = request.param
    root = tmp_path_factory.mktemp(f"sr_{lang}")
    nbs = root / "nb"
    nbs.mkdir()
    shutil.copy(NOTEBOOK, nbs / NOTEBOOK.name)
    build(str(demo_path), str(root / "out"), lang=lang, notebooks_dir=str(nbs))
    tables = {
        p.stem: pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        for p in (root / "out" / "tables").glob("selfrating_*.csv")
    }
    html = (root / "out" / NOTEBOOK.with_suffix(".html").name).read_text(encoding="utf-8")
    return lang, tables, html


@pytest.fixture(scope="session")
def demo_results(demo_path):
    import kureval as kv
    from kureval.instruments.score import score_study

    study = kv.load_study(demo_path)
    scores, unscored = score_study(study, return_excluded=True)
    ids = set(study.participants.loc[study.participants.programme == PROGRAMME, "person_id"])
    scores = scores[scores.person_id.isin(ids)]
    unscored = unscored[unscored.person_id.isin(ids)]
    lg = kv.longitudinal(
        scores, timepoints=list(study.config.timepoints), participants=study.participants
    )
    return study, scores, unscored, lg


def _hidden(v: str) -> bool:
    return v.startswith("<") and v[1:].isdigit() or v == ".."


def test_caseness_p_blank_wherever_a_cell_is_suppressed(page):
    """Review item 1: a suppressed transition cell blanks the row's McNemar p-value."""
    lang, tables, _ = page
    tab = tables["selfrating_caseness"]
    cells = tab.iloc[:, 3:7]
    p = tab.iloc[:, 7]
    any_hidden = cells.map(_hidden).any(axis=1)
    assert any_hidden.any()  # the demo has one (WHO-5), so the test is not vacuous
    assert (p[any_hidden] == "").all() and (p[~any_hidden] != "").all()
    assert not tab.iloc[:, 1].str.contains(">=|<=").any()  # "≥ 8", "≤ 50"


def test_attrition_smd_only_for_categories_with_large_counts(page, demo_results):
    """Review item 2: no standardised difference for a category with 1 … min_cell − 1 persons
    among those retained or lost; the scale of "score at start" is named (item 13)."""
    lang, tables, _ = page
    study, _, _, lg = demo_results
    tab = tables["selfrating_attrition"]
    att = lg.attrition[lg.attrition.scale == "hads_anxiety"].reset_index(drop=True)
    assert len(tab) == len(att)
    smd = tab.iloc[:, 6]
    level = att.level.notna()
    small = level & (
        att.k_retained.between(1, study.config.min_cell - 1)
        | att.k_lost.between(1, study.config.min_cell - 1)
    )
    assert small.any()  # "other / not stated" has one person
    assert (smd[small.to_numpy()] == "").all()
    assert (smd[(~level).to_numpy()] != "").all()  # continuous rows keep their SMD
    assert tab.iloc[0, 1].startswith(("Score at start (HADS", "Poäng vid start (HADS"))


def test_scoring_exclusions_shown_per_scale(page, demo_results):
    """Review item 7: the unscored answers are published per scale, matching score_study."""
    lang, tables, html = page
    study, _, unscored, _ = demo_results
    tab = tables["selfrating_unscored"]
    total = tab.iloc[:, -1]
    expected = unscored.groupby("scale").size()
    assert len(tab) == len(expected)
    shown = [int(v) for v in total if not _hidden(v)]
    big = sorted(int(n) for n in expected if n >= study.config.min_cell)
    assert sorted(shown) == big
    # the pre/post table splits "lost" into no answer + not scorable
    pp = tables["selfrating_prepost"]
    lost, no_answer, bad = (pp.iloc[:, k] for k in (2, 3, 4))
    for a, b, c in zip(lost, no_answer, bad, strict=True):
        if not (_hidden(b) or _hidden(c)):
            assert int(a) == int(b) + int(c)
        else:
            assert _hidden(b) and _hidden(c)  # never exactly one hidden part beside its total


def test_shares_table_explains_blank_cells(page):
    """Review items 12-13: "–" = not applicable; a suppressed reliable-change count shows its mark."""
    lang, tables, html = page
    tab = tables["selfrating_shares"]
    rel = tab.iloc[:, -2:]
    assert (rel != "").all().all()
    assert ("–" in html) and ("not applicable" in html or "ej tillämpligt" in html)


def test_swedish_page_has_no_english_number_format(page):
    """Review item 9: CIs "a till b", p-values "<0,001", decimal commas in the methods text."""
    lang, tables, html = page
    pp = tables["selfrating_prepost"]
    text = re.sub(r"<[^>]+>", " ", html)
    if lang == "sv":
        assert pp.iloc[:, 7].str.contains(" till ").all()
        assert not pp.iloc[:, 7].str.contains(" to ").any()
        assert "<0.001" not in html and "&lt;0.001" not in html
        assert "&lt;0,001" in html or "<0,001" in html
        assert re.search(r"HADS ångest \(0–21\) 1,5 \(", text)
        assert ">= 8" not in text and "&gt;= 8" not in html
    else:
        assert pp.iloc[:, 7].str.contains(" to ").all()


def test_unscored_rows_agree_with_the_exclusions_log(demo_path):
    """The page counts unscored answers from ``score_study(return_excluded=True)`` (so it can
    keep the programme's persons only); over all persons they equal the log's step "scoring"."""
    import kureval as kv
    from kureval.instruments.score import score_study

    study = kv.load_study(demo_path)
    _, unscored = score_study(study, return_excluded=True)
    log = study.exclusions.table
    log = log[log.step == "scoring"].set_index("reason")["n"].astype(int)
    assert len(log) and unscored.groupby("reason").size().to_dict() == log.to_dict()
