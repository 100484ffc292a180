"""Parts of the PostgreSQL store (private): ids, messages, keyset paging and row records."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import geopandas as gpd

from ._support import scenario_record as shared_scenario_record
from .base import After, JobRecord, NotFoundError, ScenarioRecord, check_id, now

__all__ = [
    "by_id",
    "check_id",
    "job_record",
    "locked_result_tables",
    "now",
    "paged",
    "scenario_record",
    "shown",
    "unknown_scenario",
    "upsert_result",
]


def unknown_scenario(scenario_id: str) -> NotFoundError:
    msg = f"Unknown scenario `{scenario_id}`. Fix: list scenarios with GET /api/v1/scenarios."
    return NotFoundError(msg, key="unknown_scenario", values={"id": scenario_id})


def shown(dsn: str) -> str:
    """The DSN without its password, for messages."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(dsn)
    except Exception:
        return "<unparsable connection string>"
    return " ".join(f"{k}={v}" for k, v in parts.items() if k != "password")


def paged(query: str, values: list[Any], limit: int | None, after: After | None) -> tuple[str, list[Any]]:
    """``query`` newest first, from after ``after``, at most ``limit`` rows (keyset paging, as in SQLite)."""
    if after is not None:
        query += " AND (created_at < %s OR (created_at = %s AND id > %s))"
        values = [*values, after[0], after[0], after[1]]
    query += " ORDER BY created_at DESC, id"
    if limit is not None:
        query += " LIMIT %s"
        values = [*values, int(limit)]
    return query, values


def by_id(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Indexed by the ``id`` column when it has one, as the SQLite store reads a GeoPackage."""
    if "id" in gdf.columns:
        gdf = gdf.set_index("id", drop=False)
        gdf.index.name = None
    return gdf


def scenario_record(row: Mapping[str, Any]) -> ScenarioRecord:
    """A scenario's record from its row (PostgreSQL decodes the JSON columns itself)."""
    return shared_scenario_record(row, layers=row["layers"], bounds=row["bounds"])


def job_record(row: Mapping[str, Any]) -> JobRecord:
    return JobRecord(
        id=row["id"],
        scenario_id=row["scenario_id"],
        kind=row["kind"],
        params=row["params"],
        status=row["status"],
        progress=row["progress"],
        message=row["message"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        cancel_requested=bool(row["cancel_requested"]),
        has_result=bool(row["has_result"]),
        lang=row["lang"],
    )


def locked_result_tables(cur: Any, scenario_id: str, name: str) -> dict[str, str]:
    """Take the writers' turn on result ``name`` (to the transaction's end) and read its layer tables.

    The lock is an advisory lock on the result's key, since the first writer has no row to lock.
    """
    cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{scenario_id}/{name}",))
    cur.execute(
        "SELECT layers FROM riskplan.results WHERE scenario_id = %s AND name = %s", (scenario_id, name)
    )
    old = cur.fetchone()
    return dict((old["layers"] or {}) if old is not None else {})


def upsert_result(
    cur: Any,
    scenario_id: str,
    name: str,
    *,
    kind: str,
    media_type: str,
    data: bytes | None,
    layers: Mapping[str, str] | None,
) -> None:
    """Write the result row ``name`` (replacing the one there): bytes, or its layers' tables."""
    cur.execute(
        "INSERT INTO riskplan.results VALUES (%s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (scenario_id, name) DO UPDATE SET kind = EXCLUDED.kind, "
        "media_type = EXCLUDED.media_type, created_at = EXCLUDED.created_at, "
        "data = EXCLUDED.data, layers = EXCLUDED.layers",
        (
            scenario_id,
            name,
            kind,
            media_type,
            now(),
            data,
            None if layers is None else json.dumps(dict(layers)),
        ),
    )
