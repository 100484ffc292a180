"""The province run's speed-ups give the answers of the plain way: subgraph lines, depot suggestions."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gis import load_scenario, scenario_graph, write_demo_province
from gis.network import EdgeShapes
from planning import depot_tiers
from planning.cities import box_subgraph, city_box, scenario_cities
from planning.depot_tiers import hours_to_points
from planning.siting import load_norms
from planning.travel import cost_matrix

SMALL = 30_000


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    folder = tmp_path_factory.mktemp("province")
    scenario = load_scenario(write_demo_province(folder / "p", n_road_nodes=SMALL, seed=7))
    return scenario, scenario_graph(scenario, cache=False)


def test_a_subgraph_shares_its_parents_lines_and_snaps_as_with_new_lines(province) -> None:
    scenario, graph = province
    city = scenario_cities(scenario)[0]
    box = city_box(scenario, city, margin_m=5000.0)
    fresh = box_subgraph(graph, box)  # the parent's lines not made yet: the subgraph makes its own
    graph.edge_geometries()
    shared = box_subgraph(graph, box)
    assert "geoms" in shared.edge_shapes().__dict__ and "geoms" not in fresh.edge_shapes().__dict__
    own = EdgeShapes(shared.geometry_xy, shared.geometry_offsets).geoms
    assert shapely.equals_exact(shared.edge_geometries(), own, 0).all()
    com = scenario["communities"]
    com = com[com["city"] == city]
    dep = scenario["depots"]
    a = cost_matrix(fresh, dep, com)
    b = cost_matrix(shared, dep, com)
    assert np.array_equal(a, b)


def test_hours_from_the_targets_side_equal_the_cost_matrix(province) -> None:
    scenario, graph = province
    city = scenario_cities(scenario)[1]
    sub = box_subgraph(graph, city_box(scenario, city, margin_m=20_000.0))
    cand = scenario["candidate_sites"]
    cand = cand[cand["city"] == city]
    com = scenario["communities"]
    com = com[com["city"] == city]
    want = cost_matrix(sub, cand, com.iloc[:7]) / 3600.0
    got = hours_to_points(sub, cand, com.iloc[:7])  # 7 communities: at most 14 searches, not one per site
    assert len(cand) > 14
    assert np.array_equal(np.isfinite(got), np.isfinite(want))
    np.testing.assert_allclose(got[np.isfinite(got)], want[np.isfinite(want)], rtol=1e-12, atol=0)
    many = hours_to_points(sub, cand.iloc[:3], com)  # more targets than sources: the plain matrix
    assert np.array_equal(many, cost_matrix(sub, cand.iloc[:3], com) / 3600.0)


def test_new_depots_are_those_of_the_plain_matrix(province, monkeypatch) -> None:
    scenario, graph = province
    com = scenario["communities"]
    cities = scenario_cities(scenario)[:3]
    out = gpd.GeoDataFrame(
        {"city": com["city"], "unmet_people": 0.0}, geometry=com.geometry, crs=com.crs, index=com.index
    )
    for k, city in enumerate(cities):  # a few unmet communities in each city: fewer than its sites
        rows = np.flatnonzero((com["city"] == city).to_numpy())[::40][: 3 + 4 * k]
        out.iloc[rows, out.columns.get_loc("unmet_people")] = 3000.0
    cfg = load_norms(None)
    searches: list[int] = []
    dijkstra = depot_tiers.dijkstra

    def counted(*args, **kwargs):
        searches.append(len(kwargs["indices"]))
        return dijkstra(*args, **kwargs)

    monkeypatch.setattr(depot_tiers, "dijkstra", counted)
    kw = {"cfg": cfg, "limit_s": 30.0, "gap": float(cfg["depot_network"]["mip_rel_gap"]), "margin": 20_000.0}
    fast = depot_tiers._new_depots(scenario, graph, out, notes=[], **kw)
    assert searches, "the unmet communities' side was not searched"
    monkeypatch.setattr(depot_tiers, "hours_to_points", lambda g, c, u: cost_matrix(g, c, u) / 3600.0)
    plain = depot_tiers._new_depots(scenario, graph, out, notes=[], **kw)
    assert len(fast) > 0 and set(fast["city"]) == set(cities)
    pd.testing.assert_frame_equal(fast, plain)
