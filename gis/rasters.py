"""Rasters in: open and check a GeoTIFF, and area means of its pixel values over polygons.

Population counts (:mod:`gis.population`) and hazard intensities (flood depth per return period,
fire danger) are read here. :func:`zonal_means` gives, per polygon, the mean over the polygon's
whole area of one or more functions of the pixel values (a depth-damage curve, "deeper than
0.15 m"), each pixel counted by the exact share of it the polygon covers (exactextract). Parts of a
polygon off the raster, and nodata pixels, take the ``fill`` value (for a flood depth: 0, dry).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely

from .errors import CRSError, InputError, MissingDependencyError

__all__ = ["line_maxima", "open_raster", "require_raster_crs", "zonal_means"]

log = logging.getLogger(__name__)

PixelFunction = Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]]


def open_raster(raster_path: Path, *, what: str = "Raster", fix: str = "give a GeoTIFF") -> Any:
    """Open a raster with rasterio, or raise :class:`InputError` naming the file and the fix.

    Parameters
    ----------
    raster_path
        The file.
    what
        How the messages name it (``"Population raster"``, ``"Flood depth raster"``).
    fix
        What the user should give instead when it cannot be opened.
    """
    try:
        import rasterio
    except ImportError:
        raise MissingDependencyError("rasterio", purpose=f"read {what.lower()}s") from None
    if not raster_path.is_file():
        msg = f"{what} `{raster_path}` does not exist. Fix: check the path."
        raise InputError(msg)
    try:
        return rasterio.open(raster_path)
    except Exception as exc:  # rasterio raises RasterioIOError and friends
        msg = f"{what} `{raster_path}` cannot be opened ({exc}). Fix: {fix}."
        raise InputError(msg) from None


def require_raster_crs(src: Any, raster_path: Path, *, what: str = "Raster") -> pyproj.CRS:
    """The raster's CRS, or :class:`CRSError` saying how to set it."""
    if src.crs is None:
        msg = (
            f"{what} `{raster_path}` has no CRS. Fix: set it, for example "
            f"`gdal_edit.py -a_srs EPSG:4326 {raster_path.name}`."
        )
        raise CRSError(msg)
    return pyproj.CRS.from_user_input(src.crs.to_wkt())


def zonal_means(
    polygons: gpd.GeoDataFrame | gpd.GeoSeries,
    raster_path: str | Path,
    functions: Mapping[str, PixelFunction],
    *,
    fill: float = 0.0,
    what: str = "Raster",
) -> pd.DataFrame:
    """Area means over each polygon of functions of a raster's first band.

    Parameters
    ----------
    polygons
        Polygons with a CRS (reprojected to the raster's).
    raster_path
        A single-band raster with a CRS.
    functions
        Column name -> a vectorised function of the pixel values (float64 array in, same shape
        out), applied after nodata and NaN pixels take ``fill``.
    fill
        The value of nodata pixels and of the parts of a polygon off the raster.
    what
        How messages name the raster.

    Returns
    -------
    pandas.DataFrame
        One column per function on ``polygons``' index: sum over pixels of f(value) x covered
        share, divided by the polygon's area in pixels; off-raster parts count ``f(fill)``.

    Examples
    --------
    A 2 x 1 raster of 100 m pixels (depth 2 m, dry) and a polygon over both pixels:

    >>> import tempfile, pathlib, rasterio
    >>> from rasterio.transform import Affine
    >>> from shapely import box
    >>> tif = pathlib.Path(tempfile.mkdtemp()) / "depth.tif"
    >>> with rasterio.open(tif, "w", driver="GTiff", width=2, height=1, count=1, dtype="float32",
    ...                    crs="EPSG:32649", transform=Affine(100, 0, 0, 0, -100, 100), nodata=-1) as d:
    ...     d.write(np.array([[2.0, -1]], dtype="float32"), 1)
    >>> polys = gpd.GeoDataFrame(geometry=[box(0, 0, 200, 100), box(0, 0, 400, 100)], crs=32649)
    >>> zonal_means(polys, tif, {"depth": lambda v: v, "wet": lambda v: (v > 0.15) * 1.0}).to_dict("list")
    {'depth': [1.0, 0.5], 'wet': [0.5, 0.25]}
    """
    raster_path = Path(raster_path)
    if polygons.crs is None:
        msg = f"`polygons` have no CRS. Fix: set it with `gdf.set_crs(...)` before reading {what.lower()}s."
        raise CRSError(msg)
    names = list(functions)
    if len(polygons) == 0 or not names:
        return pd.DataFrame(index=polygons.index, columns=names, dtype=np.float64)
    try:
        from exactextract import exact_extract
    except ImportError:
        raise MissingDependencyError("exactextract", purpose=f"sum {what.lower()}s over polygons") from None
    from exactextract.raster import NumPyRasterSource

    with open_raster(raster_path, what=what) as src:
        crs = require_raster_crs(src, raster_path, what=what)
        band = src.read(1, masked=True).astype(np.float64).filled(np.nan)
        band[~np.isfinite(band)] = fill
        src_bounds = tuple(src.bounds)
        bounds = shapely.box(*src_bounds)
        if src.transform.b != 0 or src.transform.d != 0:
            msg = (
                f"{what} `{raster_path}` is rotated (its grid is not north-up). Fix: warp it, for "
                f"example `gdalwarp {raster_path.name} north_up.tif`."
            )
            raise InputError(msg)
        pixel_area = abs(src.transform.a * src.transform.e)
    values = np.stack([np.asarray(functions[n](band), dtype=np.float64) for n in names])
    outside = np.array([float(np.asarray(functions[n](np.array([fill])))[0]) for n in names])
    geoms = gpd.GeoSeries(polygons.geometry).to_crs(crs).reset_index(drop=True)
    area = shapely.area(geoms.to_numpy())
    inside = shapely.area(shapely.intersection(geoms.to_numpy(), bounds))
    # in-memory bands (exactextract reads a rasterio dataset window by window in Python, which is
    # slow for many polygons); one source per function, all on the raster's grid
    west, south, east, north = src_bounds
    sources = [
        NumPyRasterSource(v, west, south, east, north, name=f"f{i}", srs_wkt=crs.to_wkt())
        for i, v in enumerate(values)
    ]
    frame = exact_extract(sources, gpd.GeoDataFrame(geometry=geoms, crs=crs), "sum", output="pandas")
    columns = [f"f{i}_sum" for i in range(len(names))] if len(names) > 1 else ["sum"]  # exactextract's
    sums = frame[columns].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        off = outside[None, :] * (area - inside)[:, None]
        means = (np.nan_to_num(sums) * pixel_area + off) / area[:, None]
    means[~np.isfinite(means)] = 0.0
    return pd.DataFrame(means, index=polygons.index, columns=names)


def line_maxima(
    lines: gpd.GeoSeries | gpd.GeoDataFrame,
    raster_path: str | Path,
    *,
    fill: float = 0.0,
    what: str = "Raster",
) -> npt.NDArray[np.float64]:
    """The largest value of a raster's first band along each line (a road under a flood).

    Each line (reprojected to the raster's CRS) is sampled at its vertices and at points at most
    half a pixel apart between them, each point taking the value of the pixel it falls in; nodata,
    NaN and points off the raster take ``fill``. A pixel the line only clips by less than half a
    pixel may be missed: the depth of a flood changes little over one pixel.

    Parameters
    ----------
    lines
        Lines with a CRS.
    raster_path
        A single-band, north-up raster with a CRS.
    fill
        The value of nodata pixels, of points off the raster and of empty lines.
    what
        How messages name the raster.

    Returns
    -------
    numpy.ndarray
        One maximum per line, in ``lines``' order.

    Examples
    --------
    A 3 x 1 raster of 100 m pixels (dry, 0.5 m, 2 m) and lines over the first two and all three:

    >>> import tempfile, pathlib, rasterio
    >>> from rasterio.transform import Affine
    >>> from shapely import LineString
    >>> tif = pathlib.Path(tempfile.mkdtemp()) / "depth.tif"
    >>> with rasterio.open(tif, "w", driver="GTiff", width=3, height=1, count=1, dtype="float32",
    ...                    crs="EPSG:32649", transform=Affine(100, 0, 0, 0, -100, 100), nodata=-1) as d:
    ...     d.write(np.array([[-1, 0.5, 2.0]], dtype="float32"), 1)
    >>> roads = gpd.GeoSeries([LineString([(10, 50), (190, 50)]), LineString([(10, 50), (290, 60)])],
    ...                       crs=32649)
    >>> line_maxima(roads, tif).tolist()
    [0.5, 2.0]
    """
    raster_path = Path(raster_path)
    geoms = gpd.GeoSeries(lines.geometry if isinstance(lines, gpd.GeoDataFrame) else lines)
    if geoms.crs is None:
        msg = f"`lines` have no CRS. Fix: set it with `gdf.set_crs(...)` before reading {what.lower()}s."
        raise CRSError(msg)
    out = np.full(len(geoms), float(fill))
    if len(geoms) == 0:
        return out
    with open_raster(raster_path, what=what) as src:
        crs = require_raster_crs(src, raster_path, what=what)
        t = src.transform
        if t.b != 0 or t.d != 0:
            msg = (
                f"{what} `{raster_path}` is rotated (its grid is not north-up). Fix: warp it, for "
                f"example `gdalwarp {raster_path.name} north_up.tif`."
            )
            raise InputError(msg)
        band = src.read(1, masked=True).astype(np.float64).filled(np.nan)
    band[~np.isfinite(band)] = fill
    step = min(abs(t.a), abs(t.e)) / 2.0
    dense = shapely.segmentize(geoms.to_crs(crs).to_numpy(), step)
    xy, owner = shapely.get_coordinates(dense, return_index=True)
    if len(xy) == 0:
        return out
    col = np.floor((xy[:, 0] - t.c) / t.a).astype(np.int64)
    row = np.floor((xy[:, 1] - t.f) / t.e).astype(np.int64)
    inside = (row >= 0) & (row < band.shape[0]) & (col >= 0) & (col < band.shape[1])
    value = np.full(len(xy), float(fill))
    value[inside] = band[row[inside], col[inside]]
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])  # coordinates come line by line
    out[owner[starts]] = np.maximum.reduceat(value, starts)
    return out
