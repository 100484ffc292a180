"""The register's workflow table, loaded and checked once: who may move an item where.

``risk_models/data/register_workflow.toml`` holds the vocabulary's labels, the transitions
(from which states, to which, by which roles, with which data), the roles' scopes, the time
limits by grade, the sources and the assessment weights; ``major_hazard_criteria.toml`` the
checklists that make a danger major. :func:`load_workflow` reads both into a frozen
:class:`Workflow` that every register function takes as ``register_workflow=`` (the loaded
object, or overrides of the table). The shipped default is built once and shared: it is
immutable, so no caller can change what another sees.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any, NoReturn

from gis.schema import HAZARD_CATEGORIES
from gis.tables import TableOverrides, load_table

from .criteria import Criteria, load_criteria
from .errors import RegisterError
from .vocab import (
    ACTIONS,
    CATEGORIES,
    REJECT_REASONS,
    ROLES,
    SOURCES,
    STATUSES,
    TERMINAL_STATUSES,
)

__all__ = ["DATA_KEYS", "DEADLINE_CLASSES", "DeadlineRule", "Rule", "Workflow", "load_workflow"]

#: The data each action may carry (the table's ``required`` picks which of them must be given).
DATA_KEYS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "report": frozenset(
            {
                "category",
                "x",
                "y",
                "description",
                "source",
                "reporter",
                "hazard_id",
                "enterprise_id",
                "community_id",
            }
        ),
        "verify": frozenset({"criteria", "grade", "deadline", "public_summary"}),
        "reject": frozenset({"reason", "duplicate_of"}),
        "hand_over": frozenset({"territorial_unit", "department_unit"}),
        "plan": frozenset({"plan", "measures", "funds_yuan", "deadline"}),
        "claim": frozenset(),
        "accept": frozenset(),
        "reopen": frozenset(),
        "supervise": frozenset({"authority", "deadline"}),
        "extend": frozenset({"deadline"}),
        "comment": frozenset(),
    }
)
#: Deadline classes of ``[deadlines]``: an item under supervision takes ``supervised``, else its grade.
DEADLINE_CLASSES: tuple[str, ...] = ("general", "major", "supervised")
_SCOPE_FIELDS = ("enterprise_id", "department_unit", "territorial_unit")
_FILE = "register_workflow.toml"


@dataclass(frozen=True)
class Rule:
    """One transition of the workflow.

    Attributes
    ----------
    action
        The event's action (:data:`risk_models.register.vocab.ACTIONS`).
    from_statuses
        States it starts from (empty for ``report``).
    to_status
        State it leads to; None keeps the item's state.
    roles
        Roles that may make it.
    roles_if_supervised
        Roles that may make it on a supervised item (None: ``roles``).
    required
        Data keys the event must carry.
    note_required
        The event must carry a note saying why.
    """

    action: str
    from_statuses: tuple[str, ...]
    to_status: str | None
    roles: frozenset[str]
    roles_if_supervised: frozenset[str] | None
    required: frozenset[str]
    note_required: bool

    def roles_for(self, *, supervised: bool) -> frozenset[str]:
        """The roles that may make this transition on a (not) supervised item."""
        if supervised and self.roles_if_supervised is not None:
            return self.roles_if_supervised
        return self.roles


@dataclass(frozen=True)
class DeadlineRule:
    """Time limits of a deadline class, in days from verification."""

    limit_days: int
    extended_limit_days: int
    max_extensions: int


@dataclass(frozen=True, eq=False)
class Workflow:
    """The loaded, checked workflow and criteria tables (:func:`load_workflow`).

    Attributes
    ----------
    rules
        ``{action: Rule}``.
    deadlines
        ``{deadline class: DeadlineRule}`` (:data:`DEADLINE_CLASSES`).
    scopes
        ``{role: (item field, required)}`` for the roles bound to a unit.
    source_roles
        ``{source: roles that may report from it}``.
    anonymous_sources
        Sources whose reporter may stay unnamed.
    criteria
        The major-danger checklists (:class:`risk_models.register.criteria.Criteria`).
    prefix, digits
        Item numbers: ``<prefix>-<year>-<counter on digits>``.
    table
        The merged TOML table (labels, assessment weights), read-only.
    """

    rules: Mapping[str, Rule]
    deadlines: Mapping[str, DeadlineRule]
    scopes: Mapping[str, tuple[str, bool]]
    source_roles: Mapping[str, frozenset[str]]
    anonymous_sources: frozenset[str]
    criteria: Criteria
    prefix: str
    digits: int
    table: Mapping[str, Any]

    def rule(self, action: str) -> Rule:
        """The rule of ``action``, or a :class:`RegisterError` listing the actions."""
        try:
            return self.rules[action]
        except KeyError:
            msg = f"Unknown register action `{action}`. Fix: use one of {list(ACTIONS)}."
            raise RegisterError(msg) from None

    def allowed_actions(self, status: str | None, role: str, *, supervised: bool = False) -> tuple[str, ...]:
        """Actions ``role`` may take on an item in ``status`` (None: not yet reported).

        Examples
        --------
        >>> wf = load_workflow()
        >>> wf.allowed_actions("rectifying", "enterprise")
        ('claim', 'comment')
        >>> wf.allowed_actions("rectified", "inspector", supervised=True)
        ('comment',)
        """
        out = []
        for action, rule in self.rules.items():
            start = rule.from_statuses if status is not None else ()
            if (status in start or (status is None and action == "report")) and role in rule.roles_for(
                supervised=supervised
            ):
                out.append(action)
        return tuple(out)

    def label(self, kind: str, key: str) -> str:
        """The Chinese label of a state, category, source or role (the key itself when none)."""
        return str(self.table.get(kind, {}).get(key, {}).get("label_zh", key))

    def department_of(self, category: str) -> str:
        """The industry department an item of ``category`` is handed to by default."""
        return str(self.table["categories"][category]["department"])


def _fail(entry: str, problem: str, fix: str) -> NoReturn:
    msg = f"`{_FILE}` entry `{entry}` {problem}. Fix: {fix}."
    raise RegisterError(msg)


def _names(table: Mapping[str, Any], entry: str, vocab: tuple[str, ...]) -> None:
    got = set(table)
    if got != set(vocab):
        _fail(
            entry,
            f"has {sorted(got - set(vocab))} outside the vocabulary and lacks {sorted(set(vocab) - got)}",
            f"give exactly {list(vocab)} (risk_models.register.vocab)",
        )


def _roles(value: object, entry: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
        _fail(entry, f"is {value!r}, not a list of roles", f"list roles of {list(ROLES)}")
    bad = sorted(set(value) - set(ROLES))
    if bad:
        _fail(entry, f"names unknown roles {bad}", f"use roles of {list(ROLES)}")
    return frozenset(value)


def _rules(transitions: Mapping[str, Any]) -> dict[str, Rule]:
    _names(transitions, "transitions", ACTIONS)
    rules = {}
    for action in ACTIONS:
        spec, entry = transitions[action], f"transitions.{action}"
        start = spec.get("from", [])
        bad = sorted(set(start) - set(STATUSES))
        if bad:
            _fail(f"{entry}.from", f"names unknown states {bad}", f"use states of {list(STATUSES)}")
        leaving = sorted(set(start) & set(TERMINAL_STATUSES))
        if leaving:
            _fail(
                f"{entry}.from",
                f"leaves the terminal states {leaving}",
                "items are never reopened after these",
            )
        to = spec.get("to")
        if to is not None and to not in STATUSES:
            _fail(f"{entry}.to", f"is {to!r}", f"use a state of {list(STATUSES)} or leave it out")
        if (action == "report") != (not start):
            _fail(f"{entry}.from", "is wrong", "only `report` starts from nothing (`from = []`)")
        if action == "report" and to != "reported":
            _fail(f"{entry}.to", f"is {to!r}", 'a report leads to "reported"')
        required = set(spec.get("required", []))
        extra = sorted(required - DATA_KEYS[action])
        if extra:
            _fail(f"{entry}.required", f"names {extra}", f"require data of {sorted(DATA_KEYS[action])}")
        if_sup = spec.get("roles_if_supervised")
        rules[action] = Rule(
            action=action,
            from_statuses=tuple(start),
            to_status=to,
            roles=_roles(spec.get("roles"), f"{entry}.roles"),
            roles_if_supervised=None if if_sup is None else _roles(if_sup, f"{entry}.roles_if_supervised"),
            required=frozenset(required),
            note_required=bool(spec.get("note_required", False)),
        )
    reached, todo = {"reported"}, deque(["reported"])
    while todo:
        state = todo.popleft()
        for rule in rules.values():
            if state in rule.from_statuses and rule.to_status and rule.to_status not in reached:
                reached.add(rule.to_status)
                todo.append(rule.to_status)
    if set(STATUSES) - reached:
        _fail(
            "transitions",
            f"leave the states {sorted(set(STATUSES) - reached)} unreachable from `reported`",
            "add a transition to them",
        )
    return rules


def _deadlines(table: Mapping[str, Any]) -> dict[str, DeadlineRule]:
    _names(table, "deadlines", DEADLINE_CLASSES)
    out = {}
    for name in DEADLINE_CLASSES:
        spec = table[name]
        values = [spec.get(k) for k in ("limit_days", "extended_limit_days", "max_extensions")]
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
            _fail(f"deadlines.{name}", f"has {values}", "give whole numbers of days and extensions >= 0")
        if not 0 < values[0] <= values[1]:
            _fail(
                f"deadlines.{name}",
                f"has limit {values[0]} and extended limit {values[1]}",
                "use 0 < limit <= extended",
            )
        out[name] = DeadlineRule(*values)
    return out


def _build(table: dict[str, Any], criteria: Criteria) -> Workflow:
    for key, vocab in (
        ("states", STATUSES),
        ("sources", SOURCES),
        ("categories", CATEGORIES),
        ("reject_reasons", REJECT_REASONS),
    ):
        _names(table.get(key, {}), key, vocab)
    bad_roles = sorted(set(table.get("roles", {})) - set(ROLES))
    if bad_roles:
        _fail("roles", f"names unknown roles {bad_roles}", f"use roles of {list(ROLES)}")
    scopes: dict[str, tuple[str, bool]] = {}
    for role, spec in table.get("roles", {}).items():
        field = spec.get("scope")
        if field is None:
            continue
        if field not in _SCOPE_FIELDS:
            _fail(f"roles.{role}.scope", f"is {field!r}", f"use one of {list(_SCOPE_FIELDS)}")
        scopes[role] = (field, bool(spec.get("scope_required", False)))
    for cat, spec in table["categories"].items():
        bad = sorted(set(spec.get("hazard_categories", [])) - set(HAZARD_CATEGORIES))
        if bad or not isinstance(spec.get("department"), str):
            _fail(
                f"categories.{cat}",
                f"has hazard categories {bad} outside gis.schema or no `department`",
                f"name a department and hazard categories of {list(HAZARD_CATEGORIES)}",
            )
    weights = table.get("assessment", {})
    values = [weights.get(k) for k in ("on_time", "self_check", "not_overdue", "not_reopened")]
    if not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v >= 0 for v in values
    ):
        _fail(
            "assessment",
            f"has weights {values}",
            "give four weights >= 0: on_time, self_check, not_overdue, not_reopened",
        )
    if sum(values) <= 0:
        _fail("assessment", "has weights summing to 0", "give at least one positive weight")
    numbering = table.get("numbering", {})
    prefix, digits = numbering.get("prefix"), numbering.get("digits")
    if not isinstance(prefix, str) or not prefix or not isinstance(digits, int) or digits < 1:
        _fail(
            "numbering", f"has prefix {prefix!r} and digits {digits!r}", 'use e.g. prefix = "YH", digits = 6'
        )
    return Workflow(
        rules=MappingProxyType(_rules(table["transitions"])),
        deadlines=MappingProxyType(_deadlines(table.get("deadlines", {}))),
        scopes=MappingProxyType(scopes),
        source_roles=MappingProxyType(
            {s: _roles(table["sources"][s].get("roles"), f"sources.{s}.roles") for s in SOURCES}
        ),
        anonymous_sources=frozenset(s for s in SOURCES if table["sources"][s].get("anonymous", False)),
        criteria=criteria,
        prefix=str(prefix),
        digits=int(digits),
        table=_freeze(table),
    )


def _freeze(value: Any) -> Any:
    """A read-only deep copy: mappings become proxies, lists tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


@cache
def _default() -> Workflow:
    return _build(load_table("register_workflow", package="risk_models"), load_criteria())


def load_workflow(
    register_workflow: Workflow | TableOverrides = None,
    *,
    major_hazard_criteria: Criteria | TableOverrides = None,
) -> Workflow:
    """Return the register workflow merged with overrides and checked.

    Parameters
    ----------
    register_workflow
        A loaded :class:`Workflow` (returned as it is), or overrides of
        ``risk_models/data/register_workflow.toml`` (a mapping or a TOML path).
    major_hazard_criteria
        Overrides of ``risk_models/data/major_hazard_criteria.toml``, or loaded criteria.

    Returns
    -------
    Workflow
        Frozen; the shipped default is built once and shared.

    Raises
    ------
    RegisterError
        An entry outside the vocabulary, an unreachable state, a transition out of a terminal
        state, bad time limits or weights; the message names the entry and the fix.

    Examples
    --------
    >>> wf = load_workflow({"deadlines": {"general": {"limit_days": 15}}})
    >>> wf.deadlines["general"].limit_days, wf.rule("accept").to_status
    (15, 'closed')
    >>> sorted(wf.rule("verify").roles)
    ['admin', 'inspector', 'territorial_government']
    """
    if isinstance(register_workflow, Workflow):
        if major_hazard_criteria is not None:
            msg = (
                "`major_hazard_criteria` was given with an already loaded `register_workflow`. "
                "Fix: load them together with `load_workflow(overrides, major_hazard_criteria=...)`."
            )
            raise RegisterError(msg)
        return register_workflow
    if register_workflow is None and major_hazard_criteria is None:
        return _default()
    criteria = (
        major_hazard_criteria
        if isinstance(major_hazard_criteria, Criteria)
        else load_criteria(major_hazard_criteria)
    )
    return _build(load_table("register_workflow", register_workflow, package="risk_models"), criteria)
