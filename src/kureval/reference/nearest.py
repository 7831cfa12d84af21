"""Greedy nearest-neighbour matching on a scalar distance, as MatchIt 4.7 does it.

This is the engine behind :func:`kureval.reference.match`; it works on plain
arrays that the caller has put in *canonical order* (sorted by person id), so
that ties are broken by id and never by the order of the input rows.

Algorithm (MatchIt ``nn_matchC_vec`` / ``find_control_vec``, R package
MatchIt 4.7.2, without ``unit.id``, ``mahvars`` or variable ratio)
-------------------------------------------------------------------
Within one exact stratum all units (participants and candidates) are sorted
by distance, ties in canonical order.  Participants are visited in the
matching order.

* Without replacement, matching runs in rounds r = 1 … k: every participant
  gets its first reference, then every participant its second, and so on.
  A participant that finds nobody in round 1 takes no part in later rounds.
  In a round the search starts at the participant's position in the sorted
  array (from round 2 on, at the outermost of its earlier references) and
  takes the nearest still-unused candidate on the left and on the right; a
  candidate farther than the caliper is not taken (``|d_t − d_c| > caliper``
  excludes, equality is inside).  The closer of the two wins; when both are
  exactly as close, the one fewer positions away from the starting point wins,
  and the left one when that is equal too (MatchIt scans left and right
  alternately, left first, and keeps the first it found).
* With replacement every participant independently takes the k nearest
  candidates (up to k on each side), ties again by the scan order.

Nothing of size participants × candidates is built: each participant's place
among the sorted candidates is found once by bisection, and used candidates
are skipped with two path-compressed union-find link maps holding only the
used entries, so a stratum costs one sort plus O(k n_t α(n)) lookups, and
O(n_c) memory.

Ties with replacement and k > 1: MatchIt orders its up to 2k candidates with
``std::partial_sort``, which is not stable; here exact ties keep the scan
order.  Every Lalonde configuration of the fixtures agrees exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["REASONS", "Stratum", "StratumOutcome", "match_stratum"]

REASONS = {
    "no_candidate_in_stratum": "too few candidates in the exact stratum",
    "none_within_caliper": "too few candidates within the caliper",
    "pool_exhausted": "candidates within reach were already used by other participants",
}


@dataclass
class StratumOutcome:
    """Matches of one stratum, as positions into the stratum's own arrays.

    ``matches``: participant → its references in the order found;
    ``reasons``: participant → reason code (``REASONS``) when it has fewer than k.
    """

    matches: dict[int, list[int]] = field(default_factory=dict)
    reasons: dict[int, str] = field(default_factory=dict)


def _find(parent: dict[int, int], i: int) -> int:
    """Root of ``i``: follows the links of used entries, compressing the path."""
    root = i
    while root in parent:
        root = parent[root]
    while i != root:
        parent[i], i = root, parent[i]
    return root


class _Pool:
    """Candidates of one stratum in sorted order with O(α) 'nearest unused' lookups.

    Two union-find link maps hold only the used entries (so setting up a pool
    of a million candidates costs nothing): ``right`` links a used index to
    the next one to its right, ``left`` to the next one to its left.
    """

    def __init__(self, m: int):
        self.m = m
        self.right: dict[int, int] = {}
        self.left: dict[int, int] = {}
        self.n_unused = m

    def next_unused(self, i: int) -> int:
        """First unused index ≥ i, or m."""
        return _find(self.right, i) if i < self.m else self.m

    def prev_unused(self, i: int) -> int:
        """Last unused index ≤ i, or −1."""
        return _find(self.left, i) if i >= 0 else -1

    def use(self, j: int) -> None:
        self.right[j] = j + 1
        self.left[j] = j - 1
        self.n_unused -= 1


def _pick(
    dt: float,
    cd: np.ndarray,
    cpos: np.ndarray,
    jl: int,
    jr: int,
    m: int,
    s_left: int,
    s_right: int,
    width: float,
) -> int:
    """Choose between the left candidate ``jl`` and right candidate ``jr`` (−1 / m = none)."""
    dl = abs(dt - cd[jl]) if jl >= 0 else np.inf
    dr = abs(dt - cd[jr]) if jr < m else np.inf
    if dl > width:
        dl = np.inf
    if dr > width:
        dr = np.inf
    if dl == np.inf and dr == np.inf:
        return -1
    if dl < dr:
        return jl
    if dr < dl:
        return jr
    # exactly as close: the one the alternating scan reaches first
    return jl if (s_left - cpos[jl]) <= (cpos[jr] - s_right) else jr


def _reason(dt: float, cd: np.ndarray, width: float, needed: int) -> str:
    if cd.size < needed:
        return "no_candidate_in_stratum"
    if np.isfinite(width):
        lo = np.searchsorted(cd, dt - width, side="left")
        hi = np.searchsorted(cd, dt + width, side="right")
        # searchsorted on shifted bounds can be off by rounding; count exactly
        inside = int(np.sum(np.abs(dt - cd[max(lo - 1, 0) : hi + 1]) <= width))
        if inside < needed:
            return "none_within_caliper"
    return "pool_exhausted"


def stable_argsort(x: np.ndarray) -> np.ndarray:
    """``np.argsort(x, kind="stable")``, faster: unstable sort, then ties put in index order."""
    order = np.argsort(x)
    xs = x[order]
    tie = xs[1:] == xs[:-1]
    if not tie.any():
        return order
    run = np.concatenate([[0], np.cumsum(~tie)])
    return order[np.argsort(run * np.int64(x.size) + order)]


class Stratum:
    """One exact stratum: all its units sorted by distance, and its candidates' pool."""

    def __init__(self, dist: np.ndarray, treated: np.ndarray, width: float):
        full = stable_argsort(dist)  # sorted position -> local index
        self.pos = np.empty_like(full)
        self.pos[full] = np.arange(full.size)
        self.cidx = full[~treated[full]]  # candidates in sorted order (local indices)
        self.cpos = self.pos[self.cidx]
        self.cd = dist[self.cidx]
        self.dist = dist
        self.width = width
        self.pool = _Pool(self.cidx.size)
        # per participant: (left search index, right search index, left start pos, right start pos)
        self.starts: dict[int, tuple[int, int, int, int]] = {}

    def _start(self, t: int) -> tuple[int, int, int, int]:
        got = self.starts.get(t)
        if got is None:
            p = int(self.pos[t])
            split = int(self.cpos.searchsorted(p))  # candidates sorted before the participant
            got = (split - 1, split, p, p)
        return got

    def find(
        self, t: int, taken: np.ndarray | None = None, person: np.ndarray | None = None
    ) -> int:
        """Next reference (local index) of participant ``t``, or −1; marks it used.

        ``taken``/``person``: persons already used anywhere (unit-id matching);
        a candidate row of such a person is dropped from the pool when met.
        """
        pool, cpos = self.pool, self.cpos
        il, ir, s_left, s_right = self._start(t)
        jl = pool.prev_unused(il)
        jr = pool.next_unused(ir)
        if taken is not None and person is not None:
            while jl >= 0 and taken[person[self.cidx[jl]]]:
                pool.use(jl)
                jl = pool.prev_unused(jl - 1)
            while jr < pool.m and taken[person[self.cidx[jr]]]:
                pool.use(jr)
                jr = pool.next_unused(jr + 1)
        j = _pick(float(self.dist[t]), self.cd, cpos, jl, jr, pool.m, s_left, s_right, self.width)
        if j < 0:
            return -1
        pool.use(j)
        if j == jl:
            self.starts[t] = (j - 1, ir, min(s_left, int(cpos[j])), s_right)
        else:
            self.starts[t] = (il, j + 1, s_left, max(s_right, int(cpos[j])))
        return int(self.cidx[j])

    def reason(self, t: int, needed: int) -> str:
        return _reason(float(self.dist[t]), self.cd, self.width, needed)


def match_stratum(
    dist: np.ndarray,
    treated: np.ndarray,
    visit: np.ndarray,
    *,
    ratio: int,
    replace: bool,
    width: float,
) -> StratumOutcome:
    """Match the participants of one stratum.

    Parameters
    ----------
    dist : array of float
        Distance of every unit of the stratum, in canonical order.
    treated : array of bool
        Participant indicator, same order.
    visit : array of int
        Local indices (into ``dist``) of the participants in matching order.
    ratio, replace, width
        References per participant, reuse of references, caliper width in
        distance units (``inf`` = none).
    """
    out = StratumOutcome()
    st = Stratum(dist, treated, width)
    if replace:
        for t in visit:
            _with_replacement(int(t), dist, st.pos, st.cidx, st.cpos, st.cd, ratio, width, out)
        return out
    active = [int(t) for t in visit]
    for r in range(1, ratio + 1):
        still = []
        for t in active:
            c = st.find(t) if st.pool.n_unused else -1
            if c < 0:
                out.reasons[t] = st.reason(t, r)
                continue
            out.matches.setdefault(t, []).append(c)
            still.append(t)
        active = still
    return out


def _with_replacement(
    t: int,
    dist: np.ndarray,
    pos: np.ndarray,
    cidx: np.ndarray,
    cpos: np.ndarray,
    cd: np.ndarray,
    ratio: int,
    width: float,
    out: StratumOutcome,
) -> None:
    m = cidx.size
    dt = float(dist[t])
    p = int(pos[t])
    split = int(np.searchsorted(cpos, p, side="left"))
    found: list[tuple[float, int, int]] = []  # (distance, scan step, candidate)
    for j in range(split - 1, max(split - 1 - ratio, -1), -1):
        dj = abs(dt - cd[j])
        if dj > width:
            break
        found.append((dj, 2 * (p - int(cpos[j])) - 1, j))
    for j in range(split, min(split + ratio, m)):
        dj = abs(dt - cd[j])
        if dj > width:
            break
        found.append((dj, 2 * (int(cpos[j]) - p), j))
    found.sort()
    chosen = [int(cidx[j]) for _, _, j in found[:ratio]]
    if chosen:
        out.matches[t] = chosen
    if len(chosen) < ratio:
        out.reasons[t] = _reason(dt, cd, width, ratio)
