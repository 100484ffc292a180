"""A tiled layer as one PMTiles file (version 3): every tile of the layer, served from a file.

:func:`write_pmtiles` writes the tiles of a :class:`maps.TileSource` or of a road graph's
:class:`maps.RoadTileSource` (the same tiles the web service serves, thinning and dropping by
zoom included) for zooms ``min_zoom .. max_zoom`` into one PMTiles archive
with the `pmtiles <https://github.com/protomaps/PMTiles>`_ package of Protomaps (BSD-3-Clause,
the format's reference implementation): tiles gzip-compressed, in Hilbert order (a
"clustered" archive), identical tiles stored once, the TileJSON-style ``vector_layers`` in the
metadata. Any web server with HTTP range requests serves it; QGIS (3.32+), MapLibre and
OpenLayers read it directly. The file is written atomically (:func:`gis.atomic.atomic_path`).
"""

from __future__ import annotations

import gzip
import logging
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import shapely

from gis import InputError, MissingDependencyError
from gis.atomic import atomic_path

from .road_tiles import RoadTileSource
from .tiles import BUFFER, EXTENT, MAX_ZOOM, TileSource

__all__ = ["default_max_zoom", "write_pmtiles"]

log = logging.getLogger(__name__)

_HALF = 20037508.342789244
#: Above this many tiles an export is refused unless ``max_tiles`` is raised.
MAX_TILES = 200_000


def default_max_zoom(source: TileSource | RoadTileSource) -> int:
    """The zoom at which the layer's median feature is about 16 pixels wide (a 256-pixel tile).

    Beyond it clients over-zoom the deepest tiles. 100 m cells give zoom 15; roads stop at
    :attr:`RoadTileSource.max_zoom` (every class drawn, streets a few pixels long).

    Examples
    --------
    >>> import geopandas as gpd
    >>> cells = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 100, 100)], crs=3857)
    >>> default_max_zoom(TileSource(cells, name="risk"))
    15
    """
    if isinstance(source, RoadTileSource):
        return source.max_zoom
    if not len(source):
        return 0
    box = shapely.bounds(source.geometry)
    width = float(np.median(np.maximum(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1])))
    if width <= 0:  # points: as deep as a 10 m feature would go
        width = 10.0
    return int(min(MAX_ZOOM, max(0, math.ceil(math.log2(2 * _HALF * 256 / (16 * 256 * width))))))


def _tile_range(bounds: tuple[float, float, float, float], z: int) -> tuple[range, range]:
    """Columns and rows of the tiles at zoom ``z`` meeting ``bounds`` (EPSG:3857) plus the buffer."""
    n = 1 << z
    size = 2 * _HALF / n
    pad = size * BUFFER / EXTENT
    xmin, ymin, xmax, ymax = bounds

    def col(v: float) -> int:
        return min(n - 1, max(0, math.floor((v + _HALF) / size)))

    def row(v: float) -> int:
        return min(n - 1, max(0, math.floor((_HALF - v) / size)))

    return range(col(xmin - pad), col(xmax + pad) + 1), range(row(ymax + pad), row(ymin - pad) + 1)


def _lonlat(x: float, y: float) -> tuple[float, float]:
    lon = math.degrees(x / 6378137.0)
    lat = math.degrees(2 * math.atan(math.exp(y / 6378137.0)) - math.pi / 2)
    return lon, lat


def write_pmtiles(
    source: TileSource | RoadTileSource,
    path: str | Path,
    *,
    min_zoom: int = 0,
    max_zoom: int | None = None,
    max_tiles: int = MAX_TILES,
    description: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Write every non-empty tile of ``source`` for zooms ``min_zoom .. max_zoom`` to ``path``.

    Parameters
    ----------
    source : maps.TileSource or maps.RoadTileSource
        The indexed layer (its tiles are built as the tile route builds them).
    path : str or Path
        The ``.pmtiles`` file (replaced atomically).
    min_zoom, max_zoom : int
        The zooms written; ``max_zoom`` defaults to :func:`default_max_zoom`.
    max_tiles : int
        Refuse an export that would visit more tiles than this (a typo'd zoom would take hours).
    description : str
        Put in the archive's metadata.
    progress : callable, optional
        Called as ``progress(done, total)`` after each tile.

    Returns
    -------
    dict
        ``tiles`` (non-empty tiles written), ``visited``, ``min_zoom``, ``max_zoom``, ``bytes``.

    Raises
    ------
    gis.InputError
        An empty layer, zooms outside ``0 .. 24`` or in the wrong order, or too many tiles.
    gis.MissingDependencyError
        The ``pmtiles`` package is not installed (``pip install "riskplan[tiles]"``).
    """
    try:
        from pmtiles.tile import Compression, TileType, zxy_to_tileid
        from pmtiles.writer import Writer
    except ImportError as exc:
        raise MissingDependencyError(exc.name or "pmtiles", "tiles", purpose="write PMTiles") from None
    if source.bounds is None:
        msg = f"Layer `{source.name}` has no features: there is nothing to tile. Fix: check the layer."
        raise InputError(msg)
    top = default_max_zoom(source) if max_zoom is None else int(max_zoom)
    if not 0 <= min_zoom <= top <= MAX_ZOOM:
        msg = (
            f"Zooms {min_zoom}..{top} are not in 0..{MAX_ZOOM} in order. "
            "Fix: give `min_zoom` <= `max_zoom`, both from 0 to 24."
        )
        raise InputError(msg)
    xmin, ymin, xmax, ymax = source.bounds
    bounds = (xmin, ymin, xmax, ymax)
    addresses = []
    for z in range(min_zoom, top + 1):
        cols, rows = _tile_range(bounds, z)
        addresses.append((z, cols, rows))
    total = sum(len(c) * len(r) for _, c, r in addresses)
    if total > max_tiles:
        msg = (
            f"Layer `{source.name}` at zooms {min_zoom}..{top} spans {total:,} tiles, over the limit of "
            f"{max_tiles:,}. Fix: lower `max_zoom` (clients over-zoom the deepest tiles) or raise the limit."
        )
        raise InputError(msg)
    order = sorted(
        (zxy_to_tileid(z, x, y), z, x, y) for z, cols, rows in addresses for x in cols for y in rows
    )
    written = 0
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        writer = Writer(handle)
        for done, (tile_id, z, x, y) in enumerate(order, start=1):
            data = source.tile(z, x, y)
            if data:
                writer.write_tile(tile_id, gzip.compress(data, mtime=0))
                written += 1
            if progress is not None:
                progress(done, total)
        if not written:
            msg = f"Layer `{source.name}` gave no tile at zooms {min_zoom}..{top}. Fix: check its geometries."
            raise InputError(msg)
        west, south = _lonlat(bounds[0], bounds[1])
        east, north = _lonlat(bounds[2], bounds[3])
        header = {
            "tile_compression": Compression.GZIP,
            "tile_type": TileType.MVT,
            "min_lon_e7": int(west * 1e7),
            "min_lat_e7": int(south * 1e7),
            "max_lon_e7": int(east * 1e7),
            "max_lat_e7": int(north * 1e7),
            "center_zoom": int((min_zoom + top) // 2),
            "center_lon_e7": int((west + east) / 2 * 1e7),
            "center_lat_e7": int((south + north) / 2 * 1e7),
        }
        fields = dict.fromkeys(("unit_id", *source.columns), "String")
        metadata = {
            "name": source.name,
            "description": description,
            "generator": "riskplan",
            "vector_layers": [{"id": source.name, "fields": fields, "minzoom": min_zoom, "maxzoom": top}],
        }
        writer.finalize(header, metadata)
    size = Path(path).stat().st_size
    log.info("wrote %s: %d tiles at zooms %d..%d, %d bytes", path, written, min_zoom, top, size)
    return {"tiles": written, "visited": total, "min_zoom": min_zoom, "max_zoom": top, "bytes": size}
