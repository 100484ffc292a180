"""Which roads matter most: the arterial segments and bridges ranked by what their closure costs.

:func:`criticality` closes every arterial segment (``trunk``, ``primary``, ``secondary`` and
their links by default: both directions between two road nodes) and every bridge (all its edges
at once) in turn, and measures what each closure costs the communities' first-engine response:
residents cut off from every station, resident-seconds lost, residents losing coverage. It is
the notebooks' bridge loop done for every arterial, fast: a closure only searches again the
nodes below a closed edge of the nearest-station forest (:mod:`planning._forest`), and most
segments carry no community's shortest path at all, so they cost nothing and need no search.
Its figures equal the naive loop's (a whole search per closure, :func:`planning.what_if` with
``method="full"``) exactly (tests/test_what_if.py, benchmarks/bench_what_if.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from gis.errors import InputError

if TYPE_CHECKING:
    from gis.network.graph import GraphLike

    from .what_if import WhatIfBaseline

__all__ = ["ARTERIAL_CLASSES", "bridge_edges", "criticality", "road_segments"]

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: Road classes whose segments :func:`criticality` ranks by default.
ARTERIAL_CLASSES: tuple[str, ...] = (
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
)

#: Barrier kinds that make the roads crossing them bridges.
WATER_KINDS: tuple[str, ...] = ("river", "water", "canal", "lake")


def road_segments(graph: GraphLike, *, classes: Sequence[str] = ARTERIAL_CLASSES) -> list[IntArray]:
    """The road segments of the given classes: the edges between two nodes, both directions.

    Every edge of the graph between the same two nodes (either way, parallel edges too) goes
    into the segment when one of them is of a class in ``classes``; segments in the order of
    their first edge.

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from gis import graph_from_lines
    >>> segs = road_segments(graph_from_lines(city["roads"]))
    >>> len(segs) > 100, all(1 <= len(s) <= 4 for s in segs)
    (True, True)
    """
    from gis.network import as_road_graph

    g = as_road_graph(graph)
    u, v = g.sources, g.targets
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    key = lo * np.int64(g.n_nodes) + hi
    wanted = np.isin(np.asarray(g.highway, dtype=object), list(classes))
    keys = np.unique(key[wanted])
    sel = np.flatnonzero(np.isin(key, keys))
    order = sel[np.argsort(key[sel], kind="stable")]
    k = key[order]
    cut = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    groups = np.split(order, cut[1:])
    groups.sort(key=lambda e: int(e.min()))
    return [np.sort(e).astype(np.int64) for e in groups]


def bridge_edges(graph: GraphLike, barriers: gpd.GeoDataFrame | None = None) -> dict[str, IntArray]:
    """The bridges by name: edges with a true ``bridge`` attribute, else those crossing water barriers.

    Edges crossing a ``barriers`` polygon of kind river, water, canal or lake are bridges when the
    graph has no ``bridge`` edge attribute; edges without a name take ``bridge at edge N``.

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from gis import graph_from_lines
    >>> sorted(bridge_edges(graph_from_lines(city["roads"]), city["barriers"]))
    ['Jianshe Bridge', 'Ring Expressway Bridge', 'Xinhua Bridge']
    """
    from gis.network import as_road_graph

    g = as_road_graph(graph)
    if "bridge" in g.edge_attrs:
        flag = pd.Series(np.asarray(g.edge_attrs["bridge"], dtype=object)).astype(str).str.lower()
        on = np.flatnonzero(~flag.isin(["", "no", "none", "nan", "false", "0"]).to_numpy())
    elif barriers is not None and len(barriers):
        water = barriers
        if "kind" in barriers.columns:
            water = barriers[barriers["kind"].astype(str).str.lower().isin(WATER_KINDS)]
        if not len(water):
            return {}
        polys = water.geometry.to_crs(g.crs).to_numpy()
        _, on = g.edge_tree().query(polys, predicate="intersects")
        on = np.unique(on)
    else:
        return {}
    names = pd.Series(np.asarray(g.name, dtype=object)[on], index=on)
    names = names.where(names.notna(), pd.Series([f"bridge at edge {e}" for e in on], index=on))
    return {str(n): np.asarray(grp.index, np.int64) for n, grp in names.groupby(names, sort=True)}


def criticality(
    baseline: WhatIfBaseline,
    *,
    classes: Sequence[str] = ARTERIAL_CLASSES,
    barriers: gpd.GeoDataFrame | None = None,
    segments: Sequence[IntArray] | None = None,
    bridges: dict[str, IntArray] | None = None,
    top: int | None = None,
) -> gpd.GeoDataFrame:
    """Rank road segments and bridges by what their closure costs the communities.

    Parameters
    ----------
    baseline
        From :func:`planning.what_if_baseline`.
    classes
        Road classes of the segments ranked (default :data:`ARTERIAL_CLASSES`).
    barriers
        The scenario's ``barriers`` layer: roads crossing its water polygons are bridges.
    segments, bridges
        Closures to rank instead of the default ones (edge positions; bridges by name).
    top
        Keep the ``top`` rows (default all).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per closure, most critical first (residents cut off from every station, then
        resident-seconds lost): ``rank``, ``kind`` (``segment`` / ``bridge``), ``name``,
        ``highway``, ``edges`` (positions, comma-separated), ``length_m``,
        ``residents_cut_off``, ``resident_seconds_lost``, ``residents_losing_coverage``,
        ``communities_slower``, ``nodes_searched`` and the closed lines.

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from gis import graph_from_lines
    >>> from planning.what_if import what_if_baseline
    >>> base = what_if_baseline(graph_from_lines(city["roads"]), city["fire_stations"], city["communities"])
    >>> ranking = criticality(base, barriers=city["barriers"], top=5)
    >>> len(ranking), ranking["rank"].tolist(), bool((ranking["resident_seconds_lost"] > 0).any())
    (5, [1, 2, 3, 4, 5], True)
    """
    t0 = time.perf_counter()
    g = baseline.graph
    segs = list(road_segments(g, classes=classes) if segments is None else segments)
    brs = bridge_edges(g, barriers) if bridges is None else dict(bridges)
    closures: list[tuple[str, str | None, IntArray]] = [
        ("segment", None, np.asarray(s, np.int64)) for s in segs
    ]
    closures += [("bridge", name, np.asarray(e, np.int64)) for name, e in brs.items()]
    for kind, name, e in closures:
        if len(e) == 0 or e.min() < 0 or e.max() >= g.n_edges:
            msg = f"The {kind} {name or ''} has edges outside 0..{g.n_edges - 1}. Fix: give edge positions."
            raise InputError(msg)
    ranker = _Ranker(baseline)
    rows = [ranker.cost(e) for _, _, e in closures]
    names = np.asarray(g.name, dtype=object)
    highway = np.asarray(g.highway, dtype=object)
    lines = g.edge_geometries()
    table = gpd.GeoDataFrame(
        {
            "kind": [k for k, _, _ in closures],
            "name": [n if n is not None else _first(names[e]) for _, n, e in closures],
            "highway": [_first(highway[e]) for _, _, e in closures],
            "edges": [",".join(map(str, e.tolist())) for _, _, e in closures],
            "length_m": [
                float(g.length_m[e].max()) if k == "segment" else float(g.length_m[e].sum())
                for k, _, e in closures
            ],
            "residents_cut_off": [r[0] for r in rows],
            "resident_seconds_lost": [r[1] for r in rows],
            "residents_losing_coverage": [r[2] for r in rows],
            "communities_slower": [r[3] for r in rows],
            "nodes_searched": [r[4] for r in rows],
        },
        geometry=[shapely.union_all(lines[e]) if len(e) > 1 else lines[e[0]] for _, _, e in closures],
        crs=g.crs,
    )
    table = table.sort_values(
        ["residents_cut_off", "resident_seconds_lost", "residents_losing_coverage"],
        ascending=False,
        kind="stable",
    )
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    table.index = pd.RangeIndex(len(table), name="closure")
    if top is not None:
        table = table.head(int(top))
    log.info(
        "criticality: %d segments and %d bridges in %.1f s (%d searched again)",
        len(segs),
        len(brs),
        time.perf_counter() - t0,
        ranker.searched,
    )
    return table


def _first(values: npt.NDArray[np.object_]) -> object:
    for v in values:
        if v is not None and not pd.isna(v):
            return v
    return None


class _Ranker:
    """The cost of closures on one baseline, each searched again only where it must be."""

    def __init__(self, base: WhatIfBaseline) -> None:
        self.base = base
        self.forest = base.forest
        m = base.matrix
        self.pair = base.edge_entry
        self.data = m.csr.data.astype(np.float64, copy=True)
        # the edges of every CSR entry (parallel edges share one)
        order = np.argsort(self.pair, kind="stable")
        self.pair_order = order
        self.pair_start = np.searchsorted(self.pair[order], np.arange(len(self.data) + 1))
        # communities: their edge ends, and how many sit in each subtree (prefix over the preorder)
        u, v = m.edge_uv[base.edge, 0], m.edge_uv[base.edge, 1]
        self.u, self.v = u, v
        ends = np.zeros(m.n_nodes, np.int64)
        np.add.at(ends, u, 1)
        np.add.at(ends, v, 1)
        f = self.forest
        self.prefix = np.r_[0, np.cumsum(ends[f.order])]
        self.before = base.response_s
        self.covered = (self.before <= base.standard.response_s) & ~base.flagged
        self.searched = 0
        self.edge_closed = np.zeros(m.edge_uv.shape[0], bool)

    def cost(self, edges: IntArray) -> tuple[float, float, float, float, float]:
        """The closure's figures.

        ``(residents cut off, resident-seconds lost, residents losing coverage, communities slower,
        nodes searched)``.
        """
        base, f = self.base, self.forest
        hit = np.unique(self.pair[edges])
        hit = hit[hit >= 0]
        self.edge_closed[edges] = True
        try:
            # the new cost of each entry hit: its cheapest parallel edge still open
            old = self.data[hit].copy()
            for p in hit.tolist():
                par = self.pair_order[self.pair_start[p] : self.pair_start[p + 1]]
                par = par[~self.edge_closed[par]]
                self.data[p] = float(base.matrix.edge_cost[par].min()) if len(par) else np.inf
            changed = hit[self.data[hit] > old]
            own = self.edge_closed[base.edge]
            u_c = f.entry_rows[changed]
            v_c = base.matrix.csr.indices[changed].astype(np.int64)
            heads = v_c[f.pred[v_c] == u_c]
            reached = heads[f.start[heads] >= 0]
            starts = f.start[reached]
            inside = int((self.prefix[starts + f.size[reached]] - self.prefix[starts]).sum())
            if inside == 0 and not own.any():
                return 0.0, 0.0, 0.0, 0.0, 0.0
            mask = f.affected(changed, np.zeros(0, np.int64))
            cost = f.cost
            n_searched = 0
            if mask.any():
                rep = f.repair(self.data, mask, removed=np.zeros(0, np.int64))
                cost = f.cost.copy()
                cost[rep.nodes] = rep.cost
                n_searched = len(rep.nodes)
                self.searched += 1
            snaps = base.resnap(self.edge_closed) if own.any() else None
            after, _ = base.response_times(cost, self.data, self.edge_closed, snaps)
            flagged = base.flagged
            if snaps is not None and len(snaps.far):
                flagged = flagged.copy()
                flagged[snaps.far] = True
            return _figures(base.population, self.before, after, self.covered, base, n_searched, flagged)
        finally:
            self.edge_closed[edges] = False
            self.data[hit] = base.matrix.csr.data[hit]


def _figures(  # noqa: PLR0917 - one closure's arrays, in the order they are computed
    pop: FloatArray,
    before: FloatArray,
    after: FloatArray,
    covered: npt.NDArray[np.bool_],
    base: WhatIfBaseline,
    n: int,
    flagged: npt.NDArray[np.bool_],
) -> tuple[float, float, float, float, float]:
    reached = np.isfinite(before)
    cut = reached & ~np.isfinite(after)
    with np.errstate(invalid="ignore"):
        lost = np.where(reached & ~cut, after - before, 0.0)
    now = (after <= base.standard.response_s) & ~flagged
    return (
        float(pop[cut].sum()),
        float((pop * np.maximum(lost, 0.0)).sum()),
        float(pop[covered & ~now].sum()),
        float(((lost > 0) | cut).sum()),
        float(n),
    )
