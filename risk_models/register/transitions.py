"""Move an item through the workflow: every change an event, checked against the table.

:func:`report` creates an item, :func:`transition` makes any later change, both returning the
new :class:`~risk_models.register.items.Item` and the :class:`~risk_models.register.items.Event`
to append to the log; :func:`apply` is the check both rest on (state, role, unit, data, time
order); :func:`risk_models.register.replay` (:mod:`.log`) folds a log back into the item.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any, NoReturn

from gis.tables import TableOverrides

from .criteria import major_grade
from .errors import RegisterError, RoleError, TransitionError
from .items import Event, Item
from .vocab import CATEGORIES, REJECT_REASONS, SOURCES
from .workflow import DATA_KEYS, Workflow, load_workflow

__all__ = ["apply", "deadline_class", "report", "transition"]

_Changes = dict[str, Any]


def _where(event: Event) -> str:
    return (
        f"Item `{event.number}`, event `{event.action}` by `{event.actor}` ({event.role}) "
        f"at {event.at.isoformat(timespec='minutes')}"
    )


def _fail(event: Event, problem: str, fix: str, error: type[TransitionError] = TransitionError) -> NoReturn:
    msg = f"{_where(event)}: {problem}. Fix: {fix}."
    raise error(msg)


def _text(event: Event, key: str, *, optional: bool = False) -> str | None:
    value = event.data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        _fail(event, f"`{key}` is {value!r}, not a text", f"give `{key}` as a non-empty text")
    return str(value).strip()


def _date(event: Event, key: str) -> date:
    value = event.data.get(key)
    if not isinstance(value, date) or isinstance(value, datetime):
        _fail(event, f"`{key}` is {value!r}, not a date", f"give `{key}` as a date (YYYY-MM-DD)")
    return value


def deadline_class(item: Item) -> str:
    """``"supervised"`` for an item under supervision, else its grade (``[deadlines]`` key)."""
    return "supervised" if item.supervised_by else str(item.grade or "general")


def _deadline(event: Event, item: Item, wf: Workflow, *, cls: str, extended: bool) -> date:
    """The event's deadline, checked between the verification day and the class's limit."""
    new = _date(event, "deadline")
    start = (item.verified_at or event.at).date()
    rule = wf.deadlines[cls]
    days = rule.extended_limit_days if extended else rule.limit_days
    latest = start + timedelta(days=days)
    if not start <= new <= latest:
        _fail(
            event,
            f"deadline {new} is outside {start} .. {latest} ({days} days from verification for "
            f"`{cls}` items{', extended' if extended else ''})",
            f"give a deadline by {latest}, or change `[deadlines.{cls}]` in register_workflow.toml",
        )
    return new


def _report(event: Event, wf: Workflow) -> Item:
    d = event.data
    number_re = rf"{re.escape(wf.prefix)}-\d{{4}}-\d{{{wf.digits},}}"
    if not re.fullmatch(number_re, event.number):
        _fail(
            event,
            "the number is not a register number",
            f"make it with `item_number(year, counter)` ({number_re})",
        )
    if d.get("category") not in CATEGORIES:
        _fail(event, f"category {d.get('category')!r} is unknown", f"use one of {list(CATEGORIES)}")
    if d.get("source") not in SOURCES:
        _fail(event, f"source {d.get('source')!r} is unknown", f"use one of {list(SOURCES)}")
    xy = [d.get("x"), d.get("y")]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in xy):
        _fail(event, f"location {xy} is not two finite numbers", "give `x` and `y` in the register's CRS")
    reporter = _text(event, "reporter", optional=True)
    if reporter is None and d["source"] not in wf.anonymous_sources:
        _fail(
            event,
            f"a `{d['source']}` report must name its reporter",
            f"give `reporter`; only {sorted(wf.anonymous_sources)} may be anonymous",
        )
    if event.role not in wf.source_roles[d["source"]]:
        _fail(
            event,
            f"role `{event.role}` may not report from source `{d['source']}`",
            f"report as one of {sorted(wf.source_roles[d['source']])}",
            RoleError,
        )
    return Item(
        number=event.number,
        status="reported",
        category=str(d["category"]),
        x=float(d["x"]),
        y=float(d["y"]),
        description=str(_text(event, "description")),
        source=str(d["source"]),
        reporter=reporter,
        hazard_id=_text(event, "hazard_id", optional=True),
        enterprise_id=_text(event, "enterprise_id", optional=True),
        community_id=_text(event, "community_id", optional=True),
        reported_at=event.at,
        updated_at=event.at,
    )


def _verify(item: Item, event: Event, wf: Workflow) -> _Changes:
    criteria = tuple(event.data.get("criteria", ()))
    try:
        grade = major_grade(item.category, criteria, major_hazard_criteria=wf.criteria)
    except RegisterError as exc:
        _fail(
            event, str(exc).split(" Fix: ")[0].rstrip("."), f"tick criteria of checklist({item.category!r})"
        )
    given = event.data.get("grade")
    if given is not None and given != grade:
        _fail(
            event,
            f"grade `{given}` disagrees with the criteria met {list(criteria)}, which make it `{grade}`",
            "tick the criteria that make it major, or leave `grade` out",
        )
    verified = replace(item, grade=grade, verified_at=event.at)
    return {
        "grade": grade,
        "criteria": criteria,
        "verified_at": event.at,
        "deadline": _deadline(event, verified, wf, cls=grade, extended=False),
        "public_summary": _text(event, "public_summary", optional=True),
    }


def _reject(item: Item, event: Event, wf: Workflow) -> _Changes:
    reason = event.data.get("reason")
    if reason not in REJECT_REASONS:
        _fail(event, f"reason {reason!r} is unknown", f"use one of {list(REJECT_REASONS)}")
    dup = _text(event, "duplicate_of", optional=True)
    if reason == "duplicate" and (dup is None or dup == item.number):
        _fail(
            event,
            "a duplicate must name the item it duplicates",
            "give `duplicate_of` (another item's number)",
        )
    return {"reject_reason": reason, "duplicate_of": dup, "rejected_at": event.at}


def _hand_over(item: Item, event: Event, wf: Workflow) -> _Changes:
    return {
        "territorial_unit": _text(event, "territorial_unit"),
        "department_unit": _text(event, "department_unit"),
        "handed_over_at": event.at,
    }


def _plan(item: Item, event: Event, wf: Workflow) -> _Changes:
    out: _Changes = {"rectifying_at": event.at}
    d = event.data
    if "plan" in d:
        out["plan"] = _text(event, "plan")
    if "measures" in d:
        measures = d["measures"]
        measures = (measures,) if isinstance(measures, str) else tuple(measures)
        if not measures or not all(isinstance(m, str) and m.strip() for m in measures):
            _fail(
                event, f"measures {list(measures)} are not texts", "list the rectification measures as texts"
            )
        out["measures"] = measures
    if "funds_yuan" in d:
        funds = d["funds_yuan"]
        if (
            not isinstance(funds, int | float)
            or isinstance(funds, bool)
            or not math.isfinite(funds)
            or funds < 0
        ):
            _fail(event, f"funds_yuan {funds!r} is not an amount >= 0", "give the funds in yuan")
        out["funds_yuan"] = float(funds)
    if "deadline" in d:
        new = _date(event, "deadline")
        start = item.verified_at.date() if item.verified_at else event.at.date()
        if item.deadline is not None and not start <= new <= item.deadline:
            _fail(
                event,
                f"the plan's deadline {new} is outside {start} .. {item.deadline} (the item's time limit)",
                "plan within the time limit, or ask for an extension (`extend`) first",
            )
        out["deadline"] = new
    return out


def _supervise(item: Item, event: Event, wf: Workflow) -> _Changes:
    if item.grade != "major":
        _fail(
            event,
            f"only major items are put under supervision; this one is `{item.grade}`",
            "supervise major items",
        )
    if item.supervised_by:
        _fail(event, f"the item is already supervised by `{item.supervised_by}`", "supervise it once")
    return {
        "supervised_by": _text(event, "authority"),
        "supervised_at": event.at,
        "deadline": _deadline(event, item, wf, cls="supervised", extended=False),
    }


def _extend(item: Item, event: Event, wf: Workflow) -> _Changes:
    cls = deadline_class(item)
    allowed = wf.deadlines[cls].max_extensions
    if item.extensions >= allowed:
        _fail(
            event,
            f"the deadline was extended {item.extensions} time(s), the most allowed for `{cls}` items",
            f"close or reopen the item; `[deadlines.{cls}] max_extensions` sets the limit",
        )
    new = _deadline(event, item, wf, cls=cls, extended=True)
    if item.deadline is not None and new <= item.deadline:
        _fail(
            event, f"the new deadline {new} is not after the current one {item.deadline}", "give a later date"
        )
    return {"deadline": new, "extensions": item.extensions + 1}


_HANDLERS: Mapping[str, Callable[[Item, Event, Workflow], _Changes]] = {
    "verify": _verify,
    "reject": _reject,
    "hand_over": _hand_over,
    "plan": _plan,
    "claim": lambda item, event, wf: {"rectified_at": event.at},
    "accept": lambda item, event, wf: {"closed_at": event.at},
    "reopen": lambda item, event, wf: {"reopens": item.reopens + 1},
    "supervise": _supervise,
    "extend": _extend,
    "comment": lambda item, event, wf: {},
}


def _check_scope(item: Item, event: Event, wf: Workflow) -> None:
    scope = wf.scopes.get(event.role)
    if scope is None:
        return
    field, required = scope
    owner = getattr(item, field)
    if owner is None and not required:
        return
    if event.unit is None or owner != event.unit:
        _fail(
            event,
            f"a `{event.role}` acts only on items whose `{field}` is its unit; this item's is "
            f"{owner!r}, the actor's unit {event.unit!r}",
            "act from the responsible unit's account",
            RoleError,
        )


def apply(item: Item | None, event: Event, *, register_workflow: Workflow | TableOverrides = None) -> Item:
    """The item after ``event``, or an error saying why the workflow refuses it.

    Parameters
    ----------
    item
        The item's current state; None before its ``report`` event.
    event
        The change, with ``from_status`` and ``to_status`` as :func:`transition` fills them.
    register_workflow
        A loaded :class:`~risk_models.register.workflow.Workflow`, or overrides of
        ``register_workflow.toml``.

    Returns
    -------
    Item
        A new item (``item`` is not changed).

    Raises
    ------
    RoleError
        The role may not make this transition (on a supervised item), or the actor's unit is
        not the item's.
    TransitionError
        The action is not allowed from the item's state, its data is missing or wrong, the
        event is older than the item's last one, or its ``from_status`` / ``to_status`` are stale.

    Examples
    --------
    >>> from datetime import datetime
    >>> item, ev = report("YH-2026-000001", at=datetime(2026, 3, 1, 9), actor="u1", role="reporter",
    ...                   category="ebike_indoor_charging", x=0.0, y=0.0,
    ...                   description="charging in the stairwell", source="public_report")
    >>> late = Event(item.number, "accept", datetime(2026, 3, 2), "u2", "inspector", from_status="reported",
    ...              to_status="closed")
    >>> try:
    ...     apply(item, late)
    ... except TransitionError as exc:
    ...     print(str(exc).split(": ", 1)[1].split(". ")[0])
    `accept` is allowed from ['rectified'], not from `reported`
    """
    wf = load_workflow(register_workflow)
    try:
        rule = wf.rule(event.action)
    except RegisterError as exc:
        raise TransitionError(f"{_where(event)}: {exc}") from None
    if item is not None and event.number != item.number:
        _fail(
            event, f"the event is of item `{event.number}`, not `{item.number}`", "apply an item's own events"
        )
    if item is None and event.action != "report":
        _fail(
            event, "the item has no events yet; its first must be `report`", "replay the log from the report"
        )
    if item is not None and event.action == "report":
        _fail(event, "the item is already reported", "make a new number for a new danger")
    status = None if item is None else item.status
    if item is not None and status not in rule.from_statuses:
        now = wf.allowed_actions(status, event.role, supervised=bool(item.supervised_by))
        _fail(
            event,
            f"`{event.action}` is allowed from {list(rule.from_statuses)}, not from `{status}`. "
            f"Actions allowed now for `{event.role}`: {list(now)}",
            "take one of those actions",
        )
    roles = rule.roles_for(supervised=bool(item is not None and item.supervised_by))
    if event.role not in roles:
        extra = " on a supervised item" if item is not None and item.supervised_by else ""
        _fail(
            event,
            f"role `{event.role}` may not `{event.action}`{extra}",
            f"act as one of {sorted(roles)}",
            RoleError,
        )
    unknown = sorted(set(event.data) - DATA_KEYS[event.action])
    missing = sorted(rule.required - set(event.data))
    if unknown or missing:
        _fail(
            event,
            f"data lacks {missing} or has keys {unknown} that `{event.action}` does not take",
            f"give {sorted(rule.required)} "
            f"(and optionally {sorted(DATA_KEYS[event.action] - rule.required)})",
        )
    if rule.note_required and not event.note.strip():
        _fail(event, f"`{event.action}` needs a note saying why", "give `note`")
    to_status = rule.to_status or status
    if (event.from_status, event.to_status) != (status, to_status):
        _fail(
            event,
            f"the event says {event.from_status} -> {event.to_status} "
            f"but the item moves {status} -> {to_status}",
            "build events with `transition()` from the item's current state",
        )
    if item is None:
        new = _report(event, wf)
        _check_scope(new, event, wf)
        return new
    try:
        if event.at < item.updated_at:
            _fail(
                event,
                f"it is older than the item's last event ({item.updated_at.isoformat()})",
                "append events in time order",
            )
    except TypeError:
        _fail(
            event,
            "it mixes naive and time-zone aware times with the item's",
            "use one kind of time for the register",
        )
    _check_scope(item, event, wf)
    changes = _HANDLERS[event.action](item, event, wf)
    return replace(item, **changes, status=str(to_status), updated_at=event.at, version=item.version + 1)


def report(
    number: str,
    *,
    at: datetime,
    actor: str,
    role: str,
    category: str,
    x: float,
    y: float,
    description: str,
    source: str,
    reporter: str | None = None,
    hazard_id: str | None = None,
    enterprise_id: str | None = None,
    community_id: str | None = None,
    unit: str | None = None,
    note: str = "",
    attachments: Iterable[str] = (),
    register_workflow: Workflow | TableOverrides = None,
) -> tuple[Item, Event]:
    """Create an item: the new item and its ``report`` event (to append to the log).

    Parameters
    ----------
    number
        The server-made number (:func:`~risk_models.register.items.item_number`).
    at, actor, role, unit
        When, who (account id), as which role, for which unit (an enterprise: its id).
    category, source
        Register category and source (the source must suit the role: ``register_workflow.toml [sources]``).
    x, y
        Location in the register's CRS.
    description
        The danger in the reporter's words (private).
    reporter
        The reporter's name or account (private); None for anonymous reports where allowed.
    hazard_id, enterprise_id, community_id
        Links to the hazard source, enterprise and community it lies in or near.
    note, attachments
        Private note and photo references.
    register_workflow
        Loaded workflow or overrides.

    Returns
    -------
    tuple of Item and Event

    Examples
    --------
    >>> from datetime import datetime
    >>> item, ev = report("YH-2026-000002", at=datetime(2026, 3, 1, 9), actor="ent-7", role="enterprise",
    ...                   unit="E7", enterprise_id="E7", category="dust_explosion", x=1.0, y=2.0,
    ...                   description="dust deposits on beams", source="enterprise_self_check", reporter="Li")
    >>> item.status, ev.from_status, ev.to_status
    ('reported', None, 'reported')
    """
    data = {
        "category": category,
        "x": x,
        "y": y,
        "description": description,
        "source": source,
        "reporter": reporter,
        "hazard_id": hazard_id,
        "enterprise_id": enterprise_id,
        "community_id": community_id,
    }
    event = Event(
        number,
        "report",
        at,
        actor,
        role,
        unit=unit,
        from_status=None,
        to_status="reported",
        note=note,
        attachments=tuple(attachments),
        data={k: v for k, v in data.items() if v is not None},
    )
    return apply(None, event, register_workflow=register_workflow), event


def transition(
    item: Item,
    action: str,
    *,
    at: datetime,
    actor: str,
    role: str,
    unit: str | None = None,
    data: Mapping[str, Any] | None = None,
    note: str = "",
    attachments: Iterable[str] = (),
    register_workflow: Workflow | TableOverrides = None,
) -> tuple[Item, Event]:
    """Make a change to ``item``: the new item and the event to append to the log.

    Fills what the workflow derives, so that the log states it: ``from_status``, ``to_status``;
    for ``verify`` the grade from the criteria met and, unless given, the deadline of the grade's
    time limit; for ``supervise`` the deadline of the supervised limit (never later than the
    current one).

    Parameters
    ----------
    item
        The current state.
    action
        One of :data:`~risk_models.register.vocab.ACTIONS` except ``report`` (:func:`report`).
    at, actor, role, unit
        When, who, as which role, for which unit.
    data
        The action's data (:data:`~risk_models.register.workflow.DATA_KEYS`), e.g.
        ``{"territorial_unit": ..., "department_unit": ...}`` for ``hand_over``.
    note, attachments
        Private note and photo references.
    register_workflow
        Loaded workflow or overrides.

    Returns
    -------
    tuple of Item and Event

    Raises
    ------
    RoleError, TransitionError
        As :func:`apply`.

    Examples
    --------
    >>> from datetime import datetime
    >>> item, _ = report("YH-2026-000003", at=datetime(2026, 3, 1, 9), actor="u1", role="inspector",
    ...                  category="mining", x=0.0, y=0.0, description="gas over the limit at face 3",
    ...                  source="government_inspection", reporter="Wang", hazard_id="H0101")
    >>> item, ev = transition(item, "verify", at=datetime(2026, 3, 2), actor="u1", role="inspector",
    ...                       data={"criteria": ["CM-02"]})
    >>> item.grade, str(item.deadline), ev.to_status
    ('major', '2026-05-01', 'verified')
    """
    wf = load_workflow(register_workflow)
    filled = dict(data or {})
    if action == "verify":
        filled.setdefault("criteria", ())
        try:
            grade = major_grade(item.category, filled["criteria"], major_hazard_criteria=wf.criteria)
        except RegisterError:
            grade = "general"  # apply() names the bad criteria
        filled.setdefault("grade", grade)
        filled.setdefault("deadline", at.date() + timedelta(days=wf.deadlines[grade].limit_days))
    elif action == "supervise" and item.verified_at is not None:
        cap = item.verified_at.date() + timedelta(days=wf.deadlines["supervised"].limit_days)
        filled.setdefault("deadline", min(cap, item.deadline) if item.deadline else cap)
    rule = wf.rules.get(action)
    to_status = (rule.to_status if rule is not None else None) or item.status
    event = Event(
        item.number,
        action,
        at,
        actor,
        role,
        unit=unit,
        from_status=item.status,
        to_status=to_status,
        note=note,
        attachments=tuple(attachments),
        data=filled,
    )
    return apply(item, event, register_workflow=wf), event
