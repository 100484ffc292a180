"""Small OSM XML files written by hand in tests (osm_xml): a builder, and a little city for `riskplan init`.

Coordinates are built in metres east / north of an origin near Taiyuan (112.55 E, 37.85 N) and
turned into degrees with a local scale, so that areas are easy to compute by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

import osmium

LON0, LAT0 = 112.55, 37.85
M_PER_DEG_LAT = 111_320.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT0))


def lonlat(x_m: float, y_m: float) -> tuple[float, float]:
    """Degrees of the point ``x_m`` east and ``y_m`` north of the origin."""
    return LON0 + x_m / M_PER_DEG_LON, LAT0 + y_m / M_PER_DEG_LAT


@dataclass
class OsmXml:
    """Collects nodes, ways and relations, then writes OSM XML (or PBF through pyosmium)."""

    nodes: list[tuple[int, float, float, dict[str, str]]] = field(default_factory=list)
    ways: list[tuple[int, list[int], dict[str, str]]] = field(default_factory=list)
    relations: list[tuple[int, list[tuple[str, int, str]], dict[str, str]]] = field(default_factory=list)
    next_id: int = 1

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def node(self, x_m: float, y_m: float, tags: dict[str, str] | None = None) -> int:
        """A node at (x_m, y_m) metres from the origin; returns its id."""
        lon, lat = lonlat(x_m, y_m)
        nid = self._id()
        self.nodes.append((nid, lon, lat, dict(tags or {})))
        return nid

    def way(self, refs: list[int], tags: dict[str, str] | None = None) -> int:
        """A way through the node ids ``refs``; returns its id."""
        wid = self._id()
        self.ways.append((wid, list(refs), dict(tags or {})))
        return wid

    def line(self, points: list[tuple[float, float]], tags: dict[str, str] | None = None) -> int:
        """A way through new nodes at ``points`` (metres)."""
        return self.way([self.node(x, y) for x, y in points], tags)

    def rect(self, x0: float, y0: float, x1: float, y1: float, tags: dict[str, str] | None = None) -> int:
        """A closed way around the rectangle (metres); returns its id."""
        ids = [self.node(x0, y0), self.node(x1, y0), self.node(x1, y1), self.node(x0, y1)]
        return self.way([*ids, ids[0]], tags)

    def relation(self, members: list[tuple[str, int, str]], tags: dict[str, str]) -> int:
        """A relation of ``(type, ref, role)`` members; returns its id."""
        rid = self._id()
        self.relations.append((rid, members, dict(tags)))
        return rid

    def drop_nodes(self, ids: set[int]) -> None:
        """Remove nodes (as an extract cut at its edge does) but keep the ways' references."""
        self.nodes = [n for n in self.nodes if n[0] not in ids]

    def text(self) -> str:
        def tags(t: dict[str, str]) -> str:
            return "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in t.items())

        out = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="tests">']
        for nid, lon, lat, t in self.nodes:
            out.append(f'<node id="{nid}" version="1" lat="{lat:.7f}" lon="{lon:.7f}">{tags(t)}</node>')
        for wid, refs, t in self.ways:
            nds = "".join(f'<nd ref="{r}"/>' for r in refs)
            out.append(f'<way id="{wid}" version="1">{nds}{tags(t)}</way>')
        for rid, members, t in self.relations:
            ms = "".join(f'<member type="{k}" ref="{r}" role="{role}"/>' for k, r, role in members)
            out.append(f'<relation id="{rid}" version="1">{ms}{tags(t)}</relation>')
        out.append("</osm>")
        return "\n".join(out)

    def write(self, path: Path) -> Path:
        """Write XML, or PBF when ``path`` ends with ``.pbf`` (converted with pyosmium)."""
        path = Path(path)
        if path.name.endswith(".pbf"):
            xml = path.with_name(path.name.removesuffix(".pbf").removesuffix(".osm") + ".src.osm")
            xml.write_text(self.text(), encoding="utf-8")
            with osmium.SimpleWriter(str(path)) as writer:
                for obj in osmium.FileProcessor(str(xml)):
                    writer.add(obj)
            xml.unlink()
        else:
            path.write_text(self.text(), encoding="utf-8")
        return path


def street_grid(
    osm: OsmXml, n: int = 5, step_m: float = 400.0, highway: str = "residential"
) -> list[list[int]]:
    """An n x n grid of two-way streets, ``step_m`` apart; returns the node ids by row."""
    grid = [[osm.node(i * step_m, j * step_m) for i in range(n)] for j in range(n)]
    for j in range(n):
        osm.way(grid[j], {"highway": "primary" if j == n // 2 else highway, "name": f"Row {j}"})
    for i in range(n):
        osm.way([grid[j][i] for j in range(n)], {"highway": highway, "name": f"Column {i}"})
    return grid


def little_city(*, residential: bool = True, stations: bool = True, hazards: bool = True) -> OsmXml:
    """A 1.6 x 1.6 km street grid with stations, hazards, homes, a school, a river and a railway.

    Hand-computable facts (see tests/test_extract.py):

    - stations: one node, one ``building=fire_station`` way, one multipolygon relation;
    - hazards: an oil tank (30 x 30 m: small), a fuel station node (small), a chemical works
      (200 x 100 m = 2 ha: medium), a quarry (300 x 300 m = 9 ha: large), an unnamed LPG shop;
    - communities A, B, C (``landuse=residential``): A is 400 x 400 m with ten 40 x 40 m
      apartment blocks of 6 levels (footprint share 10 %: 10 x 1600 x 6 / 40 = 2,400 residents),
      B is 400 x 400 m without buildings (0.16 km2 x 10,000 = 1,600), C is 400 x 200 m with one
      20 x 20 m office (0 residents by type, but 0.5 % coverage: density, 800);
    - a school node without a name, a hospital building; a river (waterway) at y = 1000, a railway
      (railway=rail; a siding beside it) at y = 1500 and a motorway along the south edge.
    """
    osm = OsmXml()
    grid = street_grid(osm)
    osm.line([(-100, -150), (1700, -150)], {"highway": "motorway", "name": "Ring"})
    osm.way([grid[0][0], osm.node(-100, -150)], {"highway": "motorway_link"})
    osm.line([(-200, 1000), (1800, 1000)], {"waterway": "river", "name": "Fen"})
    osm.line([(-200, 1500), (1800, 1500)], {"railway": "rail"})
    osm.line([(-200, 1550), (1800, 1550)], {"railway": "rail", "service": "siding"})
    osm.line([(0, 10), (400, 10)], {"highway": "footway"})
    if stations:
        osm.node(200, 210, {"amenity": "fire_station", "name": "Station One"})
        osm.rect(1210, 1210, 1250, 1250, {"amenity": "fire_station", "building": "fire_station"})
        outer = osm.rect(610, 1210, 660, 1260)
        osm.relation(
            [("way", outer, "outer")], {"type": "multipolygon", "amenity": "fire_station", "name": "Three"}
        )
    if hazards:
        osm.rect(1000, 300, 1030, 330, {"man_made": "storage_tank", "content": "oil", "name": "Tank 1"})
        osm.node(850, 420, {"amenity": "fuel", "name": "Fuel"})
        osm.rect(1100, 500, 1300, 600, {"landuse": "industrial", "industrial": "chemical", "name": "ChemCo"})
        osm.rect(1300, 1300, 1600, 1600, {"landuse": "quarry"})
        osm.node(900, 900, {"shop": "gas"})
    if residential:
        osm.rect(0, 0, 400, 400, {"landuse": "residential", "name": "A"})
        for k in range(10):
            x = 20 + (k % 5) * 70
            y = 40 + (k // 5) * 200
            osm.rect(x, y, x + 40, y + 40, {"building": "apartments", "building:levels": "6"})
        osm.rect(400, 0, 800, 400, {"landuse": "residential", "name": "B"})
        osm.rect(0, 400, 400, 600, {"landuse": "residential", "name": "C"})
        osm.rect(100, 450, 120, 470, {"building": "office"})
    osm.node(600, 700, {"amenity": "school"})
    osm.rect(700, 700, 760, 760, {"amenity": "hospital", "building": "hospital", "name": "People's Hospital"})
    return osm
