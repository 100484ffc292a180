"""Inputs for map and report tests: a small demo city with risk, coverage and a made-up plan."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from gis import RoadsSource, Scenario, demo_city, graph_from_lines

#: Hazards of the map inputs drawn as site areas (polygons) rather than points.
AREA_HAZARDS = 5


def map_inputs(reasons: Sequence[str]) -> tuple[Scenario, Any, Any, pd.DataFrame, pd.Series]:
    """``(scenario, risk, coverage, proposed, depots_served)`` on a 3,000-node demo city.

    ``reasons`` (three strings) label the proposed stations, so tests can check escaping.
    """
    from planning.coverage import analyse_coverage
    from risk_models import score_scenario

    city = demo_city(n_road_nodes=3000)
    layers = {k: v.set_index("id") if "id" in v else v for k, v in city.items()}
    # real data maps many plants as site areas: draw a few hazards as footprints
    hazards = layers["hazards"].copy()
    areas = hazards.index[hazards["category"] == "hazardous_chemicals"][:AREA_HAZARDS]
    hazards.loc[areas, "geometry"] = hazards.loc[areas].geometry.buffer(80.0)
    layers["hazards"] = hazards
    sc = Scenario("Demo City", layers, layers["roads"].crs, RoadsSource("layer"), synthetic=True)
    cov = analyse_coverage(sc, graph_from_lines(city["roads"]))
    risk = score_scenario(sc, learn=False, response_time_s=cov.communities["response_time_s"])
    proposed = sc["candidate_sites"].head(3).copy()
    proposed["reason"] = list(reasons)
    proposed["added_demand"] = [52000, 31000, 12000]
    served = pd.Series(["D1", "D2", "D3"] * 50, index=sc["communities"].index)
    return sc, risk, cov, proposed, served
