"""The ``[reliability]`` table of a scenario TOML: busy stations in ``riskplan run``'s coverage.

``[reliability]`` (an empty table will do; options ``calls_per_year``, ``period_days``,
``service_times``, ``weight_column``, ``method``, ``hours``, see
:func:`planning.reliability.analyse_reliability`) makes the run solve the hypercube for the
scenario's stations: ``coverage.gpkg`` gains the communities' ``expected_response_p90_s``,
``busy_fraction_first_due`` ... columns, the ``station_workload`` layer and the
``p90_by_hour`` table, the map a layer of busy fraction per station and the report its
section "Standard of cover". ``enabled = false`` turns it off.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gis.scenario import scenario_table

if TYPE_CHECKING:
    from gis import Scenario
    from gis.network.graph import GraphLike
    from planning.coverage import CoverageResult

__all__ = ["reliability_run_options", "reliability_summary", "scenario_reliability"]

_TABLE = "reliability"


def reliability_run_options(scenario: Scenario) -> dict[str, Any] | None:
    """The checked options of the scenario TOML's ``[reliability]``, or None without one.

    The incidents' times and durations are checked too, so that a bad row stops the run before
    anything is written.

    Raises
    ------
    gis.InputError
        Unknown keys, bad values or bad incident rows, naming the TOML (or file) and the fix.
    """
    from planning.reliability import check_reliability_inputs, reliability_options

    found = scenario_table(scenario, _TABLE)
    if found is None:
        return None
    table, src = found
    where = f"Scenario TOML `{src}`, table `[{_TABLE}]`"
    if isinstance(table, dict) and table.get("enabled", True) is False:
        return None
    options = reliability_options(table, where)
    if isinstance(options.get("service_times"), str):
        p = Path(options["service_times"])
        options["service_times"] = p if p.is_absolute() else src.parent / p
    if "fire_stations" in scenario.layers:
        check_reliability_inputs(scenario, service_times=options.get("service_times"))
    return options


def scenario_reliability(
    scenario: Scenario, graph: GraphLike, coverage: CoverageResult, *, standard: str
) -> CoverageResult:
    """``coverage`` with the reliability attached when the scenario asks for it, else unchanged.

    The reliability solves on the coverage's own station x community response times (its
    snaps, speed factor and off-network flags, on ``graph``, the graph it ran on).
    """
    options = reliability_run_options(scenario)
    if options is None:
        return coverage
    from planning.reliability import analyse_reliability, attach_reliability

    rel = analyse_reliability(scenario, graph, standard=standard, coverage=coverage, **options)
    return attach_reliability(coverage, rel)


def _number(value: Any) -> float | int | None:
    """A JSON number (None for NaN and infinity: "beyond reach")."""
    v = float(value)
    if not math.isfinite(v):
        return None
    return int(v) if v.is_integer() and abs(v) < 2**53 else round(v, 6)


def reliability_summary(coverage: CoverageResult) -> dict[str, Any]:
    """The ``reliability`` entry of ``summary.json``, or ``{}`` for a coverage without one.

    The city's figures (``reliability_summary`` table: expected coverage and 90th-percentile
    response with busy stations, lost share, mean busy fraction, calls a day, communities off
    the road network left out) and each station's busy fraction, busiest hour and its busy
    fraction. Non-finite figures (a 90th percentile beyond reach) are ``null``.
    """
    table = coverage.extra_tables.get("reliability_summary")
    layer = coverage.extra_layers.get("station_workload")
    if table is None or layer is None:
        return {}
    city = {str(k): _number(v) for k, v in table["value"].items()}
    stations = {
        str(sid): {
            "response_units": int(row["response_units"]),
            "busy_fraction": _number(row["busy_fraction"]),
            "peak_hour": int(row["peak_hour"]),
            "peak_busy_fraction": _number(row["peak_busy_fraction"]),
        }
        for sid, row in layer.iterrows()
    }
    return {"reliability": {"standard": coverage.standard.name, "city": city, "stations": stations}}
