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
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from gis.atomic import write_gpkg
from gis.errors import InputError
from gis.scenario import Scenario

from .districts import _station_districts
from .isochrones import _isochrones, band_population
from .standards import ResponseStandard, response_standard
from .travel import RoadMatrix, _snap_layer, _snap_stations, road_matrix

__all__ = [
    "OFF_ROAD_RULE",
    "CoverageResult",
    "analyse_coverage",
    "area_grid",
    "layer_coverage",
    "reached_times",
    "summarise_coverage",
    "unit_response_times",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
PERCENTILES = (50, 90, 95)

#: One rule for places off the road network, in coverage and in plans alike.
OFF_ROAD_RULE = (
    "farther than the snap limit (road_speeds.toml `max_snap_m`) from any road: no engine reaches "
    "them by road, so they count as not covered, before and after any plan"
)


def _speed(speed_factor: float) -> float:
    if not np.isfinite(speed_factor) or speed_factor <= 0:
        msg = f"`speed_factor` is {speed_factor}. Fix: give a positive factor (1.0 = road speeds as built)."
        raise InputError(msg)
    return float(speed_factor)


@dataclass(frozen=True)
class _Engine:
    """Station times computed once and shared by every layer."""

    graph: nx.MultiDiGraph
    matrix: RoadMatrix
    standard: ResponseStandard
    speed_factor: float
    station_ids: pd.Index
    node_times: FloatArray  # (k, n) travel at speed factor 1
    weight: str
    max_snap_m: float | None


def _engine(
    graph: nx.MultiDiGraph,
    stations: gpd.GeoDataFrame,
    *,
    standard: str | Mapping[str, Any] | ResponseStandard,
    speed_factor: float,
    max_snap_m: float | None,
    weight: str,
) -> tuple[_Engine, pd.DataFrame]:
    std = response_standard(standard)
    speed = _speed(speed_factor)
    m = road_matrix(graph, weight=weight)
    snaps = _snap_stations(m, graph, stations, max_snap_m=max_snap_m, layer="fire_stations")
    times = m.one_to_all(m.positions(snaps["node"].tolist()))
    return _Engine(graph, m, std, speed, snaps.index, times, weight, max_snap_m), snaps


def _layer(engine: _Engine, points: gpd.GeoDataFrame, layer: str) -> gpd.GeoDataFrame:
    std = engine.standard
    out = points.copy()
    if len(points) == 0:
        for col in ("nearest_station", "second_station"):
            out[col] = pd.Series(dtype=object)
        for col in ("travel_time_s", "response_time_s", "second_response_time_s", "snap_distance_m"):
            out[col] = pd.Series(dtype=float)
        out["n_stations_within"] = pd.Series(dtype=int)
        out["covered"] = pd.Series(dtype=bool)
        out["flagged"] = pd.Series(dtype=bool)
        return out
    snaps = _snap_layer(engine.matrix, points, layer=layer, max_snap_m=engine.max_snap_m)
    travel = engine.matrix.point_times(engine.node_times, snaps) / engine.speed_factor
    response = std.turnout_s + travel
    k = len(engine.station_ids)
    order = np.argsort(response, axis=0, kind="stable")
    cols = np.arange(response.shape[1])
    ids = np.asarray(engine.station_ids, dtype=object)
    first = response[order[0], cols]
    out["node"] = snaps["node"].to_numpy()
    out["snap_distance_m"] = snaps["snap_distance_m"].to_numpy()
    out["flagged"] = snaps["flagged"].to_numpy()
    out["nearest_station"] = np.where(np.isfinite(first), ids[order[0]], None)
    out["travel_time_s"] = first - std.turnout_s
    out["response_time_s"] = first
    if k > 1:
        second = response[order[1], cols]
        out["second_station"] = np.where(np.isfinite(second), ids[order[1]], None)
        out["second_response_time_s"] = second
    else:
        out["second_station"] = None
        out["second_response_time_s"] = np.inf
    out["n_stations_within"] = (response <= std.response_s).sum(axis=0)
    if std.full_alarm_response_s is not None:
        out["n_stations_full_alarm"] = (response <= std.full_alarm_response_s).sum(axis=0)
    out["covered"] = (first <= std.response_s) & ~out["flagged"].to_numpy()
    return out


def layer_coverage(
    graph: nx.MultiDiGraph,
    stations: gpd.GeoDataFrame,
    points: gpd.GeoDataFrame,
    *,
    standard: str | Mapping[str, Any] | ResponseStandard = "cn-gb51080",
    speed_factor: float = 1.0,
    max_snap_m: float | None = None,
    layer: str = "points",
    weight: str = "travel_time_s",
) -> gpd.GeoDataFrame:
    """Response times from the stations to every feature of a layer.

    Polygons are represented by a point inside them. Features farther than ``max_snap_m``
    from any road keep their times but are ``flagged`` and never count as covered.

    Parameters
    ----------
    graph
        Road graph in a metric CRS.
    stations
        Fire stations indexed by id.
    points
        Communities, hazard sources, area units... (any geometry, with a CRS).
    standard
        Response profile name, mapping or :class:`~planning.standards.ResponseStandard`.
    speed_factor
        Engine speed relative to the edge speeds (travel time divided by it).
    max_snap_m
        Snap limit (default 500 m, from ``road_speeds.toml``).
    layer
        Layer name for messages.
    weight
        Edge weight (seconds).

    Returns
    -------
    geopandas.GeoDataFrame
        ``points`` (same index) plus ``node``, ``snap_distance_m``, ``flagged``,
        ``nearest_station``, ``travel_time_s``, ``response_time_s``, ``second_station``,
        ``second_response_time_s``, ``n_stations_within`` (stations within the standard),
        ``n_stations_full_alarm`` (NFPA 1710 only) and ``covered``.

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from gis import graph_from_lines
    >>> graph = graph_from_lines(city["roads"])
    >>> st = city["fire_stations"].set_index("id")
    >>> com = layer_coverage(graph, st, city["communities"].set_index("id"), layer="communities")
    >>> bool((com["second_response_time_s"] >= com["response_time_s"]).all())
    True
    """
    engine, _ = _engine(
        graph, stations, standard=standard, speed_factor=speed_factor, max_snap_m=max_snap_m, weight=weight
    )
    return _layer(engine, points, layer)


def area_grid(extent: shapely.Geometry, *, cell_m: float = 500.0, crs: Any = None) -> gpd.GeoDataFrame:
    """Square area units of ``cell_m`` covering ``extent``, clipped to it, with ``area_km2``.

    Examples
    --------
    >>> g = area_grid(shapely.box(0, 0, 1000, 600), cell_m=500, crs=32649)
    >>> len(g), round(float(g["area_km2"].sum()), 2)
    (4, 0.6)
    """
    if cell_m <= 0:
        msg = f"`cell_m` is {cell_m}. Fix: give a positive cell size in metres."
        raise InputError(msg)
    x0, y0, x1, y1 = extent.bounds
    xs = np.arange(x0, x1, cell_m)
    ys = np.arange(y0, y1, cell_m)
    gx, gy = np.meshgrid(xs, ys)
    boxes = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + cell_m, gy.ravel() + cell_m)
    keep = shapely.intersects(boxes, extent)
    cells = shapely.intersection(boxes[keep], extent)
    cells = cells[shapely.area(cells) > 0]
    index = pd.Index([f"C{i:05d}" for i in range(len(cells))], name="id")
    return gpd.GeoDataFrame({"area_km2": shapely.area(cells) / 1e6}, geometry=cells, crs=crs, index=index)


def _percentiles(values: FloatArray) -> dict[str, float]:
    finite = values[np.isfinite(values)]
    out = {
        f"p{p}_response_s": float(np.percentile(values, p)) if len(values) else np.nan for p in PERCENTILES
    }
    out["max_response_s"] = float(finite.max()) if len(finite) else np.nan
    return out


def summarise_coverage(
    layers: Mapping[str, gpd.GeoDataFrame],
    standard: ResponseStandard,
    *,
    weights: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One row per layer: features and weight (population, area) covered, response percentiles.

    Parameters
    ----------
    layers
        ``{layer: layer_coverage output}``.
    standard
        The profile used (its ``required_share`` decides ``meets_standard``).
    weights
        ``{layer: column}`` to weigh by, such as ``{"communities": "population"}``.

    Examples
    --------
    >>> gdf = gpd.GeoDataFrame({"covered": [True, False], "response_time_s": [200.0, 400.0],
    ...                         "flagged": [False, False], "population": [300, 100]})
    >>> s = summarise_coverage({"communities": gdf}, response_standard("cn-gb51080"),
    ...                        weights={"communities": "population"})
    >>> float(s.loc["communities", "share_weight"])
    0.75
    """
    weights = dict(weights or {})
    rows = []
    for name, gdf in layers.items():
        covered = gdf["covered"].to_numpy(bool)
        col = weights.get(name)
        w = gdf[col].to_numpy(float) if col else np.ones(len(gdf))
        total = float(w.sum())
        share = float(w[covered].sum() / total) if total > 0 else np.nan
        rows.append(
            {
                "layer": name,
                "features": len(gdf),
                "covered": int(covered.sum()),
                "flagged": int(gdf["flagged"].sum()),
                "weight": col or "count",
                "weight_total": total,
                "weight_covered": float(w[covered].sum()),
                "share_weight": share,
                **_percentiles(gdf["response_time_s"].to_numpy(float)),
                "required_share": standard.required_share,
                "meets_standard": bool(share >= standard.required_share) if total > 0 else False,
            }
        )
    return pd.DataFrame(rows).set_index("layer")


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
        (:data:`OFF_ROAD_RULE`).
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

    def report(self) -> str:
        """A few lines for people: coverage shares, percentiles, violations."""
        std = self.standard
        lines = [
            f"Coverage of {self.scenario} under {std.name} ({std.turnout_s:.0f} s turnout + "
            f"{std.travel_s:.0f} s travel = {std.response_s:.0f} s; speed factor {self.speed_factor:g})"
        ]
        for name, row in self.summary.iterrows():
            what = "population" if row["weight"] == "population" else row["weight"]
            lines.append(
                f"  {name:<12} {row['covered']:>5}/{row['features']:<5} covered; {row['share_weight']:6.1%} "
                f"of {what}; response p50 {row['p50_response_s']:.0f} s, p90 {row['p90_response_s']:.0f} s"
                f"{'' if row['meets_standard'] else '  (standard NOT met)'}"
            )
        if len(self.hazards_by_grade) > 1:
            shares = ", ".join(f"{g} {r['share_covered']:.0%}" for g, r in self.hazards_by_grade.iterrows())
            lines.append(f"  hazards covered by {self.hazards_by_grade.attrs.get('grade_column')}: {shares}")
        counts = self.violations["kind"].value_counts().to_dict() if len(self.violations) else {}
        lines.append(f"  district violations: {counts or 'none'}")
        lines += [f"  note: {n}" for n in self.notes]
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
            "summary": self.summary,
            "hazards_by_grade": self.hazards_by_grade,
            "violations": self.violations,
            "notes": pd.DataFrame({"note": list(self.notes) or ["-"]}),
        }
        return write_gpkg(path, spatial, tables)


def _extent(scenario: Scenario, graph: nx.MultiDiGraph, m: RoadMatrix) -> shapely.Geometry:
    if "study_area" in scenario and len(scenario["study_area"]):
        return shapely.union_all(scenario["study_area"].to_crs(graph.graph["crs"]).geometry.to_numpy())
    xy = m.xy
    return shapely.convex_hull(shapely.multipoints(xy)).buffer(200.0)


def analyse_coverage(
    scenario: Scenario,
    graph: nx.MultiDiGraph,
    *,
    standard: str | Mapping[str, Any] | ResponseStandard = "cn-gb51080",
    speed_factor: float = 1.0,
    breaks_min: Sequence[float] | None = (3.0, 5.0, 8.0),
    area_units: gpd.GeoDataFrame | None = None,
    cell_m: float = 500.0,
    districts: bool = True,
    suburban: Sequence[object] = (),
    hazard_grade: str | None = None,
    max_snap_m: float | None = None,
    overrides: Mapping[str, Any] | str | Path | None = None,
) -> CoverageResult:
    """Response coverage of a scenario: layers, summary, isochrones and station districts.

    Parameters
    ----------
    scenario
        A loaded scenario (``fire_stations``, ``communities``, ``hazards``; ``study_area``
        and ``barriers`` when present).
    graph
        Its road graph (:func:`gis.scenario_graph`).
    standard
        ``cn-gb51080``, ``nfpa-1710``, ``cn-micro-135``, a profile defined in ``overrides``, or
        a mapping with ``turnout_s`` and ``travel_s``.
    speed_factor
        Engine speed relative to the edge speeds (0.8 = engines 20% slower).
    breaks_min
        Isochrone breaks in minutes of *response* time (turnout included); None skips them.
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
    overrides
        Overrides of ``planning/data/response_standards.toml`` (mapping or TOML path).

    Returns
    -------
    CoverageResult

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from gis import graph_from_lines, Scenario, RoadsSource
    >>> layers = {k: v.set_index("id") if "id" in v else v for k, v in city.items()}
    >>> sc = Scenario("Demo City (synthetic)", layers, layers["roads"].crs, RoadsSource("layer"))
    >>> res = analyse_coverage(sc, graph_from_lines(city["roads"]), breaks_min=[5])
    >>> bool(0 < res.summary.loc["communities", "share_weight"] < 1)
    True
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    std = response_standard(standard, overrides=overrides)
    stations = scenario["fire_stations"]
    engine, snaps = _engine(
        graph,
        stations,
        standard=std,
        speed_factor=speed_factor,
        max_snap_m=max_snap_m,
        weight="travel_time_s",
    )
    timings["travel_times"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    extent = _extent(scenario, graph, engine.matrix)
    units = area_grid(extent, cell_m=cell_m, crs=graph.graph["crs"]) if area_units is None else area_units
    if "area_km2" not in units.columns:
        units = units.assign(area_km2=units.geometry.to_crs(graph.graph["crs"]).area / 1e6)
    communities = _layer(engine, scenario["communities"], "communities")
    no_hazards = gpd.GeoDataFrame({"category": pd.Series(dtype=object)}, geometry=[], crs=scenario.crs)
    hazards = _layer(engine, scenario.layers.get("hazards", no_hazards), "hazards")
    units_cov = _layer(engine, units, "area_units")
    notes = list(scenario.notes)
    off_road = {n: int(g["flagged"].sum()) for n, g in (("communities", communities), ("hazards", hazards))}
    if any(off_road.values()):
        counts = ", ".join(f"{v} {k}" for k, v in off_road.items() if v)
        notes.append(f"{counts}: {OFF_ROAD_RULE}")
    summary = summarise_coverage(
        {"communities": communities, "hazards": hazards, "area_units": units_cov},
        std,
        weights={"communities": "population", "area_units": "area_km2"},
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
    if breaks_min:
        iso = _isochrones(
            engine.matrix,
            nodes,
            breaks_s=[60.0 * b for b in breaks_min],
            offset_s=std.turnout_s,
            speed_factor=engine.speed_factor,
            buffer_m=100.0,
            pixel_m=50.0,
            max_hole_m2=250_000.0,
            node_times=engine.node_times,
        )
        iso = band_population(iso, scenario["communities"])
    else:
        iso = gpd.GeoDataFrame({"station": []}, geometry=[], crs=graph.graph["crs"])
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
        )
        dist, enclaves, violations = result.districts, result.enclaves, result.violations
        station_out = station_out.join(dist.drop(columns=["geometry", "grade"]))
    else:
        dist = gpd.GeoDataFrame({"station": []}, geometry=[], crs=graph.graph["crs"])
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


def unit_response_times(
    graph: nx.MultiDiGraph,
    stations: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    *,
    standard: str | Mapping[str, Any] | ResponseStandard = "cn-gb51080",
    speed_factor: float = 1.0,
    max_snap_m: float | None = None,
) -> pd.Series:
    """First-engine response time of every unit by road, ``inf`` where none is reached.

    Each unit is snapped to the road network itself (by a point inside it), never given the
    time of the community it lies in; units off the road network (:data:`OFF_ROAD_RULE`)
    count as not reached. Pass it to :func:`risk_models.score_scenario` as
    ``response_time_s=lambda units: unit_response_times(graph, stations, units)``.

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from gis import graph_from_lines
    >>> cells = area_grid(shapely.box(*city["roads"].total_bounds), cell_m=2000, crs=city["roads"].crs)
    >>> t = unit_response_times(graph_from_lines(city["roads"]), city["fire_stations"].set_index("id"), cells)
    >>> t.index.equals(cells.index), bool((t > 60).all())
    (True, True)
    """
    table = layer_coverage(
        graph,
        stations,
        units,
        standard=standard,
        speed_factor=speed_factor,
        max_snap_m=max_snap_m,
        layer="units",
    )
    return reached_times(table)


def reached_times(table: pd.DataFrame) -> pd.Series:
    """Response times of a :func:`layer_coverage` table, ``inf`` for places off the road network.

    The one rule (:data:`OFF_ROAD_RULE`) by which risk and plans read coverage: a place farther
    than the snap limit from every road is not reached.

    Examples
    --------
    >>> t = pd.DataFrame({"response_time_s": [200.0, 250.0], "flagged": [False, True]})
    >>> reached_times(t).tolist()
    [200.0, inf]
    """
    t = table["response_time_s"].astype(float).where(~table["flagged"].astype(bool), np.inf)
    return t.rename("response_time_s")
