"""The road network's outputs of a run: one GeoPackage for a city, arrays and main roads above that (private).

A city's graph (up to :data:`NETWORK_GPKG_MAX_EDGES` edges) is written whole to
``network.gpkg`` (``nodes`` and ``edges`` layers, :func:`gis.network.save_graph`), as always.

A province's graph is too big for that to be useful: the 3M-node demo province's 11 M edges
make a 2.7 GB GeoPackage that took 2-3 minutes to write, and QGIS draws it at a crawl. What a
bureau does with the network of a province is (a) reload it to re-run a stage, or share it
with another tool, and (b) look at the main roads and their travel speeds on a map. So above
the limit a run writes

- ``network.npz``: the whole graph as arrays (the build cache's format: numbers and text, read
  without running code), reloaded by :func:`gis.network.load_graph` exactly (same nodes,
  edges, travel times and lines); about 1.1 GB for the province, written in seconds;
- ``network_main_roads.gpkg``: an ``edges`` layer of the main roads only (:data:`MAIN_ROADS`:
  motorways, trunk, primary and secondary roads and their links) with ``u``, ``v``, ``key``,
  ``highway``, ``name``, ``oneway``, ``length_m``, ``speed_kph`` and ``travel_time_s``, for
  QGIS, and a ``notes`` table saying what was left out and where the whole graph is.

``riskplan network SCENARIO --out network.gpkg`` still writes the whole GeoPackage of any graph
for whoever needs every edge in a GIS.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from gis.atomic import write_gpkg
from gis.network import EdgeShapes, RoadGraph, save_graph

__all__ = ["MAIN_ROADS", "NETWORK_GPKG_MAX_EDGES", "write_network"]

#: Above this many edges a run writes ``network.npz`` and ``network_main_roads.gpkg``, not ``network.gpkg``.
NETWORK_GPKG_MAX_EDGES = 2_000_000

#: Road classes of ``network_main_roads.gpkg``.
MAIN_ROADS = (
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
)

_MAIN_COLUMNS = ("u", "v", "key", "highway", "name", "oneway", "length_m", "speed_kph", "travel_time_s")


def write_network(
    graph: RoadGraph, out_dir: Path, *, max_gpkg_edges: int = NETWORK_GPKG_MAX_EDGES
) -> tuple[dict[str, Path], list[str]]:
    """Write the run's road network into ``out_dir``; return ``({output: path}, notes)``.

    Up to ``max_gpkg_edges`` edges: ``network.gpkg`` (``{"network": path}``, no note). Above:
    ``network.npz`` (``"network"``) and ``network_main_roads.gpkg`` (``"network_main_roads"``),
    with a note saying so. Every file is written atomically.

    Examples
    --------
    >>> import tempfile
    >>> from gis.network import graph_from_osm
    >>> G = graph_from_osm("tests/fixtures/tiny_city.osm.xml")
    >>> d = Path(tempfile.mkdtemp())
    >>> sorted(p.name for p in write_network(G, d)[0].values())
    ['network.gpkg']
    >>> outputs, notes = write_network(G, d, max_gpkg_edges=10)
    >>> sorted(p.name for p in outputs.values())
    ['network.npz', 'network_main_roads.gpkg']
    """
    if graph.n_edges <= max_gpkg_edges:
        return {"network": save_graph(graph, out_dir / "network.gpkg")}, []
    whole = save_graph(graph, out_dir / "network.npz")
    classes = graph.highway  # categorical: the main roads by their codes, not 11 M strings
    main_codes = [code for code, name in enumerate(classes.categories) if name in MAIN_ROADS]
    main = np.flatnonzero(np.isin(np.asarray(classes.codes), main_codes))
    layer = _main_roads(graph, main)
    note = (
        f"the road graph has {graph.n_edges:,} edges (more than {max_gpkg_edges:,}): it is written "
        f"whole as `network.npz` (arrays; `gis.network.load_graph` reads it) and its {len(main):,} edges "
        f"of main roads ({', '.join(c for c in MAIN_ROADS if not c.endswith('_link'))} and links) as "
        "`network_main_roads.gpkg` for a GIS; `riskplan network` writes every edge as a GeoPackage"
    )
    roads = write_gpkg(
        out_dir / "network_main_roads.gpkg",
        {"edges": layer},
        {"notes": pd.DataFrame({"note": [note]})},
        index_label="edge",
    )
    return {"network": whole, "network_main_roads": roads}, [note]


def _main_roads(graph: RoadGraph, rows: npt.NDArray[np.intp]) -> gpd.GeoDataFrame:
    """The ``edges`` of ``rows`` (edge positions) with the columns of :data:`_MAIN_COLUMNS`."""
    nodes = graph.nodes
    offsets = graph.geometry_offsets
    starts, counts = offsets[:-1][rows], np.diff(offsets)[rows]
    take = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(
        int(counts.sum())
    )
    sub = np.zeros(len(rows) + 1, np.int64)
    np.cumsum(counts, out=sub[1:])
    lines = EdgeShapes(graph.geometry_xy[take], sub).geoms if len(rows) else np.array([], dtype=object)
    columns = {
        "u": nodes[graph.sources[rows]],
        "v": nodes[graph.targets[rows]],
        "key": graph.key[rows],
        "highway": graph.edge_attribute("highway")[rows],
        "name": graph.edge_attribute("name")[rows],
        "oneway": graph.oneway[rows],
        "length_m": graph.length_m[rows],
        "speed_kph": graph.speed_kph[rows],
        "travel_time_s": graph.travel_time_s[rows],
    }
    return gpd.GeoDataFrame(
        {k: columns[k] for k in _MAIN_COLUMNS},
        geometry=lines,
        crs=graph.crs,
        index=pd.Index(rows, name="edge"),
    )
