"""The demo city as an OpenStreetMap file, tagged as real OSM data is (private).

:func:`write_city_osm` turns the layers of :func:`gis.demo.demo_city` into OSM nodes, ways and
multipolygon relations in WGS84 and writes them with pyosmium (PBF, XML, or XML compressed
with bzip2 / gzip, chosen by the file name). What a generic OSM reader finds:

- roads: one way per road line (split at a graph node when longer than
  :data:`MAX_WAY_NODES`), sharing a node wherever two lines share a vertex (after the same
  1 cm rounding as :func:`gis.network.graph_from_lines`), tagged ``highway``, ``name``,
  ``maxspeed``, ``oneway`` (``yes``; ``no`` only where the class implies oneway, such as the
  two-way ring motorway), ``junction`` when the layer has it, ``bridge=yes`` + ``layer=1``;
- fire stations: ``amenity=fire_station`` + ``name``, in turn as a node, a
  ``building=fire_station`` way and a multipolygon relation (as in real extracts);
- hazard sources: the tags of :data:`HAZARD_TAGS` (by facility label, else
  :data:`CATEGORY_TAGS`), as nodes or footprints centred on the source whose area tells the
  ``size_class`` (tanks and silos keep a realistic size);
- communities: ``landuse=residential`` + ``name`` (no population: OSM has none), with optional
  ``building=apartments|residential`` + ``building:levels`` footprints in a few of them;
- sensitive sites: :data:`SENSITIVE_TAGS`;
- the river as ``waterway=river`` (centre line) and ``natural=water`` + ``water=river``
  (a multipolygon when its outline exceeds :data:`MAX_WAY_NODES`), the railway as
  ``railway=rail``; a ``place=city`` node whose ``description`` says the data is synthetic.

Depots, candidate sites, incidents and the study area are not written: OSM has no such data.
The header holds the bounding box and a ``generator`` naming the data synthetic; XML files are
marked ``upload="false"`` so that editors refuse to upload them. The output is deterministic
(no timestamps, ids in creation order): the same layers give a byte-identical file.
"""

from __future__ import annotations

import itertools
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pyproj
import shapely

from ..atomic import atomic_path
from ..errors import InputError
from ..network._build import JOIN_TOLERANCE_M
from ..network._speeds import speed_table

__all__ = [
    "CATEGORY_TAGS",
    "DEFAULT_BUILDINGS",
    "HAZARD_TAGS",
    "MAX_WAY_NODES",
    "OSM_WRITE_FORMATS",
    "SENSITIVE_TAGS",
    "OsmShape",
    "osm_write_format",
    "write_city_osm",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
Tags = dict[str, str]

#: Most nodes in one way (the OSM API limit); longer lines are split, outlines become relations.
MAX_WAY_NODES = 2000
#: Building footprints written when ``n_buildings`` is None (a fixed cap keeps files small).
DEFAULT_BUILDINGS = 2000
_BUILDING_COMMUNITIES = 8  # communities that get footprints
_PRECISION = 10_000_000  # OSM stores coordinates as integers of 1e-7 degree

#: File name endings written, longest first, and the libosmium format of each.
OSM_WRITE_FORMATS: dict[str, str] = {
    ".osm.pbf": "pbf",
    ".osm.xml": "osm",
    ".osm.bz2": "osm.bz2",
    ".osm.gz": "osm.gz",
    ".pbf": "pbf",
    ".osm": "osm",
}


@dataclass(frozen=True)
class OsmShape:
    """How one kind of feature is written: its tags and its geometry.

    ``shape`` is ``"node"``, ``"area"`` (a square of side ``size_m``; for hazards, a side by
    size class), ``"tank"`` (a 16-sided circle of diameter ``size_m``) or ``"mixed"`` (area and
    node in turn, by row). Footprints are centred on the layer's point: their centroid is it.
    """

    tags: Mapping[str, str]
    shape: str = "node"
    size_m: float = 0.0


def _shape(tags: str, shape: str = "node", size_m: float = 0.0) -> OsmShape:
    """An :class:`OsmShape` from tags written as in OSM: ``"landuse=industrial industrial=chemical"``."""
    return OsmShape(dict(t.split("=", 1) for t in tags.split()), shape, size_m)


# Hazard sources by facility label (`[[hazards.facilities]]` of gis/data/demo_city.toml), tagged
# with common OSM tags (OSM wiki: Key:industrial, Tag:man_made=works + product=*,
# Tag:man_made=storage_tank + content=*, Tag:landuse=quarry + resource=*, Tag:amenity=fuel +
# fuel:*=yes, Tag:shop=gas, Tag:pipeline=substation, Tag:landuse=construction + construction=*).
# The reverse rules (OSM tags -> riskplan category) live in gis/data/osm_hazards.toml; OSM has
# no tag for some facilities (a self-built commercial building is just `building=commercial`),
# so a generic rule table cannot recover every category: that is realistic, not a bug.
# Hazard areas are squares of _HAZARD_SIDE_M by size class (2,500 / 19,600 / 90,000 m2, either
# side of the 0.5 ha and 5 ha bounds of osm_hazards.toml, so the size class reads back from the
# area); tanks and silos keep a realistic diameter (size_m for `medium`, x _SIZE_FACTOR).
HAZARD_TAGS: dict[str, OsmShape] = {
    # hazardous_chemicals: chemical works on industrial land, tank farms by content
    "Chlor-alkali plant": _shape("landuse=industrial industrial=chemical product=chlorine", "area"),
    "Coking and coal-chemical plant": _shape("landuse=industrial industrial=chemical product=coke", "area"),
    "Methanol plant": _shape("landuse=industrial industrial=chemical product=methanol", "area"),
    "Fertiliser plant": _shape("landuse=industrial industrial=chemical product=fertiliser", "area"),
    "Oil depot": _shape("man_made=storage_tank content=fuel", "tank", 60),
    "LPG storage depot": _shape("man_made=storage_tank content=gas", "node"),
    "Solvent and coatings plant": _shape("landuse=industrial industrial=chemical product=paint", "area"),
    "Industrial gases plant": _shape("landuse=industrial industrial=chemical product=oxygen", "area"),
    "PVC plant": _shape("landuse=industrial industrial=chemical product=pvc", "area"),
    # mining: shafts as nodes, open pits and mine sites as areas
    "Coal mine": _shape("man_made=mineshaft resource=coal", "node"),
    "Limestone quarry": _shape("landuse=quarry resource=limestone", "area"),
    "Iron ore mine": _shape("landuse=industrial industrial=mine resource=iron_ore", "area"),
    # metallurgy
    "Steel works": _shape("landuse=industrial industrial=steelmaker product=steel", "area"),
    "Ferroalloy plant": _shape("man_made=works product=ferroalloy", "area"),
    "Foundry": _shape("landuse=industrial industrial=foundry", "area"),
    "Aluminium smelter": _shape("man_made=works product=aluminium", "area"),
    # dust_explosion: mills and silos, dusty crafts
    "Flour mill": _shape("man_made=works product=flour", "area"),
    "Woodworking workshop": _shape("craft=carpenter", "node"),
    "Metal polishing workshop": _shape("craft=metal_construction", "node"),
    "Feed mill": _shape("man_made=silo content=grain", "tank", 20),
    # fuel_gas
    "Fuel station": _shape("amenity=fuel fuel:diesel=yes fuel:octane_92=yes", "node"),
    "CNG and LNG refuelling station": _shape("amenity=fuel fuel:cng=yes fuel:lng=yes"),
    "LPG filling station": _shape("shop=gas", "node"),
    "Gas storage and distribution station": _shape(
        "pipeline=substation substance=gas substation=distribution", "area"
    ),
    # fireworks_explosives
    "Fireworks wholesale warehouse": _shape("shop=fireworks", "node"),
    # warehouse_logistics
    "Logistics centre": _shape("landuse=industrial industrial=distributor", "area"),
    "Cold-chain warehouse": _shape("building=warehouse", "area"),
    "Express sorting centre": _shape("building=warehouse", "area"),
    # construction
    "High-rise construction site": _shape("landuse=construction construction=commercial", "area"),
    "Residential construction site": _shape("landuse=construction construction=residential", "area"),
    "Road and bridge works": _shape("landuse=construction construction=highway", "area"),
    # other
    "Self-built commercial building": _shape("building=commercial", "area"),
    "Hazardous waste transfer station": _shape("amenity=waste_transfer_station waste=hazardous", "area"),
    "Market hall": _shape("amenity=marketplace building=retail", "area"),
}

#: Tags of a hazard whose facility label is not in :data:`HAZARD_TAGS` (parameter overrides).
CATEGORY_TAGS: dict[str, OsmShape] = {
    "hazardous_chemicals": _shape("landuse=industrial industrial=chemical", "area"),
    "mining": _shape("man_made=mineshaft", "node"),
    "metallurgy": _shape("landuse=industrial industrial=steelmaker", "area"),
    "dust_explosion": _shape("man_made=works product=flour", "area"),
    "fuel_gas": _shape("amenity=fuel", "node"),
    "fireworks_explosives": _shape("shop=fireworks", "node"),
    "warehouse_logistics": _shape("building=warehouse", "area"),
    "construction": _shape("landuse=construction", "area"),
    "other": _shape("building=commercial", "area"),
}
_SIZE_FACTOR = {"small": 0.6, "medium": 1.0, "large": 1.6}
_HAZARD_SIDE_M = {"small": 50.0, "medium": 140.0, "large": 300.0}

#: Sensitive sites by ``kind`` (``other`` is the demo's nursing homes).
SENSITIVE_TAGS: dict[str, OsmShape] = {
    "school": _shape("amenity=school", "mixed", 150),
    "kindergarten": _shape("amenity=kindergarten", "mixed", 60),
    "hospital": _shape("amenity=hospital healthcare=hospital", "area", 180),
    "theatre": _shape("amenity=theatre", "node"),
    "mall": _shape("shop=mall building=retail", "area", 150),
    "stadium": _shape("leisure=stadium", "area", 250),
    "other": _shape("amenity=social_facility social_facility=nursing_home", "node"),
}
_STATION_SIDE_M = 36.0
# Footprint (width, depth) in metres and range of levels of the optional residential buildings.
_BUILDING_TYPES = (("apartments", (60.0, 14.0), (6, 18)), ("residential", (16.0, 12.0), (2, 6)))


def osm_write_format(path: str | Path) -> str:
    """Return the libosmium output format for ``path``, by its file name ending.

    Examples
    --------
    >>> osm_write_format("city.osm.pbf"), osm_write_format("city.osm")
    ('pbf', 'osm')
    """
    name = Path(path).name.lower()
    for suffix, fmt in OSM_WRITE_FORMATS.items():
        if name.endswith(suffix):
            return fmt
    msg = (
        f"Cannot tell the OSM format of `{path}`. Fix: end the file name with one of "
        f"{', '.join(OSM_WRITE_FORMATS)} (PBF for .pbf, XML for .osm)."
    )
    raise InputError(msg)


@dataclass
class _Osm:
    """OSM objects being assembled; node ids 1..n_road are the road vertices."""

    road_lonlat: FloatArray
    nodes: list[tuple[float, float, Tags | None]] = field(default_factory=list)
    pool: dict[tuple[int, int], int] = field(default_factory=dict)
    ways: list[tuple[list[int], Tags]] = field(default_factory=list)
    relations: list[tuple[list[tuple[str, int, str]], Tags]] = field(default_factory=list)

    def node(self, lon: float, lat: float, tags: Tags | None = None) -> int:
        self.nodes.append((lon, lat, tags))
        return len(self.road_lonlat) + len(self.nodes)

    def vertex(self, lon: float, lat: float) -> int:
        """An untagged node, shared by every feature outline through the same position."""
        key = (round(lon * _PRECISION), round(lat * _PRECISION))
        found = self.pool.get(key)
        if found is None:
            found = self.pool[key] = self.node(lon, lat)
        return found

    def way(self, refs: list[int], tags: Tags) -> int:
        self.ways.append((refs, tags))
        return len(self.ways)

    def refs(self, coords: FloatArray) -> list[int]:
        out: list[int] = []
        for lon, lat in coords.tolist():
            ref = self.vertex(lon, lat)
            if not out or out[-1] != ref:
                out.append(ref)
        return out

    def line(self, geom: shapely.Geometry, tags: Tags) -> None:
        for part in shapely.get_parts(geom):
            for chunk in _chunks(self.refs(shapely.get_coordinates(part))):
                self.way(chunk, tags)

    def area(self, geom: shapely.Geometry, tags: Tags, *, relation: bool = False) -> None:
        """A closed way, or a multipolygon relation for holes, many parts or long outlines."""
        rings: list[tuple[str, list[int]]] = []
        for poly in shapely.get_parts(geom):
            for role, ring in (("outer", poly.exterior), *(("inner", r) for r in poly.interiors)):
                refs = self.refs(shapely.get_coordinates(ring))
                if len(refs) >= 4 and refs[0] == refs[-1]:
                    rings.append((role, refs))
        if not rings:
            return
        if not relation and len(rings) == 1 and len(rings[0][1]) <= MAX_WAY_NODES:
            self.way(rings[0][1], tags)
            return
        members = [("w", self.way(chunk, {}), role) for role, refs in rings for chunk in _chunks(refs)]
        self.relations.append((members, {"type": "multipolygon", **tags}))

    def point(self, geom: shapely.Geometry, tags: Tags) -> None:
        self.node(float(shapely.get_x(geom)), float(shapely.get_y(geom)), tags)


def _chunks(refs: list[int], cuts: npt.NDArray[np.bool_] | None = None) -> list[list[int]]:
    """Split ``refs`` into ways of at most MAX_WAY_NODES sharing end nodes (at ``cuts`` if any)."""
    out: list[list[int]] = []
    start = 0
    while len(refs) - start > MAX_WAY_NODES:
        end = start + MAX_WAY_NODES - 1
        if cuts is not None:
            ok = np.flatnonzero(cuts[start + 1 : end + 1])
            end = start + 1 + int(ok[-1]) if len(ok) else end
        out.append(refs[start : end + 1])
        start = end
    if len(refs) - start >= 2:
        out.append(refs[start:])
    return out


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _transformer(crs: Any) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(crs, 4326, always_xy=True)


def _to_wgs84(geoms: Any, tr: pyproj.Transformer) -> npt.NDArray[np.object_]:
    def fn(c: FloatArray) -> FloatArray:
        return np.column_stack(tr.transform(c[:, 0], c[:, 1]))

    return np.asarray(shapely.transform(np.asarray(geoms, dtype=object), fn), dtype=object)


def _footprint(point: shapely.Geometry, shape: str, size: float) -> shapely.Geometry:
    x, y = float(shapely.get_x(point)), float(shapely.get_y(point))
    if shape == "tank":
        return shapely.Point(x, y).buffer(size / 2, quad_segs=4)
    return shapely.box(x - size / 2, y - size / 2, x + size / 2, y + size / 2)


def _feature(
    osm: _Osm,
    geom: shapely.Geometry,
    spec: OsmShape,
    tags: Tags,
    *,
    size_m: float,
    as_area: bool,
    tr: pyproj.Transformer,
    relation: bool = False,
) -> None:
    """Write a layer feature: polygons as areas, points as nodes or footprints around them."""
    if shapely.get_type_id(geom) in (3, 6):  # already a (multi)polygon
        osm.area(_to_wgs84([geom], tr)[0], tags, relation=relation)
    elif as_area and shapely.get_type_id(geom) == 0:
        osm.area(_to_wgs84([_footprint(geom, spec.shape, size_m)], tr)[0], tags, relation=relation)
    else:
        osm.point(_to_wgs84([shapely.point_on_surface(geom)], tr)[0], tags)


def _roads(roads: gpd.GeoDataFrame) -> tuple[_Osm, list[tuple[list[int], Tags]]]:
    """Road vertices as nodes 1..n (one per 1 cm position) and one tag set per road way."""
    tr = _transformer(roads.crs)
    xy, line = shapely.get_coordinates(roads.geometry.to_numpy(), return_index=True)
    grid = np.round(xy / JOIN_TOLERANCE_M).astype(np.int64)
    key = (grid[:, 0] - grid[:, 0].min()) * (int(np.ptp(grid[:, 1])) + 1) + (grid[:, 1] - grid[:, 1].min())
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    ids = inverse.ravel().astype(np.int64) + 1
    lon, lat = tr.transform(xy[first, 0], xy[first, 1])
    osm = _Osm(road_lonlat=np.column_stack([lon, lat]))
    keep = np.r_[True, (ids[1:] != ids[:-1]) | (line[1:] != line[:-1])]
    ids, line = ids[keep], line[keep]
    shared = np.bincount(ids) > 1
    starts = np.searchsorted(line, np.arange(len(roads) + 1))
    table = speed_table()["highway"]
    cols = {c: roads[c].tolist() if c in roads else [None] * len(roads) for c in _ROAD_COLUMNS}
    ways: list[tuple[list[int], Tags]] = []
    for i in range(len(roads)):
        refs = ids[starts[i] : starts[i + 1]]
        if len(refs) < 2:
            continue
        tags = _road_tags({c: cols[c][i] for c in _ROAD_COLUMNS}, table)
        ways += [(chunk, tags) for chunk in _chunks(refs.tolist(), shared[refs])]
    return osm, ways


_ROAD_COLUMNS = ("highway", "name", "maxspeed", "oneway", "junction", "bridge")


def _road_tags(row: Mapping[str, Any], table: Mapping[str, Any]) -> Tags:
    highway = _text(row["highway"]) or "road"
    tags = {"highway": highway}
    for key in ("name", "maxspeed", "junction"):
        if value := _text(row[key]):
            tags[key] = value
    oneway = (_text(row["oneway"]) or "").lower()
    implied = bool((table.get(highway) or {}).get("oneway_implied")) or "junction" in tags
    if oneway in ("yes", "true", "1"):
        tags["oneway"] = "yes"
    elif oneway in ("-1", "reverse"):
        tags["oneway"] = "-1"
    elif oneway == "no" and implied:  # OSM would read this class as oneway without the tag
        tags["oneway"] = "no"
    if (_text(row["bridge"]) or "no") not in ("no", "false", "0"):
        tags.update(bridge="yes", layer="1")
    return tags


def _label(name: str) -> str:
    return re.sub(r"\s+\d+$", "", name)


def _hazards(osm: _Osm, hazards: gpd.GeoDataFrame, tr: pyproj.Transformer) -> None:
    sizes = hazards["size_class"] if "size_class" in hazards else [None] * len(hazards)
    rows = zip(hazards["name"], hazards["category"], sizes, hazards.geometry, strict=True)
    for name, cat, size_class, geom in rows:
        spec = HAZARD_TAGS.get(_label(str(name))) or CATEGORY_TAGS.get(str(cat), CATEGORY_TAGS["other"])
        size = str(size_class) if size_class in _HAZARD_SIDE_M else "medium"
        size_m = spec.size_m * _SIZE_FACTOR[size] if spec.shape == "tank" else _HAZARD_SIDE_M[size]
        tags = {**spec.tags, "name": str(name)}
        _feature(osm, geom, spec, tags, size_m=size_m, as_area=spec.shape != "node", tr=tr)


def _stations(osm: _Osm, stations: gpd.GeoDataFrame, tr: pyproj.Transformer) -> None:
    """Fire stations in turn as a node, a building way and a multipolygon relation."""
    spec = OsmShape({}, "area", _STATION_SIDE_M)
    for i, (name, geom) in enumerate(zip(stations["name"], stations.geometry, strict=True)):
        kind = i % 3
        tags = {
            "amenity": "fire_station",
            **({"building": "fire_station"} if kind else {}),
            "name": str(name),
        }
        _feature(osm, geom, spec, tags, size_m=spec.size_m, as_area=kind > 0, tr=tr, relation=kind == 2)


def _sensitive(osm: _Osm, sites: gpd.GeoDataFrame, tr: pyproj.Transformer) -> None:
    seen: dict[str, int] = {}
    for name, kind, geom in zip(sites["name"], sites["kind"], sites.geometry, strict=True):
        spec = SENSITIVE_TAGS.get(str(kind), SENSITIVE_TAGS["other"])
        n = seen[str(kind)] = seen.get(str(kind), -1) + 1
        as_area = spec.shape == "area" or (spec.shape == "mixed" and n % 2 == 0)
        tags = {**spec.tags, "name": str(name)}
        _feature(osm, geom, spec, tags, size_m=spec.size_m, as_area=as_area, tr=tr)


def _buildings(
    communities: gpd.GeoDataFrame, roads: gpd.GeoDataFrame, n_buildings: int, rng: np.random.Generator
) -> list[tuple[shapely.Geometry, Tags]]:
    """Residential footprints on a 70 m grid in a few communities, clear of the roads."""
    if n_buildings <= 0 or communities.empty:
        return []
    picked = np.linspace(0, len(communities) - 1, min(_BUILDING_COMMUNITIES, len(communities))).round()
    per = -(-n_buildings // len(picked))
    tree = shapely.STRtree(roads.geometry.to_numpy())
    out: list[tuple[shapely.Geometry, Tags]] = []
    for idx in picked.astype(int):
        poly = communities.geometry.iloc[idx]
        x0, y0, x1, y1 = poly.bounds
        gx, gy = np.meshgrid(np.arange(x0 + 35, x1, 70.0), np.arange(y0 + 35, y1, 70.0))
        kinds = rng.integers(0, len(_BUILDING_TYPES), gx.size)
        levels = rng.random(gx.size)
        boxes = []
        for x, y, k in zip(gx.ravel(), gy.ravel(), kinds, strict=True):
            w, d = _BUILDING_TYPES[k][1]
            boxes.append(shapely.box(x - w / 2, y - d / 2, x + w / 2, y + d / 2))
        geoms = np.asarray(boxes, dtype=object)
        inside = shapely.contains(poly, geoms)
        near = np.zeros(len(geoms), bool)
        near[tree.query(geoms, predicate="dwithin", distance=8.0)[0]] = True
        for j in np.flatnonzero(inside & ~near)[:per]:
            kind, _, (lo, hi) = _BUILDING_TYPES[kinds[j]]
            out.append(
                (geoms[j], {"building": kind, "building:levels": str(lo + int(levels[j] * (hi - lo + 1)))})
            )
    return out[:n_buildings]


def _river_centre(river: shapely.Geometry, step_m: float = 50.0) -> shapely.Geometry | None:
    """The centre line of a north-south river polygon: midpoints of horizontal chords."""
    x0, y0, x1, y1 = river.bounds
    ys = np.arange(y0 + 0.5, y1, step_m)
    ends = np.stack([np.full_like(ys, x0 - 1.0), ys, np.full_like(ys, x1 + 1.0), ys], axis=1)
    chords = shapely.intersection(shapely.linestrings(ends.reshape(-1, 2, 2)), river)
    mids = shapely.centroid(chords[~shapely.is_empty(chords)])
    return shapely.linestrings(shapely.get_coordinates(mids)) if len(mids) >= 2 else None


def _barriers(osm: _Osm, barriers: gpd.GeoDataFrame, tr: pyproj.Transformer) -> None:
    for kind, name, geom in zip(barriers["kind"], barriers["name"], barriers.geometry, strict=True):
        named = {"name": str(name)} if _text(name) else {}
        if kind == "river" and shapely.get_type_id(geom) in (3, 6):
            osm.area(_to_wgs84([geom], tr)[0], {"natural": "water", "water": "river", **named})
            centre = _river_centre(geom)
            if centre is not None:
                osm.line(_to_wgs84([centre], tr)[0], {"waterway": "river", **named})
        elif kind == "railway":
            osm.line(_to_wgs84([geom], tr)[0], {"railway": "rail", "usage": "main", **named})
        # the expressway is in the roads already


def _header(osm: _Osm, generator: str) -> Any:
    import osmium

    lonlat = np.vstack([osm.road_lonlat, np.asarray([n[:2] for n in osm.nodes], dtype=float).reshape(-1, 2)])
    lo, hi = lonlat.min(axis=0), lonlat.max(axis=0)
    header = osmium.io.Header()
    header.set("generator", generator)
    header.set("xml_josm_upload", "false")  # upload="false": editors refuse to upload it
    header.set("sorting", "Type_then_ID")
    header.add_box(
        osmium.osm.Box(
            osmium.osm.Location(float(lo[0]), float(lo[1])), osmium.osm.Location(float(hi[0]), float(hi[1]))
        )
    )
    return header


def _write(osm: _Osm, road_ways: Sequence[tuple[list[int], Tags]], path: Path, generator: str) -> None:
    import osmium
    from osmium.osm.mutable import Node, Relation, Way

    fmt = osm_write_format(path)
    with atomic_path(path) as tmp:
        writer = osmium.SimpleWriter(osmium.io.File(str(tmp), fmt), header=_header(osm, generator))
        try:
            node = Node()  # one mutable node, reused: a third faster than a new one per node
            for i, (lon, lat) in enumerate(osm.road_lonlat.tolist(), start=1):
                node.id, node.location = i, (lon, lat)
                writer.add_node(node)
            first = len(osm.road_lonlat) + 1
            for i, (lon, lat, tags) in enumerate(osm.nodes, start=first):
                writer.add_node(Node(id=i, location=(lon, lat), tags=tags or {}))
            for i, (refs, tags) in enumerate(itertools.chain(road_ways, osm.ways), start=1):
                writer.add_way(Way(id=i, nodes=refs, tags=tags))
            n_road_ways = len(road_ways)
            for i, (members, tags) in enumerate(osm.relations, start=1):
                shifted = [(t, ref + n_road_ways, role) for t, ref, role in members]
                writer.add_relation(Relation(id=i, members=shifted, tags=tags))
        finally:
            writer.close()


def write_city_osm(
    layers: Mapping[str, gpd.GeoDataFrame],
    path: str | Path,
    *,
    generator: str,
    place: Mapping[str, str],
    n_buildings: int | None = None,
    seed: int = 0,
) -> Path:
    """Write demo-city ``layers`` to the OSM file ``path`` (format by suffix), atomically.

    Parameters
    ----------
    layers
        The layers of :func:`gis.demo.demo_city` (``roads`` required; ``fire_stations``,
        ``hazards``, ``communities``, ``sensitive_sites`` and ``barriers`` used when present).
    path
        Output file; see :data:`OSM_WRITE_FORMATS` for the endings understood.
    generator
        The header's ``generator`` string.
    place
        Tags of the ``place=city`` node written at the centre (``name``, ``description``...).
    n_buildings
        Residential building footprints to write in a few communities; None:
        :data:`DEFAULT_BUILDINGS`, 0: none.
    seed
        Seed of the building types and levels.

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> import tempfile
    >>> from gis.demo import demo_city
    >>> layers = demo_city(n_road_nodes=3000)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     out = write_city_osm(layers, Path(d) / "c.osm", generator="doc", place={"name": "x"})
    ...     text = out.read_text()
    >>> text.count('k="amenity" v="fire_station"'), 'upload="false"' in text
    (6, True)
    """
    path = Path(path)
    osm_write_format(path)  # fail early on a bad name
    if n_buildings is not None and (isinstance(n_buildings, bool) or n_buildings < 0):
        msg = f"`n_buildings` = {n_buildings!r}. Fix: pass a count >= 0 (0 for none) or None for the default."
        raise InputError(msg)
    t0 = time.perf_counter()
    roads = layers["roads"]
    tr = _transformer(roads.crs)
    osm, road_ways = _roads(roads)
    empty = gpd.GeoDataFrame(geometry=[], crs=roads.crs)
    _stations(osm, layers.get("fire_stations", empty), tr)
    _hazards(osm, layers.get("hazards", empty), tr)
    communities = layers.get("communities", empty)
    for name, geom in zip(communities.get("name", []), communities.geometry, strict=True):
        osm.area(_to_wgs84([geom], tr)[0], {"landuse": "residential", "name": str(name)})
    rng = np.random.default_rng([seed, 901])
    wanted = DEFAULT_BUILDINGS if n_buildings is None else int(n_buildings)
    for geom, tags in _buildings(communities, roads, wanted, rng):
        osm.area(_to_wgs84([geom], tr)[0], tags)
    _sensitive(osm, layers.get("sensitive_sites", empty), tr)
    _barriers(osm, layers.get("barriers", empty), tr)
    centre = shapely.box(*roads.total_bounds).centroid
    osm.point(_to_wgs84([centre], tr)[0], {"place": "city", **place})
    _write(osm, road_ways, path, generator)
    logger.info(
        "wrote %s: %d nodes, %d ways, %d relations (%.1f MB) in %.1f s",
        path,
        len(osm.road_lonlat) + len(osm.nodes),
        len(road_ways) + len(osm.ways),
        len(osm.relations),
        path.stat().st_size / 1e6,
        time.perf_counter() - t0,
    )
    return path
