"""The reference-group report section: display tables, figures and the built page (3.0).

Privacy checks do not trust the suppression routine: every published flow
table is attacked with linear programming (each hidden cell's smallest and
largest value given the visible cells, the totals and the bounds "<5" ∈
[1, min_cell − 1], ".." ≥ 0), and every histogram bin is counted again.
"""

from __future__ import annotations

import dataclasses
import math
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

import kureval as kv
from kureval.plots import reference as refplots
from kureval.reference.balance import balance
from kureval.report.privacy import suppress_counts

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "3.0-reference-group.ipynb"


@pytest.fixture(scope="module")
def result(demo_study):
    return kv.match_reference(demo_study)


# ------------------------------------------------------------------ flow table


def _fake(rows: list[tuple[str, str, int]], ratio: int = 5) -> SimpleNamespace:
    flow = pd.DataFrame(rows, columns=["stage", "reason", "n"])
    return SimpleNamespace(spec=SimpleNamespace(ratio=ratio), flow=lambda: flow)


def _hidden_ranges(shown: pd.DataFrame, raw: pd.DataFrame, min_cell: int) -> dict:
    """For each hidden cell, [min, max] of its value given what is published (LP bounds)."""
    labels = list(raw.index)
    pos = {lab: i for i, lab in enumerate(labels)}
    bounds = []
    for lab in labels:
        v = shown.at[lab, "n"]
        if v == f"<{min_cell}":
            bounds.append((1, min_cell - 1))
        elif v == "..":
            bounds.append((1, None))  # secondary cells are never zeros
        else:
            bounds.append((int(v), int(v)))
    a_eq, b_eq = [], []
    for tot, parts in raw.attrs["total_rows"].items():
        row = np.zeros(len(labels))
        row[pos[tot]] = 1
        for p in parts:
            row[pos[p]] -= 1
        a_eq.append(row)
        b_eq.append(0.0)
    out = {}
    for lab in labels:
        if not isinstance(shown.at[lab, "n"], str):
            continue
        c = np.zeros(len(labels))
        c[pos[lab]] = 1
        lo = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=bounds).fun
        hi = linprog(-c, A_eq=a_eq, b_eq=b_eq, bounds=bounds)
        out[lab] = (lo, math.inf if hi.status == 3 else -hi.fun)
    return out


FLOWS = {
    # the review's case: 118 = 94 + 11 + 1 + 1 + 11 (both hidden cells were 1)
    "review": [
        ("to_match", "", 118),
        ("all_k", "", 94),
        ("fewer", "none_within_caliper", 11),
        ("fewer", "pool_exhausted", 1),
        ("none", "no_candidate_in_stratum", 1),
        ("none", "none_within_caliper", 11),
    ],
    "tiny subgroups": [
        ("programme", "", 60),
        ("excluded", "not_in_population", 2),
        ("excluded", "no_index_date", 7),
        ("to_match", "", 51),
        ("all_k", "", 45),
        ("fewer", "none_within_caliper", 1),
        ("fewer", "pool_exhausted", 1),
        ("none", "none_within_caliper", 4),
    ],
    "one small reason": [
        ("to_match", "", 40),
        ("all_k", "", 38),
        ("none", "no_candidate_in_stratum", 2),
    ],
}


def _random_flows(n: int, seed: int = 1) -> list[list[tuple[str, str, int]]]:
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        small = [0, 1, 2, 3, 4, 5, 8, 12]
        ex = [
            ("excluded", k, int(rng.choice(small))) for k in ("not_in_population", "no_index_date")
        ]
        fw = [
            ("fewer", k, int(rng.choice(small))) for k in ("none_within_caliper", "pool_exhausted")
        ]
        nn = [
            ("none", k, int(rng.choice(small)))
            for k in ("no_candidate_in_stratum", "none_within_caliper")
        ]
        ex, fw, nn = ([e for e in g if e[2] > 0] for g in (ex, fw, nn))
        all_k = int(rng.integers(0, 60))
        to_match = all_k + sum(e[2] for e in fw + nn)
        if to_match:
            top = [("programme", "", to_match + sum(e[2] for e in ex)), *ex] if ex else []
            out.append([*top, ("to_match", "", to_match), ("all_k", "", all_k), *fw, *nn])
    return out


for _k, _rows in enumerate(_random_flows(60)):
    FLOWS[f"random {_k:02d}"] = _rows


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_flow_table_hidden_cells_cannot_be_solved(name):
    raw = refplots.flow_display(_fake(FLOWS[name]), "en")
    shown = refplots.suppress_flow(raw, min_cell=5)
    small = [v for v in shown["n"] if not isinstance(v, str) and 0 < v < 5]
    assert not small  # no count 1..4 printed
    ranges = _hidden_ranges(shown, raw, 5)
    if not name.startswith("random"):
        assert ranges  # every hand-made case has something to hide
    for lab, (lo, hi) in ranges.items():
        assert hi == math.inf or math.floor(hi + 1e-9) > math.ceil(lo - 1e-9), (name, lab, lo, hi)


def test_suppress_counts_alone_is_solvable_in_the_review_case():
    # why suppress_flow audits with bounds: suppress_counts leaves 118 = 94 + 11 + 1 + 1 + 11
    flat = pd.DataFrame({"n": [118, 94, 11, 1, 1, 11]}, index=list("TAabcd"))
    flat.attrs["total_rows"] = {"T": list("Aabcd")}
    shown = suppress_counts(flat, ["n"], min_cell=5, total_rows=flat.attrs["total_rows"])
    assert _hidden_ranges(shown, flat, 5) == {"b": (1.0, 1.0), "c": (1.0, 1.0)}
    safe = refplots.suppress_flow(flat, min_cell=5)
    for lo, hi in _hidden_ranges(safe, flat, 5).values():
        assert math.floor(hi + 1e-9) > math.ceil(lo - 1e-9)


def test_suppress_flow_keeps_suppress_counts_when_safe(result):
    raw = refplots.flow_display(result, "en")
    plain = suppress_counts(raw, ["n"], min_cell=5, total_rows=raw.attrs["total_rows"])
    pd.testing.assert_frame_equal(refplots.suppress_flow(raw, 5), plain)


def test_flow_rows_add_up_and_matched_sets_agree_with_units(result):
    raw = refplots.flow_display(result, "en")
    n = raw["n"]
    for tot, parts in raw.attrs["total_rows"].items():
        assert n[tot] == sum(n[p] for p in parts), tot
    u = result.units
    with_reference = int(((u["treat"] == 1) & (u["weight"] > 0)).sum())
    label = refplots.t("ref_stage_matched_any", "en")
    # the register section counts matched sets as result.matched["set_id"].nunique()
    assert n[label] == with_reference == result.matched["set_id"].nunique()


def test_flow_figure_shows_no_more_than_the_table(result):
    raw = refplots.flow_display(result, "en")
    shown = refplots.suppress_flow(raw, min_cell=5)
    ax = refplots.plot_flow(result, lang="en", shown=shown)
    texts = [x.get_text() for x in ax.texts]
    assert texts == [str(v) for v in shown["n"]]
    widths = [p.get_width() for p in ax.patches]
    for w, v in zip(widths, shown["n"], strict=True):
        assert w == (0 if isinstance(v, str) else v)
    ax.figure.clf()


# ------------------------------------------------------------------ propensity histogram


def _check_bins(res, edges, dropped, min_cell):
    u = res.units
    d = u["distance"].to_numpy()
    t1, used = (u["treat"] == 1).to_numpy(), (u["weight"] > 0).to_numpy()
    drawn = {
        "participants_before": t1,
        "references_before": ~t1,
        "participants_after": t1 & used,
        "references_after": ~t1 & used,
    }
    left_out = {"participants_before": t1 & ~used, "references_before": ~t1 & ~used}
    masks = [m for g, m in drawn.items() if g not in dropped]
    shown = d[np.logical_or.reduce(masks)]
    assert edges[0] < shown.min() and edges[-1] > shown.max()  # round edges, not a person's score
    masks += [m for g, m in left_out.items() if g not in dropped]  # before − after
    for mask in masks:
        counts, _ = np.histogram(d[mask], edges)
        assert counts.sum() == mask.sum()
        assert np.all((counts == 0) | (counts >= min_cell)), counts
    return len(edges) - 1


def test_propensity_bins_hold_no_small_counts(result):
    for min_cell in (3, 5, 10):
        edges, dropped = refplots.propensity_bins(result, min_cell=min_cell)
        assert "references_after" not in dropped and "participants_after" not in dropped
        assert _check_bins(result, edges, dropped, min_cell) >= 5  # still a histogram


@pytest.mark.parametrize("seed", range(5))
def test_propensity_bins_random_units(seed):
    rng = np.random.default_rng(seed)
    n_t, n_c = int(rng.integers(8, 60)), int(rng.integers(50, 400))
    units = pd.DataFrame(
        {
            "treat": np.r_[np.ones(n_t, int), np.zeros(n_c, int)],
            "distance": np.r_[rng.normal(0.5, 1, n_t), rng.normal(0, 1.5, n_c)],
            "weight": np.r_[rng.random(n_t) < 0.9, (rng.random(n_c) < 0.3) * rng.random(n_c)],
        }
    )
    res = SimpleNamespace(units=units)
    edges, dropped = refplots.propensity_bins(res, min_cell=5)
    _check_bins(res, edges, dropped, 5)


def test_propensity_before_dropped_when_few_were_left_out():
    # 2 of 20 participants unmatched: before − after bars would locate them
    units = pd.DataFrame(
        {
            "treat": [1] * 20 + [0] * 60,
            "distance": np.r_[np.linspace(0, 1, 20), np.linspace(0, 1, 60)],
            "weight": np.r_[np.ones(18), 0, 0, np.ones(20), np.zeros(40)],
        }
    )
    res = SimpleNamespace(units=units, spec=SimpleNamespace(link="logit"))
    edges, dropped = refplots.propensity_bins(res, min_cell=5)
    assert dropped == ["participants_before"]
    ax = refplots.plot_propensity(res, lang="en", min_cell=5)
    labels = [x.get_text() for x in ax.get_legend().get_texts()]
    assert refplots.group_label("participants_before", "en") not in labels
    ax.figure.clf()


def test_propensity_group_too_small_is_left_out():
    units = pd.DataFrame(
        {"treat": [1, 1, 1] + [0] * 40, "distance": np.linspace(0, 1, 43), "weight": 1.0}
    )
    edges, dropped = refplots.propensity_bins(SimpleNamespace(units=units), min_cell=5)
    assert dropped == ["participants_before", "participants_after"]


# ------------------------------------------------------------------ text and tables


@pytest.mark.parametrize("period", ["day", "week", "month"])
def test_intro_and_method_follow_the_config(demo_study, result, period):
    cfg = dataclasses.replace(demo_study.config.reference, index_period=period)
    for lang in ("en", "sv"):
        intro = refplots.intro_text(cfg, lang)
        method = refplots.method_text(result, lang, config=cfg)
        want = refplots.t(f"ref_exact_index_{period}", lang)
        assert want in intro and want in method
        for raw_name in ("age_band", "diagnosis_group", "index_period"):
            assert raw_name not in intro and raw_name not in method
    assert "index month" not in refplots.intro_text(
        dataclasses.replace(cfg, index_period="week"), "en"
    )


def test_swedish_numbers_use_decimal_comma(result):
    method = refplots.method_text(result, "sv")
    assert "0,2 standardavvikelser" in method
    assert not re.search(r"\d\.\d", method)
    tab = refplots.balance_display(balance(result), "sv")
    cells = tab.to_numpy().ravel()
    assert not any(re.search(r"\d\.\d", c) for c in cells)
    assert any("," in c for c in cells)


def test_settings_keep_their_decimals():
    assert refplots.format_as_given(0.1, "en") == "0.1"
    assert refplots.format_as_given(0.05, "sv") == "0,05"
    assert refplots.format_as_given(0.25, "en") == "0.25"


def test_balance_table_not_applicable_and_no_negative_zero(result):
    bal = balance(result)
    tab = refplots.balance_display(bal, "en")
    cells = tab.to_numpy().ravel()
    assert not any(c in ("nan", "NaN", "") or c.startswith("-0.000") for c in cells)
    binary = refplots.term_label("any_N06A", "en")
    vr = [c for c in tab.columns if c[1] == refplots.t("ref_col_var_ratio", "en")]
    assert all(tab.loc[binary, c] == "\u2013" for c in vr)
    # a value that rounds to zero from below is shown as 0.000
    fake = SimpleNamespace(
        table=pd.DataFrame(
            {
                "term": ["age", "age"],
                "sample": ["before", "after"],
                "mean_treated": [1.0, 1.0],
                "mean_control": [1.0, 1.0],
                "smd": [-0.0001, -0.0004],
                "var_ratio": [1.0, np.nan],
                "ecdf_max": [0.1, 0.1],
            }
        )
    )
    shown = refplots.balance_display(fake, "en")
    assert "-0.000" not in shown.to_numpy().ravel()


# ------------------------------------------------------------------ figures


def _draw(ax):
    ax.figure.canvas.draw()
    return ax.figure.canvas.get_renderer()


@pytest.mark.parametrize("lang", ["en", "sv"])
def test_tick_labels_and_legends(result, lang):
    bal = balance(result)
    for ax in (
        refplots.plot_love(bal, lang=lang),
        refplots.plot_propensity(result, lang=lang),
    ):
        renderer = _draw(ax)
        labels = [x.get_text() for x in ax.get_xticklabels() + ax.get_yticklabels()]
        numeric = [s for s in labels if re.fullmatch(r"[\u2212\-]?[\d.,]+", s)]
        assert numeric
        if lang == "sv":
            assert not any("." in s for s in numeric)
            assert any("," in s for s in numeric)
        # the legend lies outside the axes' data region
        leg = ax.get_legend().get_window_extent(renderer)
        box = ax.get_window_extent(renderer)
        assert not leg.overlaps(box), (leg, box)
        ax.figure.clf()


# ------------------------------------------------------------------ the built page


@pytest.mark.parametrize("lang", ["en", "sv"])
def test_built_page_shows_every_figure_and_no_paths(demo_path, tmp_path, lang):
    from kureval.report.build import build

    nb_dir = tmp_path / "nb"
    nb_dir.mkdir()
    shutil.copy(NOTEBOOK, nb_dir / NOTEBOOK.name)
    out = tmp_path / "out"
    build(demo_path, out, lang=lang, notebooks_dir=nb_dir, verbose=False)
    page = (out / "3.0-reference-group.html").read_text("utf-8")
    figures = sorted((out / "figures").glob("reference_*.png"))
    assert len(figures) >= 3
    assert page.count("<img") >= len(figures)
    assert "PosixPath" not in page and str(tmp_path) not in page
    text = re.sub(r"data:image/[^\"']+", "", page)
    assert "index month" not in text and "nan" not in re.sub(r"<[^>]+>", " ", text).split()
    flow = pd.read_csv(out / "tables" / "reference_flow.csv", dtype=str)
    assert not any(v in {"1", "2", "3", "4"} for v in flow.iloc[:, 1])
    if lang == "sv":
        prose = re.sub(r"<(style|script|footer)\b.*?</\1>", "", text, flags=re.S)
        prose = re.sub(r"<[^>]+>", " ", prose)
        body = prose[prose.find("Matchad referensgrupp") :]
        assert not re.search(r"\b\d+\.\d+\b", body), re.findall(r".{30}\b\d+\.\d+\b.{10}", body)
