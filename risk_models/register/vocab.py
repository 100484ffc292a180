"""The register's vocabulary: roles, states, actions, sources, categories and grades.

Defined once here and imported wherever they are needed (argparse choices, pydantic
literals of the service, the TOML tables' checks). The shipped tables describe each word
(labels, who may do what) but cannot add one: the code gives them their meaning.
"""

from __future__ import annotations

__all__ = [
    "ACTIONS",
    "CATEGORIES",
    "COLOURS",
    "CONFIRMED_STATUSES",
    "CONTROL_LEVELS",
    "DANGER_GRADES",
    "OPEN_STATUSES",
    "REJECT_REASONS",
    "RISK_GRADES",
    "ROLES",
    "SOURCES",
    "STATUSES",
    "TERMINAL_STATUSES",
]

#: Who acts on the register (each with its own token in the service).
ROLES: tuple[str, ...] = (
    "reporter",
    "enterprise",
    "inspector",
    "department",
    "territorial_government",
    "supervisor",
    "admin",
)
#: States of an item, in the order of the closed loop.
STATUSES: tuple[str, ...] = (
    "reported",
    "verified",
    "rejected",
    "handed_over",
    "rectifying",
    "rectified",
    "reopened",
    "closed",
)
#: States no action leaves: items are never deleted, only closed or rejected.
TERMINAL_STATUSES: tuple[str, ...] = ("rejected", "closed")
#: Verified dangers not yet closed: they count as open dangers (risk model, overdue).
OPEN_STATUSES: tuple[str, ...] = ("verified", "handed_over", "rectifying", "rectified", "reopened")
#: Verified as dangers (open or closed).
CONFIRMED_STATUSES: tuple[str, ...] = (*OPEN_STATUSES, "closed")
#: Events: ``report`` creates an item; ``supervise``, ``extend`` and ``comment`` keep its state.
ACTIONS: tuple[str, ...] = (
    "report",
    "verify",
    "reject",
    "hand_over",
    "plan",
    "claim",
    "accept",
    "reopen",
    "supervise",
    "extend",
    "comment",
)
#: Where an item comes from.
SOURCES: tuple[str, ...] = ("enterprise_self_check", "government_inspection", "public_report", "sensor_alarm")
#: Categories: the dangers around people, then the industrial ones.
CATEGORIES: tuple[str, ...] = (
    "fire_lane_blocked",
    "ebike_indoor_charging",
    "gas",
    "electrical",
    "elevator",
    "fire_facilities",
    "structure",
    "hazardous_chemicals",
    "mining",
    "dust_explosion",
    "metallurgy",
    "construction",
    "other",
)
#: Grades of a verified hidden danger.
DANGER_GRADES: tuple[str, ...] = ("general", "major")
#: Why a report is rejected.
REJECT_REASONS: tuple[str, ...] = ("not_a_danger", "duplicate")
#: Grades of a risk point (risk_grading.toml), worst first, with their map colours and
#: control levels in the same order.
RISK_GRADES: tuple[str, ...] = ("major", "high", "moderate", "low")
COLOURS: tuple[str, ...] = ("red", "orange", "yellow", "blue")
CONTROL_LEVELS: tuple[str, ...] = ("enterprise", "workshop", "team", "post")
