"""The nearest-station shortest-path forest and its repair after roads close or stations leave.

One multi-source search from the stations gives every road node its nearest station, the cost
from it and its predecessor: a forest rooted at the stations' nodes. When some edges get dearer
(closed: ``inf``) and some stations leave, only the nodes below a closed *tree* edge or in a
leaving station's tree can change; every other node keeps its path, hence its cost, bit for bit.
:meth:`ShortestForest.repair` searches those nodes again, entered from the unchanged nodes
around them through a virtual source, and so returns exactly the costs a search over the whole
changed graph returns (the same sums of the same floats, since ``fl(a + w)`` is monotone in
``a``); tests/test_what_if.py checks it against the full search.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import depth_first_order, dijkstra

__all__ = ["ForestRepair", "ShortestForest", "nearest_search", "ragged"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def ragged(starts: IntArray, counts: IntArray) -> IntArray:
    """Concatenated ``range(s, s + c)`` for every start and count."""
    offsets = np.cumsum(counts) - counts
    out: IntArray = np.repeat(starts - offsets, counts) + np.arange(int(counts.sum()), dtype=np.int64)
    return out


def nearest_search(csr: sp.csr_matrix, sources: IntArray) -> tuple[FloatArray, IntArray, IntArray]:
    """Multi-source Dijkstra: cost from the nearest source, predecessor (-1) and which source (-1).

    Several sources on one node: the first of them is reported, as :meth:`RoadMatrix.nearest`.
    """
    n = csr.shape[0]
    if len(sources) == 0:
        return np.full(n, np.inf), np.full(n, -1, np.int64), np.full(n, -1, np.int64)
    cost, pred, origin = dijkstra(
        csr, directed=True, indices=sources, min_only=True, return_predecessors=True
    )
    which = np.full(n, -1, np.int64)
    reached = origin >= 0
    first = pd.Series(np.arange(len(sources))).groupby(np.asarray(sources)).min()
    which[reached] = first.reindex(origin[reached]).to_numpy()
    pred = np.where(pred < 0, -1, pred).astype(np.int64)
    return np.asarray(cost, np.float64), pred, which


@dataclass(frozen=True, eq=False)
class ForestRepair:
    """What :meth:`ShortestForest.repair` found: the new costs and nearest sources of the nodes searched.

    Attributes
    ----------
    nodes
        Positions of the nodes searched again (every node whose cost may have changed).
    cost
        Their new cost from the nearest remaining source (``inf`` where none is left).
    origin
        Their new nearest source (index into the forest's sources, -1 unreached); only when
        asked for, else None.
    """

    nodes: IntArray
    cost: FloatArray
    origin: IntArray | None


@dataclass(frozen=True, eq=False)
class ShortestForest:
    """The nearest-source shortest-path forest of a road CSR matrix, with its DFS order.

    Attributes
    ----------
    csr
        The road matrix's CSR (the costs searched).
    sources
        Source node positions (the stations), in station order.
    cost, pred, origin
        ``(n,)``: cost from the nearest source, predecessor in the forest (-1 at the roots and
        unreached nodes) and nearest source (index into ``sources``, -1 unreached).
    order, start, size
        A depth-first preorder of the reached nodes, each node's position in it (-1 unreached)
        and the size of its subtree: the subtree of ``v`` is ``order[start[v]:start[v] + size[v]]``.
    """

    csr: sp.csr_matrix
    sources: IntArray
    cost: FloatArray
    pred: IntArray
    origin: IntArray
    order: IntArray
    start: IntArray
    size: IntArray

    @classmethod
    def build(cls, csr: sp.csr_matrix, sources: IntArray) -> ShortestForest:
        """One multi-source search from ``sources`` and the forest's preorder."""
        n = csr.shape[0]
        sources = np.asarray(sources, dtype=np.int64)
        cost, pred, origin = nearest_search(csr, sources)
        child = np.flatnonzero(pred >= 0)
        roots = np.flatnonzero((pred < 0) & np.isfinite(cost))
        parents = np.r_[pred[child], np.full(len(roots), n, np.int64)]
        kids = np.r_[child, roots]
        tree = sp.csr_matrix((np.ones(len(kids)), (parents, kids)), shape=(n + 1, n + 1))
        order = np.asarray(depth_first_order(tree, n, directed=True, return_predecessors=False), np.int64)
        order = order[1:]  # the virtual root first
        start = np.full(n, -1, np.int64)
        start[order] = np.arange(len(order))
        size = np.ones(n, np.int64)
        size[~np.isfinite(cost)] = 0
        sz = size.tolist()
        par = pred.tolist()
        for x in order[::-1].tolist():  # children before parents
            p = par[x]
            if p >= 0:
                sz[p] += sz[x]
        return cls(csr, sources, cost, pred, origin, order, start, np.asarray(sz, np.int64))

    @cached_property
    def _csc(self) -> tuple[IntArray, IntArray, IntArray]:
        """The CSR's columns: ``(indptr, rows, position of each entry in the CSR's data)``."""
        csr = self.csr
        rows = np.repeat(np.arange(csr.shape[0], dtype=np.int64), np.diff(csr.indptr))
        cols = csr.indices.astype(np.int64)
        perm = np.argsort(cols, kind="stable")
        indptr = np.zeros(csr.shape[0] + 1, np.int64)
        np.cumsum(np.bincount(cols, minlength=csr.shape[0]), out=indptr[1:])
        return indptr, rows[perm], perm

    @cached_property
    def entry_rows(self) -> IntArray:
        """Row (source node) of every CSR entry."""
        out: IntArray = np.repeat(np.arange(self.csr.shape[0], dtype=np.int64), np.diff(self.csr.indptr))
        return out

    def subtree(self, v: int) -> IntArray:
        """Positions of the nodes below ``v`` in the forest, ``v`` first (empty when unreached)."""
        s = int(self.start[v])
        if s < 0:
            return np.zeros(0, np.int64)
        return self.order[s : s + int(self.size[v])]

    def affected(self, changed: IntArray, removed: IntArray) -> BoolArray:
        """Mask of the nodes whose cost may change.

        ``changed``: CSR entries whose cost rose; ``removed``: indices of sources taken out.
        """
        n = self.csr.shape[0]
        mask = np.zeros(n, bool)
        if len(changed):
            u = self.entry_rows[changed]
            v = self.csr.indices[changed].astype(np.int64)
            heads = v[self.pred[v] == u]
            if len(heads):
                starts, counts = self.start[heads], self.size[heads]
                ok = starts >= 0
                mask[self.order[ragged(starts[ok], counts[ok])]] = True
        if len(removed):
            mask |= np.isin(self.origin, removed)
        return mask

    def repair(
        self,
        data: FloatArray,
        mask: BoolArray,
        *,
        removed: IntArray,
        origin: bool = False,
    ) -> ForestRepair:
        """New costs of the ``mask`` nodes with CSR costs ``data`` and sources ``removed`` taken out.

        The nodes outside ``mask`` keep their costs; the ones inside are entered from them (and
        from any remaining source among them) through a virtual source and searched with the
        new costs. ``origin`` also returns each node's new nearest source.
        """
        nodes = np.flatnonzero(mask)
        s = len(nodes)
        if s == 0:
            return ForestRepair(nodes, np.zeros(0), np.zeros(0, np.int64) if origin else None)
        local = np.full(mask.shape[0], -1, np.int64)
        local[nodes] = np.arange(s)
        indptr, rows, perm = self._csc
        starts, counts = indptr[nodes], np.diff(indptr)[nodes]
        at = ragged(starts, counts)
        src = rows[at]
        col = np.repeat(np.arange(s, dtype=np.int64), counts)
        outside = ~mask[src]
        src, col = src[outside], col[outside]
        cand = self.cost[src] + data[perm[at][outside]]
        ok = np.isfinite(cand)
        src, col, cand = src[ok], col[ok], cand[ok]
        # the remaining sources among the nodes searched start at 0
        keep = np.ones(len(self.sources), bool)
        keep[removed] = False
        live = np.flatnonzero(keep)
        inside = live[mask[self.sources[live]]]
        col = np.r_[col, local[self.sources[inside]]]
        cand = np.r_[cand, np.zeros(len(inside))]
        src_origin = np.r_[self.origin[src], inside]
        # the best entry of every node searched (ties: the first, as any order gives the same cost)
        by = np.lexsort((cand, col))
        first = np.ones(len(by), bool)
        first[1:] = col[by][1:] != col[by][:-1]
        best = by[first]
        e_col, e_cost, e_origin = col[best], cand[best], src_origin[best]
        # the edges among the nodes searched
        r0, rc = self.csr.indptr[nodes], np.diff(self.csr.indptr)[nodes]
        at = ragged(r0.astype(np.int64), rc.astype(np.int64))
        tgt = local[self.csr.indices[at]]
        rr = np.repeat(np.arange(s, dtype=np.int64), rc)
        within = tgt >= 0
        rr, tgt, w = rr[within], tgt[within], data[at][within]
        finite = np.isfinite(w)
        rr, tgt, w = rr[finite], tgt[finite], w[finite]
        sub = sp.csr_matrix(
            (np.r_[w, e_cost], (np.r_[rr, np.full(len(e_col), s)], np.r_[tgt, e_col])), shape=(s + 1, s + 1)
        )
        # duplicates are summed by the COO conversion: there are none (one entry per (u, v) pair
        # of the CSR, one best entry per node)
        if not origin:
            dist = dijkstra(sub, directed=True, indices=s)
            return ForestRepair(nodes, np.asarray(dist[:s], np.float64), None)
        dist, pred = dijkstra(sub, directed=True, indices=s, return_predecessors=True)
        root = np.where(pred[:s] < 0, -1, pred[:s]).astype(np.int64)
        own = np.arange(s, dtype=np.int64)
        entry = np.where(root == s, own, root)  # nodes entered from the virtual source point to themselves
        entry[root < 0] = -1
        for _ in range(64):  # pointer jumping to the entry node of each path
            nxt = np.where(entry >= 0, entry[np.maximum(entry, 0)], -1)
            if np.array_equal(nxt, entry):
                break
            entry = nxt
        entry_origin = np.full(s, -1, np.int64)
        entry_origin[e_col] = e_origin
        out_origin = np.where(entry >= 0, entry_origin[np.maximum(entry, 0)], -1)
        return ForestRepair(nodes, np.asarray(dist[:s], np.float64), out_origin)
