"""The web service's road-graph cache: inside ``DATA_DIR``, bounded in size, per scenario.

Stored scenarios never change, so a graph is keyed by its scenario id and the speed table
(``DATA_DIR/cache/graphs/<scenario id>-<digest>.npz``, a :class:`gis.GraphCache`): the
cache is bounded by :attr:`service.api.Settings.graph_cache_max_bytes` with least-recently-used eviction,
and deleting a scenario deletes its graphs (:meth:`ServiceGraphs.drop`). Nothing goes to
the command line's cache in the home directory.

Jobs get their graph with :func:`job_graph`: the runner binds the service's cache to the
job's thread for the duration of the job (:func:`bound_graphs`); outside a job (a plugin run
by hand, a notebook) :func:`job_graph` builds through :func:`gis.scenario_graph`. The web API
(:class:`ServiceGraphs`, made by :func:`service.api.create_app`) and the job runner both use
this module, so it lives beside both.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from gis import GraphCache, Scenario, scenario_graph
from gis.network import RoadGraph, speed_table

__all__ = ["GRAPH_CACHE_DIR", "GraphSource", "ServiceGraphs", "bound_graphs", "job_graph"]

#: Where the service keeps road graphs, relative to its data directory.
GRAPH_CACHE_DIR = Path("cache") / "graphs"

Speeds = Mapping[str, Any] | None
GraphSource = Callable[[Scenario, Speeds], RoadGraph]

_BOUND: contextvars.ContextVar[GraphSource | None] = contextvars.ContextVar(
    "riskplan_job_graphs", default=None
)


class ServiceGraphs:
    """Road graphs of stored scenarios, cached in ``data_dir/cache/graphs`` (bounded, LRU).

    Parameters
    ----------
    data_dir
        The service's data directory.
    max_bytes
        Size bound of the cache; ``None`` for none.

    Examples
    --------
    >>> import tempfile
    >>> graphs = ServiceGraphs(Path(tempfile.mkdtemp()), max_bytes=100 * 1024**2)
    >>> graphs.cache.directory.name
    'graphs'
    """

    def __init__(self, data_dir: Path, *, max_bytes: int | None) -> None:
        self.cache = GraphCache(Path(data_dir) / GRAPH_CACHE_DIR, max_bytes=max_bytes)

    def graph(self, scenario_id: str, scenario: Scenario, road_speeds: Speeds = None) -> RoadGraph:
        """The road graph of the stored scenario ``scenario_id`` (``scenario``, loaded)."""
        key = {"scenario": scenario_id, "road_speeds": json.dumps(speed_table(road_speeds), sort_keys=True)}
        return self.cache.get(
            key, lambda: scenario_graph(scenario, road_speeds=road_speeds, cache=False), tag=scenario_id
        )

    def source(self, scenario_id: str) -> GraphSource:
        """:meth:`graph` for one scenario, as :func:`bound_graphs` takes it."""

        def get(scenario: Scenario, road_speeds: Speeds) -> RoadGraph:
            return self.graph(scenario_id, scenario, road_speeds)

        return get

    def drop(self, scenario_id: str) -> int:
        """Delete the cached graphs of a scenario; return how many."""
        return self.cache.drop(scenario_id)


@contextlib.contextmanager
def bound_graphs(source: GraphSource | None) -> Iterator[None]:
    """Make :func:`job_graph` use ``source`` in this thread until the block ends."""
    token = _BOUND.set(source)
    try:
        yield
    finally:
        _BOUND.reset(token)


def job_graph(scenario: Scenario, *, road_speeds: Speeds = None, cache: bool = True) -> RoadGraph:
    """The road graph of a job's scenario, from the service's cache when a job runs.

    ``cache=False`` always builds afresh.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from gis import load_scenario, write_demo_scenario
    >>> gpkg = pathlib.Path(tempfile.mkdtemp()) / "d.gpkg"
    >>> sc = load_scenario(write_demo_scenario(gpkg, n_road_nodes=2000))
    >>> job_graph(sc, cache=False).n_nodes > 1500
    True
    """
    source = _BOUND.get()
    if not cache or source is None:
        return scenario_graph(scenario, road_speeds=road_speeds, cache=cache)
    return source(scenario, road_speeds)
