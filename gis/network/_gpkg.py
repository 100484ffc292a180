"""Road graphs to and from GeoPackage: ``nodes`` and ``edges`` layers with typed columns."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import shapely

from ..atomic import atomic_path
from ..errors import InputError
from ._build import NetworkReport, _gc_paused
from ._cache import GRAPH_MODEL_VERSION

__all__ = ["load_graph", "save_graph"]

# Messages keep the logger of the public module, as before the split (the CLI prints its name).
log = logging.getLogger(__name__)

_GPKG_META = "riskplan_graph"


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
    >>> from gis.network import graph_from_osm
    >>> G = graph_from_osm("tests/fixtures/tiny_city.osm.xml")
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
