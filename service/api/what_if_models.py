"""Request and response bodies of ``POST /scenarios/{id}/what-if`` (:mod:`service.api.routes.what_if`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from planning.names import DEFAULT_STANDARD

__all__ = ["AreaIn", "PointIn", "WhatIfCommunityOut", "WhatIfIn", "WhatIfOut", "WhatIfSummaryOut"]

Lon = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False, description="Longitude (WGS84).")]
Lat = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False, description="Latitude (WGS84).")]
Position = Annotated[
    list[Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]],
    Field(min_length=2, max_length=2, description="[longitude, latitude] in WGS84 degrees."),
]
Ring = Annotated[list[Position], Field(min_length=4, max_length=5000)]


class PointIn(BaseModel):
    """A point in WGS84 degrees, longitude first."""

    model_config = ConfigDict(extra="forbid", strict=True)  # no `false` for 0, no "3" for 3
    lon: Lon
    lat: Lat


class StationIn(PointIn):
    """A temporary station."""

    id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class AreaIn(BaseModel):
    """A GeoJSON Polygon in WGS84 (a flooded area): every road crossing it closes."""

    model_config = ConfigDict(extra="forbid", strict=True)  # no `false` for 0, no "3" for 3
    type: Literal["Polygon"]
    coordinates: Annotated[list[Ring], Field(min_length=1, max_length=50)]


class WhatIfIn(BaseModel):
    """What changes: roads closed (by edge, OSM way, name, area or click), stations out, temporary ones."""

    model_config = ConfigDict(extra="forbid", strict=True)  # no `false` for 0, no "3" for 3
    standard: Annotated[str, Field(max_length=64)] = DEFAULT_STANDARD
    closed_edges: Annotated[list[Annotated[int, Field(ge=0, le=2**40)]], Field(max_length=20_000)] = []
    closed_ways: Annotated[list[Annotated[int, Field(ge=0, le=2**62)]], Field(max_length=5_000)] = []
    closed_names: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=200)]], Field(max_length=200)
    ] = []
    closed_areas: Annotated[list[AreaIn], Field(max_length=20)] = []
    closed_at: Annotated[
        list[PointIn],
        Field(max_length=200, description="Close the road segment nearest each point (a click)."),
    ] = []
    stations_out: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=500)
    ] = []
    temporary_stations: Annotated[list[StationIn], Field(max_length=50)] = []
    layers: Annotated[
        list[Literal["isochrones", "districts"]],
        Field(
            max_length=2,
            description=(
                "Also answer the isochrones and/or the station districts after the change (the whole "
                "coverage of the changed roads and stations: slower than the difference alone)."
            ),
        ),
    ] = []


class WhatIfSummaryOut(BaseModel):
    """The city's difference against the baseline."""

    residents: float
    residents_losing_coverage: float
    residents_gaining_coverage: float
    residents_cut_off: float = Field(description="Reached before, by no station after.")
    resident_seconds_lost: float = Field(description="Over the residents still reached; gains not netted.")
    resident_seconds_gained: float
    communities_losing_coverage: int
    communities_slower: int
    closed_edges: int
    stations_out: int
    temporary_stations: int
    nodes_searched: int
    seconds: float


class WhatIfCommunityOut(BaseModel):
    """One community whose response time or coverage changed."""

    community_id: str
    name: str | None
    population: float
    response_before_s: float | None
    response_after_s: float | None = Field(description="None where no station reaches it any more.")
    seconds_lost: float | None
    covered_before: bool
    covered_after: bool
    loses_coverage: bool
    gains_coverage: bool
    cut_off: bool
    nearest_before: str | None
    nearest_after: str | None
    lon: float
    lat: float


class WhatIfOut(BaseModel):
    """The change's coverage against the baseline, for the city and each changed community."""

    scenario_id: str
    standard: str
    change: str
    summary: WhatIfSummaryOut
    communities: list[WhatIfCommunityOut] = Field(description="Communities whose time or coverage changed.")
    closed_roads: dict[str, object] = Field(
        description="The closed edges as a GeoJSON FeatureCollection (WGS84)."
    )
    isochrones: dict[str, object] | None = Field(
        None, description="With `layers` naming them: the isochrones after the change (GeoJSON, WGS84)."
    )
    districts: dict[str, object] | None = Field(
        None,
        description="With `layers` naming them: the station districts after the change (GeoJSON, WGS84).",
    )
