"""Who may see and do what on the hidden-danger register, and the limits of anonymous reports.

* :func:`actor_of`: the request's :class:`~service.api.accounts.Actor` from its bearer token
  (a register account's token, or the service's API token acting as ``admin``), None
  without one.
* :func:`scope_of` / :func:`visible`: which items an actor sees. It follows the workflow's
  scopes (``register_workflow.toml [roles.*] scope``): a department sees the items handed to
  it, an enterprise its own, a territorial government those handed to it and those not yet
  handed over that lie in its area; a reporter the items it reported; inspectors, supervisors and admins
  all. A territorial government's area comes from ``DATA_DIR/governments.csv``
  (:mod:`service.api.register_areas`). Items an actor may not see are answered 404, as if
  they did not exist.
* :class:`ReportLimiter`: anonymous reports per client address in a sliding window (429 with
  ``Retry-After`` beyond), counted in the store so that all server processes share it;
  :class:`RegisterLimits` sets it and the size limits.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from fastapi import Request

from risk_models.register import Item, Workflow
from risk_models.register.vocab import STATUSES

from ..store import ListView, Scope, Store, StoredItem
from ..store.coordination import LocalWindows
from .accounts import Actor, TokenVerifier
from .auth import AuthError
from .budget import AnonymousLimitError
from .register_areas import GovernmentAreas, GovernmentTable

if TYPE_CHECKING:
    from .deps import ServiceState

__all__ = [
    "ADMIN_TOKEN_ACTOR",
    "RegisterLimits",
    "RegisterState",
    "ReportLimiter",
    "actor_of",
    "list_view",
    "require_actor",
    "scope_of",
    "visible",
    "workflow_of",
]

#: The account id of requests made with the service's API token (they act as ``admin``).
ADMIN_TOKEN_ACTOR = "api-token"
_MIB = 1024**2


@dataclass(frozen=True)
class RegisterLimits:
    """Limits of the register's public side.

    Attributes
    ----------
    anonymous_reports
        Reports without a token one client address may make per ``window_s``.
    window_s
        The sliding window of ``anonymous_reports``, seconds.
    max_report_bytes
        Largest report request (its photos included); 413 beyond.
    max_photo_bytes
        Largest single photo as sent; 413 beyond.
    """

    anonymous_reports: int = 5
    window_s: float = 600.0
    max_report_bytes: int = 24 * _MIB
    max_photo_bytes: int = 8 * _MIB


class ReportLimiter:
    """At most ``limit`` events per key in any ``window_s`` seconds (a sliding window per key).

    The events are counted in ``store`` (:meth:`Store.take_window
    <service.store.Store.take_window>`), so every server process on one store counts against
    the same budget; without a store, in this process.
    """

    #: The store's name for this window.
    BUCKET = "anonymous_reports"

    def __init__(self, limit: int, window_s: float, *, store: Store | None = None) -> None:
        self.limit = limit
        self.window_s = window_s
        self._count = store.take_window if store is not None else LocalWindows().take

    def take(self, key: str, *, now: float | None = None) -> None:
        """Count one report of ``key``, or raise a 429 saying when the next is allowed."""
        verdict = self._count(self.BUCKET, key, limit=self.limit, window_s=self.window_s, now=now)
        if not verdict.allowed:
            wait = max(1, math.ceil(verdict.retry_after_s))
            msg = (
                f"This address made {verdict.count} reports in the last {self.window_s / 60:.0f} minutes, "
                f"the most allowed without an account. Fix: wait {wait} s, or report with an "
                "account's token."
            )
            minutes = f"{self.window_s / 60:.0f}"
            raise AnonymousLimitError(
                msg,
                status=429,
                limit="reports",
                retry_after_s=wait,
                key="anonymous_reports",
                values={"count": verdict.count, "minutes": minutes, "wait": wait},
            )


@dataclass(frozen=True)
class RegisterState:
    """What one app keeps for the register: token checks, the report limiter, limits."""

    tokens: TokenVerifier
    limiter: ReportLimiter
    limits: RegisterLimits = field(default_factory=RegisterLimits)
    #: Which territorial government holds each area (``DATA_DIR/governments.csv``).
    areas: GovernmentAreas | None = None

    def governments(self) -> GovernmentTable | None:
        """The current governments table (None: no areas known to this app)."""
        return None if self.areas is None else self.areas.table()


def workflow_of(request: Request) -> Workflow:
    """The deployment's register workflow: the one its store enforces (rights, scopes, deadlines).

    Settings' ``register_workflow`` overrides the shipped ``register_workflow.toml``; the
    routes answer by it (who may do what, what each role sees), as the store checks by it.
    """
    workflow: Workflow = request.app.state.service.store.register.workflow
    return workflow


def actor_of(request: Request, service: ServiceState) -> Actor | None:
    """The request's actor from ``Authorization: Bearer``; None without the header."""
    import hmac

    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, given = header.partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        msg = "The Authorization header must be `Bearer <token>`."
        raise AuthError(msg, 401, key="bearer_malformed")
    if hmac.compare_digest(given.encode("utf-8"), service.token.token.encode("utf-8")):
        return Actor(ADMIN_TOKEN_ACTOR, "admin", None, "the service's API token")
    state: RegisterState = request.app.state.register
    return state.tokens.verify(given)


def require_actor(request: Request, service: ServiceState) -> Actor:
    """The request's actor, or a 401 asking for a token."""
    actor = actor_of(request, service)
    if actor is None:
        msg = (
            "This register endpoint needs an account's token. Fix: send `Authorization: Bearer <token>` "
            "(made with `riskplan register account add`)."
        )
        raise AuthError(msg, 401, key="register_token_missing")
    return actor


def scope_of(actor: Actor, wf: Workflow, governments: GovernmentTable | None = None) -> Scope | None:
    """Which items ``actor`` sees (None: all), following the workflow's role scopes.

    A scope on ``territorial_unit`` that the workflow does not require (a territorial
    government) also lets through the items not yet handed over that lie in the actor's
    area by ``governments`` (:mod:`service.api.register_areas`; without it, every item not
    yet handed over).
    """
    if actor.role == "reporter":
        return Scope("reported_by", actor.account)
    rule = wf.scopes.get(actor.role)
    if rule is None:
        return None
    field_name, required = rule
    if field_name == "territorial_unit" and not required and governments is not None:
        return Scope(field_name, actor.unit, area=governments.rule(actor.unit))
    return Scope(field_name, actor.unit, unassigned=not required)


def visible(
    item: Item | StoredItem, actor: Actor, wf: Workflow, governments: GovernmentTable | None = None
) -> bool:
    """Whether ``actor`` may see ``item`` (a :class:`StoredItem` for reporters' and areas' scopes)."""
    scope = scope_of(actor, wf, governments)
    if scope is None:
        return True
    if scope.field == "reported_by":
        return isinstance(item, StoredItem) and item.reported_by == actor.account
    state = item.item if isinstance(item, StoredItem) else item
    value = getattr(state, scope.field)
    if value is not None:
        return bool(value == scope.value)
    if scope.area is not None:
        return isinstance(item, StoredItem) and scope.area.contains(item.district, item.street)
    return scope.unassigned


_ACTIONS: dict[tuple[int, str], tuple[Workflow, dict[str, tuple[tuple[str, ...], tuple[str, ...]]]]] = {}
_ACTIONS_LOCK = threading.Lock()


def list_view(actor: Actor, wf: Workflow, now: datetime) -> ListView:
    """How a list shows items to ``actor`` at ``now``: the day of ``overdue``, the allowed actions.

    The actions of each state (unsupervised, supervised) are the workflow's
    :meth:`~risk_models.register.Workflow.allowed_actions` for the actor's role, worked out
    once per workflow and role.
    """
    key = (id(wf), actor.role)
    with _ACTIONS_LOCK:
        known = _ACTIONS.get(key)
    if known is None or known[0] is not wf:
        actions = {
            s: (wf.allowed_actions(s, actor.role), wf.allowed_actions(s, actor.role, supervised=True))
            for s in STATUSES
        }
        known = (wf, actions)
        with _ACTIONS_LOCK:
            if len(_ACTIONS) > 256:
                _ACTIONS.clear()
            _ACTIONS[key] = known
    return ListView(today=now.date(), actions=known[1])
