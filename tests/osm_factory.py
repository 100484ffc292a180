"""A small city written as OpenStreetMap XML, shaped like real extracts, for real-city tests.

It has what real extracts have and the demo city does not: roads only in the OSM file (no
``roads`` layer), no study area and no barriers, unnamed features, a fire station mapped as a
building, a community at the end of a long road that no station can reach in time, and one
with no road at all. Layers come from the file through ``osm_tags``, as the README shows.

Layout (about 2.1 x 2.1 km, 300 m blocks; ``origin`` is its south-west corner)::

    off-road community (1.5 km north, no road)

    +--+--+--+--+--+--+--+      row 3: primary "Main Road"; column 3: secondary "Cross Road"
    |  |  |  |  |  |  |  |      residential polygons in some blocks (one unnamed)
    +--+--+--+--+--+--+--+======================= 8 km tertiary road ==== far community
    F (fire station)     fuel station near the north-east corner
"""

from __future__ import annotations

import math
from pathlib import Path
from xml.sax.saxutils import quoteattr

__all__ = ["write_city_osm", "write_city_scenario"]

STEP_M = 300.0
N = 8  # grid nodes per side
FAR_ROAD_KM = 8.0

#: The blocks (column, row of the south-west node) that hold a residential polygon.
BLOCKS = ((1, 1), (2, 4), (4, 1), (5, 5), (1, 5), (5, 2))


class _Doc:
    def __init__(self, lon0: float, lat0: float) -> None:
        self.lon0, self.lat0 = lon0, lat0
        self.dlon = 1.0 / (111_320.0 * math.cos(math.radians(lat0)))
        self.dlat = 1.0 / 110_574.0
        self.nodes: list[str] = []
        self.ways: list[str] = []
        self.next_id = 1

    def node(self, x_m: float, y_m: float, tags: dict[str, str] | None = None) -> int:
        nid = self.next_id
        self.next_id += 1
        lon, lat = self.lon0 + x_m * self.dlon, self.lat0 + y_m * self.dlat
        body = "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in (tags or {}).items())
        self.nodes.append(f'<node id="{nid}" version="1" lat="{lat:.7f}" lon="{lon:.7f}">{body}</node>')
        return nid

    def way(self, refs: list[int], tags: dict[str, str]) -> int:
        wid = 1000 + len(self.ways)
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        body = "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
        self.ways.append(f'<way id="{wid}" version="1">{nds}{body}</way>')
        return wid

    def area(self, x0: float, y0: float, x1: float, y1: float, tags: dict[str, str]) -> int:
        ring = [self.node(x0, y0), self.node(x1, y0), self.node(x1, y1), self.node(x0, y1)]
        return self.way([*ring, ring[0]], tags)

    def text(self) -> str:
        return (
            "<?xml version='1.0' encoding='UTF-8'?>\n<osm version=\"0.6\" generator=\"riskplan tests\">\n"
            + "\n".join(self.nodes + self.ways)
            + "\n</osm>\n"
        )


def write_city_osm(path: Path, *, origin: tuple[float, float] = (112.50, 37.80)) -> Path:
    """Write the city as OSM XML at ``path`` (``.osm``); ``origin`` is (lon, lat) of its south-west corner."""
    doc = _Doc(*origin)
    grid = [[doc.node(i * STEP_M, j * STEP_M) for i in range(N)] for j in range(N)]
    for j in range(N):
        tags = {"highway": "primary", "name": "Main Road"} if j == 3 else {"highway": "residential"}
        doc.way(grid[j], tags)
    for i in range(N):
        tags = {"highway": "secondary", "name": "Cross Road"} if i == 3 else {"highway": "residential"}
        doc.way([grid[j][i] for j in range(N)], tags)
    # a long country road east from the grid's east edge, and a community at its end
    east = (N - 1) * STEP_M
    steps = int(FAR_ROAD_KM / 0.8)
    far = [grid[1][N - 1]] + [doc.node(east + k * 800.0, STEP_M) for k in range(1, steps + 1)]
    doc.way(far, {"highway": "tertiary", "name": "Far Road"})
    end = east + FAR_ROAD_KM * 1000
    doc.area(
        end - 150, STEP_M + 20, end + 150, STEP_M + 250, {"landuse": "residential", "name": "Far Village"}
    )
    # a community with no road within 1.5 km
    top = (N - 1) * STEP_M
    doc.area(900, top + 1500, 1200, top + 1800, {"landuse": "residential", "name": "Hill Hamlet"})
    for k, (bi, bj) in enumerate(BLOCKS):
        tags = {"landuse": "residential"} | ({} if k == 0 else {"name": f"Block {bi}-{bj}"})
        x0, y0 = bi * STEP_M + 30, bj * STEP_M + 30
        doc.area(x0, y0, x0 + STEP_M - 60, y0 + STEP_M - 60, tags)
    # a fire station mapped as a building (as most real ones are), and a fuel station
    doc.area(20, 20, 80, 70, {"amenity": "fire_station", "building": "fire_station", "name": "West Station"})
    doc.node(6.5 * STEP_M, 6.6 * STEP_M, {"amenity": "fuel"})
    path.write_text(doc.text(), encoding="utf-8")
    return path


def write_city_scenario(directory: Path, *, origin: tuple[float, float] = (112.50, 37.80)) -> Path:
    """The city's OSM file and a scenario TOML reading every layer from it; returns the TOML."""
    osm = write_city_osm(directory / "city.osm", origin=origin)
    toml = directory / "scenario.toml"
    toml.write_text(
        f"""[scenario]
name = "OSM test city"

[layers.roads]
path = "{osm.name}"

[layers.fire_stations]
path = "{osm.name}"
osm_tags = {{ amenity = "fire_station" }}
points = "representative"
defaults = {{ grade = "grade1" }}

[layers.hazards]
path = "{osm.name}"
osm_tags = {{ amenity = "fuel" }}
defaults = {{ category = "fuel_gas" }}

[layers.communities]
path = "{osm.name}"
osm_tags = {{ landuse = "residential" }}
defaults = {{ population = 1000 }}
""",
        encoding="utf-8",
    )
    return toml
