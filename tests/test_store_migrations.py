"""Schema versions of the SQLite store: today's databases upgrade in place, newer ones are refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from scenario_factory import write_gpkg

from gis import load_scenario
from service.cli import main
from service.cli._console import EXIT_INVALID
from service.store import SQLiteRegister, SQLiteStore
from service.store._register_sql import ITEM_FIELDS, OPEN_SQL
from service.store.migrations import (
    SQLITE_MIGRATIONS,
    SchemaVersionError,
    migrate,
    migrate_sqlite,
    migrations_in,
    schema_version,
)

NEWEST = migrations_in(SQLITE_MIGRATIONS)[-1].version


def _todays_release(data_dir: Path) -> Path:
    """A data directory as the release before migrations made it: 0001's DDL, no schema_version."""
    data_dir.mkdir(parents=True)
    db = data_dir / "riskplan.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(migrations_in(SQLITE_MIGRATIONS)[0].sql)
    conn.execute(
        "INSERT INTO scenarios VALUES ('0' || lower(hex(randomblob(15))) || '0', 'old', 'old', 0, "
        "'EPSG:32649', 'demo', '2026-01-01T00:00:00.000+00:00', '{}', NULL)"
    )
    conn.commit()
    conn.close()
    return db


def test_a_database_of_todays_release_upgrades_in_place(tmp_path: Path) -> None:
    db = _todays_release(tmp_path / "data")
    store = SQLiteStore(tmp_path / "data")  # opening migrates
    conn = sqlite3.connect(db)
    assert schema_version(conn) == NEWEST
    assert [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY 1")] == [
        m.version for m in migrations_in(SQLITE_MIGRATIONS)
    ]
    assert conn.execute("SELECT name FROM scenarios").fetchall() == [("old",)]  # the data is kept
    assert store.take_window("t", "k", limit=1, window_s=60).allowed  # the new table works
    sid = store.create_scenario(load_scenario(write_gpkg(tmp_path / "s.gpkg")), origin="test").id
    assert store.create_job(sid, "network", {}).status == "queued"
    store.close()
    assert migrate_sqlite(db) == []  # a second opening changes nothing
    SQLiteRegister(db).close()


def test_jobs_of_the_schema_before_languages_upgrade_in_place_as_english(tmp_path: Path) -> None:
    """0007 gives the jobs a language: the rows of version 6 read back whole, as English (their notes are)."""
    data_dir = tmp_path / "data"
    store = SQLiteStore(data_dir)
    sid = store.create_scenario(load_scenario(write_gpkg(tmp_path / "s.gpkg")), origin="test").id
    store.close()
    db = data_dir / "riskplan.sqlite3"
    db.unlink()
    for extra in ("-wal", "-shm"):
        Path(f"{db}{extra}").unlink(missing_ok=True)
    assert migrate_sqlite(db, target=6) == list(range(1, 7))  # today's schema, before 0007
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO scenarios SELECT ?, 'old', 'old', 0, 'EPSG:32649', 'test', "
            "'2026-01-01T00:00:00.000+00:00', '{}', NULL",
            (sid,),
        )
        conn.execute(
            "INSERT INTO jobs (id, scenario_id, kind, params, status, progress, message, created_at) "
            "VALUES (?, ?, 'network', '{}', 'failed', 0.4, 'interrupted by a server restart', "
            "'2026-01-02T00:00:00.000+00:00')",
            ("a" * 32, sid),
        )
    assert "lang" not in {r[1] for r in sqlite3.connect(db).execute("PRAGMA table_info(jobs)")}
    store = SQLiteStore(data_dir)  # opening migrates
    old = store.get_job("a" * 32)
    assert (old.lang, old.status, old.progress, old.message) == (
        "en",
        "failed",
        0.4,
        "interrupted by a server restart",
    )
    assert store.create_job(sid, "network", {}, lang="zh").lang == "zh"
    assert [j.lang for j in store.list_jobs()] == ["zh", "en"]
    with sqlite3.connect(db) as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE jobs SET lang = 'fr'")  # the column takes only zh and en
    store.close()


def test_a_newer_schema_is_refused_with_the_versions_and_the_fix(tmp_path: Path) -> None:
    SQLiteStore(tmp_path / "data").close()
    db = tmp_path / "data" / "riskplan.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO schema_version VALUES (99, 'from_the_future', '2030-01-01')")
    before = db.read_bytes()
    with pytest.raises(SchemaVersionError) as refused:
        SQLiteStore(tmp_path / "data")
    message = str(refused.value)
    assert "schema version 99" in message and f"up to {NEWEST}" in message and "Fix:" in message
    assert str(db) in message
    with pytest.raises(SchemaVersionError):
        SQLiteRegister(db)
    assert main(["serve", "--data-dir", str(tmp_path / "data"), "--port", "1"]) == EXIT_INVALID
    assert db.read_bytes() == before


def test_a_failing_migration_leaves_the_previous_version(tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_a.sql").write_text("CREATE TABLE a (x INTEGER);\n")
    (folder / "0002_b.sql").write_text("CREATE TABLE b (x INTEGER);\nINSERT INTO nowhere VALUES (1);\n")
    conn = sqlite3.connect(tmp_path / "t.sqlite3", isolation_level=None)
    with pytest.raises(sqlite3.OperationalError, match="nowhere"):
        migrate(conn, folder)
    assert schema_version(conn) == 1
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "a" in tables and "b" not in tables  # all of 0002 or nothing
    (folder / "0002_b.sql").write_text("CREATE TABLE b (x INTEGER);\n")
    assert migrate(conn, folder) == [2]


def test_migration_files_are_numbered_without_repeats(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;\n")
    (tmp_path / "0003_c.sql").write_text("SELECT 1;\n")
    assert [m.version for m in migrations_in(tmp_path)] == [1, 3]  # a gap: a number reserved
    (tmp_path / "0003_d.sql").write_text("SELECT 1;\n")
    with pytest.raises(SchemaVersionError, match="repeated"):
        migrations_in(tmp_path)
    (tmp_path / "0003_d.sql").unlink()
    (tmp_path / "3_bad.sql").write_text("SELECT 1;\n")
    with pytest.raises(SchemaVersionError, match=r"NNNN_name\.sql"):
        migrations_in(tmp_path)


def test_a_migration_merged_after_a_higher_one_is_applied_then(tmp_path: Path) -> None:
    """SQLite 0007 (the job language) may be merged after the register's 0008: applied when it comes."""
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_a.sql").write_text("CREATE TABLE a (x INTEGER);\n")
    (folder / "0003_c.sql").write_text("CREATE TABLE c (x INTEGER);\n")
    conn = sqlite3.connect(tmp_path / "t.sqlite3", isolation_level=None)
    assert migrate(conn, folder) == [1, 3]
    (folder / "0002_b.sql").write_text("CREATE TABLE b (x INTEGER);\n")
    assert migrate(conn, folder) == [2]
    assert migrate(conn, folder) == []
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"a", "b", "c"} <= tables
    (folder / "0002_b.sql").unlink()  # a database with a version this code does not know
    with pytest.raises(SchemaVersionError, match="schema version 2"):
        migrate(conn, folder)


def test_the_schema_files_agree_with_the_code(tmp_path: Path) -> None:
    """The items table has a column per Item field, and the open items' index the list's condition."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    migrate(conn, SQLITE_MIGRATIONS)
    columns = [r[1] for r in conn.execute("PRAGMA table_info(register_items)")]
    assert columns == ["row", *ITEM_FIELDS, "district", "street", "reported_by", "follow_digest"]
    partial = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'register_items_open'").fetchone()[0]
    assert partial.endswith(f"WHERE {OPEN_SQL}")


def test_a_database_that_fails_to_answer_is_not_taken_for_version_0() -> None:
    """Only a missing ``schema_version`` table reads as version 0; a locked database raises."""
    from service.store.migrations import schema_version

    class Locked:
        def cursor(self) -> Locked:
            return self

        def execute(self, query: str) -> None:
            raise sqlite3.OperationalError("database is locked")

        def rollback(self) -> None: ...

        def close(self) -> None: ...

    with pytest.raises(sqlite3.OperationalError, match="locked"):
        schema_version(Locked())
    assert schema_version(sqlite3.connect(":memory:")) == 0
