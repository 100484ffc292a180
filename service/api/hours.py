"""The hour of an answer: ``hour=`` as given, or ``worst_hour=true`` resolved once per scenario and standard.

The worst hour is the hour of the longest residents' 90th-percentile response
(:func:`planning.worst_hour` of :func:`planning.response_by_hour`). The response-by-hour table
is computed on the first request that needs it for a scenario and standard, stored in the
store as the JSON result ``coverage_<standard>_by_hour`` (so it survives a restart and goes with
its scenario) and kept in memory (:class:`service.api.caches.BuildCache`: concurrent first
requests compute once; requests without the API token within the anonymous limits). Every
answer at an hour says which in its :data:`HOUR_HEADER` (and :data:`WORST_HOUR_HEADER` when it
was picked as the worst).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from fastapi import Request

from planning import response_by_hour, worst_hour

from ..store import NotFoundError
from .caches import cached, get_caches
from .deps import ServiceState, get_service
from .params import When, check_standard

__all__ = [
    "HOUR_HEADER",
    "HOUR_HEADERS_DOC",
    "WORST_HOUR_HEADER",
    "ByHour",
    "by_hour_entry",
    "chosen_hour",
    "hour_headers",
    "standard_slug",
]

#: Response header with the hour (0-23) of the travel times an answer was computed at.
HOUR_HEADER = "X-Hour"
#: Response header ``true`` when that hour was picked as the worst (``worst_hour=true``).
WORST_HOUR_HEADER = "X-Worst-Hour"
#: The OpenAPI ``headers`` of an answer at an hour.
HOUR_HEADERS_DOC: dict[str, Any] = {
    HOUR_HEADER: {
        "description": "The hour of day (0-23) of the travel times; absent for the build speeds.",
        "schema": {"type": "integer", "minimum": 0, "maximum": 23},
    },
    WORST_HOUR_HEADER: {
        "description": "`true` when the hour was picked as the worst (`worst_hour=true`).",
        "schema": {"type": "string", "enum": ["true"]},
    },
}


def standard_slug(standard: str) -> str:
    """``standard`` as a part of a stored result's name.

    Examples
    --------
    >>> standard_slug("cn-gb51080")
    'cn_gb51080'
    """
    return re.sub(r"[^a-z0-9]+", "_", standard.lower()).strip("_")


@dataclass(frozen=True)
class ByHour:
    """The residents' response by hour of one scenario and standard, and its worst hour.

    Attributes
    ----------
    rows
        One mapping per hour: ``hour`` and :data:`planning.hours.BY_HOUR_COLUMNS` (JSON-ready:
        an unreached 90th percentile is None).
    worst
        :func:`planning.worst_hour` of the table.
    """

    rows: tuple[dict[str, Any], ...]
    worst: int


def _json_number(value: Any) -> float | None:
    out = float(value)
    return out if np.isfinite(out) else None


def _compute(service: ServiceState, scenario_id: str, standard: str) -> dict[str, Any]:
    scenario = service.scenarios.get(scenario_id)
    graph = service.graphs.graph(scenario_id, scenario)
    table: pd.DataFrame = response_by_hour(scenario, graph, standard=standard)
    rows = [
        {"hour": int(hour), **{str(k): _json_number(v) for k, v in row.items()}}
        for hour, row in table.iterrows()
    ]
    for row in rows:
        row["communities"] = int(row["communities"] or 0)
    return {"rows": rows, "worst_hour": worst_hour(table)}


def _load(service: ServiceState, scenario_id: str, standard: str) -> ByHour:
    name = f"coverage_{standard_slug(standard)}_by_hour"
    try:
        raw, _ = service.store.get_result(scenario_id, name)
        data = json.loads(raw)
    except NotFoundError:
        service.store.get_scenario(scenario_id)  # a deleted scenario is a 404, not a computation
        data = _compute(service, scenario_id, standard)
        body = json.dumps(data, allow_nan=False).encode()
        service.store.put_result(scenario_id, name, body, media_type="application/json")
    return ByHour(tuple(data["rows"]), int(data["worst_hour"]))


def by_hour_entry(request: Request, scenario_id: str, standard: str) -> ByHour:
    """The response by hour of a scenario under ``standard``: from memory, the store, or computed once."""
    check_standard(standard)
    service = get_service(request)
    service.store.get_scenario(scenario_id)
    entry = cached(
        request,
        get_caches(request).coverage,
        ("by-hour", scenario_id, standard),
        lambda: _load(service, scenario_id, standard),
        scenario_id=scenario_id,
        what=f"The response by hour of scenario `{scenario_id}` under {standard} (for the worst hour)",
    )
    assert isinstance(entry, ByHour)
    return entry


def chosen_hour(request: Request, scenario_id: str, standard: str, when: When) -> int | None:
    """The hour to answer at: ``when.hour``, the worst hour, or None (the build speeds)."""
    if when.worst:
        return by_hour_entry(request, scenario_id, standard).worst
    return when.hour


def hour_headers(hour: int | None, when: When) -> dict[str, str]:
    """The :data:`HOUR_HEADER` (and :data:`WORST_HOUR_HEADER`) of an answer at ``hour``.

    Examples
    --------
    >>> hour_headers(18, When(worst=True))
    {'X-Hour': '18', 'X-Worst-Hour': 'true'}
    >>> hour_headers(None, When())
    {}
    """
    if hour is None:
        return {}
    return {HOUR_HEADER: str(hour), **({WORST_HOUR_HEADER: "true"} if when.worst else {})}
