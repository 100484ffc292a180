"""Roads with a `city` column: every edge keeps its line's city, through save / load and networkx."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely import LineString, Polygon

from gis.demo._province_assemble import road_cities
from gis.network import graph_from_lines, load_graph, save_graph

EAST, WEST = "Dongshan (synthetic)", "Xiling (synthetic)"


@pytest.fixture
def roads() -> gpd.GeoDataFrame:
    """Four streets in two cities and one country road (no city) between them, in UTM."""
    x0, y0 = 500_000.0, 4_190_000.0
    pts = [(x0 + 1000 * k, y0) for k in range(5)]
    return gpd.GeoDataFrame(
        {
            "highway": ["primary"] * 4 + ["secondary"],
            "city": [EAST, EAST, WEST, WEST, None],
        },
        geometry=[
            LineString([pts[0], pts[1]]),
            LineString([pts[1], (x0 + 1500, y0 + 300), pts[2]]),
            LineString([pts[2], pts[3]]),
            LineString([pts[3], pts[4]]),
            LineString([pts[0], (x0 + 2000, y0 - 800), pts[4]]),
        ],
        crs=32649,
    )


def test_every_edge_keeps_its_lines_city(roads: gpd.GeoDataFrame) -> None:
    roads["osm_id"] = np.arange(len(roads))
    g = graph_from_lines(roads)
    got = dict(zip(g.osm_way_id.tolist(), g.edge_attrs["city"].tolist(), strict=True))
    assert got == {k: c if isinstance(c, str) else None for k, c in enumerate(roads["city"])}
    assert g.edge_attribute("city").tolist() == g.edge_attrs["city"].tolist()


def test_no_city_column_means_no_city_attribute(roads: gpd.GeoDataFrame) -> None:
    assert "city" not in graph_from_lines(roads.drop(columns="city")).edge_attrs


@pytest.mark.parametrize("suffix", [".npz", ".gpkg"])
def test_city_is_kept_by_save_and_load(roads: gpd.GeoDataFrame, tmp_path: Path, suffix: str) -> None:
    roads["osm_id"] = np.arange(len(roads))
    g = graph_from_lines(roads)
    back = load_graph(save_graph(g, tmp_path / f"g{suffix}"))
    assert back.edge_attrs["city"].tolist() == g.edge_attrs["city"].tolist()


def test_city_in_networkx_and_subgraph(roads: gpd.GeoDataFrame) -> None:
    g = graph_from_lines(roads)
    nxg = g.to_networkx()
    assert sorted({d.get("city") or "" for *_, d in nxg.edges(data=True)}) == ["", EAST, WEST]
    sub = g.subgraph(np.arange(3))
    kept = {(int(u), int(v)) for u, v in zip(g.sources, g.targets, strict=True) if u < 3 and v < 3}
    assert sub.n_edges == len(kept)
    assert set(sub.edge_attrs["city"].tolist()) <= set(g.edge_attrs["city"].tolist())


def test_a_road_belongs_to_the_territory_holding_most_of_its_length() -> None:
    west = Polygon([(0, 0), (10, 0), (10, 10), (0, 10)])
    east = Polygon([(10, 0), (20, 0), (20, 10), (10, 10)])
    lines = np.array(
        [
            LineString([(1, 1), (9, 9)]),  # inside the west
            LineString([(8, 5), (19, 5)]),  # 2 in the west, 9 in the east
            LineString([(2, 5), (12, 5)]),  # 8 in the west, 2 in the east
            LineString([(11, 2), (13, 2), (19, 3)]),  # inside the east
        ],
        dtype=object,
    )

    def locate(xy, terr):
        return np.where(xy[:, 0] < 10, 0, 1)

    assert road_cities(lines, [west, east], locate).tolist() == [0, 1, 0, 1]


def test_a_file_with_coded_text_says_so_and_one_without_keeps_the_first_format(
    roads: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    def stored_format(path: Path) -> str:
        with np.load(path, allow_pickle=False) as data:
            return str(json.loads(str(data["meta"]))["format"])

    with_city = save_graph(graph_from_lines(roads), tmp_path / "city.npz")
    without = save_graph(graph_from_lines(roads.drop(columns="city")), tmp_path / "plain.npz")
    assert stored_format(with_city) == "riskplan-road-graph-npz-2"  # a -1 reader refuses it
    assert stored_format(without) == "riskplan-road-graph-npz-1"
    assert "city" not in load_graph(without).edge_attrs
