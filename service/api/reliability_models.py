"""Response bodies of ``GET /scenarios/{id}/reliability`` (:mod:`service.api.routes.reliability`)."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = [
    "ConcurrencyHourOut",
    "DistrictP90Out",
    "ReliabilityCityOut",
    "ReliabilityStandardOut",
    "ReliabilitySummaryOut",
    "StationWorkloadOut",
]


class ReliabilityStandardOut(BaseModel):
    """The response standard the expected coverage is counted against."""

    name: str
    response_s: float


class ReliabilityCityOut(BaseModel):
    """The city's figures with busy stations, for the day's mean call rates."""

    calls_per_day: float | None
    expected_coverage: float | None = Field(description="Share of calls answered within the standard (0..1).")
    expected_response_p90_s: float | None = Field(
        description="90th percentile of the calls' response with busy stations; null when beyond reach."
    )
    mean_busy_fraction: float | None = Field(description="Mean busy fraction of the response units.")
    lost_share: float | None = Field(description="Share of calls that find every unit busy (mutual aid).")


class StationWorkloadOut(BaseModel):
    """One station's workload (``planning.reliability.station_workload``)."""

    station: str
    name: str | None
    response_units: int
    busy_fraction: float | None = Field(description="Mean over its units of the share of time out on calls.")
    calls_per_day: float | None = Field(description="Calls it answers a day.")
    first_due_calls_per_day: float | None = Field(
        description="Calls a day from the areas it is first due to."
    )
    first_due_answered_share: float | None = Field(description="Of those, the share it answers itself.")
    peak_busy_fraction: float | None = Field(description="Its busy fraction at the busiest hour.")
    peak_hour: int = Field(ge=0, le=23)


class ConcurrencyHourOut(BaseModel):
    """How often several calls are in progress at once, at one hour of the day."""

    hour: int = Field(ge=0, le=23)
    calls_per_hour: float | None
    mean_in_progress: float | None
    p_at_least_1: float | None = Field(description="Chance of one or more calls in progress.")
    p_at_least_2: float | None
    p_at_least_3: float | None
    p_at_least_4: float | None
    p_at_least_5: float | None
    p_all_units_busy: float | None = Field(None, description="Erlang loss with the city's units.")


class DistrictP90Out(BaseModel):
    """Expected 90th-percentile response of a district (first-due station, or ``city``) by hour."""

    district: str
    p90_s: list[float | None] = Field(
        min_length=24, max_length=24, description="Hours 0..23; null when beyond reach."
    )


class ReliabilitySummaryOut(BaseModel):
    """Reliability of the response with busy stations: the city, its stations and its hours."""

    scenario_id: str
    scenario: str = Field(description="Scenario label; synthetic data says so.")
    synthetic: bool
    standard: ReliabilityStandardOut
    hour: int | None = Field(description="Hour of day of the travel times; null for the build speeds.")
    worst_hour: bool = Field(description="The hour was picked as the worst (longest residents' P90).")
    rates_source: str = Field(description="`incidents`, or the communities' column sharing `calls_per_year`.")
    calls_per_year: float | None = Field(description="The city's calls a year used; null with incidents.")
    city: ReliabilityCityOut
    stations: list[StationWorkloadOut]
    concurrency_by_hour: list[ConcurrencyHourOut]
    p90_by_hour: list[DistrictP90Out]
    notes: list[str]
