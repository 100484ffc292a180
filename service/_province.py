"""What a province run adds to a city run's outputs: the per-city table and its summary (private).

:func:`by_city_table` gathers, per city, the figures a provincial bureau compares: people and
communities, risk levels of the communities, first-engine coverage today, the station plan
(before / after, proposed, recommended) and the depot network (people to relocate, served by
each tier, unmet). :func:`province_plan_summary` is the ``plan`` entry of ``summary.json``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from gis import Scenario
from planning import CoverageResult
from planning.cities import CITY_COLUMN, CityStationPlans
from planning.depot_tiers import TieredDepotPlan
from risk_models import LEVELS, RiskResult

__all__ = ["by_city_table", "province_plan_summary"]


def by_city_table(
    scenario: Scenario,
    community_risk: RiskResult,
    coverage: CoverageResult,
    stations: CityStationPlans | None,
    depots: TieredDepotPlan | None,
) -> pd.DataFrame:
    """One row per city: population, risk levels, coverage today, station plan, depot network."""
    com = scenario["communities"]
    city = com[CITY_COLUMN].astype(str)
    pop = com["population"].astype(float)
    t = pd.DataFrame({"communities": city.value_counts(), "population": pop.groupby(city).sum()})
    levels = community_risk.units["level"].astype(str).reindex(com.index)
    counts = pd.crosstab(city, levels).reindex(columns=list(LEVELS)[::-1], fill_value=0)
    t = t.join(counts.add_prefix("communities_"))
    score = community_risk.units["score"].reindex(com.index).astype(float)
    t["mean_risk_score"] = (score * pop).groupby(city).sum() / t["population"]
    t["max_risk_score"] = score.groupby(city).max()
    cov = coverage.communities
    covered = cov["covered"].reindex(com.index).fillna(False).astype(bool) if "covered" in cov else None
    if covered is not None:
        t["population_covered_share"] = (
            pop[covered].groupby(city[covered]).sum().reindex(t.index).fillna(0.0) / t["population"]
        )
    if stations is not None:
        s = stations.summary[
            [
                "population_share_after",
                "mean_response_before_s",
                "mean_response_after_s",
                "proposed",
                "recommended_new",
            ]
        ]
        t = t.join(s.add_prefix("stations_"))
    if depots is not None:
        t = t.join(depots.by_city.add_prefix("depots_"))
    return t.rename_axis(CITY_COLUMN).sort_index()


def _records(df: pd.DataFrame) -> dict[str, Any]:
    return json.loads(df.replace([np.inf, -np.inf], np.nan).round(4).to_json(orient="index"))


def province_plan_summary(
    stations: CityStationPlans | None, depots: TieredDepotPlan | None
) -> dict[str, object]:
    """The ``plan`` entry of a province's ``summary.json``: per-city station plans, depot tiers."""
    out: dict[str, object] = {}
    if stations is not None:
        out |= {
            "stations_by_city": _records(stations.summary),
            "stations_province": {k: round(v, 4) for k, v in stations.province_shares().items()},
            "proposed": [str(i) for i in stations.proposed.index],
            "recommended_new": int(stations.summary["recommended_new"].sum()),
            "cities_not_planned": dict(stations.skipped),
        }
    if depots is not None:
        out |= {
            "unmet_people": float(depots.unmet_people),
            "depot_tiers": _records(depots.tiers),
            "depots_by_city": _records(depots.by_city),
        }
    return out
