"""Plausibility checks of a loaded scenario: the extent of the roads, swapped coordinates, population.

They run after the per-layer validation (:mod:`gis.validate`): a layer whose coordinates are in
range but land far from the road network with latitude and longitude the other way round is a
:class:`~gis.errors.Problem`; implausible populations (one flat value for every community,
absurd densities) become notes that every output repeats. Thresholds:
``gis/data/plausibility.toml``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from .errors import Problem
from .tables import load_table

__all__ = ["osm_extent", "population_notes", "roads_extent", "swapped_problems"]

log = logging.getLogger(__name__)

#: Degrees per km of latitude, near enough for a tolerance.
_DEG_PER_KM = 1 / 111.0


def osm_extent(path: Path) -> shapely.Polygon | None:
    """The bounding box (EPSG:4326) of an OSM file: its header's, else that of its nodes."""
    import osmium

    try:
        reader = osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING)
        box = reader.header().box()
        reader.close()
        if box.valid():
            return shapely.box(box.bottom_left.lon, box.bottom_left.lat, box.top_right.lon, box.top_right.lat)
        lons, lats = [], []
        for node in osmium.FileProcessor(str(path), osmium.osm.NODE):
            if isinstance(node, osmium.osm.Node) and node.location.valid():
                lons.append(node.location.lon)
                lats.append(node.location.lat)
    except RuntimeError:  # unreadable: the network stage names the problem
        return None
    if not lons:
        return None
    return shapely.box(min(lons), min(lats), max(lons), max(lats))


def roads_extent(layers: Mapping[str, gpd.GeoDataFrame], osm_path: Path | None) -> shapely.Polygon | None:
    """The road network's bounding box in EPSG:4326, from the roads layer or the OSM file."""
    if "roads" in layers and len(layers["roads"]) and layers["roads"].crs is not None:
        return shapely.box(*layers["roads"].geometry.to_crs(4326).total_bounds)
    if osm_path is not None and osm_path.exists():
        return osm_extent(osm_path)
    return None


def swapped_problems(
    layers: Mapping[str, gpd.GeoDataFrame], files: Mapping[str, str], extent: shapely.Polygon | None
) -> list[Problem]:
    """A problem for each longitude/latitude layer that misses the roads but would hit them swapped."""
    if extent is None:
        return []
    tol = float(load_table("plausibility")["extent"]["tolerance_km"]) * _DEG_PER_KM
    near = extent.buffer(tol)
    problems = []
    for name, gdf in layers.items():
        if name == "roads" or gdf.crs is None or not gdf.crs.is_geographic or not len(gdf):
            continue
        geoms = gdf.geometry[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
        if not len(geoms):
            continue
        x0, y0, x1, y1 = geoms.total_bounds
        if shapely.box(x0, y0, x1, y1).intersects(near):
            continue
        if shapely.box(y0, x0, y1, x1).intersects(near):
            r = extent.bounds
            problems.append(
                Problem(
                    name,
                    f"the layer (lon {x0:.3f}..{x1:.3f}, lat {y0:.3f}..{y1:.3f}) lies far from the road "
                    f"network (lon {r[0]:.3f}..{r[2]:.3f}, lat {r[1]:.3f}..{r[3]:.3f}) but would lie on "
                    "it with latitude and longitude swapped",
                    "swap the coordinate columns (x = longitude, y = latitude), or name them with "
                    '`x = "..."` and `y = "..."`',
                    file=files.get(name),
                )
            )
    return problems


def population_notes(communities: gpd.GeoDataFrame) -> list[str]:
    """Notes on populations that look like a flat default, and on implausible densities.

    ``communities`` is in a metric CRS with a numeric ``population``.
    """
    if "population" not in communities or len(communities) < 2:
        return []
    cfg = load_table("plausibility")["population"]
    notes = []
    pop = communities["population"].astype(float)
    if pop.nunique() == 1 and pop.iloc[0] > 0:
        notes.append(
            f"FLAT POPULATION: every one of the {len(pop)} communities has population "
            f"{pop.iloc[0]:,.0f}, which looks like a constant default, not a count; exposure, demand "
            "and relocation figures then follow polygon size and number, not people. Fix: give real "
            "populations (a census table, a population raster, or `riskplan init`'s estimate)."
        )
    area_km2 = communities.geometry.area.to_numpy() / 1e6
    with np.errstate(divide="ignore", invalid="ignore"):
        density = np.where(area_km2 > 0, pop.to_numpy() / area_km2, np.inf)
    dense = density > float(cfg["max_density_per_km2"])
    if dense.any():
        ids = list(communities.index[dense][:10])
        tiny = int((area_km2[dense] < float(cfg["tiny_km2"])).sum())
        notes.append(
            f"IMPLAUSIBLE DENSITY: {int(dense.sum())} communities have more than "
            f"{float(cfg['max_density_per_km2']):,.0f} people per km2 ({tiny} of them smaller than "
            f"{float(cfg['tiny_km2']) * 1e6:,.0f} m2), e.g. {ids}: their exposure dominates the risk map. "
            "Fix: check their population and polygons (plausibility.toml)."
        )
    return notes
