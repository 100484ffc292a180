"""The ``units`` of the risk endpoints and the ``risk`` job: parsed into a canonical form, range-checked.

The API serves ``communities``, ``h3:RES`` with RES 5..10, and ``grid:METRES`` with whole
metres 100..9999. Every spelling of one spec is one spec: ``grid:0100`` and ``GRID:100`` are
``grid:100`` (:func:`canonical_units`), so caches keyed on the canonical form compute a layer
once. :func:`estimate_units` says how many units a spec makes over a scenario's study area
before anything is built, so a request can be refused before it costs anything.

The web API (:mod:`service.api.routes.risk`) and the jobs (:mod:`service.jobs.kinds`) both
take units in this form, so it lives beside both.
"""

from __future__ import annotations

import math
import re

from gis import InputError, Scenario
from risk_models import UnitsSpec, parse_units, study_area_of

__all__ = [
    "GRID_RANGE_M",
    "H3_RANGE",
    "UNITS_PATTERN",
    "canonical_units",
    "estimate_units",
]

#: H3 resolutions the API serves (coarser is not a city; finer is millions of cells).
H3_RANGE = (5, 10)
#: Grid cell sides, in whole metres, the API serves.
GRID_RANGE_M = (100, 9999)
#: Exactly the specs the server accepts (leading zeros allowed; :func:`canonical_units` drops them).
UNITS_PATTERN = r"^(communities|h3:0*([5-9]|10)|grid:0*[1-9][0-9]{2,3})$"
_H3_CELL_AREA_KM2 = {r: 4.357449416e6 / 7**r for r in range(16)}  # average, H3 docs


def canonical_units(text: str) -> UnitsSpec:
    """Parse a ``units`` value and check it against the range the API serves.

    Raises :class:`gis.InputError` (a 422) naming the range otherwise.

    Examples
    --------
    >>> str(canonical_units("grid:0100")), str(canonical_units("h3:08")), str(canonical_units("communities"))
    ('grid:100', 'h3:8', 'communities')
    >>> canonical_units("grid:050")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gis.errors.InputError: `units` = 'grid:050' is outside what this API serves...
    """
    usage = (
        f"use `communities`, `h3:RES` with RES {H3_RANGE[0]}..{H3_RANGE[1]} or `grid:METRES` with "
        f"{GRID_RANGE_M[0]}..{GRID_RANGE_M[1]} whole metres (e.g. grid:500)"
    )
    if not re.fullmatch(r"[a-z0-9:]{1,32}", text.strip().lower()):
        msg = f"`units` = {text[:40]!r} is not a units spec. Fix: {usage}."
        raise InputError(msg)
    try:
        spec = parse_units(text)
    except InputError:
        msg = f"`units` = {text!r} is not a units spec. Fix: {usage}."
        raise InputError(msg) from None
    inside = (
        spec.kind == "communities"
        or (
            spec.kind == "h3"
            and spec.resolution is not None
            and H3_RANGE[0] <= spec.resolution <= H3_RANGE[1]
        )
        or (
            spec.kind == "grid"
            and spec.size_m is not None
            and float(spec.size_m).is_integer()
            and GRID_RANGE_M[0] <= spec.size_m <= GRID_RANGE_M[1]
        )
    )
    if not inside:
        msg = f"`units` = {text!r} is outside what this API serves. Fix: {usage}."
        raise InputError(msg)
    return spec


def estimate_units(scenario: Scenario, spec: UnitsSpec) -> int:
    """How many units ``spec`` makes over ``scenario``'s study area, before building any.

    Grids count the cells over the study area's bounding box (an upper bound of the cells
    kept); H3 divides the area by the average cell area at that resolution.

    Examples
    --------
    >>> from gis import demo_city
    >>> city = demo_city(n_road_nodes=2000)
    >>> estimate_units(city, canonical_units("grid:1000")) >= 225
    True
    """
    communities = scenario["communities"]
    if spec.kind == "communities":
        return len(communities)
    area = study_area_of(communities, scenario["study_area"] if "study_area" in scenario else None)  # noqa: SIM401
    if spec.kind == "grid":
        assert spec.size_m is not None
        minx, miny, maxx, maxy = area.bounds
        return math.ceil((maxx - minx) / spec.size_m) * math.ceil((maxy - miny) / spec.size_m)
    assert spec.resolution is not None
    return math.ceil(area.area / 1e6 / _H3_CELL_AREA_KM2[spec.resolution])
