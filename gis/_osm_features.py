"""One pass over an OSM file for many tag selections at once (behind :func:`gis.osm.read_osm_layers`).

Each object that passes the union of the selections' keys is matched against every selection;
its geometry is made once and shared. Nodes give points, open ways lines, closed ways and
multipolygon / boundary relations polygons (assembled by libosmium). Selections read "as lines"
take ways only, closed ones as closed lines, never areas (roads, rivers, railways).

Polygons cut at the edge of an extract are repaired from the nodes present, when enough are
left: a closed way with missing nodes, an open way whose tags describe an area (``building``,
``landuse``...), and a multipolygon relation with missing member ways or nodes. What was
repaired and what had to be dropped is returned (``w123``, ``r45``) and logged as a warning.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import osmium
import shapely
from osmium.osm import Area, Node, Relation, Way

__all__ = ["SpecTable", "is_area_tags", "matches", "osm_ids", "read_layers"]

log = logging.getLogger("gis.osm")

SpecTable = Mapping[str, Mapping[str, "frozenset[str] | bool"]]

_ORDER = {"node": 0, "way": 1, "relation": 2}
_PREFIX = {"node": "n", "way": "w", "relation": "r"}
#: Keys that make a way an area whatever their value (OSM wiki, "Area": default area keys).
_AREA_KEYS = frozenset({"building", "landuse", "amenity", "leisure", "place", "industrial", "shop"})
#: Key = value pairs that make a way an area.
_AREA_VALUES: Mapping[str, frozenset[str]] = {
    "man_made": frozenset({"works", "storage_tank", "wastewater_plant", "silo", "gasometer", "bunker_silo"}),
    "power": frozenset({"plant", "substation", "generator"}),
    "natural": frozenset({"water", "wood", "scrub", "grassland", "wetland", "heath", "bare_rock"}),
    "waterway": frozenset({"riverbank", "dock"}),
}
_MULTIPOLYGON_TYPES = frozenset({"multipolygon", "boundary"})


def matches(tags: Mapping[str, str], spec: Mapping[str, frozenset[str] | bool]) -> bool:
    """True when any ``key: values`` entry of ``spec`` matches ``tags`` (``True``: any value)."""
    for key, wanted in spec.items():
        value = tags.get(key)
        if value is None:
            continue
        if wanted is True or (not isinstance(wanted, bool) and value in wanted):
            return True
    return False


def is_area_tags(tags: Mapping[str, str]) -> bool:
    """True when the tags of a way describe an area (so an open way is a ring the extract cut)."""
    area = tags.get("area")
    if area == "no":
        return False
    if area == "yes" or any(k in tags for k in _AREA_KEYS):
        return True
    return any(tags.get(k) in values for k, values in _AREA_VALUES.items())


@dataclass
class _Frame:
    """Rows of one selection while the file is read."""

    ids: list[int] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)
    geoms: list[Any] = field(default_factory=list)

    def add(self, osm_id: int, kind: str, tags: dict[str, str], geom: Any) -> None:
        self.ids.append(osm_id)
        self.types.append(kind)
        self.tags.append(tags)
        self.geoms.append(geom)


#: A way's vertices: hex WKB of its line when every node is located, else the located coordinates.
_Vertices = str | list[tuple[float, float]]


@dataclass
class _Pending:
    """A closed way or area-tagged open way waiting for libosmium's area (or for repair)."""

    tags: dict[str, str]
    vertices: _Vertices
    specs: list[str]
    n_missing: int
    closed: bool


class _Relations:
    """First-pass handler: members of the multipolygon relations that some selection wants."""

    def __init__(self, specs: SpecTable) -> None:
        self.specs = specs
        self.members: dict[int, tuple[dict[str, str], list[str], list[tuple[int, str]]]] = {}
        self.way_ids: set[int] = set()

    def relation(self, rel: Relation) -> None:
        tags = dict(rel.tags)
        if tags.get("type") not in _MULTIPOLYGON_TYPES:
            return
        wanted = [name for name, spec in self.specs.items() if matches(tags, spec)]
        if not wanted:
            return
        ways = [(m.ref, m.role) for m in rel.members if m.type == "w"]
        self.members[rel.id] = (tags, wanted, ways)
        self.way_ids.update(ref for ref, _ in ways)


class _MemberWays:
    """Collects the coordinates of relation member ways that the tag filter let through or not."""

    def __init__(self, wanted: set[int]) -> None:
        self.wanted = wanted
        self.vertices: dict[int, _Vertices] = {}
        self.factory = osmium.geom.WKBFactory()

    def way(self, way: Way) -> None:
        if way.id in self.wanted:
            self.vertices[way.id] = _vertices(way, self.factory)[0]


def _vertices(way: Way, factory: osmium.geom.WKBFactory) -> tuple[_Vertices, int]:
    """The way's line as hex WKB (built in C++), or its located coordinates and the nodes missing.

    WKB when every node of the way is located in the file; else the coordinates of those that
    are and the number missing.
    """
    try:
        return factory.create_linestring(way, osmium.geom.ALL), 0
    except (RuntimeError, osmium.InvalidLocationError):
        return _located(way)


def _coords(vertices: _Vertices) -> list[tuple[float, float]]:
    if isinstance(vertices, str):
        return [(float(x), float(y)) for x, y in shapely.get_coordinates(shapely.from_wkb(vertices))]
    return vertices


def _line(vertices: _Vertices) -> str | shapely.LineString | None:
    """Hex WKB as is (decoded in bulk later), a LineString of the located coordinates, or None."""
    if isinstance(vertices, str):
        return vertices
    return shapely.LineString(vertices) if len(vertices) >= 2 else None


def _located(way: Way) -> tuple[list[tuple[float, float]], int]:
    """The located vertices of ``way`` and the number of nodes missing from the file."""
    coords = []
    missing = 0
    for ref in way.nodes:
        loc = ref.location
        if loc.valid():
            coords.append((loc.lon, loc.lat))
        else:
            missing += 1
    return coords, missing


def _ring(coords: Sequence[tuple[float, float]]) -> Any:
    """A valid polygon through ``coords`` (closed if needed), or None when too few points are left."""
    distinct = list(dict.fromkeys(coords))
    if len(distinct) < 3:
        return None
    ring = [*coords, coords[0]] if coords[0] != coords[-1] else list(coords)
    poly = shapely.make_valid(shapely.Polygon(ring))
    polys = [g for g in shapely.get_parts(poly) if g.geom_type in ("Polygon", "MultiPolygon") and g.area > 0]
    if not polys:
        return None
    out = shapely.union_all(polys)
    return out if out.geom_type != "GeometryCollection" else None


def _relation_polygon(ways: list[tuple[int, str]], vertices: Mapping[int, _Vertices]) -> Any:
    """Outer rings minus inner rings, built from the member ways present (open chains closed)."""
    rings: dict[bool, list[Any]] = {True: [], False: []}
    for outer in (True, False):
        lines = [
            shapely.LineString(coords)
            for ref, role in ways
            if ref in vertices and (role != "inner") == outer and len(coords := _coords(vertices[ref])) >= 2
        ]
        if not lines:
            continue
        merged = shapely.line_merge(shapely.union_all(lines))
        for part in shapely.get_parts(merged):
            poly = _ring(list(map(tuple, shapely.get_coordinates(part))))
            if poly is not None:
                rings[outer].append(poly)
    if not rings[True]:
        return None
    out = shapely.union_all(rings[True])
    if rings[False]:
        out = shapely.difference(out, shapely.union_all(rings[False]))
    return None if out.is_empty else out


def read_layers(
    path: Path,
    specs: SpecTable,
    *,
    lines: Collection[str] = (),
    columns: Sequence[str] = (),
) -> tuple[dict[str, gpd.GeoDataFrame], list[str], list[str]]:
    """Read every selection of ``specs`` in one pass; return frames, repaired ids, dropped ids.

    Raises ``RuntimeError`` from pyosmium for unreadable files (the caller names the file).
    """
    keys = sorted({k for spec in specs.values() for k in spec})
    area_specs = {n: s for n, s in specs.items() if n not in lines}
    line_specs = {n: s for n, s in specs.items() if n in lines}
    frames = {name: _Frame() for name in specs}
    relations = _Relations(area_specs)
    members = _MemberWays(relations.way_ids)
    pending: dict[int, _Pending] = {}
    area_done: set[tuple[str, int]] = set()
    wkb = osmium.geom.WKBFactory()
    key_filter = osmium.filter.KeyFilter(*keys)
    fp = (
        osmium.FileProcessor(str(path))
        .with_areas(osmium.filter.KeyFilter(*keys), relations)
        .with_filter(key_filter)
        .handler_for_filtered(members)
    )
    for obj in fp:
        if isinstance(obj, Node):
            tags = dict(obj.tags)
            point = None
            for name, spec in area_specs.items():
                if matches(tags, spec):
                    point = point or shapely.Point(obj.lon, obj.lat)
                    frames[name].add(obj.id, "node", tags, point)
        elif isinstance(obj, Way):
            _way(
                obj,
                frames,
                area_specs=area_specs,
                line_specs=line_specs,
                pending=pending,
                members=members,
                wkb=wkb,
            )
        elif isinstance(obj, Area):
            tags = dict(obj.tags)
            wanted = [name for name, spec in area_specs.items() if matches(tags, spec)]
            if not wanted:
                continue
            kind = "way" if obj.from_way() else "relation"
            try:
                geom = wkb.create_multipolygon(obj)  # hex WKB, decoded in bulk later
            except RuntimeError:  # libosmium could not build it: repaired below
                continue
            area_done.add((kind, obj.orig_id()))
            for name in wanted:
                frames[name].add(obj.orig_id(), kind, tags, geom)
    repaired, dropped = _repair(
        path, frames, pending=pending, area_done=area_done, relations=relations, members=members
    )
    out = {
        name: _to_frame(frame, [k for k in specs[name] if k != "name"], columns)
        for name, frame in frames.items()
    }
    return out, repaired, dropped


def _way(
    way: Way,
    frames: dict[str, _Frame],
    *,
    area_specs: SpecTable,
    line_specs: SpecTable,
    pending: dict[int, _Pending],
    members: _MemberWays,
    wkb: osmium.geom.WKBFactory,
) -> None:
    tags = dict(way.tags)
    as_line = [name for name, spec in line_specs.items() if matches(tags, spec)]
    as_area = [name for name, spec in area_specs.items() if matches(tags, spec)]
    if not as_line and not as_area and way.id not in members.wanted:
        return
    vertices, missing = _vertices(way, wkb)
    if way.id in members.wanted:
        members.vertices[way.id] = vertices
    line = _line(vertices)
    for name in as_line:
        if line is not None:
            frames[name].add(way.id, "way", tags, line)
    if not as_area:
        return
    closed = way.is_closed()
    if closed or is_area_tags(tags):
        pending[way.id] = _Pending(tags, vertices, as_area, missing, closed)
    elif line is not None:
        for name in as_area:
            frames[name].add(way.id, "way", tags, line)


def _repair(
    path: Path,
    frames: dict[str, _Frame],
    *,
    pending: Mapping[int, _Pending],
    area_done: set[tuple[str, int]],
    relations: _Relations,
    members: _MemberWays,
) -> tuple[list[str], list[str]]:
    """Polygons for the ways and relations libosmium could not assemble; (repaired, dropped) ids."""
    repaired: list[str] = []
    dropped: list[str] = []
    for way_id, p in pending.items():
        if ("way", way_id) in area_done:
            continue
        cut = p.n_missing > 0 or not p.closed
        geom = _ring(_coords(p.vertices))
        if geom is None:
            if cut:
                dropped.append(f"w{way_id}")
            continue
        if cut:
            repaired.append(f"w{way_id}")
        else:  # a complete ring libosmium rejected (self-intersection...): made valid
            log.debug("`%s`: way %d is not a valid area; repaired with make_valid", path, way_id)
        for name in p.specs:
            frames[name].add(way_id, "way", p.tags, geom)
    for rel_id, (tags, wanted, ways) in relations.members.items():
        if ("relation", rel_id) in area_done:
            continue
        geom = _relation_polygon(ways, members.vertices)
        if geom is None:
            dropped.append(f"r{rel_id}")
            continue
        repaired.append(f"r{rel_id}")
        for name in wanted:
            frames[name].add(rel_id, "relation", tags, geom)
    if repaired or dropped:
        log.warning(
            "`%s`: %d polygons cut at the edge of the extract (or broken) were rebuilt from the "
            "nodes present %s; %d had too few nodes left and were dropped %s",
            path,
            len(repaired),
            repaired[:20],
            len(dropped),
            dropped[:20],
        )
    return repaired, dropped


def _to_frame(frame: _Frame, keys: Sequence[str], columns: Sequence[str]) -> gpd.GeoDataFrame:
    order = sorted(range(len(frame.ids)), key=lambda i: (_ORDER[frame.types[i]], frame.ids[i]))
    tags = [frame.tags[i] for i in order]
    data: dict[str, Any] = {
        "osm_id": np.array([frame.ids[i] for i in order], dtype=np.int64),
        "osm_type": [frame.types[i] for i in order],
        "name": [t.get("name") for t in tags],
    }
    for key in [*keys, *(c for c in columns if c not in keys)]:
        if key not in data:
            data[key] = [t.get(key) for t in tags]
    data["tags"] = [json.dumps(t, ensure_ascii=False, sort_keys=True) for t in tags]
    geoms = np.empty(len(order), dtype=object)
    geoms[:] = [frame.geoms[i] for i in order]
    hexes = np.array([isinstance(g, str) for g in geoms], dtype=bool)
    if hexes.any():
        geoms[hexes] = shapely.from_wkb(geoms[hexes])
    one_part = (shapely.get_type_id(geoms) == 6) & (shapely.get_num_geometries(geoms) == 1)
    geoms[one_part] = shapely.get_geometry(geoms[one_part], 0)
    geometry = gpd.GeoSeries(geoms, crs="EPSG:4326")
    gdf = gpd.GeoDataFrame(data, geometry=geometry, crs="EPSG:4326")
    gdf["osm_type"] = gdf["osm_type"].astype(object)
    return gdf


def osm_ids(gdf: gpd.GeoDataFrame) -> list[str]:
    """``n123`` / ``w45`` / ``r6`` ids of features read by :func:`read_layers`."""
    return [f"{_PREFIX[t]}{i}" for t, i in zip(gdf["osm_type"], gdf["osm_id"], strict=True)]
