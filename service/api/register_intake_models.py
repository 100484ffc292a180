"""Request and response models of the register's import, traceability and grading endpoints."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from risk_models.register import load_risk_grading

__all__ = [
    "AssessmentIn",
    "GradeOut",
    "GradesRequest",
    "ImportOut",
    "TraceFinding",
    "TraceOut",
    "UncheckedSource",
]

_Id = Field(min_length=1, max_length=200)


class ImportOut(BaseModel):
    """The answer to an import: how many items, and their numbers in the sheet's order."""

    count: int = Field(ge=1)
    first: str
    last: str
    numbers: list[str] = Field(description="Every new number, in the order of the sheet's rows.")
    items_url: str = Field(description="Where each item is read (with the account's token).")


class TraceFinding(BaseModel):
    """A register item behind an incident: what it was at the incident's time."""

    incident_id: str
    incident_time: str
    number: str
    category: str | None
    grade: str | None
    source: str | None
    hazard_id: str | None
    distance_m: float
    same_source: bool
    finding: str = Field(description="overdue, open, unverified, rejected or closed_recently.")
    status_at_incident: str
    deadline: str | None
    days_overdue: float | None
    days_since: float | None = Field(description="Days since it was rejected or closed.")


class UncheckedSource(BaseModel):
    """A hazard source with no enterprise self-check item in the window ("should have been found")."""

    hazard_id: str
    self_checks: int
    found_by_others: int
    last_self_check_at: str | None


class TraceOut(BaseModel):
    """Traceability (一追溯) of the incidents traced."""

    incidents: int = Field(description="Incidents traced.")
    findings: list[TraceFinding]
    unchecked: list[UncheckedSource] = Field(
        description="Sources without a self-check for `unchecked_months` (needs a scenario's hazards)."
    )


#: The grading methods the server knows (risk_grading.toml's), listed in the schema.
_METHODS = sorted(load_risk_grading()["methods"])


class AssessmentIn(BaseModel):
    """One risk assessment of a hazard source or a part of it (risk_grading.toml's methods)."""

    hazard_id: str = _Id
    part: str = Field(default="", max_length=200, description="Tank farm, workshop, post...; empty: whole.")
    method: str = Field(
        pattern="^[a-z_]{1,32}$",
        description="A method of risk_grading.toml: `lec` or `matrix`.",
        json_schema_extra={"enum": _METHODS},
    )
    L: float | None = Field(default=None, description="LEC likelihood (Graham-Kinney scale).")
    E: float | None = Field(default=None, description="LEC exposure.")
    C: float | None = Field(default=None, description="LEC consequence.")
    likelihood: float | None = Field(default=None, description="Matrix likelihood level.")
    severity: float | None = Field(default=None, description="Matrix severity level.")
    control_measures: str | None = Field(default=None, max_length=2000, description="Replaces the default.")
    lon: float | None = Field(default=None, ge=-180, le=180, description="Where (WGS84), for the map.")
    lat: float | None = Field(default=None, ge=-90, le=90)
    note: str = Field(default="", max_length=2000)


class GradesRequest(BaseModel):
    """Assessments to grade and store."""

    assessments: list[AssessmentIn] = Field(min_length=1, max_length=1000)


class GradeOut(BaseModel):
    """A stored grade: the assessment, its score and grade, who graded it and when."""

    id: int
    hazard_id: str
    part: str
    method: str
    factors: dict[str, Any]
    score: float
    basis: str = Field(description="The product written out, e.g. `LEC D = 6 x 6 x 15 = 540`.")
    grade: str = Field(description="major / high / moderate / low.")
    colour: str = Field(description="red / orange / yellow / blue.")
    control_level: str = Field(description="enterprise / workshop / team / post.")
    control_measures: str
    lon: float | None
    lat: float | None
    graded_at: str
    actor: str
    role: str
    note: str
