"""The dual prevention mechanism (双重预防机制): risks graded, hidden dangers tracked in a closed loop.

A pure library, storage-agnostic: the service keeps the tables, tokens and pages and calls these
functions.

- Risk points graded (:mod:`.grading`): LEC and the likelihood x severity matrix of
  ``risk_grading.toml``, four grades and colours, control levels and measures.
- The hidden-danger register: items and events (:mod:`.items`), the workflow table
  (:mod:`.workflow`, ``register_workflow.toml``), the major-danger checklists (:mod:`.criteria`,
  ``major_hazard_criteria.toml``), :func:`report` / :func:`transition` / :func:`apply` /
  :func:`replay` (:mod:`.transitions`), frames and as-of states (:mod:`.frames`).
- Disclosure (三公开, :mod:`.disclosure`), assessment (四评估, :mod:`.assessment`),
  traceability (一追溯, :mod:`.trace`).
- Import of inspection results from CSV / Excel (:mod:`.intake`), and the factors the register
  and the risk grades put on the risk model's severity (:mod:`.influence`).
- Linking items to the hazard source, enterprise and community they lie in or near
  (:mod:`.link`), and a month of the register in one object for maps and reports
  (:mod:`.monthly`).
- A synthetic register of the demo city (:mod:`.synthetic`) and synthetic risk assessments of
  its hazard sources (:mod:`.synthetic_grades`).

The risk model reads a register through ``risk_models.score_scenario(..., register=...)``.

Names are imported on first use (:mod:`gis.lazy`): the records, the workflow and the
transitions (what a store needs) load without geopandas.
"""

from typing import TYPE_CHECKING

from gis.lazy import attach

#: Public names by module, imported on first use (see :mod:`gis.lazy`).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "assessment": ("METRICS", "Assessment", "assess"),
    "criteria": ("Criteria", "Criterion", "checklist", "load_criteria", "major_grade"),
    "disclosure": (
        "PUBLIC_COLUMNS",
        "Disclosure",
        "disclose",
        "disclose_snapshot",
        "listed_majors",
        "public_view",
    ),
    "errors": ("RegisterError", "RoleError", "TransitionError"),
    "frames": (
        "EVENT_COLUMNS",
        "ITEM_COLUMNS",
        "SNAPSHOT_COLUMNS",
        "attach_areas",
        "events_frame",
        "items_frame",
        "overdue",
        "snapshot",
    ),
    "grading": ("grade_assessments", "hazard_risk_grades", "load_risk_grading"),
    "influence": ("register_factors", "risk_grade_factors"),
    "intake": ("HEADERS", "ImportResult", "SheetError", "import_rows", "read_rows"),
    "items": ("Event", "Item", "item_number"),
    "link": ("LINK_COLUMNS", "LINK_DISTANCE_M", "link_items"),
    "monthly": ("ASSESS_BY", "MONTH_FIGURES", "RegisterMonth", "register_month"),
    "synthetic": ("SyntheticRegister", "synthetic_register"),
    "synthetic_grades": ("synthetic_assessments",),
    "trace": ("FINDINGS", "trace_incidents", "unchecked_sources"),
    "log": ("is_overdue", "replay", "replay_many"),
    "transitions": ("apply", "deadline_class", "report", "transition"),
    "workflow": ("DATA_KEYS", "DeadlineRule", "Rule", "Workflow", "load_workflow"),
}
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .assessment import METRICS, Assessment, assess
    from .criteria import Criteria, Criterion, checklist, load_criteria, major_grade
    from .disclosure import (
        PUBLIC_COLUMNS,
        Disclosure,
        disclose,
        disclose_snapshot,
        listed_majors,
        public_view,
    )
    from .errors import RegisterError, RoleError, TransitionError
    from .frames import (
        EVENT_COLUMNS,
        ITEM_COLUMNS,
        SNAPSHOT_COLUMNS,
        attach_areas,
        events_frame,
        items_frame,
        overdue,
        snapshot,
    )
    from .grading import grade_assessments, hazard_risk_grades, load_risk_grading
    from .influence import register_factors, risk_grade_factors
    from .intake import HEADERS, ImportResult, SheetError, import_rows, read_rows
    from .items import Event, Item, item_number
    from .link import LINK_COLUMNS, LINK_DISTANCE_M, link_items
    from .log import is_overdue, replay, replay_many
    from .monthly import ASSESS_BY, MONTH_FIGURES, RegisterMonth, register_month
    from .synthetic import SyntheticRegister, synthetic_register
    from .synthetic_grades import synthetic_assessments
    from .trace import FINDINGS, trace_incidents, unchecked_sources
    from .transitions import apply, deadline_class, report, transition
    from .workflow import DATA_KEYS, DeadlineRule, Rule, Workflow, load_workflow

__all__ = [
    "ASSESS_BY",
    "DATA_KEYS",
    "EVENT_COLUMNS",
    "FINDINGS",
    "HEADERS",
    "ITEM_COLUMNS",
    "LINK_COLUMNS",
    "LINK_DISTANCE_M",
    "METRICS",
    "MONTH_FIGURES",
    "PUBLIC_COLUMNS",
    "SNAPSHOT_COLUMNS",
    "Assessment",
    "Criteria",
    "Criterion",
    "DeadlineRule",
    "Disclosure",
    "Event",
    "ImportResult",
    "Item",
    "RegisterError",
    "RegisterMonth",
    "RoleError",
    "Rule",
    "SheetError",
    "SyntheticRegister",
    "TransitionError",
    "Workflow",
    "apply",
    "assess",
    "attach_areas",
    "checklist",
    "deadline_class",
    "disclose",
    "disclose_snapshot",
    "events_frame",
    "grade_assessments",
    "hazard_risk_grades",
    "import_rows",
    "is_overdue",
    "item_number",
    "items_frame",
    "link_items",
    "listed_majors",
    "load_criteria",
    "load_risk_grading",
    "load_workflow",
    "major_grade",
    "overdue",
    "public_view",
    "read_rows",
    "register_factors",
    "register_month",
    "replay",
    "replay_many",
    "report",
    "risk_grade_factors",
    "snapshot",
    "synthetic_assessments",
    "synthetic_register",
    "trace_incidents",
    "transition",
    "unchecked_sources",
]
