"""Request and response models of the register endpoints (``/api/v1/register``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from risk_models.register import Event, Workflow, is_overdue
from risk_models.register.vocab import ACTIONS, CATEGORIES, DANGER_GRADES, ROLES, SOURCES, STATUSES

from ..store import StoredItem

__all__ = [
    "AssessmentOut",
    "EventOut",
    "FollowOut",
    "ItemDetail",
    "ItemOut",
    "MoveRequest",
    "ReportOut",
    "ReportRequest",
    "VocabularyOut",
    "item_record",
]

Category = Literal[CATEGORIES]  # type: ignore[valid-type]
Source = Literal[SOURCES]  # type: ignore[valid-type]
Status = Literal[STATUSES]  # type: ignore[valid-type]
Grade = Literal[DANGER_GRADES]  # type: ignore[valid-type]
Role = Literal[ROLES]  # type: ignore[valid-type]
MoveAction = Literal[tuple(a for a in ACTIONS if a != "report")]  # type: ignore[valid-type]
_Text = Field(default=None, max_length=200)
#: Times of the register: the server's local time, ISO 8601 without an offset (as the events
#: store them and the command line writes them), e.g. ``2026-03-01T09:30:00``.
LocalTime = Annotated[
    str,
    Field(
        description="Local time of the register, ISO 8601 without offset.",
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$",
    ),
]


class ReportRequest(BaseModel):
    """A new hidden danger (JSON; the phone page sends the same fields as a form, with photos)."""

    category: Category
    lon: float = Field(ge=-180, le=180, description="Longitude, WGS84 degrees.")
    lat: float = Field(ge=-90, le=90, description="Latitude, WGS84 degrees.")
    description: str = Field(min_length=1, max_length=2000)
    source: Source | None = Field(
        default=None, description="Default: the role's own (public report, self-check, inspection)."
    )
    reporter: str | None = Field(default=None, max_length=200, description="Name or contact (private).")
    hazard_id: str | None = _Text
    enterprise_id: str | None = _Text
    community_id: str | None = _Text
    district: str | None = _Text
    street: str | None = _Text
    note: str = Field(default="", max_length=4000)


class MoveRequest(BaseModel):
    """One workflow step; the workflow table decides who may make it and what data it needs."""

    action: MoveAction  # type: ignore[valid-type]
    data: dict[str, Any] = Field(
        default_factory=dict, description='The action\'s data, e.g. {"deadline": "2026-04-30"}.'
    )
    note: str = Field(default="", max_length=4000, description="Why (private).")
    expect_version: int | None = Field(
        default=None, ge=1, description="Refuse (409) unless the item is at this version."
    )


class EventOut(BaseModel):
    """One event of an item's audit log."""

    action: str
    at: LocalTime
    actor: str
    role: str
    unit: str | None
    from_status: str | None
    to_status: str | None
    note: str
    attachments: list[str]
    data: dict[str, Any]

    @classmethod
    def of(cls, event: Event) -> EventOut:
        """The answer's view of ``event``."""
        rec = event.to_record()
        rec.pop("number")
        return cls(**rec)


class ItemOut(BaseModel):
    """An item's current state (private fields included: for accounts only)."""

    number: str
    status: Status
    category: Category
    lon: float
    lat: float
    description: str
    source: Source
    reporter: str | None
    hazard_id: str | None
    enterprise_id: str | None
    community_id: str | None
    district: str | None
    street: str | None
    reported_at: LocalTime
    updated_at: LocalTime
    version: int
    grade: Grade | None
    criteria: list[str]
    public_summary: str | None
    territorial_unit: str | None
    department_unit: str | None
    plan: str | None
    measures: list[str]
    funds_yuan: float | None
    deadline: date | None
    supervised_by: str | None
    reject_reason: str | None
    duplicate_of: str | None
    extensions: int
    reopens: int
    verified_at: LocalTime | None
    handed_over_at: LocalTime | None
    rectifying_at: LocalTime | None
    rectified_at: LocalTime | None
    closed_at: LocalTime | None
    rejected_at: LocalTime | None
    supervised_at: LocalTime | None
    overdue: bool = Field(description="Past its deadline now (computed, never stored).")
    allowed_actions: list[str] = Field(description="What the requesting account may do next.")

    @classmethod
    def of(cls, stored: StoredItem, *, role: str, wf: Workflow, now: datetime) -> ItemOut:
        """The item as ``role`` sees it ``now`` (overdue, allowed actions)."""
        return cls(**item_record(stored, role=role, wf=wf, now=now))


def item_record(stored: StoredItem, *, role: str, wf: Workflow, now: datetime) -> dict[str, Any]:
    """The JSON-ready fields of :class:`ItemOut` (lists answer these without a model: faster)."""
    item = stored.item
    rec = item.to_record()
    rec["lon"], rec["lat"] = rec.pop("x"), rec.pop("y")
    rec["district"], rec["street"] = stored.district, stored.street
    rec["overdue"] = is_overdue(item, now)
    rec["allowed_actions"] = list(wf.allowed_actions(item.status, role, supervised=bool(item.supervised_by)))
    return rec


class ItemDetail(ItemOut):
    """An item with its audit log."""

    events: list[EventOut]


class ReportOut(BaseModel):
    """The answer to a report: the number, and how to follow it."""

    number: str
    status: Status
    follow_url: str = Field(description="Page showing the item's public progress.")
    follow_key: str | None = Field(
        default=None, description="Secret of the follow link (anonymous reports), shown once."
    )
    photos: int


class FollowStep(BaseModel):
    """A public step of an item's progress (no names, no notes)."""

    action: str
    at: LocalTime
    status: str | None


class FollowOut(BaseModel):
    """What the reporter of an item sees by its follow link."""

    number: str
    status: Status
    status_zh: str
    category_zh: str
    grade: Grade | None
    deadline: date | None
    closed_at: LocalTime | None
    steps: list[FollowStep]


class AssessmentOut(BaseModel):
    """A month's assessment (四评估): ranking of the groups and city-wide figures per month."""

    month: str
    by: str
    table: list[dict[str, Any]]
    city: list[dict[str, Any]]


class VocabularyOut(BaseModel):
    """The register's vocabulary with Chinese labels (for forms)."""

    categories: dict[str, str]
    sources: dict[str, str]
    statuses: dict[str, str]
    roles: dict[str, str]
