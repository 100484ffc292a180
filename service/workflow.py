"""The library workflow that strings the stages together: scenario -> network -> outputs.

Each stage is a plain function of its inputs, used by the command line, the jobs and the web
API alike: :func:`build_network` (the road graph and how every point layer snaps to it),
:func:`assess` (coverage, then risk with each unit's road response time),
:func:`write_snap_report`, and :func:`run_scenario`, which runs every stage on a scenario and
writes its outputs atomically into one folder (:func:`run_demo`: the same on the built-in
synthetic demo city).
"""

from __future__ import annotations

import inspect
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from gis import (
    InputError,
    Scenario,
    load_scenario,
    scenario_graph,
    write_demo_scenario,
)
from gis.atomic import atomic_path
from gis.executor import Executor, as_executor
from gis.executor import Progress as TaskProgress
from gis.i18n import Lang, resolve_lang
from gis.network import GraphLike, RoadGraph, as_road_graph
from gis.speech import say, speak, speaks
from gis.tables import TableOverrides
from maps import write_map, write_report
from maps.qgis_styles import write_qgis_styles
from planning import (
    CoverageResult,
    DepotPlan,
    StationPlan,
    analyse_coverage,
    area_response_times,
    plan_depots,
    plan_stations,
    reached_times,
    snap_points,
)
from planning.cities import CityStationPlans, plan_stations_by_city, scenario_cities
from planning.depot_tiers import TieredDepotPlan, plan_depot_network
from planning.names import DEFAULT_STANDARD, Model
from risk_models import RiskResult, score_scenario
from risk_models.natural import NaturalHazards

from .community_outputs import (
    SurveySource,
    assess_survey,
    community_inputs,
    community_outputs,
    community_summary,
    register_failed,
    survey_source,
    write_demo_survey,
)
from .hazard_register import register_inputs, register_outputs, write_demo_register

if TYPE_CHECKING:
    from risk_models.register import RegisterMonth
from ._network import write_network
from ._province import by_city_table, province_plan_summary
from ._run_outputs import coverage_summary, plan_summary, plan_word, risk_note, write_snap_report
from .flood_run import depot_flood_depth, flood_coverage, flood_summary
from .force_run import force_run_options, scenario_force
from .hours_run import prepare_hours, time_of_day_options
from .natural_run import natural_inputs
from .reliability_run import reliability_run_options, reliability_summary, scenario_reliability
from .sensitivity_run import scenario_sensitivity, sensitivity_options
from .what_if_run import attach_what_if, check_what_if, what_if_options, with_criticality

__all__ = [
    "PROVINCE_AT",
    "PROVINCE_UNITS",
    "SNAPPED_LAYERS",
    "NetworkRun",
    "PipelineResult",
    "assess",
    "build_network",
    "run_demo",
    "run_scenario",
    "write_snap_report",
]

log = logging.getLogger(__name__)

#: Layers whose points are snapped to the road network and reported.
SNAPPED_LAYERS = ("fire_stations", "depots", "hazards", "communities", "candidate_sites")

Progress = Callable[[str], None]

#: Risk units of a province run when none are asked for (communities for a single city).
PROVINCE_UNITS = "grid:500"
#: Where a province's communities take their hazard density (``at`` of score_scenario).
PROVINCE_AT = "point"


def with_executor(fn: Callable[..., Any], executor: Executor | None, /, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, with ``executor=`` when ``fn`` takes one and an executor is given.

    The seam for stages that gain an ``executor`` parameter (such as
    :func:`planning.analyse_coverage`): they run on it as soon as they accept it.
    """
    if executor is not None and "executor" in inspect.signature(fn).parameters:
        kwargs["executor"] = executor
    return fn(*args, **kwargs)


@dataclass(frozen=True)
class NetworkRun:
    """A built network with the snapping report of every point layer."""

    graph: RoadGraph
    snaps: dict[str, pd.DataFrame]

    @property
    def flagged(self) -> dict[str, list[str]]:
        """``{layer: ids farther from any road than the snap limit}``."""
        return {
            layer: [str(i) for i in df.index[df["flagged"]]]
            for layer, df in self.snaps.items()
            if df["flagged"].any()
        }


@dataclass
class PipelineResult:
    """What a run of the workflow (:func:`run_scenario`, :func:`run_demo`) wrote, stage by stage."""

    out_dir: Path
    outputs: dict[str, Path] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    lang: Lang | None = None  # the language of its outputs and summary (gis.i18n.resolve_lang)


@contextmanager
def _stage(result: PipelineResult, name: str, progress: Progress | None) -> Iterator[None]:
    if progress is not None:
        progress(name)
    start = time.perf_counter()
    yield
    result.timings_s[name] = round(time.perf_counter() - start, 3)
    log.info("stage %s done in %.2f s", name, result.timings_s[name])


def build_network(
    scenario: Scenario,
    *,
    road_speeds: TableOverrides = None,
    max_snap_m: float | None = None,
    cache: bool = True,
) -> NetworkRun:
    """Build the road graph of ``scenario`` and snap its point layers to it."""
    graph = scenario_graph(scenario, road_speeds=road_speeds, cache=cache)
    snaps = {
        layer: snap_points(graph, scenario[layer], max_snap_m=max_snap_m, layer=layer)
        for layer in SNAPPED_LAYERS
        if layer in scenario
    }
    run = NetworkRun(graph, snaps)
    for layer, ids in run.flagged.items():
        log.warning("layer %s: %d points beyond the snap limit: %s", layer, len(ids), ids[:10])
    return run


def assess(
    scenario: Scenario,
    *,
    graph: GraphLike | None = None,
    units: str = "communities",
    standard: str = DEFAULT_STANDARD,
    learn: bool | None = None,
    cache: bool = True,
    risk_weights: TableOverrides = None,
    max_snap_m: float | None = None,
    executor: Executor | None = None,
    at: str | None = None,
    register: RegisterMonth | None = None,
    community_safety: pd.Series | None = None,
    natural: tuple[NaturalHazards | None, Path | None] = (None, None),
) -> tuple[CoverageResult, RiskResult]:
    """Coverage under ``standard``, then risk with each unit's road response time as capacity.

    Communities take their times from the coverage stage; ``grid:``/``h3:`` units are snapped
    to the road network themselves, never given the time of the community they lie in: the cells
    whose point is one of the coverage grid's take its rows, the others are searched
    (:func:`planning.area_response_times`, the same times as :func:`planning.unit_response_times`).
    With an ``executor``, the stages that take one run on it
    (the risk's kernel density tiles; the coverage once it accepts one). ``at`` is that of
    :func:`risk_models.score_scenario` (density over a unit's area or at its point). A
    hidden-danger ``register`` month (:func:`service.hazard_register.register_outputs`) weighs
    its sources' open and overdue major items, read at the month's end, and its risk grades into
    the sources' severity (``[severity.register]`` and ``[severity.risk_grade]``).
    ``community_safety`` (the latest survey score per community,
    :func:`service.community_outputs.community_inputs`) joins their vulnerability. ``natural``
    (:func:`natural_inputs`: the layers and the table's overrides) adds floods and geological and
    fire zones to the hazard term.
    """
    graph = scenario_graph(scenario, cache=cache) if graph is None else as_road_graph(graph)
    coverage = with_executor(
        analyse_coverage, executor, scenario, graph, standard=standard, max_snap_m=max_snap_m
    )
    if units == "communities":
        response: Any = reached_times(coverage.communities)
    else:
        stations = scenario["fire_stations"]

        def response(cells: gpd.GeoDataFrame) -> pd.Series:
            # the coverage stage snapped and searched its own grid: its rows answer every cell
            # with the same point (a province's grid:500 is its lattice), the rest are searched
            return with_executor(
                area_response_times,
                executor,
                graph,
                stations,
                cells,
                coverage=coverage.area_units,
                standard=standard,
                max_snap_m=max_snap_m,
            )

    risk = score_scenario(
        scenario,
        units=units,
        response_time_s=response,
        learn=learn,
        risk_weights=risk_weights,
        executor=executor,
        at=at,
        community_safety=community_safety,
        natural_hazards=natural[0],
        natural_table=natural[1],
        **register_inputs(register),
    )
    return coverage, risk


def run_demo(
    out_dir: str | Path,
    *,
    seed: int = 42,
    n_road_nodes: int | None = None,
    progress: Progress | None = None,
    lang: str | None = None,
) -> PipelineResult:
    """Generate the synthetic demo city and run every stage on it (``lang``: as :func:`run_scenario`'s).

    Outputs (all in ``out_dir``): ``demo_city.gpkg`` (the scenario), ``demo_register/`` (its
    synthetic hidden-danger register, :func:`service.hazard_register.write_demo_register`),
    ``demo_survey.csv`` (its synthetic community safety survey with re-surveys,
    :func:`service.community_outputs.write_demo_survey`, run with the demo's budget and
    demonstration count) and those of :func:`run_scenario`, the register's month and
    ``communities.gpkg`` included.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = PipelineResult(out)
    with _stage(result, "generate demo city", progress):
        result.outputs["scenario"] = write_demo_scenario(
            out / "demo_city.gpkg", seed=seed, n_road_nodes=n_road_nodes
        )
        register = write_demo_register(out / "demo_register", result.outputs["scenario"], seed=seed)
        survey = write_demo_survey(out / "demo_survey.csv", result.outputs["scenario"], seed=seed)
        assert isinstance(survey.survey, Path)
        result.outputs["survey"] = survey.survey
    return run_scenario(
        result.outputs["scenario"],
        out,
        progress=progress,
        result=result,
        cache=False,
        register=register,
        survey=survey,
        lang=lang,
    )


@speaks  # the run's words (risk reasons, plan notes) in its output's language: speak(lang) below
def run_scenario(
    scenario: Scenario | str | Path,
    out_dir: str | Path,
    *,
    units: str | None = None,
    standard: str = DEFAULT_STANDARD,
    model: Model = "mclp",
    n_new: int = 3,
    days: int = 7,
    risk_weights: TableOverrides = None,
    road_speeds: TableOverrides = None,
    max_snap_m: float | None = None,
    cache: bool = True,
    progress: Progress | None = None,
    result: PipelineResult | None = None,
    register: str | Path | None = None,
    executor: Executor | Any | None = None,
    task_progress: TaskProgress | None = None,
    survey: str | Path | SurveySource | None = None,
    lang: str | None = None,
    hour: int | str | None = None,
    worst_hour: bool = False,
    close: str | Path | None = None,
) -> PipelineResult:
    """Run every stage on a scenario and write the outputs into ``out_dir``.

    Outputs: ``network.gpkg`` (road nodes and edges with travel times; above 2 M edges
    ``network.npz`` and ``network_main_roads.gpkg`` instead, :mod:`service._network`), ``snapping.csv``,
    ``coverage.gpkg`` (response times, isochrones, station districts and violations),
    ``risk.gpkg`` (risk by ``units`` with the reasons, road response times as the capacity
    component, incident models when there are incidents), ``stations.gpkg`` (proposed stations
    with the trade-off curve), ``depots.gpkg`` (assignment and stock, when the scenario has
    depots), ``map.html`` (interactive, works offline), ``report.html`` (self-contained) and
    ``summary.json``. Every file is written atomically. A planning stage the data cannot support
    (no depots, no eligible candidate site) is skipped with its reason in the notes and in
    ``summary.json``; the scenario's own notes (estimated populations, assumed census shares)
    are repeated in every output. A hidden-danger register (``register``: a register directory,
    else the scenario TOML's ``[register]`` table, :mod:`service.hazard_register`) adds its
    month's disclosure, assessments and traceability in ``register/``, and its items and
    four-colour risk points to the map and report. A community safety survey (``survey``: a
    file or a :class:`service.community_outputs.SurveySource`, else the scenario TOML's
    ``[community_safety]`` table) is scored before anything is written (a bad survey stops the
    run with nothing written); its scores join the risk model's vulnerability, its failed items
    go into the run's register (once each; not with ``register = false``), ``communities.gpkg``
    holds the scores and, with a budget, the upgrade plan and the demonstration communities, and
    the map, the report and ``summary.json`` (``community_safety``) show them. The scenario TOML's
    ``[natural_hazards]`` (flood depth rasters per return period, graded geological and fire zones;
    :mod:`risk_models.natural`) joins the risk's hazard term, with its per-unit figures in
    ``risk.gpkg``. Its ``[time_of_day]`` (:mod:`service.hours_run`: ``hour = H`` or ``"worst"``,
    ``speed_profiles``, ``observed_speeds``; ``hour`` / ``worst_hour`` win over it) runs coverage,
    risk and the station and depot plans on the road graph of that hour and writes
    ``response_by_hour.csv`` and ``response_by_hour.png`` next to ``coverage.gpkg``; at the worst
    hour ``coverage.gpkg`` holds the free-flow isochrones and districts and the worst hour's
    (``isochrones_worst_hour``, ``districts_worst_hour``, :meth:`service.hours_run.HourRun.with_free_flow`),
    both on the map. Its ``[what_if]`` (:mod:`service.what_if_run`; ``close``, a change file, is
    added to it) adds the change's difference per community, the closed roads and the isochrones
    and districts after the change to ``coverage.gpkg``, the map (closure impact) and the report
    ("Road closures"). A bad table, change, or bad observed rows stop the run with nothing written.

    A province (communities with a ``city`` column naming two or more cities,
    :func:`planning.cities.scenario_cities`) is planned city by city: ``stations.gpkg`` holds a
    station plan per city (:func:`planning.cities.plan_stations_by_city`, ``n_new`` new
    stations in each), ``depots.gpkg`` the depot network across tiers
    (:func:`planning.depot_tiers.plan_depot_network`), risk is scored on ``units`` (default
    :data:`PROVINCE_UNITS`; communities for a single city), and ``cities.csv`` and
    ``summary.json`` (``cities``) give the per-city figures. ``executor`` (an
    :class:`gis.executor.Executor` or a ``distributed.Client``) runs the stages that take one
    and the per-city plans as its tasks, with ``task_progress(done, total)``; the outputs are
    the same as in one process. ``lang`` (``"zh"`` / ``"en"``) is the language of the map, the
    report, its figures and the register's pages; None: by :func:`gis.i18n.resolve_lang`
    (``$RISKPLAN_LANG``, the TOML's ``[scenario] lang``, the scenario's place, English).
    """
    ex = as_executor(executor) if executor is not None else None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = result or PipelineResult(out)
    with _stage(result, "load and validate scenario", progress):
        scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        cities_ = scenario_cities(scenario)
        natural = natural_inputs(scenario)  # a bad [natural_hazards] stops here, nothing written
        sensitivity_options(scenario)  # and a bad [sensitivity]
        reliability_run_options(scenario)  # and a bad [reliability] or incident row
        force_run_options(scenario)  # and a bad [force]
        time_of_day = time_of_day_options(scenario, hour=hour, worst=worst_hour)  # and a bad [time_of_day]
        change = what_if_options(scenario, close=close)  # and a bad [what_if] or change file
        lang = result.lang = resolve_lang(lang, scenario=scenario)  # the one rule, for every output
        speak(lang)  # and every word planning and risk_models make in the run
    source = survey_source(scenario, survey)
    safety = None
    if source is not None:  # scored (and planned) before anything is written: a bad survey stops here
        with _stage(result, "community safety survey", None):
            safety = assess_survey(scenario, source)
    if units is None:
        units = PROVINCE_UNITS if cities_ else "communities"
    # a province's communities are scored at their point, as grid cells are: their area mean on
    # the lattice of a tenth of the smallest bandwidth (30 m) would take some 55 million sample
    # points over a province's 50,000 km2 of communities (the grid gives the area picture)
    at = PROVINCE_AT if cities_ else None
    with _stage(result, "build road network", progress):
        run = build_network(scenario, road_speeds=road_speeds, max_snap_m=max_snap_m, cache=cache)
        hours = (  # bad observed speeds stop here, before anything is written
            None
            if time_of_day is None
            else prepare_hours(scenario, run.graph, time_of_day, standard=standard, max_snap_m=max_snap_m)
        )
        if change is not None:  # roads, stations the graph or scenario lacks stop here too
            check_what_if(change, scenario, run.graph)
        graph_now = run.graph if hours is None else hours.graph  # the hour's travel times, for every stage
        network, network_notes = write_network(run.graph, out)  # a province's: arrays + main roads
        result.outputs |= network
        result.outputs["snapping"] = write_snap_report(run, out / "snapping.csv")
    if safety is not None and source is not None and source.register:  # before the month is read
        register_failed(safety, scenario, result, register=register)
    hazard_register = register_outputs(scenario, out, result, register=register, lang=lang)
    with _stage(result, f"coverage ({standard}) and risk", progress):
        coverage, risk = assess(
            scenario,
            graph=graph_now,
            units=units,
            standard=standard,
            risk_weights=risk_weights,
            max_snap_m=max_snap_m,
            executor=ex,
            at=at,
            register=hazard_register,
            natural=natural,
            **community_inputs(safety),
        )
        if hours is not None:  # at the worst hour: the free-flow isochrones and districts too
            coverage = hours.with_free_flow(
                coverage, scenario, run.graph, standard=standard, max_snap_m=max_snap_m
            )
        coverage = scenario_reliability(scenario, graph_now, coverage, standard=standard)
        coverage = scenario_force(scenario, graph_now, coverage, max_snap_m=max_snap_m)
        coverage = coverage if hours is None else hours.mark(coverage)
        if change is not None:
            coverage, _ = attach_what_if(
                coverage, scenario, graph_now, change, standard=standard, max_snap_m=max_snap_m
            )
        coverage = flood_coverage(scenario, graph_now, coverage, natural[0], risk=risk, max_snap_m=max_snap_m)
        result.outputs["coverage"] = coverage.write(out / "coverage.gpkg")
        if hours is not None:
            result.outputs |= hours.write(out, lang=lang)
        sens = scenario_sensitivity(scenario, risk)
        result.outputs["risk"] = risk.write(
            out / "risk.gpkg",
            extra_layers=sens.layers() if sens is not None else None,
            extra_tables=sens.tables() if sens is not None else None,
        )
    if safety is not None:
        community_outputs(safety, scenario, out, result)
    community_risk = risk
    if units != "communities":
        community_risk = score_scenario(
            scenario,
            response_time_s=reached_times(coverage.communities),
            learn=False,
            risk_weights=risk_weights,
            executor=ex,
            at=at,
            natural_hazards=natural[0],
            natural_table=natural[1],
            **register_inputs(hazard_register),
            **community_inputs(safety),
        )
    # the flood whose displaced residents the depots plan for ([natural_hazards] relocation_return_period)
    flood_rp = natural[0].relocation_return_period if natural[0] is not None else None
    skipped: dict[str, str] = {}
    stations: StationPlan | CityStationPlans | None = None
    depots: DepotPlan | TieredDepotPlan | None = None
    has_depots = "depots" in scenario and len(scenario["depots"]) > 0
    with _stage(
        result, "plan stations and depots" + (f" of {len(cities_)} cities" if cities_ else ""), progress
    ):
        try:
            if cities_:
                stations = plan_stations_by_city(
                    scenario,
                    graph_now,
                    cities=cities_,
                    risk=community_risk,
                    model=model,
                    n_new=n_new,
                    standard=standard,
                    max_snap_m=max_snap_m,
                    executor=ex,
                    progress=task_progress,
                )
            else:
                stations = plan_stations(
                    scenario, graph_now, risk=community_risk, model=model, n_new=n_new, standard=standard
                )
            result.outputs["stations"] = stations.write(out / "stations.gpkg")
        except InputError as exc:
            skipped["stations"] = str(exc)
        if has_depots and cities_:
            depots = plan_depot_network(
                scenario, graph_now, risk=community_risk, days=days, executor=ex, progress=task_progress,
                flood_return_period=flood_rp, flood_depth=depot_flood_depth(natural[0]),
            )  # fmt: skip
            result.outputs["depots"] = depots.write(out / "depots.gpkg")
        elif has_depots:
            depots = plan_depots(
                scenario, graph_now, risk=community_risk, days=days, flood_return_period=flood_rp,
                flood_depth=depot_flood_depth(natural[0]),
            )  # fmt: skip
            result.outputs["depots"] = depots.write(out / "depots.gpkg")
        else:
            skipped["depots"] = say("run_no_depots")
    run.graph.edge_shapes().release()  # the lines and tree of the snaps (3.3 GB on a province): done
    by_city = None
    if cities_:
        by_city = by_city_table(
            scenario,
            community_risk,
            coverage,
            stations if isinstance(stations, CityStationPlans) else None,
            depots if isinstance(depots, TieredDepotPlan) else None,
        )
        result.outputs["cities"] = out / "cities.csv"
        with atomic_path(out / "cities.csv") as tmp:
            by_city.to_csv(tmp)
    skip_notes = [say("run_plan_skipped", plan=plan_word(stage), why=why) for stage, why in skipped.items()]
    notes = list(dict.fromkeys([*risk.notes, *coverage.notes, *skip_notes]))
    plan_notes = [*(stations.notes if stations else ()), *(depots.notes if depots else ())]
    with _stage(result, "map and report", progress):
        shown = with_criticality(coverage, out)  # `riskplan criticality`'s ranking, when in the folder
        result.outputs["map"] = write_map(
            scenario,
            out / "map.html",
            risk=risk,
            coverage=shown,
            station_plan=stations,
            depot_plan=depots,
            register=hazard_register,
            community_safety=safety,
            uncertainty=sens.units if sens is not None else None,
            lang=lang,
        )
        result.outputs["report"] = write_report(
            scenario,
            out / "report.html",
            risk=risk,
            coverage=shown,
            station_plan=stations,
            depot_plan=depots,
            register=hazard_register,
            community_safety=safety,
            notes=[*plan_notes, *skip_notes],
            map_page=result.outputs["map"].read_text(encoding="utf-8"),  # the same map, not drawn again
            map_src=result.outputs["map"].name,  # a province's map linked beside the report, not inlined
            uncertainty=sens,
            lang=lang,
        )
    report = run.graph.report
    if scenario.synthetic:
        result.notes.append(say("run_synthetic", scenario=scenario.label))
    if report is not None:
        result.notes.append(str(report))
    result.notes.append(coverage.report())
    result.notes.append(risk_note(risk))
    result.notes += [p.report() for p in (stations, depots) if p is not None]
    result.notes += [say("run_note", note=n) for n in notes if n not in coverage.notes]
    result.notes += [say("run_note", note=n) for n in network_notes]
    write_qgis_styles(*(p for p in result.outputs.values() if p.suffix == ".gpkg"))  # one set of bands
    result.outputs["summary"] = out / "summary.json"
    summary = {
        "scenario": scenario.label,
        "synthetic": scenario.synthetic,
        "crs": scenario.crs.to_string(),
        "layers": {name: len(gdf) for name, gdf in scenario.layers.items()},
        "network": {"nodes": run.graph.n_nodes, "edges": run.graph.n_edges},
        "flagged_snaps": run.flagged,
        "coverage": coverage_summary(coverage),
        **reliability_summary(coverage),
        "plan": province_plan_summary(
            stations if isinstance(stations, CityStationPlans) else None,
            depots if isinstance(depots, TieredDepotPlan) else None,
        )
        if cities_
        else plan_summary(
            stations if isinstance(stations, StationPlan) else None,
            depots if isinstance(depots, DepotPlan) else None,
        ),
        "skipped": skipped,
        "risk": {
            "units": risk.units_spec,
            "levels": risk.units["level"].astype(str).value_counts().to_dict(),
            "top": risk.top(5)[["name", "score", "level"]].reset_index().to_dict("records")
            if "name" in risk.units
            else risk.top(5)[["score", "level"]].reset_index().to_dict("records"),
        },
        **({"cities": json.loads(by_city.round(4).to_json(orient="index"))} if by_city is not None else {}),
        **({"community_safety": community_summary(safety)} if safety is not None else {}),
        **({"flood": flooded} if (flooded := flood_summary(coverage, depots)) else {}),
        "notes": [*notes, *network_notes],
        "outputs": {k: str(v.name) for k, v in result.outputs.items()},
        "timings_s": result.timings_s,
    }
    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return result
