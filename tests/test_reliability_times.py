"""The reliability on the coverage's own station x community times, off-network communities flagged."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import shapely

from gis import RoadsSource, Scenario, graph_from_lines
from planning.coverage import analyse_coverage
from planning.reliability import analyse_reliability
from planning.reliability.times import response_times
from planning.travel import cost_matrix

OFF = 2  # communities moved off the road network


@pytest.fixture(scope="module")
def case(_demo_city: dict[str, Any]) -> dict[str, Any]:
    city = {name: layer.copy() for name, layer in _demo_city.items()}
    com = city["communities"]
    *_, x1, y1 = city["roads"].total_bounds
    moved = com.index[:OFF]
    # 5 km beyond the city's last road: farther than the 500 m snap limit
    com.loc[moved, "geometry"] = [shapely.Point(x1 + 5000 + 100 * i, y1 + 5000) for i in range(OFF)]
    sc = Scenario("Demo City (synthetic)", city, city["roads"].crs, RoadsSource("layer"))
    graph = graph_from_lines(city["roads"])
    cov = analyse_coverage(sc, graph, breaks_s=None, districts=False)
    return {"sc": sc, "graph": graph, "cov": cov, "moved": moved}


def test_times_are_the_coverage_s_own(case: dict[str, Any]) -> None:
    sc, graph, cov = case["sc"], case["graph"], case["cov"]
    times, off = response_times(
        graph, sc["fire_stations"], sc["communities"], standard=cov.standard, coverage=cov
    )
    assert off.index.equals(sc["communities"].index) and list(off[off].index) == list(case["moved"])
    on = ~off.to_numpy()
    # the nearest station's time is the coverage's response time, to the bit
    assert np.array_equal(times.to_numpy()[on].min(axis=1), cov.communities["response_time_s"].to_numpy()[on])
    # the matrix the reliability used to compute by itself gives the same answers where both exist
    before = cov.standard.turnout_s + cost_matrix(graph, sc["fire_stations"], sc["communities"])
    assert np.allclose(times.to_numpy()[on], before[on], rtol=0, atol=1e-9)
    assert np.isinf(times.to_numpy()[~on]).all()  # no made-up response off the network
    # without a coverage the same rule gives the same times and flags
    alone, off_alone = response_times(graph, sc["fire_stations"], sc["communities"], standard=cov.standard)
    assert off_alone.equals(off) and np.array_equal(alone.to_numpy(), times.to_numpy())


def test_off_network_communities_are_flagged_and_left_out(case: dict[str, Any]) -> None:
    sc, graph, cov, moved = case["sc"], case["graph"], case["cov"], case["moved"]
    rel = analyse_reliability(sc, graph, coverage=cov)
    comm = rel.communities
    assert comm.index.equals(sc["communities"].index)
    assert comm["off_network"].sum() == OFF and comm.loc[moved, "off_network"].all()
    assert comm.loc[moved, "expected_response_p90_s"].isna().all()
    assert comm.loc[moved, "expected_coverage"].isna().all()
    assert (comm.loc[moved, "calls_per_day"] >= 0).all()  # their calls are still counted as theirs
    assert rel.city["off_network_communities"] == OFF
    assert any(f"{OFF} communities off the road network" in n for n in rel.notes)
    # the city's figures are the on-network communities' alone
    assert rel.workload is not None and not rel.workload.areas.index.isin(moved).any()
    on = comm[~comm["off_network"]]
    calls = on["calls_per_day"].to_numpy()
    assert rel.city["calls_per_day"] == pytest.approx(calls.sum())
    assert rel.city["expected_coverage"] == pytest.approx(
        float((on["expected_coverage"] * calls).sum() / calls.sum())
    )
    # the same answers with and without the coverage
    alone = analyse_reliability(sc, graph)
    assert alone.city == pytest.approx(rel.city)
