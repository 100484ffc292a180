"""A province planned city by city: its cities, each city's piece of the network, station plans.

A province scenario (``riskplan demo --province``, or any scenario whose communities carry a
``city`` column naming two or more cities) is planned the way a provincial bureau plans it:
every prefecture city decides its own new fire stations, on its own candidate sites, for its own
communities, while every existing station near the city (its own or a neighbour's) counts as
already there.

Each city's station plan runs on the **city's subgraph**: the road nodes in the box around the
city's communities and candidate sites, grown by the farthest a fire engine can drive within the
response standard (the travel part of the standard x the fastest road speed of the graph, plus
the snap limit). Any route of at most that time from a station to a community in the city stays
inside the grown box, so every response time within the standard is that of the same route as
on the province graph (equal up to the order of the sum, about 1e-15 relative), and so is every
coverage figure of the plan (MCLP, LSCP, backup); a time beyond the standard is that of the best
route inside the box. The city's
subgraph is a tenth of the province's graph or less, so its cost matrices are cheap, and the
plans are independent: :func:`plan_stations_by_city` runs them as tasks of a
:class:`gis.executor.Executor` (in process, or on Dask with the province graph sent to every
worker once and the subgraph cut there). The demand weights are computed once for the whole
province (population x risk percentile among all communities), so two cities' demands compare.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.atomic import write_gpkg
from gis.errors import InputError
from gis.executor import Executor, Progress, as_executor
from gis.network import RoadGraph, as_road_graph
from gis.scenario import Scenario
from gis.speech import in_language, spoken_lang
from gis.tables import TableOverrides, load_table

from .demand import demand_weights
from .names import DEFAULT_STANDARD, Model
from .siting import load_norms
from .standards import ResponseStandard, response_standard
from .stations import StationPlan, plan_stations

if TYPE_CHECKING:
    from gis.network.graph import GraphLike
    from risk_models import RiskResult

__all__ = [
    "CITY_COLUMN",
    "CityStationPlans",
    "box_subgraph",
    "city_box",
    "city_scenario",
    "plan_stations_by_city",
    "scenario_cities",
]

log = logging.getLogger(__name__)

#: The column naming the city (territory) a feature lies in, on every layer of a province.
CITY_COLUMN = "city"

#: Layers cut to a city's box (the others are kept whole: they are small, or only looked up).
_BOXED = ("fire_stations", "hazards", "sensitive_sites", "roads", "depots", "barriers")


def scenario_cities(scenario: Scenario) -> list[str]:
    """The cities of a province scenario, in order of first appearance; [] for a single city.

    A scenario is a province when its ``communities`` carry a ``city`` column with at least two
    distinct names (communities without one are planned with no city).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from gis import load_scenario, write_demo_scenario
    >>> path = write_demo_scenario(pathlib.Path(tempfile.mkdtemp()) / "demo.gpkg", n_road_nodes=2000)
    >>> scenario_cities(load_scenario(path))
    []
    """
    com = scenario.layers.get("communities")
    if com is None or CITY_COLUMN not in com:
        return []
    names = [str(c) for c in pd.unique(com[CITY_COLUMN].dropna())]
    return names if len(names) >= 2 else []


def _in_city(gdf: gpd.GeoDataFrame, city: str) -> gpd.GeoDataFrame:
    if CITY_COLUMN not in gdf:
        return gdf.iloc[:0]
    return gdf[gdf[CITY_COLUMN].astype(str) == city]


def city_box(scenario: Scenario, city: str, *, margin_m: float) -> tuple[float, float, float, float]:
    """``(minx, miny, maxx, maxy)`` of the city's communities and candidate sites, grown by ``margin_m``."""
    parts = [
        _in_city(scenario[name], city) for name in ("communities", "candidate_sites") if name in scenario
    ]
    geoms = np.concatenate([p.geometry.values for p in parts if len(p)]) if parts else np.array([])
    if len(geoms) == 0:
        msg = f"City `{city}` has no communities. Fix: check the `{CITY_COLUMN}` column of `communities`."
        raise InputError(msg)
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    return (minx - margin_m, miny - margin_m, maxx + margin_m, maxy + margin_m)


def city_scenario(scenario: Scenario, city: str, *, box: tuple[float, float, float, float]) -> Scenario:
    """The city's part of a province: its communities and candidate sites, the rest in ``box``.

    Communities, candidate sites and incidents of the city; stations, depots, hazards, sensitive
    sites, roads and barriers of any city inside ``box`` (a neighbour's station may serve the
    city's edge; a hazard across the border still rules out a site next to it); the study area
    and other layers as they are.
    """
    area = shapely.box(*box)
    layers: dict[str, gpd.GeoDataFrame] = {}
    for name, gdf in scenario.layers.items():
        if name in ("communities", "candidate_sites", "incidents"):
            layers[name] = _in_city(gdf, city) if CITY_COLUMN in gdf else gdf
        elif name in _BOXED and len(gdf):
            layers[name] = gdf.iloc[np.unique(shapely.STRtree(gdf.geometry.values).query(area))]
        else:
            layers[name] = gdf
    return dataclasses.replace(scenario, name=f"{scenario.name}: {city}", layers=layers)


def box_subgraph(graph: GraphLike, box: tuple[float, float, float, float]) -> RoadGraph:
    """The road graph of ``box``: every edge with an end inside it, with both its ends, renumbered.

    Examples
    --------
    >>> from gis.network import graph_from_osm
    >>> G = graph_from_osm("tests/fixtures/tiny_city.osm.xml")
    >>> x, y = G.node_xy[:, 0], G.node_xy[:, 1]
    >>> H = box_subgraph(G, (x.min(), y.min(), x.max(), y.max()))
    >>> (H.n_nodes, H.n_edges) == (G.n_nodes, G.n_edges)
    True
    """
    g = as_road_graph(graph)
    xy = g.node_xy
    inside = (xy[:, 0] >= box[0]) & (xy[:, 1] >= box[1]) & (xy[:, 0] <= box[2]) & (xy[:, 1] <= box[3])
    src = g.sources
    touch = inside[src] | inside[g.targets]  # an edge leaving the box is kept whole: what snaps
    keep = inside.copy()  # to it inside the box snaps the same as on the whole graph
    keep[src[touch]] = True
    keep[g.targets[touch]] = True
    return g.subgraph(keep, source=f"{g.source} (box {', '.join(f'{v:,.0f}' for v in box)})")


def _reach_m(graph: RoadGraph, std: ResponseStandard, max_snap_m: float | None) -> float:
    """How far from a community a route within the standard can go: travel x fastest speed + snap."""
    speed = np.asarray(graph.speed_kph, dtype=float)
    fastest = float(np.nanmax(speed)) if np.isfinite(speed).any() else 130.0
    snap = float(load_table("road_speeds")["defaults"]["max_snap_m"]) if max_snap_m is None else max_snap_m
    travel_s = max(std.response_s - std.turnout_s, 0.0)
    return travel_s * fastest / 3.6 + 2.0 * snap + 100.0


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, eq=False)
class CityStationPlans:
    """A station plan per city of a province.

    Attributes
    ----------
    plans
        ``{city: StationPlan}`` of every city that could be planned.
    skipped
        ``{city: reason}`` of the cities whose plan could not be made (no eligible candidate...).
    standard
        The response profile of every plan.
    """

    plans: Mapping[str, StationPlan]
    skipped: Mapping[str, str]
    standard: ResponseStandard
    notes: tuple[str, ...] = field(default_factory=tuple)

    def _stack(self, get: Callable[[StationPlan], pd.DataFrame]) -> pd.DataFrame:
        frames = [get(p).assign(**{CITY_COLUMN: c}) for c, p in self.plans.items()]
        return pd.concat(frames) if frames else pd.DataFrame({CITY_COLUMN: []})

    @property
    def proposed(self) -> gpd.GeoDataFrame:
        """The proposed stations of every city, with their ``city`` (drawn by the maps)."""
        crs = next(iter(self.plans.values())).proposed.crs if self.plans else None
        return gpd.GeoDataFrame(self._stack(lambda p: p.proposed), geometry="geometry", crs=crs)

    @property
    def communities(self) -> gpd.GeoDataFrame:
        """Every planned community's response before and after, with its ``city``."""
        crs = next(iter(self.plans.values())).communities.crs if self.plans else None
        return gpd.GeoDataFrame(self._stack(lambda p: p.communities), geometry="geometry", crs=crs)

    @property
    def tradeoff(self) -> pd.DataFrame:
        """The province's trade-off curve: row k has up to k new stations in every city.

        ``n_new`` is the total of new stations (a city with fewer eligible candidates adds
        fewer); shares are of the province's demand and population, the mean response is
        population-weighted over the cities, the maximum the largest of any city.
        """
        rows = []
        k_max = max((int(p.tradeoff["n_new"].max()) for p in self.plans.values()), default=0)
        for k in range(k_max + 1):
            parts = []
            for p in self.plans.values():
                t = p.tradeoff.set_index("n_new")
                row = t.loc[min(k, int(t.index.max()))]
                c = p.communities
                parts.append((row, float(c["demand"].sum()), float(c["population"].sum())))
            demand = sum(d for _, d, _ in parts)
            pop = sum(q for _, _, q in parts)
            finite = [(r["mean_response_s"], q) for r, _, q in parts if math.isfinite(r["mean_response_s"])]
            rows.append(
                {
                    "n_new": int(sum(min(k, int(p.tradeoff["n_new"].max())) for p in self.plans.values())),
                    "per_city": k,
                    "coverage_share": sum(r["coverage_share"] * d for r, d, _ in parts) / demand,
                    "population_share": sum(r["population_share"] * q for r, _, q in parts) / pop,
                    "mean_response_s": sum(m * q for m, q in finite) / sum(q for _, q in finite)
                    if finite
                    else math.inf,
                    "max_response_s": max(r["max_response_s"] for r, _, _ in parts),
                }
            )
        t = pd.DataFrame(rows)
        if len(t):
            t["marginal_gain"] = t["coverage_share"].diff().fillna(0.0)
        return t

    @property
    def summary(self) -> pd.DataFrame:
        """One row per city: population and demand covered before and after, proposed, recommended."""
        rows = {}
        for city, p in self.plans.items():
            b, a = p.summary.loc["before"], p.summary.loc["after"]
            rows[city] = {
                "communities": len(p.communities),
                "population": float(p.communities["population"].sum()),
                "population_share_before": float(b["population_share"]),
                "population_share_after": float(a["population_share"]),
                "coverage_share_before": float(b["coverage_share"]),
                "coverage_share_after": float(a["coverage_share"]),
                "mean_response_before_s": float(b["mean_response_s"]),
                "mean_response_after_s": float(a["mean_response_s"]),
                "proposed": len(p.proposed),
                "recommended_new": int(p.recommended_n),
                "uncoverable_communities": len(p.uncoverable),
                "solver": p.result.status,
            }
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis(CITY_COLUMN)

    def province_shares(self) -> dict[str, float]:
        """Population covered in the whole province before and after the plans."""
        c = self.communities
        pop = float(c["population"].sum()) or 1.0
        return {
            "population_share_before": float(c.loc[c["covered_before"], "population"].sum()) / pop,
            "population_share_after": float(c.loc[c["covered_after"], "population"].sum()) / pop,
        }

    def report(self) -> str:
        """A line per city and the province's totals."""
        s = self.province_shares()
        lines = [
            f"Station plans of {len(self.plans)} cities "
            f"({self.standard.name} {self.standard.response_s:.0f} s): "
            f"{len(self.proposed)} new stations; population covered {s['population_share_before']:.1%} -> "
            f"{s['population_share_after']:.1%}"
        ]
        for city, r in self.summary.iterrows():
            lines.append(
                f"  {city}: {r['proposed']} new (recommended {r['recommended_new']}), population covered "
                f"{r['population_share_before']:.1%} -> {r['population_share_after']:.1%}, "
                f"{r['uncoverable_communities']} uncoverable communities"
            )
        lines += [f"  {city}: not planned: {why}" for city, why in self.skipped.items()]
        return "\n".join(lines)

    def write(self, path: str | Path) -> Path:
        """Write every city's layers (with ``city``) and tables to one GeoPackage, atomically."""
        layers = {
            "candidates": gpd.GeoDataFrame(
                self._stack(lambda p: p.candidates), geometry="geometry", crs=self.proposed.crs
            ),
            "proposed": self.proposed,
            "communities": self.communities,
        }
        tables = {
            "by_city": self.summary.reset_index(),
            "tradeoff": self.tradeoff,
            "city_tradeoff": self._stack(lambda p: p.tradeoff).reset_index(drop=True),
            "notes": pd.DataFrame(
                {
                    "note": [*self.notes, *(f"{c}: {n}" for c, p in self.plans.items() for n in p.notes)]
                    or ["-"]
                }
            ),
            "skipped": pd.DataFrame({CITY_COLUMN: list(self.skipped), "reason": list(self.skipped.values())}),
        }
        return write_gpkg(path, layers, tables)


# --------------------------------------------------------------------------- planning


def _city_plan(  # noqa: PLR0917 (an executor task: shared inputs, then the task's, by position)
    graph: RoadGraph,
    scenario: Scenario,
    weights: pd.Series,
    city: str,
    box: tuple[float, float, float, float],
    options: dict[str, Any],
) -> StationPlan | str:
    """One task: the station plan of ``city`` on its subgraph (or why it cannot be made)."""
    sub = city_scenario(scenario, city, box=box)
    sub_graph = box_subgraph(graph, box)
    try:
        return plan_stations(sub, sub_graph, demand=weights.reindex(sub["communities"].index), **options)
    except InputError as exc:
        return str(exc)


def plan_stations_by_city(
    scenario: Scenario,
    graph: GraphLike,
    *,
    cities: Sequence[str] | None = None,
    model: Model = "mclp",
    n_new: int = 3,
    standard: str | Mapping[str, Any] | ResponseStandard = DEFAULT_STANDARD,
    risk: RiskResult | pd.Series | None = None,
    time_limit_s: float = 30.0,
    planning_norms: TableOverrides = None,
    max_snap_m: float | None = None,
    executor: Executor | Any | None = None,
    progress: Progress | None = None,
) -> CityStationPlans:
    """A station plan (:func:`planning.plan_stations`) for every city of a province, on its subgraph.

    Parameters
    ----------
    scenario
        A province scenario (:func:`scenario_cities`): ``city`` on communities and candidate sites.
    graph
        The province's road graph.
    cities
        Cities to plan (default: every one).
    model, n_new, standard, time_limit_s, planning_norms, max_snap_m
        As for :func:`planning.plan_stations`, for every city (``n_new`` new stations each).
    risk
        Risk on the province's communities: the demand weights (population x risk percentile
        among all the province's communities).
    executor
        Where the cities' plans run (None: in process, one after the other); the graph and the
        scenario go to every worker once.
    progress
        ``progress(done, total)`` in cities.

    Returns
    -------
    CityStationPlans
        The same plans in process and on Dask.
    """
    names = list(cities) if cities is not None else scenario_cities(scenario)
    if not names:
        msg = (
            f"The scenario has no cities to plan (its communities need a `{CITY_COLUMN}` column with "
            "two or more names). Fix: use `planning.plan_stations` for a single city."
        )
        raise InputError(msg)
    g = as_road_graph(graph)
    std = response_standard(standard)
    cfg = load_norms(planning_norms)
    weights, note = demand_weights(scenario["communities"], risk=risk, planning_norms=cfg)
    reach = _reach_m(g, std, max_snap_m)
    boxes = [city_box(scenario, c, margin_m=reach) for c in names]
    options = {
        "model": model,
        "n_new": n_new,
        "standard": std,
        "time_limit_s": time_limit_s,
        "planning_norms": cfg,
        "max_snap_m": max_snap_m,
    }
    ex = as_executor(executor)
    shared = (ex.share(g), ex.share(scenario), ex.share(weights))
    tasks = [(c, b, options) for c, b in zip(names, boxes, strict=True)]
    plans: dict[str, StationPlan] = {}
    skipped: dict[str, str] = {}
    results = dict(
        ex.run(
            in_language(spoken_lang(), _city_plan),
            tasks,
            shared=shared,
            progress=progress,
            name="city_station_plan",
        )
    )
    for i, city in enumerate(names):
        out = results[i]
        if isinstance(out, str):
            skipped[city] = out
        else:
            plans[city] = out
    if not plans:
        msg = f"No city could be planned: {skipped}. Fix: add candidate sites or relax the siting rules."
        raise InputError(msg)
    notes = (
        note + " (weights of the whole province)",
        f"each city planned on its roads within {reach / 1000:,.1f} km of its communities and candidate "
        "sites: response times within the standard are those of the province's graph",
    )
    plan = CityStationPlans(plans, skipped, std, notes)
    log.info("%s", plan.report())
    return plan
