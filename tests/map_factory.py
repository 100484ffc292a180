"""Inputs for map and report tests: a small demo city with risk, coverage and a made-up plan."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd

from gis import RoadsSource, Scenario, demo_city, graph_from_lines

#: Hazards of the map inputs drawn as site areas (polygons) rather than points.
AREA_HAZARDS = 5


@dataclass(frozen=True)
class MadeUpStationPlan:
    """Stands in for a :class:`planning.StationPlan`: what the maps read of one."""

    proposed: gpd.GeoDataFrame
    tradeoff: pd.DataFrame


@dataclass(frozen=True)
class MadeUpDepotPlan:
    """Stands in for a :class:`planning.DepotPlan`: who each depot serves, no depot table."""

    served: pd.Series

    def table(self) -> pd.DataFrame:
        return pd.DataFrame()


def map_inputs(
    reasons: Sequence[str], tradeoff: pd.DataFrame
) -> tuple[Scenario, Any, Any, MadeUpStationPlan, MadeUpDepotPlan]:
    """``(scenario, risk, coverage, station_plan, depot_plan)`` on a 3,000-node demo city.

    ``reasons`` (three strings) label the proposed stations, so tests can check escaping;
    ``tradeoff`` is the station plan's curve.
    """
    from planning.coverage import analyse_coverage
    from risk_models import score_scenario

    city = demo_city(n_road_nodes=3000)
    layers = dict(city)
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
    return sc, risk, cov, MadeUpStationPlan(proposed, tradeoff), MadeUpDepotPlan(served)
