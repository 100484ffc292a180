"""Request and response models of the web API (pydantic; they make the OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from gis.demo import load_demo_params
from gis.i18n import Lang

from ..store import JobRecord, ScenarioRecord

_DEMO_ROADS = load_demo_params()["roads"]
#: The demo city's size when none is asked for: the one ``riskplan demo`` makes, defined once in
#: ``gis/data/demo_city.toml`` (``roads.n_road_nodes``), read through :func:`gis.demo.load_demo_params`.
DEMO_ROAD_NODES = int(_DEMO_ROADS["n_road_nodes"])
DEMO_MIN_NODES = int(_DEMO_ROADS["min_road_nodes"])
DEMO_MAX_NODES = int(_DEMO_ROADS["max_road_nodes"])

__all__ = [
    "DEMO_MAX_NODES",
    "DEMO_MIN_NODES",
    "DEMO_ROAD_NODES",
    "CoverageLayerOut",
    "CoverageSummaryOut",
    "DemoRequest",
    "GradeCoverageOut",
    "HealthOut",
    "HourResponseOut",
    "JobKindOut",
    "JobOut",
    "JobRequest",
    "JobResultOut",
    "LayerInfo",
    "ProblemItem",
    "ProblemOut",
    "ResponseStandardOut",
    "ResponseTimesOut",
    "ScenarioDetail",
    "ScenarioOut",
    "StationTimeOut",
    "VersionOut",
    "ViolationOut",
    "demo_default_nodes",
]


class ProblemItem(BaseModel):
    """One problem of a request: where (layer, rows, column) and how to fix it."""

    layer: str | None = None
    rows: list[str | int] = Field(default_factory=list)
    column: str | None = None
    message: str
    fix: str | None = None
    file: str | None = None


class ProblemOut(BaseModel):
    """An RFC 9457 problem details document (``application/problem+json``)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[ProblemItem] = Field(default_factory=list)


class ScenarioOut(BaseModel):
    """A stored scenario."""

    id: str
    name: str
    label: str = Field(description="The name, marked (synthetic) for generated data.")
    synthetic: bool
    crs: str = Field(description="The metric CRS the layers are stored in.")
    origin: str = Field(description="demo, upload:file or upload:layers")
    created_at: str
    layers: dict[str, int] = Field(description="Feature count per layer.")
    bounds_wgs84: list[float] | None = Field(None, description="[west, south, east, north] in degrees.")

    @classmethod
    def of(cls, record: ScenarioRecord) -> ScenarioOut:
        """The answer for a stored scenario's record."""
        return cls(
            id=record.id,
            name=record.name,
            label=record.label,
            synthetic=record.synthetic,
            crs=record.crs,
            origin=record.origin,
            created_at=record.created_at,
            layers=dict(record.layers),
            bounds_wgs84=list(record.bounds_wgs84) if record.bounds_wgs84 else None,
        )


class LayerInfo(BaseModel):
    """One layer of a scenario."""

    name: str
    features: int
    geometry_types: list[str]
    columns: list[str]


class ScenarioDetail(ScenarioOut):
    """A scenario with its layers' columns and the results stored for it."""

    layer_details: list[LayerInfo]
    results: list[str]


def _json_integer(value: Any) -> Any:  # put after the Field(...) constraints, so the schema keeps them
    """A JSON integer: ``3`` or ``3.0``, never ``true`` nor ``"3"`` (as JSON Schema reads ``integer``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"must be a whole number, not {type(value).__name__}"
        raise ValueError(msg)
    if isinstance(value, float):
        if not value.is_integer():
            msg = "must be a whole number"
            raise ValueError(msg)
        return int(value)
    return value


def demo_default_nodes(server_limit: int) -> int:
    """The demo city's size when a request names none.

    :data:`DEMO_ROAD_NODES`, or the server's limit when that is lower.

    Examples
    --------
    >>> demo_default_nodes(200_000), demo_default_nodes(5000)
    (30000, 5000)
    """
    return min(DEMO_ROAD_NODES, server_limit)


class DemoRequest(BaseModel):
    """Generate the synthetic demo city (every output says it is synthetic).

    Both fields are JSON integers (``true`` is not a seed, nor is ``"42"``). The schema served
    at ``/openapi.json`` gives this server's own limit of ``n_road_nodes``.
    """

    model_config = ConfigDict(extra="forbid")

    seed: Annotated[int, Field(ge=0, le=2**31 - 1), BeforeValidator(_json_integer)] = Field(
        42, description="Random seed; the city is deterministic."
    )
    n_road_nodes: (
        Annotated[int, Field(ge=DEMO_MIN_NODES, le=DEMO_MAX_NODES), BeforeValidator(_json_integer)] | None
    ) = Field(
        None,
        description=(
            f"Approximate number of road nodes; default {DEMO_ROAD_NODES:,}, the size `riskplan demo` "
            "makes (or this server's limit, when lower)."
        ),
    )


class JobRequest(BaseModel):
    """Start a job of a registered kind on a scenario."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, max_length=64, description="See GET /api/v1/job-kinds.")
    params: dict[str, Any] = Field(default_factory=dict, description="Parameters of the kind.")


JobStatusName = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class JobOut(BaseModel):
    """A job's status and progress."""

    id: str
    scenario_id: str
    kind: str
    params: dict[str, Any]
    status: JobStatusName
    progress: float = Field(ge=0, le=1)
    message: str
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    cancel_requested: bool = False
    has_result: bool = False
    lang: Lang = Field(
        default="en",
        description="The job's language (`zh` or `en`): its request's, chosen when it was submitted; "
        "its message, notes and errors are written in it.",
    )

    @classmethod
    def of(cls, job: JobRecord) -> JobOut:
        """The answer for a stored job's record."""
        return cls(
            id=job.id,
            scenario_id=job.scenario_id,
            kind=job.kind,
            params=dict(job.params),
            status=job.status,
            progress=job.progress,
            message=job.message,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            cancel_requested=job.cancel_requested,
            has_result=job.has_result,
            lang=job.lang,
        )


class JobResultOut(BaseModel):
    """The result of a succeeded job: JSON data and the names of its GeoJSON layers."""

    job_id: str
    kind: str
    data: dict[str, Any]
    layers: list[str]


class JobKindOut(BaseModel):
    """A kind of job the server can run."""

    name: str
    description: str


class HealthOut(BaseModel):
    """The service is up and its store answers."""

    status: Literal["ok"]
    jobs_active: int
    max_workers: int
    #: The server process that answered (``riskplan serve --workers N`` runs N).
    process_id: int = 0
    #: True when that process is the one that runs the jobs (the job leader).
    job_leader: bool = False


class VersionOut(BaseModel):
    """Versions of riskplan, the API and the geodata stack."""

    riskplan: str
    api: str
    python: str
    geopandas: str
    gdal: str | None


# -- coverage and point queries -----------------------------------------------------------------


class ResponseStandardOut(BaseModel):
    """The response-time standard a result was computed under."""

    name: str
    title: str
    turnout_s: float
    travel_s: float
    response_s: float = Field(description="Turnout plus first-engine travel.")
    required_share: float = Field(description="Share of places that must be covered.")


class CoverageLayerOut(BaseModel):
    """Coverage of one layer: features and weight (population, area) covered, percentiles."""

    features: int
    covered: int
    flagged: int = Field(description="Features farther than the snap limit from any road.")
    weight: str = Field(description="What shares are weighed by: population, area_km2 or count.")
    weight_total: float
    weight_covered: float
    share_covered: float | None = Field(description="Covered share of the weight (0..1).")
    p50_response_s: float | None
    p90_response_s: float | None
    p95_response_s: float | None
    max_response_s: float | None
    meets_standard: bool


class GradeCoverageOut(BaseModel):
    """Hazards covered in one grade (size class, category...)."""

    grade: str
    hazards: int
    covered: int
    share_covered: float | None
    median_response_s: float | None
    p90_response_s: float | None


class ViolationOut(BaseModel):
    """A station district that breaks a rule (area cap, farthest edge, enclave)."""

    station: str
    kind: str
    value: float | None
    limit: float | None
    unit: str
    message: str


class HourResponseOut(BaseModel):
    """The residents' response at one hour of the day (``planning.response_by_hour``)."""

    hour: int = Field(ge=0, le=23)
    median_response_s: float | None = Field(description="Residents' median response; null when unreached.")
    p90_response_s: float | None = Field(description="Residents' 90th percentile; null when unreached.")
    share_covered: float | None = Field(description="Share of residents within the standard (0..1).")
    residents: float
    residents_covered: float
    communities: int


class CoverageSummaryOut(BaseModel):
    """Response coverage of a scenario under one standard."""

    scenario_id: str
    scenario: str = Field(description="Scenario label; synthetic data says so.")
    synthetic: bool
    standard: ResponseStandardOut
    layers: dict[str, CoverageLayerOut] = Field(description="communities, hazards, area_units.")
    hazards_by_grade: list[GradeCoverageOut]
    grade_column: str
    violations: int
    violations_by_kind: dict[str, int]
    timings_s: dict[str, float]
    hour: int | None = Field(None, description="Hour of day of the travel times; null for the build speeds.")
    worst_hour: bool = Field(
        False, description="The hour was picked as the worst: the longest residents' P90 response."
    )
    response_by_hour: list[HourResponseOut] | None = Field(
        None, description="With `worst_hour=true`: the residents' response at every hour it was chosen from."
    )


class StationTimeOut(BaseModel):
    """One of the fastest stations to a point."""

    rank: int = Field(description="1 = fastest.")
    station: str
    name: str
    lon: float
    lat: float
    response_time_s: float | None = Field(description="Turnout plus travel; null when unreachable.")
    travel_time_s: float | None
    covered: bool = Field(description="Within the standard's response time.")


class ResponseTimesOut(BaseModel):
    """The fastest stations to a point and whether it is covered."""

    scenario_id: str
    standard: str
    lon: float
    lat: float
    snap_distance_m: float = Field(description="Point to its nearest road node.")
    max_snap_m: float
    turnout_s: float
    response_standard_s: float
    covered: bool = Field(description="The fastest station is within the standard.")
    stations: list[StationTimeOut]
