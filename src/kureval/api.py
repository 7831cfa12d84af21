"""Study-level entry points of the public API (DESIGN.md §5).

These functions join layers that must not import each other (the study
contract and the instrument registry, the register and the matcher), which
is why they live here, in the delivery layer, and not in either layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from kureval.reference.match import MatchResult
    from kureval.study.model import Study

__all__ = ["load_study", "match_reference", "score"]


def load_study(path: str | Path) -> Study:
    """Read and validate a study folder (``study.toml`` + tables).

    Every table is checked against the data contract and every questionnaire
    answer against its instrument (item numbers, ranges, value sets); all
    problems are raised together in one :class:`kureval.DataError`.

    Parameters
    ----------
    path : str or Path
        The study folder, for example ``"data/raw/demo"``.

    Returns
    -------
    Study
        The validated study with typed tables and an exclusions log.
    """
    from kureval.instruments.registry import response_problems
    from kureval.study.io import load_study as _load

    return _load(Path(path), extra_checks=(response_problems,))


def score(study: Study) -> pd.DataFrame:
    """Score every questionnaire of ``study`` (see :func:`kureval.instruments.score.score_study`)."""
    from kureval.instruments.score import score_study

    return score_study(study, return_excluded=False)  # type: ignore[return-value]


def match_reference(study: Study) -> MatchResult:
    """Choose matched reference persons for the study's participants (see
    :func:`kureval.reference.study.match_reference`)."""
    from kureval.reference.study import match_reference as _match

    return _match(study)
