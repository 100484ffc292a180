"""Response bodies of the community safety routes (:mod:`service.api.routes.communities`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from .models import JobOut

__all__ = [
    "AssessmentOut",
    "ChangesOut",
    "DemonstrationOut",
    "FollowUpOut",
    "SurveyJobOut",
    "SurveyRegisterOut",
    "UpgradePlanOut",
]

Rows = list[dict[str, Any]]


class FollowUpOut(BaseModel):
    """An earlier register item a re-survey followed up."""

    number: str
    community_id: str
    item: str
    survey_date: str = Field(description="The re-survey's date.")
    outcome: str = Field(description="still_failing, closed, rectified (claimed) or passed (noted only).")
    actions: str = Field(description="The register actions taken, `; `-separated.")
    status_before: str
    status_after: str


class SurveyRegisterOut(BaseModel):
    """What the survey changed in the service's hidden-danger register."""

    added: int = Field(description="New items: failed items no open item stands for yet.")
    numbers: list[str]
    followed_up: list[FollowUpOut]
    already: int = Field(description="Survey results the register already held (re-import).")
    items_url: str = "/api/v1/register/items/{number}"


class SurveyJobOut(BaseModel):
    """A checked survey: the queued job that scores and plans it, and its register changes."""

    job: JobOut
    assessment_url: str = Field(description="Where the assessment is read once the job succeeded.")
    surveys: int = Field(description="Survey rows (communities x survey dates).")
    communities: int
    synthetic: bool
    notes: list[str] = Field(description="What the survey check noticed but did not refuse.")
    registered: SurveyRegisterOut | None = Field(None, description="With `register`: the register's changes.")


class AssessmentOut(BaseModel):
    """A scored survey: counts, the summary a person reads, and the tables held."""

    job_id: str
    scenario_id: str
    synthetic: bool
    survey: str
    standard: str
    pass_mark: float
    surveys: int
    communities: int
    passed: int = Field(description="Communities whose latest survey passes.")
    mean_score: float | None
    failed_items: int
    budget_cny: float | None
    plan: dict[str, Any] | None
    demonstration: str | None
    notes: list[str]
    lines: list[str]
    tables: dict[str, int] = Field(description="The tables held and their rows.")


class UpgradePlanOut(BaseModel):
    """The upgrade measures within the budget (HiGHS, with its proven gap and the greedy beside it)."""

    budget_cny: float
    summary: str
    notes: list[str]
    chosen: Rows
    by_community: Rows
    scores_after: Rows


class DemonstrationOut(BaseModel):
    """The demonstration communities with their reasons, and the quotas they meet."""

    summary: str
    chosen: Rows
    quotas: Rows


class ChangesOut(BaseModel):
    """Re-surveys against the previous survey: per community, item, district, district and item."""

    communities: Rows
    items: Rows
    districts: Rows
    district_items: Rows
