"""The path and query parameters the routes share: scenario id, response standard, bounding box.

Each is declared once, with its bounds and its description in the OpenAPI schema, and checked
the same way everywhere: :func:`check_standard` and :func:`parse_bbox` raise a 422 problem that
names the fix.
"""

from __future__ import annotations

import functools
import math
from typing import Annotated

from fastapi import Path as PathParam
from fastapi import Query

from gis import InputError
from planning import standard_names
from planning.names import DEFAULT_STANDARD

__all__ = [
    "BBOX_PATTERN",
    "DEFAULT_STANDARD",
    "BBox",
    "ScenarioId",
    "StandardParam",
    "check_standard",
    "parse_bbox",
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
