"""Reliability of the response with busy units: call rates, the hypercube, workload and outputs.

:func:`call_rates` / :func:`rates_from_risk` give calls per area and hour of the day (from the
incidents layer, or a city total shared by risk) and :func:`area_service_times` the mean
service time of each area's calls (``planning/data/service_times.toml`` or the incidents' own
durations). :func:`exact_hypercube` solves the full 2^N state system (zero-line-capacity loss
system, exponential service) for small N; :func:`approximate_hypercube` solves the same 2^N
chain up to 12 units (:mod:`planning.reliability.states`), the conditional-Bernoulli refinement
of Larson's approximation up to 64 and Larson's beyond, with area service times after Jarvis;
:func:`simulate_hypercube` is a seeded discrete-event simulation of the same system.
:func:`station_workload` adds stations with several units, the chance the first-due station is
busy, the expected coverage and the expected 90th-percentile response; :func:`workload_by_hour`
does it hour by hour and :func:`concurrency_by_hour` gives P(k or more calls at once).
:func:`queueing_swap` improves a plan by moves judged by the hypercube, and
:func:`analyse_reliability` runs all of it on a scenario.
"""

from planning.reliability.analysis import (
    RELIABILITY_COLUMNS,
    ReliabilityResult,
    analyse_reliability,
    attach_reliability,
    check_reliability_inputs,
    reliability_options,
)
from planning.reliability.concurrency import concurrency_by_hour
from planning.reliability.coverage import expected_coverage, preference_lists
from planning.reliability.hypercube import (
    HypercubeResult,
    approximate_hypercube,
    exact_hypercube,
)
from planning.reliability.placement import SwapResult, queueing_swap
from planning.reliability.rates import (
    HOURS,
    area_service_times,
    assign_areas,
    call_rates,
    incident_hours,
    load_service_times,
    rates_from_risk,
    response_units,
)
from planning.reliability.simulation import simulate_hypercube
from planning.reliability.workload import Workload, station_workload, weighted_quantile, workload_by_hour

__all__ = [
    "HOURS",
    "RELIABILITY_COLUMNS",
    "HypercubeResult",
    "ReliabilityResult",
    "SwapResult",
    "Workload",
    "analyse_reliability",
    "approximate_hypercube",
    "area_service_times",
    "assign_areas",
    "attach_reliability",
    "call_rates",
    "check_reliability_inputs",
    "concurrency_by_hour",
    "exact_hypercube",
    "expected_coverage",
    "incident_hours",
    "load_service_times",
    "preference_lists",
    "queueing_swap",
    "rates_from_risk",
    "reliability_options",
    "response_units",
    "simulate_hypercube",
    "station_workload",
    "weighted_quantile",
    "workload_by_hour",
]
