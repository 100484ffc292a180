"""The ``reliability`` job kind, and the result the API's reliability routes serve.

:func:`reliability_output` runs :func:`planning.reliability.analyse_reliability` (the hypercube
with busy stations: call rates from the scenario's incidents, else ``calls_per_year`` shared by
risk; service times from the incidents' durations, else ``planning/data/service_times.toml``)
on the road graph of an hour (:func:`gis.network.graph_at_hour`) or of the build speeds, and
returns the city's summary as JSON-ready data plus the ``communities`` and ``station_workload``
layers. The job kind (:func:`run_reliability_job`) and ``GET /scenarios/{id}/reliability``
(:mod:`service.api.routes.reliability`) give the same answer.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gis import InputError, Scenario
from gis.i18n import load_glossary
from gis.network import as_road_graph, check_hour, graph_at_hour
from gis.speech import say
from planning.names import DEFAULT_STANDARD

from ..graphs import job_graph
from .registry import JobOutput, JobRegistry, Progress

if TYPE_CHECKING:
    from gis.network.graph import GraphLike

__all__ = [
    "CALLS_NOT_USED",
    "MAX_CALLS_PER_YEAR",
    "RELIABILITY_LAYERS",
    "calls_per_year_used",
    "check_reliability_params",
    "register_reliability",
    "reliability_output",
    "reliability_params_schema",
    "run_reliability_job",
]

#: Layers of a reliability result: the communities' expected response, the stations' workload.
RELIABILITY_LAYERS = ("communities", "station_workload")
#: The note of an answer given a ``calls_per_year`` its scenario's incidents override (English;
#: ``say("reliability_calls_not_used")`` in the language spoken).
CALLS_NOT_USED = load_glossary().text("reliability_calls_not_used", "en")
#: Largest ``calls_per_year`` taken (a city of tens of millions answers fewer calls).
MAX_CALLS_PER_YEAR = 10_000_000.0
_STATION_COLUMNS = (
    "response_units",
    "busy_fraction",
    "calls_per_day",
    "first_due_calls_per_day",
    "first_due_answered_share",
    "peak_busy_fraction",
)


def _number(value: Any) -> float | None:
    out = float(value)
    return out if np.isfinite(out) else None


def _text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and not np.isfinite(value)) else str(value)


def _has_incidents(scenario: Scenario) -> bool:
    incidents = scenario.layers.get("incidents")
    return incidents is not None and len(incidents) > 0


def calls_per_year_used(scenario: Scenario, calls_per_year: float | None) -> float | None:
    """``calls_per_year`` when the scenario's rates come from it, None when its incidents give them.

    The same answer for every ``calls_per_year`` of a scenario with incidents: one cache key.
    """
    return None if _has_incidents(scenario) else calls_per_year


def _p90_rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {"district": str(district), "p90_s": [_number(v) for v in row.to_numpy(np.float64)]}
        for district, row in table.iterrows()
    ]


def _concurrency_rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {"hour": int(hour), **{str(k): _number(v) for k, v in row.items()}} for hour, row in table.iterrows()
    ]


def _station_rows(layer: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    rows = []
    for sid, row in layer.iterrows():
        out: dict[str, Any] = {"station": str(sid), "name": _text(row.get("name"))}
        out |= {c: _number(row[c]) for c in _STATION_COLUMNS}
        out["response_units"] = int(row["response_units"])
        out["peak_hour"] = int(row["peak_hour"])
        rows.append(out)
    return rows


def _communities_layer(scenario: Scenario, rel: Any) -> gpd.GeoDataFrame:
    base = scenario["communities"]
    keep = [c for c in ("name", "population") if c in base.columns]
    return gpd.GeoDataFrame(base[keep].join(rel.communities), geometry=base.geometry, crs=base.crs)


def reliability_output(
    scenario: Scenario,
    graph: GraphLike,
    *,
    standard: str = DEFAULT_STANDARD,
    hour: int | None = None,
    calls_per_year: float | None = None,
    worst_hour: bool = False,
) -> JobOutput:
    """Busy stations' expected coverage and P90 response, per community, station and for the city.

    Parameters
    ----------
    scenario, graph
        A loaded scenario (``fire_stations``, ``communities``; ``incidents`` when present) and its
        road graph at the build speeds.
    standard
        The response standard (a shipped profile name).
    hour
        The hour of day (0-23) whose road speeds give the travel times; None: the build speeds.
        The call rates are the day's mean (``concurrency_by_hour`` and ``p90_by_hour`` give each
        hour's).
    calls_per_year
        Without incidents, the city's calls a year (see :func:`~planning.reliability.analyse_reliability`).
    worst_hour
        Only recorded in the answer: the hour was picked as the worst.

    Returns
    -------
    JobOutput
        ``data``: the city's figures (``city``), each station's (``stations``), the concurrency of
        calls by hour, the expected P90 by district and hour, the notes; ``layers``:
        :data:`RELIABILITY_LAYERS`.

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from gis import Scenario, RoadsSource, graph_from_lines
    >>> sc = Scenario("Demo City (synthetic)", city, city["roads"].crs, RoadsSource("layer"))
    >>> out = reliability_output(sc, graph_from_lines(city["roads"]), hour=8)
    >>> out.data["hour"], out.data["rates_source"], sorted(out.layers)
    (8, 'incidents', ['communities', 'station_workload'])
    """
    from planning.reliability import analyse_reliability

    road = as_road_graph(graph)
    at = road if hour is None else graph_at_hour(road, check_hour(hour))
    used = calls_per_year_used(scenario, calls_per_year)
    rel = analyse_reliability(scenario, at, standard=standard, calls_per_year=used)
    notes = list(rel.notes)
    if calls_per_year is not None and used is None:
        notes.append(say("reliability_calls_not_used"))
    if hour is not None:
        clock = f"{hour:02d}"
        notes.append(
            say("reliability_worst_hour_note", hour=clock)
            if worst_hour
            else say("reliability_hour_note", hour=clock)
        )
    std = rel.standard
    data = {
        "scenario": scenario.label,
        "synthetic": scenario.synthetic,
        "standard": {"name": std.name, "response_s": float(std.response_s)},
        "hour": hour,
        "worst_hour": worst_hour,
        "rates_source": rel.rates_source,
        "calls_per_year": used,
        "city": {str(k): _number(v) for k, v in rel.city.items()},
        "stations": _station_rows(rel.station_workload),
        "concurrency_by_hour": _concurrency_rows(rel.concurrency),
        "p90_by_hour": _p90_rows(rel.p90_by_hour),
        "notes": notes,
    }
    return JobOutput(
        data, {"communities": _communities_layer(scenario, rel), "station_workload": rel.station_workload}
    )


# -- the job kind -----------------------------------------------------------------------------------


def reliability_params_schema() -> dict[str, Any]:
    """The JSON Schema of a ``reliability`` job's parameters (what :func:`check_reliability_params` takes)."""
    from planning import standard_names

    standard = {"type": "string", "enum": sorted(standard_names()), "default": DEFAULT_STANDARD}
    return {"type": "object", "properties": {"standard": standard, **_PARAMS}, "additionalProperties": False}


_PARAMS: dict[str, Any] = {
    "hour": {"type": ["integer", "null"], "minimum": 0, "maximum": 23, "default": None},
    "worst_hour": {"type": "boolean", "default": False},
    "calls_per_year": {
        "type": ["number", "null"],
        "exclusiveMinimum": 0,
        "maximum": MAX_CALLS_PER_YEAR,
        "default": None,
    },
}


def register_reliability(registry: JobRegistry) -> None:
    """Register the ``reliability`` kind in ``registry``."""
    registry.register(
        "reliability",
        run_reliability_job,
        description=(
            "Busy stations (hypercube): expected coverage and 90th-percentile response per community and "
            "for the city, each station's busy fraction, the concurrency of calls by hour; at an `hour` or "
            "the `worst_hour`. Layers `communities` and `station_workload`."
        ),
        check_params=check_reliability_params,
        params_schema=reliability_params_schema(),
    )


def check_reliability_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Check the parameters of a ``reliability`` job.

    ``standard`` (a shipped response profile), ``hour`` (0-23, or None: the build speeds) or
    ``worst_hour`` (true: the hour of the longest residents' P90; not with ``hour``),
    ``calls_per_year`` (> 0; without incidents only).

    Examples
    --------
    >>> check_reliability_params({"hour": 8})
    {'standard': 'cn-gb51080', 'hour': 8, 'worst_hour': False, 'calls_per_year': None}
    """
    from planning import standard_names

    known = ("standard", "hour", "worst_hour", "calls_per_year")
    unknown = sorted(set(params) - set(known))
    if unknown:
        msg = (
            f"Unknown reliability job parameter(s) {unknown}. Fix: use {', '.join(f'`{k}`' for k in known)}."
        )
        raise InputError(msg)
    standard = params.get("standard", DEFAULT_STANDARD)
    if standard not in standard_names():
        msg = f"`standard` is {standard!r}. Fix: use one of {sorted(standard_names())}."
        raise InputError(msg)
    raw = params.get("hour")
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if raw is not None and (isinstance(raw, bool) or not isinstance(raw, int)):
        msg = f"`hour` is {raw!r}. Fix: give an hour of the day, a whole number 0-23 (local time)."
        raise InputError(msg)
    hour = None if raw is None else check_hour(raw, where="`hour`")
    worst = params.get("worst_hour", False)
    if not isinstance(worst, bool):
        msg = f"`worst_hour` is {worst!r}. Fix: give true or false."
        raise InputError(msg)
    if worst and hour is not None:
        msg = (
            f"`worst_hour` and `hour` {hour} ask for two hours. "
            "Fix: give `hour` (0-23) or `worst_hour`, not both."
        )
        raise InputError(msg)
    calls = params.get("calls_per_year")
    is_number = isinstance(calls, int | float) and not isinstance(calls, bool)
    if calls is not None and not (is_number and np.isfinite(calls) and 0 < calls <= MAX_CALLS_PER_YEAR):
        msg = (
            f"`calls_per_year` is {calls!r}. "
            f"Fix: give the city's calls a year, a number in (0, {MAX_CALLS_PER_YEAR:,.0f}]."
        )
        raise InputError(msg)
    return {
        "standard": str(standard),
        "hour": hour,
        "worst_hour": worst,
        "calls_per_year": None if calls is None else float(calls),
    }


def run_reliability_job(
    scenario: Scenario, params: Mapping[str, Any], progress: Progress, cancel: threading.Event
) -> JobOutput:
    """Busy stations' reliability of ``scenario`` (:func:`reliability_output`), at an hour or the worst."""
    from planning import response_by_hour, worst_hour

    progress(0.05, say("job_building_network"))
    graph = job_graph(scenario)
    hour = params.get("hour")
    if params.get("worst_hour"):
        progress(0.2, say("job_worst_hour"))
        hour = worst_hour(response_by_hour(scenario, graph, standard=params["standard"]))
    progress(0.5, say("job_hypercube"))
    out = reliability_output(
        scenario,
        graph,
        standard=params["standard"],
        hour=hour,
        calls_per_year=params.get("calls_per_year"),
        worst_hour=bool(params.get("worst_hour")),
    )
    progress(0.9, say("job_storing_reliability"))
    return out
