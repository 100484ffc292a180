"""The embedded SQLite + GeoPackage store: CRUD, results, jobs, and crashes mid-write."""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path

import geopandas as gpd
import pytest
from scenario_factory import write_gpkg
from shapely import Point

import service.store.sqlite as sqlite_store
from gis import Scenario, load_scenario
from service.store import NotFoundError, SQLiteStore


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return load_scenario(write_gpkg(tmp_path_factory.mktemp("src") / "small.gpkg"))


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore(tmp_path / "data")


def _leftovers(store: SQLiteStore) -> list[str]:
    return sorted(p.name for p in store.scenarios_dir.iterdir())


def test_scenario_roundtrip(store: SQLiteStore, small: Scenario) -> None:
    record = store.create_scenario(small, origin="test")
    assert uuid.UUID(hex=record.id).hex == record.id
    assert record.layers == {name: len(g) for name, g in small.layers.items()}
    west, south, east, north = record.bounds_wgs84
    assert 112.54 < west < east < 112.57 and 37.84 < south < north < 37.87
    assert [r.id for r in store.list_scenarios()] == [record.id]
    assert store.get_scenario(record.id) == record
    loaded = store.load_scenario(record.id)
    assert loaded.crs == small.crs
    assert sorted(loaded["hazards"].index) == ["H1", "H2"]
    store.delete_scenario(record.id)
    assert store.list_scenarios() == [] and _leftovers(store) == []


def test_wal_mode_and_layout(store: SQLiteStore, small: Scenario) -> None:
    record = store.create_scenario(small, origin="test")
    with sqlite3.connect(store.db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert (store.scenarios_dir / record.id / "scenario.gpkg").is_file()


@pytest.mark.parametrize("bad", ["../../etc", "0" * 32, "not-a-uuid", "09E5164FA77742BC953AF084147A916C", ""])
def test_unknown_ids_are_not_found(store: SQLiteStore, bad: str) -> None:
    for call in (store.get_scenario, store.load_scenario, store.delete_scenario, store.get_job):
        with pytest.raises(NotFoundError):
            call(bad)


def test_failure_while_writing_a_scenario_leaves_nothing(
    store: SQLiteStore, small: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = sqlite_store.write_scenario

    def half_written(scenario: Scenario, path: Path, **kwargs: object) -> Path:
        real(scenario, path, **kwargs)
        path.write_bytes(path.read_bytes()[:1000])  # a torn file...
        raise OSError("disk full")  # ...and the write fails

    monkeypatch.setattr(sqlite_store, "write_scenario", half_written)
    with pytest.raises(OSError, match="disk full"):
        store.create_scenario(small, origin="test")
    assert store.list_scenarios() == [] and _leftovers(store) == []


def test_failure_before_the_commit_point_leaves_nothing(
    store: SQLiteStore, small: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = store.create_scenario(small, origin="test")

    def broken(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(SQLiteStore, "_connect", broken)
    with pytest.raises(sqlite3.OperationalError):
        store.create_scenario(small, origin="test")
    monkeypatch.undo()
    assert [r.id for r in store.list_scenarios()] == [kept.id]
    assert _leftovers(store) == [kept.id]


def test_reopening_sweeps_what_a_crash_left(store: SQLiteStore, small: Scenario) -> None:
    kept = store.create_scenario(small, origin="test")
    doomed = store.create_scenario(small, origin="test")
    # a crash mid-create (temp folder), after the rename but before the row (orphan),
    # mid-delete (row gone, folder still there) and a torn result file
    (store.scenarios_dir / f".tmp-{uuid.uuid4().hex}").mkdir()
    (store.scenarios_dir / uuid.uuid4().hex).mkdir()
    with sqlite3.connect(store.db_path) as conn:
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("DELETE FROM scenarios WHERE id = ?", (doomed.id,))
    (store.scenarios_dir / kept.id / "results").mkdir()
    torn = store.scenarios_dir / kept.id / "results" / ".risk.abc.part.gpkg"
    torn.write_bytes(b"half")
    reopened = SQLiteStore(store.data_dir)
    assert _leftovers(reopened) == [kept.id]
    assert not torn.exists()
    assert len(reopened.load_scenario(kept.id)["hazards"]) == 2


def test_results_bytes_and_layers(store: SQLiteStore, small: Scenario) -> None:
    sid = store.create_scenario(small, origin="test").id
    store.put_result(sid, "report", b"<html>1</html>", media_type="text/html")
    store.put_result(sid, "report", b"<html>2</html>", media_type="text/html")
    assert store.get_result(sid, "report") == (b"<html>2</html>", "text/html")
    points = gpd.GeoDataFrame({"id": ["a", "b"]}, geometry=[Point(0, 0), Point(10, 10)], crs=small.crs)
    store.put_result_layers(sid, "sites", {"sites": points})
    assert list(store.read_result_layer(sid, "sites", "sites", bbox=(-1, -1, 1, 1)).index) == ["a"]
    assert store.list_results(sid) == ["report", "sites"]
    with pytest.raises(NotFoundError):
        store.get_result(sid, "coverage")
    with pytest.raises(ValueError, match="invalid"):
        store.put_result(sid, "../../x", b"", media_type="text/plain")


def test_failed_result_write_keeps_the_previous_result(store: SQLiteStore, small: Scenario) -> None:
    sid = store.create_scenario(small, origin="test").id
    points = gpd.GeoDataFrame({"id": ["a"]}, geometry=[Point(0, 0)], crs=small.crs)
    store.put_result_layers(sid, "sites", {"sites": points})
    with pytest.raises(ValueError, match="invalid"):  # the second layer fails after the first is written
        store.put_result_layers(sid, "sites", {"sites": points.iloc[:0], "Bad Name": points})
    assert list(store.read_result_layer(sid, "sites", "sites").index) == ["a"]
    assert [p.name for p in (store.scenarios_dir / sid / "results").iterdir()] == ["sites.gpkg"]


def test_jobs_lifecycle_and_cascade(store: SQLiteStore, small: Scenario) -> None:
    sid = store.create_scenario(small, origin="test").id
    job = store.create_job(sid, "network", {"max_snap_m": 200})
    assert store.update_job(job.id, status="running", progress=0.5, message="half", expect=["queued"])
    assert not store.update_job(job.id, status="running", expect=["queued"])
    points = gpd.GeoDataFrame({"id": ["a"]}, geometry=[Point(0, 0)], crs=small.crs)
    store.put_job_result(job.id, {"answer": 42}, {"sites": points})
    store.update_job(job.id, status="succeeded", progress=1.0)
    got = store.get_job(job.id)
    assert (got.status, got.progress, got.has_result, got.params) == (
        "succeeded",
        1.0,
        True,
        {"max_snap_m": 200},
    )
    assert got.started_at and got.finished_at
    assert store.get_job_result(job.id) == {"answer": 42}
    assert store.job_result_layers(job.id) == ["sites"]
    assert len(store.read_job_result_layer(job.id, "sites")) == 1
    assert [j.id for j in store.list_jobs(scenario_id=sid, status="succeeded")] == [job.id]
    other = store.create_job(sid, "network", {})
    assert store.mark_interrupted("interrupted by a server restart") == 1
    assert store.get_job(other.id).status == "failed"
    store.delete_scenario(sid)
    assert store.list_jobs() == []
    with pytest.raises(NotFoundError):
        store.get_job(job.id)


def test_reads_see_other_writers_and_survive_close(store: SQLiteStore, small: Scenario) -> None:
    # a second store on the same folder stands in for another server process
    other = SQLiteStore(store.data_dir)
    record = other.create_scenario(small, origin="test")
    assert store.get_scenario(record.id) == record  # committed elsewhere, seen here
    other.delete_scenario(record.id)
    with pytest.raises(NotFoundError):
        store.get_scenario(record.id)
    with pytest.raises(sqlite3.OperationalError):  # the read connection never writes
        store._read().execute("DELETE FROM scenarios")
    again = store.create_scenario(small, origin="test")
    store.close()
    assert store.get_scenario(again.id) == again  # a new read connection after close()
    store.close()
    other.close()


def test_lookups_are_cheap_and_per_thread(store: SQLiteStore, small: Scenario) -> None:
    from concurrent.futures import ThreadPoolExecutor

    record = store.create_scenario(small, origin="test")
    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(lambda _: store.get_scenario(record.id).id, range(200)))
    assert found == [record.id] * 200
    start = time.perf_counter()
    for _ in range(200):
        store.get_scenario(record.id)
    per_lookup_s = (time.perf_counter() - start) / 200
    assert per_lookup_s < 0.002  # about 20 microseconds; opening a connection took ~0.5 ms
