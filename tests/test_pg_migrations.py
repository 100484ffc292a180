"""The PostgreSQL store's schema through the backend-neutral runner: one version table shape,
a database of the previous release upgraded in place, a newer one refused. Skips without a
PostgreSQL server (the throwaway one of ``.ci/run``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from service.store.migrations import POSTGRESQL_MIGRATIONS, SchemaVersionError, migrate_sqlite, migrations_in

psycopg = pytest.importorskip("psycopg")

NEWEST = migrations_in(POSTGRESQL_MIGRATIONS)[-1].version


def _previous_release(dsn: str, upto: int) -> None:
    """The database as the release before made it: its own apply loop and ``schema_migrations``."""
    with psycopg.connect(dsn) as conn, conn.transaction():
        conn.execute(
            "CREATE SCHEMA IF NOT EXISTS riskplan; CREATE TABLE riskplan.schema_migrations ("
            "version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for migration in migrations_in(POSTGRESQL_MIGRATIONS)[:upto]:
            conn.execute(migration.sql.encode())
            conn.execute(
                "INSERT INTO riskplan.schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.path.name),
            )
        conn.execute("INSERT INTO riskplan.rate_windows VALUES ('b', 'k', 1.5)")


def test_a_database_of_the_previous_release_upgrades_in_place(pg_dsn: str) -> None:
    from service.store.postgres import PostgresStore, schema_version

    _previous_release(pg_dsn, NEWEST - 1)
    store = PostgresStore(pg_dsn)
    assert store.version == NEWEST
    rows = store._all("SELECT version, name, applied_at FROM riskplan.schema_version ORDER BY version")
    assert [r["version"] for r in rows] == list(range(1, NEWEST + 1))
    assert [r["name"] for r in rows] == [m.name for m in migrations_in(POSTGRESQL_MIGRATIONS)]
    assert all(r["applied_at"].endswith("+00:00") and "T" in r["applied_at"] for r in rows)
    legacy = store._one("SELECT to_regclass('riskplan.schema_migrations') IS NULL AS gone")
    assert legacy is not None and legacy["gone"]
    assert store._all("SELECT * FROM riskplan.rate_windows") == [{"bucket": "b", "key": "k", "at": 1.5}]
    assert store.take_window("t", "k", limit=1, window_s=60).allowed  # the store works on it
    with store._pool.connection() as conn:
        assert schema_version(conn) == NEWEST
    store.close()
    again = PostgresStore(pg_dsn)  # a second opening changes nothing
    assert again.version == NEWEST and len(again._all("SELECT 1 FROM riskplan.schema_version")) == NEWEST
    again.close()


def test_one_version_table_shape_on_both_backends(pg_dsn: str, tmp_path: Path) -> None:
    from service.store.postgres import PostgresStore

    store = PostgresStore(pg_dsn)
    pg = store._all(
        "SELECT column_name AS c, data_type AS t, is_nullable AS n FROM information_schema.columns "
        "WHERE table_schema = 'riskplan' AND table_name = 'schema_version' ORDER BY ordinal_position"
    )
    store.close()
    db = tmp_path / "riskplan.sqlite3"
    migrate_sqlite(db)
    lite = sqlite3.connect(db).execute("PRAGMA table_info(schema_version)").fetchall()
    assert [r["c"] for r in pg] == [r[1] for r in lite] == ["version", "name", "applied_at"]
    assert [r["t"] for r in pg] == ["integer", "text", "text"]
    assert [r[2] for r in lite] == ["INTEGER", "TEXT", "TEXT"]


def test_a_newer_schema_refuses_to_open_with_the_fix(pg_dsn: str) -> None:
    from service.store.postgres import PostgresStore

    _previous_release(pg_dsn, NEWEST)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO riskplan.schema_migrations (version, name) VALUES (%s, 'x.sql')", (NEWEST + 1,)
        )
    with pytest.raises(
        SchemaVersionError, match=f"schema version {NEWEST + 1}, newer than this riskplan"
    ) as err:
        PostgresStore(pg_dsn)
    assert "Fix:" in str(err.value)
    with psycopg.connect(pg_dsn) as conn:  # the versions were adopted, no migration ran
        assert conn.execute("SELECT max(version) FROM riskplan.schema_version").fetchone()[0] == NEWEST + 1
