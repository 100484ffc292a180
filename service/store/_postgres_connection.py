"""The PostgreSQL store's connections: reaching the server, the schema, the pool, transactions (private).

:class:`PostgresConnection` is what every part of :class:`~service.store.PostgresStore` stands
on: one connection first (an unreachable server fails at once, and the schema is migrated or
refused there), then a :class:`psycopg_pool.ConnectionPool` (autocommit; explicit transactions
where several statements must hold together; each connection checked when it is lent, so a
server restart costs no request), and the plumbing the scenario, result and job
methods share: a cursor in one transaction, one row, all rows, the scenario row locked, a read
retried when a table was replaced under it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from gis import InputError, MissingDependencyError

from ._postgres_migrate import migrate
from ._postgres_support import check_id, shown, unknown_scenario
from .base import NotFoundError

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

__all__ = ["PostgresConnection"]

#: How many times a read retries when a table it looked up was replaced under it.
_RETRIES = 3


def _configure(conn: psycopg.Connection[Any]) -> None:
    """A new pooled connection: unqualified names are riskplan's tables (the register's shared SQL)."""
    conn.execute("SET search_path TO riskplan, public")


class PostgresConnection:
    """A pool of connections to a PostgreSQL database with PostGIS, its schema brought up to date.

    Parameters
    ----------
    dsn
        libpq connection string or URL (``postgresql://riskplan@db.example/riskplan``).
    min_connections, max_connections
        Size bounds of the connection pool.
    connect_timeout_s
        How long to wait for the first connection.

    Raises
    ------
    InputError
        The server cannot be reached, PostGIS is missing, or the schema is newer than the code.
    MissingDependencyError
        psycopg is not installed (``pip install "riskplan[postgres]"``).
    """

    def __init__(
        self,
        dsn: str,
        *,
        min_connections: int = 1,
        max_connections: int = 10,
        connect_timeout_s: float = 30.0,
    ) -> None:
        try:
            import psycopg
            from psycopg.rows import dict_row
            from psycopg_pool import ConnectionPool
        except ImportError as exc:
            raise MissingDependencyError(
                exc.name or "psycopg", "postgres", purpose="keep the store in PostgreSQL"
            ) from None
        self.where = shown(dsn)
        self._dsn = dsn
        try:  # one connection first: an unreachable server fails at once, not after the pool's retries
            timeout = max(1, round(connect_timeout_s))
            with psycopg.connect(dsn, autocommit=True, row_factory=dict_row, connect_timeout=timeout) as conn:
                self.version = migrate(conn, self.where)
        except psycopg.Error as exc:
            msg = (
                f"Cannot open the PostgreSQL store `{self.where}`: {str(exc).strip()}. Fix: check the "
                "connection string, that the server runs, and that PostGIS is installed "
                "(a superuser runs `CREATE EXTENSION postgis` once)."
            )
            raise InputError(msg) from None
        self._pool: ConnectionPool[Any] = ConnectionPool(
            dsn,
            min_size=min_connections,
            max_size=max_connections,
            kwargs={"autocommit": True, "row_factory": dict_row},
            configure=_configure,
            # a connection is checked when lent: one the server dropped (a restart) is replaced
            # instead of failing the request that got it
            check=ConnectionPool.check_connection,
            open=False,
            name="riskplan",
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout_s)
        except Exception as exc:
            self._pool.close()
            msg = (
                f"Cannot open {min_connections} connection(s) to the PostgreSQL store `{self.where}` "
                f"({exc}). Fix: check the server's max_connections and that it runs."
            )
            raise InputError(msg) from None

    def close(self) -> None:
        """Close the pool's connections (nothing can be read or written afterwards)."""
        self._pool.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[psycopg.Cursor[Any]]:
        """A cursor inside one transaction, committed when the block ends without an error."""
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            yield cur

    def _one(self, query: str, values: tuple[Any, ...] = ()) -> dict[str, Any] | None:
        with self._pool.connection() as conn:
            row: dict[str, Any] | None = conn.execute(query, values).fetchone()
        return row

    def _all(self, query: str, values: Iterable[Any] = ()) -> list[dict[str, Any]]:
        with self._pool.connection() as conn:
            rows: list[dict[str, Any]] = conn.execute(query, list(values)).fetchall()
        return rows

    @staticmethod
    def _lock_scenario(cur: psycopg.Cursor[Any], scenario_id: str, mode: str = "KEY SHARE") -> dict[str, Any]:
        """Lock a scenario's row (``KEY SHARE`` for reads and writes of its tables, ``UPDATE`` to delete)."""
        check_id(scenario_id, "scenario")
        cur.execute(f"SELECT * FROM riskplan.scenarios WHERE id = %s FOR {mode}", (scenario_id,))
        row: dict[str, Any] | None = cur.fetchone()
        if row is None:
            raise unknown_scenario(scenario_id)
        return row

    def _retrying(self, read: Any) -> Any:
        """Run ``read`` (a function of a cursor in a transaction), again if a table moved under it."""
        import psycopg.errors

        for attempt in range(_RETRIES):
            try:
                with self._transaction() as cur:
                    return read(cur)
            except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName, LookupError) as exc:
                if isinstance(exc, NotFoundError):
                    raise
                if attempt == _RETRIES - 1:
                    raise NotFoundError(f"The table behind this layer is gone ({exc}).") from None
        return None  # pragma: no cover - the loop returns or raises
