"""kureval.reference.match against R MatchIt 4.7.2 (tests/results/matchit/, made by matchit_fixtures.R)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from kureval.errors import ConfigError, DataError
from kureval.reference.match import match

RESULTS = Path(__file__).parent / "results" / "matchit"
COVARIATES = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
CONFIGS = {
    "nn1": {},
    "nn1_caliper": {"caliper": 0.2},
    "nn1_logit_caliper": {"link": "logit", "caliper": 0.2},
    "nn2_caliper": {"caliper": 0.2, "ratio": 2},
    "nn1_exact_race": {"exact": ["race"]},
    "nn1_replace": {"replace": True},
}


@pytest.fixture(scope="module")
def lalonde() -> pd.DataFrame:
    return pd.read_csv(RESULTS / "lalonde.csv")


def _pad(s: str) -> str:
    # get_matches() (replace = TRUE) writes row names unpadded: NSW1 -> NSW001
    m = re.fullmatch(r"([A-Z]+)(\d+)", s)
    assert m is not None
    return f"{m[1]}{int(m[2]):03d}"


def _reference(name: str) -> pd.DataFrame:
    ref = pd.read_csv(RESULTS / f"{name}_matched.csv")
    ref["id"] = ref["id"].map(_pad)
    return ref


def _sets(df: pd.DataFrame, col: str) -> dict[str, list[str]]:
    """participant id -> sorted reference ids of its set."""
    out = {}
    for _, g in df.groupby(col):
        out[g.loc[g.treat == 1, "id"].iloc[0]] = sorted(g.loc[g.treat == 0, "id"])
    return out


@pytest.mark.parametrize("name", list(CONFIGS))
def test_matched_sets_equal_matchit(lalonde, name):
    res = match(lalonde, "treat", covariates=COVARIATES, id="id", **CONFIGS[name])
    ref = _reference(name)
    assert _sets(res.matched, "set_id") == _sets(ref, "subclass")
    # set numbering: MatchIt numbers subclasses in data (= id) order of the participant
    got = res.matched[res.matched.treat == 1].set_index("id")["set_id"]
    want = ref[ref.treat == 1].set_index("id")["subclass"]
    assert_array_equal(got.loc[want.index].to_numpy(), want.to_numpy())


@pytest.mark.parametrize("name", list(CONFIGS))
def test_weights_and_distances_equal_matchit(lalonde, name):
    res = match(lalonde, "treat", covariates=COVARIATES, id="id", **CONFIGS[name])
    ref = _reference(name).sort_values(["subclass", "treat", "id"], ascending=[True, False, True])
    got = res.matched.sort_values(["set_id", "treat", "id"], ascending=[True, False, True])
    assert_array_equal(got["id"].to_numpy(), ref["id"].to_numpy())
    assert_allclose(got["weight"].to_numpy(), ref["weights"].to_numpy(), rtol=1e-12)
    assert_allclose(got["distance"].to_numpy(), ref["distance"].to_numpy(), atol=1e-6)


def test_caliper_width_uses_sd_of_distance_over_all_units(lalonde):
    res = match(lalonde, "treat", covariates=COVARIATES, id="id", caliper=0.2)
    d = res.units["distance"].to_numpy()
    assert_allclose(res.spec.caliper_sd, np.std(d, ddof=1))
    assert_allclose(res.spec.caliper_width, 0.2 * np.std(d, ddof=1))
    # every pair inside the caliper
    m = res.matched
    td = m[m.treat == 1].set_index("set_id")["distance"]
    gap = np.abs(
        m.loc[m.treat == 0, "distance"].to_numpy()
        - td.loc[m.loc[m.treat == 0, "set_id"]].to_numpy()
    )
    assert gap.max() <= res.spec.caliper_width


@pytest.mark.parametrize("name", list(CONFIGS))
def test_shuffled_rows_give_identical_matches(lalonde, name):
    a = match(lalonde, "treat", covariates=COVARIATES, id="id", **CONFIGS[name])
    shuffled = lalonde.sample(frac=1.0, random_state=7)
    b = match(shuffled, "treat", covariates=COVARIATES, id="id", **CONFIGS[name])
    pd.testing.assert_frame_equal(
        a.matched.drop(columns="distance"), b.matched.drop(columns="distance")
    )
    pd.testing.assert_frame_equal(a.unmatched, b.unmatched)


def test_bookkeeping_k_to_one(lalonde):
    res = match(
        lalonde, "treat", covariates=COVARIATES, id="id", caliper=0.1, ratio=3, exact=["married"]
    )
    m = res.matched
    refs = m[m.treat == 0]
    assert refs["id"].is_unique  # each reference used at most once
    per_set = refs.groupby("set_id").size()
    assert per_set.max() <= 3
    married = lalonde.set_index("id")["married"]
    for _, g in m.groupby("set_id"):
        assert married.loc[g["id"]].nunique() == 1  # within the exact stratum
    # participants with < 3 references are listed with a reason; the others are not
    n_t = lalonde.treat.sum()
    short = set(res.unmatched["id"])
    full = set(per_set[per_set == 3].index)
    assert len(short) + len(full) == n_t
    assert set(res.unmatched["reason"]) <= {
        "none_within_caliper",
        "pool_exhausted",
        "no_candidate_in_stratum",
    }
    got_n = refs.groupby("set_id").size()
    sets = m[m.treat == 1].set_index("id")["set_id"]
    for _, row in res.unmatched.iterrows():
        n = int(got_n.get(sets.get(row["id"], -1), 0))
        assert n == row["n_matched"] < 3


def test_narrow_caliper_is_counted_not_silent(lalonde):
    d = lalonde.assign(score=np.arange(len(lalonde), dtype=float))  # every unit 1 apart
    res = match(d, "treat", distance="score", caliper=0.5, std_caliper=False, id="id")
    assert len(res.matched) == 0
    assert len(res.unmatched) == lalonde.treat.sum()
    assert set(res.unmatched["reason"]) == {"none_within_caliper"}
    assert "too few candidates within the caliper: 185" in str(res)


def test_pool_exhausted_and_empty_stratum_reasons():
    d = pd.DataFrame(
        {
            "id": ["a", "b", "c", "x", "y"],
            "t": [1, 1, 1, 0, 0],
            "s": [0.5, 0.6, 0.7, 0.55, 0.9],
            "g": ["u", "u", "v", "u", "u"],
        }
    )
    res = match(d, "t", distance="s", exact=["g"], id="id")
    # b (0.6, largest in stratum u) takes x (0.55: nearer than y at 0.9), a gets y; c has no stratum mates
    assert _sets(res.matched, "set_id") == {"a": ["y"], "b": ["x"]}
    assert res.unmatched.set_index("id")["reason"].to_dict() == {"c": "no_candidate_in_stratum"}
    res2 = match(d.iloc[[0, 1, 3]], "t", distance="s", id="id")
    assert res2.unmatched.set_index("id")["reason"].to_dict() == {"a": "pool_exhausted"}


def test_ties_broken_by_id_not_row_order():
    # three candidates at exactly the participant's distance.  MatchIt run on the data sorted
    # by id (c1, c3, t2, u1) scans left and right from t2 alternately, left first: c3 and u1
    # are both one position away, so the left one, c3, wins -- whatever the row order.
    d = pd.DataFrame({"id": ["u1", "c1", "t2", "c3"], "t": [0, 0, 1, 0], "s": [0.5, 0.5, 0.5, 0.5]})
    for seed in range(6):
        res = match(d.sample(frac=1, random_state=seed), "t", distance="s", id="id")
        assert _sets(res.matched, "set_id") == {"t2": ["c3"]}
    # sorted a, b, c, d with b, c participants: c, visited first (order="data"), finds a two
    # positions left and d one position right, so takes d; b then takes a
    d2 = pd.DataFrame(
        {"id": ["c", "b", "a", "d"], "t": [1, 1, 0, 0], "s": [0.5] * 4, "row": range(4)}
    )
    res = match(d2, "t", distance="s", id="id", order="data")
    assert _sets(res.matched, "set_id") == {"b": ["a"], "c": ["d"]}


def test_order_largest_and_smallest_differ_as_documented():
    d = pd.DataFrame({"id": ["t1", "t2", "c1"], "t": [1, 1, 0], "s": [0.4, 0.6, 0.5]})
    big = match(d, "t", distance="s", id="id", order="largest")
    small = match(d, "t", distance="s", id="id", order="smallest")
    assert _sets(big.matched, "set_id") == {"t2": ["c1"]}
    assert _sets(small.matched, "set_id") == {"t1": ["c1"]}


def test_random_order_is_seeded():
    rng = np.random.default_rng(1)
    d = pd.DataFrame(
        {"id": [f"p{i:03d}" for i in range(60)], "t": [1] * 20 + [0] * 40, "s": rng.random(60)}
    )
    a = match(d, "t", distance="s", id="id", order="random", seed=3)
    b = match(d.sample(frac=1, random_state=2), "t", distance="s", id="id", order="random", seed=3)
    pd.testing.assert_frame_equal(a.matched, b.matched)


def test_bad_arguments_listed_together(lalonde):
    with pytest.raises(ConfigError) as err:
        match(
            lalonde,
            "treat",
            covariates=COVARIATES,
            link="probit",
            ratio=0,
            order="closest",
            caliper=-1,
        )
    assert len(err.value.problems) == 4


def test_bad_data_listed(lalonde):
    d = lalonde.copy()
    d.loc[3, "treat"] = 2
    d.loc[5, "id"] = d.loc[6, "id"]
    with pytest.raises(DataError) as err:
        match(d, "treat", covariates=COVARIATES, id="id")
    cols = {p.column for p in err.value.problems}
    assert cols == {"treat", "id"}


def test_constant_covariate_and_separation_are_errors(lalonde):
    with pytest.raises(DataError, match="varies"):
        match(lalonde.assign(k=1.0), "treat", covariates=["age", "k"], id="id")
    sep = lalonde.assign(x=lalonde["treat"] * 10.0 + np.linspace(0, 1, len(lalonde)))
    with pytest.raises(DataError, match="separate"):
        match(sep, "treat", covariates=["x"], id="id")


def test_summary_text_states_what_was_done(lalonde):
    res = match(lalonde, "treat", covariates=COVARIATES, id="id", caliper=0.2, ratio=2)
    text = str(res)
    assert "2:1 without replacement, estimand ATT" in text
    assert "0.2 SD of the distance (SD over all units" in text
    assert "participants: 185 before, 113 matched" in text
    assert "<pre>" in res._repr_html_()


def test_unit_id_person_used_once_across_strata():
    # person P has a candidate row in both periods; without unit it would serve both participants
    d = pd.DataFrame(
        {
            "row": ["1|A", "2|B", "1|P", "2|P", "1|Q", "2|R"],
            "person": ["A", "B", "P", "P", "Q", "R"],
            "t": [1, 1, 0, 0, 0, 0],
            "period": [1, 2, 1, 2, 1, 2],
            "s": [0.50, 0.60, 0.51, 0.61, 0.40, 0.90],
        }
    )
    plain = match(d, "t", distance="s", exact=["period"], id="row")
    assert _sets(plain.matched, "set_id") == {"1|A": ["1|P"], "2|B": ["2|P"]}
    once = match(d, "t", distance="s", exact=["period"], id="row", unit="person")
    # B (0.60) is visited first (largest distance) and takes P; A then takes Q
    assert _sets(once.matched, "set_id") == {"1|A": ["1|Q"], "2|B": ["2|P"]}
    refs = once.matched[once.matched.treat == 0]
    assert d.set_index("row").loc[refs["id"], "person"].is_unique


def test_unit_matching_with_unique_persons_equals_matchit(lalonde):
    # one row per person: the global-order unit-id path must give MatchIt's exact-race result
    res = match(lalonde, "treat", covariates=COVARIATES, id="id", exact=["race"], unit="id")
    assert _sets(res.matched, "set_id") == _sets(_reference("nn1_exact_race"), "subclass")


def test_flow_adds_up(lalonde):
    res = match(lalonde, "treat", covariates=COVARIATES, id="id", caliper=0.2, ratio=2)
    f = res.flow()
    n = f.groupby("stage")["n"].sum()
    assert n["to_match"] == 185
    assert n["all_k"] + n.get("fewer", 0) + n.get("none", 0) == 185
    assert n["none"] == 185 - 113  # MatchIt matched 113 participants (nn2_caliper fixture)


def test_propensity_fit_equals_statsmodels_logit(lalonde):
    import statsmodels.api as sm

    from kureval.reference.propensity import design_matrix, fit_propensity

    fit = fit_propensity(lalonde, "treat", COVARIATES)
    x = sm.add_constant(design_matrix(lalonde, COVARIATES, drop_first=True))
    glm = sm.GLM(lalonde["treat"].astype(float), x, family=sm.families.Binomial())
    ref = glm.fit(method="IRLS", tol=1e-13, maxiter=200)
    assert_allclose(fit.params.to_numpy(), ref.params.to_numpy(), rtol=1e-8, atol=1e-10)
    assert_allclose(fit.probability, ref.predict(x), atol=1e-12)
    # persons with identical covariates get bit-identical scores (ties stay ties, as in R)
    dup = lalonde.duplicated(COVARIATES, keep=False).to_numpy()
    assert dup.sum() > 40
    key = lalonde.loc[dup, COVARIATES].astype(str).agg("|".join, axis=1)
    per_key = pd.Series(fit.probability[dup]).groupby(key.to_numpy()).nunique()
    assert (per_key == 1).all()


def test_stable_argsort_equals_numpy_stable():
    from kureval.reference.nearest import stable_argsort

    rng = np.random.default_rng(0)
    for _ in range(50):
        x = rng.integers(0, 20, size=int(rng.integers(1, 300))).astype(float)
        assert_array_equal(stable_argsort(x), np.argsort(x, kind="stable"))
    x = rng.normal(size=1000)
    assert_array_equal(stable_argsort(x), np.argsort(x, kind="stable"))


def test_collinear_covariates_are_an_error(lalonde):
    d = lalonde.assign(age2=lalonde["age"] * 2 + 1)
    with pytest.raises(DataError, match="collinear"):
        match(d, "treat", covariates=["age", "age2", "educ"], id="id")
