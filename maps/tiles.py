"""Mapbox vector tiles of big layers (10^5-10^6 cells), built in Python; roads in :mod:`maps.road_tiles`.

A :class:`TileSource` holds one layer in Web Mercator (EPSG:3857) with a spatial index
(:class:`shapely.STRtree`), so one tile costs a query of the index, a clip and an encode
(:func:`mapbox_vector_tile.encode`) of the features it holds, never a pass over the layer.
Tiles are addressed as in every slippy map (``z/x/y``, ``y`` down from the north, as
PostGIS's ``ST_TileEnvelope``) with an extent of :data:`EXTENT` units and a :data:`BUFFER`
so polygon edges do not show at tile seams.

A tile that would hold more than ``max_features`` features (a city-wide view of a million
100 m cells, where each cell is smaller than a pixel) is *merged*: the tile is cut into
``thin_bins`` x ``thin_bins`` squares (a feature falls in the square of its bounding-box
centre, 4 pixels at the default 64), each square takes the highest level of its cells (a red
cell is never hidden, the rule of the maps' block aggregation, :mod:`maps._layers`), and the
squares of one level are merged into one (Multi)Polygon feature with ``level`` and ``cells``
(how many cells it stands for): at most one feature per level, so a browser draws a handful
of paths per tile, not thousands of squares (4,096 squares a tile kept Chromium drawing 20
tiles for 6.7 s). The hover lookup (:meth:`TileSource.feature_at`) names the worst cell of
the square under the pointer. A layer without a ``merge_by`` column (levels) is *thinned*
instead, as before: each square carries the one feature of highest ``rank_by``. Below
``max_features`` every feature is drawn as it is (the same picture at street zooms).
A big layer (more than :data:`PREBUILD_MIN_FEATURES` features) builds the tiles of its first
view (:meth:`TileSource.first_view`: every zoom at which its bounds take few tiles) in the
background as soon as it is indexed, so the page's first requests find them ready.
:func:`postgis_tile_sql` gives the same tile from PostGIS (``ST_AsMVT``), thinning included.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis import InputError
from risk_models.composite import LEVELS

from ._mvt import encode_polygons
from ._mvt_lines import encode_lines

__all__ = [
    "BUFFER",
    "EXTENT",
    "MAX_ZOOM",
    "MVT_MEDIA_TYPE",
    "PREBUILD_MIN_FEATURES",
    "RISK_TILE_COLUMNS",
    "TileSource",
    "check_tile",
    "postgis_tile_sql",
    "tile_bounds",
]

#: Tile coordinate units per tile side (the MVT default).
EXTENT = 4096
#: Extra units drawn outside each tile edge (clipped there), as ``ST_AsMVTGeom``'s default.
BUFFER = 64
#: The deepest zoom served (about 0.15 m per pixel).
MAX_ZOOM = 24
#: The registered media type of a Mapbox vector tile.
MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
#: The risk attributes each tile feature of a risk layer carries (the web page's styling and
#: tooltip read them; the PMTiles export writes the same).
RISK_TILE_COLUMNS = (
    "name",
    "level",
    "score",
    "rank",
    "percentile",
    "hazard_vs_median",
    "exposure_factor_vs_median",
    "vulnerability_factor_vs_median",
    "response_factor_vs_median",
)
#: A layer of more features than this builds its first view's tiles when it is indexed.
PREBUILD_MIN_FEATURES = 100_000
#: Tiles built ahead at most (the first view: the zooms at which the layer takes few tiles).
PREBUILD_MAX_TILES = 256
#: Half the side of the Web Mercator square (metres).
_HALF = 20037508.342789244


def check_tile(z: int, x: int, y: int) -> None:
    """Raise :class:`gis.InputError` unless ``z/x/y`` names a tile (``0 <= x, y < 2**z``).

    Examples
    --------
    >>> check_tile(3, 7, 0)
    >>> check_tile(3, 8, 0)
    Traceback (most recent call last):
    ...
    gis.errors.InputError: Tile 3/8/0 does not exist: at zoom 3, x and y run from 0 to 7.
    """
    if not 0 <= z <= MAX_ZOOM:
        raise InputError(f"Tile {z}/{x}/{y} does not exist: zoom runs from 0 to {MAX_ZOOM}.")
    n = 1 << z
    if not (0 <= x < n and 0 <= y < n):
        raise InputError(f"Tile {z}/{x}/{y} does not exist: at zoom {z}, x and y run from 0 to {n - 1}.")


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """The tile's ``(xmin, ymin, xmax, ymax)`` in EPSG:3857 metres (as ``ST_TileEnvelope``).

    Examples
    --------
    >>> [round(v) for v in tile_bounds(1, 1, 0)]
    [0, 0, 20037508, 20037508]
    """
    check_tile(z, x, y)
    size = 2 * _HALF / (1 << z)
    xmin = -_HALF + x * size
    ymax = _HALF - y * size
    return xmin, ymax - size, xmin + size, ymax


@dataclass(frozen=True)
class _Bins:
    """Where each hit feature falls in the thinning grid of one tile."""

    keep: np.ndarray  # positions (into the hits) of the feature kept per bin
    counts: np.ndarray  # how many features each kept one stands for
    cells: np.ndarray  # the bin (column, row) of each kept one, row 0 at the top


class TileSource:
    """One layer, indexed for vector tiles.

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        The layer, in any CRS (reprojected to EPSG:3857); its index is the feature id.
    name : str
        The MVT layer name inside each tile.
    columns : sequence of str, optional
        The attributes carried by each feature (all non-geometry columns when omitted). Values
        must be numbers, booleans or strings; missing values are left out of the feature.
    rank_by : str, optional
        When a tile is thinned, the feature of highest ``rank_by`` stands for its square
        (the first in index order when omitted).
    max_features : int
        A tile with more features than this is thinned (polygon layers only: a line or point
        layer keeps every feature).
    thin_bins : int
        Squares per tile side when thinning (64: 4 pixels of a 256-pixel tile).
    merge_by : str, optional
        The column of ordered levels (:data:`risk_models.LEVELS`, lowest first) by which a
        crowded tile's squares are merged, when the layer carries it (``level``); a layer
        without it, or with other values there, is thinned to one feature per square.
    prebuild : bool, optional
        Build the first view's tiles in the background now (default: for a layer of more
        than :data:`PREBUILD_MIN_FEATURES` features).

    Raises
    ------
    gis.InputError
        If the layer has no CRS, an unknown column, or missing geometries.
    """

    def __init__(
        self,
        frame: gpd.GeoDataFrame,
        *,
        name: str,
        columns: Sequence[str] | None = None,
        rank_by: str | None = None,
        max_features: int = 4096,
        thin_bins: int = 64,
        merge_by: str | None = "level",
        prebuild: bool | None = None,
    ) -> None:
        if frame.crs is None:
            raise InputError(f"Layer `{name}` has no CRS: set one (frame.set_crs(...)) before tiling it.")
        names = [c for c in frame.columns if c != frame.geometry.name] if columns is None else list(columns)
        missing = [c for c in [*names, *([rank_by] if rank_by else [])] if c not in frame.columns]
        if missing:
            raise InputError(f"Layer `{name}` has no column {missing}: it has {list(frame.columns)}.")
        empty = frame.geometry.isna() | frame.geometry.is_empty
        if empty.any():
            rows = list(frame.index[empty][:5])
            raise InputError(
                f"Layer `{name}` has {int(empty.sum())} empty geometries (rows {rows}): drop them."
            )
        self.name = name
        self.columns = tuple(names)
        self.rank_by = rank_by
        self.max_features = int(max_features)
        self.thin_bins = int(thin_bins)
        self.geometry = _to_web_mercator(frame)
        self.ids = frame.index.astype(str).to_numpy()
        self.attributes = pd.DataFrame(frame[names]).reset_index(drop=True)
        self._arrays = {c: self.attributes[c].to_numpy() for c in self.columns}  # what tiles slice
        self.rank = (
            frame[rank_by].astype(float).fillna(-np.inf).to_numpy()
            if rank_by
            else -np.arange(len(frame), dtype=float)
        )
        self.tree = shapely.STRtree(self.geometry)
        # only areas are thinned to squares (roads keep their lines at every zoom)
        self.areal = bool(np.isin(shapely.get_type_id(self.geometry), (3, 6)).all())
        box = shapely.bounds(self.geometry).reshape(-1, 4)
        # the bounding-box centre (as postgis_tile_sql bins), 30x faster than the centroid
        self.centroids = np.column_stack([(box[:, 0] + box[:, 2]) / 2, (box[:, 1] + box[:, 3]) / 2])
        self.bounds = tuple(float(v) for v in shapely.total_bounds(self.geometry)) if len(frame) else None
        #: The level column crowded tiles are merged by (None: thinned), and each feature's
        #: level as its position in :data:`risk_models.LEVELS` (-1: no level).
        self.merge_by: str | None = None
        self.level_codes = np.zeros(0, dtype=np.int64)
        if merge_by is not None and merge_by in self.columns and self.areal:
            values = self.attributes[merge_by]
            known = values.isna() | values.isin(LEVELS)
            if known.all():
                self.merge_by = merge_by
                codes = pd.Categorical(values, categories=list(LEVELS)).codes
                self.level_codes = np.asarray(codes, dtype=np.int64)
        self._ready: dict[tuple[int, int, int], bytes] = {}  # tiles built ahead
        if prebuild if prebuild is not None else len(self) > PREBUILD_MIN_FEATURES:
            self.prebuilding: threading.Thread | None = threading.Thread(
                target=self.prebuild, name=f"tiles-{name}", daemon=True
            )
            self.prebuilding.start()
        else:
            self.prebuilding = None

    def __len__(self) -> int:
        return len(self.ids)

    def first_view(self, max_tiles: int = PREBUILD_MAX_TILES) -> list[tuple[int, int, int]]:
        """The tiles covering the layer's bounds, zoom by zoom from 0, while they number few.

        Zooms are taken whole, shallowest first, while the total stays within ``max_tiles``
        (a 100 km layer: zooms 0-12); these are the tiles a page fitted to the layer draws first.
        """
        if self.bounds is None:
            return []
        out: list[tuple[int, int, int]] = []
        for z in range(MAX_ZOOM + 1):
            n = 1 << z
            size = 2 * _HALF / n
            x0, x1 = (
                min(n - 1, max(0, math.floor((v + _HALF) / size))) for v in (self.bounds[0], self.bounds[2])
            )
            y0, y1 = (
                min(n - 1, max(0, math.floor((_HALF - v) / size))) for v in (self.bounds[3], self.bounds[1])
            )
            zoom = [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
            if len(out) + len(zoom) > max_tiles:
                break
            out += zoom
        return out

    def prebuild(self, tiles: Sequence[tuple[int, int, int]] | None = None) -> int:
        """Build ``tiles`` (default :meth:`first_view`) now; :meth:`tile` returns them ready."""
        done = 0
        for z, x, y in self.first_view() if tiles is None else tiles:
            if (z, x, y) not in self._ready:
                self._ready[(z, x, y)] = self._build(z, x, y)
                done += 1
        return done

    def hits(self, z: int, x: int, y: int) -> np.ndarray:
        """Positions of the features meeting tile ``z/x/y`` (buffer included), sorted."""
        xmin, ymin, xmax, ymax = tile_bounds(z, x, y)
        pad = (xmax - xmin) * BUFFER / EXTENT
        box = shapely.box(xmin - pad, ymin - pad, xmax + pad, ymax + pad)
        return np.sort(self.tree.query(box, predicate="intersects"))

    def _bins(self, hits: np.ndarray, bounds: tuple[float, float, float, float]) -> _Bins:
        col, row, bin_id = self._bin_ids(hits, bounds)
        # highest rank first, then lowest position: the first row per bin is the one kept
        order = np.lexsort((hits, -self.rank[hits], bin_id))
        first = np.ones(len(order), dtype=bool)
        first[1:] = bin_id[order][1:] != bin_id[order][:-1]
        keep = order[first]
        _, counts = np.unique(bin_id, return_counts=True)  # sorted by bin, as ``keep``
        return _Bins(keep, counts, np.column_stack([col[keep], row[keep]]))

    def _merging(self, hits: np.ndarray) -> bool:
        return self.merge_by is not None and len(hits) > self.max_features

    def _bin_ids(self, hits: np.ndarray, bounds: tuple[float, float, float, float]) -> tuple[np.ndarray, ...]:
        """Each hit's square (column, row, id; -1 and ``thin_bins`` for the buffer's squares)."""
        xmin, _ymin, xmax, ymax = bounds
        size = (xmax - xmin) / self.thin_bins
        centre = self.centroids[hits]
        col = np.clip(np.floor((centre[:, 0] - xmin) / size), -1, self.thin_bins).astype(np.int64)
        row = np.clip(np.floor((ymax - centre[:, 1]) / size), -1, self.thin_bins).astype(np.int64)
        return col, row, (row + 1) * (self.thin_bins + 2) + (col + 1)

    def merged(
        self, z: int, x: int, y: int, hits: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A crowded tile's features: one (Multi)Polygon per level, its level code and cells.

        Each square of the tile's ``thin_bins`` grid takes the highest level of the cells it
        holds (-1: cells without a level only); the squares of each level, unioned
        (:func:`shapely.coverage_union_all`: they tile the plane without overlap) and clipped
        to the tile and its buffer, are that level's geometry. Levels lowest first.
        """
        bounds = tile_bounds(z, x, y)
        xmin, ymin, xmax, ymax = bounds
        hits = self.hits(z, x, y) if hits is None else hits
        _col, _row, bin_id = self._bin_ids(hits, bounds)
        codes = self.level_codes[hits]
        bins, inverse, counts = np.unique(bin_id, return_inverse=True, return_counts=True)
        top = np.full(len(bins), -2, dtype=np.int64)
        np.maximum.at(top, inverse.reshape(-1), codes)
        side = self.thin_bins + 2
        bx, by = bins % side - 1, bins // side - 1
        size = (xmax - xmin) / self.thin_bins
        pad = (xmax - xmin) * BUFFER / EXTENT
        geoms, levels, cells = [], [], []
        for code in np.unique(top):
            mine = top == code
            x0, y1 = xmin + bx[mine] * size, ymax - by[mine] * size
            union = shapely.coverage_union_all(shapely.box(x0, y1 - size, x0 + size, y1))
            clipped = shapely.clip_by_rect(union, xmin - pad, ymin - pad, xmax + pad, ymax + pad)
            clipped = shapely.get_parts(clipped)
            clipped = clipped[shapely.get_type_id(clipped) == 3]
            if len(clipped):
                geoms.append(shapely.multipolygons(clipped) if len(clipped) > 1 else clipped[0])
                levels.append(int(code))
                cells.append(int(counts[mine].sum()))
        return (
            np.asarray(geoms, dtype=object),
            np.asarray(levels, dtype=np.int64),
            np.asarray(cells, dtype=np.int64),
        )

    def _merged_columns(self, levels: np.ndarray, cells: np.ndarray) -> dict[str, np.ndarray]:
        names = np.array([LEVELS[c] if c >= 0 else None for c in levels], dtype=object)
        return {"level" if self.merge_by is None else self.merge_by: names, "cells": cells}

    def _chosen(
        self, z: int, x: int, y: int, hits: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The tile's feature positions, their clipped geometries and (thinned) cell counts."""
        bounds = tile_bounds(z, x, y)
        hits = self.hits(z, x, y) if hits is None else hits
        xmin, ymin, xmax, ymax = bounds
        pad = (xmax - xmin) * BUFFER / EXTENT
        counts: np.ndarray | None = None
        if len(hits) > self.max_features and self.areal:
            bins = self._bins(hits, bounds)
            size = (xmax - xmin) / self.thin_bins
            x0 = xmin + bins.cells[:, 0] * size
            y1 = ymax - bins.cells[:, 1] * size
            hits, counts = hits[bins.keep], bins.counts
            geoms = shapely.box(x0, y1 - size, x0 + size, y1)
        else:
            geoms = self.geometry[hits]
        clipped = shapely.clip_by_rect(geoms, xmin - pad, ymin - pad, xmax + pad, ymax + pad)
        shown = ~shapely.is_empty(clipped)
        kept = None if counts is None else counts[shown]
        return hits[shown], np.asarray(clipped[shown], dtype=object), kept

    def feature_at(self, z: int, x: float, y: float) -> dict[str, object] | None:
        """The properties of the feature the zoom-``z`` tile draws at point ``(x, y)`` (EPSG:3857).

        In a thinned tile, the feature standing for the point's square (with ``cells``);
        otherwise the feature containing the point. None when the tile draws nothing there.
        """
        n = 1 << z
        size = 2 * _HALF / n
        col = min(n - 1, max(0, math.floor((x + _HALF) / size)))
        row = min(n - 1, max(0, math.floor((_HALF - y) / size)))
        bounds = tile_bounds(z, col, row)
        xmin, _ymin, _xmax, ymax = bounds
        hits = self.hits(z, col, row)
        count: int | None = None
        if self._merging(hits):
            side = size / self.thin_bins
            cell = (math.floor((x - xmin) / side), math.floor((ymax - y) / side))
            bx, by, _ = self._bin_ids(hits, bounds)
            inside = hits[(bx == cell[0]) & (by == cell[1])]
            if not len(inside):
                return None
            # the worst cell of the square: its highest level, then its highest rank, then first
            order = np.lexsort((inside, -self.rank[inside], -self.level_codes[inside]))
            position, count = int(inside[order[0]]), len(inside)
        elif len(hits) > self.max_features and self.areal:
            bins = self._bins(hits, bounds)
            side = size / self.thin_bins
            cell = (math.floor((x - xmin) / side), math.floor((ymax - y) / side))
            match = np.flatnonzero((bins.cells[:, 0] == cell[0]) & (bins.cells[:, 1] == cell[1]))
            if not len(match):
                return None
            position, count = int(hits[bins.keep[match[0]]]), int(bins.counts[match[0]])
        else:
            inside = self.tree.query(shapely.Point(x, y), predicate="intersects")
            if not len(inside):
                return None
            position = int(np.min(inside))
        props: dict[str, object] = {"unit_id": str(self.ids[position])}
        for c in self.columns:
            value = self._arrays[c][position]
            if not _missing(value):
                props[c] = _value(value)
        if count is not None:
            props["cells"] = count
        return props

    def features(self, z: int, x: int, y: int) -> list[dict[str, object]]:
        """The tile's features as :func:`mapbox_vector_tile.encode` takes them (EPSG:3857)."""
        hits = self.hits(z, x, y)
        if self._merging(hits):
            geoms, levels, cells = self.merged(z, x, y, hits)
            columns = self._merged_columns(levels, cells)
            return [
                {
                    "geometry": geom,
                    "properties": {k: _value(v[i]) for k, v in columns.items() if not _missing(v[i])},
                }
                for i, geom in enumerate(geoms)
            ]
        hits, clipped, counts = self._chosen(z, x, y, hits)
        records = self.attributes.iloc[hits].to_dict("records")
        out: list[dict[str, object]] = []
        for i, (geom, props) in enumerate(zip(clipped, records, strict=True)):
            properties = {"unit_id": self.ids[hits[i]]}
            properties |= {k: _value(v) for k, v in props.items() if not _missing(v)}
            if counts is not None:
                properties["cells"] = int(counts[i])
            out.append({"geometry": geom, "properties": properties})
        return out

    def tile(self, z: int, x: int, y: int) -> bytes:
        """Tile ``z/x/y`` as MVT bytes; ``b""`` when no feature meets it.

        Raises
        ------
        gis.InputError
            If ``z/x/y`` names no tile.
        """
        check_tile(z, x, y)
        ready = self._ready.get((z, x, y))
        return ready if ready is not None else self._build(z, x, y)

    def _build(self, z: int, x: int, y: int) -> bytes:
        xmin, ymin, xmax, ymax = tile_bounds(z, x, y)
        hits = self.hits(z, x, y)
        if self._merging(hits):
            geoms, levels, cells = self.merged(z, x, y, hits)
            if not len(geoms):
                return b""
            return encode_polygons(
                geoms,
                self._merged_columns(levels, cells),
                name=self.name,
                bounds=(xmin, ymin, xmax, ymax),
                extent=EXTENT,
            )
        hits, clipped, counts = self._chosen(z, x, y, hits)
        if not len(hits):
            return b""
        if (shapely.get_type_id(clipped) == 3).all():  # Polygons: the vectorised encoder
            columns = {"unit_id": self.ids[hits]}
            columns |= {c: values[hits] for c, values in self._arrays.items()}
            if counts is not None:
                columns["cells"] = counts.astype(np.int64)
            return encode_polygons(
                clipped, columns, name=self.name, bounds=(xmin, ymin, xmax, ymax), extent=EXTENT
            )
        kinds = shapely.get_type_id(clipped)
        if np.isin(kinds, (1, 5)).all():  # LineStrings and MultiLineStrings: the line encoder
            columns = {"unit_id": self.ids[hits]}
            columns |= {c: values[hits] for c, values in self._arrays.items()}
            return encode_lines(
                clipped, columns, name=self.name, bounds=(xmin, ymin, xmax, ymax), extent=EXTENT
            )
        import mapbox_vector_tile  # the service extra; points and mixed geometries

        data: bytes = mapbox_vector_tile.encode(
            [{"name": self.name, "features": self.features(z, x, y)}],
            default_options={"quantize_bounds": (xmin, ymin, xmax, ymax), "extents": EXTENT},
        )
        return data


def _to_web_mercator(frame: gpd.GeoDataFrame) -> np.ndarray:
    """The geometries in EPSG:3857; from EPSG:4326 by the closed-form spherical Mercator.

    The closed form is what pyproj computes for EPSG:4326 -> 3857, ten times faster on a
    million cells (``tests/test_tiles.py`` compares the two).
    """
    if frame.crs is not None and frame.crs.to_epsg() == 4326:
        radius = 6378137.0

        def project(xy: np.ndarray) -> np.ndarray:
            lat = np.radians(np.clip(xy[:, 1], -85.06, 85.06))
            return np.column_stack(
                [np.radians(xy[:, 0]) * radius, radius * np.log(np.tan(np.pi / 4 + lat / 2))]
            )

        return np.asarray(
            shapely.transform(np.asarray(frame.geometry.array, dtype=object), project), dtype=object
        )
    return np.asarray(frame.geometry.to_crs(3857).array, dtype=object)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _value(value: object) -> object:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def postgis_tile_sql(
    table: str,
    columns: Sequence[str],
    *,
    name: str,
    rank_by: str | None,
    max_features: int,
    thin_bins: int,
    schema: str | None = None,
    merge_by: str | None = None,
) -> str:
    """One tile of ``table`` from PostGIS as :meth:`TileSource.tile` builds it (``ST_AsMVT``).

    The table (in ``schema`` when given) has ``unit_id text``, the ``columns``, ``geom``
    (EPSG:3857, GiST-indexed) and ``pos`` (the feature's position, for ties); parameters are
    ``%(z)s, %(x)s, %(y)s``. Table and column names must be trusted identifiers (quoted here).
    With ``merge_by`` (the source's :attr:`TileSource.merge_by`) a crowded tile's squares are
    merged by level (``ST_Union``) as :meth:`TileSource.merged` does, else thinned.
    """
    q = '"{}"'.format
    cols = ", ".join(q(c) for c in columns)
    rank = f"{q(rank_by)}::float8 DESC NULLS LAST" if rank_by else "pos"
    pad = f"((ST_XMax(e.env) - ST_XMin(e.env)) * {BUFFER} / {EXTENT})"
    size = f"((ST_XMax(e.env) - ST_XMin(e.env)) / {thin_bins})"
    if merge_by is None:
        merged = "nothing AS (SELECT 1)"
        crowded = f"unit_id, {cols}, cells, geom FROM thin"
    else:
        levels = ", ".join(f"'{level}'" for level in LEVELS)
        merged = f"""sq AS (
  SELECT bx, by, max(coalesce(array_position(ARRAY[{levels}], {q(merge_by)}::text), 0)) - 1 AS code,
         count(*) AS cells
  FROM hit GROUP BY bx, by
),
merged AS (
  SELECT code, sum(cells)::bigint AS cells,
         ST_Union(ST_MakeEnvelope(
           ST_XMin(e.env) + bx * {size}, ST_YMax(e.env) - (by + 1) * {size},
           ST_XMin(e.env) + (bx + 1) * {size}, ST_YMax(e.env) - by * {size}, 3857)) AS geom
  FROM sq, e GROUP BY code
)"""
        crowded = ", ".join(
            [
                "NULL",
                *(f"(ARRAY[{levels}])[code + 1]" if c == merge_by else "NULL" for c in columns),
                "cells, geom FROM merged",
            ]
        )
    return f"""
WITH e AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS env),
hit AS (
  SELECT t.unit_id, {cols}, t.pos, t.geom,
         least(greatest(floor(((ST_XMin(t.geom) + ST_XMax(t.geom)) / 2 - ST_XMin(e.env)) / {size}), -1),
               {thin_bins}) AS bx,
         least(greatest(floor((ST_YMax(e.env) - (ST_YMin(t.geom) + ST_YMax(t.geom)) / 2) / {size}), -1),
               {thin_bins}) AS by
  FROM {f"{q(schema)}." if schema else ""}{q(table)} t, e
  WHERE ST_Intersects(t.geom, ST_Expand(e.env, {pad}))
),
n AS (SELECT count(*) AS n FROM hit),
thin AS (
  SELECT DISTINCT ON (bx, by) unit_id, {cols}, pos,
         count(*) OVER (PARTITION BY bx, by) AS cells,
         ST_MakeEnvelope(ST_XMin(e.env) + bx * {size}, ST_YMax(e.env) - (by + 1) * {size},
                         ST_XMin(e.env) + (bx + 1) * {size}, ST_YMax(e.env) - by * {size}, 3857) AS geom
  FROM hit, e
  ORDER BY bx, by, {rank}, pos
),
{merged},
chosen AS (
  SELECT unit_id, {cols}, NULL::bigint AS cells, geom FROM hit WHERE (SELECT n FROM n) <= {int(max_features)}
  UNION ALL
  SELECT {crowded} WHERE (SELECT n FROM n) > {int(max_features)}
),
mvt AS (
  SELECT unit_id, {cols}, cells, ST_AsMVTGeom(geom, e.env, {EXTENT}, {BUFFER}, true) AS geom
  FROM chosen, e
)
SELECT ST_AsMVT(mvt.*, '{name}', {EXTENT}, 'geom') FROM mvt WHERE geom IS NOT NULL
"""
