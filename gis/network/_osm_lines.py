"""OSM ways straight to the builder's lines: tags read and coordinates projected as arrays.

:func:`gis.osm.read_osm_way_arrays` streams the file into packed arrays (vertex coordinates,
node ids, offsets, tags); :func:`_prepare_osm` reads their tags exactly as
:func:`gis.network._build._prepare` reads a line layer's columns and projects the drivable lines'
vertices with one pyproj call, so no shapely object is made per way. The lines it returns are
those :func:`_prepare` returns for :func:`gis.osm.read_osm_ways`'s frame, array for array.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from ..crs import local_metric_crs
from ..osm import OsmWayArrays
from ._build import CRSArg, _Lines, _log_skipped, _metric_crs, _require_drivable
from ._csr import ragged_arange
from ._speeds import _directions, _osmids, _speeds, _text

__all__: list[str] = []

log = logging.getLogger(__name__.replace("._osm_lines", "._build"))

_WGS84 = pyproj.CRS.from_user_input("EPSG:4326")


def _target_crs(ways: OsmWayArrays, vertices: np.ndarray, crs: CRSArg) -> pyproj.CRS:
    """``crs``, or the UTM zone geopandas estimates for the drivable lines' bounds."""
    target = _metric_crs(crs)
    if target is not None:
        return target
    lon, lat = ways.lon[vertices], ways.lat[vertices]
    corners = shapely.points([[lon.min(), lat.min()], [lon.max(), lat.max()]])
    return local_metric_crs(gpd.GeoSeries(corners, crs=_WGS84))


def _prepare_osm(ways: OsmWayArrays, table: Mapping[str, Any], where: str, crs: CRSArg = None) -> _Lines:
    """The drivable ways of ``ways`` as the builder's lines, in ``crs`` or the local UTM zone."""
    n_in = len(ways)

    def tag(name: str) -> np.ndarray:
        return _text(pd.Series(ways.tags[name], dtype=object), n_in)

    highway = tag("highway")
    speed, drivable, implied = _speeds(highway, tag("maxspeed"), table)
    area = pd.Series(tag("area"), dtype=object).str.lower().eq("yes").to_numpy()
    use = drivable & ~area
    _log_skipped(highway, use, np.zeros(n_in, dtype=bool), area, where)
    _require_drivable(highway, use, where)
    idx = np.flatnonzero(use)
    counts = ways.counts[idx]
    vertices = ragged_arange(ways.offsets[idx], counts)
    target = _target_crs(ways, vertices, crs)
    transformer = pyproj.Transformer.from_crs(_WGS84, target, always_xy=True)
    x, y = transformer.transform(ways.lon[vertices], ways.lat[vertices])
    offsets = np.zeros(len(idx) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    direction = _directions(tag("oneway"), tag("junction"), implied)
    return _Lines(
        xy=np.column_stack([x, y]),
        offsets=offsets,
        crs=target,
        keys=ways.node_id[vertices],
        highway=highway[idx],
        name=tag("name")[idx],
        osmid=_osmids(pd.Series(ways.osm_id), n_in)[idx],
        speed_kph=speed[idx],
        direction=direction[idx],
        oneway=(direction != 0)[idx],
        rows=idx,
        n_lines_in=n_in,
        n_skipped=int((~use).sum()),
    )
