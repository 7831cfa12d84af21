"""caseness(by=...) refuses a person whose subgroup differs between time points, as prepost does."""

from __future__ import annotations

import pandas as pd
import pytest

from kureval.errors import DataError
from kureval.selfrating.caseness import caseness


def _scores(site_end: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "person_id": ["a", "a", "b", "b"],
            "timepoint": ["start", "end", "start", "end"],
            "scale": "hads_anxiety",
            "score": [12.0, 6.0, 9.0, 9.0],
            "site": ["Lund", site_end, "Malmö", "Malmö"],
        }
    )


def test_consistent_subgroups_are_used():
    res = caseness(_scores("Lund"), "hads_anxiety", threshold=8, by="site")
    assert set(res.table["site"]) == {"Lund", "Malmö"}


def test_subgroup_changing_between_time_points_is_an_error():
    with pytest.raises(DataError, match="subgroup differs") as err:
        caseness(_scores("Malmö"), "hads_anxiety", threshold=8, by="site")
    assert err.value.problems[0].value == ("hads_anxiety", "a")
