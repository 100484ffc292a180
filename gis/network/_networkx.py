"""RoadGraph to and from networkx: the osmnx-compatible MultiDiGraph, on demand.

:func:`to_networkx` writes the graph model of :mod:`gis.network` (the dicts the builder made
before the graph became arrays, attribute for attribute); :func:`from_networkx` reads any
directed networkx graph as it is, and :func:`cached_from_networkx` caches that per graph
(checked against its node and edge counts) for :func:`gis.network.graph.as_road_graph`.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import weakref
from collections.abc import Iterator
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj

from ..errors import CRSError, InputError, NetworkError
from ._columns import EDGE_FIELDS, MISSING_ID, categorical, decode
from ._csr import multi_keys, ragged_arange
from ._report import NetworkReport
from .graph import RoadGraph

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "cached_from_networkx",
    "from_columns",
    "from_networkx",
    "gc_paused",
    "nx_signature",
    "to_networkx",
]

log = logging.getLogger(__name__)

_CONVERTED: weakref.WeakKeyDictionary[Any, tuple[tuple[int, int], RoadGraph]] = weakref.WeakKeyDictionary()
_NODE_FIELDS = ("x", "y", "osmid")
# osmnx names of riskplan's edge attributes, read when riskplan's own are absent
_OSMNX_NAMES = {"length_m": "length", "travel_time_s": "travel_time"}


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of attribute dicts are created.

    Collections triggered by the allocations would rescan every object again and again
    (about half of the time of a large conversion). Reference counting still frees memory.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def to_networkx(graph: RoadGraph) -> nx.MultiDiGraph:
    """See :meth:`RoadGraph.to_networkx`."""
    import networkx as nx
    import shapely

    with gc_paused():
        G = nx.MultiDiGraph()
        if graph.report is not None:
            G.graph.update(crs=graph.crs, source=graph.source, report=graph.report)
        else:
            G.graph.update({k: v for k, v in (("crs", graph.crs), ("source", graph.source)) if v is not None})
        node_data = _node_dicts(graph)
        G.add_nodes_from(zip(graph.nodes.tolist(), node_data, strict=True))
        data = _edge_dicts(graph)
        bent = np.flatnonzero(graph.own_geometry)
        if len(bent):
            starts = graph.geometry_offsets[bent]
            counts = graph.geometry_offsets[bent + 1] - starts
            idx = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(int(counts.sum()))
            geoms = shapely.linestrings(
                graph.geometry_xy[idx], indices=np.repeat(np.arange(len(bent)), counts)
            )
            for i, g in zip(bent.tolist(), geoms.tolist(), strict=True):
                data[i]["geometry"] = g
        for name, values in graph.edge_attrs.items():
            for d, value in zip(data, values.tolist(), strict=True):
                if value is not None:
                    d[name] = value
        nodes = graph.nodes
        G.add_edges_from(
            zip(
                nodes[graph.sources].tolist(),
                nodes[graph.targets].tolist(),
                graph.key.tolist(),
                data,
                strict=True,
            )
        )
    return G


def _node_dicts(graph: RoadGraph) -> list[dict[str, Any]]:
    xy = graph.node_xy
    if np.isnan(xy).any():  # a converted graph without coordinates: keep what it had
        data = [{k: v for k, v in (("x", x), ("y", y)) if not math.isnan(v)} for x, y in xy.tolist()]
    else:
        data = [{"x": x, "y": y} for x, y in xy.tolist()]
    if graph.osm_node_id is not None:
        for d, k in zip(data, graph.osm_node_id.tolist(), strict=True):
            if k != MISSING_ID:
                d["osmid"] = k
    for name, values in graph.node_attrs.items():
        for d, value in zip(data, values.tolist(), strict=True):
            if value is not None:
                d[name] = value
    return data


def _edge_dicts(graph: RoadGraph) -> list[dict[str, Any]]:
    """The attribute dicts of the edges, keys in the builder's order, absent where unknown."""
    columns = (
        graph.osm_way_id.tolist(),
        decode(graph.highway).tolist(),
        decode(graph.name).tolist(),
        graph.oneway.tolist(),
        graph.length_m.tolist(),
        graph.speed_kph.tolist(),
        graph.travel_time_s.tolist(),
    )
    data = [dict(zip(EDGE_FIELDS, row, strict=True)) for row in zip(*columns, strict=True)]
    missing = {
        "osmid": graph.osm_way_id == MISSING_ID,
        "highway": np.asarray(graph.highway.codes) < 0,
        "name": np.asarray(graph.name.codes) < 0,
        "length_m": np.isnan(graph.length_m),
        "speed_kph": np.isnan(graph.speed_kph),
        "travel_time_s": np.isnan(graph.travel_time_s),
    }
    for name, gone in missing.items():
        for i in np.flatnonzero(gone).tolist():
            del data[i][name]
    return data


def nx_signature(graph: nx.DiGraph | nx.MultiDiGraph) -> tuple[int, int]:
    """Node and edge counts (parallel edges included) of a directed graph, counted at C speed.

    ``graph.number_of_edges()`` walks a multigraph's edges in Python (0.15 s for 400k edges,
    paid on every lookup); summing the sizes of the adjacency dicts gives the same count.
    """
    succ = graph._succ  # networkx's dict of dicts {u: {v: {key: data}}} / {u: {v: data}}
    if graph.is_multigraph():
        n_edges = sum(map(len, chain.from_iterable(map(dict.values, succ.values()))))
    else:
        n_edges = sum(map(len, succ.values()))
    return (graph.number_of_nodes(), n_edges)


def cached_from_networkx(graph: Any) -> RoadGraph:
    """:func:`from_networkx`, cached per graph object and checked against its counts."""
    if not hasattr(graph, "is_directed") or not hasattr(graph, "is_multigraph"):
        msg = (
            f"`graph` is a {type(graph).__name__}, not a road graph. Fix: pass a RoadGraph "
            "(gis.scenario_graph, gis.graph_from_lines...) or a networkx DiGraph/MultiDiGraph."
        )
        raise InputError(msg)
    _check_directed(graph)
    sig = nx_signature(graph)
    hit = _CONVERTED.get(graph)
    if hit is not None and hit[0] == sig:
        return hit[1]
    out = from_networkx(graph)
    _CONVERTED[graph] = (sig, out)
    return out


def _check_directed(graph: Any) -> None:
    if not graph.is_directed():
        msg = (
            "The road graph is undirected. Fix: pass a networkx DiGraph or MultiDiGraph (travel is directed)."
        )
        raise NetworkError(msg)


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


Column = list[Any] | npt.NDArray[Any]


def _ids(values: Column) -> tuple[npt.NDArray[np.int64], bool]:
    """OSM ids as int64 (:data:`MISSING_ID` where absent) and whether every value was a plain int."""
    try:
        arr = pd.array(values, dtype="Int64")
    except (TypeError, ValueError):
        pass
    else:
        return arr.to_numpy(dtype=np.int64, na_value=MISSING_ID), True
    out = np.full(len(values), MISSING_ID, dtype=np.int64)
    for i, v in enumerate(values):
        f = _first(v)
        if isinstance(f, (int, np.integer)) and not isinstance(f, bool):
            out[i] = int(f)
    return out, False


def _floats(values: Column) -> npt.NDArray[np.float64]:
    series = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
    return series.to_numpy(np.float64, na_value=np.nan)


def _text(values: Column) -> tuple[pd.Categorical, bool]:
    """Text values dictionary-encoded (lists: first item) and whether every value was plain text."""
    plain = all(v is None or isinstance(v, str) for v in values)
    if plain:
        return categorical(values), True
    firsts = [_first(v) for v in values]
    return categorical([None if v is None else (v if isinstance(v, str) else str(v)) for v in firsts]), False


def _column(rows: list[dict[str, Any]], name: str) -> list[Any]:
    return [d.get(name) for d in rows]


def from_networkx(graph: nx.DiGraph | nx.MultiDiGraph) -> RoadGraph:
    """See :meth:`RoadGraph.from_networkx`."""
    _check_directed(graph)
    labels = list(graph.nodes)
    node_rows = [d for _, d in graph.nodes(data=True)]
    index = {label: i for i, label in enumerate(labels)}
    if graph.is_multigraph():
        edges = list(graph.edges(keys=True, data=True))
    else:
        edges = [(u, v, 0, d) for u, v, d in graph.edges(data=True)]
    rows = [e[3] for e in edges]
    names = dict.fromkeys(k for d in rows for k in d if k != "geometry")
    return from_columns(
        labels=labels,
        node_columns={k: _column(node_rows, k) for k in dict.fromkeys(k for d in node_rows for k in d)},
        src=np.fromiter((index[e[0]] for e in edges), np.int64, len(edges)),
        dst=np.fromiter((index[e[1]] for e in edges), np.int64, len(edges)),
        keys=[e[2] for e in edges],
        edge_columns={k: _column(rows, k) for k in names},
        geometry=_objects(_column(rows, "geometry")),
        crs=graph.graph.get("crs"),
        source=graph.graph.get("source"),
        report=graph.graph.get("report"),
    )


def from_columns(
    *,
    labels: list[Any],
    node_columns: dict[str, Column],
    src: npt.NDArray[np.int64],
    dst: npt.NDArray[np.int64],
    keys: Column,
    edge_columns: dict[str, Column],
    geometry: npt.NDArray[np.object_],
    crs: Any,
    source: Any,
    report: Any,
) -> RoadGraph:
    """A RoadGraph from node and edge attribute columns (None where absent), edges grouped by source.

    ``src`` and ``dst`` are node positions (``labels`` order), non-decreasing in ``src``;
    ``geometry`` holds shapely lines or None (the straight segment between the nodes).
    """
    import shapely

    n, m = len(labels), len(src)
    missing_xy = [None] * n
    node_xy = np.column_stack(
        [_floats(node_columns.get("x", missing_xy)), _floats(node_columns.get("y", missing_xy))]
    ).reshape(-1, 2)
    osm_node_id: npt.NDArray[np.int64] | None = None
    node_attrs: dict[str, npt.NDArray[Any]] = {}
    if "osmid" in node_columns:
        osm_node_id, plain = _ids(node_columns["osmid"])
        if not plain:
            node_attrs["osmid"] = _objects(node_columns["osmid"])
    node_attrs |= {k: _objects(v) for k, v in node_columns.items() if k not in _NODE_FIELDS}
    if len(src) and (np.diff(src) < 0).any():
        msg = "Edges must be grouped by source node. Fix: pass them in source order."
        raise InputError(msg)
    if all(isinstance(k, (int, np.integer)) for k in keys):
        key = np.asarray(keys, dtype=np.int64).reshape(-1)
    else:  # keys that are not ints become 0, 1, ... among each node pair's parallel edges
        key = multi_keys(src, dst)
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])

    edge_attrs: dict[str, npt.NDArray[Any]] = {}
    absent = [None] * m
    numbers = {}
    for name in ("length_m", "speed_kph", "travel_time_s"):
        raw = edge_columns.get(name)
        other = _OSMNX_NAMES.get(name)
        if raw is None and other in edge_columns:
            log.info("edge `%s` taken from osmnx's `%s`", name, other)
            raw = edge_columns[other]
        numbers[name] = _floats(raw if raw is not None else absent)
    text = {}
    for name in ("highway", "name"):
        text[name], plain = _text(edge_columns.get(name, absent))
        if not plain:
            edge_attrs[name] = _objects(edge_columns[name])
    osm_way_id, plain = _ids(edge_columns.get("osmid", absent))
    if not plain:
        edge_attrs["osmid"] = _objects(edge_columns["osmid"])
    oneway_raw = edge_columns.get("oneway", absent)
    oneway = np.array([bool(v) if v is not None else False for v in oneway_raw], dtype=bool).reshape(-1)
    if any(v is not None and not isinstance(v, (bool, np.bool_)) for v in oneway_raw):
        edge_attrs["oneway"] = _objects(oneway_raw)
    for k, v in edge_columns.items():
        if k not in EDGE_FIELDS:
            edge_attrs[k] = _objects(v)

    # packed lines: an edge's own geometry, else the segment between its nodes
    own = np.flatnonzero(~pd.isna(geometry))
    counts = np.full(m, 2, np.int64)
    counts[own] = shapely.get_num_coordinates(geometry[own])
    offsets = np.zeros(m + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    geometry_xy = np.empty((int(offsets[-1]), 2), np.float64)
    straight = np.flatnonzero(pd.isna(geometry))
    geometry_xy[offsets[straight]] = node_xy[src[straight]]
    geometry_xy[offsets[straight] + 1] = node_xy[dst[straight]]
    if len(own):
        geometry_xy[ragged_arange(offsets[own], counts[own])] = shapely.get_coordinates(geometry[own])
    ints = all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in labels)
    if ints and np.array_equal(np.asarray(labels, dtype=np.int64), np.arange(n)):
        node_labels = None
    else:
        node_labels = np.array(labels, dtype=np.int64) if ints else _objects(labels)
    return RoadGraph(
        node_xy=node_xy,
        indptr=indptr,
        targets=np.asarray(dst, dtype=np.int64),
        key=key,
        length_m=numbers["length_m"],
        speed_kph=numbers["speed_kph"],
        travel_time_s=numbers["travel_time_s"],
        highway=text["highway"],
        oneway=oneway,
        osm_way_id=osm_way_id,
        name=text["name"],
        geometry_xy=geometry_xy,
        geometry_offsets=offsets,
        crs=_crs(crs),
        source=source if isinstance(source, str) else None,
        report=report if isinstance(report, NetworkReport) else None,
        osm_node_id=osm_node_id,
        labels=node_labels,
        node_attrs=node_attrs,
        edge_attrs=edge_attrs,
    )


def _objects(values: Column) -> npt.NDArray[np.object_]:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _crs(value: Any) -> pyproj.CRS | None:
    if value is None:
        return None
    crs = pyproj.CRS.from_user_input(value)
    if crs.is_geographic:
        msg = (
            f"The networkx graph's CRS `{crs.to_string()}` is geographic (degrees); riskplan's "
            "travel times and snapping need metres. Fix: project it (`osmnx.project_graph`), or "
            "convert it with `gis.network.graph_from_osmnx`, which also recomputes lengths and speeds."
        )
        raise CRSError(msg)
    return crs
