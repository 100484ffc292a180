"""The built-in job kinds: ``network``, ``placement``, ``depots``, ``risk`` and ``communities``.

They run speaking their job's language (:mod:`service.jobs.runner`): progress texts come from the
glossary (``job_*``, :func:`gis.speech.say`), and so do the notes and reasons of the plans.

Each is a ``(scenario, params, progress, cancel) -> JobOutput`` function with a
``check_*_params`` that validates and normalises its parameters (see
:mod:`service.jobs.registry`), registered with the JSON Schema of those parameters by
:func:`register_builtin`. Road graphs come from :func:`service.graphs.job_graph`, which uses
the service's own cache (``DATA_DIR/cache/graphs``) while a job runs.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis import InputError, Scenario
from gis.speech import say
from planning.names import DEFAULT_STANDARD, DISTANCES, MODELS

from ..graphs import job_graph
from ..units import UNITS_PATTERN, canonical_units
from .registry import JobOutput, JobRegistry, Progress

__all__ = [
    "MAX_SURVEY_ROWS",
    "check_communities_params",
    "check_depots_params",
    "check_network_params",
    "check_placement_params",
    "check_risk_params",
    "register_builtin",
    "run_communities_job",
    "run_depots_job",
    "run_network_job",
    "run_placement_job",
    "run_risk_job",
]

#: Most survey rows (communities x survey dates) a ``communities`` job takes.
MAX_SURVEY_ROWS = 50_000


def _params(**properties: Any) -> dict[str, Any]:
    """The JSON Schema of a parameter object: exactly these properties, all optional."""
    return {"type": "object", "properties": properties, "additionalProperties": False}


def _integer(low: int, high: int, default: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": low, "maximum": high, "default": default}


def _standards() -> dict[str, Any]:
    from planning import standard_names

    return {"type": "string", "enum": sorted(standard_names()), "default": DEFAULT_STANDARD}


def register_builtin(registry: JobRegistry) -> None:
    """Register the built-in kinds in ``registry``, each with the JSON Schema of its parameters."""
    distance = {"type": "string", "enum": list(DISTANCES), "default": "network"}
    registry.register(
        "network",
        run_network_job,
        description="Build the road network and snap stations, depots, hazards and communities to it.",
        check_params=check_network_params,
        params_schema=_params(
            max_snap_m={"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 100_000},
            cache={"type": "boolean", "default": True},
            road_speeds={
                "type": ["object", "null"],
                "description": "Overrides of road_speeds.toml (a table, never a path).",
            },
        ),
    )
    registry.register(
        "placement",
        run_placement_job,
        description=(
            "Propose new fire stations (lscp, mclp, p-median, p-center or backup) under a "
            "response standard, with the reason for each and the coverage trade-off curve."
        ),
        check_params=check_placement_params,
        params_schema=_params(
            model={"type": "string", "enum": list(MODELS), "default": "mclp"},
            n_new=_integer(1, 50, 3),
            distance=distance,
            standard=_standards(),
            time_limit_s=_integer(1, 300, 30),
        ),
    )
    registry.register(
        "depots",
        run_depots_job,
        description="Assign communities to relief depots and size their stock for a number of days.",
        check_params=check_depots_params,
        params_schema=_params(days=_integer(1, 90, 7), distance=distance),
    )
    registry.register(
        "risk",
        run_risk_job,
        description=(
            "Score risk units (`communities`, `h3:RES` or `grid:METRES`) under a response standard, "
            "with no limit on their number for anonymous readers: they read the result layer `units`."
        ),
        check_params=check_risk_params,
        params_schema=_params(
            units={"type": "string", "pattern": UNITS_PATTERN, "default": "communities"},
            standard=_standards(),
        ),
    )
    registry.register(
        "communities",
        run_communities_job,
        description=(
            "Score a community safety survey; with a budget, the upgrade measures (HiGHS, proven gap) "
            "and the demonstration communities. Start it with POST /scenarios/{id}/communities/surveys."
        ),
        check_params=check_communities_params,
        params_schema=_params(
            survey={
                "type": "object",
                "description": "The checked survey rows (the upload endpoint makes them).",
                "properties": {
                    "columns": {"type": "array", "items": {"type": "string"}, "maxItems": 200},
                    "data": {"type": "array", "items": {"type": "array"}, "maxItems": MAX_SURVEY_ROWS},
                    "where": {"type": "string", "maxLength": 200},
                },
                "required": ["columns", "data"],
                "additionalProperties": False,
            },
            budget_cny={"type": ["number", "null"], "minimum": 0, "maximum": 1e12},
            demonstration=_integer(0, 1000, 0),
            safety_standard={
                "type": ["object", "null"],
                "description": "Overrides of community_safety.toml.",
            },
            upgrade_measures={
                "type": ["object", "null"],
                "description": "Overrides of upgrade_measures.toml.",
            },
            time_limit_s=_integer(1, 300, 30),
        ),
    )


# -- network -------------------------------------------------------------------


def check_network_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Check the parameters of a ``network`` job: ``max_snap_m`` (> 0), ``cache``, ``road_speeds``.

    Examples
    --------
    >>> check_network_params({"max_snap_m": 250})
    {'max_snap_m': 250.0, 'cache': True, 'road_speeds': None}
    """
    unknown = sorted(set(params) - {"max_snap_m", "cache", "road_speeds"})
    if unknown:
        msg = f"Unknown network job parameter(s) {unknown}. Fix: use `max_snap_m`, `cache`, `road_speeds`."
        raise InputError(msg)
    snap = params.get("max_snap_m")
    is_number = isinstance(snap, int | float) and not isinstance(snap, bool)
    if snap is not None and not (is_number and np.isfinite(snap) and 0 < snap <= 100_000):
        msg = "`max_snap_m` must be a number of metres in (0, 100000]. Fix: e.g. 500."
        raise InputError(msg)
    cache = params.get("cache", True)
    speeds = params.get("road_speeds")
    if not isinstance(cache, bool) or not (speeds is None or isinstance(speeds, Mapping)):
        msg = "`cache` must be true/false and `road_speeds` a table of road class speeds (not a path)."
        raise InputError(msg)
    return {"max_snap_m": None if snap is None else float(snap), "cache": cache, "road_speeds": speeds}


def run_network_job(
    scenario: Scenario, params: Mapping[str, Any], progress: Progress, cancel: threading.Event
) -> JobOutput:
    """Build the road network of ``scenario`` and report how its points snap to it."""
    from planning import snap_points

    from ..workflow import SNAPPED_LAYERS, NetworkRun

    progress(0.05, say("job_building_network"))
    graph = job_graph(scenario, road_speeds=params.get("road_speeds"), cache=params["cache"])
    snaps = {
        layer: snap_points(graph, scenario[layer], max_snap_m=params.get("max_snap_m"), layer=layer)
        for layer in SNAPPED_LAYERS
        if layer in scenario
    }
    run = NetworkRun(graph, snaps)
    progress(0.9, say("job_summarising_snapping"))
    frames = []
    summary: dict[str, dict[str, Any]] = {}
    for layer, table in run.snaps.items():
        points = scenario[layer].geometry.loc[table.index].representative_point()
        frames.append(
            gpd.GeoDataFrame(
                {
                    "layer": layer,
                    "id": table.index.astype(str),
                    "node": table["node"].astype(str).to_numpy(),
                    "snap_distance_m": table["snap_distance_m"].to_numpy(float),
                    "flagged": table["flagged"].to_numpy(bool),
                },
                geometry=points.to_numpy(),
                crs=scenario.crs,
            )
        )
        distance = table["snap_distance_m"]
        summary[layer] = {
            "points": len(table),
            "flagged": int(table["flagged"].sum()),
            "median_snap_m": round(float(distance.median()), 1) if len(table) else None,
            "max_snap_m": round(float(distance.max()), 1) if len(table) else None,
        }
    report = run.graph.report
    data = {
        "scenario": scenario.label,
        "synthetic": scenario.synthetic,
        "nodes": run.graph.n_nodes,
        "edges": run.graph.n_edges,
        "report": str(report) if report is not None else None,
        "snapping": summary,
        "flagged": run.flagged,
    }
    snapping = pd.concat(frames, ignore_index=True) if frames else None
    return JobOutput(data, {"snapping": gpd.GeoDataFrame(snapping, crs=scenario.crs)} if frames else {})


# -- planning (placement, depots) ----------------------------------------------


def _unknown_params(kind: str, params: Mapping[str, Any], known: Sequence[str]) -> None:
    unknown = sorted(set(params) - set(known))
    if unknown:
        names = ", ".join(f"`{k}`" for k in known)
        msg = f"Unknown {kind} job parameter(s) {unknown}. Fix: use {names}."
        raise InputError(msg)


def _choice(params: Mapping[str, Any], name: str, choices: Sequence[str], default: str) -> str:
    value = params.get(name, default)
    if value not in choices:
        msg = f"`{name}` is {value!r}. Fix: use one of {list(choices)}."
        raise InputError(msg)
    return str(value)


def _whole(params: Mapping[str, Any], name: str, low: int, high: int, default: int) -> int:
    """A JSON integer (``3`` or ``3.0``, never ``true``) from ``low`` to ``high``."""
    value = params.get(name, default)
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not whole or not low <= value <= high:
        msg = f"`{name}` is {value!r}. Fix: give a whole number from {low} to {high}."
        raise InputError(msg)
    return int(value)


def check_placement_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Check the parameters of a ``placement`` job.

    ``model`` (lscp, mclp, p-median, p-center, backup; default mclp), ``n_new`` (1..50,
    default 3), ``distance`` (network, euclidean), ``standard`` (a shipped response profile),
    ``time_limit_s`` (1..300 s per solve, default 30).

    Examples
    --------
    >>> check_placement_params({"n_new": 2})
    {'model': 'mclp', 'n_new': 2, 'distance': 'network', 'standard': 'cn-gb51080', 'time_limit_s': 30}
    """
    from planning import standard_names

    _unknown_params("placement", params, ("model", "n_new", "distance", "standard", "time_limit_s"))
    return {
        "model": _choice(params, "model", MODELS, "mclp"),
        "n_new": _whole(params, "n_new", 1, 50, 3),
        "distance": _choice(params, "distance", DISTANCES, "network"),
        "standard": _choice(params, "standard", standard_names(), DEFAULT_STANDARD),
        "time_limit_s": _whole(params, "time_limit_s", 1, 300, 30),
    }


def check_depots_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Check the parameters of a ``depots`` job: ``days`` (1..90, default 7), ``distance``.

    Examples
    --------
    >>> check_depots_params({"distance": "euclidean"})
    {'days': 7, 'distance': 'euclidean'}
    """
    _unknown_params("depots", params, ("days", "distance"))
    return {
        "days": _whole(params, "days", 1, 90, 7),
        "distance": _choice(params, "distance", DISTANCES, "network"),
    }


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows (NaN and infinities as null)."""
    clean = table.replace([np.inf, -np.inf], np.nan).astype(object)
    return [
        {str(k): (None if pd.isna(v) else v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in clean.to_dict(orient="records")
    ]


def _plain(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Columns a GeoPackage stores: the index as ``id``, lists and objects as text."""
    out = gdf.copy()
    if "id" not in out.columns:
        out.insert(0, "id", out.index.astype(str))
    for col in out.columns:
        if col != out.geometry.name and out[col].dtype == object:
            out[col] = out[col].map(
                lambda v: (
                    None
                    if v is None
                    else "; ".join(map(str, v))
                    if isinstance(v, list | tuple | set)
                    else str(v)
                )
            )
    return out.reset_index(drop=True)


def _planning_inputs(scenario: Scenario, distance: str, standard: str, progress: Progress) -> tuple[Any, Any]:
    """The road graph (None for straight-line distances) and the risk result, in two stages."""
    from ..workflow import assess

    progress(0.05, say("job_building_network"))
    graph = job_graph(scenario)
    progress(0.2, say("job_scoring_risk"))
    _, risk = assess(scenario, graph=graph, standard=standard)
    return (graph if distance == "network" else None), risk


def _tradeoff_layer(tradeoff: pd.DataFrame, sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The trade-off table, each row with the new sites it adds as a multipoint."""
    points = sites.geometry
    geoms = []
    for value in tradeoff["sites"].astype(str):
        ids = [s.strip() for s in value.replace(",", ";").split(";") if s.strip() in points.index]
        geoms.append(shapely.MultiPoint([points.loc[i] for i in ids]) if ids else None)
    return gpd.GeoDataFrame(tradeoff.reset_index(drop=True), geometry=geoms, crs=sites.crs)


def run_placement_job(
    scenario: Scenario, params: Mapping[str, Any], progress: Progress, cancel: threading.Event
) -> JobOutput:
    """Propose ``n_new`` fire stations with :func:`planning.plan_stations`."""
    from planning import plan_stations

    graph, risk = _planning_inputs(scenario, params["distance"], params["standard"], progress)
    progress(0.5, say("job_solving_stations", model=params["model"], n=params["n_new"]))
    plan = plan_stations(
        scenario,
        graph,
        model=params["model"],
        n_new=params["n_new"],
        standard=params["standard"],
        risk=risk,
        distance=params["distance"],
        time_limit_s=params["time_limit_s"],
    )
    progress(0.9, say("job_storing_plan"))
    proposed = _plain(plan.proposed)
    tradeoff = plan.tradeoff
    data = {
        "scenario": scenario.label,
        "synthetic": scenario.synthetic,
        **params,
        "proposed": _records(pd.DataFrame(proposed.drop(columns=proposed.geometry.name))),
        "tradeoff": _records(tradeoff),
        "summary": {str(k): v for k, v in zip(plan.summary.index, _records(plan.summary), strict=True)},
        "recommended_n": int(plan.recommended_n),
        "notes": [str(n) for n in plan.notes],
    }
    layers = {
        "proposed": proposed,
        "candidates": _plain(plan.candidates),
        "communities": _plain(plan.communities),
        "tradeoff": _tradeoff_layer(tradeoff, plan.candidates),
    }
    return JobOutput(data, layers)


def run_depots_job(
    scenario: Scenario, params: Mapping[str, Any], progress: Progress, cancel: threading.Event
) -> JobOutput:
    """Assign communities to relief depots and size the stock with :func:`planning.plan_depots`."""
    from planning import plan_depots

    graph, risk = _planning_inputs(scenario, params["distance"], DEFAULT_STANDARD, progress)
    progress(0.5, say("job_sizing_depots", days=params["days"]))
    plan = plan_depots(scenario, graph, risk=risk, days=params["days"], distance=params["distance"])
    progress(0.9, say("job_storing_plan"))
    depots = _plain(plan.depots)
    stock = plan.stock.reset_index(drop=True)
    where = depots.set_index("id").geometry
    stock_layer = gpd.GeoDataFrame(
        stock, geometry=stock["depot"].astype(str).map(where).to_numpy(), crs=depots.crs
    )
    communities = _plain(plan.communities)
    data = {
        "scenario": scenario.label,
        "synthetic": scenario.synthetic,
        **params,
        "status": str(plan.status),
        "table": _records(plan.table().rename_axis("depot").reset_index()),
        "unmet_people": float(communities["unmet_people"].fillna(0).sum()),
        "notes": [str(n) for n in plan.notes],
    }
    return JobOutput(data, {"communities": communities, "depots": depots, "stock": _plain(stock_layer)})


# -- risk ---------------------------------------------------------------------------------------


def check_risk_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Check the parameters of a ``risk`` job: ``units`` (as the API serves them), ``standard``.

    Examples
    --------
    >>> check_risk_params({"units": "grid:0250"})
    {'units': 'grid:250', 'standard': 'cn-gb51080'}
    """
    from planning import standard_names

    _unknown_params("risk", params, ("units", "standard"))
    units = params.get("units", "communities")
    if not isinstance(units, str):
        msg = f"`units` is {units!r}. Fix: give a string such as `grid:250` or `h3:9`."
        raise InputError(msg)
    return {
        "units": str(canonical_units(units)),
        "standard": _choice(params, "standard", standard_names(), DEFAULT_STANDARD),
    }


def run_risk_job(
    scenario: Scenario, params: Mapping[str, Any], progress: Progress, cancel: threading.Event
) -> JobOutput:
    """Score risk on ``units`` with the response times of the coverage under ``standard``."""
    from ..workflow import assess

    progress(0.05, say("job_building_network"))
    graph = job_graph(scenario)
    progress(0.2, say("job_risk_on_units", standard=params["standard"], units=params["units"]))
    _, risk = assess(scenario, graph=graph, units=params["units"], standard=params["standard"], learn=False)
    progress(0.9, say("job_storing_risk"))
    top = risk.top(50)
    data = {
        "scenario": scenario.label,
        "synthetic": scenario.synthetic,
        **params,
        "units_count": len(risk.units),
        "levels": {str(k): int(v) for k, v in risk.units["level"].astype(str).value_counts().items()},
        "top": _records(
            pd.DataFrame(top[[c for c in ("name", "score", "level", "reasons") if c in top]]).reset_index()
        ),
    }
    return JobOutput(data, {"units": _plain(risk.units)})


# -- communities ----------------------------------------------------------------------------------


def check_communities_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Check the parameters of a ``communities`` job.

    ``survey`` (the checked rows: ``columns``, ``data``, ``where``), ``budget_cny`` (>= 0, or
    None: scores only), ``demonstration`` (0..1000 communities; needs a budget),
    ``safety_standard`` / ``upgrade_measures`` (tables overriding the shipped TOMLs, never
    paths), ``time_limit_s`` (1..300 s per HiGHS solve). The tables are checked here, so a bad
    override is refused before the job is queued.

    Examples
    --------
    >>> checked = check_communities_params({"survey": {"columns": ["community_id"], "data": [["C1"]]}})
    >>> checked["budget_cny"], checked["demonstration"], checked["time_limit_s"]
    (None, 0, 30)
    """
    from planning import load_upgrade_measures
    from risk_models.community_safety import load_safety_standard

    known = ("survey", "budget_cny", "demonstration", "safety_standard", "upgrade_measures", "time_limit_s")
    _unknown_params("communities", params, known)
    survey = params.get("survey")
    ok = isinstance(survey, Mapping) and set(survey) <= {"columns", "data", "where"}
    columns = survey.get("columns") if isinstance(survey, Mapping) else None
    data = survey.get("data") if isinstance(survey, Mapping) else None
    where = survey.get("where", "the survey") if isinstance(survey, Mapping) else None
    ok = ok and isinstance(columns, list) and len(columns) <= 200 and all(isinstance(c, str) for c in columns)
    ok = ok and isinstance(where, str) and len(where) <= 200
    ok = (
        ok
        and isinstance(data, list)
        and all(isinstance(r, list) and len(r) == len(columns or ()) for r in data)
    )
    if not ok:
        msg = (
            "`survey` must be {columns: [...], data: [[...], ...], where} with one value per column in each "
            "row, at most 200 columns and a `where` of at most 200 characters. "
            "Fix: upload the survey with POST /api/v1/scenarios/{id}/communities/surveys."
        )
        raise InputError(msg)
    assert isinstance(survey, Mapping) and isinstance(data, list)
    if len(data) > MAX_SURVEY_ROWS:
        msg = (
            f"`survey` has {len(data):,} rows, more than the {MAX_SURVEY_ROWS:,} a job takes. Fix: split it."
        )
        raise InputError(msg)
    budget = params.get("budget_cny")
    is_number = isinstance(budget, int | float) and not isinstance(budget, bool)
    if budget is not None and not (is_number and np.isfinite(budget) and 0 <= budget <= 1e12):
        msg = f"`budget_cny` is {budget!r}. Fix: give CNY from 0 to 1e12, or leave it out to score only."
        raise InputError(msg)
    demonstration = _whole(params, "demonstration", 0, 1000, 0)
    if demonstration and budget is None:
        msg = "`demonstration` needs a `budget_cny` (chosen after the planned measures). Fix: give a budget."
        raise InputError(msg)
    tables = {}
    for name, load in (
        ("safety_standard", load_safety_standard),
        ("upgrade_measures", load_upgrade_measures),
    ):
        value = params.get(name)
        if value is not None and not isinstance(value, Mapping):
            msg = f"`{name}` must be a table of overrides (not a path). Fix: send a JSON object or nothing."
            raise InputError(msg)
        if value is not None:
            load(value)  # a bad key, weight or rule names the entry
        tables[name] = None if value is None else dict(value)
    return {
        "survey": {
            "columns": list(columns or ()),
            "data": data,
            "where": str(where),
        },
        "budget_cny": None if budget is None else float(budget),
        "demonstration": demonstration,
        **tables,
        "time_limit_s": _whole(params, "time_limit_s", 1, 300, 30),
    }


def run_communities_job(
    scenario: Scenario, params: Mapping[str, Any], progress: Progress, cancel: threading.Event
) -> JobOutput:
    """Score the survey and, with a budget, plan upgrades and demonstration communities.

    Through :func:`service.communities.assess_communities`; stored as
    :func:`service.community_results.assessment_result` makes it.
    """
    from planning import load_upgrade_measures
    from risk_models.community_safety import load_safety_standard

    from ..communities import assess_communities
    from ..community_results import assessment_result, survey_frame

    if "communities" not in scenario:
        msg = (
            f"Scenario `{scenario.label}` has no `communities` layer. Fix: add one to score a survey against."
        )
        raise InputError(msg, key="no_communities_layer", values={"scenario": scenario.label})
    communities = scenario["communities"]
    progress(0.05, say("job_scoring_survey"))
    standard = load_safety_standard(params.get("safety_standard"))
    measures = params.get("upgrade_measures")
    budget = params.get("budget_cny")
    if budget is not None:
        progress(0.2, say("job_planning_upgrades", budget=f"{budget:,.0f}"))
    run = assess_communities(
        communities,
        survey_frame(params["survey"]),
        standard=standard,
        budget=budget,
        demonstration=int(params.get("demonstration", 0)),
        upgrade_measures=None if measures is None else load_upgrade_measures(measures),
        time_limit_s=float(params.get("time_limit_s", 30)),
    )
    progress(0.9, say("job_storing_scores"))
    data, layers = assessment_result(run, communities)
    data = {"scenario": scenario.label, "scenario_synthetic": scenario.synthetic, **data}
    data["survey"] = str(params["survey"].get("where", data["survey"]))  # the uploaded file's name
    return JobOutput(data, layers)
