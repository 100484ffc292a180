"""Residents per polygon from a population raster (counts per pixel: WorldPop, GHS-POP).

Each pixel's count is split over the polygons by the exact share of the pixel each one covers
(exactextract), so a polygon covering a quarter of a pixel gets a quarter of its people and
the total over polygons that tile the raster equals the raster's total. Nodata pixels count
for nothing. Polygons are reprojected to the raster's CRS first.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .errors import CRSError, MissingDependencyError
from .rasters import open_raster, require_raster_crs

__all__ = ["raster_info", "raster_population", "raster_total"]

log = logging.getLogger(__name__)


_WHAT = "Population raster"
_FIX = "give a GeoTIFF of people per pixel (WorldPop, GHS-POP)"


def _open(raster_path: Path) -> Any:
    return open_raster(raster_path, what=_WHAT, fix=_FIX)


def raster_total(raster_path: str | Path) -> float:
    """The sum of the raster's valid pixels (nodata and NaN excluded).

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, rasterio
    >>> from rasterio.transform import Affine
    >>> tif = pathlib.Path(tempfile.mkdtemp()) / "pop.tif"
    >>> with rasterio.open(tif, "w", driver="GTiff", width=2, height=1, count=1, dtype="float32",
    ...                    crs="EPSG:32649", transform=Affine(100, 0, 0, 0, -100, 100), nodata=-1) as d:
    ...     d.write(np.array([[10, -1]], dtype="float32"), 1)
    >>> raster_total(tif)
    10.0
    """
    with _open(Path(raster_path)) as src:
        data = src.read(1, masked=True).astype(np.float64)
        return float(np.nansum(data.filled(np.nan)))


def raster_population(polygons: gpd.GeoDataFrame | gpd.GeoSeries, raster_path: str | Path) -> pd.Series:
    """Sum a population raster into polygons with exact pixel fractions.

    Parameters
    ----------
    polygons
        Polygons with a CRS (any CRS: they are reprojected to the raster's).
    raster_path
        A single-band raster of people per pixel (GeoTIFF or anything GDAL reads) with a CRS.

    Returns
    -------
    pandas.Series
        ``population`` (float) on ``polygons``' index: the sum over pixels of
        count x covered share of the pixel. Nodata pixels and polygons off the raster give 0.

    Raises
    ------
    CRSError
        When the polygons or the raster have no CRS.
    InputError
        When the raster cannot be read.

    Examples
    --------
    A 2 x 2 raster of 100 m pixels (10, 20 / 30, nodata) and a polygon covering the left half:

    >>> import tempfile, pathlib, numpy as np, rasterio
    >>> from rasterio.transform import Affine
    >>> from shapely import box
    >>> tif = pathlib.Path(tempfile.mkdtemp()) / "pop.tif"
    >>> with rasterio.open(tif, "w", driver="GTiff", width=2, height=2, count=1, dtype="float32",
    ...                    crs="EPSG:32649", transform=Affine(100, 0, 0, 0, -100, 200), nodata=-1) as d:
    ...     d.write(np.array([[10, 20], [30, -1]], dtype="float32"), 1)
    >>> polys = gpd.GeoDataFrame(geometry=[box(0, 0, 50, 200), box(0, 0, 200, 200)], crs=32649)
    >>> raster_population(polys, tif).round(1).tolist()
    [20.0, 60.0]
    """
    raster_path = Path(raster_path)
    if polygons.crs is None:
        msg = "`polygons` have no CRS. Fix: set it with `gdf.set_crs(...)` before summing a raster."
        raise CRSError(msg)
    if len(polygons) == 0:
        return pd.Series([], index=polygons.index, dtype=np.float64, name="population")
    try:
        from exactextract import exact_extract
    except ImportError:
        raise MissingDependencyError("exactextract", purpose="sum population rasters into polygons") from None
    with _open(raster_path) as src:
        crs = require_raster_crs(src, raster_path, what=_WHAT)
        geoms = gpd.GeoDataFrame(geometry=gpd.GeoSeries(polygons.geometry).to_crs(crs).to_numpy(), crs=crs)
        geoms = geoms.reset_index(drop=True)
        frame = exact_extract(src, geoms, "sum", output="pandas")
    values = pd.to_numeric(frame["sum"], errors="coerce").fillna(0.0).to_numpy(dtype=np.float64)
    out = pd.Series(values, index=polygons.index, name="population")
    log.info("`%s`: %.0f residents in %d polygons", raster_path, out.sum(), len(out))
    return out


def raster_info(raster_path: str | Path) -> dict[str, Any]:
    """Check that a population raster opens and has a CRS; return its ``crs``, ``bounds`` and size.

    Raises
    ------
    InputError
        When the file is missing or unreadable, or has no CRS (a :class:`CRSError`).
    """
    raster_path = Path(raster_path)
    with _open(raster_path) as src:
        return {
            "crs": require_raster_crs(src, raster_path, what=_WHAT),
            "bounds": tuple(src.bounds),
            "shape": (src.height, src.width),
        }
