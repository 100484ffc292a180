"""Nearest, second and counted sources for every target, in chunks of sources, in process or on Dask.

Coverage asks, for every target (road node, community, cell), which source (fire station) reaches
it first and when, which second, and how many within the standard. :func:`reduce_sources` answers
it without the full targets x sources matrix: an *engine* computes the travel times from a chunk
of ``chunk_size`` sources to every target (a :data:`~planning.travel.TargetsBySources` array,
``inf`` = unreachable), each chunk is reduced at once to a :class:`SourceReduction` (nearest +
time, second + time, counts within each threshold), and the chunks are merged exactly: the top-2
merge orders sources by ``(time, position in sources)``, so ties go to the earlier source and the
result is the same whatever the chunk size, the order chunks finish in, or where they run;
counts are summed. Memory: one chunk, ``n_targets x chunk_size`` floats, per worker.

An engine is any picklable object with one method, ``times(sources) -> (n_targets, k)`` (the
:class:`SourceEngine` protocol). :class:`CsgraphEngine` (Dijkstra from source nodes to node
positions) and :class:`SnappedPointEngine` (to points snapped on edges, the arithmetic of
:meth:`planning.travel.RoadMatrix.point_times`, plus a turnout and speed factor) are the two here.
On Dask the engine is scattered to every worker once (:meth:`gis.executor.Executor.share`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from gis.errors import InputError
from gis.executor import Executor, InProcessExecutor, Progress, as_executor

if TYPE_CHECKING:
    import pandas as pd

    from .travel import RoadMatrix

__all__ = [
    "CsgraphEngine",
    "SnappedPointEngine",
    "SourceEngine",
    "SourceReduction",
    "merge_reductions",
    "reduce_chunk",
    "reduce_sources",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class SourceEngine(Protocol):
    """Travel times from a chunk of sources to every target: the one method an engine needs.

    ``times(sources)`` takes source positions (``int64``, in the engine's own numbering) and
    returns a ``(n_targets, len(sources))`` float array, ``inf`` where unreachable, the same
    number of targets on every call. The engine must pickle (it is sent to Dask workers).
    """

    def times(self, sources: IntArray) -> FloatArray:
        """``(n_targets, len(sources))`` travel times."""
        ...


def _positions(sources: npt.ArrayLike, n_nodes: int) -> IntArray:
    pos = np.asarray(sources)
    if pos.ndim != 1 or (pos.size and not np.issubdtype(pos.dtype, np.integer)):
        msg = (
            f"`sources` has shape {pos.shape} and dtype {pos.dtype}. Fix: pass a 1-D array of node positions."
        )
        raise InputError(msg)
    bad = (pos < 0) | (pos >= n_nodes)
    if bad.any():
        msg = (
            f"`sources` {pos[bad][:10].tolist()} are not node positions of the {n_nodes}-node graph. "
            "Fix: map node labels to positions with `RoadMatrix.positions`."
        )
        raise InputError(msg)
    return pos.astype(np.int64, copy=False)


def _one_to_all(csr: sp.csr_matrix, sources: IntArray, cutoff: float | None) -> FloatArray:
    if len(sources) == 0:
        return np.empty((csr.shape[0], 0), np.float64)
    limit = np.inf if cutoff is None else float(cutoff)
    return np.atleast_2d(dijkstra(csr, directed=True, indices=sources, limit=limit)).T


@dataclass(frozen=True, eq=False)
class CsgraphEngine:
    """Dijkstra (:func:`scipy.sparse.csgraph.dijkstra`) from source nodes to target nodes.

    Parameters
    ----------
    csr
        ``n x n`` CSR adjacency of edge costs (:attr:`planning.travel.RoadMatrix.csr`).
    targets
        Node positions reached, in output row order; None: every node.
    cutoff
        Stop each search at this cost (``inf`` beyond): the work per source then grows with the
        nodes within reach, not with the graph.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> csr = sp.csr_matrix(([5.0, 5.0], ([0, 1], [1, 2])), shape=(3, 3))
    >>> CsgraphEngine(csr).times(np.array([0, 1])).tolist()
    [[0.0, inf], [5.0, 0.0], [10.0, 5.0]]
    """

    csr: sp.csr_matrix
    targets: IntArray | None = None
    cutoff: float | None = None

    @classmethod
    def from_road_matrix(
        cls, matrix: RoadMatrix, *, targets: npt.ArrayLike | None = None, cutoff: float | None = None
    ) -> CsgraphEngine:
        """The engine of a :class:`~planning.travel.RoadMatrix` (its arrays only, not the graph)."""
        tgt = None if targets is None else _positions(targets, matrix.n_nodes)
        return cls(matrix.csr, tgt, cutoff)

    def times(self, sources: IntArray) -> FloatArray:
        """``(n_targets, len(sources))`` travel times from the source node positions."""
        out = _one_to_all(self.csr, _positions(sources, self.csr.shape[0]), self.cutoff)
        return out if self.targets is None else out[self.targets]


@dataclass(frozen=True, eq=False)
class SnappedPointEngine:
    """Dijkstra from source nodes to points snapped on edges, entered from either end.

    A point at fraction ``frac`` along edge ``u -> v`` (cost ``cost_uv``, and ``cost_vu`` back,
    ``inf`` on a one-way road) is reached at ``min(t[u] + frac * cost_uv, t[v] + (1 - frac) *
    cost_vu)``, exactly as :meth:`planning.travel.RoadMatrix.point_times`; the result is then
    ``offset_s + that / speed_factor``, as :func:`planning.layer_coverage` computes a response.
    ``cutoff`` bounds each search on the graph's own costs (before the speed factor); a point
    whose travel cost exceeds it is ``inf`` (beyond), never a time through the end that happened
    to be reached when the nearer end was not: every finite result is then exact.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> csr = sp.csr_matrix(([10.0, 10.0], ([0, 1], [1, 0])), shape=(2, 2))
    >>> e = SnappedPointEngine(csr, u=np.array([0]), v=np.array([1]), cost_uv=np.array([10.0]),
    ...                        cost_vu=np.array([10.0]), frac=np.array([0.25]), offset_s=60.0)
    >>> e.times(np.array([0, 1])).tolist()
    [[62.5, 67.5]]
    """

    csr: sp.csr_matrix
    u: IntArray
    v: IntArray
    cost_uv: FloatArray
    cost_vu: FloatArray
    frac: FloatArray
    speed_factor: float = 1.0
    offset_s: float = 0.0
    cutoff: float | None = None

    @classmethod
    def from_snaps(
        cls,
        matrix: RoadMatrix,
        snaps: pd.DataFrame,
        *,
        speed_factor: float = 1.0,
        offset_s: float = 0.0,
        cutoff: float | None = None,
    ) -> SnappedPointEngine:
        """The engine reaching the points of ``snaps`` (``edge`` and ``frac`` columns of the snapping)."""
        edge = snaps["edge"].to_numpy(np.int64)
        return cls(
            matrix.csr,
            u=matrix.edge_uv[edge, 0],
            v=matrix.edge_uv[edge, 1],
            cost_uv=matrix.edge_cost[edge],
            cost_vu=matrix.reverse_costs(edge),
            frac=snaps["frac"].to_numpy(np.float64),
            speed_factor=float(speed_factor),
            offset_s=float(offset_s),
            cutoff=cutoff,
        )

    def times(self, sources: IntArray) -> FloatArray:
        """``(n_points, len(sources))``: ``offset_s`` + travel to each point / ``speed_factor``."""
        node_times = _one_to_all(self.csr, _positions(sources, self.csr.shape[0]), self.cutoff)
        frac = self.frac[:, None]
        from_u = node_times[self.u] + frac * self.cost_uv[:, None]
        back = self.cost_vu[:, None]
        from_v = np.where(np.isfinite(back), node_times[self.v] + (1.0 - frac) * np.nan_to_num(back), np.inf)
        cost = np.minimum(from_u, from_v)
        if self.cutoff is not None:
            cost[cost > self.cutoff] = np.inf
        return self.offset_s + cost / self.speed_factor


@dataclass(frozen=True)
class SourceReduction:
    """Per target: the nearest and second source (position in ``sources``) and counts within thresholds.

    Attributes
    ----------
    nearest, second
        Position in ``sources`` of the nearest and second-nearest source; ``-1`` where none is
        reached. Ties go to the earlier source.
    nearest_time, second_time
        Their times (``inf`` where none).
    within
        ``(n_targets, len(thresholds))`` count of sources with time ``<=`` each threshold.
    thresholds
        The thresholds, in the units of the engine's times.
    """

    nearest: IntArray
    nearest_time: FloatArray
    second: IntArray
    second_time: FloatArray
    within: IntArray
    thresholds: tuple[float, ...]

    @property
    def n_targets(self) -> int:
        """Number of targets."""
        return len(self.nearest)

    def equals(self, other: SourceReduction) -> bool:
        """Whether every array is exactly equal (times compared bit for bit, ``inf`` included)."""
        return self.thresholds == other.thresholds and all(
            np.array_equal(getattr(self, f), getattr(other, f))
            for f in ("nearest", "nearest_time", "second", "second_time", "within")
        )


def _empty(n_targets: int, thresholds: tuple[float, ...]) -> SourceReduction:
    return SourceReduction(
        nearest=np.full(n_targets, -1, np.int64),
        nearest_time=np.full(n_targets, np.inf),
        second=np.full(n_targets, -1, np.int64),
        second_time=np.full(n_targets, np.inf),
        within=np.zeros((n_targets, len(thresholds)), np.int64),
        thresholds=thresholds,
    )


def reduce_chunk(times: FloatArray, start: int, thresholds: Sequence[float] = ()) -> SourceReduction:
    """Reduce one ``(n_targets, k)`` chunk whose column ``j`` is source ``start + j``.

    Examples
    --------
    >>> r = reduce_chunk(np.array([[3.0, 1.0, 1.0], [np.inf, np.inf, 2.0]]), 10, thresholds=[2.0])
    >>> r.nearest.tolist(), r.second.tolist(), r.second_time.tolist(), r.within.ravel().tolist()
    ([11, 12], [12, -1], [1.0, inf], [2, 1])
    """
    t = np.asarray(times, dtype=np.float64)
    th = tuple(float(x) for x in thresholds)
    n, k = t.shape
    if np.isnan(t).any():
        msg = (
            f"The engine returned NaN travel times for sources {start}..{start + k - 1}. "
            "Fix: give every edge a finite, non-negative cost (inf marks unreachable targets)."
        )
        raise InputError(msg)
    out = _empty(n, th)
    if k == 0:
        return out
    rows = np.arange(n)
    within = np.empty((n, len(th)), np.int64)
    for c, limit in enumerate(th):
        within[:, c] = np.count_nonzero(t <= limit, axis=1)
    i1 = np.argmin(t, axis=1)  # first occurrence: ties go to the earlier source
    t1 = t[rows, i1]
    if k > 1:
        rest = t.copy()
        rest[rows, i1] = np.inf
        i2 = np.argmin(rest, axis=1)
        t2 = rest[rows, i2]
    else:
        i2, t2 = np.zeros(n, np.int64), np.full(n, np.inf)
    return SourceReduction(
        nearest=np.where(np.isfinite(t1), i1 + start, -1).astype(np.int64),
        nearest_time=t1,
        second=np.where(np.isfinite(t2), i2 + start, -1).astype(np.int64),
        second_time=t2,
        within=within,
        thresholds=th,
    )


def _before(ta: FloatArray, ia: IntArray, tb: FloatArray, ib: IntArray) -> npt.NDArray[np.bool_]:
    """Whether ``(ta, ia)`` comes before ``(tb, ib)``: earlier time, then earlier source (-1 last)."""
    big = np.iinfo(np.int64).max
    ka, kb = np.where(ia < 0, big, ia), np.where(ib < 0, big, ib)
    return (ta < tb) | ((ta == tb) & (ka < kb))


def merge_reductions(a: SourceReduction, b: SourceReduction) -> SourceReduction:
    """The reduction of the union of two disjoint sets of sources, exactly.

    Examples
    --------
    >>> t = np.array([[4.0, 2.0, 2.0, 9.0]])
    >>> whole = reduce_chunk(t, 0, [3.0])
    >>> merged = merge_reductions(reduce_chunk(t[:, 2:], 2, [3.0]), reduce_chunk(t[:, :2], 0, [3.0]))
    >>> merged.equals(whole), merged.nearest.tolist(), merged.second.tolist()
    (True, [1], [2])
    """
    if a.thresholds != b.thresholds or a.n_targets != b.n_targets:
        msg = (
            f"Cannot merge reductions of {a.n_targets} and {b.n_targets} targets with thresholds "
            f"{a.thresholds} and {b.thresholds}. Fix: reduce every chunk with the same engine and thresholds."
        )
        raise InputError(msg)
    a_first = _before(a.nearest_time, a.nearest, b.nearest_time, b.nearest)
    n1 = np.where(a_first, a.nearest, b.nearest)
    t1 = np.where(a_first, a.nearest_time, b.nearest_time)
    # the second is the better of the loser's first and the winner's second
    lose_i = np.where(a_first, b.nearest, a.nearest)
    lose_t = np.where(a_first, b.nearest_time, a.nearest_time)
    win2_i = np.where(a_first, a.second, b.second)
    win2_t = np.where(a_first, a.second_time, b.second_time)
    lose_first = _before(lose_t, lose_i, win2_t, win2_i)
    return SourceReduction(
        nearest=n1,
        nearest_time=t1,
        second=np.where(lose_first, lose_i, win2_i),
        second_time=np.where(lose_first, lose_t, win2_t),
        within=a.within + b.within,
        thresholds=a.thresholds,
    )


def _engine_chunks(
    engine: SourceEngine, sources: IntArray, start: int, thresholds: tuple[float, ...], chunk_size: int
) -> SourceReduction:
    """One task: the engine's times from ``sources`` (positions ``start..``), reduced and merged.

    The sources are searched ``chunk_size`` at a time; each chunk is reduced at once.
    """
    acc = None
    for s in range(0, len(sources), chunk_size):
        part = reduce_chunk(engine.times(sources[s : s + chunk_size]), start + s, thresholds)
        acc = part if acc is None else merge_reductions(acc, part)
    assert acc is not None
    return acc


def reduce_sources(
    engine: SourceEngine,
    sources: npt.ArrayLike,
    *,
    thresholds: Sequence[float] = (),
    chunk_size: int = 16,
    executor: Executor | Any | None = None,
    progress: Progress | None = None,
    tasks_per_worker: int = 4,
) -> SourceReduction:
    """Nearest and second source of every target, and the sources within each threshold, in chunks.

    Parameters
    ----------
    engine
        A :class:`SourceEngine`: ``engine.times(chunk)`` is ``(n_targets, len(chunk))``.
    sources
        Source positions in the engine's numbering (for the engines here: node positions).
    thresholds
        Times to count sources within (``<=``), such as a response standard in seconds.
    chunk_size
        Sources searched at once; memory is about ``2 x n_targets x chunk_size`` floats per worker.
    executor
        None (in process), a :class:`gis.executor.Executor` (:func:`gis.executor.open_executor`)
        or a ``distributed.Client``. The engine is shared with the workers once.
    progress
        ``progress(done, total)`` in tasks, for a progress bar.
    tasks_per_worker
        On a cluster, the chunks are grouped into about this many tasks per worker, each merging
        its own chunks, so that the driver merges a few results, not one per chunk. In process,
        every chunk is a task.

    Returns
    -------
    SourceReduction
        Identical (bit for bit) for every chunk size and executor.

    Examples
    --------
    >>> from planning.travel import road_matrix
    >>> from gis import graph_from_lines
    >>> m = road_matrix(graph_from_lines(city["roads"]))
    >>> r = reduce_sources(CsgraphEngine.from_road_matrix(m), [0, 10, 20], thresholds=[300.0], chunk_size=2)
    >>> r.n_targets == m.n_nodes, r.nearest[[0, 10, 20]].tolist()
    (True, [0, 1, 2])
    """
    src = np.asarray(sources)
    if src.ndim != 1:
        msg = f"`sources` has shape {src.shape}. Fix: pass a 1-D array of source positions."
        raise InputError(msg)
    for name, value in (("chunk_size", chunk_size), ("tasks_per_worker", tasks_per_worker)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            msg = f"`{name}` is {value!r}. Fix: give a whole number >= 1."
            raise InputError(msg)
    th = tuple(float(x) for x in thresholds)
    if any(np.isnan(th)):
        msg = f"`thresholds` {list(th)} contain NaN. Fix: give numbers (seconds for travel times)."
        raise InputError(msg)
    ex = as_executor(executor)
    step = int(chunk_size)
    starts = np.arange(0, len(src), step)
    if len(starts) == 0:
        return _empty(len(engine.times(src[:0])), th)
    n_tasks = len(starts) if isinstance(ex, InProcessExecutor) else tasks_per_worker * ex.n_workers
    groups = [g for g in np.array_split(starts, min(n_tasks, len(starts))) if len(g)]
    bounds = [(int(g[0]), min(int(g[-1]) + step, len(src))) for g in groups]
    tasks = [(src[a:b], a, th, step) for a, b in bounds]
    handle = ex.share(engine)
    acc: SourceReduction | None = None
    for _, part in ex.run(_engine_chunks, tasks, shared=(handle,), progress=progress, name="reduce_sources"):
        acc = part if acc is None else merge_reductions(acc, part)
    assert acc is not None
    return acc
