"""Reliability of the response with busy units: the hypercube queueing model.

:func:`exact_hypercube` solves the full 2^N state system (zero-line-capacity loss system,
exponential service) for small N; :func:`approximate_hypercube` is Larson's approximation
with the dependence correction taken from the Erlang loss distribution;
:func:`simulate_hypercube` is a seeded discrete-event simulation of the same system;
:func:`expected_coverage` turns the dispatch fractions into the expected share of calls
reached within a standard.
"""

from planning.reliability.coverage import expected_coverage, preference_lists
from planning.reliability.hypercube import (
    HypercubeResult,
    approximate_hypercube,
    exact_hypercube,
)
from planning.reliability.simulation import simulate_hypercube

__all__ = [
    "HypercubeResult",
    "approximate_hypercube",
    "exact_hypercube",
    "expected_coverage",
    "preference_lists",
    "simulate_hypercube",
]
