"""Local search for set covering (LSCP): fewer sites, every row still covered (internal).

:func:`improve_cover` starts from any cover and never returns a larger one, nor one that
leaves a row uncovered:

- *drop*: a site whose rows are all covered twice is closed;
- *2-for-1*: two open sites are closed and one closed candidate opened when it covers every
  row that only those two covered (found for all pairs at once: a sparse product counts, per
  candidate and open site, the rows only that site covers which the candidate covers too);
- *kick* (iterated local search): the sites around a random one are closed, the rows left
  uncovered are covered again greedily (rows weighted by ``row_weight``, such as Lagrangian
  multipliers, with a little noise), redundant sites dropped and 2-for-1 moves run; the new
  cover is kept when it is no larger (a walk over covers of equal size) and the smallest seen
  is returned.

Every move is checked on the row counts it changes, so the answer is a cover by construction.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ._heuristics import _segments, greedy_cover

__all__ = ["improve_cover"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]


class _State:
    """Open columns and per-row counts of a cover of ``A`` (rows x columns), ``At`` its transpose."""

    def __init__(self, cover: sp.csr_array, cover_t: sp.csr_array, cols: IntArray) -> None:
        self.A, self.At = cover, cover_t
        A = cover
        self.open = np.zeros(A.shape[1], dtype=bool)
        self.open[cols] = True
        self.counts = np.zeros(A.shape[0], dtype=np.int64)
        for j in np.flatnonzero(self.open):
            self.counts[self.rows(int(j))] += 1

    def rows(self, j: int) -> npt.NDArray[np.int32]:
        return self.At.indices[self.At.indptr[j] : self.At.indptr[j + 1]]

    def size(self) -> int:
        return int(self.open.sum())

    def flip(self, j: int, on: bool) -> None:
        self.open[j] = on
        self.counts[self.rows(j)] += 1 if on else -1

    def drop_redundant(self) -> int:
        """Close sites whose rows are all covered twice, the least needed first; how many."""
        dropped = 0
        for j in np.flatnonzero(self.open):
            rows = self.rows(int(j))
            if len(rows) == 0 or (self.counts[rows] >= 2).all():
                self.flip(int(j), False)
                dropped += 1
        return dropped

    def two_for_one(self, t_end: float, region: BoolArray | None = None) -> bool:
        """Make the 2-for-1 moves found in one pricing (True if any), among ``region``'s open sites.

        The pricing only proposes: each move is checked on the current counts before it is made,
        so moves made earlier in the round never leave a later one uncovering a row.
        """
        S = np.flatnonzero(self.open if region is None else self.open & region).astype(np.intp)
        if len(S) < 2:
            return False
        sub = sp.csr_array(self.At[S])  # open sites x rows
        site_of = np.repeat(np.arange(len(S)), np.diff(sub.indptr))
        only = self.counts[sub.indices] == 1
        rows1, owner = sub.indices[only], site_of[only]
        n_only = np.bincount(owner, minlength=len(S))
        P = sp.csr_array((np.ones(len(rows1)), (owner, rows1)), shape=(len(S), self.A.shape[0]))
        C = sp.coo_array(P @ self.A)  # C[f, j]: rows only f covers that j covers as well
        full = (C.data == n_only[C.row]) & ~self.open[C.col]
        j_full, f_full = C.col[full], C.row[full]
        if len(j_full) == 0:
            return False
        per_j = np.bincount(j_full, minlength=self.A.shape[1])
        cand = np.flatnonzero(per_j >= 2)
        moved = False
        for j in cand[np.argsort(-per_j[cand], kind="stable")]:
            if time.perf_counter() > t_end:
                break
            fs = S[f_full[j_full == j]]
            rows_j = self.rows(int(j))
            done = False
            for a in range(len(fs)):
                for b in range(a + 1, len(fs)):
                    f1, f2 = int(fs[a]), int(fs[b])
                    if self.open[f1] and self.open[f2] and self._swap_keeps_cover(f1, f2, rows_j):
                        self.flip(int(j), True)
                        self.flip(f1, False)
                        self.flip(f2, False)
                        moved = done = True
                        break
                if done:
                    break
        return moved

    def _swap_keeps_cover(self, f1: int, f2: int, rows_j: npt.NDArray[np.int32]) -> bool:
        """Whether closing ``f1`` and ``f2`` and opening ``j`` (over ``rows_j``) leaves every row covered."""
        r1, r2 = self.rows(f1), self.rows(f2)
        rows = np.union1d(r1, r2)
        left = self.counts[rows] - np.isin(rows, r1) - np.isin(rows, r2) + np.isin(rows, rows_j)
        return bool((left >= 1).all())

    def descend(self, t_end: float, region: BoolArray | None = None) -> None:
        """Drop and 2-for-1 moves until none is left (among ``region``'s sites: where a kick changed)."""
        self.drop_redundant()
        while time.perf_counter() < t_end and self.two_for_one(t_end, region):
            self.drop_redundant()

    def around(self, cols: IntArray) -> BoolArray:
        """Columns sharing a row with one of ``cols`` (those included)."""
        rows = np.unique(self.At.indices[_segments(self.At.indptr, np.asarray(cols, dtype=np.intp))])
        mask = np.zeros(self.A.shape[1], dtype=bool)
        mask[self.A.indices[_segments(self.A.indptr, rows.astype(np.intp))]] = True
        mask[cols] = True
        return mask


def improve_cover(
    cover: sp.csr_array,
    cols: IntArray,
    *,
    t_end: float,
    cover_t: sp.csr_array | None = None,
    row_weight: FloatArray | None = None,
    kick_sites: int = 6,
    max_stall: int | None = None,
    target: float = 0.0,
    seed: int = 0,
) -> IntArray:
    """A cover of every row of ``cover`` with at most ``len(cols)`` columns (``cols`` must cover).

    Drop and 2-for-1 moves to a local optimum, then kicks (``kick_sites`` open sites around a
    random one closed, the rows re-covered greedily) until ``t_end``, until ``max_stall``
    kicks in a row found nothing smaller (``None``: no such stop) or a cover of ``target``
    sites (a known lower bound); deterministic for a given ``seed`` and the same number of
    kicks. Returns the smallest cover found, sorted.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> A = sp.csr_array(np.array([[1, 0, 1], [0, 1, 1]], dtype=np.int8))
    >>> improve_cover(A, np.array([0, 1]), t_end=float('inf'), kick_sites=0).tolist()  # 2-for-1: site 2
    [2]
    """
    A = sp.csr_array(cover)
    At = sp.csr_array(A.T) if cover_t is None else cover_t
    state = _State(A, At, np.asarray(cols, dtype=np.intp))
    if (state.counts == 0).any():
        raise ValueError("improve_cover needs a cover of every row to start from")
    state.descend(t_end)
    best = np.flatnonzero(state.open).astype(np.intp)
    if kick_sites <= 0:
        return best
    rng = np.random.default_rng(seed)
    base_w = np.ones(A.shape[0]) if row_weight is None else np.asarray(row_weight, dtype=np.float64)
    base_w = base_w + 1e-3 * max(float(base_w.mean()), 1e-12)
    kicks = stall = 0
    while time.perf_counter() < t_end and len(best) > target:
        S = np.flatnonzero(state.open)
        if len(S) <= 1 or (max_stall is not None and stall >= max_stall):
            break
        kicks += 1
        stall += 1
        centre = int(rng.choice(S))
        near = _open_neighbours(state, centre)
        k = int(rng.integers(2, kick_sites + 1)) if kick_sites >= 2 else 1
        out = near[: max(k, 1)]
        start = np.setdiff1d(S, out).astype(np.intp)
        weight = base_w * rng.uniform(0.8, 1.25, A.shape[0])
        trial = greedy_cover(A, start=start, cover_t=At, row_weight=weight)
        if len(trial) > len(S) + 2:  # a poor repair: not worth the descent
            continue
        trial_state = _State(A, At, trial)
        changed = np.union1d(out, np.setdiff1d(trial, S))  # 2-for-1 moves elsewhere were made already
        trial_state.descend(t_end, trial_state.around(changed.astype(np.intp)))
        size = trial_state.size()
        if size <= len(S):
            state = trial_state
            if size < len(best):
                best, stall = np.flatnonzero(state.open).astype(np.intp), 0
                log.debug("cover local search: %d sites after %d kicks", size, kicks)
    log.debug("cover local search: %d kicks, best %d sites", kicks, len(best))
    return best


def _open_neighbours(state: _State, centre: int) -> IntArray:
    """Open sites sharing rows with ``centre`` (itself first), the most shared first."""
    rows = state.rows(centre)
    A = state.A
    hit = A.indices[_segments(A.indptr, rows.astype(np.intp))].astype(np.intp)
    hit = hit[state.open[hit]]
    if len(hit) == 0:
        return np.array([centre], dtype=np.intp)
    near, shared = np.unique(hit, return_counts=True)
    shared[near == centre] = np.iinfo(shared.dtype).max
    return near[np.argsort(-shared, kind="stable")].astype(np.intp)
