"""Emergency response coverage: how long the first engine takes to reach each place.

Response time = turnout + travel (``planning.standards``). For every community, hazard
source and area unit: the nearest and second-nearest station, their response times, how many
stations reach it within the standard and whether it is covered; plus the summary tables
(population, area and hazards covered, response-time percentiles). :func:`analyse_coverage`
runs everything on a scenario, isochrones and station districts included, and returns a
frozen :class:`CoverageResult`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd
import shapely

from gis.atomic import write_gpkg
from gis.executor import InProcessExecutor, as_executor
from gis.network import as_road_graph
from gis.scenario import Scenario
from gis.speech import current_lang, say
from gis.tables import TableOverrides

from ._stats import repair_quantile
from .districts import _station_districts
from .isochrones import _isochrones, band_population
from .names import DEFAULT_STANDARD
from .response import (
    TravelMatrix,
    _engine,
    _layers,
    _travel_matrix,
    area_grid,
    summarise_coverage,
)
from .snapping import share_road_edges, start_snaps
from .standards import ResponseStandard, response_standard
from .travel import RoadMatrix
from .words import off_road_rule, place_counts, place_word, second_beyond_rule, weight_word

if TYPE_CHECKING:
    from gis.executor import Executor
    from gis.network.graph import GraphLike, RoadGraph

__all__ = ["CoverageResult", "analyse_coverage"]

log = logging.getLogger(__name__)


def _by_grade(hazards: gpd.GeoDataFrame, column: str | None) -> pd.DataFrame:
    key = hazards[column].astype(str) if column else pd.Series("all", index=hazards.index)
    grouped = hazards.groupby(key.rename("grade"))
    table = pd.DataFrame(
        {
            "hazards": grouped.size(),
            "covered": grouped["covered"].sum().astype(int),
            "median_response_s": grouped["response_time_s"].median(),
            "p90_response_s": grouped["response_time_s"].quantile(0.9),
        }
    )
    times = dict(list(grouped["response_time_s"]))
    table["p90_response_s"] = [repair_quantile(times[g], 0.9, a) for g, a in table["p90_response_s"].items()]
    table["share_covered"] = table["covered"] / table["hazards"]
    table.attrs["grade_column"] = column or ""
    return table


@dataclass(frozen=True, eq=False)
class CoverageResult:
    """Everything :func:`analyse_coverage` found, ready to map, score or write.

    Attributes
    ----------
    scenario
        Scenario label (synthetic data says so).
    standard
        The response profile used.
    speed_factor
        Engine speed factor used.
    stations
        Stations with their snap (``node``, ``snap_distance_m``) and district figures.
    communities, hazards, area_units
        :func:`layer_coverage` outputs on the scenario layers' index (area units: a grid
        unless given).
    summary
        :func:`summarise_coverage` table (population, hazards, area covered; percentiles).
    hazards_by_grade
        Hazards covered by grade (``attrs["grade_column"]`` names the column used).
    isochrones
        Isochrone polygons with ``population_within`` and ``population_band`` (may be empty).
    districts, enclaves, violations
        From :func:`planning.districts.station_districts` (empty when not computed).
    timings_s
        Seconds spent in each step.
    notes
        What a reader must know: the scenario's own notes and the places off the road network
        (:data:`planning.OFF_ROAD_RULE`).
    extra_layers, extra_tables
        Further layers and tables written with the rest (the reliability's ``station_workload``
        and ``p90_by_hour``, :func:`planning.reliability.attach_reliability`).
    hour
        The hour of day whose travel times were used (:func:`planning.hours.coverage_at_hour`),
        None for the build speeds; ``summary`` then has an ``hour`` column.
    """

    scenario: str
    standard: ResponseStandard
    speed_factor: float
    stations: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    hazards: gpd.GeoDataFrame
    area_units: gpd.GeoDataFrame
    summary: pd.DataFrame
    hazards_by_grade: pd.DataFrame
    isochrones: gpd.GeoDataFrame
    districts: gpd.GeoDataFrame
    enclaves: gpd.GeoDataFrame
    violations: pd.DataFrame
    timings_s: Mapping[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    extra_layers: Mapping[str, gpd.GeoDataFrame] = field(default_factory=dict)
    extra_tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    hour: int | None = None

    def report(self) -> str:
        """A few lines for people: coverage shares, percentiles, violations."""
        std = self.standard
        lines = [
            say(
                "plan_cov_head", scenario=self.scenario, standard=std.name,
                turnout=f"{std.turnout_s:.0f}", travel=f"{std.travel_s:.0f}",
                response=f"{std.response_s:.0f}", speed=f"{self.speed_factor:g}",
            )
            + ("" if self.hour is None else say("plan_cov_at_hour", hour=f"{self.hour:02d}"))
        ]  # fmt: skip
        pad = current_lang() == "en"  # English lines up in columns; Chinese reads as sentences
        for name, row in self.summary.iterrows():
            lines.append(
                say(
                    "plan_cov_line", layer=f"{place_word(str(name)):<12}" if pad else place_word(str(name)),
                    covered=f"{row['covered']:>5}" if pad else row["covered"],
                    features=f"{row['features']:<5}" if pad else row["features"],
                    share=f"{row['share_weight']:6.1%}" if pad else f"{row['share_weight']:.1%}",
                    weight=weight_word(str(row["weight"])), p50=f"{row['p50_response_s']:.0f}",
                    p90=f"{row['p90_response_s']:.0f}",
                )
                + ("" if row["meets_standard"] else say("plan_cov_not_met"))
            )  # fmt: skip
        if len(self.hazards_by_grade) > 1:
            shares = say("words_list_sep").join(
                f"{g} {r['share_covered']:.0%}" for g, r in self.hazards_by_grade.iterrows()
            )
            column = self.hazards_by_grade.attrs.get("grade_column")
            lines.append(say("plan_cov_hazards", column=column, shares=shares))
        counts = self.violations["kind"].value_counts().to_dict() if len(self.violations) else {}
        lines.append(say("plan_cov_violations", counts=counts or say("plan_report_none")))
        lines += [say("plan_report_note", note=n) for n in self.notes]
        return "\n".join(lines)

    def write(self, path: str | Path) -> Path:
        """Write every layer and table to one GeoPackage, atomically.

        Spatial layers: ``stations``, ``communities``, ``hazards``, ``area_units``,
        ``isochrones``, ``districts``, ``enclaves``; tables: ``summary``,
        ``hazards_by_grade``, ``violations``, ``notes``. Empty ones are left out.
        """
        path = Path(path)
        spatial = {
            "stations": self.stations,
            "communities": self.communities,
            "hazards": self.hazards,
            "area_units": self.area_units,
            "isochrones": self.isochrones,
            "districts": self.districts,
            "enclaves": self.enclaves,
        }
        tables = {
            "summary": self.summary if self.hour is None else self.summary.assign(hour=self.hour),
            "hazards_by_grade": self.hazards_by_grade,
            "violations": self.violations,
            "notes": pd.DataFrame({"note": list(self.notes) or ["-"]}),
        }
        return write_gpkg(path, {**spatial, **self.extra_layers}, {**tables, **self.extra_tables})


def _extent(scenario: Scenario, m: RoadMatrix | RoadGraph) -> shapely.Geometry:
    if "study_area" in scenario and len(scenario["study_area"]):
        return shapely.union_all(scenario["study_area"].to_crs(m.crs).geometry.to_numpy())
    xy = m.xy if isinstance(m, RoadMatrix) else m.node_xy
    return shapely.convex_hull(shapely.multipoints(xy)).buffer(200.0)


def analyse_coverage(
    scenario: Scenario,
    graph: GraphLike,
    *,
    standard: str | Mapping[str, Any] | ResponseStandard = DEFAULT_STANDARD,
    speed_factor: float = 1.0,
    breaks_s: Sequence[float] | None = (180.0, 300.0, 480.0),
    area_units: gpd.GeoDataFrame | None = None,
    cell_m: float = 500.0,
    districts: bool = True,
    suburban: Sequence[object] = (),
    hazard_grade: str | None = None,
    max_snap_m: float | None = None,
    response_standards: TableOverrides = None,
    travel_matrix: TravelMatrix = "auto",
    executor: Executor | Any | None = None,
) -> CoverageResult:
    """Response coverage of a scenario: layers, summary, isochrones and station districts.

    Parameters
    ----------
    scenario
        A loaded scenario (``fire_stations``, ``communities``, ``hazards``; ``study_area``
        and ``barriers`` when present).
    graph
        Its road graph (:func:`gis.scenario_graph`; a networkx graph is converted).
    standard
        Response profile (:class:`~planning.standards.ResponseStandard`: the turnout plus the
        travel time allowed for the first engine): ``cn-gb51080``, ``nfpa-1710``,
        ``cn-micro-135``, a profile defined in ``response_standards``, a mapping with
        ``turnout_s`` and ``travel_s``, or a ResponseStandard.
    speed_factor
        Engine speed relative to the edge speeds (0.8 = engines 20% slower).
    breaks_s
        Isochrone breaks in seconds of *response* time (turnout included); None skips them.
    area_units
        Area units to score (any polygons); default: a grid of ``cell_m`` squares over the
        study area.
    cell_m
        Grid cell size when ``area_units`` is None.
    districts
        Compute the station districts (network Voronoi) and their checks.
    suburban
        Station ids whose districts take the suburban area cap.
    hazard_grade
        Column grouping hazards in the summary (default: the first of ``grade``,
        ``major_hazard_grade``, ``size_class``, ``category`` present).
    max_snap_m
        Snap limit for stations and places.
    response_standards
        Overrides of ``planning/data/response_standards.toml`` (mapping or TOML path).
    travel_matrix
        ``auto``: hold the stations x road nodes travel-time matrix while it has at most
        :data:`planning.response.FULL_MATRIX_MAX` entries (25 million, 200 MB), otherwise take the
        chunked path, which never holds it: the nearest station of every node and place from one
        multi-source search (the districts too), the second station and the counts from
        per-station searches 16 stations at a time cut off just above the standard, and the
        isochrones per chunk of stations cut off at the largest break. ``full`` or ``chunked``
        forces a path. The figures are the same, except that on the chunked path a second
        station beyond the cut-off is reported as such (``second_beyond_cutoff``, and a note).
    executor
        Where the chunked path's per-station searches run: None (in process), an executor of
        :func:`gis.executor.open_executor` or a ``distributed.Client``; results are identical.

    Returns
    -------
    CoverageResult

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from gis import graph_from_lines, Scenario, RoadsSource
    >>> sc = Scenario("Demo City (synthetic)", city, city["roads"].crs, RoadsSource("layer"))
    >>> res = analyse_coverage(sc, graph_from_lines(city["roads"]), breaks_s=[300])
    >>> bool(0 < res.summary.loc["communities", "share_weight"] < 1)
    True
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    std = response_standard(standard, response_standards=response_standards)
    stations = scenario["fire_stations"]
    no_hazards = gpd.GeoDataFrame({"category": pd.Series(dtype=object)}, geometry=[], crs=scenario.crs)
    road = as_road_graph(graph)
    units, pending = area_units, None
    ex = as_executor(executor) if executor is not None else None
    on_workers = ex is not None and not isinstance(ex, InProcessExecutor) and stations is not None
    if on_workers and _travel_matrix(travel_matrix, len(stations), road.n_nodes):
        # the places are snapped on the workers (each holds a strip of the road lines) while
        # this process builds the road matrix and searches the nearest station of every node
        assert ex is not None
        if units is None:
            units = area_grid(_extent(scenario, road), cell_m=cell_m, crs=road.crs)
        share_road_edges(road, ex)
        places = {
            "communities": scenario["communities"],
            "hazards": scenario.layers.get("hazards", no_hazards),
            "area_units": units,
        }
        pending = start_snaps(
            road,
            {k: v for k, v in places.items() if len(v)},
            max_snap_m=max_snap_m,
            executor=ex,
            exact_road_distance=False,
        )
    engine, snaps = _engine(
        graph,
        stations,
        standard=std,
        speed_factor=speed_factor,
        max_snap_m=max_snap_m,
        edge_weight="travel_time_s",
        travel_matrix=travel_matrix,
        executor=executor,
    )
    timings["travel_times"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    crs = engine.matrix.crs
    extent = _extent(scenario, engine.matrix)
    units = area_grid(extent, cell_m=cell_m, crs=crs) if units is None else units
    if "area_km2" not in units.columns:
        units = units.assign(area_km2=units.geometry.to_crs(crs).area / 1e6)
    layers = _layers(
        engine,
        {
            "communities": scenario["communities"],
            "hazards": scenario.layers.get("hazards", no_hazards),
            "area_units": units,
        },
        pending=pending,
    )
    communities, hazards, units_cov = layers["communities"], layers["hazards"], layers["area_units"]
    notes = list(scenario.notes)
    off_road = {n: int(g["flagged"].sum()) for n, g in (("communities", communities), ("hazards", hazards))}
    if any(off_road.values()):
        notes.append(say("plan_off_road", count=place_counts(off_road), rule=off_road_rule()))
    if engine.chunked:
        beyond = {n: int(g["second_beyond_cutoff"].sum()) for n, g in layers.items()}
        notes.append(
            say(
                "plan_chunked", stations=len(engine.station_ids), nodes=f"{engine.matrix.n_nodes:,}",
                seconds=f"{engine.second_cutoff_s:.0f}", count=place_counts(beyond) or say("plan_no_places"),
                rule=second_beyond_rule(),
            )
        )  # fmt: skip
    summary = summarise_coverage(
        {"communities": communities, "hazards": hazards, "area_units": units_cov},
        std,
        weight_columns={"communities": "population", "area_units": "area_km2"},
    )
    if hazard_grade is None:
        hazard_grade = next(
            (c for c in ("grade", "major_hazard_grade", "size_class", "category") if c in hazards.columns),
            None,
        )
    by_grade = _by_grade(hazards, hazard_grade)
    timings["layers"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    nodes = snaps["node"]
    if breaks_s:
        iso = _isochrones(
            engine.matrix,
            nodes,
            breaks_s=breaks_s,
            offset_s=std.turnout_s,
            speed_factor=engine.speed_factor,
            buffer_m=100.0,
            pixel_m=50.0,
            max_hole_m2=250_000.0,
            node_times=engine.node_times,
            chunk_size=engine.chunk_size,
            nearest_cost=engine.nearest_cost,
        )
        iso = band_population(iso, scenario["communities"])
    else:
        iso = gpd.GeoDataFrame({"station": []}, geometry=[], crs=crs)
    timings["isochrones"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    station_out = gpd.GeoDataFrame(stations.join(snaps[["node", "snap_distance_m"]]), crs=stations.crs)
    if districts:
        result = _station_districts(
            engine.matrix,
            station_out,
            standard=std,
            speed_factor=engine.speed_factor,
            extent=extent,
            barriers=scenario.layers.get("barriers"),
            suburban=suburban,
            caps_km2=None,
            node_times=engine.node_times,
            nearest=None
            if engine.nearest_cost is None or engine.nearest_station is None
            else (engine.nearest_cost, engine.nearest_station),
        )
        dist, enclaves, violations = result.districts, result.enclaves, result.violations
        station_out = station_out.join(dist.drop(columns=["geometry", "grade"]))
    else:
        dist = gpd.GeoDataFrame({"station": []}, geometry=[], crs=crs)
        enclaves = dist.copy()
        violations = pd.DataFrame(columns=["station", "kind", "value", "limit", "unit", "message"])
    timings["districts"] = time.perf_counter() - t0
    log.info("coverage of %s: %s", scenario.label, {k: round(v, 2) for k, v in timings.items()})
    return CoverageResult(
        scenario=scenario.label,
        standard=std,
        speed_factor=engine.speed_factor,
        stations=station_out,
        communities=communities,
        hazards=hazards,
        area_units=units_cov,
        summary=summary,
        hazards_by_grade=by_grade,
        isochrones=iso,
        districts=dist,
        enclaves=enclaves,
        violations=violations,
        timings_s=timings,
        notes=tuple(notes),
    )
