"""The register's records: an :class:`Item` (a hidden danger's current state) and an :class:`Event`.

Both are frozen and storage-agnostic: ``to_record`` / ``from_record`` turn them into plain
JSON-ready dicts (ISO dates, lists) for any store, and back. An item is never edited in
place: each event makes a new one (:func:`risk_models.register.apply`), and replaying an
item's events gives it back (:func:`risk_models.register.replay`). Coordinates ``x``, ``y``
are in the register's CRS (say which one when making a frame: :func:`items_frame`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

from .errors import RegisterError

__all__ = ["Event", "Item", "item_number"]

#: The datetime fields of an :class:`Item`.
DATETIME_FIELDS: tuple[str, ...] = (
    "reported_at",
    "updated_at",
    "verified_at",
    "handed_over_at",
    "rectifying_at",
    "rectified_at",
    "closed_at",
    "rejected_at",
    "supervised_at",
)


def item_number(year: int, counter: int, *, prefix: str = "YH", digits: int = 6) -> str:
    """The number of an item: ``<prefix>-<year>-<counter>``, the counter zero-padded.

    The server keeps the counter (a SQLite sequence, one per year); the library only formats it.

    Examples
    --------
    >>> item_number(2026, 123)
    'YH-2026-000123'
    """
    if not 1000 <= int(year) <= 9999 or int(counter) < 1:
        msg = f"Cannot number item {counter} of year {year}. Fix: give a 4-digit year and a counter >= 1."
        raise RegisterError(msg)
    return f"{prefix}-{int(year):04d}-{int(counter):0{digits}d}"


def _plain(value: Any) -> Any:
    """A JSON-ready copy: dates as ISO strings, tuples as lists, mappings as dicts."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


_SCALARS = (str, float, int, bool, type(None), date, datetime)


def _frozen(value: Any) -> Any:
    if type(value) in _SCALARS:  # the common case, without the Mapping ABC check
        return value
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, Mapping):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    return value


def _datetime(value: Any, what: str) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    msg = f"{what} is {value!r}, not a date and time. Fix: give a datetime or an ISO string."
    raise RegisterError(msg)


@dataclass(frozen=True)
class Item:
    """The state of one hidden danger, made by its events (never edited, never deleted).

    Attributes
    ----------
    number
        Server-made number (:func:`item_number`), e.g. ``YH-2026-000123``.
    status
        State in the workflow (:data:`risk_models.register.vocab.STATUSES`).
    category, source
        Category and source (:data:`~risk_models.register.vocab.CATEGORIES`, ``SOURCES``).
    x, y
        Location in the register's CRS.
    description
        The danger as reported (private: the public view shows ``public_summary``).
    reporter
        Who reported it (private); None for an anonymous report.
    hazard_id, enterprise_id, community_id
        The hazard source, enterprise or community it lies in or near.
    reported_at, updated_at
        Time of the first and of the last event.
    version
        Number of events applied.
    grade, criteria
        ``general`` or ``major`` (set at verification) and the major-danger criteria met.
    public_summary
        The verifier's public wording of the danger (the disclosure shows it).
    territorial_unit, department_unit
        The territorial government and the industry department it is handed to.
    plan, measures, funds_yuan
        Rectification plan (private), measures and funds (public).
    deadline
        Date by which it must be closed (time limit by grade, extended at most as the table allows).
    supervised_by
        The authority supervising it (挂牌督办), if any.
    reject_reason, duplicate_of
        Why it was rejected (and the number it duplicates).
    extensions, reopens
        Deadline extensions granted and failed re-inspections.
    verified_at, handed_over_at, rectifying_at, rectified_at, closed_at, rejected_at, supervised_at
        Time of the last event of each kind (``rectifying_at``: the last plan).
    """

    number: str
    status: str
    category: str
    x: float
    y: float
    description: str
    source: str
    reporter: str | None
    hazard_id: str | None
    enterprise_id: str | None
    community_id: str | None
    reported_at: datetime
    updated_at: datetime
    version: int = 1
    grade: str | None = None
    criteria: tuple[str, ...] = ()
    public_summary: str | None = None
    territorial_unit: str | None = None
    department_unit: str | None = None
    plan: str | None = None
    measures: tuple[str, ...] = ()
    funds_yuan: float | None = None
    deadline: date | None = None
    supervised_by: str | None = None
    reject_reason: str | None = None
    duplicate_of: str | None = None
    extensions: int = 0
    reopens: int = 0
    verified_at: datetime | None = None
    handed_over_at: datetime | None = None
    rectifying_at: datetime | None = None
    rectified_at: datetime | None = None
    closed_at: datetime | None = None
    rejected_at: datetime | None = None
    supervised_at: datetime | None = None

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (dates as ISO strings, tuples as lists)."""
        return {k: _plain(v) for k, v in asdict(self).items()}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Item:
        """The item of a record made by :meth:`to_record` (or a row of the store).

        Examples
        --------
        >>> from datetime import datetime
        >>> it = Item("YH-2026-000001", "reported", "gas", 1.0, 2.0, "smell of gas", "public_report",
        ...           None, None, None, "C001", datetime(2026, 3, 1, 9), datetime(2026, 3, 1, 9))
        >>> Item.from_record(it.to_record()) == it
        True
        """
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(record) - names)
        if unknown:
            msg = f"Item record has unknown fields {unknown}. Fix: give fields of `Item` only."
            raise RegisterError(msg)
        values = dict(record)
        for key in DATETIME_FIELDS:
            if values.get(key) is not None:
                values[key] = _datetime(values[key], f"Item field `{key}`")
        if values.get("deadline") is not None and not isinstance(values["deadline"], date):
            values["deadline"] = date.fromisoformat(str(values["deadline"]))
        for key in ("criteria", "measures"):
            values[key] = tuple(values.get(key) or ())
        return cls(**values)


@dataclass(frozen=True)
class Event:
    """One change of an item, as the append-only audit log keeps it.

    Build events with :func:`risk_models.register.report` and
    :func:`~risk_models.register.transition`, which fill ``from_status``, ``to_status`` and the
    data the workflow derives (grade, default deadline); :func:`~risk_models.register.apply`
    checks them.

    Attributes
    ----------
    number
        The item's number.
    action
        What was done (:data:`risk_models.register.vocab.ACTIONS`).
    at
        When (naive local time or time-zone aware, the same for the whole register).
    actor
        Who: the account id (private).
    role
        The actor's role (:data:`~risk_models.register.vocab.ROLES`).
    unit
        The actor's unit (enterprise id, department or territorial government) for scoped roles.
    from_status, to_status
        State before and after (None before the report).
    note
        Why (private: never in the public view).
    attachments
        References of photos and documents in the store (private).
    data
        The action's data (:data:`risk_models.register.workflow.DATA_KEYS`).
    """

    number: str
    action: str
    at: datetime
    actor: str
    role: str
    unit: str | None = None
    from_status: str | None = None
    to_status: str | None = None
    note: str = ""
    attachments: tuple[str, ...] = ()
    data: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _datetime(self.at, f"Event `{self.action}` of `{self.number}`: `at`"))
        data = dict(self.data)
        if isinstance(data.get("deadline"), str):
            with contextlib.suppress(ValueError):  # apply() names the bad value
                data["deadline"] = date.fromisoformat(data["deadline"])
        if isinstance(data.get("deadline"), datetime):
            data["deadline"] = data["deadline"].date()
        object.__setattr__(self, "data", _frozen(data))
        object.__setattr__(self, "attachments", tuple(self.attachments))

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready dict (``data`` as a nested dict) for the store's audit log.

        Examples
        --------
        >>> from datetime import datetime
        >>> e = Event("YH-2026-000001", "comment", datetime(2026, 3, 2), "u7", "inspector", note="urged")
        >>> Event.from_record(e.to_record()) == e
        True
        """
        out = {f.name: _plain(getattr(self, f.name)) for f in fields(self)}
        out["data"] = _plain(dict(self.data))
        return out

    def data_json(self) -> str:
        """``data`` as a JSON string (sorted keys), for a store's text column."""
        return json.dumps(_plain(dict(self.data)), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Event:
        """The event of a record made by :meth:`to_record` (``data`` a dict or a JSON string)."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(record) - names)
        if unknown:
            msg = f"Event record has unknown fields {unknown}. Fix: give fields of `Event` only."
            raise RegisterError(msg)
        values = dict(record)
        if isinstance(values.get("data"), str):
            values["data"] = json.loads(values["data"])
        values["data"] = values.get("data") or {}
        values["attachments"] = tuple(values.get("attachments") or ())
        values["note"] = values.get("note") or ""
        return cls(**values)
