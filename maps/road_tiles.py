"""Vector tiles of a road graph: one line per road, minor classes dropped by zoom, simplified per tile.

:class:`RoadTileSource` serves the ``roads`` layer of ``/tiles/roads/{z}/{x}/{y}.mvt`` and of a
PMTiles export, in the tile grid of :mod:`maps.tiles` (its :data:`~maps.tiles.EXTENT` and
:data:`~maps.tiles.BUFFER`), encoded by the line encoder.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely

from gis import InputError

from ._mvt_lines import encode_lines
from .tiles import BUFFER, EXTENT, tile_bounds

if TYPE_CHECKING:
    from gis.network import RoadGraph

__all__ = ["ROAD_DEFAULT_MIN_ZOOM", "ROAD_MIN_ZOOM", "ROAD_TILE_COLUMNS", "RoadTileSource"]

#: The shallowest zoom at which a road class is drawn in the ``roads`` tiles (a province at zoom 6
#: shows its motorways, a city at zoom 11 its tertiary roads, a district at 13 every street);
#: a class not named here (``service``, ``track``...) from zoom :data:`ROAD_DEFAULT_MIN_ZOOM`.
ROAD_MIN_ZOOM: Mapping[str, int] = {
    "motorway": 0,
    "trunk": 0,
    "motorway_link": 9,
    "trunk_link": 9,
    "primary": 7,
    "primary_link": 11,
    "secondary": 9,
    "secondary_link": 12,
    "tertiary": 11,
    "tertiary_link": 12,
    "unclassified": 12,
    "residential": 13,
    "living_street": 13,
}
ROAD_DEFAULT_MIN_ZOOM = 14
#: The attributes of each road tile feature (``unit_id`` is the edge's position in the graph).
ROAD_TILE_COLUMNS = ("highway", "name", "oneway", "speed_kph")


class RoadTileSource:
    """A road graph's edges, indexed for vector tiles dropped by zoom and simplified per zoom.

    Each road is one feature (the two directions of a two-way street are one line); its class
    (``highway``) gives the shallowest zoom it is drawn at (:data:`ROAD_MIN_ZOOM`), and each
    tile's lines are simplified (Douglas-Peucker, :func:`shapely.simplify`) by the width of one
    pixel of that zoom (a 256-pixel tile), then clipped with the :data:`BUFFER` and encoded by
    the line encoder. One STR-tree per zoom band holds the roads drawn from that band, so a
    province-wide tile queries only its motorways and trunk roads.

    Parameters
    ----------
    graph : gis.network.RoadGraph
        The road graph (its edge geometry, ``highway``, ``name``, ``oneway``, ``speed_kph``).
    name : str
        The MVT layer name inside each tile.
    """

    def __init__(self, graph: RoadGraph, *, name: str = "roads") -> None:
        import pyproj

        if graph.crs is None:
            raise InputError(f"Road graph `{graph.source}` has no CRS: build it from a layer with one.")
        src, dst = graph.sources, graph.targets
        pair = src * graph.n_nodes + dst
        reverse = dst * graph.n_nodes + src
        # a two-way road is two edges (a -> b, b -> a) on one line: keep the one from the lower node
        twin = np.isin(reverse, pair)
        edges = np.flatnonzero(~twin | (src < dst) | (src == dst))
        offsets = graph.geometry_offsets
        starts, ends = offsets[edges], offsets[edges + 1]
        lengths = ends - starts
        take = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) + np.arange(
            int(lengths.sum())
        )
        xy = graph.geometry_xy[take]
        to_mercator = pyproj.Transformer.from_crs(graph.crs, 3857, always_xy=True)
        mx, my = to_mercator.transform(xy[:, 0], xy[:, 1])
        self.geometry = np.asarray(
            shapely.from_ragged_array(
                shapely.GeometryType.LINESTRING,
                np.column_stack([mx, my]),
                (np.concatenate([[0], np.cumsum(lengths)]),),
            ),
            dtype=object,
        )
        self.name = name
        self.columns = ROAD_TILE_COLUMNS
        self.ids = edges.astype(str).astype(object)
        highway = np.asarray(graph.highway.astype(str))[edges].astype(object)
        self._arrays: dict[str, np.ndarray] = {
            "highway": highway,
            "name": np.asarray(pd.Series(graph.name).astype(object))[edges],
            "oneway": np.asarray(graph.oneway, dtype=bool)[edges],
            "speed_kph": np.asarray(graph.speed_kph, dtype=float)[edges],
        }
        self.min_zoom = np.array(
            [ROAD_MIN_ZOOM.get(h, ROAD_DEFAULT_MIN_ZOOM) for h in highway], dtype=np.int64
        ).reshape(-1)
        #: The zoom bands (shallowest zoom of each) and the STR-tree of the roads drawn in each.
        self.bands = sorted({int(z) for z in self.min_zoom})
        self._trees = {band: (np.flatnonzero(self.min_zoom <= band), None) for band in self.bands}
        self.bounds = tuple(float(v) for v in shapely.total_bounds(self.geometry)) if len(edges) else None
        #: The deepest zoom worth building (every class shown, streets a few pixels long).
        self.max_zoom = 16

    def __len__(self) -> int:
        return len(self.ids)

    def _tree(self, z: int) -> tuple[np.ndarray, shapely.STRtree] | None:
        """The roads drawn at zoom ``z`` and their STR-tree (built on first use), or None."""
        band = max((b for b in self.bands if b <= z), default=None)
        if band is None:
            return None
        members, tree = self._trees[band]
        if tree is None:
            tree = shapely.STRtree(self.geometry[members])
            self._trees[band] = (members, tree)
        return members, tree

    def lines(self, z: int, x: int, y: int) -> tuple[np.ndarray, np.ndarray]:
        """The positions of the roads tile ``z/x/y`` draws and their lines (simplified, clipped)."""
        xmin, ymin, xmax, ymax = tile_bounds(z, x, y)
        found = self._tree(z)
        if found is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object)
        members, tree = found
        pad = (xmax - xmin) * BUFFER / EXTENT
        hits = members[np.sort(tree.query(shapely.box(xmin - pad, ymin - pad, xmax + pad, ymax + pad)))]
        pixel = (xmax - xmin) / 256
        simple = shapely.simplify(self.geometry[hits], pixel, preserve_topology=False)
        clipped = shapely.clip_by_rect(simple, xmin - pad, ymin - pad, xmax + pad, ymax + pad)
        kinds = shapely.get_type_id(clipped)
        shown = ~shapely.is_empty(clipped) & np.isin(kinds, (1, 5))
        return hits[shown], np.asarray(clipped[shown], dtype=object)

    def tile(self, z: int, x: int, y: int) -> bytes:
        """Tile ``z/x/y`` as MVT bytes; ``b""`` when no road is drawn in it.

        Raises
        ------
        gis.InputError
            If ``z/x/y`` names no tile.
        """
        hits, lines = self.lines(z, x, y)
        if not len(hits):
            return b""
        columns = {"unit_id": self.ids[hits]} | {c: v[hits] for c, v in self._arrays.items()}
        return encode_lines(lines, columns, name=self.name, bounds=tile_bounds(z, x, y), extent=EXTENT)
