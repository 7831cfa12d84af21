"""kureval.reference.study.match_reference on the demo study (pool + match from study.toml)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from kureval.errors import ConfigError
from kureval.reference.balance import balance
from kureval.reference.study import match_reference


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from kureval.study.demo import generate
    from kureval.study.io import load_study

    path = generate(tmp_path_factory.mktemp("demo") / "demo")
    return load_study(path)


@pytest.fixture(scope="module")
def result(demo):
    return match_reference(demo)


def test_references_take_their_participants_index_date_and_stratum(demo, result):
    m = result.matched
    cfg = demo.config.reference
    assert {"id", "treat", "set_id", "weight", "distance", "index_date", *cfg.covariates} <= set(
        m.columns
    )
    for col in [*cfg.exact, "index_date"]:
        per_set = m.groupby("set_id")[col].nunique()
        assert (per_set == 1).all(), col
    p = demo.participants.set_index("person_id")
    t = m[m.treat == 1]
    assert (
        t["index_date"].to_numpy() == pd.to_datetime(p.loc[t["id"], "start_date"]).to_numpy()
    ).all()


def test_each_register_person_serves_once_and_within_caliper(demo, result):
    m = result.matched
    refs = m[m.treat == 0]
    assert refs["id"].is_unique
    assert not set(refs["id"]) & set(
        demo.participants["person_id"]
    )  # exclude_participants = "ever"
    assert refs.groupby("set_id").size().max() <= demo.config.reference.ratio
    d_t = m[m.treat == 1].set_index("set_id")["distance"]
    gap = np.abs(refs["distance"].to_numpy() - d_t.loc[refs["set_id"]].to_numpy())
    assert gap.max() <= result.spec.caliper_width


def test_every_participant_is_accounted_for(demo, result):
    n_prog = int((demo.participants["programme"] == demo.config.reference.programme).sum())
    flow = result.pool_flow.set_index("step")["n"]
    assert flow["participants in the programme"] == n_prog
    n_matched = result.matched["set_id"].nunique()
    full = result.matched[result.matched.treat == 0].groupby("set_id").size()
    n_full = int((full == demo.config.reference.ratio).sum())
    # participants with all k references + those listed with a reason = all placed participants
    assert n_full + len(result.unmatched) == flow["participants to match"]
    assert n_matched <= flow["participants to match"]
    log = demo.exclusions.table
    ref_log = log[log["step"] == "reference"]
    assert ref_log["n"].sum() == len(result.unmatched) + len(result.excluded)


def test_matching_improves_balance(result):
    wide = balance(result).wide().set_index("term")
    assert abs(wide.loc["distance", "after"]) < abs(wide.loc["distance", "before"])
    assert abs(wide.loc["distance", "after"]) < 0.05


def test_study_without_reference_section_is_a_config_error(demo):
    bare = dataclasses.replace(demo, config=dataclasses.replace(demo.config, reference=None))
    with pytest.raises(ConfigError, match=r"\[reference\]"):
        match_reference(bare)


def test_participant_missing_from_population_is_counted(demo):
    pop = demo.population
    first = demo.participants.loc[
        demo.participants["programme"] == demo.config.reference.programme, "person_id"
    ].iloc[0]
    less = dataclasses.replace(demo, population=pop[pop["person_id"] != first])
    res = match_reference(less)
    assert res.excluded.set_index("person_id")["reason"].to_dict() == {first: "not_in_population"}
    assert first not in set(res.matched["id"])


@pytest.mark.parametrize("lang", ["en", "sv"])
def test_figures_and_display_tables(result, lang):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kureval.plots import reference as refplots
    from kureval.report.privacy import suppress_counts

    bal = balance(result)
    ax = refplots.plot_love(bal, lang=lang)
    assert ax.get_xlabel() and len(ax.get_yticklabels()) == len(bal.wide())
    ax2 = refplots.plot_propensity(result, lang=lang)
    assert ax2.get_xlabel() and ax2.get_ylabel()
    flow = refplots.flow_display(result, lang)
    shown = suppress_counts(flow, ["n"], min_cell=5, total_rows=flow.attrs["total_rows"])
    ax3 = refplots.plot_flow(result, lang=lang, shown=shown)
    assert ax3.get_xlabel()
    # the flow's rows add up: participants to match = all k + fewer + none
    f = result.flow().groupby("stage")["n"].sum()
    assert f["to_match"] == f["all_k"] + f.get("fewer", 0) + f.get("none", 0)
    text = refplots.method_text(result, lang)
    assert str(result.spec.ratio) in text
    plt.close("all")
