"""EQ-5D index values against published test vectors (tests/results/instruments/)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from kureval.errors import ConfigError, DataError
from kureval.instruments import eq5d

RESULTS = Path(__file__).parent / "results" / "instruments"
VECTORS = pd.read_csv(RESULTS / "eq5d_vectors.csv", dtype={"state": str})


def _levels(states: pd.Series) -> np.ndarray:
    return np.array([[int(c) for c in s] for s in states])


@pytest.mark.parametrize("value_set", sorted(eq5d.VALUE_SETS))
def test_published_vectors(value_set: str) -> None:
    rows = VECTORS[VECTORS.value_set == value_set]
    assert len(rows) >= 3, f"every value set needs published test vectors ({value_set})"
    version = eq5d.VALUE_SETS[value_set]
    got = eq5d.index(_levels(rows.state), version=version, value_set=value_set).to_numpy()
    # the sources report 3 decimals; testthat's `tolerance` is relative
    tol = np.maximum(rows.tolerance.to_numpy() * np.abs(rows.expected.to_numpy()), 1e-9)
    diff = np.abs(np.round(got, 3) - rows.expected.to_numpy())
    assert (diff <= tol + 1e-12).all(), rows.assign(got=got)[diff > tol + 1e-12]


def test_full_precision_values_from_coefficients() -> None:
    # Sweden 3L 12321: 0.9694 - SC2 0.0276 - UA3 0.1355 - PD2 0.0345 - any level 3 0.0433
    got = eq5d.index([[1, 2, 3, 2, 1]], version="3L", value_set="SE_3L_Burstrom2014").iloc[0]
    assert_allclose(got, 0.9694 - 0.0276 - 0.1355 - 0.0345 - 0.0433, rtol=0, atol=1e-12)
    # Sweden 5L 2020 55555 includes the any-level-5 term −0.0023
    got = eq5d.index([[5, 5, 5, 5, 5]], version="5L", value_set="SE_5L_Burstrom2020").iloc[0]
    assert_allclose(got, 0.9755 - 0.0523 - 0.0824 - 0.1639 - 0.1974 - 0.2339 - 0.0023, atol=1e-12)


def test_published_index_ranges() -> None:
    # worst and best states as published (Dolan 1997; Sun 2022; Jensen 2021; Devlin 2018; Burström 2014/2020)
    expected = {
        "UK_3L_Dolan1997": (-0.594, 1),
        "SE_5L_Sun2022": (-0.314, 1),
        "DK_5L_Jensen2021": (-0.758, 1),
        "EN_5L_Devlin2018": (-0.285, 1),
        "SE_3L_Burstrom2014": (0.340, 0.9694),
        "SE_5L_Burstrom2020": (0.243, 0.9755),
        "DK_3L_Wittrup2009": (-0.624, 1),
    }
    for vs, (lo, hi) in expected.items():
        table = eq5d.state_table(vs)
        assert_allclose([table.min(), table.max()], [lo, hi], atol=5e-4)


def test_instrument_defined_mid_reproduces_luo_2010() -> None:
    # Luo et al. 2010 (Med Care 48:365-371): UK EQ-5D-3L instrument-defined MID 0.082
    assert_allclose(eq5d.instrument_defined_mid("UK_3L_Dolan1997"), 0.082, atol=5e-4)


def test_missing_dimension_gives_no_index() -> None:
    res = eq5d.score(
        [[1, 1, np.nan, 1, 1], [1, 1, 1, 1, 1]], version="5L", value_set="SE_5L_Sun2022"
    )
    assert np.isnan(res["eq5d_index", "score"].iloc[0])
    assert res["eq5d_index", "n_missing"].tolist() == [1, 0]
    assert res["eq5d_index", "score"].iloc[1] == 1.0


def test_dimension_names_accepted() -> None:
    df = pd.DataFrame({"MO": [2], "SC": [1], "UA": [1], "PD": [1], "AD": [1]})
    assert_allclose(eq5d.index(df, version="5L", value_set="EN_5L_Devlin2018"), [0.942])


def test_value_set_must_be_named_and_match_version() -> None:
    with pytest.raises(ConfigError) as err:
        eq5d.index([[1, 1, 1, 1, 1]], version="5L", value_set="SE_5L_Sun2021")
    assert "SE_5L_Sun2022" in str(err.value) and "UK_3L_Dolan1997" in str(err.value)
    with pytest.raises(ConfigError, match="EQ-5D-3L"):
        eq5d.index([[1, 1, 1, 1, 1]], version="3L", value_set="SE_5L_Sun2022")
    with pytest.raises(TypeError):
        eq5d.index([[1, 1, 1, 1, 1]], version="5L")  # type: ignore[call-arg]


def test_levels_out_of_range_listed() -> None:
    with pytest.raises(DataError) as err:
        eq5d.index([[1, 4, 1, 1, 1], [0, 1, 1, 1, 2.5]], version="3L", value_set="UK_3L_Dolan1997")
    assert len(err.value.problems) == 3


@pytest.mark.parametrize("value_set", sorted(eq5d.VALUE_SETS))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_worse_level_never_raises_index(value_set: str, data: st.DataObject) -> None:
    n = eq5d.LEVELS[eq5d.VALUE_SETS[value_set]]
    state = data.draw(st.lists(st.integers(1, n), min_size=5, max_size=5))
    dim = data.draw(st.integers(0, 4))
    if state[dim] == n:
        return
    worse = list(state)
    worse[dim] += 1
    idx = eq5d.index(
        [state, worse], version=eq5d.VALUE_SETS[value_set], value_set=value_set
    ).to_numpy()
    assert idx[1] <= idx[0] + 1e-12


@pytest.mark.parametrize("value_set", sorted(eq5d.VALUE_SETS))
def test_every_state_monotone_exhaustive(value_set: str) -> None:
    # exhaustive version of the property above: all states × dimensions
    n = eq5d.LEVELS[eq5d.VALUE_SETS[value_set]]
    table = eq5d.state_table(value_set).reshape((n,) * 5)
    for d in range(5):
        assert (np.diff(table, axis=d) <= 1e-12).all()


SUITE = pd.read_csv(RESULTS / "eq5d_eq5dsuite_vectors.csv", dtype={"state": str})


@pytest.mark.parametrize("value_set", sorted(SUITE.value_set.unique()))
def test_eq5dsuite_state_values(value_set: str) -> None:
    # independent tabulation (EuroQol's eq5dsuite project): 3L at float32 precision, 5L at 3 decimals
    rows = SUITE[SUITE.value_set == value_set]
    got = eq5d.index(_levels(rows.state), version=eq5d.VALUE_SETS[value_set], value_set=value_set)
    assert_allclose(
        got.to_numpy(), rows.expected.to_numpy(), rtol=0, atol=float(rows.atol.iloc[0]) + 1e-9
    )


def test_swedish_3l_full_health_is_the_model_constant() -> None:
    # Burström 2014's model gives 11111 = 0.9694 (eq5d R package: 0.969); eq5dsuite
    # lists 11111 = 1 by convention. kureval follows the published model.
    got = eq5d.index([[1, 1, 1, 1, 1]], version="3L", value_set="SE_3L_Burstrom2014").iloc[0]
    assert got == 0.9694
