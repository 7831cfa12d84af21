"""Scoring rules of the questionnaire scales: hand-worked examples, published
tables, band edges, and property tests (hypothesis)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from kureval.errors import DataError
from kureval.instruments import generic, hads, k6, single, ucla3, wemwbs, who5
from kureval.instruments.registry import INSTRUMENTS, STANDARD_SCALES, scale_info
from kureval.instruments.score import score_instrument

RESULTS = Path(__file__).parent / "results" / "instruments"
NA = np.nan


def _hads(anx: list[float], dep: list[float]) -> list[float]:
    out: list[float] = []
    for a, d in zip(anx, dep, strict=True):
        out += [a, d]
    return out


# ---------------------------------------------------------------- HADS
def test_hads_complete_and_band_edges() -> None:
    rows = [
        _hads([0, 1, 1, 1, 1, 2, 1], [1, 1, 2, 2, 1, 1, 0]),  # A = 7 (normal), D = 8 (borderline)
        _hads([3, 3, 1, 1, 1, 1, 0], [3, 3, 3, 2, 0, 0, 0]),  # A = 10 (borderline), D = 11 (case)
        _hads([0] * 7, [3] * 7),  # A = 0, D = 21
    ]
    res = hads.score(rows)
    assert res["hads_anxiety", "score"].tolist() == [7, 10, 0]
    assert res["hads_depression", "score"].tolist() == [8, 11, 21]
    assert res["hads_anxiety", "band"].tolist() == ["normal", "borderline", "normal"]
    assert res["hads_depression", "band"].tolist() == ["borderline", "case", "case"]
    assert res["hads_depression", "case"].tolist() == [False, True, True]
    assert not res["hads_anxiety", "imputed"].any()


def test_hads_prorating_rounds_half_up() -> None:
    rows = [
        _hads([3, 3, 1, 1, 1, 0, NA], [0] * 7),  # 9 × 7/6 = 10.5 → 11 (half-to-even would give 10)
        _hads([3, 3, 1, 1, 0, 0, NA], [0] * 7),  # 8 × 7/6 = 9.33 → 9
        _hads([1, 1, 1, 0, 0, 0, NA], [0] * 7),  # 3 × 7/6 = 3.5 → 4
        _hads([3, 3, 3, 3, 3, 3, NA], [0] * 7),  # 18 × 7/6 = 21
        _hads([3, 3, 1, 1, 0, NA, NA], [0] * 7),  # 2 missing: not scored by default
    ]
    res = hads.score(rows)
    assert_array_equal(res["hads_anxiety", "score"].to_numpy(), [11, 9, 4, 21, NA])
    assert res["hads_anxiety", "band"].iloc[0] == "case"
    assert res["hads_anxiety", "imputed"].tolist() == [True, True, True, True, False]
    assert res["hads_anxiety", "n_missing"].tolist() == [1, 1, 1, 1, 2]
    assert pd.isna(res["hads_anxiety", "band"].iloc[4]) and pd.isna(
        res["hads_anxiety", "case"].iloc[4]
    )
    # relaxing the rule to 2 missing: 8 × 7/5 = 11.2 → 11
    assert hads.score(rows, max_missing=2)["hads_anxiety", "score"].iloc[4] == 11


def test_hads_dataframe_input_and_errors() -> None:
    df = pd.DataFrame({i: [1] for i in range(1, 14)})  # item 14 absent → missing
    res = hads.score(df)
    assert (
        res["hads_depression", "score"].iloc[0] == 7 and res["hads_depression", "imputed"].iloc[0]
    )
    with pytest.raises(DataError) as err:
        hads.score([[4] + [0] * 12 + [1.5]])
    assert len(err.value.problems) == 2
    with pytest.raises(DataError):
        hads.score(pd.DataFrame({15: [1]}))


# ---------------------------------------------------------------- WHO-5
def test_who5_band_edges() -> None:
    rows = [[1, 1, 1, 1, 3], [1, 1, 1, 1, 4], [2, 2, 2, 3, 3], [3, 3, 2, 2, 3], [5] * 5, [0] * 5]
    res = who5.score(rows)  # raw 7, 8, 12, 13, 25, 0
    assert res["who5", "score"].tolist() == [28, 32, 48, 52, 100, 0]
    assert res["who5", "band"].tolist() == [
        "likely_depression",
        "poor",
        "poor",
        "adequate",
        "adequate",
        "likely_depression",
    ]
    assert res["who5", "case"].tolist() == [True, True, True, False, False, True]


def test_who5_complete_only_by_default() -> None:
    res = who5.score([[3, 3, 3, 3, NA]])
    assert np.isnan(res["who5", "score"].iloc[0])
    res = who5.score([[3, 3, 3, 2, NA]], max_missing=1)  # 11 × 5/4 = 13.75 → 14 → 56
    assert res["who5", "score"].iloc[0] == 56 and res["who5", "imputed"].iloc[0]


# ---------------------------------------------------------------- (S)WEMWBS
def test_swemwbs_full_conversion_table() -> None:
    published = pd.read_csv(RESULTS / "swemwbs_conversion_published.csv")
    raws = published.raw.to_numpy()
    # one item vector per raw sum: spread the sum over 7 items of 1..5
    items = np.ones((len(raws), 7))
    for i, r in enumerate(raws):
        extra = r - 7
        for j in range(7):
            add = min(4, extra)
            items[i, j] += add
            extra -= add
    assert_array_equal(items.sum(axis=1), raws)
    res = wemwbs.score_swemwbs(items)
    assert_allclose(
        res["swemwbs", "score"].to_numpy(), published.metric.to_numpy(), rtol=0, atol=1e-12
    )
    assert_allclose(wemwbs.swemwbs_metric(raws), published.metric.to_numpy(), rtol=0, atol=1e-12)


def test_swemwbs_missing_and_prorating() -> None:
    res = wemwbs.score_swemwbs([[3, 3, 3, 3, 3, 3, NA]])
    assert np.isnan(res["swemwbs", "score"].iloc[0])
    res = wemwbs.score_swemwbs(
        [[3, 3, 3, 3, 3, 4, NA]], max_missing=1
    )  # 19 × 7/6 = 22.17 → 22 → 19.98
    assert_allclose(res["swemwbs", "score"].iloc[0], 19.98)


def test_wemwbs_sum() -> None:
    res = wemwbs.score_wemwbs([[1] * 14, [5] * 14, [3] * 13 + [NA]])
    assert_array_equal(res["wemwbs", "score"].to_numpy(), [14, 70, NA])


# ---------------------------------------------------------------- single items
def test_single_items() -> None:
    srh = single.score_srh([1, 2, 3, 5, NA])
    assert_array_equal(srh["srh_good", "score"].to_numpy(), [1, 1, 0, 0, NA])
    assert srh["srh", "band"].tolist()[:4] == ["very_good", "good", "fair", "very_bad"]
    was = single.score_was([0, 5, 6, 7, 8, 10])
    assert was["was", "band"].tolist() == ["poor", "poor", "moderate", "moderate", "good", "good"]
    assert single.score_eqvas([0, 100])["eq_vas", "score"].tolist() == [0, 100]
    with pytest.raises(DataError):
        single.score_pain([11])
    with pytest.raises(DataError):
        single.score_eqvas([50.5])


def test_k6_bands_and_caseness() -> None:
    rows = [[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 0], [2, 2, 2, 2, 2, 2], [3, 2, 2, 2, 2, 2], [4] * 6]
    res = k6.score(rows)  # 4, 5, 12, 13, 24
    assert res["k6", "score"].tolist() == [4, 5, 12, 13, 24]
    assert res["k6", "band"].tolist() == ["low", "moderate", "moderate", "serious", "serious"]
    assert res["k6", "case"].tolist() == [False, False, False, True, True]


def test_ucla3() -> None:
    res = ucla3.score([[1, 1, 1], [3, 3, 3], [2, 2, 2]], case_threshold=6)
    assert res["ucla3", "score"].tolist() == [3, 9, 6]
    assert res["ucla3", "case"].tolist() == [False, True, True]
    assert ucla3.score([[1, 1, 1]])["ucla3", "case"].isna().all()


def test_generic_sum_and_mean() -> None:
    spec = generic.GenericScale(
        "steps", items=3, min=1, max=10, higher_is_better=True, max_missing=1
    )
    res = generic.score([[1, 2, 3], [4, 5, NA], [4, NA, NA]], spec)
    assert_array_equal(res["steps", "score"].to_numpy(), [6, 13.5, NA])  # 9 × 3/2, unrounded
    spec_mean = generic.GenericScale(
        "m",
        items=3,
        min=0,
        max=4,
        higher_is_better=False,
        method="mean",
        max_missing=1,
        integer=False,
    )
    res = generic.score([[1, 2, 3], [0.5, NA, 1.5]], spec_mean)
    assert_allclose(res["m", "score"].to_numpy(), [2, 1])
    assert spec.score_range == (3, 30) and spec_mean.score_range == (0, 4)


# ---------------------------------------------------------------- properties
def _default_options(code: str) -> dict[str, object]:
    return {"value_set": "SE_5L_Sun2022", "version": "5L"} if code == "eq5d" else {}


@pytest.mark.parametrize("code", sorted(INSTRUMENTS))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_scores_within_declared_range(code: str, data: st.DataObject) -> None:
    spec = INSTRUMENTS[code]
    opts = _default_options(code)
    mm = 0
    if "max_missing" in spec.options:
        mm = data.draw(st.integers(0, 1 if code != "hads" else 3))
        opts["max_missing"] = mm
    cell = st.one_of(st.integers(spec.item_min, spec.item_max).map(float), st.just(np.nan))
    rows = data.draw(
        st.lists(
            st.lists(cell, min_size=spec.n_items, max_size=spec.n_items), min_size=1, max_size=20
        )
    )
    m = np.array(rows, dtype=float)
    for res in score_instrument(code, opts, m):
        info = scale_info(res.scale, opts)
        ok = res.scored
        assert (res.score[ok] >= info.min - 1e-12).all() and (
            res.score[ok] <= info.max + 1e-12
        ).all()
        # prorating never beyond the allowed number of missing items
        assert (res.n_missing[ok] <= mm).all()
        assert_array_equal(res.imputed, ok & (res.n_missing > 0))
        if res.band is not None:
            assert_array_equal(pd.isna(np.asarray(res.band.astype(object))), ~ok)


def test_every_standard_scale_has_metadata() -> None:
    scales = {s for spec in INSTRUMENTS.values() for s in spec.scales}
    assert scales == set(STANDARD_SCALES)


def test_wemwbs_can_derive_swemwbs() -> None:
    items = np.full((1, 14), 2.0)
    items[0, [0, 1, 2, 5, 6, 8, 10]] = 3.0  # the SWEMWBS items: raw 21 → 19.25
    res = {r.scale: r for r in score_instrument("wemwbs", {"derive_swemwbs": True}, items)}
    assert res["wemwbs"].score[0] == 7 * 3 + 7 * 2
    assert_allclose(res["swemwbs"].score[0], 19.25)


def test_public_functions_reachable_from_the_package() -> None:
    import kureval as kv

    res = kv.instruments.hads.score([[0] * 14])
    assert res["hads_anxiety", "score"].iloc[0] == 0


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_generic_scores_within_declared_range(data: st.DataObject) -> None:
    k = data.draw(st.integers(1, 6))
    lo = data.draw(st.integers(-3, 3))
    hi = lo + data.draw(st.integers(1, 10))
    spec = generic.GenericScale(
        "g",
        items=k,
        min=lo,
        max=hi,
        higher_is_better=True,
        method=data.draw(st.sampled_from(["sum", "mean"])),
        max_missing=data.draw(st.integers(0, k - 1)),
    )
    cell = st.one_of(st.integers(lo, hi).map(float), st.just(np.nan))
    m = np.array(
        data.draw(st.lists(st.lists(cell, min_size=k, max_size=k), min_size=1, max_size=15))
    )
    (res,) = generic.score_matrix(m, spec)
    ok = res.scored
    smin, smax = spec.score_range
    assert ((res.score[ok] >= smin - 1e-9) & (res.score[ok] <= smax + 1e-9)).all()
    assert (res.n_missing[ok] <= spec.max_missing).all()
    assert_array_equal(ok, (res.n_missing <= spec.max_missing) & (res.n_missing < k))
