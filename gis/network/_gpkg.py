"""Road graphs to and from files: GeoPackage (``nodes`` and ``edges`` layers with typed columns) or arrays.

A ``.gpkg`` opens in QGIS; a ``.npz`` holds the graph's arrays (the build cache's format,
:mod:`gis.network._store`): a province's 11 M edges are written in seconds instead of minutes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj

from ..atomic import atomic_path
from ..errors import InputError
from ._columns import EDGE_FIELDS, MISSING_ID, none_where
from ._networkx import from_columns, gc_paused
from ._report import NetworkReport
from .graph import GraphLike, RoadGraph, as_road_graph

__all__ = ["GPKG_VERSION", "load_graph", "save_graph"]

# Messages keep the logger of the public module, as before the split (the CLI prints its name).
log = logging.getLogger(__name__)

_GPKG_META = "riskplan_graph"
#: Version of the GeoPackage layout (layers, columns, metadata), unchanged since the first release.
GPKG_VERSION = "1"


def _types(values: list[Any]) -> set[str]:
    """Kinds of the values of a column (int, float, bool, str, json), None left out."""
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
    return kinds


def _kind_of(kinds: set[str]) -> str:
    """The column kind of a set of value kinds (:func:`_types`)."""
    if kinds == {"int", "float"}:
        return "float"
    return next(iter(kinds)) if len(kinds) == 1 else ("json" if kinds else "str")


def _kind(values: list[Any]) -> str:
    """Column kind of attribute values: int, float, bool, str or json (anything else)."""
    return _kind_of(_types(values))


def _node_records(graph: RoadGraph) -> dict[str, Any]:
    """Node attribute columns as :func:`save_graph` has always written them (absent = None)."""
    cols: dict[str, Any] = {"x": graph.node_xy[:, 0].tolist(), "y": graph.node_xy[:, 1].tolist()}
    if graph.osm_node_id is not None:
        cols["osmid"] = [None if v == MISSING_ID else v for v in graph.osm_node_id.tolist()]
    cols |= {k: v.tolist() for k, v in graph.node_attrs.items()}
    return cols


_NAN_IS_NONE = ("length_m", "speed_kph", "travel_time_s")  # float columns: NaN is written as missing


def _edge_columns(graph: RoadGraph) -> dict[str, npt.NDArray[Any]]:
    """Edge attribute columns, only those some edge has, in the builder's order (NaN: absent)."""
    cols: dict[str, npt.NDArray[Any]] = {}
    for name in EDGE_FIELDS:
        values = graph.edge_attribute(name)
        if name in graph.edge_attrs or pd.notna(values).any():
            cols[name] = values
    return cols | dict(graph.edge_attrs)


def _batch_values(
    columns: Mapping[str, npt.NDArray[Any]], rows: slice, nan_is_none: set[str]
) -> dict[str, list[Any]]:
    """The ``rows`` of :func:`_edge_columns` as Python values (None where NaN in ``nan_is_none``)."""
    out = {}
    for name, values in columns.items():
        part = values[rows]
        if name in nan_is_none:
            part = none_where(np.isnan(part), part)
        out[name] = part.tolist()
    return out


def _typed(
    columns: dict[str, Any], skip: set[str], kinds: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Columns as typed pandas arrays and their kinds (``kinds``: decided beforehand, for a batch)."""
    out: dict[str, Any] = {}
    found: dict[str, str] = {}
    for name, values in columns.items():
        if name in skip:
            if kinds is None:
                log.warning("save_graph: attribute `%s` clashes with a column name; not saved", name)
            continue
        kind = found[name] = _kind(values) if kinds is None else kinds[name]
        stored = (
            [None if v is None else json.dumps(v, default=str) for v in values] if kind == "json" else values
        )
        dtype = {"int": "Int64", "float": "float64", "bool": "boolean"}.get(kind, object)
        out[name] = pd.array(stored, dtype=dtype)
    return out, found


#: Edges written to a GeoPackage at once: memory stays that of a batch (the 11 M edges of the demo
#: province as Python values at once took some 5 GB).
SAVE_BATCH_EDGES = 500_000


def _edge_batches(
    columns: Mapping[str, npt.NDArray[Any]], n_edges: int, nan_is_none: set[str]
) -> tuple[dict[str, str], list[slice]]:
    """Kinds of the edge columns over all edges, decided batch by batch, and the batches."""
    batches = [slice(lo, lo + SAVE_BATCH_EDGES) for lo in range(0, max(n_edges, 1), SAVE_BATCH_EDGES)]
    kinds: dict[str, str] = {}
    for name, values in columns.items():
        if name in _EDGE_KEYS:
            log.warning("save_graph: attribute `%s` clashes with a column name; not saved", name)
            continue
        found: set[str] = set()
        for rows in batches:
            found |= _types(_batch_values({name: values}, rows, nan_is_none)[name])
        kinds[name] = _kind_of(found)
    return kinds, batches


_EDGE_KEYS = {"u", "v", "key", "has_geometry", "geometry"}


def save_graph(graph: GraphLike, path: str | Path) -> Path:
    """Write ``graph`` to a GeoPackage with ``nodes`` and ``edges`` layers (or to arrays), atomically.

    The file is written beside ``path`` and renamed over it, so a failure never leaves a
    half-written file. Attributes are stored as typed columns (their types in the layer
    metadata); an edge whose line is the straight segment between its nodes is flagged
    ``has_geometry=False`` (it has no ``geometry`` in :meth:`RoadGraph.to_networkx`).
    A path ending in ``.npz`` gets the graph's arrays instead (numbers and text only, read
    without running code): the same graph, about 40 times faster to write than a GeoPackage
    of millions of edges, but not for a GIS. :func:`load_graph` reads either back. A networkx
    graph is converted first.

    Examples
    --------
    >>> import tempfile
    >>> from gis.network import graph_from_osm
    >>> G = graph_from_osm("tests/fixtures/tiny_city.osm.xml")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     H = load_graph(save_graph(G, f"{d}/net.gpkg"))
    >>> H.n_edges, bool((H.geometry_xy == G.geometry_xy).all()), H.report == G.report
    (19, True, True)
    """
    import pyogrio

    path = Path(path)
    if path.suffix.lower() not in (".gpkg", ".npz"):
        msg = f"`{path}` must end in `.gpkg` (a GeoPackage) or `.npz` (the graph's arrays). Fix: rename it."
        raise InputError(msg)
    road = as_road_graph(graph)
    if road.n_nodes == 0 or road.crs is None:
        msg = "Cannot save an empty graph or one without `crs`. Fix: build it with gis.network."
        raise InputError(msg)
    if path.suffix.lower() == ".npz":
        from ._store import write_npz

        with atomic_path(path) as tmp:
            write_npz(road, tmp)
        return path
    labels = road.nodes
    if labels.dtype.kind not in "iu":
        msg = (
            "save_graph needs integer node labels. Fix: relabel the graph, for example "
            "`networkx.convert_node_labels_to_integers(G)`."
        )
        raise InputError(msg)
    crs = road.crs
    with gc_paused():
        node_cols, node_kinds = _typed(_node_records(road), {"node", "geometry"})
        node_gdf = gpd.GeoDataFrame(
            {"node": pd.array(labels, dtype="Int64"), **node_cols},
            geometry=gpd.points_from_xy(road.node_xy[:, 0], road.node_xy[:, 1]),
            crs=crs,
        )
        columns = _edge_columns(road)
        nan_is_none = {n for n in _NAN_IS_NONE if n not in road.edge_attrs}
        edge_kinds, batches = _edge_batches(columns, road.n_edges, nan_is_none)
    graph_attrs: dict[str, Any] = {}
    if road.report is not None:
        graph_attrs = {"source": road.source, "report": {"__report__": asdict(road.report)}}
    elif road.source is not None:
        graph_attrs = {"source": road.source}
    meta = {
        "version": GPKG_VERSION,
        "crs": crs.to_wkt(),
        "graph": graph_attrs,
        "node_kinds": node_kinds,
        "edge_kinds": edge_kinds,
    }
    lines = road.edge_geometries()
    with atomic_path(path) as tmp:
        pyogrio.write_dataframe(
            node_gdf,
            tmp,
            layer="nodes",
            driver="GPKG",
            layer_metadata={_GPKG_META: json.dumps(meta)},
        )
        del node_gdf
        for i, rows in enumerate(batches):  # appended batch by batch: the same layer as at once
            with gc_paused():
                batch = _batch_values(columns, rows, nan_is_none)
                edge_cols, _ = _typed(batch, _EDGE_KEYS, edge_kinds)
                edge_gdf = gpd.GeoDataFrame(
                    {
                        "u": pd.array(labels[road.sources[rows]], dtype="Int64"),
                        "v": pd.array(labels[road.targets[rows]], dtype="Int64"),
                        "key": pd.array(road.key[rows], dtype="Int64"),
                        "has_geometry": road.own_geometry[rows],
                        **edge_cols,
                    },
                    geometry=gpd.GeoSeries(lines[rows], crs=crs),
                    crs=crs,
                )
            pyogrio.write_dataframe(edge_gdf, tmp, layer="edges", driver="GPKG", append=i > 0)
    return path


def _restore(df: pd.DataFrame, kinds: Mapping[str, str]) -> dict[str, Any]:
    """Columns of a layer back to Python values (None where missing), by their saved kind."""
    columns: dict[str, Any] = {}
    for name, kind in kinds.items():
        col = df[name]
        if kind == "float":
            columns[name] = col.to_numpy(np.float64, na_value=np.nan)
            continue
        values = col.astype(object).where(col.notna(), None).tolist()
        if kind == "int":
            values = [None if v is None else int(v) for v in values]
        elif kind == "bool":
            values = [None if v is None else bool(v) for v in values]
        elif kind == "json":
            values = [None if v is None else json.loads(v) for v in values]
        columns[name] = values
    return columns


def load_graph(path: str | Path) -> RoadGraph:
    """Read a graph written by :func:`save_graph` (see its example), by any riskplan version.

    A ``.npz`` path is read as the graph's arrays (:func:`save_graph` to ``.npz``).

    Raises
    ------
    InputError
        When the file is missing or was not written by :func:`save_graph`.

    Examples
    --------
    >>> import tempfile
    >>> from gis.network import graph_from_osm
    >>> G = graph_from_osm("tests/fixtures/tiny_city.osm.xml")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     H = load_graph(save_graph(G, f"{d}/net.npz"))
    >>> H.n_edges, bool((H.travel_time_s == G.travel_time_s).all()), H.report == G.report
    (19, True, True)
    """
    import pyogrio

    path = Path(path)
    if not path.is_file():
        msg = f"Graph file `{path}` does not exist. Fix: check the path, or build the graph."
        raise InputError(msg)
    if path.suffix.lower() == ".npz":
        from ._store import StoreError, read_npz

        try:
            return read_npz(path)
        except StoreError as exc:
            msg = f"{exc}. Fix: save the graph again with `gis.network.save_graph`, or rebuild it."
            raise InputError(msg) from exc
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
    attrs = meta.get("graph", {})
    report = attrs.get("report")
    if isinstance(report, dict) and "__report__" in report:
        report = NetworkReport(**report["__report__"])
    labels = nodes["node"].astype(np.int64).to_numpy()
    index = pd.Index(labels)
    src = np.asarray(index.get_indexer(edges["u"].astype(np.int64).to_numpy()), np.int64)
    dst = np.asarray(index.get_indexer(edges["v"].astype(np.int64).to_numpy()), np.int64)
    if (src < 0).any() or (dst < 0).any():
        msg = f"`{path}`: edges refer to nodes missing from the `nodes` layer. Fix: save the graph again."
        raise InputError(msg)
    order = np.argsort(src, kind="stable")  # grouped by source (files written by save_graph are)
    geometry = edges.geometry.to_numpy().copy()
    geometry[~edges["has_geometry"].to_numpy(bool)] = None
    edge_columns = _restore(edges, meta["edge_kinds"])
    with gc_paused():
        return from_columns(
            labels=labels.tolist(),
            node_columns=_restore(nodes, meta["node_kinds"]),
            src=src[order],
            dst=dst[order],
            keys=edges["key"].astype(np.int64).to_numpy()[order],
            edge_columns={k: _take(v, order) for k, v in edge_columns.items()},
            geometry=geometry[order],
            crs=pyproj.CRS.from_wkt(meta["crs"]),
            source=attrs.get("source"),
            report=report,
        )


def _take(values: Any, order: npt.NDArray[np.int64]) -> Any:
    if isinstance(values, np.ndarray):
        return values[order]
    return [values[i] for i in order.tolist()]
