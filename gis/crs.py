"""One CRS policy at the edges: check inputs, pick a local metric CRS.

Inputs must carry a CRS. Geographic inputs are checked for swapped latitude and
longitude; metric work runs in the local UTM zone chosen from the data's
extent (:func:`local_metric_crs`).
"""

from __future__ import annotations

import geopandas as gpd
import pyproj

from .errors import CRSError

__all__ = [
    "check_coordinates",
    "local_metric_crs",
    "require_metric",
    "require_same_crs",
    "to_metric",
]

WGS84 = pyproj.CRS.from_epsg(4326)


def _where(file: str | None, layer: str | None) -> str:
    parts = []
    if file:
        parts.append(f"`{file}`")
    if layer:
        parts.append(f"layer `{layer}`")
    return ", ".join(parts) or "input"


def check_coordinates(
    gdf: gpd.GeoDataFrame,
    *,
    file: str | None = None,
    layer: str | None = None,
) -> None:
    """Raise :class:`CRSError` when ``gdf`` has no CRS or impossible geographic coordinates.

    Geographic coordinates out of range (latitude beyond +-90 degrees) are
    reported as swapped latitude / longitude, which is by far the usual cause.

    Examples
    --------
    >>> from shapely import Point
    >>> gdf = gpd.GeoDataFrame(geometry=[Point(37.8, 112.5)], crs=4326)
    >>> check_coordinates(gdf, layer="hazards")
    Traceback (most recent call last):
    ...
    gis.errors.CRSError: layer `hazards` has latitudes outside -90..90 ...
    """
    where = _where(file, layer)
    if gdf.crs is None:
        msg = (
            f'{where} has no CRS. Fix: give the source CRS, for example `crs = "EPSG:4326"` '
            "in the scenario TOML, or set it with `gdf.set_crs(...)`."
        )
        raise CRSError(msg)
    geoms = gdf.geometry[~(gdf.geometry.is_empty | gdf.geometry.isna())]
    if not gdf.crs.is_geographic or len(geoms) == 0:
        return
    minx, miny, maxx, maxy = geoms.total_bounds
    if miny < -90 or maxy > 90:
        b = geoms.bounds
        bad = b.index[(b.miny < -90) | (b.maxy > 90)].tolist()
        msg = (
            f"{where} has latitudes outside -90..90 (bounds {minx:.4f}, {miny:.4f}, "
            f"{maxx:.4f}, {maxy:.4f}; rows {bad[:10]}): latitude and longitude look swapped. "
            "Fix: swap the coordinate columns (x = longitude, y = latitude), or declare "
            "the layer's real CRS if it is not in degrees."
        )
        raise CRSError(msg)
    if minx < -180 or maxx > 360:
        msg = (
            f"{where} has longitudes outside -180..180 (bounds {minx:.4f}, {miny:.4f}, "
            f"{maxx:.4f}, {maxy:.4f}) although its CRS `{gdf.crs.to_string()}` is in degrees. "
            "Fix: declare the layer's real (projected) CRS."
        )
        raise CRSError(msg)


def local_metric_crs(gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> pyproj.CRS:
    """Return the UTM CRS of the zone holding the centre of ``gdf``.

    Examples
    --------
    >>> from shapely import Point
    >>> local_metric_crs(gpd.GeoSeries([Point(112.55, 37.85)], crs=4326)).to_epsg()
    32649
    """
    if gdf.crs is None:
        msg = "Cannot choose a metric CRS for data without a CRS. Fix: set the CRS first."
        raise CRSError(msg)
    crs = gdf.estimate_utm_crs()
    return pyproj.CRS.from_user_input(crs)


def to_metric(
    gdf: gpd.GeoDataFrame,
    crs: pyproj.CRS | str | int | None = None,
) -> gpd.GeoDataFrame:
    """Return ``gdf`` in ``crs``, or in its local UTM zone when ``crs`` is None.

    A projected input already in metres is returned unchanged when ``crs`` is None.
    """
    if crs is None:
        if gdf.crs is not None and gdf.crs.is_projected and _is_metres(gdf.crs):
            return gdf
        crs = local_metric_crs(gdf)
    return gdf.to_crs(crs)


def _is_metres(crs: pyproj.CRS) -> bool:
    units = {axis.unit_name for axis in crs.axis_info}
    return units <= {"metre", "meter"}


def require_metric(
    gdf: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    what: str = "input",
) -> None:
    """Raise :class:`CRSError` unless ``gdf`` is in a projected CRS measured in metres."""
    if gdf.crs is None or not gdf.crs.is_projected or not _is_metres(gdf.crs):
        name = gdf.crs.to_string() if gdf.crs is not None else "no CRS"
        msg = (
            f"`{what}` must be in a projected CRS in metres, but it is in {name}. "
            "Fix: reproject it with `gis.crs.to_metric(gdf)`."
        )
        raise CRSError(msg)


def require_same_crs(
    a: gpd.GeoDataFrame | gpd.GeoSeries,
    b: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    names: tuple[str, str] = ("left", "right"),
) -> None:
    """Raise :class:`CRSError` naming both CRSs when ``a`` and ``b`` differ."""
    if a.crs is None or b.crs is None or not pyproj.CRS(a.crs).equals(pyproj.CRS(b.crs)):
        ca = a.crs.to_string() if a.crs is not None else "no CRS"
        cb = b.crs.to_string() if b.crs is not None else "no CRS"
        msg = (
            f"`{names[0]}` is in {ca} but `{names[1]}` is in {cb}. "
            f"Fix: reproject one, for example `{names[1]}.to_crs({names[0]}.crs)`."
        )
        raise CRSError(msg)
