"""Area units to score: the communities, an H3 hexagon grid, or square cells.

A units spec is ``"communities"``, ``"h3:RES"`` (H3 resolution 0-15) or
``"grid:METRES"`` (square cells of that side); every unit is clipped to the
study area. Units come back in a metric CRS, indexed by a string ``unit_id``
(community id, H3 cell id, or ``g<row>_<col>``), with ``area_km2``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import h3  # a core dependency: imported here, never lazily inside a worker or request thread
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gis.crs import require_metric
from gis.errors import InputError

__all__ = ["MAX_UNITS", "UnitsSpec", "build_units", "parse_units", "study_area_of"]

log = logging.getLogger(__name__)

#: Refuse unit grids larger than this (memory); ask for a coarser resolution instead.
MAX_UNITS = 5_000_000
_H3_CELL_AREA_KM2 = {r: 4.357449416e6 / 7**r * 1.0 for r in range(16)}  # average, H3 docs


@dataclass(frozen=True)
class UnitsSpec:
    """A parsed ``--units`` spec.

    ``kind`` is ``communities``, ``h3`` (with ``resolution``) or ``grid`` (with ``size_m``).
    """

    kind: str
    resolution: int | None = None
    size_m: float | None = None

    def __str__(self) -> str:
        if self.kind == "h3":
            return f"h3:{self.resolution}"
        if self.kind == "grid":
            return f"grid:{self.size_m:g}"
        return self.kind


def parse_units(spec: str | UnitsSpec) -> UnitsSpec:
    """Parse ``communities``, ``h3:RES`` or ``grid:METRES``.

    Examples
    --------
    >>> parse_units("h3:9"), parse_units("grid:500").size_m
    (UnitsSpec(kind='h3', resolution=9, size_m=None), 500.0)
    >>> try:
    ...     parse_units("hex:9")
    ... except InputError as exc:
    ...     print(str(exc)[:38])
    `--units` is 'hex:9', not a units spec
    """
    if isinstance(spec, UnitsSpec):
        return spec
    text = str(spec).strip().lower()
    usage = "use `communities`, `h3:RES` (RES 0-15, e.g. h3:9) or `grid:METRES` (e.g. grid:500)"
    kind, _, arg = text.partition(":")
    if kind == "communities" and not arg:
        return UnitsSpec("communities")
    try:
        if kind == "h3":
            res = int(arg)
            if 0 <= res <= 15:
                return UnitsSpec("h3", resolution=res)
        elif kind == "grid":
            size = float(arg)
            if size > 0 and np.isfinite(size):
                return UnitsSpec("grid", size_m=size)
    except ValueError:
        pass
    msg = f"`--units` is {spec!r}, not a units spec. Fix: {usage}."
    raise InputError(msg)


def study_area_of(communities: gpd.GeoDataFrame, study_area: gpd.GeoDataFrame | None = None) -> BaseGeometry:
    """The study area: the union of the ``study_area`` layer, else the hull of the communities.

    Examples
    --------
    >>> from shapely import box
    >>> c = gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1), box(2, 0, 3, 1)], crs=32649)
    >>> study_area_of(c).area
    3.0
    """
    if study_area is not None and len(study_area):
        return shapely.union_all(study_area.to_crs(communities.crs).geometry.values)
    return shapely.convex_hull(shapely.union_all(communities.geometry.values))


def _clip(units: gpd.GeoDataFrame, area: BaseGeometry) -> gpd.GeoDataFrame:
    shapely.prepare(area)
    inside = shapely.contains(area, units.geometry.values)
    geoms = units.geometry.values.copy()
    edge = ~inside
    geoms[edge] = shapely.intersection(geoms[edge], area)
    out = units.set_geometry(gpd.GeoSeries(geoms, index=units.index, crs=units.crs))
    out = out[~out.geometry.is_empty & (out.geometry.area > 0)]
    out["area_km2"] = out.geometry.area / 1e6
    return out


def _grid(area: BaseGeometry, size_m: float, crs: object) -> gpd.GeoDataFrame:
    minx, miny, maxx, maxy = area.bounds
    nx, ny = int(np.ceil((maxx - minx) / size_m)), int(np.ceil((maxy - miny) / size_m))
    if nx * ny > MAX_UNITS:
        msg = f"`grid:{size_m:g}` makes {nx * ny:,} cells (limit {MAX_UNITS:,}). Fix: use larger cells."
        raise InputError(msg)
    grid_cols, grid_rows = np.meshgrid(np.arange(nx), np.arange(ny))
    cols, rows = grid_cols.ravel(), grid_rows.ravel()
    x0, y0 = minx + cols * size_m, miny + rows * size_m
    boxes = shapely.box(x0, y0, x0 + size_m, y0 + size_m)
    ids = pd.Index([f"g{r}_{c}" for r, c in zip(rows, cols, strict=True)], name="unit_id")
    cells = gpd.GeoDataFrame(geometry=boxes, index=ids, crs=crs)
    hit = shapely.STRtree(boxes).query(area, predicate="intersects")
    return cells.iloc[np.sort(hit)]


def _h3(area: BaseGeometry, resolution: int, crs: object) -> gpd.GeoDataFrame:
    expected = area.area / 1e6 / _H3_CELL_AREA_KM2[resolution]
    if expected > MAX_UNITS:
        msg = (
            f"`h3:{resolution}` makes about {expected:,.0f} cells over the study area "
            f"(limit {MAX_UNITS:,}). Fix: use a coarser resolution such as h3:{resolution - 1}."
        )
        raise InputError(msg)
    edge_m = h3.average_hexagon_edge_length(resolution, unit="m")
    padded = gpd.GeoSeries([area.buffer(2 * edge_m)], crs=crs).to_crs(4326).iloc[0]
    cells = sorted(h3.h3shape_to_cells(h3.geo_to_h3shape(padded), resolution))
    rings = [[(lng, lat) for lat, lng in h3.cell_to_boundary(c)] for c in cells]
    polys = shapely.polygons(rings) if rings else np.array([], dtype=object)
    ids = pd.Index(cells, name="unit_id")
    hexes = gpd.GeoDataFrame(geometry=polys, index=ids, crs=4326).to_crs(crs)
    hit = shapely.STRtree(hexes.geometry.values).query(area, predicate="intersects")
    return hexes.iloc[np.sort(hit)]


def build_units(
    communities: gpd.GeoDataFrame,
    *,
    units: str | UnitsSpec = "communities",
    study_area: gpd.GeoDataFrame | BaseGeometry | None = None,
) -> gpd.GeoDataFrame:
    """Area units clipped to the study area, in the communities' metric CRS.

    Parameters
    ----------
    communities
        The communities layer (metric CRS), indexed by id.
    units
        ``"communities"``, ``"h3:RES"`` or ``"grid:METRES"`` (see :func:`parse_units`).
    study_area
        The area to score (a layer or a geometry); default the hull of the communities.

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by ``unit_id`` with ``area_km2`` (and ``name`` for communities).

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> cells = build_units(city["communities"], units="grid:1000", study_area=city["study_area"])
    >>> len(cells), round(cells["area_km2"].sum())
    (225, 225)
    """
    require_metric(communities, what="communities")
    spec = parse_units(units)
    area = study_area if isinstance(study_area, BaseGeometry) else study_area_of(communities, study_area)
    area = shapely.make_valid(area)
    if spec.kind == "communities":
        out = communities[[c for c in ("name",) if c in communities.columns] + ["geometry"]].copy()
        out.index = pd.Index(communities.index.astype(str), name="unit_id")
    elif spec.kind == "grid":
        assert spec.size_m is not None
        out = _grid(area, spec.size_m, communities.crs)
    else:
        assert spec.resolution is not None
        out = _h3(area, spec.resolution, communities.crs)
    out = _clip(out, area)
    if out.empty:
        msg = f"No `{spec}` unit overlaps the study area. Fix: check the study area and the CRS."
        raise InputError(msg)
    log.info("units %s: %d units, %.1f km2", spec, len(out), out["area_km2"].sum())
    return out
