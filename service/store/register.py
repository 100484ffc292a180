"""The storage interface of the hidden-danger register (隐患台账) in the web service.

:class:`RegisterStore` keeps three things: the **events** (the append-only audit log, the
truth), the **items** (each one's current state, a projection the events make) and the
register's **accounts** (one per person or unit, each with its own token, kept hashed). The
embedded backend is :class:`service.store.register_sqlite.SQLiteRegister`, in the service's
SQLite database; :class:`service.store.register_postgres.PostgresRegister` keeps it in
PostgreSQL + PostGIS. Both stand on the backend-neutral :mod:`._register_base`.

Contract every backend keeps:

* Events are never updated or deleted (triggers in the database refuse it); items are never deleted.
* Every change is one transaction: the new events, the items they make and the photos they
  carry are written together or not at all.
* The rules are the domain's: a backend never checks a transition itself. It hands the item's
  current state to the caller's ``build`` (:func:`risk_models.register.transition` or
  :func:`~risk_models.register.report`) inside the write transaction, so two moves of one
  item are serialised and each sees the other's result; bulk appends are checked with
  :func:`risk_models.register.apply`, and the new items of an import are made by the
  domain's ``report`` / ``transition`` (which apply it) inside the transaction.
* Numbers (``YH-<year>-<counter>``) are made by the store from a counter per year, unique
  under any concurrency.
* Replaying the stored events (:func:`risk_models.register.replay_many`) gives the stored items.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from risk_models.register import Disclosure, Event, ImportResult, Item, Workflow

__all__ = [
    "AREA_COLUMNS",
    "REGISTER_CRS",
    "Account",
    "AreaRule",
    "Attachment",
    "ItemQuery",
    "ListView",
    "RegisterStore",
    "Scope",
    "StoredItem",
]

#: The register's CRS in the service: WGS84 longitude / latitude, as the CLI's register.
REGISTER_CRS = "EPSG:4326"
#: Area columns an item may carry besides its fields (from an import or a report).
AREA_COLUMNS: tuple[str, ...] = ("district", "street")


@dataclass(frozen=True)
class StoredItem:
    """An item as stored: its state, its place in the store and its areas.

    Attributes
    ----------
    item
        The current state (the projection of its events).
    row
        The store's row number: the order items were stored in (paging cursors).
    district, street
        Areas given by the import or the report, else None.
    reported_by
        The account that reported it (None for anonymous reports and imports).
    """

    item: Item
    row: int
    district: str | None = None
    street: str | None = None
    reported_by: str | None = None


@dataclass(frozen=True)
class Attachment:
    """A photo or document stored with an event (already checked and re-encoded).

    ``ref`` is what the event's ``attachments`` list holds (``photo-<sha256 hex>``).
    """

    ref: str
    media_type: str
    data: bytes


@dataclass(frozen=True)
class Account:
    """A register account: who acts, as which role, for which unit.

    Attributes
    ----------
    id
        Server-made id (32 hex digits); the first part of the account's token.
    role
        A role of :data:`risk_models.register.vocab.ROLES`.
    unit
        The unit of scoped roles (a department, a territorial government, an enterprise id).
    label
        A name for people (``Li Wei, inspector of Xiaodian``).
    created_at
        ISO 8601 UTC.
    disabled
        True once disabled: its token no longer works.
    """

    id: str
    role: str
    unit: str | None
    label: str
    created_at: str
    disabled: bool = False


@dataclass(frozen=True)
class AreaRule:
    """The items located in one territorial government's area, by their ``district`` and ``street``.

    An item is in the area when its district is one of ``districts`` and its street is not
    one of that district's ``except_streets`` (streets of the district another government
    holds), or when its ``(district, street)`` is one of ``streets``.

    Examples
    --------
    >>> rule = AreaRule(districts=("小店区",), except_streets=(("小店区", "坞城街道"),),
    ...                 streets=(("迎泽区", "柳巷街道"),))
    >>> rule.contains("小店区", None), rule.contains("小店区", "坞城街道")
    (True, False)
    >>> rule.contains("迎泽区", "柳巷街道")
    True
    """

    districts: tuple[str, ...] = ()
    streets: tuple[tuple[str, str], ...] = ()
    except_streets: tuple[tuple[str, str], ...] = ()

    def contains(self, district: str | None, street: str | None) -> bool:
        """Whether an item in ``district`` / ``street`` is in the area."""
        if district is None:
            return False
        if (district, street) in self.streets:
            return True
        return district in self.districts and (district, street) not in self.except_streets

    def sql(self) -> tuple[str, list[Any]]:
        """The SQL condition on ``register_items`` (``district``, ``street``) and its values."""
        parts, values = [], []
        for district in self.districts:
            others = [s for d, s in self.except_streets if d == district]
            if others:
                marks = ", ".join("?" * len(others))
                parts.append(f"(district = ? AND coalesce(street NOT IN ({marks}), 1))")
                values += [district, *others]
            else:
                parts.append("district = ?")
                values.append(district)
        for district, street in self.streets:
            parts.append("(district = ? AND street = ?)")
            values += [district, street]
        return ("(" + " OR ".join(parts) + ")" if parts else "0 = 1"), values


@dataclass(frozen=True)
class Scope:
    """Which items an actor may see: those whose ``field`` is ``value``.

    ``unassigned`` also lets through items whose ``field`` is not set yet; ``area`` lets
    through those not set yet that lie in the area (a territorial government sees the
    reports of its area before the handover). ``field`` is an item column
    (``department_unit``, ``territorial_unit``, ``enterprise_id``) or ``reported_by``.
    """

    field: str
    value: str | None
    unassigned: bool = False
    area: AreaRule | None = None


@dataclass(frozen=True)
class ListView:
    """How a list shows its items to the requester.

    ``today`` is the day ``overdue`` is computed for; ``actions`` gives, per state, the actions
    the requester may take (unsupervised, supervised).
    """

    today: date
    actions: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]]


@dataclass(frozen=True)
class ItemQuery:
    """Filters of a list of items; every one given must hold.

    ``overdue_on`` keeps items overdue on that day (open, deadline passed; computed at query
    time, never stored), ``month`` those reported in it (``YYYY-MM``), ``bbox`` those within
    ``(west, south, east, north)`` in degrees, ``scope`` those the actor may see.
    """

    status: str | None = None
    category: str | None = None
    grade: str | None = None
    source: str | None = None
    department_unit: str | None = None
    territorial_unit: str | None = None
    enterprise_id: str | None = None
    district: str | None = None
    street: str | None = None
    month: str | None = None
    overdue_on: date | None = None
    bbox: tuple[float, float, float, float] | None = None
    scope: Scope | None = None


class RegisterStore(ABC):
    """Items, their append-only events, photos and accounts of the hidden-danger register."""

    #: The workflow every stored event is checked against: the deployment's (the shipped
    #: ``register_workflow.toml`` with its overrides). The API's rights and scopes follow it.
    workflow: Workflow

    # -- changes ---------------------------------------------------------------------------

    @abstractmethod
    def report(
        self,
        build: Callable[[str], tuple[Item, Event]],
        *,
        year: int,
        attachments: Sequence[Attachment] = (),
        areas: Mapping[str, str | None] | None = None,
        reported_by: str | None = None,
        follow_digest: bytes | None = None,
    ) -> StoredItem:
        """Make a number of ``year``, call ``build(number)`` and store its item and event.

        ``attachments`` are stored with the event (its ``attachments`` must name their
        refs); ``follow_digest`` is the hash of the reporter's follow key, if one was given.
        """

    @abstractmethod
    def move(
        self,
        number: str,
        build: Callable[[Item], tuple[Item, Event]],
        *,
        attachments: Sequence[Attachment] = (),
    ) -> StoredItem:
        """Call ``build(current item)`` inside the write transaction and store its result.

        :class:`~service.store.NotFoundError` for an unknown number; whatever ``build``
        raises (the workflow refusing) is raised and nothing is written.
        """

    @abstractmethod
    def append_events(
        self,
        make: Callable[[Mapping[int, int]], Sequence[Event]],
        *,
        areas: pd.DataFrame | None = None,
    ) -> list[str]:
        """Append a batch (an import): ``make(next counters by year)`` gives the events.

        Each event is checked with :func:`risk_models.register.apply` on the item it
        changes; all are stored or none. ``areas`` (indexed by number) gives ``district``
        and ``street``. Returns the numbers of the items changed, in order.
        """

    @abstractmethod
    def import_items(self, make: Callable[[Mapping[int, int]], ImportResult]) -> list[str]:
        """Store the new items of an import and their events: all or none, one transaction.

        ``make(next counters by year)`` gives the
        :class:`~risk_models.register.ImportResult` of
        :func:`~risk_models.register.import_rows`: items made by the domain's ``report`` /
        ``transition`` (so checked by :func:`~risk_models.register.apply`), their events and
        areas. It may run twice: once outside the write transaction and again inside it if
        the counters moved meanwhile, so that its numbers are free when stored. The store
        checks that every number is new and that each item's events are its version's
        count, starting with its report. Returns the new numbers, in order.
        """

    @abstractmethod
    def add_grades(self, records: Sequence[Mapping[str, Any]]) -> list[int]:
        """Append risk grades of hazard sources (a re-grade appends; the latest counts); their ids.

        Each record has ``hazard_id``, ``part``, ``method``, ``factors`` (a mapping), ``score``,
        ``basis``, ``grade``, ``colour``, ``control_level``, ``control_measures``, ``lon`` /
        ``lat`` (or None), ``graded_at``, ``actor``, ``role`` and ``note``: the grading of
        :func:`risk_models.register.grade_assessments`. Grades are never changed or deleted.
        """

    @abstractmethod
    def grades(
        self,
        *,
        hazard_id: str | None = None,
        grade: str | None = None,
        method: str | None = None,
        history: bool = False,
    ) -> list[dict[str, Any]]:
        """Stored grades (records as given, with ``id``), oldest first.

        The latest of each (hazard_id, part) unless ``history``; the filters apply to those.
        """

    # -- reads -----------------------------------------------------------------------------

    @abstractmethod
    def get(self, number: str) -> StoredItem:
        """One item; :class:`~service.store.NotFoundError` when unknown."""

    @abstractmethod
    def events(self, number: str) -> list[Event]:
        """The item's events in order (empty when unknown)."""

    @abstractmethod
    def list_items(
        self, query: ItemQuery, *, limit: int | None = None, after: int | None = None
    ) -> list[StoredItem]:
        """Items matching ``query``, newest stored first, at most ``limit``, from after row ``after``."""

    @abstractmethod
    def list_json(
        self, query: ItemQuery, view: ListView, *, limit: int | None = None, after: int | None = None
    ) -> list[tuple[int, str]]:
        """As :meth:`list_items`, each item as ``(row, JSON object)``, the fields of ``ItemOut``.

        The fields in ``ItemOut``'s order, ``overdue`` on ``view.today``, ``allowed_actions``
        from ``view``.
        The JSON is byte for byte what :func:`json.dumps` makes of the API's
        ``item_record`` (``ensure_ascii=False``, no spaces): lists answer without building
        an item per row.
        """

    @abstractmethod
    def count(self) -> tuple[int, int]:
        """``(items, events)`` stored."""

    @abstractmethod
    def last_event_id(self) -> int:
        """An id that grows with every stored event (0 for none): a version of the whole register."""

    @abstractmethod
    def iter_events(self) -> Iterator[Event]:
        """Every event in log order (for replay and export)."""

    @abstractmethod
    def frames(
        self, *, active_since: datetime | None = None, reported_before: datetime | None = None
    ) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
        """The items frame (:data:`REGISTER_CRS`, with :data:`AREA_COLUMNS`) and events frame.

        The frames of :func:`risk_models.register.items_frame` and
        :func:`~risk_models.register.events_frame`, limited to the items that matter for a
        window: reported before ``reported_before`` and not closed or rejected before
        ``active_since`` (their states are final, so they cannot change a later month's figures),
        and their events before ``reported_before`` (the items frame keeps the current state).
        """

    @abstractmethod
    def snapshot(
        self, *, active_since: datetime | None = None, reported_before: datetime | None = None
    ) -> pd.DataFrame:
        """The states before ``reported_before`` of the items that matter for the window.

        :func:`risk_models.register.snapshot` of those items (as :meth:`frames` selects them),
        made by the store without an events frame.
        """

    def build_month_ends(self, months: Sequence[str] | None = None) -> list[str]:
        """Make and keep the month-end states of ended ``months`` (default: all); the months made.

        A backend that keeps none (PostgreSQL: each snapshot is made by the domain) makes none.
        """
        return []

    @abstractmethod
    def items_of(self, numbers: Sequence[str]) -> gpd.GeoDataFrame:
        """The items frame (as :meth:`frames`) of the stored items among ``numbers``."""

    @abstractmethod
    def events_of(
        self, numbers: Sequence[str], *, since: datetime | None = None, before: datetime | None = None
    ) -> pd.DataFrame:
        """The events frame (as :meth:`frames`) of ``numbers``, from ``since`` until before ``before``."""

    def disclosure(
        self, month: str, *, location_precision_m: float | None = None, register_workflow: Any = None
    ) -> Disclosure:
        """The month's disclosure (三公开), equal to :func:`risk_models.register.disclose` on :meth:`frames`.

        Built from the month-end states (:meth:`snapshot`), the listed majors' items and
        their events of the month: a month of a register of a million items reads a few
        thousand rows, not every event of the window.

        Raises
        ------
        NotFoundError
            No item of the register was reported in or before ``month``.
        """
        import pandas as pd

        from risk_models.register import disclose_snapshot, listed_majors

        from .base import NotFoundError

        period = pd.Period(month, freq="M")
        start = period.start_time.to_pydatetime()
        end = (period + 1).start_time.to_pydatetime()
        snap = self.snapshot(active_since=start, reported_before=end)
        if not len(snap):
            msg = f"The register has no items in or before {month}. Fix: pick a month of the register."
            raise NotFoundError(msg)
        majors = list(listed_majors(snap, period))
        return disclose_snapshot(
            snap, self.items_of(majors), self.events_of(majors, since=start, before=end), period,
            location_precision_m=location_precision_m, register_workflow=register_workflow,
        )  # fmt: skip

    @abstractmethod
    def attachment(self, ref: str) -> Attachment:
        """A stored photo; :class:`~service.store.NotFoundError` when unknown."""

    @abstractmethod
    def follow_digest(self, number: str) -> bytes | None:
        """The hash of the item's follow key (None when it has none or is unknown)."""

    # -- accounts --------------------------------------------------------------------------

    @abstractmethod
    def add_account(self, account: Account, *, salt: bytes, digest: bytes) -> None:
        """Store a new account with its token's salt and hash (never the token)."""

    @abstractmethod
    def account_secret(self, account_id: str) -> tuple[Account, bytes, bytes] | None:
        """``(account, salt, digest)`` of an account, or None when unknown."""

    @abstractmethod
    def list_accounts(self) -> list[Account]:
        """Every account, oldest first."""

    @abstractmethod
    def disable_account(self, account_id: str) -> bool:
        """Disable an account (its token stops working); True if it existed."""
