"""Study area and barriers of a scenario built from OSM.

The study area is the ``--boundary`` polygon, else the convex hull of the drivable roads.
Barriers (district boundaries of GB 51080-2015: stations' districts should not straddle
expressways, trunk railways or large rivers) are rivers and canals (lines, and riverbank /
river water polygons), main-line railways (``railway=rail`` without ``service=*``: yards,
sidings and spurs left out) and motorways.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from ..errors import InputError
from ..io import LayerSource, read_layer

__all__ = ["EXPRESSWAY_CLASSES", "RIVER_WATER", "barriers", "polygons_only", "study_area"]

log = logging.getLogger(__name__)

#: ``highway`` classes drawn as expressway barriers.
EXPRESSWAY_CLASSES: tuple[str, ...] = ("motorway",)
#: ``water=*`` values of ``natural=water`` polygons that are rivers (lakes and ponds are not barriers).
RIVER_WATER: tuple[str, ...] = ("river", "canal", "oxbow", "stream")


def polygons_only(geoms: gpd.GeoSeries) -> gpd.GeoSeries:
    """Keep the polygonal parts of each geometry (empty where none), as Polygon or MultiPolygon."""

    def keep(g: shapely.Geometry | None) -> shapely.Geometry:
        if g is None or g.is_empty:
            return shapely.Polygon()
        if g.geom_type in ("Polygon", "MultiPolygon"):
            return g
        parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon") and p.area > 0]
        return shapely.union_all(parts) if parts else shapely.Polygon()

    return gpd.GeoSeries([keep(g) for g in geoms], index=geoms.index, crs=geoms.crs)


def study_area(
    roads_m: gpd.GeoDataFrame,
    *,
    boundary: str | Path | None,
    osm_path: Path,
) -> tuple[gpd.GeoDataFrame, str]:
    """The study area (one polygon, in the roads' metric CRS) and a sentence saying what it is.

    Raises
    ------
    InputError
        When the boundary file has no polygon or does not overlap the drivable roads.

    Examples
    --------
    >>> from pathlib import Path
    >>> from gis.extract.hazards import hazard_rules
    >>> from gis.extract.reading import drivable_roads, read_extract
    >>> osm = Path("tests/fixtures/tiny_city.osm.xml")
    >>> roads = drivable_roads(read_extract(osm, hazard_rules())["roads"], osm).to_crs(32649)
    >>> area, note = study_area(roads, boundary=None, osm_path=osm)
    >>> round(float(area.area.iloc[0]) / 1e6, 2), note.startswith("Study area: the convex hull")
    (0.68, True)
    """
    hull = shapely.convex_hull(shapely.multipoints(shapely.get_coordinates(roads_m.geometry.to_numpy())))
    if boundary is None:
        area = hull.buffer(0) if hull.geom_type == "Polygon" else hull.buffer(50.0)
        note = (
            f"Study area: the convex hull of the drivable roads of {osm_path.name} "
            f"({area.area / 1e6:,.1f} km2; no `--boundary` given)."
        )
        return gpd.GeoDataFrame({"name": ["study area"]}, geometry=[area], crs=roads_m.crs), note
    path = Path(boundary)
    gdf = read_layer(LayerSource("study_area", path))
    if gdf.crs is None:
        msg = (
            f"`--boundary` `{path}` has no CRS. Fix: re-export the file with its CRS (for example EPSG:4326)."
        )
        raise InputError(msg)
    polys = polygons_only(gdf.geometry.to_crs(roads_m.crs))
    polys = polys[~polys.is_empty]
    if polys.empty:
        msg = f"`--boundary` `{path}` holds no polygon. Fix: give a polygon layer (the city's boundary)."
        raise InputError(msg)
    area = shapely.make_valid(shapely.union_all(polys.to_numpy()))
    if not area.intersects(hull):
        b = gpd.GeoSeries([area], crs=roads_m.crs).to_crs(4326).total_bounds.round(4).tolist()
        r = gpd.GeoSeries([hull], crs=roads_m.crs).to_crs(4326).total_bounds.round(4).tolist()
        msg = (
            f"`--boundary` `{path}` (lon/lat bounds {b}) does not overlap the roads of "
            f"`{osm_path}` (bounds {r}). Fix: give the boundary of the area the extract covers, "
            "or check the boundary's CRS (latitude and longitude swapped?)."
        )
        raise InputError(msg)
    share = area.intersection(hull).area / area.area
    note = f"Study area: the polygon(s) of `--boundary` {path.name} ({area.area / 1e6:,.1f} km2)."
    if share < 0.9:
        note += f" Only {share:.0%} of it lies within the extract's roads: coverage is understated outside."
    return gpd.GeoDataFrame({"name": [path.stem]}, geometry=[area], crs=roads_m.crs), note


def barriers(
    barrier_lines: gpd.GeoDataFrame,
    water: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    *,
    crs: pyproj.CRS,
    area: shapely.Geometry,
) -> gpd.GeoDataFrame:
    """Rivers, railways and expressways intersecting the study area, with ``kind`` and ``name``.

    Examples
    --------
    >>> from shapely import LineString, box
    >>> lines = gpd.GeoDataFrame(
    ...     {"osm_id": [1, 2], "osm_type": "way", "name": ["Fen", None], "waterway": ["river", None],
    ...      "railway": [None, "rail"], "service": [None, None]},
    ...     geometry=[LineString([(112.55, 37.85), (112.56, 37.85)]),
    ...               LineString([(112.55, 37.851), (112.56, 37.851)])], crs=4326)
    >>> water = lines.iloc[:0].assign(water=[])
    >>> roads = lines.iloc[:0].assign(highway=[])
    >>> b = barriers(lines, water, roads, crs=pyproj.CRS(32649), area=box(6e5, 4.1e6, 7e5, 4.3e6))
    >>> b["kind"].tolist()
    ['river', 'railway']
    """
    parts = []
    waterway = barrier_lines["waterway"].isin(["river", "canal"])
    rail = barrier_lines["railway"].eq("rail") & barrier_lines["service"].isna()
    river_poly = water["waterway"].eq("riverbank") | water["water"].isin(RIVER_WATER)
    river_poly &= water.geom_type.isin(["Polygon", "MultiPolygon"])
    motorway = roads["highway"].isin(EXPRESSWAY_CLASSES)
    for frame, mask, kind in (
        (barrier_lines, waterway, "river"),
        (water, river_poly, "river"),
        (barrier_lines, rail, "railway"),
        (roads, motorway, "expressway"),
    ):
        chosen = frame.loc[np.asarray(mask), ["osm_id", "osm_type", "name", "geometry"]]
        if len(chosen):
            parts.append(chosen.assign(kind=kind))
    if not parts:
        return gpd.GeoDataFrame({"kind": [], "name": []}, geometry=[], crs=crs)
    out = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=parts[0].crs).to_crs(
        crs
    )
    out = out[out.intersects(area)].reset_index(drop=True)
    log.info("barriers: %s", out["kind"].value_counts().to_dict())
    return out[["kind", "name", "osm_id", "osm_type", "geometry"]]
