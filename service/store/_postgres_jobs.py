"""The PostgreSQL store's jobs: rows of ``riskplan.jobs``, their JSON results and result tables (private).

:class:`PostgresJobs` holds the job half of the :class:`~service.store.Store` contract on a
:class:`~._postgres_connection.PostgresConnection`: a job is created ``queued`` on an existing
scenario, changed in one statement (with the state rule ``expect``), listed newest first, its
result and result layers written in one transaction, and purged with its tables.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import geopandas as gpd

from gis.i18n import Lang, resolve_lang

from ._postgres_connection import PostgresConnection
from ._postgres_layers import drop_tables, read_table, replace_tables
from ._postgres_support import by_id, check_id, job_record, now, paged, unknown_scenario
from .base import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    After,
    JobRecord,
    JobStatus,
    NotFoundError,
    check_result_name,
    job_note,
    job_update,
)

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresJobs"]

log = logging.getLogger(__name__)


class PostgresJobs(PostgresConnection):
    """The jobs of a PostgreSQL store (see :class:`~service.store.Store` for the contract)."""

    def create_job(
        self, scenario_id: str, kind: str, params: Mapping[str, Any], *, lang: Lang = "en"
    ) -> JobRecord:
        """Record a new ``queued`` job on an existing scenario, speaking ``lang``."""
        import psycopg.errors

        check_id(scenario_id, "scenario")  # an unknown one is refused by the foreign key below
        job = JobRecord(
            id=uuid.uuid4().hex,
            scenario_id=scenario_id,
            kind=kind,
            params=dict(params),
            status="queued",
            progress=0.0,
            message=job_note("job_queued", lang),
            created_at=now(),
            lang=resolve_lang(lang),
        )
        try:
            with self._pool.connection() as conn:
                conn.execute(
                    "INSERT INTO riskplan.jobs (id, scenario_id, kind, params, status, progress, message,"
                    " created_at, lang) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        job.id,
                        scenario_id,
                        kind,
                        json.dumps(job.params),
                        job.status,
                        0.0,
                        job.message,
                        job.created_at,
                        job.lang,
                    ),
                )
        except psycopg.errors.ForeignKeyViolation:
            raise unknown_scenario(scenario_id) from None
        return job

    def update_job(
        self,
        job_id: str,
        *,
        status: JobStatus | None = None,
        progress: float | None = None,
        message: str | None = None,
        cancel_requested: bool | None = None,
        expect: Iterable[JobStatus] | None = None,
    ) -> bool:
        """Change a job in one statement; with ``expect``, only if its status is one of them."""
        check_id(job_id, "job")
        sets, values = job_update(
            status=status, progress=progress, message=message, cancel_requested=cancel_requested, mark="%s"
        )
        if not sets:
            return False
        where = "id = %s"
        values.append(job_id)
        if expect is not None:
            where += " AND status = ANY(%s)"
            values.append(list(expect))
        with self._pool.connection() as conn:
            changed = conn.execute(
                f"UPDATE riskplan.jobs SET {', '.join(sets)} WHERE {where}", values
            ).rowcount
        return changed > 0

    _JOB_COLUMNS = (
        "id, scenario_id, kind, params, status, progress, message, created_at, started_at, "
        "finished_at, cancel_requested, has_result, result_layers, lang"
    )

    def _job_row(self, job_id: str, *, with_result: bool = False) -> dict[str, Any]:
        check_id(job_id, "job")
        columns = self._JOB_COLUMNS + (", result" if with_result else "")
        row = self._one(f"SELECT {columns} FROM riskplan.jobs WHERE id = %s", (job_id,))
        if row is None:
            msg = f"Unknown job `{job_id}`. Fix: list jobs with GET /api/v1/jobs."
            raise NotFoundError(msg, key="unknown_job", values={"id": job_id})
        return row

    def get_job(self, job_id: str) -> JobRecord:
        """One job; :class:`NotFoundError` when unknown."""
        return job_record(self._job_row(job_id))

    def list_jobs(
        self,
        *,
        scenario_id: str | None = None,
        status: JobStatus | None = None,
        limit: int | None = None,
        after: After | None = None,
    ) -> list[JobRecord]:
        """Jobs, newest first, optionally of one scenario or status; paged like :meth:`list_scenarios`."""
        query, values = f"SELECT {self._JOB_COLUMNS} FROM riskplan.jobs WHERE true", []
        if scenario_id is not None:
            query += " AND scenario_id = %s"
            values.append(scenario_id)
        if status is not None:
            query += " AND status = %s"
            values.append(status)
        query, values = paged(query, values, limit, after)
        return [job_record(r) for r in self._all(query, values)]

    def purge_jobs(self, *, finished_before: str) -> int:
        """Delete the jobs (rows and result tables) finished before an ISO 8601 UTC time; return how many."""
        with self._transaction() as cur:
            cur.execute(
                "DELETE FROM riskplan.jobs j USING riskplan.scenarios s WHERE s.id = j.scenario_id "
                "AND j.status = ANY(%s) AND j.finished_at IS NOT NULL AND j.finished_at < %s "
                "RETURNING s.layer_schema, j.result_layers",
                (list(FINAL_STATUSES), finished_before),
            )
            rows = cur.fetchall()
            for row in rows:
                drop_tables(cur, row["layer_schema"], row["result_layers"].values())
        if rows:
            log.info("purged %d finished job(s) older than %s", len(rows), finished_before)
        return len(rows)

    def put_job_result(
        self,
        job_id: str,
        data: Mapping[str, Any],
        layers: Mapping[str, gpd.GeoDataFrame] | None = None,
    ) -> None:
        """Store a job's JSON result (and layers as tables) in one transaction."""
        for layer in layers or {}:
            check_result_name(layer)
        text = json.dumps(data, ensure_ascii=False, allow_nan=False)
        scenario_id = self._job_row(job_id)["scenario_id"]
        gone = f"Job `{job_id}` lost its scenario; its result is dropped."
        lost = NotFoundError(gone, key="job_lost_scenario", values={"id": job_id})
        with self._transaction() as cur:
            try:
                scenario = self._lock_scenario(cur, scenario_id)
            except NotFoundError:
                raise lost from None
            cur.execute("SELECT result_layers FROM riskplan.jobs WHERE id = %s FOR UPDATE", (job_id,))
            row = cur.fetchone()
            if row is None:
                raise lost
            label = scenario["label"].replace("{", "{{").replace("}", "}}")
            tables = replace_tables(
                cur,
                scenario["layer_schema"],
                row["result_layers"].values(),
                layers or {},
                prefix=f"job_{job_id}",
                comment=f"riskplan scenario {label}: job {job_id}, layer {{layer}}",
            )
            cur.execute(
                "UPDATE riskplan.jobs SET has_result = true, result = %s, result_layers = %s WHERE id = %s",
                (text, json.dumps(dict(sorted(tables.items()))), job_id),
            )

    def get_job_result(self, job_id: str) -> dict[str, Any]:
        """The JSON result of a job; :class:`NotFoundError` when it has none."""
        row = self._job_row(job_id, with_result=True)
        if not row["has_result"]:
            msg = f"Job `{job_id}` has no result (status `{row['status']}`). Fix: wait until it succeeded."
            raise NotFoundError(msg, key="job_no_result", values={"id": job_id, "status": row["status"]})
        return dict(row["result"])

    def job_result_layers(self, job_id: str) -> list[str]:
        """Names of the layers of a job's result (empty when it has none)."""
        return sorted(self._job_row(job_id)["result_layers"])

    def read_job_result_layer(
        self, job_id: str, layer: str, *, bbox: tuple[float, float, float, float] | None = None
    ) -> gpd.GeoDataFrame:
        """One layer of a job's result, optionally within ``bbox`` (its own CRS)."""
        row = self._job_row(job_id)
        table = row["result_layers"].get(layer)
        if table is None:
            msg = f"Job `{job_id}` has no result layer `{layer}`."
            raise NotFoundError(msg, key="job_no_layer", values={"id": job_id, "layer": layer})

        def read(cur: psycopg.Cursor[Any]) -> gpd.GeoDataFrame:
            scenario = self._lock_scenario(cur, row["scenario_id"])
            return by_id(read_table(cur, scenario["layer_schema"], table, crs=scenario["crs"], bbox=bbox))

        out: gpd.GeoDataFrame = self._retrying(read)
        return out

    def mark_interrupted(self, reason: str) -> int:
        """Mark every ``queued`` or ``running`` job failed with ``reason``; return how many."""
        with self._pool.connection() as conn:
            n = conn.execute(
                "UPDATE riskplan.jobs SET status = 'failed', message = %s, finished_at = %s "
                "WHERE status = ANY(%s)",
                (reason, now(), list(ACTIVE_STATUSES)),
            ).rowcount
        if n:
            log.warning("%d job(s) marked failed: %s", n, reason)
        return int(n)
