"""The vectorised road-graph builder behind :mod:`gis.network`.

A line layer is checked, its tags read (:mod:`gis.network._speeds`) and projected to a metric CRS
(:func:`_prepare`); its lines are cut into edges between nodes, directed, pruned to the
largest strongly connected component and assembled, array by array, into a
:class:`~gis.network.RoadGraph` with a :class:`~gis.network.NetworkReport` (:func:`_assemble`).
The graph model is described in :mod:`gis.network`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from ..crs import check_coordinates, local_metric_crs, require_metric, to_metric
from ..errors import InputError, NetworkError
from ._columns import MISSING_ID, categorical
from ._csr import adjacency_order
from ._report import NetworkReport
from ._speeds import _directions, _osmids, _speeds, _text, parse_other_tags
from .graph import RoadGraph

__all__ = ["JOIN_TOLERANCE_M", "LINE_ATTRS", "MAX_SCALE_ERROR", "CRSArg"]

# Messages keep the logger of the public module, as before the split (the CLI prints its name).
log = logging.getLogger(__name__)

#: Line-layer vertices closer than this (after rounding metric coordinates) are one vertex.
JOIN_TOLERANCE_M = 0.01
#: Line-layer columns every edge of a line keeps, in :attr:`RoadGraph.edge_attrs` (text or None):
#: ``city``, the city (territory) a road lies in, as a province's layers name it.
LINE_ATTRS: tuple[str, ...] = ("city",)
#: Metric input whose CRS scale error exceeds this at the data is reprojected to UTM.
MAX_SCALE_ERROR = 0.005

CRSArg = pyproj.CRS | str | int | None
FloatArray = npt.NDArray[np.float64]


# ------------------------------------------------------------------------------ graph core


@dataclass
class _Lines:
    """Drivable lines ready to assemble (one row per single-part line, metric CRS).

    Line ``i`` has the vertices ``xy[offsets[i]:offsets[i + 1]]``.
    """

    xy: FloatArray
    offsets: npt.NDArray[np.int64]
    crs: pyproj.CRS
    keys: npt.NDArray[np.int64] | None
    highway: npt.NDArray[np.object_]
    name: npt.NDArray[np.object_]
    osmid: npt.NDArray[np.object_]
    speed_kph: FloatArray
    direction: npt.NDArray[np.int8]
    oneway: npt.NDArray[np.bool_]
    rows: npt.NDArray[np.int64]
    n_lines_in: int
    n_skipped: int
    attrs: Mapping[str, npt.NDArray[np.object_]] = field(default_factory=dict)  # per line: LINE_ATTRS


def _vertex_ids(xy: FloatArray) -> npt.NDArray[np.int64]:
    """Ids of distinct vertices after rounding to JOIN_TOLERANCE_M, numbered by (x, y)."""
    grid = np.round(xy / JOIN_TOLERANCE_M).astype(np.int64)
    if len(grid) == 0:
        return np.zeros(0, np.int64)
    gx, gy = grid[:, 0] - grid[:, 0].min(), grid[:, 1] - grid[:, 1].min()
    span = int(gy.max()) + 1
    if int(gx.max()) < np.iinfo(np.int64).max // span:  # one key: one sort (a city: ~1e13)
        ids: npt.NDArray[np.int64] = np.unique(gx * span + gy, return_inverse=True)[1].ravel()
        return ids
    order = np.lexsort((grid[:, 1], grid[:, 0]))
    g = grid[order]
    new = np.r_[True, (g[1:] != g[:-1]).any(axis=1)]
    ids = np.empty(len(g), np.int64)
    ids[order] = np.cumsum(new) - 1
    return ids


@dataclass
class _Topology:
    """Lines cut into undirected edges between nodes (vertex positions index ``xy``)."""

    xy: FloatArray  # vertices kept, in line order
    e0: npt.NDArray[np.int64]  # first vertex of each edge
    e1: npt.NDArray[np.int64]  # last vertex of each edge
    eline: npt.NDArray[np.int64]  # line of each edge
    elen: FloatArray  # edge length
    u: npt.NDArray[np.int64]  # node at e0
    v: npt.NDArray[np.int64]  # node at e1
    node_xy: FloatArray
    node_key: npt.NDArray[np.int64] | None  # OSM node id of each node
    n_short: int  # lines reduced to a single vertex


def _topology(lines: _Lines, source: str | None) -> _Topology:
    xy = lines.xy
    counts = np.diff(lines.offsets)
    line_of = np.repeat(np.arange(len(counts)), counts)
    keys = lines.keys
    vid = np.unique(keys, return_inverse=True)[1].ravel() if keys is not None else _vertex_ids(xy)
    # drop repeated consecutive vertices, then lines reduced to a single vertex
    keep = np.ones(len(vid), dtype=bool)
    keep[1:] = (vid[1:] != vid[:-1]) | (line_of[1:] != line_of[:-1])
    short = np.bincount(line_of[keep], minlength=len(counts)) < 2
    keep &= ~short[line_of]
    xy, vid, line_of = xy[keep], vid[keep], line_of[keep]
    if len(vid) == 0:
        msg = f"`{source or 'lines'}` has no drivable road with a length. Fix: check the input."
        raise NetworkError(msg)
    # nodes: line ends and vertices used more than once (by several lines or twice by one)
    brk = line_of[1:] != line_of[:-1]
    is_end = np.r_[brk, True]
    is_node = np.r_[True, brk] | is_end | (np.bincount(vid)[vid] > 1)
    npos = np.flatnonzero(is_node)
    pair = line_of[npos[:-1]] == line_of[npos[1:]]
    e0, e1 = npos[:-1][pair], npos[1:][pair]
    seg = np.zeros(len(xy))
    seg[:-1] = np.hypot(*np.diff(xy, axis=0).T)
    seg[is_end] = 0.0
    node_vid, first = np.unique(vid[npos], return_index=True)
    node_of = np.empty(int(vid.max()) + 1, np.int64)  # vertex id -> node (vertex ids are dense)
    node_of[node_vid] = np.arange(len(node_vid))
    return _Topology(
        xy=xy,
        e0=e0,
        e1=e1,
        eline=line_of[e0],
        elen=np.add.reduceat(seg, e0),
        u=node_of[vid[e0]],
        v=node_of[vid[e1]],
        node_xy=xy[npos[first]],
        node_key=keys[keep][npos[first]] if keys is not None else None,
        n_short=int(short.sum()),
    )


def _directed(topo: _Topology, direction: npt.NDArray[np.int8]) -> tuple[Any, Any, Any, Any]:
    """Directed edges: (edge index, reversed?, source node, target node), in edge order."""
    d = direction[topo.eline]
    counts = np.where(d == 0, 2, 1)  # two-way: forward then backward; one-way: its direction
    eid = np.repeat(np.arange(len(d)), counts)
    rev = np.ones(len(eid), dtype=bool)
    rev[np.cumsum(counts) - counts] = d < 0
    return eid, rev, np.where(rev, topo.v[eid], topo.u[eid]), np.where(rev, topo.u[eid], topo.v[eid])


def _line_ids(osmid: npt.NDArray[np.object_]) -> npt.NDArray[np.int64]:
    """OSM ids of the lines (ints or None) as int64, :data:`MISSING_ID` where unknown."""
    known = ~pd.isna(osmid)
    out = np.full(len(osmid), MISSING_ID, dtype=np.int64)
    if known.any():
        out[known] = osmid[known].astype(np.int64)
    return out


def _edge_lines(
    topo: _Topology,
    eid: npt.NDArray[np.int64],
    rev: npt.NDArray[np.bool_],
    ends: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]],
    node_xy: FloatArray,
) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """Every directed edge's line, packed: its vertices from source to target, and offsets.

    A straight edge is the segment between its nodes' coordinates; a bent edge keeps the vertices
    of its road, reversed for the edge against the drawing direction.
    """
    npts = topo.e1[eid] - topo.e0[eid] + 1
    offsets = np.zeros(len(eid) + 1, np.int64)
    np.cumsum(npts, out=offsets[1:])
    start = np.where(rev, topo.e1[eid], topo.e0[eid])
    step = np.where(rev, -1, 1)
    # vertex k of edge j is start[j] + step[j] * (k - offsets[j])
    idx = np.repeat(start - step * offsets[:-1], npts)
    idx += np.repeat(step.astype(np.int8), npts) * np.arange(int(offsets[-1]))
    xy = topo.xy[idx]
    del idx
    src, dst = ends
    straight = np.flatnonzero(npts == 2)
    xy[offsets[straight]] = node_xy[src[straight]]
    xy[offsets[straight] + 1] = node_xy[dst[straight]]
    return xy, offsets


def _assemble(lines: _Lines, *, keep_largest: bool, source: str | None, t0: float) -> RoadGraph:
    topo = _topology(lines, source)
    eid, rev, src, dst = _directed(topo, lines.direction)
    n = len(topo.node_xy)
    adj = csr_matrix((np.ones(len(src), np.int32), (src, dst)), shape=(n, n))
    n_comp, labels = connected_components(adj, directed=True, connection="strong")
    del adj
    keep_n = labels == np.bincount(labels).argmax() if keep_largest else np.ones(n, bool)
    keep_e = keep_n[src] & keep_n[dst]
    new_id = np.cumsum(keep_n) - 1
    eid, rev, src, dst = eid[keep_e], rev[keep_e], new_id[src[keep_e]], new_id[dst[keep_e]]
    if len(eid) == 0:
        msg = (
            f"`{source or 'lines'}` has no two roads joined both ways: every strongly connected "
            "component is a single node. Fix: check the `oneway` tags and that lines share "
            "vertices where roads meet."
        )
        raise NetworkError(msg)
    used = np.zeros(len(topo.elen), dtype=bool)  # each road once, however many directions kept
    used[eid] = True
    length_km = float(topo.elen[used].sum() / 1000.0)
    # edges in the order networkx iterated the graph the builder used to make
    key, order = adjacency_order(src, dst)
    eid, rev, src, dst, key = eid[order], rev[order], src[order], dst[order], key[order]
    n_kept = int(keep_n.sum())
    node_xy = topo.node_xy[keep_n]
    indptr = np.zeros(n_kept + 1, np.int64)
    np.cumsum(np.bincount(src, minlength=n_kept), out=indptr[1:])
    el = topo.eline[eid]
    length = topo.elen[eid]
    speed = lines.speed_kph[el]
    geometry_xy, offsets = _edge_lines(topo, eid, rev, (src, dst), node_xy)
    highway, name = categorical(lines.highway), categorical(lines.name)
    report = NetworkReport(
        n_nodes=n_kept,
        n_edges=len(eid),
        n_dropped_nodes=int(n - n_kept),
        n_dropped_edges=int(len(keep_e) - len(eid)),
        n_components=int(n_comp),
        length_km=length_km,
        n_lines_in=lines.n_lines_in,
        n_lines_skipped=lines.n_skipped + topo.n_short,
        build_time_s=round(time.perf_counter() - t0, 3),
    )
    graph = RoadGraph(
        node_xy=node_xy,
        indptr=indptr,
        targets=dst,
        key=key,
        length_m=length,
        speed_kph=speed,
        travel_time_s=length / (speed / 3.6),
        highway=pd.Categorical.from_codes(highway.codes[el], dtype=highway.dtype),
        oneway=lines.oneway[el],
        osm_way_id=_line_ids(lines.osmid)[el],
        name=pd.Categorical.from_codes(name.codes[el], dtype=name.dtype),
        geometry_xy=geometry_xy,
        geometry_offsets=offsets,
        crs=lines.crs,
        source=source,
        report=report,
        osm_node_id=topo.node_key[keep_n] if topo.node_key is not None else None,
        edge_attrs=MappingProxyType({k: v[el] for k, v in lines.attrs.items()}),
    )
    _log_report(report, source)
    return graph


def _log_report(report: NetworkReport, source: str | None) -> None:
    where = f"`{source}`: " if source else ""
    total = report.n_nodes + report.n_dropped_nodes
    if report.n_dropped_nodes > 0.1 * total:
        log.warning(
            "%sthe largest strongly connected component holds only %d of %d nodes; check "
            "oneway tags and disconnected parts of the input",
            where,
            report.n_nodes,
            total,
        )
    elif report.n_dropped_nodes:
        log.info(
            "%sdropped %d nodes and %d edges outside the largest strongly connected component",
            where,
            report.n_dropped_nodes,
            report.n_dropped_edges,
        )
    log.info("%s%s", where, report)


# ----------------------------------------------------------------------------- input lines


def _scale_error(gdf: gpd.GeoDataFrame) -> float:
    """Largest relative scale error of ``gdf``'s projected CRS at the data's centre."""
    centre = gpd.GeoSeries([shapely.box(*gdf.total_bounds).centroid], crs=gdf.crs).to_crs(4326)
    factors = pyproj.Proj(gdf.crs).get_factors(centre.x.iloc[0], centre.y.iloc[0])
    return float(max(abs(factors.meridional_scale - 1), abs(factors.parallel_scale - 1)))


def _to_metric(lines: gpd.GeoDataFrame, crs: CRSArg, where: str) -> gpd.GeoDataFrame:
    """Project to ``crs``, or to the local UTM zone unless already in a faithful metric CRS.

    A projected CRS whose scale is off by more than :data:`MAX_SCALE_ERROR` at the data
    (Web Mercator: +27 % at Taiyuan) would distort lengths, so such input goes to UTM too.
    """
    target = _metric_crs(crs)
    if target is not None:
        return lines.to_crs(target)
    metric = to_metric(lines)
    if metric.crs.is_projected and metric is lines and len(lines):
        error = _scale_error(lines)
        if error > MAX_SCALE_ERROR:
            log.info(
                "%s: CRS `%s` distorts lengths by %.1f %% here; projecting to the local UTM zone",
                where,
                lines.crs.to_string(),
                100 * error,
            )
            metric = lines.to_crs(local_metric_crs(lines))
    return metric


def _metric_crs(crs: CRSArg) -> pyproj.CRS | None:
    if crs is None:
        return None
    out = pyproj.CRS.from_user_input(crs)
    require_metric(gpd.GeoSeries([], crs=out), what="crs")
    return out


def _prepare(
    lines: gpd.GeoDataFrame,
    table: Mapping[str, Any],
    where: str,
    source: str | None,
    crs: CRSArg = None,
) -> _Lines:
    if not isinstance(lines, gpd.GeoDataFrame):
        msg = f"{where} must be a GeoDataFrame of lines, not {type(lines).__name__}."
        raise InputError(msg)
    check_coordinates(lines, file=source, layer="roads")
    n_in = len(lines)
    geom = lines.geometry.to_numpy()
    empty = shapely.is_missing(geom) | shapely.is_empty(geom)
    bad = ~empty & ~np.isin(shapely.get_type_id(geom), [1, 5])  # LineString, MultiLineString
    if bad.any():
        rows = lines.index[bad].tolist()
        msg = (
            f"{where} has {int(bad.sum())} non-line geometries (rows {rows[:10]}). "
            "Fix: keep only LineString/MultiLineString roads, for example "
            "`lines[lines.geom_type.str.contains('LineString')]`."
        )
        raise InputError(msg)
    other = (
        parse_other_tags(lines["other_tags"], ("oneway", "maxspeed", "junction", "area"))
        if "other_tags" in lines
        else None
    )

    def tag(name: str) -> npt.NDArray[np.object_]:
        own = _text(lines.get(name), n_in)
        if other is not None and name in other:
            own = np.where(pd.isna(own), _text(other[name], n_in), own)
        return own

    highway = tag("highway")
    speed, drivable, implied = _speeds(highway, tag("maxspeed"), table)
    if "highway" not in lines:
        log.info("%s has no `highway` column: every line is a road at default_speed_kph", where)
        speed[:] = float(table["defaults"]["default_speed_kph"])
        drivable[:] = True
    area = pd.Series(tag("area"), dtype=object).str.lower().eq("yes").to_numpy()
    use = drivable & ~area & ~empty
    _log_skipped(highway, use, empty, area, where)
    _require_drivable(highway, use, where)
    metric = _to_metric(lines.loc[use, [lines.geometry.name]], crs, where)
    parts, part_of = shapely.get_parts(metric.geometry.to_numpy(), return_index=True)
    idx = np.flatnonzero(use)[part_of]
    keys = None
    if "node_ids" in lines:
        ids = lines["node_ids"].to_numpy()[idx]
        if np.array_equal(shapely.get_num_coordinates(parts), [len(a) for a in ids]):
            keys = np.concatenate(ids).astype(np.int64)
        else:
            log.warning("%s: `node_ids` do not match the vertices; joining on coordinates", where)
    direction = _directions(tag("oneway"), tag("junction"), implied)
    osmid_col = next((c for c in ("osmid", "osm_id") if c in lines), None)
    offsets = np.zeros(len(parts) + 1, np.int64)
    np.cumsum(shapely.get_num_coordinates(parts), out=offsets[1:])
    return _Lines(
        xy=shapely.get_coordinates(parts),
        offsets=offsets,
        crs=pyproj.CRS.from_user_input(metric.crs),
        keys=keys,
        highway=highway[idx],
        name=tag("name")[idx],
        osmid=_osmids(lines[osmid_col] if osmid_col else None, n_in)[idx],
        speed_kph=speed[idx],
        direction=direction[idx],
        oneway=(direction != 0)[idx],
        rows=idx,
        n_lines_in=n_in,
        n_skipped=int((~use).sum()),
        attrs={k: tag(k)[idx] for k in LINE_ATTRS if k in lines},
    )


def _require_drivable(highway: npt.NDArray[np.object_], use: npt.NDArray[np.bool_], where: str) -> None:
    """Raise :class:`NetworkError` when no line of ``where`` is a drivable road (``use`` all False)."""
    if use.any():
        return
    found = pd.Series(highway, dtype=object).value_counts().head(10).to_dict()
    msg = (
        f"{where} has no drivable road among its {len(use)} lines (highway classes found: "
        f"{found}). Fix: check that it is a road layer with a `highway` column, or mark "
        "its classes drivable in the speed table (`road_speeds=`)."
    )
    raise NetworkError(msg)


def _log_skipped(
    highway: npt.NDArray[np.object_],
    use: npt.NDArray[np.bool_],
    empty: npt.NDArray[np.bool_],
    area: npt.NDArray[np.bool_],
    where: str,
) -> None:
    if use.all():
        return
    hw = pd.Series(highway, dtype=object)
    skipped = hw[~use & ~empty & ~area & hw.notna().to_numpy()].value_counts().to_dict()
    log.info(
        "%s: skipped %d lines: %d without a highway tag, %d empty, %d areas, by class %s",
        where,
        int((~use).sum()),
        int((hw.isna().to_numpy() & ~use & ~empty).sum()),
        int(empty.sum()),
        int((area & ~empty).sum()),
        skipped,
    )
