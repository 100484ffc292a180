"""An item's log folded back into the item, and overdue computed at a given time.

:func:`replay` (one item) and :func:`replay_many` (a whole register, optionally as it stood
at a time) rest on :func:`~risk_models.register.apply`, so a log the workflow refuses is
refused here too, naming the event. :func:`is_overdue` is computed, never stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from gis.tables import TableOverrides

from .errors import RegisterError
from .items import Event, Item
from .transitions import apply
from .vocab import OPEN_STATUSES
from .workflow import Workflow, load_workflow

__all__ = ["is_overdue", "replay", "replay_many"]


def replay(events: Iterable[Event], *, register_workflow: Workflow | TableOverrides = None) -> Item:
    """The item an item's log (its events in order, starting with the report) makes.

    Examples
    --------
    >>> from datetime import datetime
    >>> from risk_models.register import report, transition
    >>> item, e1 = report("YH-2026-000004", at=datetime(2026, 3, 1), actor="u1", role="reporter",
    ...                   category="fire_lane_blocked", x=0.0, y=0.0, description="cars in the fire lane",
    ...                   source="public_report")
    >>> item, e2 = transition(item, "reject", at=datetime(2026, 3, 2), actor="u2", role="inspector",
    ...                       data={"reason": "not_a_danger"}, note="lane clear on inspection")
    >>> replay([e1, e2]) == item
    True
    """
    wf = load_workflow(register_workflow)
    item: Item | None = None
    for event in events:
        if item is not None and event.number != item.number:
            msg = (
                f"`replay` got events of items `{item.number}` and `{event.number}`. "
                "Fix: replay one item's log, or use `replay_many`."
            )
            raise RegisterError(msg)
        item = apply(item, event, register_workflow=wf)
    if item is None:
        msg = "`replay` got no events. Fix: give the item's log, starting with its `report` event."
        raise RegisterError(msg)
    return item


def replay_many(
    events: Iterable[Event],
    *,
    until: datetime | None = None,
    register_workflow: Workflow | TableOverrides = None,
) -> dict[str, Item]:
    """The items a whole register's log makes, by number (events of each item in log order).

    ``until`` replays only the events up to that time: the register as it stood then.

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from datetime import datetime
    >>> from risk_models.register import synthetic_register
    >>> reg = synthetic_register(city, seed=1, n_items=120)
    >>> items = replay_many(reg.log)
    >>> january = replay_many(reg.log, until=datetime(2024, 2, 1))
    >>> len(items), 0 < len(january) < 120, all(i.reported_at < datetime(2024, 2, 1)
    ...                                         for i in january.values())
    (120, True, True)
    """
    wf = load_workflow(register_workflow)
    items: dict[str, Item] = {}
    for event in events:
        if until is not None and event.at > until:
            continue
        items[event.number] = apply(items.get(event.number), event, register_workflow=wf)
    return items


def is_overdue(item: Item, at: datetime | date) -> bool:
    """Whether ``item`` is past its deadline at ``at``: not closed or rejected, deadline passed.

    Examples
    --------
    >>> from datetime import datetime
    >>> from risk_models.register import report, transition
    >>> item, _ = report("YH-2026-000005", at=datetime(2026, 3, 1), actor="u1", role="inspector",
    ...                  category="gas", x=0.0, y=0.0, description="hose perished",
    ...                  source="government_inspection", reporter="Zhao")
    >>> item, _ = transition(item, "verify", at=datetime(2026, 3, 1), actor="u1", role="inspector")
    >>> str(item.deadline), is_overdue(item, datetime(2026, 3, 31)), is_overdue(item, datetime(2026, 4, 1))
    ('2026-03-31', False, True)
    """
    day = at.date() if isinstance(at, datetime) else at
    return item.status in OPEN_STATUSES and item.deadline is not None and day > item.deadline
