"""Read OpenStreetMap files offline: road ways for the graph, tagged features for layers.

Both readers use pyosmium, which reads OSM XML (``.osm``, ``.osm.bz2``, ``.osm.gz``) and PBF
(``.pbf``, ``.osm.pbf``) files, streaming, with node locations cached in memory. Results are
GeoDataFrames in EPSG:4326.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import osmium
import shapely
from osmium.osm import Area, Node, Way

from ._errors import InputError

__all__ = ["OSM_SUFFIXES", "is_osm_file", "read_osm_features", "read_osm_ways"]

log = logging.getLogger(__name__)

#: File name endings read by pyosmium (lower case).
OSM_SUFFIXES: tuple[str, ...] = (".osm", ".osm.xml", ".osm.bz2", ".osm.gz", ".osm.pbf", ".pbf")

#: Way tags copied into the columns of :func:`read_osm_ways`.
WAY_COLUMNS: tuple[str, ...] = ("highway", "oneway", "maxspeed", "name", "junction", "area")

_ORDER = {"node": 0, "way": 1, "relation": 2}
TagSpec = Mapping[str, "str | Sequence[str] | bool"]


def is_osm_file(path: str | Path) -> bool:
    """Return True when ``path`` has an OSM XML or PBF file name ending.

    Examples
    --------
    >>> is_osm_file("city.osm.pbf"), is_osm_file("roads.gpkg")
    (True, False)
    """
    name = Path(path).name.lower()
    return name.endswith(OSM_SUFFIXES)


def _check_file(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        msg = (
            f"OSM file `{path}` does not exist. Fix: check the path, or download an extract "
            "(for example from https://download.geofabrik.de) and point to it."
        )
        raise InputError(msg)
    if not is_osm_file(path):
        msg = (
            f"`{path}` is not an OSM file: expected one of {', '.join(OSM_SUFFIXES)}. "
            "Fix: rename it if it is OSM XML or PBF, or read it as a vector layer instead."
        )
        raise InputError(msg)
    return path


def _corrupt(path: Path, exc: Exception) -> InputError:
    msg = (
        f"OSM file `{path}` could not be read ({exc}). It looks truncated or corrupt. "
        "Fix: download the extract again, or check it with `osmium fileinfo -e`."
    )
    return InputError(msg)


def read_osm_ways(
    path: str | Path,
    *,
    keys: Sequence[str] = ("highway",),
) -> gpd.GeoDataFrame:
    """Read the ways that carry any of ``keys`` as lines, with their node ids.

    Vertices whose node is missing from the file (ways cut at the edge of an extract) are
    dropped and the way is split there, so every vertex of a line has a location.

    Parameters
    ----------
    path
        OSM XML or PBF file.
    keys
        Tag keys selecting the ways; a way is read when it has any of them.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per way (or per part of a way cut by missing nodes), in EPSG:4326, with columns
        ``osm_id`` (int), ``highway``, ``oneway``, ``maxspeed``, ``name``, ``junction``,
        ``area`` (tag values or None), ``node_ids`` (an int64 array, one OSM node id per
        vertex, so ways join where they share a node) and ``geometry``.

    Raises
    ------
    InputError
        When the file is missing, not an OSM file, or corrupt.

    Examples
    --------
    >>> ways = read_osm_ways("tests/fixtures/tiny_city.osm.xml")
    >>> ways.loc[ways.osm_id == 101, ["highway", "oneway"]].to_numpy().tolist()
    [['tertiary', 'yes']]
    >>> ways.node_ids.iloc[0].dtype
    dtype('int64')
    """
    path = _check_file(path)
    acc = _Ways()
    n_cut = 0
    fp = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.KeyFilter(*keys))
    )
    try:
        for way in fp:
            if not isinstance(way, Way):
                continue
            tags = way.tags
            values = [tags.get(c) for c in WAY_COLUMNS]
            run: list[int] = []
            for ref in way.nodes:
                loc = ref.location
                if loc.valid():
                    run.append(ref.ref)
                    acc.lons.append(loc.lon)
                    acc.lats.append(loc.lat)
                    continue
                n_cut += 1
                acc.close(run, way.id, values)
                run = []
            acc.close(run, way.id, values)
    except RuntimeError as exc:
        raise _corrupt(path, exc) from exc
    if n_cut:
        log.info("`%s`: %d way nodes are missing from the file; ways were cut there", path, n_cut)
    gdf = acc.frame()
    log.debug("`%s`: read %d ways", path, len(gdf))
    return gdf


@dataclass
class _Ways:
    """Accumulates way runs (located vertices) while a file is read."""

    columns: dict[str, list[Any]] = field(default_factory=lambda: {c: [] for c in ("osm_id", *WAY_COLUMNS)})
    node_ids: list[list[int]] = field(default_factory=list)
    lons: list[float] = field(default_factory=list)
    lats: list[float] = field(default_factory=list)

    def close(self, run: list[int], way_id: int, values: list[str | None]) -> None:
        """Store ``run`` as one line, or forget its vertex when it is too short for a line."""
        if len(run) >= 2:
            self.columns["osm_id"].append(way_id)
            for name, value in zip(WAY_COLUMNS, values, strict=True):
                self.columns[name].append(value)
            self.node_ids.append(run)
        elif run:
            del self.lons[-1], self.lats[-1]

    def frame(self) -> gpd.GeoDataFrame:
        xy = np.column_stack([np.asarray(self.lons, np.float64), np.asarray(self.lats, np.float64)])
        counts = np.fromiter((len(r) for r in self.node_ids), np.int64, len(self.node_ids))
        geometry = shapely.linestrings(xy, indices=np.repeat(np.arange(len(counts)), counts))
        flat = np.fromiter((i for r in self.node_ids for i in r), np.int64, int(counts.sum()))
        gdf = gpd.GeoDataFrame(self.columns, geometry=geometry, crs="EPSG:4326")
        gdf["osm_id"] = gdf["osm_id"].astype(np.int64)
        gdf["node_ids"] = np.split(flat, np.cumsum(counts)[:-1]) if len(counts) else []
        return gdf


def _normalise_tags(tags: TagSpec) -> dict[str, frozenset[str] | bool]:
    if not tags:
        msg = "`tags` is empty. Fix: pass at least one tag, for example {'amenity': 'fire_station'}."
        raise InputError(msg)
    out: dict[str, frozenset[str] | bool] = {}
    for key, value in tags.items():
        if isinstance(value, bool):
            out[key] = value
        elif isinstance(value, str):
            out[key] = frozenset([value])
        elif isinstance(value, Iterable):
            out[key] = frozenset(str(v) for v in value)
        else:
            msg = f"`tags[{key!r}]` is {value!r}. Fix: give a string, a list of strings, or True (any value)."
            raise InputError(msg)
    return out


def _matches(tags: Mapping[str, str], spec: Mapping[str, frozenset[str] | bool]) -> bool:
    for key, wanted in spec.items():
        value = tags.get(key)
        if value is None:
            continue
        if wanted is True or (not isinstance(wanted, bool) and value in wanted):
            return True
    return False


def read_osm_features(path: str | Path, tags: TagSpec) -> gpd.GeoDataFrame:
    """Read the nodes, ways and multipolygon relations matching ``tags``.

    Parameters
    ----------
    path
        OSM XML or PBF file.
    tags
        ``{key: value}``, ``{key: [values]}`` or ``{key: True}`` (any value). An object is kept
        when it matches any entry, as in :func:`osmnx.features_from_place`.

    Returns
    -------
    geopandas.GeoDataFrame
        In EPSG:4326, sorted by ``osm_type`` then ``osm_id``, with columns ``osm_id`` (int),
        ``osm_type`` (``"node"``, ``"way"`` or ``"relation"``), ``name``, one column per key
        of ``tags``, ``tags`` (every tag as a JSON object) and ``geometry``: points for nodes,
        polygons for closed ways and multipolygon relations, lines for open ways.

    Raises
    ------
    InputError
        When the file is missing, not an OSM file, or corrupt, or ``tags`` is malformed.

    Examples
    --------
    >>> f = read_osm_features("tests/fixtures/tiny_city.osm.xml", {"amenity": ["hospital", "school"]})
    >>> f[["osm_type", "osm_id", "amenity"]].to_numpy().tolist()
    [['node', 905, 'hospital'], ['way', 901, 'hospital'], ['relation', 902, 'school']]
    >>> f.geom_type.tolist()
    ['Point', 'Polygon', 'Polygon']
    """
    path = _check_file(path)
    spec = _normalise_tags(tags)
    keys = list(spec)
    rows: list[tuple[int, str, dict[str, str], Any]] = []
    closed: dict[int, tuple[dict[str, str], list[tuple[float, float]]]] = {}
    area_ways: set[int] = set()
    wkb = osmium.geom.WKBFactory()
    fp = (
        osmium.FileProcessor(str(path))
        .with_areas(osmium.filter.KeyFilter(*keys))
        .with_filter(osmium.filter.KeyFilter(*keys))
    )
    try:
        for obj in fp:
            if not isinstance(obj, (Node, Way, Area)):
                continue
            tag_dict = dict(obj.tags)
            if not _matches(tag_dict, spec):
                continue
            if isinstance(obj, Node):
                rows.append((obj.id, "node", tag_dict, shapely.Point(obj.lon, obj.lat)))
            elif isinstance(obj, Way):
                coords = [(r.lon, r.lat) for r in obj.nodes if r.location.valid()]
                if obj.is_closed():
                    closed[obj.id] = (tag_dict, coords)
                elif len(coords) >= 2:
                    rows.append((obj.id, "way", tag_dict, shapely.LineString(coords)))
            else:
                geom = shapely.from_wkb(wkb.create_multipolygon(obj))
                if len(geom.geoms) == 1:
                    geom = geom.geoms[0]
                kind = "way" if obj.from_way() else "relation"
                if kind == "way":
                    area_ways.add(obj.orig_id())
                rows.append((obj.orig_id(), kind, tag_dict, geom))
    except RuntimeError as exc:
        raise _corrupt(path, exc) from exc
    for way_id, (tag_dict, coords) in closed.items():
        if way_id in area_ways or len(coords) < 4:
            continue
        # the area assembler rejected the ring (self-intersection...): repair it ourselves
        log.debug("`%s`: way %d is not a valid area; repaired with make_valid", path, way_id)
        rows.append((way_id, "way", tag_dict, shapely.make_valid(shapely.Polygon(coords))))
    rows.sort(key=lambda r: (_ORDER[r[1]], r[0]))
    data: dict[str, list[Any]] = {
        "osm_id": [r[0] for r in rows],
        "osm_type": [r[1] for r in rows],
        "name": [r[2].get("name") for r in rows],
    }
    for key in keys:
        if key != "name":
            data[key] = [r[2].get(key) for r in rows]
    data["tags"] = [json.dumps(r[2], ensure_ascii=False, sort_keys=True) for r in rows]
    gdf = gpd.GeoDataFrame(data, geometry=[r[3] for r in rows], crs="EPSG:4326")
    gdf["osm_id"] = gdf["osm_id"].astype(np.int64)
    log.debug("`%s`: %d features match %s", path, len(gdf), dict(tags))
    return gdf
