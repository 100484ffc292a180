"""pgRouting as an independent reference (issue 18) for riskplan's travel times and districts.

The road graph goes to a pgRouting edge table (:func:`gis.network.pgrouting.to_pgrouting`) on
the session's throwaway server, and PostgreSQL routes it, on the demo city and, when
``../shared/data`` is there, on Chengdu:

* riskplan's travel times from a set of stations equal ``pgr_dijkstraCost``'s bit for bit;
* its station districts (every node to its fastest station,
  :func:`planning.districts.station_districts`) equal the per-station trees of
  ``pgr_drivingDistance`` (``equicost := false``, the cheapest station per node kept in SQL),
  costs bit for bit and the same station wherever no two tie;
* ``pgr_drivingDistance`` with ``equicost := true`` is checked one-sidedly, because pgRouting
  3.4's sharing is not an exact nearest-station partition (see :func:`check_equicost`).

Equality is exact, float64 against float64: both engines add the edge costs of a path in path
order from the source (Dijkstra's ``dist[v] = dist[u] + w(u, v)``), so a shortest path found by
both gives the same bits. Two shortest paths of the same length but different edges could in
principle sum to costs an ulp apart; on these graphs none do (the tests compare bit for bit).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gis import InputError, load_scenario, write_demo_scenario
from gis.network import RoadGraph, graph_from_osm
from gis.network.pgrouting import EDGES_SQL, to_pgrouting
from gis.scenario import scenario_graph
from planning.districts import station_districts
from planning.snapping import snap_stations
from planning.travel import nearest_sources, travel_times

psycopg = pytest.importorskip(
    "psycopg", reason='psycopg is in the postgres extra: pip install "riskplan[postgres]"'
)


@pytest.fixture(scope="module")
def conn(pg_server: Any) -> Iterator[psycopg.Connection[Any]]:
    dsn = pg_server.new_database()
    with psycopg.connect(dsn, autocommit=True) as connection:
        yield connection
    pg_server.drop_database(dsn)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, RoadGraph]:
    gpkg = tmp_path_factory.mktemp("demo") / "demo.gpkg"
    scenario = load_scenario(write_demo_scenario(gpkg, n_road_nodes=3000))
    return scenario, scenario_graph(scenario, cache=False)


@pytest.fixture(scope="module")
def chengdu(shared_data_dir: Path) -> RoadGraph:
    path = shared_data_dir / "chengdu" / "chengdu_osm.osm.bz2"
    if not path.exists():
        pytest.skip(f"{path} not found (real data lives in ../shared/data, beside the repository)")
    return graph_from_osm(path)


def _edges(table: str) -> str:
    return EDGES_SQL.format(table=table)


def pgr_times(conn: psycopg.Connection[Any], table: str, n_nodes: int, sources: list[int]) -> np.ndarray:
    """``pgr_dijkstraCost`` from every source to every node: ``(n_nodes, len(sources))``, inf if unreached."""
    rows = conn.execute(
        "SELECT start_vid, end_vid, agg_cost FROM pgr_dijkstraCost(%s, %s::bigint[], "
        "(SELECT array_agg(v) FROM generate_series(1, %s::bigint) v), directed := true)",
        (_edges(table), [s + 1 for s in sources], n_nodes),
    ).fetchall()
    out = np.full((n_nodes, len(sources)), np.inf)
    column = {s + 1: j for j, s in enumerate(sources)}
    for start, end, cost in rows:
        out[end - 1, column[start]] = cost
    for j, s in enumerate(sources):  # pgRouting leaves out the start itself
        out[s, j] = 0.0
    return out


def pgr_districts(
    conn: psycopg.Connection[Any], table: str, n_nodes: int, sources: list[int], *, equicost: bool
) -> pd.DataFrame:
    """Each node's station by ``pgr_drivingDistance``: ``source`` (a node) and ``cost``, in node order.

    With ``equicost`` pgRouting shares the nodes out itself; without, every station's whole tree
    comes back and PostgreSQL keeps, per node, the cheapest station (the lowest node on a tie).
    """
    query = "SELECT * FROM pgr_drivingDistance(%s, %s::bigint[], 1e15, directed := true, equicost := %s)"
    cur = conn.execute(query, (_edges(table), [s + 1 for s in sources], equicost))
    names = [d.name for d in cur.description or ()]
    start = "from_v" if "from_v" in names else "start_vid"  # renamed in pgRouting 3.6
    frame = pd.DataFrame(cur.fetchall(), columns=names)
    if not equicost:
        frame = frame.sort_values(["node", "agg_cost", start]).drop_duplicates("node")
    out = pd.DataFrame(
        {"source": frame[start].to_numpy() - 1, "cost": frame["agg_cost"].to_numpy(np.float64)},
        index=frame["node"].to_numpy() - 1,
    )
    assert out.index.is_unique
    return out.reindex(range(n_nodes))


def check_travel_times(
    conn: psycopg.Connection[Any], graph: RoadGraph, table: str, sources: list[int]
) -> None:
    ours = travel_times(graph, sources)
    np.testing.assert_array_equal(ours, pgr_times(conn, table, graph.n_nodes, sources))


def check_districts(
    conn: psycopg.Connection[Any], graph: RoadGraph, table: str, stations: pd.DataFrame
) -> pd.DataFrame:
    """riskplan's districts against pgRouting's station trees: same costs, same station (or a tied one).

    Returns pgRouting's ``equicost`` sharing, with ``ours`` (riskplan's time from the fastest station).
    """
    nodes = sorted(set(stations["node"].tolist()))
    theirs = pgr_districts(conn, table, graph.n_nodes, nodes, equicost=False)
    cost, _ = nearest_sources(graph, nodes)
    reached = np.isfinite(cost)
    assert theirs["cost"].notna().to_numpy().tolist() == reached.tolist()
    np.testing.assert_array_equal(theirs["cost"].to_numpy()[reached], cost[reached])
    districts = station_districts(graph, stations)
    ours_node = districts.node_station.map(stations["node"]).to_numpy()
    picked = theirs["source"].to_numpy()
    times = travel_times(graph, nodes)
    col = {n: j for j, n in enumerate(nodes)}
    best = times.min(axis=1)
    ties = (times == best[:, None]).sum(axis=1) > 1
    same = ours_node[reached] == picked[reached]
    assert same[~ties[reached]].all(), "a node without a tie went to another station"
    # where two stations tie, each engine's pick is one of the fastest
    for chosen in (ours_node, picked):
        at = np.flatnonzero(reached & ties)
        np.testing.assert_array_equal(times[at, [col[c] for c in chosen[at]]], best[at])
    shared = pgr_districts(conn, table, graph.n_nodes, nodes, equicost=True)
    shared["ours"] = cost
    return shared


def check_equicost(shared: pd.DataFrame) -> None:
    """What pgRouting 3.4's ``equicost`` sharing gives next to riskplan's districts.

    It is not an exact nearest-station partition. pgRouting runs one search per station, each
    continuing from the distances the earlier ones left (``dijkstra_shortest_paths_no_init``)
    and keeping a predecessor tree per station, then gives each node to the last station whose
    tree holds it. A later station's search stops where an earlier one was already faster, so
    its tree can miss nodes it is fastest to, and a node's reported cost can come from a path
    through another station's region. On the demo city about 3 % of the nodes get a slower
    station, by up to 26 s, and 0.2 % a cost that is no station's shortest time. So the check
    is one-sided: every node once, pgRouting never faster than riskplan's fastest station (the
    exact reference for that is the per-station trees of :func:`check_districts`), and bit for
    bit riskplan's time on more than 90 % of the nodes.
    """
    assert shared["cost"].notna().all()
    assert (shared["cost"] >= shared["ours"]).all(), "pgRouting found a faster station than riskplan"
    assert (shared["cost"] == shared["ours"]).mean() > 0.9


def test_the_edge_table_holds_the_graph_bit_for_bit(
    conn: psycopg.Connection[Any], demo: tuple[Any, RoadGraph]
) -> None:
    _, graph = demo
    assert to_pgrouting(graph, conn, "demo_table", replace=True) == graph.n_edges
    rows = conn.execute(
        "SELECT source, target, cost, ST_SRID(geom), ST_NPoints(geom) FROM demo_table ORDER BY id"
    ).fetchall()
    table = np.array([r[:3] for r in rows], dtype=np.float64)
    np.testing.assert_array_equal(table[:, 0], graph.sources + 1)
    np.testing.assert_array_equal(table[:, 1], graph.targets + 1)
    assert table[:, 2].tobytes() == np.asarray(graph.travel_time_s, np.float64).tobytes()
    assert {r[3] for r in rows} == {graph.crs.to_epsg()}
    assert all(r[4] >= 2 for r in rows)
    with pytest.raises(psycopg.errors.DuplicateTable):
        to_pgrouting(graph, conn, "demo_table")
    with pytest.raises(InputError, match="is negative or not finite on"):
        to_pgrouting(graph, conn, "bad_table", edge_weight="highway")  # text, not seconds


def test_demo_travel_times_equal_pgr_dijkstra_cost(
    conn: psycopg.Connection[Any], demo: tuple[Any, RoadGraph]
) -> None:
    _, graph = demo
    to_pgrouting(graph, conn, "demo_edges", geometry=False, replace=True)
    sources = sorted(np.random.default_rng(18).choice(graph.n_nodes, size=8, replace=False).tolist())
    check_travel_times(conn, graph, "demo_edges", sources)


def test_demo_districts_equal_pgr_driving_distance(
    conn: psycopg.Connection[Any], demo: tuple[Any, RoadGraph]
) -> None:
    scenario, graph = demo
    to_pgrouting(graph, conn, "demo_edges", geometry=False, replace=True)
    stations = scenario["fire_stations"].copy()
    stations["node"] = snap_stations(graph, stations)["node"]
    check_equicost(check_districts(conn, graph, "demo_edges", stations))


@pytest.mark.realdata
def test_chengdu_travel_times_and_districts_equal_pgrouting(
    conn: psycopg.Connection[Any], chengdu: RoadGraph
) -> None:
    to_pgrouting(chengdu, conn, "chengdu_edges", replace=True)
    rng = np.random.default_rng(18)
    sources = sorted(rng.choice(chengdu.n_nodes, size=12, replace=False).tolist())
    check_travel_times(conn, chengdu, "chengdu_edges", sources)
    picks = rng.choice(chengdu.n_nodes, size=7, replace=False)
    stations = pd.DataFrame(
        {"node": picks, "grade": "grade1"}, index=pd.Index([f"S{i}" for i in range(len(picks))])
    )
    check_equicost(check_districts(conn, chengdu, "chengdu_edges", stations))
