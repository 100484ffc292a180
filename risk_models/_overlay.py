"""Polygon overlay helpers shared by exposure, GB 18218 and vulnerability (private)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely

__all__ = ["intersection_areas"]


def intersection_areas(
    source: gpd.GeoSeries, target: gpd.GeoSeries
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """Positions ``(i_source, i_target)`` of every overlapping pair and its area in CRS units.

    Both series must share one projected CRS. Pairs that only touch are dropped.
    """
    tgt_idx, src_idx = source.sindex.query(target.values, predicate="intersects")
    if len(src_idx) == 0:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty, np.zeros(0)
    a = np.asarray(source.values)[src_idx]
    b = np.asarray(target.values)[tgt_idx]
    area = shapely.area(shapely.intersection(a, b))
    keep = area > 0
    return src_idx[keep].astype(np.intp), tgt_idx[keep].astype(np.intp), area[keep].astype(float)
