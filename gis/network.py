"""Routable road graphs from OSM files, line layers and osmnx, in one graph model.

Graph model (osmnx-compatible where possible; ``osmnx.graph_to_gdfs`` works on it):

- a :class:`networkx.MultiDiGraph` in a local metric CRS (UTM unless the input is already
  projected in metres): ``G.graph["crs"]`` (a :class:`pyproj.CRS`), ``G.graph["source"]`` and
  ``G.graph["report"]`` (a :class:`NetworkReport`);
- nodes are consecutive ints ``0..n-1`` with ``x``, ``y`` (metres) and ``osmid`` when the
  node is an OSM node;
- edges are keyed multi-edges with ``length_m``, ``speed_kph``, ``travel_time_s``,
  ``highway``, ``oneway`` (bool), ``name`` and ``osmid`` when known, and ``geometry`` (a
  LineString in the graph CRS) only when the edge is not a straight segment between its
  end nodes. A two-way road gives two edges, u->v and v->u (with reversed geometry);
- by default only the largest strongly connected component is kept, so that every node can
  reach every other node.

Lines are joined where they share a vertex (OSM ways: where they share an OSM node). A node is
made wherever a vertex is shared by two or more lines (or repeated within one line) and at line
ends; other vertices stay in the edge geometry. Vertices of line layers are matched after
rounding their metric coordinates to :data:`JOIN_TOLERANCE_M` (1 cm); lines that only cross,
without a shared vertex (bridges, tunnels), are not joined.

Lengths are planar lengths in the metric CRS: within a UTM zone they differ from geodesic
lengths by less than 0.1 %. Speeds come from ``gis/data/road_speeds.toml`` (see its comments).
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from ._atomic import atomic_path
from ._cache import GRAPH_MODEL_VERSION, cached_graph
from ._config import load_table
from ._errors import InputError, NetworkError
from .crs import check_coordinates, local_metric_crs, require_metric, to_metric
from .osm import is_osm_file, read_osm_ways

__all__ = [
    "JOIN_TOLERANCE_M",
    "MAX_SCALE_ERROR",
    "NetworkReport",
    "graph_from_file",
    "graph_from_lines",
    "graph_from_osm",
    "graph_from_osmnx",
    "graph_from_query",
    "load_graph",
    "parse_maxspeed",
    "parse_other_tags",
    "save_graph",
    "speed_table",
]

log = logging.getLogger(__name__)

#: Line-layer vertices closer than this (after rounding metric coordinates) are one vertex.
JOIN_TOLERANCE_M = 0.01
#: Metric input whose CRS scale error exceeds this at the data is reprojected to UTM.
MAX_SCALE_ERROR = 0.005

SpeedsArg = Mapping[str, Any] | str | Path | None
CRSArg = pyproj.CRS | str | int | None
FloatArray = npt.NDArray[np.float64]

_FORWARD = frozenset({"yes", "true", "1"})
_BACKWARD = frozenset({"-1", "reverse"})
_TWO_WAY = frozenset({"no", "false", "0"})
_ROUNDABOUT = frozenset({"roundabout", "circular"})
_POLICIES = frozenset({"cap", "replace", "ignore"})
_MAXSPEED_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph|knots)?$")
_UNITS = {None: 1.0, "km/h": 1.0, "kmh": 1.0, "kph": 1.0, "mph": 1.609344, "knots": 1.852}
_GPKG_META = "riskplan_graph"


@dataclass(frozen=True)
class NetworkReport:
    """What a graph build kept and dropped (``G.graph["report"]``).

    ``length_km`` counts each road once (a two-way road is not counted twice).
    ``n_components`` counts strongly connected components before pruning, singletons included.
    ``build_time_s`` is the time spent in the builder (reading included for OSM files).
    """

    n_nodes: int
    n_edges: int
    n_dropped_nodes: int
    n_dropped_edges: int
    n_components: int
    length_km: float
    n_lines_in: int
    n_lines_skipped: int
    build_time_s: float

    def __str__(self) -> str:
        kept = (
            f"kept the largest of {self.n_components:,} strongly connected components, "
            f"dropping {self.n_dropped_nodes:,} nodes and {self.n_dropped_edges:,} edges"
            if self.n_dropped_nodes or self.n_dropped_edges
            else f"{self.n_components:,} strongly connected component(s), nothing dropped"
        )
        return (
            f"Road network: {self.n_nodes:,} nodes, {self.n_edges:,} edges, "
            f"{self.length_km:,.2f} km of road; {kept}; used "
            f"{self.n_lines_in - self.n_lines_skipped:,} of {self.n_lines_in:,} input lines "
            f"({self.n_lines_skipped:,} skipped: not drivable, no highway tag, area or empty); "
            f"built in {self.build_time_s:.2f} s"
        )


# --------------------------------------------------------------------------- speeds and tags


def speed_table(speeds: SpeedsArg = None) -> dict[str, Any]:
    """Return the road speed table merged with ``speeds``, validated.

    Parameters
    ----------
    speeds
        Overrides: a mapping laid out like ``gis/data/road_speeds.toml`` or the path of such
        a TOML file. None gives the shipped table.

    Raises
    ------
    InputError
        When an entry is malformed; the message names the entry and the fix.

    Examples
    --------
    >>> t = speed_table({"highway": {"residential": {"speed_kph": 20.0}}})
    >>> t["highway"]["residential"]["speed_kph"], t["highway"]["primary"]["speed_kph"]
    (20.0, 50.0)
    """
    table = load_table("road_speeds", speeds)
    where = f"`{speeds}`" if isinstance(speeds, (str, Path)) else "`speeds`"
    defaults = table.get("defaults", {})
    policy = defaults.get("maxspeed_policy")
    if policy not in _POLICIES:
        msg = f"{where}: `defaults.maxspeed_policy` is {policy!r}. Fix: use one of {sorted(_POLICIES)}."
        raise InputError(msg)
    for key in ("default_speed_kph", "max_snap_m", "maxspeed_factor"):
        value = defaults.get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            msg = f"{where}: `defaults.{key}` is {value!r}. Fix: give a positive number."
            raise InputError(msg)
    if not isinstance(defaults.get("unknown_drivable"), bool):
        msg = f"{where}: `defaults.unknown_drivable` must be true or false. Fix: set it."
        raise InputError(msg)
    for cls, entry in table.get("highway", {}).items():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("drivable"), bool):
            msg = f"{where}: `highway.{cls}` needs `drivable = true/false`. Fix: add it."
            raise InputError(msg)
        speed = entry.get("speed_kph")
        if entry["drivable"] and (
            not isinstance(speed, (int, float)) or isinstance(speed, bool) or speed <= 0
        ):
            msg = (
                f"{where}: `highway.{cls}.speed_kph` is {speed!r} but the class is drivable. "
                "Fix: give a positive speed in km/h, or set `drivable = false`."
            )
            raise InputError(msg)
    return table


def _parse_one(value: Any, named: Mapping[str, float]) -> float:
    if value is None or isinstance(value, bool):
        return np.nan
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value) if value > 0 else np.nan
    parts = value if isinstance(value, (list, tuple)) else str(value).split(";")
    best = np.nan
    for part in parts:
        text = str(part).strip().casefold()
        if text in named:
            speed = named[text]
        elif m := _MAXSPEED_RE.match(text):
            speed = float(m.group(1)) * _UNITS[m.group(2)]
        else:
            continue
        if speed > 0 and not speed >= best:  # also true when best is NaN
            best = speed
    return best


def parse_maxspeed(values: Any, *, named: Mapping[str, float] | None = None) -> FloatArray:
    """Parse OSM ``maxspeed`` values to km/h.

    Handles ``"50"``, ``"50 km/h"``, ``"30 mph"``, ``"10 knots"``, numbers, named values
    (``"CN:urban"``: the ``[maxspeed]`` table of ``road_speeds.toml``, case-insensitive) and
    several values (``"50;60"`` or a list): the lowest wins, the cautious choice. ``"none"``,
    ``"signals"``, missing values and garbage give NaN (the class speed applies).

    Parameters
    ----------
    values
        A sequence (list, array, Series) of strings, numbers, lists or None.
    named
        Named values in km/h; defaults to the shipped table.

    Returns
    -------
    numpy.ndarray
        Speeds in km/h (float64), NaN where unknown.

    Examples
    --------
    >>> parse_maxspeed(["50", "30 mph", "50;60", "CN:urban", "none", None]).round(2).tolist()
    [50.0, 48.28, 50.0, 50.0, nan, nan]
    """
    if named is None:
        named = load_table("road_speeds")["maxspeed"]
    lookup = {str(k).casefold(): float(v) for k, v in named.items()}
    series = pd.Series(list(values) if not isinstance(values, pd.Series) else values, dtype=object)
    try:
        codes, uniques = pd.factorize(series)
    except TypeError:  # lists (osmnx merged edges) are unhashable
        series = series.map(lambda v: tuple(v) if isinstance(v, list) else v)
        codes, uniques = pd.factorize(series)
    parsed = np.array([_parse_one(u, lookup) for u in uniques] + [np.nan], dtype=np.float64)
    return parsed[codes]  # code -1 (missing) picks the trailing NaN


def parse_other_tags(other_tags: pd.Series, keys: tuple[str, ...]) -> pd.DataFrame:
    """Extract ``keys`` from an ogr2ogr OSM ``other_tags`` hstore column.

    Examples
    --------
    >>> s = pd.Series(['"lanes"=>"4","oneway"=>"yes"', None])
    >>> parse_other_tags(s, ("oneway", "maxspeed")).to_dict("list")
    {'oneway': ['yes', None], 'maxspeed': [None, None]}
    """
    text = other_tags.astype(object).where(other_tags.notna(), "")
    out = pd.DataFrame(index=other_tags.index)
    for key in keys:
        pattern = rf'"{re.escape(key)}"=>"((?:[^"\\]|\\.)*)"'
        col = text.str.extract(pattern, expand=False).astype(object)
        out[key] = col.where(col.notna(), None)
    return out


def _first_text(value: Any) -> str | None:
    if isinstance(value, (list, tuple)):
        value = value[0] if len(value) else None
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(value).strip() or None


def _text(values: pd.Series | None, n: int) -> npt.NDArray[np.object_]:
    """Tag values as an object array of stripped strings or None (lists: first item)."""
    if values is None:
        return np.full(n, None, dtype=object)
    s = pd.Series(values).reset_index(drop=True).astype(object)
    try:
        out = s.str.strip()
    except AttributeError:  # no string at all (a numeric column)
        out = pd.Series(np.nan, index=s.index, dtype=object)
    odd = (out.isna() & s.notna()).to_numpy()
    if odd.any():  # numbers, lists
        out[odd] = [_first_text(v) for v in s[odd]]
    return out.where(out.notna() & (out != ""), None).to_numpy(dtype=object)


def _osmids(values: pd.Series | None, n: int) -> npt.NDArray[np.object_]:
    out = np.full(n, None, dtype=object)
    if values is None:
        return out
    num = pd.to_numeric(pd.Series(values).reset_index(drop=True), errors="coerce")
    num = num.to_numpy(dtype=np.float64, na_value=np.nan)
    ok = np.isfinite(num)
    out[ok] = num[ok].astype(np.int64).tolist()
    return out


def _lookup(values: npt.NDArray[np.object_], fn: Any, missing: Any, dtype: Any) -> Any:
    """Apply ``fn`` to the distinct values only (class names, tags: few distinct values)."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object))
    table = np.array([fn(u) for u in uniques] + [missing], dtype=dtype)
    return table[codes]


def _speeds(
    highway: npt.NDArray[np.object_], maxspeed: npt.NDArray[np.object_], table: Mapping[str, Any]
) -> tuple[FloatArray, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Per line: speed (NaN when not drivable), drivable mask, implied-oneway mask."""
    defaults = table["defaults"]
    classes = table["highway"]
    unknown = float(defaults["default_speed_kph"]) if defaults["unknown_drivable"] else np.nan

    def entry(value: str) -> Mapping[str, Any] | None:
        return classes.get(value.split(";", 1)[0].strip().lower())

    def class_speed(value: str) -> float:
        e = entry(value)
        if e is None:
            return unknown
        return float(e["speed_kph"]) if e["drivable"] else np.nan

    speed = _lookup(highway, class_speed, np.nan, np.float64)
    implied = _lookup(highway, lambda v: bool((entry(v) or {}).get("oneway_implied")), False, bool)
    drivable = np.isfinite(speed)
    posted = parse_maxspeed(maxspeed, named=table.get("maxspeed", {}))
    policy = defaults["maxspeed_policy"]
    if policy == "cap":
        speed = np.where(drivable, np.fmin(speed, posted), speed)
    elif policy == "replace":
        replaced = posted * float(defaults["maxspeed_factor"])
        speed = np.where(drivable & np.isfinite(posted), replaced, speed)
    return speed, drivable, implied


def _directions(
    oneway: npt.NDArray[np.object_],
    junction: npt.NDArray[np.object_],
    implied: npt.NDArray[np.bool_],
) -> npt.NDArray[np.int8]:
    """1: forward only, -1: backward only, 0: both ways (unknown values count as two-way)."""
    ow = pd.Series(oneway, dtype=object).str.lower()
    fwd = ow.isin(_FORWARD).to_numpy()
    bwd = ow.isin(_BACKWARD).to_numpy()
    two = ow.isin(_TWO_WAY).to_numpy()
    rb = pd.Series(junction, dtype=object).str.lower().isin(_ROUNDABOUT).to_numpy()
    default = np.where(rb | implied, 1, 0)
    return np.select([fwd, bwd, two], [1, -1, 0], default).astype(np.int8)


# ------------------------------------------------------------------------------ graph core


@dataclass
class _Lines:
    """Drivable lines ready to assemble (one row per single-part line, metric CRS)."""

    geometry: npt.NDArray[np.object_]
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


def _ragged_arange(starts: npt.NDArray[np.int64], counts: npt.NDArray[np.int64]) -> Any:
    offsets = np.cumsum(counts) - counts
    return np.repeat(starts - offsets, counts) + np.arange(int(counts.sum()))


def _vertex_ids(xy: FloatArray) -> npt.NDArray[np.int64]:
    """Ids of distinct vertices after rounding to JOIN_TOLERANCE_M, numbered by (x, y)."""
    grid = np.round(xy / JOIN_TOLERANCE_M).astype(np.int64)
    order = np.lexsort((grid[:, 1], grid[:, 0]))
    g = grid[order]
    new = np.r_[True, (g[1:] != g[:-1]).any(axis=1)] if len(g) else np.zeros(0, bool)
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
    xy = shapely.get_coordinates(lines.geometry)
    counts = shapely.get_num_coordinates(lines.geometry).astype(np.int64)
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
    return _Topology(
        xy=xy,
        e0=e0,
        e1=e1,
        eline=line_of[e0],
        elen=np.add.reduceat(seg, e0),
        u=np.searchsorted(node_vid, vid[e0]),
        v=np.searchsorted(node_vid, vid[e1]),
        node_xy=xy[npos[first]],
        node_key=keys[keep][npos[first]] if keys is not None else None,
        n_short=int(short.sum()),
    )


def _directed(topo: _Topology, direction: npt.NDArray[np.int8]) -> tuple[Any, Any, Any, Any]:
    """Directed edges: (edge index, reversed?, source node, target node), in edge order."""
    d = direction[topo.eline]
    fwd, bwd = np.flatnonzero(d >= 0), np.flatnonzero(d <= 0)
    eid = np.r_[fwd, bwd]
    rev = np.r_[np.zeros(len(fwd), bool), np.ones(len(bwd), bool)]
    order = np.lexsort((rev, eid))
    eid, rev = eid[order], rev[order]
    return eid, rev, np.where(rev, topo.v[eid], topo.u[eid]), np.where(rev, topo.u[eid], topo.v[eid])


def _multi_keys(src: npt.NDArray[np.int64], dst: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Key of each edge among the parallel edges with the same (src, dst): 0, 1, ..."""
    m = len(src)
    order = np.lexsort((np.arange(m), dst, src))
    s, t = src[order], dst[order]
    new_grp = np.r_[True, (s[1:] != s[:-1]) | (t[1:] != t[:-1])]
    grp_start = np.maximum.accumulate(np.where(new_grp, np.arange(m), 0))
    key = np.empty(m, np.int64)
    key[order] = np.arange(m) - grp_start
    return key


def _edge_data(
    lines: _Lines, topo: _Topology, eid: npt.NDArray[np.int64], rev: npt.NDArray[np.bool_]
) -> list[dict[str, Any]]:
    el = topo.eline[eid]
    length = topo.elen[eid]
    speed = lines.speed_kph[el]
    data = [
        {
            "osmid": o,
            "highway": h,
            "name": nm,
            "oneway": ow,
            "length_m": ln,
            "speed_kph": sp,
            "travel_time_s": tt,
        }
        for o, h, nm, ow, ln, sp, tt in zip(
            lines.osmid[el].tolist(),
            lines.highway[el].tolist(),
            lines.name[el].tolist(),
            lines.oneway[el].tolist(),
            length.tolist(),
            speed.tolist(),
            (length / (speed / 3.6)).tolist(),
            strict=True,
        )
    ]
    for attr in ("osmid", "highway", "name"):
        for i in np.flatnonzero(pd.isna(getattr(lines, attr)[el])).tolist():
            del data[i][attr]
    # geometry only for edges with interior vertices, built once per road then reversed
    bent = np.flatnonzero(topo.e1[eid] - topo.e0[eid] >= 2)
    road, inv = np.unique(eid[bent], return_inverse=True)
    npts = (topo.e1[road] - topo.e0[road] + 1).astype(np.int64)
    road_geom = shapely.linestrings(
        topo.xy[_ragged_arange(topo.e0[road], npts)], indices=np.repeat(np.arange(len(road)), npts)
    )
    geoms = road_geom[inv.ravel()]
    flip = rev[bent]
    geoms[flip] = shapely.reverse(geoms[flip])
    for i, g in zip(bent.tolist(), geoms.tolist(), strict=True):
        data[i]["geometry"] = g
    return data


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of attribute dicts are created.

    Collections triggered by the allocations would rescan every object again and again
    (about half of the build time at 100k nodes). Reference counting still frees memory.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _assemble(lines: _Lines, *, keep_largest: bool, source: str | None, t0: float) -> nx.MultiDiGraph:
    topo = _topology(lines, source)
    eid, rev, src, dst = _directed(topo, lines.direction)
    n = len(topo.node_xy)
    adj = csr_matrix((np.ones(len(src), np.int32), (src, dst)), shape=(n, n))
    n_comp, labels = connected_components(adj, directed=True, connection="strong")
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

    node_data: list[dict[str, Any]] = [{"x": x, "y": y} for x, y in topo.node_xy[keep_n].tolist()]
    if topo.node_key is not None:
        for d, k in zip(node_data, topo.node_key[keep_n].tolist(), strict=True):
            d["osmid"] = k
    G = nx.MultiDiGraph()
    G.add_nodes_from(enumerate(node_data))
    data = _edge_data(lines, topo, eid, rev)
    G.add_edges_from(zip(src.tolist(), dst.tolist(), _multi_keys(src, dst).tolist(), data, strict=True))

    report = NetworkReport(
        n_nodes=int(keep_n.sum()),
        n_edges=len(eid),
        n_dropped_nodes=int(n - keep_n.sum()),
        n_dropped_edges=int(len(keep_e) - len(eid)),
        n_components=int(n_comp),
        length_km=float(topo.elen[np.unique(eid)].sum() / 1000.0),
        n_lines_in=lines.n_lines_in,
        n_lines_skipped=lines.n_skipped + topo.n_short,
        build_time_s=round(time.perf_counter() - t0, 3),
    )
    G.graph.update(crs=lines.crs, source=source, report=report)
    _log_report(report, source)
    return G


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


# ------------------------------------------------------------------------------- builders


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
    if not use.any():
        found = pd.Series(highway, dtype=object).value_counts().head(10).to_dict()
        msg = (
            f"{where} has no drivable road among its {n_in} lines (highway classes found: "
            f"{found}). Fix: check that it is a road layer with a `highway` column, or mark "
            "its classes drivable in the speed table (`speeds=`)."
        )
        raise NetworkError(msg)
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
    return _Lines(
        geometry=parts,
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
    )


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


def graph_from_lines(
    lines: gpd.GeoDataFrame,
    *,
    speeds: SpeedsArg = None,
    keep_largest: bool = True,
    source: str | None = None,
    crs: CRSArg = None,
) -> nx.MultiDiGraph:
    """Build the road graph from a line layer (any CRS), e.g. an ogr2ogr OSM export.

    Columns read: ``highway`` (lines without one, such as railways in an OSM export, and
    non-drivable classes are skipped; a layer without the column is all roads at
    ``default_speed_kph``), ``oneway`` (``yes``/``true``/``1`` forward, ``-1``/``reverse``
    backward, ``no``; ``junction=roundabout`` and ``highway=motorway`` imply oneway),
    ``maxspeed``, ``junction``, ``area``, ``name``, ``osm_id``/``osmid``; tags missing as
    columns are read from an ogr2ogr ``other_tags`` column. A ``node_ids`` column (as from
    :func:`gis.osm.read_osm_ways`) joins lines on node ids instead of coordinates.

    Parameters
    ----------
    lines
        Road lines (LineString or MultiLineString) with a CRS.
    speeds
        Speed table overrides (see :func:`speed_table`).
    keep_largest
        Keep only the largest strongly connected component.
    source
        Name of the input, kept in ``G.graph["source"]`` and in messages.
    crs
        Projected CRS in metres for the graph; default: the input's own CRS when it is
        projected in metres with little distortion (see :data:`MAX_SCALE_ERROR`), else the
        local UTM zone.

    Returns
    -------
    networkx.MultiDiGraph
        The graph described in the module docstring.

    Raises
    ------
    CRSError
        When ``lines`` has no CRS or swapped coordinates, or ``crs`` is not metric.
    NetworkError
        When no drivable road is left.

    Examples
    --------
    >>> from shapely import LineString
    >>> roads = gpd.GeoDataFrame(
    ...     {"highway": ["primary", "residential"], "oneway": ["yes", None]},
    ...     geometry=[LineString([(112.55, 37.85), (112.56, 37.85)]),
    ...               LineString([(112.56, 37.85), (112.555, 37.855), (112.55, 37.85)])],
    ...     crs=4326)
    >>> G = graph_from_lines(roads)
    >>> len(G), len(G.edges), G.graph["crs"].to_epsg()
    (2, 3, 32649)
    >>> round(G.edges[0, 1, 0]["travel_time_s"], 1)  # 880 m at 50 km/h
    63.4
    """
    t0 = time.perf_counter()
    table = speed_table(speeds)
    where = f"`{source}`" if source else "`lines`"
    with _gc_paused():
        prepared = _prepare(lines, table, where, source, crs)
        return _assemble(prepared, keep_largest=keep_largest, source=source, t0=t0)


def graph_from_osm(
    path: str | Path,
    *,
    speeds: SpeedsArg = None,
    keep_largest: bool = True,
    crs: CRSArg = None,
) -> nx.MultiDiGraph:
    """Build the road graph from an OSM XML (``.osm``, ``.osm.bz2``, ``.osm.gz``) or PBF file.

    Ways join at shared OSM nodes; nodes carry their OSM id in ``osmid``. Tag handling is
    that of :func:`graph_from_lines`, and so are ``speeds``, ``keep_largest`` and ``crs``.

    Examples
    --------
    >>> G = graph_from_osm("tests/fixtures/tiny_city.osm")
    >>> G.graph["report"].n_nodes, G.graph["report"].n_dropped_nodes
    (10, 2)
    """
    t0 = time.perf_counter()
    table = speed_table(speeds)
    with _gc_paused():
        ways = read_osm_ways(path)
        if ways.empty:
            msg = f"`{path}` has no way with a `highway` tag. Fix: use an extract that holds roads."
            raise NetworkError(msg)
        lines = _prepare(ways, table, f"`{path}`", str(path), crs)
        return _assemble(lines, keep_largest=keep_largest, source=str(path), t0=t0)


def graph_from_osmnx(
    graph: nx.MultiDiGraph,
    *,
    speeds: SpeedsArg = None,
    keep_largest: bool = True,
    source: str | None = None,
    crs: CRSArg = None,
) -> nx.MultiDiGraph:
    """Convert an osmnx graph (projected or not) to the riskplan graph model.

    Each osmnx edge becomes one edge; its ``oneway`` flag is kept. Lengths are recomputed in
    the local metric CRS, speeds come from the speed table. List-valued attributes of merged
    edges keep their first item (``maxspeed``: the lowest).

    Examples
    --------
    >>> H = nx.MultiDiGraph(crs="EPSG:4326")
    >>> H.add_node(11, x=112.55, y=37.85)
    >>> H.add_node(12, x=112.56, y=37.85)
    >>> H.add_edge(11, 12, osmid=5, highway="primary", oneway=False)
    0
    >>> H.add_edge(12, 11, osmid=5, highway="primary", oneway=False)
    0
    >>> G = graph_from_osmnx(H)
    >>> sorted(d["osmid"] for _, d in G.nodes(data=True)), len(G.edges)
    ([11, 12], 2)
    """
    t0 = time.perf_counter()
    table = speed_table(speeds)
    in_crs = graph.graph.get("crs")
    if in_crs is None:
        msg = "The osmnx graph has no `crs` graph attribute. Fix: set `G.graph['crs']`."
        raise InputError(msg)
    node_ids = list(graph.nodes)
    pos = {n: i for i, n in enumerate(node_ids)}
    node_xy = np.array([(d["x"], d["y"]) for _, d in graph.nodes(data=True)], dtype=np.float64)
    edges = list(graph.edges(keys=True, data=True))
    geoms = np.array([d.get("geometry") for *_, d in edges], dtype=object)
    ui = np.array([pos[e[0]] for e in edges], dtype=np.int64)
    vi = np.array([pos[e[1]] for e in edges], dtype=np.int64)
    straight = pd.isna(geoms)
    geoms[straight] = shapely.linestrings(np.stack([node_xy[ui[straight]], node_xy[vi[straight]]], axis=1))
    # make every geometry end exactly at its nodes, and key vertices by node
    xy = shapely.get_coordinates(geoms)
    counts = shapely.get_num_coordinates(geoms).astype(np.int64)
    ends = np.cumsum(counts)
    xy[ends - counts], xy[ends - 1] = node_xy[ui], node_xy[vi]
    ints = all(isinstance(n, (int, np.integer)) and n >= 0 for n in node_ids)
    ids = np.array(node_ids if ints else range(len(node_ids)), dtype=np.int64)
    keys = -1 - np.arange(len(xy), dtype=np.int64)  # interior vertices never join
    keys[ends - counts], keys[ends - 1] = ids[ui], ids[vi]

    def first(value: Any) -> Any:
        return value[0] if isinstance(value, list) and value else value

    lines = gpd.GeoDataFrame(
        {
            "osm_id": [first(d.get("osmid")) for *_, d in edges],
            "highway": [first(d.get("highway")) for *_, d in edges],
            "name": [first(d.get("name")) for *_, d in edges],
            "maxspeed": [
                ";".join(map(str, m)) if isinstance(m := d.get("maxspeed"), list) else m for *_, d in edges
            ],
            "oneway": "yes",
            "node_ids": np.split(keys, ends[:-1]) if edges else [],
        },
        geometry=shapely.linestrings(xy, indices=np.repeat(np.arange(len(edges)), counts)),
        crs=in_crs,
    )
    prepared = _prepare(lines, table, f"`{source or 'osmnx graph'}`", source, crs)
    flags = np.array([bool(d.get("oneway", False)) for *_, d in edges], dtype=bool)
    prepared.oneway = flags[prepared.rows]
    with _gc_paused():
        out = _assemble(prepared, keep_largest=keep_largest, source=source, t0=t0)
    if not ints:  # node keys were positions, not OSM ids
        for _, d in out.nodes(data=True):
            d.pop("osmid", None)
    return out


def graph_from_query(
    *,
    place: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    speeds: SpeedsArg = None,
    keep_largest: bool = True,
    crs: CRSArg = None,
) -> nx.MultiDiGraph:
    """Download the drivable network with osmnx (online) and convert it.

    Parameters
    ----------
    place
        A place name osmnx can geocode, such as ``"Yingze District, Taiyuan, China"``.
    bbox
        ``(west, south, east, north)`` in degrees (osmnx 2 order).
    speeds, keep_largest, crs
        As in :func:`graph_from_lines`.

    Raises
    ------
    NetworkError
        When the download fails (offline, server error, nothing found).
    """
    import osmnx as ox
    import requests
    from osmnx._errors import InsufficientResponseError, ResponseStatusCodeError

    if (place is None) == (bbox is None):
        msg = "Give exactly one of `place` and `bbox` to graph_from_query."
        raise InputError(msg)
    what = f"place {place!r}" if place is not None else f"bbox {bbox}"
    try:
        if place is not None:
            raw = ox.graph_from_place(place, network_type="drive", retain_all=True)
        else:
            assert bbox is not None
            raw = ox.graph_from_bbox(bbox, network_type="drive", retain_all=True)
    except (requests.RequestException, OSError, InsufficientResponseError, ResponseStatusCodeError) as exc:
        msg = (
            f"Could not download the road network for {what} from OpenStreetMap ({exc}). "
            "Fix: check the internet connection and the query, or download an OSM extract "
            "and use `graph_from_file`."
        )
        raise NetworkError(msg) from exc
    return graph_from_osmnx(raw, speeds=speeds, keep_largest=keep_largest, source=f"osmnx {what}", crs=crs)


def _read_lines(path: Path, layer: str | None) -> gpd.GeoDataFrame:
    name = path.name.lower()
    target = f"/vsigzip/{path}" if name.endswith(".gz") else str(path)
    try:
        return gpd.read_file(target, layer=layer)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        msg = (
            f"Could not read road lines from `{path}`"
            f"{f' layer `{layer}`' if layer else ''} ({exc}). Fix: give a vector file "
            "(GeoPackage, GeoJSON, Shapefile...) or an OSM file (.osm, .osm.bz2, .osm.pbf)."
        )
        raise InputError(msg) from exc


def graph_from_file(
    path: str | Path,
    *,
    speeds: SpeedsArg = None,
    keep_largest: bool = True,
    layer: str | None = None,
    cache: bool = True,
    crs: CRSArg = None,
) -> nx.MultiDiGraph:
    """Build (or load from the cache) the road graph of an OSM file or a line layer.

    ``.osm``, ``.osm.bz2``, ``.osm.gz``, ``.pbf`` and ``.osm.pbf`` files go through
    :func:`graph_from_osm`; anything else is read with geopandas (``.gz`` files through
    GDAL's ``/vsigzip/``) and built with :func:`graph_from_lines`. The cache key covers the
    file contents, ``layer``, the speed table, ``keep_largest`` and ``crs`` (see
    :mod:`gis._cache`). Other parameters are those of :func:`graph_from_lines`.

    Examples
    --------
    >>> G = graph_from_file("tests/fixtures/tiny_city.osm", cache=False)
    >>> len(G)
    10
    """
    path = Path(path)
    if not path.is_file():
        msg = f"Road network file `{path}` does not exist. Fix: check the path."
        raise InputError(msg)
    table = speed_table(speeds)
    metric = _metric_crs(crs)

    def build() -> nx.MultiDiGraph:
        if is_osm_file(path):
            return graph_from_osm(path, speeds=table, keep_largest=keep_largest, crs=metric)
        lines = _read_lines(path, layer)
        return graph_from_lines(lines, speeds=table, keep_largest=keep_largest, source=str(path), crs=metric)

    if not cache:
        return build()
    key: dict[str, str | Path] = {
        "input": path,
        "layer": layer or "",
        "speeds": json.dumps(table, sort_keys=True),
        "keep_largest": str(keep_largest),
        "crs": metric.to_wkt() if metric is not None else "",
    }
    return cached_graph(key, build)


# ---------------------------------------------------------------------------- GeoPackage


def _kind(values: list[Any]) -> str:
    """Column kind of attribute values: int, float, bool, str or json (anything else)."""
    kinds = set()
    for t in set(map(type, values)) - {type(None)}:
        if issubclass(t, (bool, np.bool_)):
            kinds.add("bool")
        elif issubclass(t, (int, np.integer)):
            kinds.add("int")
        elif issubclass(t, (float, np.floating)):
            kinds.add("float")
        else:
            kinds.add("str" if issubclass(t, str) else "json")
    if kinds == {"int", "float"}:
        return "float"
    return kinds.pop() if len(kinds) == 1 else ("json" if kinds else "str")


def _columns(records: list[dict[str, Any]], skip: set[str]) -> tuple[dict[str, Any], dict[str, str]]:
    names: dict[str, None] = {}
    for r in records:
        names.update(dict.fromkeys(r))
    cols: dict[str, Any] = {}
    kinds: dict[str, str] = {}
    for name in names:
        if name in skip:
            if name != "geometry":
                log.warning("save_graph: attribute `%s` clashes with a column name; not saved", name)
            continue
        values = [r.get(name) for r in records]
        kind = kinds[name] = _kind(values)
        if kind == "json":
            values = [None if v is None else json.dumps(v, default=str) for v in values]
        dtype = {"int": "Int64", "float": "float64", "bool": "boolean"}.get(kind, object)
        cols[name] = pd.array(values, dtype=dtype)
    return cols, kinds


def save_graph(graph: nx.MultiDiGraph, path: str | Path) -> Path:
    """Write ``graph`` to a GeoPackage with ``nodes`` and ``edges`` layers, atomically.

    The file is written beside ``path`` and renamed over it, so a failure never leaves a
    half-written file. Attributes are stored as typed columns (their types in the layer
    metadata); edges without ``geometry`` get a straight line flagged ``has_geometry=False``.
    :func:`load_graph` reads it back.

    Examples
    --------
    >>> import tempfile
    >>> G = graph_from_osm("tests/fixtures/tiny_city.osm")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     H = load_graph(save_graph(G, f"{d}/net.gpkg"))
    >>> nx.utils.graphs_equal(G, H)
    True
    """
    import pyogrio

    path = Path(path)
    if path.suffix.lower() != ".gpkg":
        msg = f"`{path}` must end in `.gpkg` (graphs are saved as GeoPackage). Fix: rename it."
        raise InputError(msg)
    if graph.number_of_nodes() == 0 or "crs" not in graph.graph:
        msg = "Cannot save an empty graph or one without `crs`. Fix: build it with gis.network."
        raise InputError(msg)
    crs = pyproj.CRS.from_user_input(graph.graph["crs"])
    nodes = list(graph.nodes(data=True))
    node_cols, node_kinds = _columns([d for _, d in nodes], {"node", "geometry"})
    node_gdf = gpd.GeoDataFrame(
        {"node": pd.array([n for n, _ in nodes], dtype="Int64"), **node_cols},
        geometry=gpd.points_from_xy(node_cols["x"], node_cols["y"]),
        crs=crs,
    )
    edges = list(graph.edges(keys=True, data=True))
    edge_cols, edge_kinds = _columns([d for *_, d in edges], {"u", "v", "key", "has_geometry", "geometry"})
    index = pd.Index([n for n, _ in nodes])
    xy = np.column_stack([node_cols["x"].to_numpy(float), node_cols["y"].to_numpy(float)])
    geometry = np.array([d.get("geometry") for *_, d in edges], dtype=object)
    has_geom = ~pd.isna(geometry)
    u = index.get_indexer([e[0] for e in edges])
    v = index.get_indexer([e[1] for e in edges])
    straight = ~has_geom
    geometry[straight] = shapely.linestrings(np.stack([xy[u[straight]], xy[v[straight]]], axis=1))
    edge_gdf = gpd.GeoDataFrame(
        {
            "u": pd.array([e[0] for e in edges], dtype="Int64"),
            "v": pd.array([e[1] for e in edges], dtype="Int64"),
            "key": pd.array([e[2] for e in edges], dtype="Int64"),
            "has_geometry": has_geom,
            **edge_cols,
        },
        geometry=gpd.GeoSeries(geometry, crs=crs),
        crs=crs,
    )
    graph_attrs = {}
    for name, value in graph.graph.items():
        if name == "crs":
            continue
        plain = {"__report__": asdict(value)} if isinstance(value, NetworkReport) else value
        try:
            graph_attrs[name] = json.loads(json.dumps(plain))
        except TypeError:
            log.warning("save_graph: graph attribute `%s` is not JSON; not saved", name)
    meta = {
        "version": GRAPH_MODEL_VERSION,
        "crs": crs.to_wkt(),
        "graph": graph_attrs,
        "node_kinds": node_kinds,
        "edge_kinds": edge_kinds,
    }
    with atomic_path(path) as tmp:
        pyogrio.write_dataframe(
            node_gdf,
            tmp,
            layer="nodes",
            driver="GPKG",
            layer_metadata={_GPKG_META: json.dumps(meta)},
        )
        pyogrio.write_dataframe(edge_gdf, tmp, layer="edges", driver="GPKG")
    return path


def _restore(df: pd.DataFrame, kinds: Mapping[str, str]) -> list[dict[str, Any]]:
    columns = {}
    for name, kind in kinds.items():
        values = df[name].astype(object).where(df[name].notna(), None).tolist()
        if kind == "int":
            values = [None if v is None else int(v) for v in values]
        elif kind == "bool":
            values = [None if v is None else bool(v) for v in values]
        elif kind == "json":
            values = [None if v is None else json.loads(v) for v in values]
        columns[name] = values
    names = list(columns)
    return (
        [
            {k: v for k, v in zip(names, row, strict=True) if v is not None}
            for row in zip(*columns.values(), strict=True)
        ]
        if names
        else [{} for _ in range(len(df))]
    )


def load_graph(path: str | Path) -> nx.MultiDiGraph:
    """Read a graph written by :func:`save_graph` (see its example).

    Raises
    ------
    InputError
        When the file is missing or was not written by :func:`save_graph`.
    """
    import pyogrio

    path = Path(path)
    if not path.is_file():
        msg = f"Graph file `{path}` does not exist. Fix: check the path, or build the graph."
        raise InputError(msg)
    try:
        meta = json.loads(pyogrio.read_info(path, layer="nodes")["layer_metadata"][_GPKG_META])
        nodes = pyogrio.read_dataframe(path, layer="nodes", read_geometry=False)
        edges = pyogrio.read_dataframe(path, layer="edges")
    except Exception as exc:  # missing layer, missing metadata, not a GeoPackage
        msg = (
            f"`{path}` is not a road graph saved by riskplan ({exc!r}). "
            "Fix: save it with `gis.network.save_graph`, or rebuild it from the roads."
        )
        raise InputError(msg) from exc
    with _gc_paused():
        G = nx.MultiDiGraph()
        for name, value in meta["graph"].items():
            is_report = isinstance(value, dict) and "__report__" in value
            G.graph[name] = NetworkReport(**value["__report__"]) if is_report else value
        G.graph["crs"] = pyproj.CRS.from_wkt(meta["crs"])
        node_ids = nodes["node"].astype(int).tolist()
        G.add_nodes_from(zip(node_ids, _restore(nodes, meta["node_kinds"]), strict=True))
        data = _restore(edges, meta["edge_kinds"])
        for d, g, keep in zip(data, edges.geometry.to_numpy(), edges["has_geometry"].tolist(), strict=True):
            if keep:
                d["geometry"] = g
        G.add_edges_from(
            zip(
                edges["u"].astype(int).tolist(),
                edges["v"].astype(int).tolist(),
                edges["key"].astype(int).tolist(),
                data,
                strict=True,
            )
        )
    return G
