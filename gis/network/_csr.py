"""Array helpers of the graph builders: ragged ranges, multigraph keys, networkx's edge order."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["adjacency_order", "multi_keys", "ragged_arange", "stable_order"]

IntArray = npt.NDArray[np.int64]


def ragged_arange(starts: IntArray, counts: IntArray) -> Any:
    """Concatenated ``range(s, s + c)`` for every start and count.

    Examples
    --------
    >>> ragged_arange(np.array([5, 0]), np.array([2, 3])).tolist()
    [5, 6, 0, 1, 2]
    """
    offsets = np.cumsum(counts) - counts
    return np.repeat(starts - offsets, counts) + np.arange(int(counts.sum()))


def stable_order(major: IntArray, minor: IntArray) -> Any:
    """Positions sorted by (major, minor, position): ``np.lexsort((arange, minor, major))``.

    Both keys are non-negative; when they pack into one int64 key, one stable sort of that key
    replaces the three-key lexsort (about 3x faster on millions of edges).

    Examples
    --------
    >>> stable_order(np.array([1, 0, 1, 0]), np.array([0, 5, 0, 2])).tolist()
    [3, 1, 0, 2]
    """
    m = len(major)
    if m == 0:
        return np.zeros(0, np.int64)
    span = int(minor.max()) + 1
    if int(major.max()) < np.iinfo(np.int64).max // span:
        return np.argsort(major.astype(np.int64) * span + minor, kind="stable")
    return np.lexsort((np.arange(m), minor, major))


def _groups(src: IntArray, dst: IntArray) -> tuple[IntArray, IntArray]:
    """Edges sorted by (src, dst, position) and the start of each edge's (src, dst) group there."""
    m = len(src)
    order = stable_order(src, dst)
    s, t = src[order], dst[order]
    new_grp = np.r_[True, (s[1:] != s[:-1]) | (t[1:] != t[:-1])] if m else np.zeros(0, bool)
    grp_start = np.maximum.accumulate(np.where(new_grp, np.arange(m), 0)) if m else np.zeros(0, np.int64)
    return order, grp_start


def multi_keys(src: IntArray, dst: IntArray) -> IntArray:
    """Key of each edge among the parallel edges with the same (src, dst): 0, 1, ... in edge order.

    Examples
    --------
    >>> multi_keys(np.array([0, 1, 0]), np.array([1, 0, 1])).tolist()
    [0, 0, 1]
    """
    order, grp_start = _groups(src, dst)
    key = np.empty(len(src), np.int64)
    key[order] = np.arange(len(src)) - grp_start
    return key


def adjacency_order(src: IntArray, dst: IntArray) -> tuple[IntArray, IntArray]:
    """Keys, and the order in which networkx iterates edges added in this order.

    A MultiDiGraph iterates edges by source node, then by target in the order each target was
    first reached from that source, then by key: the order of the edges of a
    :class:`~gis.network.RoadGraph`, so that :meth:`~gis.network.RoadGraph.to_networkx`
    iterates like the graph the builder used to make.

    Examples
    --------
    >>> keys, order = adjacency_order(np.array([1, 0, 1, 1]), np.array([2, 1, 0, 2]))
    >>> keys.tolist(), order.tolist()
    ([0, 0, 0, 1], [1, 0, 3, 2])
    """
    m = len(src)
    order, grp_start = _groups(src, dst)
    key = np.empty(m, np.int64)
    key[order] = np.arange(m) - grp_start
    first = np.empty(m, np.int64)  # position of the first edge of each edge's (src, dst) group
    first[order] = order[grp_start]
    return key, stable_order(src, first)
