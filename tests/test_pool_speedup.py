"""The fast paths of the pool and the windows give exactly what the plain algorithms give.

Each fast helper is compared, bit for bit, with the straightforward pandas /
numpy computation it replaced (the oracle is written out in the test), on
random inputs with ties, missing values and unknown ids.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from kureval.reference import pool
from kureval.register import windows
from kureval.register.windows import pre_window_covariates, windows_from_tables
from kureval.study.register_config import RegisterConfig, WindowConfig

REG = RegisterConfig(
    data_start=dt.date(2019, 1, 1), data_end=dt.date(2021, 12, 31), atc_groups=("N06A", "N05")
)


@pytest.mark.parametrize("big", [False, True])
def test_sorted_events_is_the_stable_argsort(big: bool) -> None:
    rng = np.random.default_rng(3)
    code = rng.integers(0, 50, 5000) * (10**9 if big else 1)  # big: the argsort fallback
    day = rng.integers(17000, 17030, 5000)  # many ties of (code, day)
    skey, order = windows._sorted_events(code, day)
    expected = np.argsort(windows._key(code, day), kind="stable")
    np.testing.assert_array_equal(order, expected)
    np.testing.assert_array_equal(skey, windows._key(code, day)[expected])


@pytest.mark.parametrize(
    "values",
    [
        pd.Series(["b", "a", None, "b", "c"], dtype=object),
        pd.Series(["b", "a", None, "b"], dtype="str"),
        pd.Series(pd.Categorical(["x", None, "y", "x"], categories=["y", "x", "z"])),
    ],
)
def test_labels_equal_astype_str(values: pd.Series) -> None:
    codes, names = windows._labels(values)
    expected = values.astype(str).to_numpy(dtype=object)
    got = names[codes]
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert (g == e) or (pd.isna(g) and pd.isna(e))


def test_lookup_equals_get_indexer() -> None:
    index = pd.Index([f"R{i}" for i in range(100)])
    ids = pd.Series(["R5", "XX", "R99", "R0", "R5", "YY"], dtype="str")
    expected = index.get_indexer(pd.Index(ids))
    np.testing.assert_array_equal(windows._lookup(index, ids), expected)
    pd.testing.assert_series_equal(pool._is_in(ids, index), ids.isin(index))


def test_latest_group_equals_last_occurrence() -> None:
    rng = np.random.default_rng(4)
    person = rng.integers(0, 30, 400)
    group = rng.integers(0, 3, 400)
    rev_p, rev_g = person[::-1], group[::-1]
    uniq, first = np.unique(rev_p, return_index=True)
    expected = np.full(40, -1, dtype=np.int64)
    expected[uniq] = rev_g[first]
    np.testing.assert_array_equal(pool._latest_group(person, group, 40), expected)


@pytest.mark.parametrize("exact", [["sex"], ["sex", "age_band", "diagnosis_group"], ["age"]])
def test_strata_codes_equal_an_inner_merge_of_the_values(exact: list[str]) -> None:
    """Candidates kept by the integer-coded stratum test are those an inner merge of
    their text values with the participants' keys keeps (unknown values never match)."""
    from kureval.study.reference_config import ReferenceConfig

    rng = np.random.default_rng(5)
    n = 400
    population = pd.DataFrame(
        {
            "person_id": [f"R{i:03d}" for i in range(n)],
            "sex": rng.choice(["F", "M"], n),
            "birth_year": rng.integers(1950, 2000, n).astype(float),
            "in_register_from": pd.NaT,
            "exit_date": pd.NaT,
        }
    )
    groups = {"a": ("F32",), "b": ("F41",)}
    reg = pool._register(population, None, None, groups)
    cfg = ReferenceConfig(
        programme="P", covariates=("age",), exact=tuple(exact), diagnosis_groups=groups
    )
    anchor = pd.Timestamp("2020-03-01")
    idx = np.sort(rng.choice(n, 300, replace=False))
    g = rng.integers(0, 3, 300)  # 2 = "none"
    values = pd.DataFrame(
        {
            "sex": reg.sex_levels[reg.sex_code[idx]],
            "age": 2020.0 - reg.birth[idx],
            "age_band": pool._band(pd.Series(2020.0 - reg.birth[idx]), 10).to_numpy(),
            "diagnosis_group": np.array(["a", "b", "none"], dtype=object)[g],
        }
    )[exact]
    if exact == ["sex"]:
        keys = pd.DataFrame({"sex": ["F", "X"]})  # "X": a value no candidate has
    elif exact == ["age"]:
        keys = pd.concat([values.sample(8, random_state=1), pd.DataFrame({"age": [-1.0]})])
    else:
        keys = pd.concat(
            [values.sample(8, random_state=1), values.iloc[:1].assign(sex="X")],
            ignore_index=True,
        )
    inside = pool._in_strata_codes(anchor, idx, g, reg, cfg, keys)
    merged = values.reset_index().merge(keys.drop_duplicates(), on=exact, how="inner")
    np.testing.assert_array_equal(np.flatnonzero(inside), np.sort(merged["index"].to_numpy()))
    assert 0 < inside.sum() < len(idx)


def test_exact_variables_the_pool_does_not_define_are_refused() -> None:
    from kureval.errors import ConfigError
    from kureval.study.reference_config import ReferenceConfig

    cfg = ReferenceConfig(programme="P", covariates=("age",), exact=("sex", "municipality"))
    participants = pd.DataFrame(
        {
            "person_id": ["p1"],
            "programme": ["P"],
            "sex": ["F"],
            "birth_year": [1980],
            "start_date": pd.to_datetime(["2020-02-10"]),
        }
    )
    population = pd.DataFrame(
        {
            "person_id": ["p1", "c1"],
            "sex": ["F", "F"],
            "birth_year": [1980, 1981],
            "in_register_from": pd.NaT,
            "exit_date": pd.NaT,
        }
    )
    with pytest.raises(ConfigError, match="municipality"):
        pool.build_pool(participants, population, None, None, None, cfg, REG)


def _register(seed: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n = 60
    ids = [f"P{i:03d}" for i in range(n)]
    start = np.datetime64("2019-01-01")

    def dates(k: int) -> np.ndarray:
        return start + rng.integers(0, 1095, k).astype("timedelta64[D]")

    population = pd.DataFrame(
        {
            "person_id": ids,
            "in_register_from": np.where(rng.random(n) < 0.8, np.datetime64("NaT"), dates(n)),
            "exit_date": np.where(rng.random(n) < 0.8, np.datetime64("NaT"), dates(n)),
        }
    )
    nv = 3000
    care = rng.choice([*windows.CARE_TYPES, "other"], nv)
    vday = dates(nv)
    visits = pd.DataFrame(
        {
            "person_id": rng.choice([*ids, "ZZ"], nv),
            "date": vday,
            "care_type": pd.Categorical(care),
            "discharge_date": np.where(
                care == "psychiatry_inpatient",
                vday + rng.integers(0, 20, nv).astype("timedelta64[D]"),
                np.datetime64("NaT"),
            ),
        }
    )
    ns = 300
    sday = dates(ns)
    sick = pd.DataFrame(
        {
            "person_id": rng.choice(ids, ns),
            "start_date": sday,
            "end_date": sday + rng.integers(0, 60, ns).astype("timedelta64[D]"),
            "extent": rng.choice([25.0, 50.0, 100.0], ns),
        }
    )
    nd = 1500
    disp = pd.DataFrame(
        {
            "person_id": rng.choice(ids, nd),
            "date": dates(nd),
            "atc": rng.choice(["N06AB06", "N05BA01", "N02BE01", None], nd),
            "ddd": rng.choice([0.1, 0.7, 30.0, np.nan], nd),
        }
    )
    return {"population": population, "visits": visits, "sick": sick, "disp": disp}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pre_window_covariates_equal_windows_from_tables(seed: int) -> None:
    t = _register(seed)
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, len(t["population"]), 500)
    index_date = pd.Series(
        np.datetime64("2020-01-01") + rng.integers(0, 700, 500).astype("timedelta64[D]")
    )
    window = WindowConfig("pre", -365, -1)
    matched = pd.DataFrame(
        {
            "id": t["population"]["person_id"].to_numpy()[codes],
            "set_id": 0,
            "treat": 0,
            "weight": 1.0,
            "index_date": index_date,
        }
    )
    tables = (t["visits"], t["sick"], t["disp"])
    full = windows_from_tables(matched, t["population"], *tables, windows=(window,), register=REG)
    idx_day = index_date.to_numpy("datetime64[D]").astype(np.int64)
    fast = pre_window_covariates(codes, idx_day, t["population"], tables, window, REG)
    expected = full[fast.columns.tolist()].reset_index(drop=True)
    pd.testing.assert_frame_equal(fast, expected, check_exact=True)
    assert full.columns[9:].tolist() == fast.columns[1:].tolist()


def test_known_table_codes_give_the_same_covariates() -> None:
    t = _register(7)
    index = pd.Index(t["population"]["person_id"])
    known = {
        "visits": index.get_indexer(pd.Index(t["visits"]["person_id"])),
        "sick_leave": index.get_indexer(pd.Index(t["sick"]["person_id"])),
    }
    codes = np.arange(len(index))
    idx_day = np.full(len(index), 18500)
    tables = (t["visits"], t["sick"], t["disp"])
    window = WindowConfig("pre", -365, -1)
    plain = pre_window_covariates(codes, idx_day, t["population"], tables, window, REG)
    fast = pre_window_covariates(codes, idx_day, t["population"], tables, window, REG, known)
    pd.testing.assert_frame_equal(fast, plain, check_exact=True)
    assert plain["visits_primary_care"].sum() > 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_anchor_covariates_equal_pre_window_covariates(seed: int) -> None:
    """Per-anchor dense sums give what one query per row gives, truncated rows included."""
    t = _register(seed)
    rng = np.random.default_rng(seed + 10)
    anchors = (np.datetime64("2020-01-06") + 7 * np.arange(0, 80, 9)).astype(np.int64)
    groups = [(int(a), rng.integers(0, len(t["population"]), 40)) for a in anchors]
    codes = np.concatenate([g for _, g in groups])
    idx_day = np.concatenate([np.full(len(g), a) for a, g in groups])
    tables = (t["visits"], t["sick"], t["disp"])
    window = WindowConfig("pre", -365, -1)
    plain = pre_window_covariates(codes, idx_day, t["population"], tables, window, REG)
    dense = windows.anchor_covariates(groups, t["population"], tables, window, REG)
    assert dense.columns.tolist() == plain.columns.tolist()
    # extents 25/50/100 and DDDs 0.1/0.7/30: sums in another order may differ in the last bits
    pd.testing.assert_frame_equal(dense, plain, check_exact=False, rtol=1e-12, atol=1e-9)
    truncated = plain["exposure_days"].to_numpy() < 365
    assert truncated.any() and (~truncated).any()  # both paths exercised
    assert plain["inpatient_psychiatry_days"].sum() > 0 and plain["ddd_N06A"].sum() > 0


def test_anchor_covariates_computes_only_the_columns_asked_for() -> None:
    t = _register(4)
    groups = [(18400, np.arange(30)), (18450, np.arange(10, 60))]
    tables = (t["visits"], t["sick"], t["disp"])
    window = WindowConfig("pre", -365, -1)
    want = ["visits_specialist", "inpatient_psychiatry_days", "any_N06A"]
    every = windows.anchor_covariates(groups, t["population"], tables, window, REG)
    some = windows.anchor_covariates(groups, t["population"], tables, window, REG, columns=want)
    assert some.columns.tolist() == ["exposure_days", *want]
    pd.testing.assert_frame_equal(some, every[["exposure_days", *want]])


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_days_of_datetime_columns_equal_the_pandas_conversion(unit: str) -> None:
    values = pd.Series(
        [
            pd.Timestamp("1969-12-31 23:59"),
            pd.Timestamp("1900-03-01"),
            pd.NaT,
            pd.Timestamp("2021-06-30 12:00"),
            pd.Timestamp("1970-01-01"),
        ]
    ).astype(f"datetime64[{unit}]")
    expected = pd.to_datetime(pd.Series(values.astype(object))).to_numpy("datetime64[D]")
    np.testing.assert_array_equal(windows._days(values), expected.astype(np.int64))
    np.testing.assert_array_equal(windows._days(values.to_list()), expected.astype(np.int64))


@pytest.mark.parametrize("wide", [False, True])
def test_order_by_day_group_is_lexsort(wide: bool) -> None:
    rng = np.random.default_rng(8)
    day = rng.integers(17000, 17000 + (100_000 if wide else 40), 20_000)  # wide: the fallback
    group = rng.integers(0, 3, 20_000)  # many ties of (day, group)
    got = pool._order_by_day_group(day, group)
    np.testing.assert_array_equal(got, np.lexsort((group, day)))


def test_weighted_gram_in_blocks_equals_one_product() -> None:
    from kureval.reference import propensity

    rng = np.random.default_rng(9)
    x = np.asfortranarray(rng.normal(size=(10_000, 5)))
    w = rng.random(10_000)
    whole = x.T @ (x * w[:, None])
    one = propensity._weighted_gram(x, w, np.empty((10_000, 5), order="F"))
    blocks = propensity._weighted_gram(x, w, np.empty((1_024, 5), order="F"))  # 10 blocks
    np.testing.assert_allclose(one, whole, rtol=1e-13)
    np.testing.assert_allclose(blocks, whole, rtol=1e-12)
