"""Isochrones grow with the break, follow the reached road, and count the people inside."""

from __future__ import annotations

import itertools

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from gis import demo_city, graph_from_lines
from planning.isochrones import band_population, isochrones
from planning.travel import snap_stations


@pytest.fixture(scope="module")
def demo() -> tuple[nx.MultiDiGraph, pd.Series, gpd.GeoDataFrame]:
    raw = demo_city(n_road_nodes=2000)
    G = graph_from_lines(raw["roads"])
    nodes = snap_stations(G, raw["fire_stations"].set_index("id"))["node"]
    return G, nodes, raw["communities"].set_index("id")


def test_areas_grow_with_the_break(demo: tuple[nx.MultiDiGraph, pd.Series, gpd.GeoDataFrame]) -> None:
    G, nodes, communities = demo
    iso = isochrones(G, nodes, breaks_s=[120, 180, 300, 480], offset_s=60)
    for _, rows in iso.groupby("station"):
        assert rows["area_km2"].is_monotonic_increasing
        assert rows["area_km2"].iloc[-1] > rows["area_km2"].iloc[0] > 0
        polys = rows.geometry.to_numpy()
        for small, big in itertools.pairwise(polys):
            assert small.difference(big).area < 1e-6
    pop = band_population(iso, communities)
    assert (pop["population_band"] >= 0).all()
    per_station = pop.groupby("station")["population_band"].sum()
    last = pop.groupby("station")["population_within"].last()
    assert np.allclose(per_station, last)
    assert (last <= communities["population"].sum() + 1e-6).all()


def test_partial_edges_and_offset() -> None:
    G = nx.MultiDiGraph(crs="EPSG:32649")
    G.add_node(0, x=0.0, y=0.0)
    G.add_node(1, x=1000.0, y=0.0)
    G.add_edge(0, 1, travel_time_s=100.0)
    G.add_edge(1, 0, travel_time_s=100.0)
    src = pd.Series([0], index=["S"])
    iso = isochrones(G, src, breaks_s=[10, 60, 110], offset_s=10, buffer_m=50, pixel_m=10, max_hole_m2=0)
    assert iso["area_km2"].iloc[0] == 0
    # half the road (500 m) reached after 50 s of travel: a band about 500 m x 100 m plus the end cap
    half = iso.geometry.iloc[1]
    assert 0.045 < iso["area_km2"].iloc[1] < 0.065
    assert half.bounds[2] == pytest.approx(500, abs=20)
    assert iso.geometry.iloc[2].covers(shapely.Point(1000, 0))


def test_bad_breaks(demo: tuple[nx.MultiDiGraph, pd.Series, gpd.GeoDataFrame]) -> None:
    G, nodes, _ = demo
    with pytest.raises(ValueError, match="breaks_s"):
        isochrones(G, nodes, breaks_s=[])
