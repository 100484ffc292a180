"""The contract of :class:`service.store.Store`, run against every backend (SQLite and PostgreSQL).

Atomic scenario creation, results replaced whole, the job state rules, restart recovery,
another process's writes seen at once, and reads racing deletes. The PostgreSQL runs need a
throwaway server (``pg_server`` in conftest.py) and skip with the reason when none can be
started. What only one backend does (SQLite's file layout, the PostGIS tables QGIS opens) is
tested at the end of this file and in test_store.py.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from scenario_factory import write_gpkg
from shapely import Point

from gis import InputError, Scenario, load_scenario
from service.store import NotFoundError, SQLiteStore, Store

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return load_scenario(write_gpkg(tmp_path_factory.mktemp("src") / "small.gpkg"))


@pytest.fixture(params=BACKENDS)
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    """Opens a store on one location (a data directory, a database); several calls = several processes."""
    opened: list[Store] = []
    if request.param == "sqlite":

        def make() -> Store:
            opened.append(SQLiteStore(tmp_path / "data"))
            return opened[-1]
    else:
        from service.store.postgres import PostgresStore

        dsn = request.getfixturevalue("pg_dsn")

        def make() -> Store:
            opened.append(PostgresStore(dsn, max_connections=8))
            return opened[-1]

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(opener: Callable[[], Store]) -> Store:
    return opener()


def _left_behind(store: Store) -> list[str]:
    """What a backend holds beyond its known scenarios: folders, or schemas without a row."""
    if isinstance(store, SQLiteStore):
        known = {r.id for r in store.list_scenarios()}
        return sorted(p.name for p in store.scenarios_dir.iterdir() if p.name not in known)
    rows = store._all(  # type: ignore[attr-defined]
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'scenario\\_%%' "
        "AND substr(nspname, 10) NOT IN (SELECT id FROM riskplan.scenarios)"
    )
    return sorted(r["nspname"] for r in rows)


def _points(crs: Any, ids: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": ids}, geometry=[Point(10 * i, 10 * i) for i in range(len(ids))], crs=crs)


def test_scenario_roundtrip(store: Store, small: Scenario) -> None:
    record = store.create_scenario(small, origin="test")
    assert uuid.UUID(hex=record.id).hex == record.id
    assert record.layers == {name: len(g) for name, g in small.layers.items()}
    west, south, east, north = record.bounds_wgs84 or (0, 0, 0, 0)
    assert 112.54 < west < east < 112.57 and 37.84 < south < north < 37.87
    assert [r.id for r in store.list_scenarios()] == [record.id]
    assert store.get_scenario(record.id) == record
    loaded = store.load_scenario(record.id)
    assert loaded.crs == small.crs and loaded.name == small.name
    for name, layer in small.layers.items():
        back = loaded[name]
        assert list(back.columns) == list(layer.columns), name
        assert back.dtypes.to_dict() == layer.dtypes.to_dict(), name
        assert back.equals(layer), name
    store.delete_scenario(record.id)
    assert store.list_scenarios() == [] and _left_behind(store) == []
    with pytest.raises(NotFoundError):
        store.load_scenario(record.id)


@pytest.mark.parametrize("bad", ["../../etc", "0" * 32, "not-a-uuid", "09E5164FA77742BC953AF084147A916C", ""])
def test_unknown_ids_are_not_found(store: Store, bad: str) -> None:
    for call in (
        store.get_scenario,
        store.load_scenario,
        store.delete_scenario,
        store.get_job,
        store.list_results,
    ):
        with pytest.raises(NotFoundError):
            call(bad)


def test_a_failure_while_creating_a_scenario_leaves_nothing(
    store: Store, small: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = store.create_scenario(small, origin="test")
    if isinstance(store, SQLiteStore):
        import service.store.sqlite as module

        real = module.write_scenario

        def broken(scenario: Scenario, path: Path, **kwargs: Any) -> Path:
            real(scenario, path, **kwargs)
            path.write_bytes(path.read_bytes()[:1000])  # a torn file...
            raise OSError("disk full")  # ...and the write fails

        monkeypatch.setattr(module, "write_scenario", broken)
    else:
        import service.store.postgres as module

        real_table = module.write_table
        calls = []

        def broken_table(cur: Any, schema: str, table: str, gdf: gpd.GeoDataFrame, **kwargs: Any) -> None:
            calls.append(table)
            if len(calls) == 3:  # two layer tables are in, the third fails
                raise OSError("disk full")
            real_table(cur, schema, table, gdf, **kwargs)

        monkeypatch.setattr(module, "write_table", broken_table)
    with pytest.raises(OSError, match="disk full"):
        store.create_scenario(small, origin="test")
    monkeypatch.undo()
    assert [r.id for r in store.list_scenarios()] == [kept.id]
    assert _left_behind(store) == []
    assert len(store.load_scenario(kept.id)["hazards"]) == 2


def test_results_bytes_and_layers(store: Store, small: Scenario) -> None:
    sid = store.create_scenario(small, origin="test").id
    store.put_result(sid, "report", b"<html>1</html>", media_type="text/html")
    store.put_result(sid, "report", b"<html>2</html>", media_type="text/html")
    assert store.get_result(sid, "report") == (b"<html>2</html>", "text/html")
    points = _points(small.crs, ["a", "b"])
    store.put_result_layers(sid, "sites", {"sites": points})
    assert list(store.read_result_layer(sid, "sites", "sites", bbox=(-1, -1, 1, 1)).index) == ["a"]
    assert list(store.read_result_layer(sid, "sites", "sites").index) == ["a", "b"]
    assert store.list_results(sid) == ["report", "sites"]
    with pytest.raises(NotFoundError):
        store.get_result(sid, "coverage")
    with pytest.raises(NotFoundError):
        store.get_result(sid, "sites")  # a layer result is not bytes
    with pytest.raises(NotFoundError):
        store.read_result_layer(sid, "report", "sites")  # nor bytes a layer result
    with pytest.raises(NotFoundError):
        store.read_result_layer(sid, "sites", "elsewhere")
    with pytest.raises(ValueError, match="invalid"):
        store.put_result(sid, "../../x", b"", media_type="text/plain")
    store.put_result(sid, "sites", b"now bytes", media_type="text/plain")  # a result changes its kind
    assert store.get_result(sid, "sites") == (b"now bytes", "text/plain")


def test_single_and_multi_parts_come_back_alike(store: Store, small: Scenario) -> None:
    from shapely import MultiPolygon, box

    sid = store.create_scenario(small, origin="test").id
    areas = gpd.GeoDataFrame(
        {"id": ["a", "b"], "n": [1, 2]},
        geometry=[box(0, 0, 1, 1), MultiPolygon([box(2, 2, 3, 3)])],
        crs=small.crs,
    )
    store.put_result_layers(sid, "areas", {"areas": areas})
    back = store.read_result_layer(sid, "areas", "areas")
    assert list(back.geom_type) == ["MultiPolygon", "MultiPolygon"]  # as the GeoPackage writer stores them
    assert all(b.equals(a) for a, b in zip(areas.geometry, back.geometry, strict=True))
    assert back["n"].tolist() == [1, 2] and back.crs == small.crs


def test_a_failed_result_write_keeps_the_previous_result(store: Store, small: Scenario) -> None:
    sid = store.create_scenario(small, origin="test").id
    points = _points(small.crs, ["a"])
    store.put_result_layers(sid, "sites", {"sites": points})
    with pytest.raises(ValueError, match="invalid"):  # the second layer fails after the first
        store.put_result_layers(sid, "sites", {"sites": points.iloc[:0], "Bad Name": points})
    assert list(store.read_result_layer(sid, "sites", "sites").index) == ["a"]
    assert _left_behind(store) == []


def test_results_of_a_deleted_scenario_are_not_found(store: Store, small: Scenario) -> None:
    sid = store.create_scenario(small, origin="test").id
    store.delete_scenario(sid)
    with pytest.raises(NotFoundError):
        store.put_result(sid, "report", b"x", media_type="text/plain")
    with pytest.raises(NotFoundError):
        store.put_result_layers(sid, "sites", {"sites": _points(small.crs, ["a"])})
    with pytest.raises(NotFoundError):
        store.create_job(sid, "network", {})
    assert _left_behind(store) == []


def test_jobs_lifecycle_and_cascade(store: Store, small: Scenario) -> None:
    sid = store.create_scenario(small, origin="test").id
    job = store.create_job(sid, "network", {"max_snap_m": 200, "names": ["b", "a"]})
    assert store.get_job(job.id) == job
    assert store.update_job(job.id, status="running", progress=0.5, message="half", expect=["queued"])
    assert not store.update_job(job.id, status="running", expect=["queued"])
    assert not store.update_job(job.id)  # nothing to change
    store.put_job_result(job.id, {"zeta": 1, "alpha": [1.5, None]}, {"sites": _points(small.crs, ["a"])})
    assert store.update_job(job.id, status="succeeded", progress=1.0, expect=["running"])
    got = store.get_job(job.id)
    assert (got.status, got.progress, got.has_result, dict(got.params)) == (
        "succeeded",
        1.0,
        True,
        {"max_snap_m": 200, "names": ["b", "a"]},
    )
    assert got.started_at and got.finished_at and got.started_at <= got.finished_at
    result = store.get_job_result(job.id)
    assert result == {"zeta": 1, "alpha": [1.5, None]} and list(result) == ["zeta", "alpha"]
    assert store.job_result_layers(job.id) == ["sites"]
    assert list(store.read_job_result_layer(job.id, "sites").index) == ["a"]
    with pytest.raises(NotFoundError):
        store.read_job_result_layer(job.id, "other")
    assert [j.id for j in store.list_jobs(scenario_id=sid, status="succeeded")] == [job.id]
    other = store.create_job(sid, "network", {})
    with pytest.raises(NotFoundError):
        store.get_job_result(other.id)
    assert store.job_result_layers(other.id) == []
    assert store.update_job(other.id, cancel_requested=True)
    assert store.get_job(other.id).cancel_requested
    assert store.update_job(other.id, status="cancelled", expect=["queued"])
    assert not store.update_job(other.id, status="running", expect=["queued"])  # final stays final
    store.delete_scenario(sid)
    assert store.list_jobs() == [] and _left_behind(store) == []
    with pytest.raises(NotFoundError):
        store.get_job(job.id)
    with pytest.raises(NotFoundError):
        store.put_job_result(job.id, {"late": True})


def test_a_restart_marks_unfinished_jobs_failed_for_good(
    opener: Callable[[], Store], small: Scenario
) -> None:
    before = opener()
    sid = before.create_scenario(small, origin="test").id
    running, queued, done = (before.create_job(sid, "network", {}) for _ in range(3))
    before.update_job(running.id, status="running")
    before.update_job(done.id, status="succeeded")
    after = opener()  # the server restarts (the old worker may still be alive)
    assert after.mark_interrupted("interrupted by a server restart") == 2
    assert after.mark_interrupted("interrupted by a server restart") == 0
    for job in (running, queued):
        got = after.get_job(job.id)
        assert (got.status, got.message) == ("failed", "interrupted by a server restart")
        assert got.finished_at
    assert after.get_job(done.id).status == "succeeded"
    # the old worker finishing late cannot overwrite the verdict
    assert not before.update_job(running.id, status="succeeded", expect=["running"])
    assert after.get_job(running.id).status == "failed"


def test_paging_is_newest_first_and_stable(store: Store, small: Scenario) -> None:
    ids = [store.create_scenario(small, origin="test").id for _ in range(5)]
    listed = [r.id for r in store.list_scenarios()]
    assert sorted(listed) == sorted(ids)
    pages, after = [], None
    while True:
        page = store.list_scenarios(limit=2, after=after)
        if not page:
            break
        pages += [r.id for r in page]
        after = (page[-1].created_at, page[-1].id)
    assert pages == listed
    jobs = [store.create_job(ids[0], "network", {"i": i}).id for i in range(3)]
    first = store.list_jobs(scenario_id=ids[0], limit=2)
    rest = store.list_jobs(scenario_id=ids[0], after=(first[-1].created_at, first[-1].id))
    assert sorted(j.id for j in [*first, *rest]) == sorted(jobs)
    assert store.list_jobs(status="running") == []


def test_purge_removes_old_finished_jobs_only(store: Store, small: Scenario) -> None:
    sid = store.create_scenario(small, origin="test").id
    old, live = store.create_job(sid, "network", {}), store.create_job(sid, "network", {})
    store.put_job_result(old.id, {"n": 1}, {"sites": _points(small.crs, ["a"])})
    store.update_job(old.id, status="succeeded")
    store.update_job(live.id, status="running")
    assert store.purge_jobs(finished_before="2000-01-01T00:00:00.000+00:00") == 0
    assert store.purge_jobs(finished_before="9999-01-01T00:00:00.000+00:00") == 1
    assert [j.id for j in store.list_jobs()] == [live.id]
    with pytest.raises(NotFoundError):
        store.get_job(old.id)
    store.delete_scenario(sid)
    assert _left_behind(store) == []


def test_other_processes_see_writes_at_once(opener: Callable[[], Store], small: Scenario) -> None:
    here, there = opener(), opener()  # two stores on one location stand in for two server processes
    record = there.create_scenario(small, origin="test")
    assert here.get_scenario(record.id) == record
    job = here.create_job(record.id, "network", {})
    there.update_job(job.id, progress=0.25, message="a quarter")
    assert (here.get_job(job.id).progress, here.get_job(job.id).message) == (0.25, "a quarter")
    there.delete_scenario(record.id)
    with pytest.raises(NotFoundError):
        here.get_scenario(record.id)
    with pytest.raises(NotFoundError):
        here.get_job(job.id)


def test_reads_racing_a_delete_see_all_or_not_found(opener: Callable[[], Store], small: Scenario) -> None:
    writer, reader = opener(), opener()
    sid = writer.create_scenario(small, origin="test").id
    writer.put_result_layers(sid, "sites", {"sites": _points(small.crs, ["a", "b", "c"])})
    outcomes: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(5)

    def read() -> None:
        start.wait()
        for _ in range(15):
            try:
                sc = reader.load_scenario(sid)
                sites = reader.read_result_layer(sid, "sites", "sites")
            except NotFoundError:
                outcomes.append("gone")
                continue
            except BaseException as exc:  # anything else breaks the contract
                errors.append(exc)
                return
            assert len(sc["hazards"]) == 2 and list(sites.index) == ["a", "b", "c"]
            outcomes.append("whole")

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    start.wait()
    writer.delete_scenario(sid)
    for t in threads:
        t.join()
    assert errors == []
    assert len(outcomes) == 60 and outcomes[-1] == "gone"
    assert _left_behind(writer) == []


def test_concurrent_result_writes_leave_one_whole_result(
    opener: Callable[[], Store], small: Scenario
) -> None:
    stores = [opener() for _ in range(3)]
    sid = stores[0].create_scenario(small, origin="test").id
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            ids = [f"s{i}-{k}" for k in range(i + 1)]
            stores[i].put_result_layers(sid, "sites", {"sites": _points(small.crs, ids)})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    got = list(stores[0].read_result_layer(sid, "sites", "sites").index)
    assert got in ([f"s{i}-{k}" for k in range(i + 1)] for i in range(3))


def test_the_job_runner_runs_cancels_and_recovers_on_the_store(
    opener: Callable[[], Store], small: Scenario
) -> None:
    from test_jobs import register_test_jobs

    from service.jobs import INTERRUPTED, JobRunner, default_registry

    def wait(store: Store, job_id: str, statuses: tuple[str, ...]) -> Any:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job = store.get_job(job_id)
            if job.status in statuses:
                return job
            time.sleep(0.02)
        pytest.fail(f"job {job_id} never reached {statuses}: {store.get_job(job_id)}")

    registry = default_registry()
    register_test_jobs(registry)
    store = opener()
    sid = store.create_scenario(small, origin="test").id
    runner = JobRunner(store, registry, store.load_scenario, max_workers=1)
    done = wait(store, runner.submit(sid, "sleep", {"steps": 3, "step_s": 0.01}).id, ("succeeded", "failed"))
    assert (done.status, done.progress, done.has_result) == ("succeeded", 1.0, True)
    assert store.get_job_result(done.id) == {"steps": 3, "stations": 1}
    slow = runner.submit(sid, "sleep", {"steps": 400, "step_s": 0.01})
    wait(store, slow.id, ("running",))
    runner.cancel(slow.id)
    cancelled = wait(store, slow.id, ("cancelled",))
    assert cancelled.cancel_requested and not cancelled.has_result
    runner.shutdown(wait=True)
    # a process that died with a job running: the next runner on the store fails it for good
    stale = store.create_job(sid, "sleep", {})
    store.update_job(stale.id, status="running", progress=0.4)
    JobRunner(opener(), registry, store.load_scenario).shutdown()
    assert (store.get_job(stale.id).status, store.get_job(stale.id).message) == ("failed", INTERRUPTED)
    assert not store.update_job(stale.id, status="succeeded", expect=["running"])


def test_a_job_keeps_its_language_and_writes_its_notes_in_it(
    opener: Callable[[], Store], small: Scenario
) -> None:
    """A job submitted in Chinese stores Chinese notes and ``lang: zh``; one in English, English."""
    from test_jobs import register_test_jobs

    from gis import say
    from service.jobs import JobRunner, default_registry
    from service.store.base import job_note

    def spoken(scenario: Scenario, params: Any, progress: Any, cancel: Any) -> dict[str, Any]:
        progress(0.5, say("job_building_network"))
        if params.get("fail"):
            msg = "`x` is bad. Fix: give a good one."
            raise InputError(msg, key="unknown_job_kind", values={"kind": "x", "kinds": ["a"]})
        return {"notes": [say("level_red"), say("fire_station_district")]}

    registry = default_registry()
    register_test_jobs(registry)
    registry.register("spoken", spoken, description="Notes in the job's language (tests only).")
    store = opener()
    sid = store.create_scenario(small, origin="test").id
    assert store.create_job(sid, "network", {}).lang == "en"  # the default: today's English
    queued = store.create_job(sid, "network", {}, lang="zh")
    assert (queued.lang, queued.message) == ("zh", "排队中")
    assert opener().get_job(queued.id) == queued  # stored: another process reads it back
    with pytest.raises(InputError, match="Language `fr`"):
        store.create_job(sid, "network", {}, lang="fr")  # type: ignore[arg-type]
    runner = JobRunner(store, registry, store.load_scenario, max_workers=1)
    try:
        ended = {}
        for lang in ("zh", "en"):
            for fail in (False, True):
                job = runner.submit(sid, "spoken", {"fail": fail}, lang=lang)
                deadline = time.monotonic() + 60
                while store.get_job(job.id).status not in ("succeeded", "failed"):
                    assert time.monotonic() < deadline
                    time.sleep(0.02)
                ended[lang, fail] = store.get_job(job.id)
        zh, en = ended["zh", False], ended["en", False]
        assert (zh.lang, zh.status, zh.message) == ("zh", "succeeded", "已完成")
        assert store.get_job_result(zh.id) == {"notes": ["重大风险", "消防站辖区"]}
        assert (en.lang, en.status, en.message) == ("en", "succeeded", "done")
        assert store.get_job_result(en.id) == {"notes": ["major risk", "fire station district"]}
        assert ended["zh", True].message == "未知作业类型 `x`。修正：使用 ['a'] 之一。"  # noqa: RUF001
        assert ended["en", True].message == "`x` is bad. Fix: give a good one."
        assert [j.lang for j in store.list_jobs(scenario_id=sid)][:4] == ["en", "en", "zh", "zh"]
        slow = runner.submit(sid, "sleep", {"steps": 400, "step_s": 0.01}, lang="zh")
        while store.get_job(slow.id).status != "running":
            time.sleep(0.02)
        runner.cancel(slow.id)
        while store.get_job(slow.id).status != "cancelled":
            time.sleep(0.02)
        assert store.get_job(slow.id).message == job_note("job_cancelled_on_request", "zh")
    finally:
        runner.shutdown(wait=True)


# -- what only the PostgreSQL store does ------------------------------------------------------


@pytest.fixture
def pg_store(pg_dsn: str) -> Iterator[Store]:
    from service.store.postgres import PostgresStore

    store = PostgresStore(pg_dsn)
    yield store
    store.close()


def test_postgis_layers_are_typed_indexed_tables_qgis_can_open(pg_store: Store, small: Scenario) -> None:
    record = pg_store.create_scenario(small, origin="test")
    pg_store.put_result_layers(record.id, "coverage", {"units": _points(small.crs, ["a"])})
    schema = f"scenario_{record.id}"
    columns = pg_store._all(  # type: ignore[attr-defined]
        "SELECT f_table_name AS t, type, srid FROM geometry_columns WHERE f_table_schema = %s ORDER BY 1",
        (schema,),
    )
    assert {r["t"]: (r["type"], r["srid"]) for r in columns} == {
        "communities": ("POLYGON", 32649),
        "coverage__units": ("POINT", 32649),
        "fire_stations": ("POINT", 32649),
        "hazards": ("POINT", 32649),
        "roads": ("LINESTRING", 32649),
    }
    indexes = pg_store._all(  # type: ignore[attr-defined]
        "SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = %s AND indexdef LIKE '%%gist%%'",
        (schema,),
    )
    assert sorted(r["tablename"] for r in indexes) == sorted(r["t"] for r in columns)
    keys = pg_store._all(  # type: ignore[attr-defined]
        "SELECT count(*) AS n FROM information_schema.table_constraints "
        "WHERE table_schema = %s AND constraint_type = 'PRIMARY KEY'",
        (schema,),
    )
    assert keys[0]["n"] == len(columns)  # QGIS needs a primary key to edit a layer


def test_an_analyst_edit_in_the_database_is_validated_on_load(pg_store: Store, small: Scenario) -> None:
    from gis import ScenarioError

    record = pg_store.create_scenario(small, origin="test")
    with pg_store._pool.connection() as conn:  # type: ignore[attr-defined]
        conn.execute(f"UPDATE \"scenario_{record.id}\".fire_stations SET grade = 'no such grade'")
    with pytest.raises(ScenarioError, match="fire_stations"):
        pg_store.load_scenario(record.id)


def test_schema_versions_upgrade_in_place_and_newer_refuses(pg_dsn: str) -> None:
    from service.store.postgres import PostgresStore, schema_version

    store = PostgresStore(pg_dsn)
    with store._pool.connection() as conn:
        assert schema_version(conn) == store.version >= 1
        conn.execute(
            "INSERT INTO riskplan.schema_version (version, name, applied_at) "
            "VALUES (999, 'future', '2030-01-01T00:00:00+00:00')"
        )
    store.close()
    with pytest.raises(InputError, match="schema version 999, newer than this riskplan"):
        PostgresStore(pg_dsn)


def test_jobs_of_the_schema_before_languages_upgrade_in_place_as_english(
    pg_dsn: str, small: Scenario
) -> None:
    """0005 gives the jobs a language: a version-4 database with a job upgrades on open, the job English."""
    import psycopg

    from service.store.migrations import POSTGRESQL_MIGRATIONS, migrate
    from service.store.postgres import PostgresStore

    with psycopg.connect(pg_dsn) as conn:  # today's schema, before 0005
        conn.execute("CREATE SCHEMA IF NOT EXISTS riskplan")
        conn.commit()
        applied = migrate(
            conn,
            POSTGRESQL_MIGRATIONS,
            paramstyle="format",
            begin=None,
            split=False,
            target=4,
            table="riskplan.schema_version",
        )
        assert applied == [1, 2, 3, 4]
        conn.execute(
            "INSERT INTO riskplan.scenarios VALUES (%s, 'old', 'old', false, 'EPSG:32649', 'test', "
            "'2026-01-01T00:00:00.000+00:00', '{}', NULL, 'public', '{}', '[]')",
            ("b" * 32,),
        )
        conn.execute(
            "INSERT INTO riskplan.jobs (id, scenario_id, kind, params, status, progress, message, created_at)"
            " VALUES (%s, %s, 'network', '{}', 'queued', 0, 'queued', '2026-01-02T00:00:00.000+00:00')",
            ("a" * 32, "b" * 32),
        )
        conn.commit()
    store = PostgresStore(pg_dsn)
    try:
        assert store.version == 5
        old = store.get_job("a" * 32)
        assert (old.lang, old.status, old.message, old.scenario_id) == ("en", "queued", "queued", "b" * 32)
        sid = store.create_scenario(small, origin="test").id
        assert store.get_job(store.create_job(sid, "network", {}, lang="zh").id).lang == "zh"
        with store._pool.connection() as conn, pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE riskplan.jobs SET lang = 'fr'")
    finally:
        store.close()


def test_an_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    from service.store.postgres import PostgresStore

    with pytest.raises(InputError, match="Fix: check"):
        PostgresStore(f"host={tmp_path} dbname=none user=nobody password=secret", connect_timeout_s=1)


def test_the_register_is_in_the_database_or_in_sqlite_given_a_path(pg_dsn: str, tmp_path: Path) -> None:
    from service.store.postgres import PostgresStore, open_store
    from service.store.register_postgres import PostgresRegister
    from service.store.register_sqlite import SQLiteRegister

    store = PostgresStore(pg_dsn)
    assert isinstance(store.register, PostgresRegister) and store.register.count() == (0, 0)
    store.close()
    with_path = PostgresStore(pg_dsn, register_path=tmp_path / "register.sqlite3")
    assert isinstance(with_path.register, SQLiteRegister)
    with_path.close()
    # riskplan serve --store postgresql://: the database's register, or one an earlier release left
    served = open_store(tmp_path / "new", url=pg_dsn)
    assert isinstance(served.register, PostgresRegister)
    served.close()
    kept = open_store(tmp_path, url=pg_dsn)
    assert isinstance(kept.register, SQLiteRegister)
    assert kept.register.db_path == tmp_path / "register.sqlite3"
    kept.close()


def test_a_database_restart_fails_no_request(pg_server: Any, pg_dsn: str) -> None:
    from service.store.postgres import PostgresStore

    store = PostgresStore(pg_dsn, min_connections=3, max_connections=3)
    try:
        assert store.list_scenarios() == [] and store.register.count() == (0, 0)
        pg_server.restart()  # every pooled connection is now dead
        for _ in range(4):  # each is checked when lent and replaced: no request fails
            assert store.list_scenarios() == [] and store.register.count() == (0, 0)
    finally:
        store.close()


def test_one_job_leader_per_database_and_a_dead_one_hands_over(pg_store: Store) -> None:
    first, second = pg_store.leader_lock(), pg_store.leader_lock()  # type: ignore[attr-defined]
    assert first.try_acquire() and first.held
    assert not second.try_acquire() and not second.held
    first.release()
    assert not first.held and second.try_acquire()
    with pg_store._pool.connection() as conn:  # type: ignore[attr-defined]
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'")
    assert not second.held  # its connection died: the lock is gone with it
    with first:
        assert first.try_acquire()
    assert not first.held


def test_gdal_reads_the_layers_as_qgis_would(pg_store: Store, pg_dsn: str, small: Scenario) -> None:
    """GDAL's PostgreSQL driver (which QGIS's PostGIS provider agrees with) lists and reads the tables."""
    import shutil
    import subprocess

    from psycopg.conninfo import conninfo_to_dict

    ogrinfo = shutil.which("ogrinfo")
    if ogrinfo is None:
        pytest.skip("ogrinfo not found (GDAL's command-line tools: apt-get install gdal-bin)")
    record = pg_store.create_scenario(small, origin="test")
    parts = conninfo_to_dict(pg_dsn)
    pg = "PG:" + " ".join(f"{k}={v}" for k, v in parts.items()) + f" schemas=scenario_{record.id}"
    done = subprocess.run(
        [ogrinfo, "-ro", "-so", pg, "hazards"], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Geometry: Point" in out and "Feature Count: 2" in out, out
    assert 'ID["EPSG",32649]' in out and "FID Column = fid" in out, out
    assert "Geometry Column = geom" in out and "inventory: String" in out, out


def test_rate_windows_are_one_budget_for_every_handle(opener: Callable[[], Store]) -> None:
    """Two handles on one store (two server processes) count against one sliding window."""
    a, b = opener(), opener()
    try:
        takes = [
            s.take_window("reports", "10.0.0.9", limit=2, window_s=60, now=t) for s, t in ((a, 0), (b, 1))
        ]
        assert all(t.allowed for t in takes)
        refused = a.take_window("reports", "10.0.0.9", limit=2, window_s=60, now=2)
        assert not refused.allowed and refused.count == 2 and refused.retry_after_s == pytest.approx(58)
        assert b.take_window("reports", "10.0.0.10", limit=2, window_s=60, now=2).allowed  # another key
        assert b.take_window("reports", "10.0.0.9", limit=2, window_s=60, now=61).allowed  # the window slid
    finally:
        a.close()
        b.close()
