"""Study-level entry points of the public API (DESIGN.md §5).

These functions join layers that must not import each other (the study
contract and the instrument registry, the register and the matcher), which
is why they live here, in the delivery layer, and not in either layer.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from kureval.reference.match import MatchResult
    from kureval.study.model import Study

__all__ = ["load_study", "match_reference", "score"]


def load_study(path: str | Path, persons: Iterable[Any] | None = None) -> Study:
    """Read and validate a study folder (``study.toml`` + tables).

    Every table is checked against the data contract and every questionnaire
    answer against its instrument (item numbers, ranges, value sets); all
    problems are raised together in one :class:`kureval.DataError`.

    Parameters
    ----------
    path : str or Path
        The study folder, for example ``"data/raw/demo"``.
    persons : iterable of person ids, optional
        Read the register tables (population, visits, sick leave,
        dispensations) only for these persons — typically the matched sets,
        ``persons=match.matched["id"]`` — so that windows and outcomes of a
        large register fit in memory.  Parquet files are filtered while they
        are read (pyarrow; pandas alone would build the whole 60-M-row frame
        first); other formats are read whole, then filtered.  The rows kept
        are checked exactly as in a full load, with their row numbers in the
        file; ids not in ``register/population`` are a
        :class:`kureval.ConfigError`.  Participants and questionnaire answers
        are always read whole.  Such a study cannot be matched
        (:func:`match_reference` raises); see
        :func:`kureval.study.io.load_study` for the details.

    Returns
    -------
    Study
        The validated study with typed tables and an exclusions log (a
        person-filtered load records the register rows it did not read, step
        ``load``).

    Examples
    --------
    >>> import kureval as kv
    >>> study = kv.load_study("data/raw/demo")                  # doctest: +SKIP
    >>> m = kv.match_reference(study)                           # doctest: +SKIP
    >>> few = kv.load_study("data/raw/demo", persons=m.matched["id"])  # doctest: +SKIP
    >>> w = kv.register_windows(few, m)                         # doctest: +SKIP
    """
    from kureval.instruments.registry import response_problems
    from kureval.study.io import load_study as _load

    return _load(Path(path), extra_checks=(response_problems,), persons=persons)


def score(study: Study) -> pd.DataFrame:
    """Score every questionnaire of ``study`` (see :func:`kureval.instruments.score.score_study`)."""
    from kureval.instruments.score import score_study

    return score_study(study, return_excluded=False)  # type: ignore[return-value]


def match_reference(study: Study) -> MatchResult:
    """Choose matched reference persons for the study's participants (see
    :func:`kureval.reference.study.match_reference`).

    Raises
    ------
    ConfigError
        The study was loaded with ``persons=`` (its register tables hold only
        some persons, so candidates and their covariates would be wrong);
        load it without ``persons=`` to match.
    """
    from kureval.reference.study import match_reference as _match

    return _match(study)
