"""Chunked nearest / second / count reduction of sources, in process and on a Dask LocalCluster."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
import scipy.sparse as sp
from dask_factory import REPO, two_workers
from hypothesis import given, settings
from hypothesis import strategies as st

from gis.errors import InputError, MissingDependencyError
from gis.executor import InProcessExecutor, as_executor, open_executor
from planning.parallel import (
    CsgraphEngine,
    SnappedPointEngine,
    SourceReduction,
    merge_reductions,
    reduce_chunk,
    reduce_sources,
)

THRESHOLDS = (240.0, 480.0)


@pytest.fixture(scope="module")
def dask_executor():
    """One LocalCluster of 2 worker processes for the module's Dask tests."""
    with two_workers() as ex:
        yield ex


def _brute(times: np.ndarray, thresholds=THRESHOLDS) -> SourceReduction:
    """The reference: the full matrix, a stable sort per row (as planning.response does)."""
    n, k = times.shape
    order = np.argsort(times, axis=1, kind="stable")
    rows = np.arange(n)
    t1 = times[rows, order[:, 0]]
    t2 = times[rows, order[:, 1]] if k > 1 else np.full(n, np.inf)
    i2 = order[:, 1] if k > 1 else np.zeros(n, np.int64)
    return SourceReduction(
        nearest=np.where(np.isfinite(t1), order[:, 0], -1),
        nearest_time=t1,
        second=np.where(np.isfinite(t2), i2, -1),
        second_time=t2,
        within=np.stack([(times <= x).sum(axis=1) for x in thresholds], axis=1),
        thresholds=tuple(thresholds),
    )


@pytest.fixture(scope="module")
def city_matrix():
    from gis import demo_city, graph_from_lines
    from planning.travel import road_matrix

    city = demo_city(n_road_nodes=2000)
    graph = graph_from_lines(city["roads"])
    return city, graph, road_matrix(graph)


@pytest.fixture(scope="module")
def sources(city_matrix) -> np.ndarray:
    _, _, m = city_matrix
    src = np.random.default_rng(5).choice(m.n_nodes, 23, replace=False)
    src[[4, 9]] = src[[2, 2]]  # three stations on one node: exact ties, broken by source order
    return src


def _chain() -> sp.csr_matrix:
    """One-way chain 0 -> 1 -> 2 -> 3 plus an island node 4; equal costs make ties."""
    rows, cols = [0, 1, 2], [1, 2, 3]
    return sp.csr_matrix(([10.0, 10.0, 10.0], (rows, cols)), shape=(5, 5))


def test_matches_brute_force_with_ties_and_unreachable() -> None:
    eng = CsgraphEngine(_chain())
    src = np.array([1, 0, 1, 3])
    r = reduce_sources(eng, src, thresholds=[10.0], chunk_size=1)
    assert r.equals(_brute(eng.times(src), [10.0]))
    # node 1: sources 0 and 2 sit on it (tie at 0 s -> 0 first, 2 second); node 0: only source 1
    assert r.nearest.tolist() == [1, 0, 0, 3, -1]
    assert r.second.tolist() == [-1, 2, 2, 0, -1]
    assert r.within.ravel().tolist() == [1, 3, 2, 1, 0]
    assert np.isinf(r.nearest_time[4]) and np.isinf(r.second_time[0])


@pytest.mark.parametrize("chunk_size", [1, 3, 23, 100])
def test_chunk_sizes_give_the_brute_force_result(city_matrix, sources, chunk_size: int) -> None:
    _, _, m = city_matrix
    eng = CsgraphEngine.from_road_matrix(m)
    ref = _brute(eng.times(sources))
    assert reduce_sources(eng, sources, thresholds=THRESHOLDS, chunk_size=chunk_size).equals(ref)


def test_target_subset_and_no_sources(city_matrix) -> None:
    _, _, m = city_matrix
    eng = CsgraphEngine.from_road_matrix(m, targets=[5, 0, 7])
    r = reduce_sources(eng, [0, 5], thresholds=[60.0])
    assert r.nearest.tolist()[:2] == [1, 0] and r.n_targets == 3
    empty = reduce_sources(eng, np.empty(0, np.int64), thresholds=[60.0])
    assert empty.n_targets == 3 and (empty.nearest == -1).all() and (empty.within == 0).all()


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 6),
    st.integers(1, 9),
    st.integers(1, 9),
    st.randoms(use_true_random=False),
)
def test_merge_in_any_order_is_exact(n: int, k: int, chunk: int, rnd) -> None:
    rng = np.random.default_rng(rnd.randint(0, 2**32 - 1))
    times = rng.integers(0, 4, (n, k)).astype(float)  # few values: many ties
    times[rng.random((n, k)) < 0.3] = np.inf
    parts = [reduce_chunk(times[:, s : s + chunk], s, [1.0, 2.0]) for s in range(0, k, chunk)]
    rnd.shuffle(parts)
    acc = parts[0]
    for p in parts[1:]:
        acc = merge_reductions(p, acc) if rnd.random() < 0.5 else merge_reductions(acc, p)
    assert acc.equals(_brute(times, (1.0, 2.0)))


def test_snapped_points_match_layer_coverage(city_matrix) -> None:
    from planning.response import layer_coverage
    from planning.snapping import _snap_points, _snap_stations
    from planning.standards import response_standard

    city, graph, m = city_matrix
    std = response_standard("cn-gb51080")
    stations, points = city["fire_stations"], city["communities"]
    table = layer_coverage(graph, stations, points, speed_factor=0.8, layer="communities")
    snaps = _snap_points(m, points, layer="communities", max_snap_m=None)
    st_nodes = m.positions(_snap_stations(m, stations, max_snap_m=None, layer="fire_stations")["node"])
    eng = SnappedPointEngine.from_snaps(m, snaps, speed_factor=0.8, offset_s=std.turnout_s)
    ref = std.turnout_s + m.point_times(m.one_to_all(st_nodes), snaps) / 0.8
    np.testing.assert_array_equal(eng.times(st_nodes), ref)
    r = reduce_sources(eng, st_nodes, thresholds=[std.response_s], chunk_size=2)
    ids = np.asarray(stations.index, dtype=object)
    np.testing.assert_array_equal(r.nearest_time, table["response_time_s"].to_numpy())
    np.testing.assert_array_equal(r.second_time, table["second_response_time_s"].to_numpy())
    assert ids[r.nearest].tolist() == table["nearest_station"].tolist()
    assert ids[r.second].tolist() == table["second_station"].tolist()
    assert r.within[:, 0].tolist() == table["n_stations_within"].tolist()


def test_progress_and_errors(city_matrix) -> None:
    _, _, m = city_matrix
    eng = CsgraphEngine.from_road_matrix(m)
    calls: list[tuple[int, int]] = []
    reduce_sources(eng, np.arange(7), chunk_size=3, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(0, 3), (1, 3), (2, 3), (3, 3)]
    with pytest.raises(InputError, match="`chunk_size` is 0"):
        reduce_sources(eng, [0], chunk_size=0)
    with pytest.raises(InputError, match=r"not node positions.*Fix") as info:
        reduce_sources(eng, [0, m.n_nodes + 5], chunk_size=1)
    assert any("task 2 of 2 of `reduce_sources`" in n for n in info.value.__notes__)
    with pytest.raises(InputError, match="Both `workers` and `scheduler`"):
        open_executor(workers=2, scheduler="tcp://127.0.0.1:8786").__enter__()
    with pytest.raises(InputError, match="`workers` is 0"):
        open_executor(workers=0).__enter__()
    with pytest.raises(InputError, match="`executor` is a str"):
        as_executor("tcp://127.0.0.1:8786")


def test_in_process_default_never_imports_dask() -> None:
    code = (
        "import sys, numpy as np, scipy.sparse as sp\n"
        "from planning.parallel import CsgraphEngine, reduce_sources\n"
        "from risk_models.density import kernel_density\n"
        "from gis.executor import open_executor\n"
        "csr = sp.csr_matrix(([1.0], ([0], [1])), shape=(2, 2))\n"
        "with open_executor(workers=1) as ex:\n"
        "    reduce_sources(CsgraphEngine(csr), [0, 1], executor=ex)\n"
        "kernel_density([[0, 0]], [[1, 1]], bandwidth_m=10.0, tile_m=5.0)\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')], 'dask imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, env={"PYTHONPATH": str(REPO)})


def test_missing_dask_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "riskplan\[scale\]"'):
        open_executor(workers=2).__enter__()


# --- on a LocalCluster of 2 worker processes ------------------------------------------------------


@pytest.mark.dask
def test_dask_equals_in_process(dask_executor, city_matrix, sources) -> None:
    _, _, m = city_matrix
    eng = CsgraphEngine.from_road_matrix(m)
    ref = reduce_sources(eng, sources, thresholds=THRESHOLDS, executor=InProcessExecutor())
    assert ref.equals(_brute(eng.times(sources)))
    for chunk_size in (1, 3, len(sources)):
        calls: list[tuple[int, int]] = []
        r = reduce_sources(
            eng,
            sources,
            thresholds=THRESHOLDS,
            chunk_size=chunk_size,
            executor=dask_executor,
            progress=lambda d, t: calls.append((d, t)),  # noqa: B023 (used before the loop moves on)
        )
        assert r.equals(ref)
        n = min(-(-len(sources) // chunk_size), 4 * 2)  # chunks grouped into 4 tasks per worker
        assert calls[0] == (0, n) and calls[-1] == (n, n) and len(calls) == n + 1
    one_task_each = reduce_sources(
        eng, sources, thresholds=THRESHOLDS, chunk_size=3, executor=dask_executor, tasks_per_worker=1
    )
    assert one_task_each.equals(ref)


@pytest.mark.dask
def test_engine_is_scattered_once(dask_executor, city_matrix, sources, monkeypatch) -> None:
    _, _, m = city_matrix
    client = dask_executor.client
    scatters: list[dict] = []
    real = client.scatter

    def spy(data, **kw):
        scatters.append(kw)
        return real(data, **kw)

    monkeypatch.setattr(client, "scatter", spy)
    eng = CsgraphEngine.from_road_matrix(m)
    before = client.run(lambda dask_worker: dask_worker.state.transfer_incoming_count_total)
    r = reduce_sources(eng, sources, thresholds=THRESHOLDS, chunk_size=1, executor=client)
    assert r.n_targets == m.n_nodes
    assert len(scatters) == 1 and scatters[0]["broadcast"] is True  # 23 tasks, one scatter
    after = client.run(lambda dask_worker: dask_worker.state.transfer_incoming_count_total)
    # no worker fetched the engine (or anything) from another worker: it was on each already
    assert after == before


@pytest.mark.dask
def test_a_kept_share_is_on_every_worker_after_the_memory_manager_ran(dask_executor, city_matrix) -> None:
    """Dask's Active Memory Manager drops the copies no task waits for: a stage must not then
    fetch the graph from another worker (our own clusters run without it; on a user's cluster
    the next stage copies it back first)."""
    _, _, m = city_matrix
    client = dask_executor.client
    assert not client.amm.running()  # open_executor's LocalCluster starts without it
    eng = CsgraphEngine.from_road_matrix(m)
    handle = dask_executor.share(eng, keep=True)
    workers = set(client.nthreads())
    assert set(client.who_has([handle])[handle.key]) == workers
    client.amm.run_once()  # as a user's cluster would, every 2 s
    deadline = time.monotonic() + 10
    while len(client.who_has([handle])[handle.key]) == len(workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(client.who_has([handle])[handle.key]) == 1  # the cycle dropped a copy
    before = client.run(lambda dask_worker: dask_worker.state.transfer_incoming_count_total)
    out = list(dask_executor.run(getattr, [("csr",)] * 8, shared=(handle,)))  # 8 tasks using it
    assert all(csr.shape == (m.n_nodes, m.n_nodes) for _, csr in out)
    assert set(client.who_has([handle])[handle.key]) == workers
    after = client.run(lambda dask_worker: dask_worker.state.transfer_incoming_count_total)
    assert after == before  # no task fetched it: it was copied back before they went out


@pytest.mark.dask
def test_task_error_is_reraised_with_context(dask_executor, city_matrix) -> None:
    _, _, m = city_matrix
    eng = CsgraphEngine.from_road_matrix(m)
    with pytest.raises(InputError, match="not node positions") as info:
        reduce_sources(eng, [0, 1, m.n_nodes], chunk_size=1, executor=dask_executor)
    assert any("task 3 of 3" in n and "Dask cluster" in n for n in info.value.__notes__)
    # the cluster is still usable after a failed task
    assert reduce_sources(eng, [0], executor=dask_executor).nearest[0] == 0


@pytest.mark.dask
def test_cluster_closed_when_a_task_fails(dask_executor) -> None:
    clusters = []

    def fail_on_a_worker() -> None:
        with open_executor(workers=2) as ex:
            clusters.append(ex.client.cluster)
            list(ex.run(divmod, [(1, 1), (1, 0)]))

    with pytest.raises(ZeroDivisionError) as info:
        fail_on_a_worker()
    assert "task 2 of 2 of `divmod`" in info.value.__notes__[0]
    assert clusters[0].status.name == "closed"


@pytest.mark.dask
def test_bad_scheduler_address_is_named_with_the_fix() -> None:
    pytest.importorskip("distributed")
    with (
        pytest.raises(
            InputError, match=r"Cannot reach the Dask scheduler at `tcp://127.0.0.1:9`.*Fix: start"
        ),
        open_executor(scheduler="tcp://127.0.0.1:9", connect_timeout_s=1.0),
    ):
        pass
    with pytest.raises(InputError, match="not a Dask scheduler address like `tcp://HOST:8786`"):
        open_executor(scheduler="localhost").__enter__()
