"""Community polygons from OSM, from the finest source an extract has.

In order: ``landuse=residential`` polygons; else neighbourhood / quarter / suburb polygons
(``place=*``, the finest type present); else administrative boundaries (``--admin-level``, or the
finest level with two areas or more); else square cells over the built-up area (residential,
commercial, industrial and retail land and buildings, or the road network's buffer where those
are barely mapped). A source is used when it has at least :data:`MIN_POLYGONS` polygons or they
cover at least :data:`MIN_AREA_SHARE` of the study area: one residential polygon in a whole city
extract does not stand for its residents. Every polygon is clipped to the study area.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely

from .._osm_features import osm_ids
from .area import polygons_only
from .reading import PLACE_TYPES

__all__ = ["MIN_AREA_SHARE", "MIN_POLYGONS", "Communities", "osm_communities"]

log = logging.getLogger(__name__)

#: Share of the study area a source's polygons must cover to be used (or MIN_POLYGONS of them).
MIN_AREA_SHARE = 0.05
#: Number of polygons that makes a source usable whatever the share of the area they cover.
MIN_POLYGONS = 3
#: Buildings are buffered by this much to draw the built-up area.
BUILDING_BUFFER_M = 25.0
#: Roads are buffered by this much where buildings and land use are barely mapped.
ROAD_BUFFER_M = 100.0
#: Built-up land and buildings must cover this share of the road buffer, else the buffer is used.
MIN_BUILT_UP_SHARE = 0.25
#: Cells smaller than this share of a full cell after clipping are dropped.
MIN_CELL_SHARE = 0.01
#: Pixel of the raster the built-up area is drawn on (coarser when the extract is very large).
PIXEL_M = 25.0
#: Largest number of pixels of that raster.
MAX_PIXELS = 25_000_000


@dataclass(frozen=True)
class Communities:
    """Community polygons (``id``, ``name``, ``ref``, ``community_source``) and how they were made."""

    polygons: gpd.GeoDataFrame
    method: str
    note: str
    density_kind: str  # "residential" or "built_up": the density used where no building is mapped


def _clip(gdf: gpd.GeoDataFrame, area: shapely.Geometry, crs: pyproj.CRS) -> gpd.GeoDataFrame:
    out = gdf.to_crs(crs)
    out = out[out.geom_type.isin(["Polygon", "MultiPolygon"]) & out.intersects(area)].copy()
    if out.empty:
        return out
    out["geometry"] = polygons_only(out.geometry.intersection(area))
    return out[~out.geometry.is_empty & (out.area > 1.0)]


def _named(gdf: gpd.GeoDataFrame, kind: str, source: str) -> gpd.GeoDataFrame:
    ids = osm_ids(gdf)
    names = [
        n if isinstance(n, str) and n.strip() else f"{kind} {i}"
        for n, i in zip(gdf["name"], ids, strict=True)
    ]
    return gpd.GeoDataFrame(
        {"id": ids, "name": names, "ref": gdf["ref"].to_numpy(), "community_source": source},
        geometry=gdf.geometry.to_numpy(),
        crs=gdf.crs,
    )


def osm_communities(
    read: Mapping[str, gpd.GeoDataFrame],
    roads_m: gpd.GeoDataFrame,
    area: shapely.Geometry,
    *,
    admin_level: int | None = None,
    cell_m: float = 500.0,
) -> Communities:
    """Community polygons in the roads' metric CRS, from the first source that covers the area.

    ``read`` holds the OSM selections ``landuse``, ``places``, ``admin`` and ``buildings`` of
    :func:`gis.extract.reading.read_extract`; ``roads_m`` the drivable roads in a metric CRS.

    Examples
    --------
    >>> from pathlib import Path
    >>> from gis.extract.hazards import hazard_rules
    >>> from gis.extract.reading import drivable_roads, read_extract
    >>> osm = Path("tests/fixtures/tiny_city.osm.xml")
    >>> read = read_extract(osm, hazard_rules())
    >>> roads = drivable_roads(read["roads"], osm).to_crs(32649)
    >>> hull = roads.union_all().convex_hull
    >>> c = osm_communities(read, roads, hull)
    >>> c.method, len(c.polygons), c.polygons["id"].iloc[0]
    ('cells', 5, 'cell_000_000')
    """
    crs = roads_m.crs
    landuse, places, admin = read["landuse"], read["places"], read["admin"]

    def enough(polys: gpd.GeoDataFrame, minimum: int = 1) -> bool:
        n = len(polys)
        return n >= max(minimum, MIN_POLYGONS) or (
            n >= minimum and polys.area.sum() >= MIN_AREA_SHARE * area.area
        )

    residential = _clip(landuse[landuse["landuse"].eq("residential")], area, crs)
    if enough(residential):
        note = f"Communities: the {len(residential)} `landuse=residential` polygons of the extract."
        return Communities(
            _named(residential, "residential area", "landuse=residential"),
            "landuse=residential",
            note,
            "residential",
        )
    skipped = (
        f" ({len(residential)} `landuse=residential` polygons cover only "
        f"{residential.area.sum() / area.area:.1%} of the study area)"
        if len(residential)
        else ""
    )
    for place in PLACE_TYPES:
        chosen = _clip(places[places["place"].eq(place)], area, crs)
        if enough(chosen, 2):
            note = f"Communities: the {len(chosen)} `place={place}` polygons of the extract{skipped}."
            return Communities(_named(chosen, place, f"place={place}"), f"place={place}", note, "built_up")
    levels = pd.to_numeric(admin["admin_level"], errors="coerce")
    wanted = (
        [admin_level]
        if admin_level is not None
        else sorted(levels.dropna().unique().astype(int), reverse=True)
    )
    for level in wanted:
        chosen = _clip(admin[levels.eq(level).to_numpy()], area, crs)
        if enough(chosen, 1 if admin_level is not None else 2):
            note = f"Communities: the {len(chosen)} administrative areas at admin_level {level}{skipped}."
            source = f"admin_level={level}"
            return Communities(_named(chosen, f"admin area {level}", source), source, note, "built_up")
    if admin_level is not None:
        skipped += f"; no administrative area at `--admin-level` {admin_level}"
    cells, how = _cells(landuse, read["buildings"], roads_m, area, crs=crs, cell_m=cell_m)
    note = f"Communities: {len(cells)} cells of {cell_m:.0f} m over the built-up area ({how}){skipped}."
    return Communities(cells, "cells", note, "built_up")


def _cells(
    landuse: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    roads_m: gpd.GeoDataFrame,
    area: shapely.Geometry,
    *,
    crs: pyproj.CRS,
    cell_m: float,
) -> tuple[gpd.GeoDataFrame, str]:
    """Square cells clipped to the built-up area, drawn on a raster (no union of many polygons).

    The built-up area is rasterised at :data:`PIXEL_M` (coarser for very large extracts):
    land-use polygons, building vertices dilated by :data:`BUILDING_BUFFER_M` and, where those
    cover less than :data:`MIN_BUILT_UP_SHARE` of the road buffer, road vertices (every pixel
    along the line) dilated by :data:`ROAD_BUFFER_M`. Each built pixel is labelled with its cell;
    the labelled pixels are turned back into polygons, one per cell.
    """
    from rasterio import features
    from rasterio.transform import Affine
    from scipy import ndimage

    x0, y0, x1, y1 = area.bounds
    pixel = max(PIXEL_M, float(np.sqrt((x1 - x0) * (y1 - y0) / MAX_PIXELS)))
    ppc = max(1, round(cell_m / pixel))  # pixels per cell side
    pixel = cell_m / ppc
    width, height = int(np.ceil((x1 - x0) / cell_m)) * ppc, int(np.ceil((y1 - y0) / cell_m)) * ppc
    transform = Affine(pixel, 0.0, x0, 0.0, -pixel, y0 + height * pixel)

    def burn(xy: npt.NDArray[np.float64], radius_m: float) -> npt.NDArray[np.bool_]:
        out = np.zeros((height, width), dtype=bool)
        col = ((xy[:, 0] - x0) / pixel).astype(np.int64)
        row = ((y0 + height * pixel - xy[:, 1]) / pixel).astype(np.int64)
        ok = (col >= 0) & (col < width) & (row >= 0) & (row < height)
        out[row[ok], col[ok]] = True
        steps = round(radius_m / pixel)
        return ndimage.binary_dilation(out, iterations=steps) if steps and out.any() else out

    land = _clip(landuse, area, crs).geometry.to_numpy()
    built = np.zeros((height, width), dtype=bool)
    if len(land):
        built |= features.rasterize(
            ((g, 1) for g in land), out_shape=built.shape, transform=transform
        ).astype(bool)
    blds = buildings.to_crs(crs) if len(buildings) else buildings
    if len(blds):
        built |= burn(shapely.get_coordinates(blds.geometry.to_numpy()), BUILDING_BUFFER_M)
    lines = shapely.segmentize(roads_m.geometry.to_numpy(), pixel / 2)
    road = burn(shapely.get_coordinates(lines), ROAD_BUFFER_M)
    if built.sum() < MIN_BUILT_UP_SHARE * road.sum():
        how = f"roads buffered by {ROAD_BUFFER_M:.0f} m, with land use and buildings where mapped"
        built |= road
    else:
        how = "residential, commercial, industrial and retail land and buildings"
    built &= features.rasterize([(area, 1)], out_shape=built.shape, transform=transform).astype(bool)
    n_cols = width // ppc
    rows, cols = np.indices(built.shape)
    labels = ((rows // ppc) * n_cols + cols // ppc + 1).astype(np.int32)
    labels[~built] = 0
    pieces: dict[int, list[shapely.Geometry]] = {}
    for geom, value in features.shapes(labels, mask=built, transform=transform):
        pieces.setdefault(int(value), []).append(shapely.geometry.shape(geom))
    keys = sorted(pieces)
    geoms = [shapely.union_all(pieces[k]) if len(pieces[k]) > 1 else pieces[k][0] for k in keys]
    cell_rows = np.array([(height // ppc - 1) - (k - 1) // n_cols for k in keys], dtype=np.int64)
    cell_cols = np.array([(k - 1) % n_cols for k in keys], dtype=np.int64)
    keep = shapely.area(np.array(geoms, dtype=object)) >= MIN_CELL_SHARE * cell_m * cell_m if geoms else []
    r, c = cell_rows[keep], cell_cols[keep]
    cells = gpd.GeoDataFrame(
        {
            "id": [f"cell_{i:03d}_{j:03d}" for i, j in zip(r, c, strict=True)],
            "name": [f"cell {i}-{j}" for i, j in zip(r, c, strict=True)],
            "ref": None,
            "community_source": "cells",
        },
        geometry=np.array(geoms, dtype=object)[keep] if geoms else [],
        crs=crs,
    )
    log.info("communities: %d cells of %.0f m (%s)", len(cells), cell_m, how)
    return cells.sort_values("id").reset_index(drop=True), how
