"""The path and query parameters the routes share: scenario id, standard, bounding box, hour.

Each is declared once, with its bounds and its description in the OpenAPI schema, and checked
the same way everywhere: :func:`check_standard`, :func:`parse_bbox` and :func:`parse_when` raise a
422 problem that names the parameter and the fix (:class:`ParameterError`); a value the schema
itself refuses (``hour=24``) is a 422 whose fix comes from :func:`parameter_fix`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query
from fastapi import Path as PathParam

from gis import InputError
from gis.i18n import load_glossary
from planning import standard_names
from planning.names import DEFAULT_STANDARD

__all__ = [
    "BBOX_PATTERN",
    "DEFAULT_STANDARD",
    "BBox",
    "CallsPerYearParam",
    "HourParam",
    "ParameterError",
    "ScenarioId",
    "StandardParam",
    "When",
    "WhenParams",
    "WorstHourParam",
    "check_standard",
    "parameter_fix",
    "parse_bbox",
    "parse_when",
]


ScenarioId = Annotated[str, PathParam(description="Scenario id (from the list).", max_length=64)]
StandardParam = Annotated[
    str,
    Query(
        description="Response-time standard: `cn-gb51080`, `nfpa-1710` or `cn-micro-135`.",
        min_length=1,
        max_length=64,
        json_schema_extra={"enum": sorted(standard_names())},
    ),
]
BBox = tuple[float, float, float, float]
HourParam = Annotated[
    int | None,
    Query(ge=0, le=23, description="Hour of day 0-23: travel times at that hour's speeds (speed profiles)."),
]
WorstHourParam = Annotated[
    bool,
    Query(
        description=(
            "Take the worst hour: the hour of the longest residents' 90th-percentile response "
            "(`planning.worst_hour`); the answer says which. Not with `hour`."
        )
    ),
]
CallsPerYearParam = Annotated[
    float | None,
    Query(
        gt=0,
        le=10_000_000,
        description=(
            "Without an incidents layer: the city's calls a year, shared by risk (default: the "
            "per-resident rate of service_times.toml). A scenario with incidents takes its own rates."
        ),
    ),
]

#: The glossary text (``texts.api_fix_<name>``) saying how to fix each query parameter the schema
#: refuses; other parameters point to the OpenAPI schema.
_FIXES = ("hour", "worst_hour", "calls_per_year", "standard", "layer")


class ParameterError(InputError):
    """A query or path parameter is wrong; :attr:`parameter` names it (the problem's ``column``)."""

    def __init__(
        self, message: str, *, parameter: str, key: str | None = None, values: dict[str, object] | None = None
    ) -> None:
        super().__init__(message, key=key, values=values)
        self.parameter = parameter


def parameter_fix(location: tuple[object, ...] | list[object]) -> str:
    """How to fix the parameter at ``location`` (a validation error's ``loc``), in English.

    Examples
    --------
    >>> parameter_fix(("query", "hour"))
    'give an hour of the day, a whole number 0-23 (local time)'
    >>> parameter_fix(("body", "seed"))
    'see the OpenAPI schema at /openapi.json'
    """
    name = str(location[-1]) if location else ""
    if len(location) == 2 and location[0] in ("query", "path") and name in _FIXES:
        return load_glossary().text(f"api_fix_{name}", "en")
    return "see the OpenAPI schema at /openapi.json"


@dataclass(frozen=True)
class When:
    """The hour an analysis is asked for: an hour (0-23), the worst hour, or neither (build speeds)."""

    hour: int | None = None
    worst: bool = False


def parse_when(hour: HourParam = None, worst_hour: WorstHourParam = False) -> When:
    """The ``hour`` and ``worst_hour`` parameters, or a 422 when both are given.

    Examples
    --------
    >>> parse_when(8), parse_when(worst_hour=True)
    (When(hour=8, worst=False), When(hour=None, worst=True))
    """
    if worst_hour and hour is not None:
        msg = (
            f"`worst_hour=true` and `hour={hour}` ask for two hours. "
            "Fix: give `hour` (0-23) or `worst_hour=true`, not both."
        )
        raise ParameterError(msg, parameter="worst_hour", key="api_hour_and_worst", values={"hour": hour})
    return When(hour, bool(worst_hour))


#: The ``hour`` and ``worst_hour`` query parameters of the routes that run at an hour.
WhenParams = Annotated[When, Depends(parse_when)]


def check_standard(standard: str) -> str:
    """Return ``standard`` if it is a shipped response profile, else raise a 422 naming them.

    Examples
    --------
    >>> check_standard("nfpa-1710")
    'nfpa-1710'
    """
    names = _shipped_standards()
    if standard not in names:
        msg = f"Unknown response standard `{standard}`. Fix: use one of {list(names)}."
        raise InputError(msg)
    return standard


@functools.cache
def _shipped_standards() -> tuple[str, ...]:
    """The shipped profile names, read once (the table ships with the package)."""
    return tuple(standard_names())


_LON = r"-?(?:180(?:\.0+)?|(?:1[0-7][0-9]|[0-9]{1,2})(?:\.[0-9]+)?)"
_LAT = r"-?(?:90(?:\.0+)?|[1-8]?[0-9](?:\.[0-9]+)?)"
#: Exactly the bboxes the API takes: four plain decimal numbers, longitudes in -180..180 and
#: latitudes in -90..90 (so every value the schema allows, the server accepts).
BBOX_PATTERN = rf"^ *{_LON} *, *{_LAT} *, *{_LON} *, *{_LAT} *$"


def parse_bbox(
    bbox: Annotated[
        str | None,
        Query(
            description=(
                "west,south,east,north in degrees (EPSG:4326). A west greater than east crosses the "
                "antimeridian (RFC 7946); the two latitudes may come in either order."
            ),
            pattern=BBOX_PATTERN,
            max_length=200,
        ),
    ] = None,
) -> BBox | None:
    """Parse ``bbox=w,s,e,n`` (degrees) or raise a 422 naming the fix.

    Examples
    --------
    >>> parse_bbox("112.5,37.8,112.6,37.9")
    (112.5, 37.8, 112.6, 37.9)
    >>> parse_bbox("170,10,-170,-10")  # across the antimeridian, latitudes reversed
    (170.0, -10.0, -170.0, 10.0)
    """
    if bbox is None:
        return None
    try:
        west, south, east, north = (float(v) for v in bbox.split(","))
    except ValueError:
        msg = "`bbox` must be four numbers west,south,east,north. Fix: e.g. bbox=112.5,37.8,112.6,37.9"
        raise InputError(msg) from None
    values = (west, south, east, north)
    if not all(math.isfinite(v) for v in values) or not (
        min(west, east) >= -180
        and max(west, east) <= 180
        and min(south, north) >= -90
        and max(south, north) <= 90
    ):
        msg = (
            "`bbox` must be west,south,east,north in degrees: longitudes in -180..180, latitudes in "
            "-90..90. Fix: check the order (longitude first)."
        )
        raise InputError(msg)
    return west, min(south, north), east, max(south, north)
