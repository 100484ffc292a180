"""What if roads close or stations change: the first-engine coverage against the baseline.

A :class:`ScenarioChange` says what changes: roads closed by edge position, OSM way id, name (a
bridge) or area (a flooded polygon: every edge whose line intersects it), stations out of
service and temporary stations. :func:`what_if_baseline` searches the stations once (the
nearest-station forest of every road node, :mod:`planning._forest`) and snaps the communities;
:func:`what_if` then gives the change's first-engine response time of every community and the
difference against the baseline (seconds lost, covered -> not covered, residents), and the
city's totals. Closed edges take an infinite travel time on a copy of the same cost arrays (no
graph is rebuilt), and only the nodes whose shortest path used a closed edge or a station taken
out are searched again: on the 100k-node demo city a closure's difference takes milliseconds
(benchmarks/bench_what_if.py), equal to a search of the whole changed graph (``method="full"``,
tests/test_what_if.py).

Places are reached as :func:`planning.layer_coverage` reaches them (the same snap, the same
arithmetic, so the baseline equals :func:`planning.analyse_coverage`'s ``response_time_s``); a
place whose own road closes is snapped again to the nearest open road (``on_closed_road``), as
the coverage of the graph without the closed edges would snap it, and places off the road
network stay not covered (:data:`planning.response.OFF_ROAD_RULE`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from gis.atomic import write_gpkg
from gis.errors import InputError
from gis.network import as_road_graph
from gis.snap import default_max_snap_m
from gis.speech import say

from ._forest import ShortestForest, nearest_search
from .change import ScenarioChange
from .names import DEFAULT_STANDARD
from .response import _speed
from .snapping import _snap_points, _snap_stations
from .standards import ResponseStandard, response_standard
from .travel import RoadMatrix, _points, road_matrix

if TYPE_CHECKING:
    from gis.network.graph import GraphLike, RoadGraph
    from gis.scenario import Scenario
    from gis.tables import TableOverrides

__all__ = ["ScenarioChange", "WhatIfBaseline", "WhatIfResult", "what_if", "what_if_baseline"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Method = Literal["incremental", "full"]


@dataclass(frozen=True, eq=False)
class WhatIfBaseline:
    """The baseline of what-ifs: the stations' forest and the communities' snaps, searched once.

    Build it with :func:`what_if_baseline` (or :meth:`from_scenario`) and keep it: every
    :func:`what_if` on it reuses the search. Frozen; nothing on it changes with a what-if.

    Attributes
    ----------
    graph, matrix
        The road graph and its travel-time matrix.
    standard, speed_factor
        The response profile and engine speed factor.
    stations
        The stations, indexed by id, with their ``node``.
    station_pos
        Their road-node positions, in station order.
    communities
        The communities (with ``population``; 1 each when the layer has none).
    forest
        The nearest-station shortest-path forest.
    population
        Residents of every community.
    edge_entry
        The CSR entry (the ``(u, v)`` pair of the matrix) of every edge of the graph.
    points, max_snap_m
        The communities' points as snapped (graph CRS) and the snap limit, to snap again the
        places whose road closes.
    edge, frac, back_entry, flagged
        Per community: the edge it is snapped to, the fraction along it, the CSR entry of the
        way back (-1 on one-way roads) and whether it is off the road network.
    response_s
        Baseline first-engine response time of every community.
    """

    graph: RoadGraph
    matrix: RoadMatrix
    standard: ResponseStandard
    speed_factor: float
    stations: gpd.GeoDataFrame
    station_pos: IntArray
    communities: gpd.GeoDataFrame
    forest: ShortestForest
    edge: IntArray
    frac: FloatArray
    back_entry: IntArray
    flagged: npt.NDArray[np.bool_]
    response_s: FloatArray
    population: FloatArray = field(repr=False)
    edge_entry: IntArray = field(repr=False, default_factory=lambda: np.zeros(0, np.int64))
    points: npt.NDArray[np.object_] = field(repr=False, default_factory=lambda: np.zeros(0, object))
    max_snap_m: float = 500.0

    @classmethod
    def from_scenario(
        cls,
        scenario: Scenario,
        graph: GraphLike,
        *,
        standard: str | Mapping[str, Any] | ResponseStandard = DEFAULT_STANDARD,
        speed_factor: float = 1.0,
        max_snap_m: float | None = None,
        response_standards: TableOverrides = None,
    ) -> WhatIfBaseline:
        """:func:`what_if_baseline` of a scenario's ``fire_stations`` and ``communities``."""
        return what_if_baseline(
            graph,
            scenario["fire_stations"],
            scenario["communities"],
            standard=standard,
            speed_factor=speed_factor,
            max_snap_m=max_snap_m,
            response_standards=response_standards,
        )

    def response_times(
        self,
        cost: FloatArray,
        data: FloatArray,
        edge_closed: npt.NDArray[np.bool_],
        snaps: Resnap | None = None,
    ) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
        """First-engine response of every community from node ``cost`` and CSR costs ``data``.

        The arithmetic of :meth:`planning.travel.RoadMatrix.point_times` on the nearest-station
        costs. ``snaps``: the places whose road is closed, snapped again to the nearest open one.
        Returns the times and whether each came in from the edge's far end ``v``.
        """
        m = self.matrix
        edge, frac, back_entry = self.edge, self.frac, self.back_entry
        if snaps is not None and len(snaps.rows):
            edge, frac, back_entry = edge.copy(), frac.copy(), back_entry.copy()
            edge[snaps.rows], frac[snaps.rows], back_entry[snaps.rows] = (
                snaps.edge,
                snaps.frac,
                snaps.back_entry,
            )
        u, v = m.edge_uv[edge, 0], m.edge_uv[edge, 1]
        ec = m.edge_cost[edge]
        from_u = np.where(edge_closed[edge], np.inf, cost[u] + frac * ec)
        back = np.where(back_entry >= 0, data[np.maximum(back_entry, 0)], np.inf)
        from_v = np.where(np.isfinite(back), cost[v] + (1.0 - frac) * np.nan_to_num(back), np.inf)
        out: FloatArray = self.standard.turnout_s + np.minimum(from_u, from_v) / self.speed_factor
        return out, from_v < from_u

    def resnap(self, edge_closed: npt.NDArray[np.bool_]) -> Resnap:
        """The communities whose road is closed, snapped to the nearest open edge.

        The rule of :func:`planning.snap_points` (the nearest edge, the lowest-numbered of those
        equally near) over the open edges: the snap of the graph without the closed edges.
        """
        rows = np.flatnonzero(edge_closed[self.edge])
        lines, tree = self.graph.edge_geometries(), self.graph.edge_tree()
        edge = np.full(len(rows), -1, np.int64)
        dist = np.full(len(rows), np.inf)
        everything_closed = bool(edge_closed.all())
        for i, r in enumerate(rows.tolist()):
            pt = self.points[r]
            x, y = shapely.get_x(pt), shapely.get_y(pt)
            radius = 100.0
            while not everything_closed:
                # every edge within `radius` of the point has its box in this square
                cand = tree.query(shapely.box(x - radius, y - radius, x + radius, y + radius))
                cand = np.sort(cand[~edge_closed[cand]])
                if len(cand):
                    d = shapely.distance(lines[cand], pt)
                    best = int(np.argmin(d))  # the first of equal distances: the lowest-numbered
                    if d[best] <= radius:
                        edge[i], dist[i] = cand[best], d[best]
                        break
                if radius > 1e7:
                    break
                radius *= 4.0
        ok = edge >= 0
        frac = np.zeros(len(rows))
        if ok.any():
            line = lines[edge[ok]]
            along = shapely.line_locate_point(line, self.points[rows[ok]])
            length = shapely.length(line)
            frac[ok] = np.divide(along, length, out=np.zeros_like(along), where=length > 0)
        m = self.matrix
        safe = np.maximum(edge, 0)
        back = np.where(ok, _entries(m, m.edge_uv[safe, 1], m.edge_uv[safe, 0]), -1)
        far = ~ok | (dist > self.max_snap_m)
        return Resnap(rows[ok], edge[ok], frac[ok], back[ok], dist[ok], rows[far])


@dataclass(frozen=True, eq=False)
class Resnap:
    """Places snapped again because their road closed: ``rows`` (community positions) and their new snap.

    ``far``: the places now beyond the snap limit (or with no open road), not covered.
    """

    rows: IntArray
    edge: IntArray
    frac: FloatArray
    back_entry: IntArray
    snap_distance_m: FloatArray
    far: IntArray


def _entries(m: RoadMatrix, u: IntArray, v: IntArray) -> IntArray:
    """CSR entry of each ``(u, v)`` pair, -1 where there is no edge (the CSR is sorted by row, column)."""
    n = np.int64(m.n_nodes)
    keys, _ = m._keys
    want = np.asarray(u, np.int64) * n + np.asarray(v, np.int64)
    if not len(keys):
        return np.full(len(want), -1, np.int64)
    at = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
    return np.where(keys[at] == want, at, -1).astype(np.int64)


def what_if_baseline(
    graph: GraphLike,
    stations: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    *,
    standard: str | Mapping[str, Any] | ResponseStandard = DEFAULT_STANDARD,
    speed_factor: float = 1.0,
    max_snap_m: float | None = None,
    response_standards: TableOverrides = None,
) -> WhatIfBaseline:
    """Search the stations once and snap the communities: the baseline of every :func:`what_if`.

    Parameters
    ----------
    graph
        Road graph (:func:`gis.scenario_graph`), travel times in ``travel_time_s``.
    stations
        Fire stations indexed by id.
    communities
        Communities indexed by id, with ``population`` (1 each when missing).
    standard, speed_factor, max_snap_m, response_standards
        As in :func:`planning.analyse_coverage`.

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from gis import graph_from_lines
    >>> base = what_if_baseline(graph_from_lines(city["roads"]), city["fire_stations"], city["communities"])
    >>> len(base.response_s) == len(city["communities"]), bool((base.response_s > 60).all())
    (True, True)
    """
    std = response_standard(standard, response_standards=response_standards)
    speed = _speed(speed_factor)
    road = as_road_graph(graph)
    m = road_matrix(road)
    snaps = _snap_stations(m, stations, max_snap_m=max_snap_m, layer="fire_stations")
    pos = m.positions(snaps["node"].tolist())
    forest = ShortestForest.build(m.csr, pos)
    places = _snap_points(m, communities, layer="communities", max_snap_m=max_snap_m)
    edge = places["edge"].to_numpy(np.int64)
    pair = _entries(m, m.edge_uv[:, 0], m.edge_uv[:, 1])
    rev = _entries(m, m.edge_uv[edge, 1], m.edge_uv[edge, 0])
    pop = (
        pd.to_numeric(communities["population"], errors="coerce").fillna(0.0).to_numpy(np.float64)
        if "population" in communities.columns
        else np.ones(len(communities))
    )
    base = WhatIfBaseline(
        graph=road,
        matrix=m,
        standard=std,
        speed_factor=speed,
        stations=gpd.GeoDataFrame(stations.join(snaps[["node", "snap_distance_m"]]), crs=stations.crs),
        station_pos=pos,
        communities=communities,
        forest=forest,
        edge=edge,
        frac=places["frac"].to_numpy(np.float64),
        back_entry=rev,
        flagged=places["flagged"].to_numpy(bool),
        response_s=np.zeros(len(communities)),
        population=pop,
        edge_entry=pair,
        points=_points(communities.to_crs(m.crs) if communities.crs is not None else communities),
        max_snap_m=float(default_max_snap_m() if max_snap_m is None else max_snap_m),
    )
    no_edge = np.zeros(m.edge_uv.shape[0], bool)
    object.__setattr__(base, "response_s", base.response_times(forest.cost, m.csr.data, no_edge)[0])
    return base


@dataclass(frozen=True, eq=False)
class WhatIfResult:
    """The change's coverage against the baseline, per community and for the city.

    Attributes
    ----------
    change
        The change applied.
    communities
        One row per community (the baseline's index and geometry): ``population``,
        ``response_before_s``, ``response_after_s``, ``seconds_lost`` (``inf`` where no station
        reaches it any more), ``covered_before``, ``covered_after``, ``loses_coverage``,
        ``gains_coverage``, ``cut_off`` (reached before, not after), ``on_closed_road`` (its road
        closed: snapped again to the nearest open one),
        ``nearest_before`` and ``nearest_after`` (station ids).
    summary
        The city: ``residents``, ``residents_losing_coverage``, ``residents_gaining_coverage``,
        ``residents_cut_off``, ``resident_seconds_lost`` (over the communities still reached,
        seconds gained not netted), ``resident_seconds_gained``, ``communities_losing_coverage``,
        ``communities_slower``, ``closed_edges``, ``stations_out``, ``temporary_stations``,
        ``nodes_searched`` and ``seconds``.
    closed_edges
        The closed edges' lines with ``edge``, ``name``, ``highway`` and ``osmid``.
    """

    change: ScenarioChange
    communities: gpd.GeoDataFrame
    summary: Mapping[str, float]
    closed_edges: gpd.GeoDataFrame

    def report(self, *, change: str | None = None) -> str:
        """A few lines for people, in the output's language (:func:`gis.speech.speaking`).

        ``change`` words the change (the service's :func:`describe_change` in the output's
        language); default :meth:`planning.change.ScenarioChange.describe`, English.
        """
        s = self.summary
        return "\n".join(
            [
                say("whatif_head", change=self.change.describe() if change is None else change),
                say(
                    "whatif_coverage", losing=f"{s['residents_losing_coverage']:,.0f}",
                    communities=f"{s['communities_losing_coverage']:.0f}",
                    gaining=f"{s['residents_gaining_coverage']:,.0f}",
                    cut_off=f"{s['residents_cut_off']:,.0f}",
                ),
                say(
                    "whatif_seconds", seconds=f"{s['resident_seconds_lost']:,.0f}",
                    slower=f"{s['communities_slower']:.0f}",
                ),
            ]
        )  # fmt: skip

    def layers(self) -> tuple[dict[str, gpd.GeoDataFrame], dict[str, pd.DataFrame]]:
        """The spatial layers and tables :meth:`write` writes (to add them to another GeoPackage)."""
        summary = pd.DataFrame(
            {"measure": list(self.summary), "value": [float(v) for v in self.summary.values()]}
        )
        return (
            {"what_if_communities": self.communities, "closed_roads": self.closed_edges},
            {
                "what_if_summary": summary,
                "what_if_change": pd.DataFrame({"change": [self.change.describe()]}),
            },
        )

    def write(self, path: str | Path) -> Path:
        """Write ``what_if_communities``, ``closed_roads`` and the summary tables, atomically."""
        spatial, tables = self.layers()
        return write_gpkg(Path(path), spatial, tables)


def what_if(
    baseline: WhatIfBaseline, change: ScenarioChange, *, method: Method = "incremental"
) -> WhatIfResult:
    """The first-engine coverage of the communities under ``change``, against ``baseline``.

    Parameters
    ----------
    baseline
        From :func:`what_if_baseline`.
    change
        Roads closed, stations out, temporary stations.
    method
        ``incremental`` (search again only the nodes whose path used a closed edge or a station
        out, and from the temporary stations) or ``full`` (search the whole changed graph from
        every station): the same times, bit for bit; ``full`` is the reference.

    Raises
    ------
    InputError
        Unknown edges, ways, names or stations, an empty area or one in another CRS, every
        station out, a temporary station off the road network (the message names the rows).

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from gis import graph_from_lines
    >>> base = what_if_baseline(graph_from_lines(city["roads"]), city["fire_stations"], city["communities"])
    >>> res = what_if(base, ScenarioChange(closed_names=("Jianshe Bridge",)))
    >>> bool((res.communities["seconds_lost"] >= 0).all())
    True
    """
    if method not in ("incremental", "full"):
        msg = f"`method` is {method!r}. Fix: use `incremental` or `full`."
        raise InputError(msg)
    t0 = time.perf_counter()
    m, forest = baseline.matrix, baseline.forest
    closed = change.closed_edge_positions(baseline.graph)
    removed = change.removed_station_positions(baseline.stations.index)
    temp = change.temporary_station_nodes(baseline.graph, max_snap_m=None)
    if len(removed) == len(baseline.station_pos) and not len(temp):
        msg = (
            f"The change takes every station out of service ({len(removed)}) and adds none. "
            "Fix: keep at least one station in service, or add a temporary station."
        )
        raise InputError(msg)
    edge_closed = np.zeros(m.edge_uv.shape[0], bool)
    edge_closed[closed] = True
    data, changed = closed_costs(baseline, edge_closed)
    n_searched = 0
    if method == "full":
        keep = np.ones(len(baseline.station_pos), bool)
        keep[removed] = False
        idx = np.flatnonzero(keep)
        sources = np.r_[baseline.station_pos[idx], temp]
        csr = m.csr.copy()
        csr.data = data
        cost, _, which = nearest_search(csr, sources)
        labels = np.r_[idx, len(baseline.station_pos) + np.arange(len(temp))]
        origin = np.where(which >= 0, labels[np.maximum(which, 0)], -1)
        n_searched = m.n_nodes
    else:
        cost, origin = forest.cost.copy(), forest.origin.copy()
        mask = forest.affected(changed, removed)
        if mask.any():
            rep = forest.repair(data, mask, removed=removed, origin=True)
            cost[rep.nodes] = rep.cost
            assert rep.origin is not None
            origin[rep.nodes] = rep.origin
            n_searched = len(rep.nodes)
        if len(temp):
            csr = m.csr.copy()
            csr.data = data
            tcost, _, twhich = nearest_search(csr, temp)
            better = tcost < cost
            cost = np.where(better, tcost, cost)
            origin = np.where(better, len(baseline.station_pos) + twhich, origin)
            n_searched += int(np.isfinite(tcost).sum())
    out = _difference(baseline, change, cost, origin, data, edge_closed)
    summary = dict(out[1])
    summary["nodes_searched"] = float(n_searched)
    summary["seconds"] = time.perf_counter() - t0
    log.info("what-if %s: %s", change.describe(), {k: round(v, 3) for k, v in summary.items()})
    return WhatIfResult(
        change=change, communities=out[0], summary=summary, closed_edges=_edge_lines(baseline, closed)
    )


def closed_costs(baseline: WhatIfBaseline, edge_closed: npt.NDArray[np.bool_]) -> tuple[FloatArray, IntArray]:
    """CSR costs with the closed edges ``inf`` (a pair of parallel edges keeps its open one).

    Returns the new costs (a copy of the matrix's) and the CSR entries whose cost rose.
    """
    m = baseline.matrix
    data = m.csr.data.astype(np.float64, copy=True)
    if not edge_closed.any():
        return data, np.zeros(0, np.int64)
    pair = baseline.edge_entry
    hit = np.unique(pair[edge_closed])
    hit = hit[hit >= 0]
    # the cheapest edge of each hit pair still open (inf when none)
    open_edges = np.flatnonzero(~edge_closed & np.isin(pair, hit))
    best = np.full(len(data), np.inf)
    np.minimum.at(best, pair[open_edges], m.edge_cost[open_edges])
    data[hit] = best[hit]
    changed = hit[data[hit] > m.csr.data[hit]]
    return data, changed


def _difference(  # noqa: PLR0917 - the arrays of one what-if, private
    base: WhatIfBaseline,
    change: ScenarioChange,
    cost: FloatArray,
    origin: IntArray,
    data: FloatArray,
    edge_closed: npt.NDArray[np.bool_],
) -> tuple[gpd.GeoDataFrame, dict[str, float]]:
    std, m = base.standard, base.matrix
    no_edge = np.zeros(len(edge_closed), bool)
    before, via_v0 = base.response_times(base.forest.cost, m.csr.data, no_edge)
    snaps = base.resnap(edge_closed)
    after, via_v1 = base.response_times(cost, data, edge_closed, snaps)
    edge_after = base.edge.copy()
    edge_after[snaps.rows] = snaps.edge
    ids = np.asarray(base.stations.index, dtype=object)
    all_ids = np.r_[ids, np.asarray(change.temporary_station_ids(), dtype=object)]
    none = np.array(None, dtype=object)
    u, v = m.edge_uv[base.edge, 0], m.edge_uv[base.edge, 1]
    near_before = np.where(
        np.isfinite(before), np.where(via_v0, base.forest.origin[v], base.forest.origin[u]), -1
    )
    u1, v1 = m.edge_uv[edge_after, 0], m.edge_uv[edge_after, 1]
    near_after = np.where(np.isfinite(after), np.where(via_v1, origin[v1], origin[u1]), -1)
    flagged_after = base.flagged.copy()
    flagged_after[snaps.far] = True
    covered_before = (before <= std.response_s) & ~base.flagged
    covered_after = (after <= std.response_s) & ~flagged_after
    with np.errstate(invalid="ignore"):
        lost = np.where(np.isfinite(before), after - before, np.nan)
    cut = np.isfinite(before) & ~np.isfinite(after)
    on_closed = edge_closed[base.edge]
    pop = base.population
    out = gpd.GeoDataFrame(
        {
            "name": base.communities["name"] if "name" in base.communities.columns else None,
            "population": pop,
            "response_before_s": before,
            "response_after_s": after,
            "seconds_lost": lost,
            "covered_before": covered_before,
            "covered_after": covered_after,
            "loses_coverage": covered_before & ~covered_after,
            "gains_coverage": ~covered_before & covered_after,
            "cut_off": cut,
            "on_closed_road": on_closed,
            "nearest_before": np.where(near_before >= 0, all_ids[np.maximum(near_before, 0)], none),
            "nearest_after": np.where(near_after >= 0, all_ids[np.maximum(near_after, 0)], none),
        },
        geometry=base.communities.geometry.to_numpy(),
        crs=base.communities.crs,
        index=base.communities.index,
    )
    finite = np.isfinite(lost)
    slower = finite & (lost > 0)
    summary = {
        "residents": float(pop.sum()),
        "residents_losing_coverage": float(pop[out["loses_coverage"].to_numpy()].sum()),
        "residents_gaining_coverage": float(pop[out["gains_coverage"].to_numpy()].sum()),
        "residents_cut_off": float(pop[cut].sum()),
        "resident_seconds_lost": float((pop * np.where(slower, lost, 0.0)).sum()),
        "resident_seconds_gained": float((pop * np.where(finite & (lost < 0), -lost, 0.0)).sum()),
        "communities_losing_coverage": float(out["loses_coverage"].sum()),
        "communities_slower": float(slower.sum() + cut.sum()),
        "closed_edges": float(edge_closed.sum()),
        "stations_out": float(len(change.stations_out)),
        "temporary_stations": float(len(all_ids) - len(ids)),
    }
    return out, summary


def _edge_lines(base: WhatIfBaseline, closed: IntArray) -> gpd.GeoDataFrame:
    g = base.graph

    def text(cat: pd.Categorical) -> npt.NDArray[np.object_]:
        codes = np.asarray(cat.codes)[closed]
        values = np.asarray(cat.categories, dtype=object)
        out = values[np.maximum(codes, 0)]
        out[codes < 0] = None
        return np.asarray(out, dtype=object)

    return gpd.GeoDataFrame(
        {
            "edge": closed,
            "name": text(g.name),
            "highway": text(g.highway),
            "osmid": g.osm_way_id[closed],
        },
        geometry=g.edge_geometries()[closed],
        crs=g.crs,
    )
