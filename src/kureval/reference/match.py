"""Matched reference groups: greedy nearest-neighbour matching compatible with R MatchIt.

:func:`match` takes any DataFrame with one row per person (participants and
candidate reference persons) and returns a :class:`MatchResult`.  With the
same settings it reproduces R MatchIt (≥ 4.5.4; checked against 4.7.2)
``matchit(method = "nearest", distance = "glm")``: the same matched sets,
weights and distances (tests/results/matchit/).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kureval.reference.checks import ORDERS, canonical_order, check_data, validate
from kureval.reference.nearest import REASONS, Stratum, StratumOutcome, match_stratum
from kureval.reference.propensity import PropensityFit, fit_propensity

__all__ = ["ORDERS", "MatchResult", "MatchSpec", "match"]


@dataclass(frozen=True)
class MatchSpec:
    """What was done (the settings, after defaults and caliper scaling).

    ``caliper`` is as given; ``caliper_sd`` is the standard deviation (n − 1
    denominator) of the distance over **all** units, participants and
    candidates together, before matching (as MatchIt's ``std.caliper``);
    ``caliper_width`` is the caliper in distance units that was applied.
    """

    distance: str
    link: str
    covariates: tuple[str, ...]
    exact: tuple[str, ...]
    caliper: float | None
    std_caliper: bool
    caliper_sd: float | None
    caliper_width: float | None
    ratio: int
    replace: bool
    order: str
    seed: int | None
    id: str | None = None
    method: str = "nearest"
    estimand: str = "ATT"


@dataclass(frozen=True)
class MatchResult:
    """Result of :func:`match`.

    Attributes
    ----------
    matched : DataFrame
        One row per person in a matched set: ``id, treat (1/0), set_id,
        weight, distance``; sets numbered 1, 2, … in id order of their
        participant, the participant first.  Without replacement ``weight`` is
        MatchIt's ATT matching weight (``match.data()``): 1 for a participant,
        and for a reference Σ 1/kᵢ over the sets i it belongs to (kᵢ = references
        in set i), rescaled so the references' weights sum to their number.
        With replacement a reference appears once per set it serves, and
        ``weight`` is 1/kᵢ (MatchIt's ``get_matches()``); the per-person
        weights are in ``units``.
    unmatched : DataFrame
        Participants with fewer than ``ratio`` references: ``id, n_matched,
        reason`` (code) and ``reason_text``.  Codes:
        ``no_candidate_in_stratum`` (too few candidates in the exact stratum),
        ``none_within_caliper`` (too few candidates within the caliper),
        ``pool_exhausted`` (candidates within reach already used by others).
    spec : MatchSpec
    units : DataFrame
        Every input person in id order: ``id, treat, distance, stratum,
        weight`` (MatchIt ``match.data()`` weight; 0 = not in the matched sample).
    data : DataFrame
        The input rows in id order (for balance tables).
    propensity : PropensityFit or None
        The fitted model when ``distance="glm"``.
    pool_flow : DataFrame or None
        From a study-level match (:func:`kureval.reference.study.match_reference`):
        counts from participants to candidate rows (``step, n``).
    excluded : DataFrame or None
        Study-level match: participants who could not be placed in the
        register (``person_id, reason``).
    """

    matched: pd.DataFrame
    unmatched: pd.DataFrame
    spec: MatchSpec
    units: pd.DataFrame
    data: pd.DataFrame
    propensity: PropensityFit | None = None
    pool_flow: pd.DataFrame | None = None
    excluded: pd.DataFrame | None = None

    @property
    def table(self) -> pd.DataFrame:
        """The matched sets (same as ``matched``)."""
        return self.matched

    def _numbers(self) -> dict[str, float]:
        u = self.units
        used = (u["weight"] > 0).to_numpy()
        treat = (u["treat"] == 1).to_numpy()
        w = u["weight"].to_numpy()[used & ~treat]
        full = 0
        if len(self.matched):
            per_set = self.matched[self.matched["treat"] == 0].groupby("set_id").size()
            full = int((per_set >= self.spec.ratio).sum())
        return {
            "tb": int(treat.sum()),
            "cb": int((~treat).sum()),
            "tm": int((used & treat).sum()),
            "cm": int((used & ~treat).sum()),
            "tk": full,
            "ess": float(w.sum() ** 2 / (w**2).sum()) if w.size else 0.0,
        }

    def counts(self) -> pd.DataFrame:
        """Sample sizes: participants and candidates before matching and in the matched sample.

        ``ess`` is Kish's effective sample size (Σw)²/Σw² of the matched
        references' weights (the participants' weights are all 1).
        """
        n = self._numbers()
        return pd.DataFrame(
            {
                "group": ["participants", "references"],
                "before": [n["tb"], n["cb"]],
                "matched": [n["tm"], n["cm"]],
                "with_all_k": pd.array([n["tk"], pd.NA], dtype="Int64"),
                "ess": [float(n["tm"]), n["ess"]],
            }
        )

    def flow(self) -> pd.DataFrame:
        """Matching flow: ``stage, reason, n`` from participants to matched sets.

        Stages: ``programme`` (study-level matches only), ``excluded`` (one row
        per reason), ``to_match``, ``all_k`` (matched to ``ratio``
        references), ``fewer`` (1 … k − 1, one row per reason), ``none`` (no
        reference, one row per reason).
        """
        rows: list[tuple[str, str, int]] = []
        n_t = int((self.units["treat"] == 1).sum())
        if self.excluded is not None:
            rows.append(("programme", "", n_t + len(self.excluded)))
            for why, n in self.excluded["reason"].value_counts().sort_index().items():
                rows.append(("excluded", str(why), int(n)))
        rows.append(("to_match", "", n_t))
        rows.append(("all_k", "", n_t - len(self.unmatched)))
        um = self.unmatched
        for stage, part in (("fewer", um[um["n_matched"] > 0]), ("none", um[um["n_matched"] == 0])):
            for why, n in part["reason"].value_counts().sort_index().items():
                rows.append((stage, str(why), int(n)))
        return pd.DataFrame(rows, columns=["stage", "reason", "n"])

    def describe(self) -> str:
        """Plain-text account of what was done (method, distance, caliper, estimand, n)."""
        s = self.spec
        if s.distance == "glm":
            dist = f"propensity score from a logistic regression on {', '.join(s.covariates)}"
        else:
            dist = f"precomputed distance in column {s.distance!r}"
        scale = "probability" if s.link == "probability" else "logit (linear predictor)"
        lines = [
            f"Greedy nearest-neighbour matching, {s.ratio}:1 {'with' if s.replace else 'without'} "
            f"replacement, estimand {s.estimand} (MatchIt-compatible)",
            f" - distance: {dist}; scale: {scale}",
        ]
        if s.caliper is None:
            lines.append(" - caliper: none")
        elif s.std_caliper:
            lines.append(
                f" - caliper: {s.caliper:g} SD of the distance (SD over all units before "
                f"matching = {s.caliper_sd:.6g}), width {s.caliper_width:.6g} on the {s.link} scale"
            )
        else:
            lines.append(f" - caliper: {s.caliper:g} in raw {s.link}-scale units")
        lines.append(f" - exact matching on: {', '.join(s.exact) if s.exact else 'nothing'}")
        order = {
            "largest": "largest distance first",
            "smallest": "smallest distance first",
            "random": f"random (seed {s.seed})",
            "data": "order of the rows",
        }[s.order]
        lines.append(f" - matching order: {order}; ties broken by id")
        n = self._numbers()
        lines.append(
            f" - participants: {n['tb']} before, {n['tm']} matched ({n['tk']} with all {s.ratio} "
            f"references); candidates: {n['cb']} before, {n['cm']} used (ESS {n['ess']:.1f})"
        )
        if len(self.unmatched):
            for code, count in self.unmatched["reason"].value_counts().sort_index().items():
                lines.append(f"   fewer than {s.ratio} references — {REASONS[str(code)]}: {count}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.describe()

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.describe())}</pre>" + self.counts().to_html(index=False)


def match(
    data: pd.DataFrame,
    treat: str,
    *,
    covariates: Sequence[str] | None = None,
    distance: str = "glm",
    link: str = "probability",
    exact: Sequence[str] = (),
    caliper: float | None = None,
    std_caliper: bool = True,
    ratio: int = 1,
    replace: bool = False,
    order: str = "largest",
    seed: int | None = None,
    id: str | None = None,
    unit: str | None = None,
) -> MatchResult:
    """Match every participant to ``ratio`` reference persons (greedy nearest neighbour, ATT).

    Parameters
    ----------
    data : DataFrame
        One row per person: participants and candidate reference persons.
    treat : str
        Column with 1 for participants (the focal group) and 0 for candidates.
        Participants are always matched to candidates (ATT); the groups are
        never swapped, whatever their sizes.
    covariates : sequence of str, optional
        Propensity-model covariates (required when ``distance="glm"``).
        Text, category and bool columns are dummy-coded.  Also the default
        terms of :func:`kureval.reference.balance`.
    distance : str
        ``"glm"``: logistic propensity score (statsmodels GLM, as R's ``glm``);
        otherwise the name of a column holding a precomputed distance, used as
        it is (``link`` then only names its scale).
    link : {"probability", "logit"}
        Scale of the distance and the caliper: the fitted probability (MatchIt
        ``link = "logit"``) or the linear predictor (``"linear.logit"``).
    exact : sequence of str
        Variables matched exactly; matching runs separately in each stratum.
    caliper : float, optional
        Maximum allowed |distance difference|.  With ``std_caliper`` in SD
        units of the distance, the SD taken over all units (participants and
        candidates, n − 1 denominator) before matching, as MatchIt does;
        otherwise in raw distance units.
    ratio : int
        References per participant (k).  Without replacement they are chosen
        in k rounds (everybody's first, then everybody's second, …).
    replace : bool
        Whether a candidate may serve several participants.
    order : {"largest", "smallest", "random", "data"}
        Order in which participants choose: by distance (largest first is
        MatchIt's default), random (``seed``), or the order of the rows.
    seed : int, optional
        Seed of ``numpy.random.default_rng`` for ``order="random"``.
    id : str, optional
        Column with the person id (default: the index).  Ties in distance are
        broken by id, so shuffling the rows never changes the result (except
        with ``order="data"``, which is defined by the row order).
    unit : str, optional
        Column naming the person behind a row when one person has several
        candidate rows (e.g. one per index period).  Without replacement a
        person then serves at most one participant: once one of their rows is
        used, their other rows are skipped (MatchIt's ``unit.id``).  Matching
        then visits all participants in one global order (round by round)
        instead of stratum by stratum, as MatchIt does with ``unit.id``.

    Returns
    -------
    MatchResult

    Notes
    -----
    Algorithm and tie rules: :mod:`kureval.reference.nearest`.  No participants
    × candidates matrix is built.

    References
    ----------
    Ho, Imai, King & Stuart (2011). MatchIt: nonparametric preprocessing for
    parametric causal inference. J Stat Softw 42(8). doi:10.18637/jss.v042.i08
    """
    covariates = tuple(covariates or ())
    exact = tuple(exact)
    validate(data, treat, covariates, distance, link, exact, caliper, ratio, order, id, unit)
    ids = (data[id] if id else pd.Series(data.index, index=data.index)).reset_index(drop=True)
    canon = canonical_order(ids)
    t_raw = check_data(data.reset_index(drop=True), treat, ids, canon, distance, exact)
    df = data.reset_index(drop=True)
    if not np.array_equal(canon, np.arange(len(canon))):  # no copy when already in id order
        df = df.iloc[canon].reset_index(drop=True)
    tr = t_raw[canon].astype(bool)
    row = canon  # original row number of each canonical unit
    fit = None
    if distance == "glm":
        fit = fit_propensity(df, tr.astype(float), covariates)
        d = fit.distance(link)
    else:
        d = df[distance].to_numpy(dtype=float)
    sd = float(np.std(d, ddof=1)) if caliper is not None and std_caliper else None
    width = None if caliper is None else caliper * sd if sd is not None else float(caliper)
    spec = MatchSpec(
        distance,
        link,
        covariates,
        exact,
        caliper,
        bool(std_caliper),
        sd,
        width,
        int(ratio),
        bool(replace),
        order,
        seed,
        id,
    )
    strata = (
        df.groupby(list(exact), sort=True, dropna=False).ngroup().to_numpy()
        if exact
        else np.zeros(len(df), dtype=int)
    )
    rank = _visit_rank(d, tr, row, order, seed)
    if unit and not replace:
        persons = pd.factorize(df[unit])[0]
        matches, reasons = _run_units(d, tr, strata, rank, spec, persons)
    else:
        matches, reasons = _run(d, tr, strata, rank, spec)
    return _assemble(
        df, ids.iloc[canon].reset_index(drop=True), tr, d, strata, matches, reasons, spec, fit
    )


def _visit_rank(
    d: np.ndarray, tr: np.ndarray, row: np.ndarray, order: str, seed: int | None
) -> np.ndarray:
    """Rank of every participant in the matching order (−1 for candidates).

    Ties (equal distances) keep id order, as R's stable ``order()`` keeps data order.
    ``"random"`` permutes the participants in id order with ``default_rng(seed)``.
    """
    tidx = np.flatnonzero(tr)
    if order == "largest":
        key = np.argsort(-d[tidx], kind="stable")
    elif order == "smallest":
        key = np.argsort(d[tidx], kind="stable")
    elif order == "data":
        key = np.argsort(row[tidx], kind="stable")
    else:
        key = np.random.default_rng(seed).permutation(tidx.size)
    rank = np.full(d.size, -1, dtype=np.int64)
    rank[tidx[key]] = np.arange(tidx.size)
    return rank


def _run(
    d: np.ndarray, tr: np.ndarray, strata: np.ndarray, rank: np.ndarray, spec: MatchSpec
) -> tuple[dict[int, list[int]], dict[int, str]]:
    width = np.inf if spec.caliper_width is None else spec.caliper_width
    order = np.argsort(strata, kind="stable")
    bounds = np.flatnonzero(np.diff(strata[order])) + 1
    matches: dict[int, list[int]] = {}
    reasons: dict[int, str] = {}
    for members in np.split(order, bounds):
        t_local = np.flatnonzero(tr[members])
        if t_local.size == 0:
            continue
        visit = t_local[np.argsort(rank[members[t_local]], kind="stable")]
        res: StratumOutcome = match_stratum(
            d[members], tr[members], visit, ratio=spec.ratio, replace=spec.replace, width=width
        )
        for t, cs in res.matches.items():
            matches[int(members[t])] = [int(members[c]) for c in cs]
        for t, why in res.reasons.items():
            reasons[int(members[t])] = why
    return matches, reasons


def _run_units(
    d: np.ndarray,
    tr: np.ndarray,
    strata: np.ndarray,
    rank: np.ndarray,
    spec: MatchSpec,
    persons: np.ndarray,
) -> tuple[dict[int, list[int]], dict[int, str]]:
    """Matching without replacement where a person may have several candidate rows."""
    width = np.inf if spec.caliper_width is None else spec.caliper_width
    order = np.argsort(strata, kind="stable")
    bounds = np.flatnonzero(np.diff(strata[order])) + 1
    where: dict[int, tuple[Stratum, int, np.ndarray, np.ndarray]] = {}
    for members in np.split(order, bounds):
        if not tr[members].any():
            continue
        st = Stratum(d[members], tr[members], width)
        local_person = persons[members]
        for loc in np.flatnonzero(tr[members]):
            where[int(members[loc])] = (st, int(loc), members, local_person)
    taken = np.zeros(int(persons.max()) + 1, dtype=bool)
    active = sorted(where, key=lambda u: rank[u])
    matches: dict[int, list[int]] = {}
    reasons: dict[int, str] = {}
    for r in range(1, spec.ratio + 1):
        still = []
        for t in active:
            st, lt, members, local_person = where[int(t)]
            c = st.find(lt, taken, local_person) if st.pool.n_unused else -1
            if c < 0:
                reasons[t] = st.reason(lt, r)
                continue
            taken[local_person[c]] = True
            matches.setdefault(t, []).append(int(members[c]))
            still.append(t)
        active = still
    return matches, reasons


def _assemble(
    df: pd.DataFrame,
    ids: pd.Series,
    tr: np.ndarray,
    d: np.ndarray,
    strata: np.ndarray,
    matches: dict[int, list[int]],
    reasons: dict[int, str],
    spec: MatchSpec,
    fit: PropensityFit | None,
) -> MatchResult:
    n = d.size
    w = np.zeros(n)
    set_rows: list[tuple[int, int, int, float]] = []  # unit, treat, set, row weight
    for set_id, t in enumerate(sorted(matches), start=1):
        cs = matches[t]
        w[t] += 1.0
        set_rows.append((t, 1, set_id, 1.0))
        for c in cs:
            w[c] += 1.0 / len(cs)
            set_rows.append((c, 0, set_id, 1.0 / len(cs)))
    ctrl = ~tr & (w > 0)
    if ctrl.any():
        w[ctrl] *= ctrl.sum() / w[ctrl].sum()
    units = pd.DataFrame(
        {
            "id": ids,
            "treat": tr.astype(int),
            "distance": d,
            "stratum": strata,
            "weight": w,
        }
    )
    arr = np.array(set_rows, dtype=float).reshape(-1, 4)
    unit = arr[:, 0].astype(np.int64)
    matched = pd.DataFrame(
        {
            "id": ids.iloc[unit].to_numpy(),
            "treat": arr[:, 1].astype(int),
            "set_id": arr[:, 2].astype(int),
            "weight": arr[:, 3] if spec.replace else w[unit],
            "distance": d[unit],
        }
    )
    short = sorted(reasons)
    unmatched = pd.DataFrame(
        {
            "id": ids.iloc[short].to_numpy() if short else pd.Series([], dtype=object),
            "n_matched": [len(matches.get(t, [])) for t in short],
            "reason": [reasons[t] for t in short],
            "reason_text": [REASONS[reasons[t]] for t in short],
        }
    )
    return MatchResult(
        matched=matched, unmatched=unmatched, spec=spec, units=units, data=df, propensity=fit
    )
