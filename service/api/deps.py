"""Per-app state and the dependencies every route uses (token checks, the loaded scenarios).

The state of one app lives in ``app.state.service`` (a :class:`ServiceState`); nothing is
module-global, so two apps in one process (tests) never share anything.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gis import Scenario

from ..graphs import ServiceGraphs
from ..jobs import JobRegistry, JobRunner
from ..store import Store
from .auth import TokenSource, check_bearer
from .budget import AnonymousGate, mark_trusted
from .settings import Settings
from .uploads import UnpackBudget

__all__ = [
    "READ_OPERATION",
    "ReadAccess",
    "ScenarioCache",
    "ServiceState",
    "WriteAccess",
    "get_service",
    "require_read",
    "require_write",
]


class ScenarioCache:
    """The last few loaded scenarios (immutable, so safe to share between requests)."""

    def __init__(self, load: Callable[[str], Scenario], size: int) -> None:
        self._load = load
        self._size = max(1, size)
        self._items: OrderedDict[str, Scenario] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, scenario_id: str) -> Scenario:
        """The scenario, loaded on first use."""
        with self._lock:
            if scenario_id in self._items:
                self._items.move_to_end(scenario_id)
                return self._items[scenario_id]
        scenario = self._load(scenario_id)
        with self._lock:
            self._items[scenario_id] = scenario
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return scenario

    def evict(self, scenario_id: str) -> None:
        """Forget a scenario (after it was deleted)."""
        with self._lock:
            self._items.pop(scenario_id, None)


@dataclass(frozen=True)
class ServiceState:
    """Everything one app instance holds.

    Attributes
    ----------
    settings, store, registry, runner, token
        Configuration, storage, job kinds and runner, the API token.
    scenarios
        Loaded scenarios (LRU).
    gate
        Where analyses are built for requests without the token (:mod:`service.api.budget`).
    graphs
        The road-graph cache in ``DATA_DIR/cache/graphs`` (:mod:`service.graphs`).
    unpacking
        Bytes being unpacked by uploads in progress, bounded for the whole server.
    """

    settings: Settings
    store: Store
    registry: JobRegistry
    runner: JobRunner
    token: TokenSource
    scenarios: ScenarioCache
    gate: AnonymousGate
    graphs: ServiceGraphs
    unpacking: UnpackBudget


def get_service(request: Request) -> ServiceState:
    """The :class:`ServiceState` of the app serving ``request``."""
    state: ServiceState = request.app.state.service
    return state


_bearer = HTTPBearer(auto_error=False, description="The token from DATA_DIR/api_token.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _header(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str | None:
    if credentials is not None:
        return f"{credentials.scheme} {credentials.credentials}"
    return request.headers.get("authorization")


# Both checks are async on purpose: they only compare strings, and a sync dependency would
# cost every request a round trip through the threadpool.
async def require_write(request: Request, credentials: Credentials) -> None:
    """Write endpoints need the API token."""
    check_bearer(_header(request, credentials), get_service(request).token.token)
    mark_trusted(request, True)


async def require_read(request: Request, credentials: Credentials) -> None:
    """Read endpoints need the token only when ``protect_reads`` is set.

    A token sent on a public read is checked all the same (a wrong one is a 403, so a typo
    shows), and marks the request as trusted: the anonymous limits do not apply to it.
    """
    service = get_service(request)
    header = _header(request, credentials)
    if service.settings.protect_reads or header:
        check_bearer(header, service.token.token)
    mark_trusted(request, header is not None)


ReadAccess = Depends(require_read)
#: OpenAPI extension marking a POST that only reads (computes, stores nothing): with public
#: reads its token is optional in the schema, as a GET's (``service.api.app``).
READ_OPERATION = "x-riskplan-read"
WriteAccess = Depends(require_write)
