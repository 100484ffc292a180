"""A throwaway PostgreSQL + PostGIS (+ pgRouting) server for the tests.

:func:`start_server` runs ``initdb`` in a temporary folder and starts ``postgres`` on a unix
socket inside it (``listen_addresses=''``: no TCP port, nothing reachable from outside), with
durability off (``fsync=off``: the data dies with the test session anyway). PostgreSQL refuses
to run as root, so under root (CI runs as root) the server runs as the ``postgres`` user that
Debian's package creates, or as ``nobody``, through ``runuser``. The caller stops it with
:meth:`PgServer.stop`.

Each test gets a fresh database cloned from a template that already holds the extensions
(:meth:`PgServer.new_database`), so a test never sees another's tables and no test pays for
``CREATE EXTENSION postgis`` (about a second).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

__all__ = ["PgServer", "ServerUnavailableError", "start_server"]

TEMPLATE = "riskplan_template"
SUPERUSER = "riskplan"


class ServerUnavailableError(RuntimeError):
    """No PostgreSQL server can be started here (the message says why and how to fix it)."""


def _bin_dir() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not candidates:
        msg = (
            "PostgreSQL is not installed (no `initdb`). Fix: `apt-get install postgresql-15 "
            "postgresql-15-postgis-3 postgresql-15-pgrouting` (.ci/run does)"
        )
        raise ServerUnavailableError(msg)
    return candidates[-1].parent


def _server_user() -> str | None:
    """The unprivileged user to run postgres as when we are root, else None (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    msg = "running as root and there is neither a `postgres` nor a `nobody` user to run the server as"
    raise ServerUnavailableError(msg)


@dataclass
class PgServer:
    """A running throwaway server: its folder, socket directory and binaries."""

    root: Path
    socket_dir: Path
    bin_dir: Path
    user: str | None

    def dsn(self, dbname: str = "postgres") -> str:
        """A PostgreSQL URL of database ``dbname`` over the unix socket (as ``--store`` takes it)."""
        return f"postgresql://{SUPERUSER}@/{dbname}?host={quote(str(self.socket_dir), safe='')}"

    def execute(self, *statements: str, dbname: str = "postgres") -> None:
        """Run statements in autocommit mode (CREATE DATABASE cannot run in a transaction)."""
        import psycopg

        with psycopg.connect(self.dsn(dbname), autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def new_database(self) -> str:
        """A fresh database cloned from the template (with the extensions); returns its DSN."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        self.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE} STRATEGY FILE_COPY")
        return self.dsn(name)

    def drop_database(self, dsn: str) -> None:
        """Drop a database made by :meth:`new_database` (closing what still holds it)."""
        name = dsn.split("@/", 1)[1].split("?", 1)[0]
        self.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def restart(self) -> None:
        """Restart the server (fast shutdown: every open connection is dropped), same options."""
        data, log = str(self.root / "data"), str(self.root / "server.log")
        _run(self, "pg_ctl", "-D", data, "-l", log, "-m", "fast", "-w", "restart")

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        _run(self, "pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def _run(server: PgServer, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = [str(server.bin_dir / program), *args]
    if server.user is not None:
        command = ["runuser", "-u", server.user, "--", *command]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    if check and done.returncode != 0:
        msg = (
            f"`{' '.join(command)}` failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}"
        )
        raise ServerUnavailableError(msg)
    return done


def start_server(extensions: tuple[str, ...] = ("postgis", "pgrouting")) -> PgServer:
    """Start a throwaway server with a template database holding ``extensions``.

    Raises
    ------
    ServerUnavailableError
        No PostgreSQL binaries, no unprivileged user under root, the server did not start, or
        an extension is not installed (the message names the Debian package).
    """
    try:
        import psycopg  # noqa: F401
    except ImportError:
        msg = 'psycopg is not installed. Fix: pip install "riskplan[postgres]"'
        raise ServerUnavailableError(msg) from None
    bin_dir = _bin_dir()
    user = _server_user()
    root = Path(tempfile.mkdtemp(prefix="riskplan-pg-"))
    os.chmod(root, 0o755)
    server = PgServer(root, root / "sock", bin_dir, user)
    server.socket_dir.mkdir()
    if user is not None:
        entry = pwd.getpwnam(user)
        for path in (root, server.socket_dir):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    try:
        data = str(root / "data")
        _run(server, "initdb", "-D", data, "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-sync")
        options = (
            f"-c listen_addresses='' -c unix_socket_directories='{server.socket_dir}' "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=200"
        )
        _run(server, "pg_ctl", "-D", data, "-l", str(root / "server.log"), "-o", options, "-w", "start")
        server.execute(f"CREATE DATABASE {TEMPLATE}")
        for extension in extensions:
            try:
                server.execute(f"CREATE EXTENSION IF NOT EXISTS {extension}", dbname=TEMPLATE)
            except Exception as exc:
                package = {"postgis": "postgresql-15-postgis-3", "pgrouting": "postgresql-15-pgrouting"}
                msg = (
                    f"the PostgreSQL extension `{extension}` is not available ({exc}). "
                    f"Fix: apt-get install {package.get(extension, extension)}"
                )
                raise ServerUnavailableError(msg) from None
        server.execute(f"ALTER DATABASE {TEMPLATE} WITH IS_TEMPLATE true")
    except BaseException:
        server.stop()
        raise
    return server
