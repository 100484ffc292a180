"""The analyses one app keeps: in memory (bounded, one build per key) and in the store.

Built objects live in :class:`BuildCache` instances on ``app.state.analysis`` (an
:class:`AnalysisCaches`): bounded LRU maps with one build lock per key, so concurrent first
requests for the same key compute once while the others wait, and requests for other keys
are not held up. Everything cached is immutable (frozen results, read-only frames).
:func:`cached` and :func:`cached_async` build for requests without the API token within the
anonymous limits (:mod:`service.api.budget`). :func:`cached_layer` and :func:`cached_bytes`
keep a result in the store instead, so it survives a restart and goes with its scenario.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import geopandas as gpd
from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from ..store import NotFoundError
from .budget import is_trusted
from .deps import ServiceState, get_service

if TYPE_CHECKING:
    from .routes.query import QueryEntry

__all__ = [
    "AnalysisCaches",
    "BuildCache",
    "cached",
    "cached_async",
    "cached_bytes",
    "cached_layer",
    "get_caches",
]

V = TypeVar("V")


class BuildCache(Generic[V]):
    """A bounded LRU of built values with one build lock per key.

    ``get(key, build)`` returns the cached value or calls ``build()`` once, however many
    threads ask for the same missing key at the same time; a failed build is not cached.

    Parameters
    ----------
    size
        Values kept; the least recently used one is dropped beyond it.

    Examples
    --------
    >>> cache = BuildCache[int](size=2)
    >>> cache.get("a", lambda: 1), cache.get("a", lambda: 2), cache.builds
    (1, 1, 1)
    """

    def __init__(self, size: int) -> None:
        self._size = max(1, size)
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._building: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()
        self.builds = 0

    def _lookup(self, key: Hashable) -> tuple[bool, V | None]:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return True, self._items[key]
            return False, None

    def get(self, key: Hashable, build: Callable[[], V]) -> V:
        """The value of ``key``, built by ``build()`` on a miss (once, under the key's lock)."""
        hit, value = self._lookup(key)
        if hit:
            return value  # type: ignore[return-value]
        with self._lock:
            key_lock = self._building.setdefault(key, threading.Lock())
        with key_lock:
            hit, value = self._lookup(key)
            if hit:
                return value  # type: ignore[return-value]
            try:
                built = build()
                with self._lock:
                    self.builds += 1
                    self._items[key] = built
                    while len(self._items) > self._size:
                        self._items.popitem(last=False)
            finally:
                with self._lock:
                    self._building.pop(key, None)
            return built

    def peek(self, key: Hashable) -> V | None:
        """The cached value of ``key`` (marked recently used), or None; never builds."""
        return self._lookup(key)[1]

    def evict(self, key: Hashable) -> None:
        """Forget ``key``."""
        with self._lock:
            self._items.pop(key, None)

    def evict_where(self, predicate: Callable[[Hashable], bool]) -> int:
        """Forget every key for which ``predicate(key)`` holds; return how many."""
        with self._lock:
            doomed = [key for key in self._items if predicate(key)]
            for key in doomed:
                del self._items[key]
        return len(doomed)

    def __len__(self) -> int:
        """The number of values kept."""
        with self._lock:
            return len(self._items)


def _of_scenario(scenario_id: str) -> Callable[[Hashable], bool]:
    def matches(key: Hashable) -> bool:
        return isinstance(key, tuple) and scenario_id in key

    return matches


@dataclass(frozen=True)
class AnalysisCaches:
    """The analysis results one app keeps in memory (bounded, locked; see :class:`BuildCache`).

    Every key is a tuple that holds the scenario id, so :meth:`forget` drops a deleted
    scenario's entries at once.

    Attributes
    ----------
    queries
        ``(scenario id, standard) -> service.api.routes.query.QueryEntry``.
    coverage
        ``(scenario id, standard) -> service.api.routes.coverage.CoverageEntry`` and
        ``("risk", scenario id, canonical units, standard) -> service.api.routes.risk.RiskEntry``.
    layers
        ``(scenario id, layer) -> service.api.geojson.RenderedLayer``: scenario layers as GeoJSON.
    assessments, pages
        ``(scenario id, standard) -> (coverage, risk)`` and the map and report pages
        (:mod:`service.api.routes.maps`).
    """

    queries: BuildCache[QueryEntry]
    coverage: BuildCache[object]
    layers: BuildCache[object]
    assessments: BuildCache[tuple[Any, Any]]
    pages: BuildCache[bytes]

    @classmethod
    def sized(cls, scenarios: int) -> AnalysisCaches:
        """Caches holding a couple of standards for each of ``scenarios`` scenarios."""
        size = max(2, 2 * scenarios)
        return cls(
            BuildCache(size),
            BuildCache(size),
            BuildCache(max(4, 4 * scenarios)),
            BuildCache(max(2, scenarios)),
            BuildCache(max(4, 2 * scenarios)),
        )

    def forget(self, scenario_id: str) -> int:
        """Drop every entry of a (deleted) scenario; return how many."""
        matches = _of_scenario(scenario_id)
        caches: tuple[BuildCache[Any], ...] = (
            self.queries,
            self.coverage,
            self.layers,
            self.assessments,
            self.pages,
        )
        return sum(cache.evict_where(matches) for cache in caches)


def cached(
    request: Request,
    cache: BuildCache[V],
    key: tuple[Any, ...],
    build: Callable[[], V],
    *,
    scenario_id: str,
    what: str,
) -> V:
    """The value of ``key``: from memory, else built, for anonymous readers through the gate.

    Requests with the API token build directly; the others within the anonymous limits
    (:class:`service.api.budget.AnonymousGate`). A value built for a scenario deleted
    meanwhile is dropped (404), never kept.
    """
    value = cache.peek(key)
    if value is not None:
        return value
    service = get_service(request)
    if is_trusted(request) or service.gate.inside:
        value = cache.get(key, build)
    else:
        value = service.gate.run(what, lambda: cache.get(key, build))
    _still_there(service, cache, key, scenario_id)
    return value


async def cached_async(
    request: Request,
    cache: BuildCache[V],
    key: tuple[Any, ...],
    build: Callable[[], V],
    *,
    scenario_id: str,
    what: str,
) -> V:
    """:func:`cached` for ``async`` routes: the build never runs on the event loop."""
    value = cache.peek(key)
    if value is not None:
        return value
    service = get_service(request)
    if is_trusted(request):
        value = await run_in_threadpool(cache.get, key, build)
    else:
        value = await service.gate.run_async(what, lambda: cache.get(key, build))
    _still_there(service, cache, key, scenario_id)
    return value


def _still_there(
    service: ServiceState, cache: BuildCache[Any], key: tuple[Any, ...], scenario_id: str
) -> None:
    try:
        service.store.get_scenario(scenario_id)
    except NotFoundError:
        cache.evict(key)
        raise


def get_caches(request: Request) -> AnalysisCaches:
    """The :class:`AnalysisCaches` of the app serving ``request``."""
    caches: AnalysisCaches = request.app.state.analysis
    return caches


def cached_layer(
    service: ServiceState, scenario_id: str, name: str, compute: Callable[[], gpd.GeoDataFrame]
) -> gpd.GeoDataFrame:
    """The stored result layer ``name`` of a scenario, computed and stored on first use."""
    try:
        return service.store.read_result_layer(scenario_id, name, name)
    except NotFoundError:
        service.store.get_scenario(scenario_id)  # unknown scenario: 404, not a computation
    gdf = compute()
    service.store.put_result_layers(scenario_id, name, {name: gdf})
    return gdf


def cached_bytes(
    service: ServiceState, scenario_id: str, name: str, compute: Callable[[], tuple[bytes, str]]
) -> tuple[bytes, str]:
    """The stored result ``name`` as ``(data, media_type)``, computed and stored on first use."""
    try:
        return service.store.get_result(scenario_id, name)
    except NotFoundError:
        service.store.get_scenario(scenario_id)
    data, media_type = compute()
    service.store.put_result(scenario_id, name, data, media_type=media_type)
    return data, media_type
