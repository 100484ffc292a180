"""``riskplan serve``: run the web API and page with uvicorn.

Reads are public unless ``--protect-reads`` is given; serving on an address other than
loopback without it prints a warning at start, saying what anyone who can reach the server
can read. Request heads are bounded in size and time (:mod:`service.api.server`).

``--workers N`` serves from N processes on one socket (a lone process by default). Exactly
one of them runs jobs, at most ``--jobs`` at once: the job leader, elected by a lock next to
the database, and replaced within half a second by another process when it dies
(:mod:`service.jobs.runner`). Rate limits are counted in the store, so the processes share
them.

Examples
--------
``riskplan serve --data-dir /srv/riskplan --host 127.0.0.1 --port 8000 --workers 4``
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from pathlib import Path

from gis import MissingDependencyError

from ..api.server import ServerLimits
from ._console import EXIT_OK

__all__ = ["is_loopback", "public_reads_warning", "register"]

log = logging.getLogger(__name__)

_MIB = 1024**2
#: Environment variable naming the store (a PostgreSQL URL), read when ``--store`` is not given.
STORE_ENV = "RISKPLAN_STORE"


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        msg = f"must be at least 1, got {number}"
        raise argparse.ArgumentTypeError(msg)
    return number


def _seconds(value: str) -> float:
    number = float(value)
    if not number > 0:
        msg = f"must be a positive number of seconds, got {value}"
        raise argparse.ArgumentTypeError(msg)
    return number


def is_loopback(host: str) -> bool:
    """True when ``host`` only listens on this machine.

    Examples
    --------
    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("::1"), is_loopback("0.0.0.0")
    (True, True, True, False)
    """
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def public_reads_warning(host: str) -> str:
    """The warning printed when reads are public on an address other than loopback."""
    return (
        f"WARNING: reads are public and the server listens on {host}: anyone who can reach it can "
        "read every scenario (every layer with all its attributes), every job with its parameters "
        "and results, and the analyses (coverage, risk, maps, reports), without the API token. "
        "Fix: restart with --protect-reads, or listen on 127.0.0.1 only."
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``serve`` subcommand."""
    parser = subparsers.add_parser("serve", help="run the web API (and page) on a data directory")
    parser.add_argument("--data-dir", type=Path, required=True, help="folder for the database and scenarios")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    parser.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="server processes on the one socket (default: 1); one of them runs the jobs",
    )
    parser.add_argument("--jobs", type=_positive, default=2, help="jobs running at once (default: 2)")
    parser.add_argument("--protect-reads", action="store_true", help="require the API token on reads too")
    parser.add_argument(
        "--store",
        default=os.environ.get(STORE_ENV),
        metavar="postgresql://USER@HOST/DB",
        help="keep scenarios, results and jobs in PostgreSQL + PostGIS (also $RISKPLAN_STORE; the "
        "password from ~/.pgpass or $PGPASSWORD); default: SQLite in the data directory",
    )
    parser.add_argument(
        "--max-upload-mb", type=_positive, default=200, help="largest upload in MiB (default: 200)"
    )
    parser.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="allow browser calls from this origin (repeatable; default: CORS off)",
    )
    parser.add_argument(
        "--job-plugin",
        action="append",
        default=[],
        metavar="MODULE:FUNCTION",
        help="register more job kinds (repeatable; also $RISKPLAN_JOB_PLUGINS)",
    )
    limits = ServerLimits()
    parser.add_argument(
        "--max-header-kb",
        type=_positive,
        default=limits.max_header_bytes // 1024,
        help=f"largest request head in KiB, 431 beyond (default: {limits.max_header_bytes // 1024})",
    )
    parser.add_argument(
        "--header-timeout",
        type=_seconds,
        default=limits.header_timeout_s,
        metavar="SECONDS",
        help=f"longest a request head may take to arrive, 408 beyond (default: {limits.header_timeout_s:g})",
    )
    parser.add_argument(
        "--limit-concurrency",
        type=_positive,
        default=limits.limit_concurrency,
        help=f"most connections and requests at once, 503 beyond (default: {limits.limit_concurrency})",
    )
    parser.add_argument(
        "--demo-max-nodes",
        type=_positive,
        default=200_000,
        help="largest demo city (road nodes) POST /scenarios/demo makes (default: 200000)",
    )
    parser.add_argument(
        "--graph-cache-mb",
        type=_positive,
        default=2048,
        help="size bound of the road-graph cache in DATA_DIR/cache/graphs, in MiB (default: 2048)",
    )
    parser.add_argument(
        "--job-retention-days",
        type=_seconds,
        default=90.0,
        metavar="DAYS",
        help="delete finished jobs and their results after this many days (default: 90)",
    )
    parser.add_argument(
        "--register-workflow",
        type=Path,
        default=None,
        metavar="TOML",
        help="this deployment's overrides of the register workflow (register_workflow.toml)",
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        import uvicorn  # noqa: F401 - checked here, used by serve()

        from ..api import Settings
        from ..api.server import serve
    except ImportError as exc:
        raise MissingDependencyError(
            exc.name or "fastapi", "service", purpose="run the web service"
        ) from None
    from ..api.auth import resolve_token
    from ..store import open_store

    data_dir: Path = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    token = resolve_token(data_dir)
    settings = Settings(
        data_dir=data_dir,
        max_upload_bytes=args.max_upload_mb * _MIB,
        max_workers=args.jobs,
        protect_reads=args.protect_reads,
        cors_origins=tuple(args.cors_origin),
        api_token=token.token,
        job_plugins=tuple(args.job_plugin),
        graph_cache_max_bytes=args.graph_cache_mb * _MIB,
        demo_max_nodes=args.demo_max_nodes,
        job_retention_days=args.job_retention_days,
        store_url=args.store,
        register_workflow=None if args.register_workflow is None else str(args.register_workflow.resolve()),
    )
    limits = ServerLimits(
        max_header_bytes=args.max_header_kb * 1024,
        header_timeout_s=args.header_timeout,
        limit_concurrency=args.limit_concurrency,
    )
    # open the store once here: the database is reached and its schema migrated (or refused as
    # too new) before any worker starts, or the command exits 2 saying why
    open_store(data_dir, url=args.store, register_workflow=settings.register_workflow).close()
    if not args.protect_reads and not is_loopback(args.host):
        print(public_reads_warning(args.host), file=sys.stderr, flush=True)
        log.warning("reads are public on %s (no --protect-reads)", args.host)
    loop, http = _event_loop(), _http_parser()
    print(f"riskplan serving {data_dir} on http://{args.host}:{args.port}/ (API docs at /docs)", flush=True)
    processes = "1 process" if args.workers == 1 else f"{args.workers} processes (one runs the jobs)"
    print(f"uvicorn: {processes}, event loop {loop}, HTTP parser {http}", flush=True)
    if "uvloop" not in loop or http != "httptools":
        print("  (faster with uvloop and httptools: pip install 'uvicorn[standard]')", flush=True)
    print(token.describe(), flush=True)
    serve(
        settings,
        host=args.host,
        port=args.port,
        http=http,
        limits=limits,
        workers=args.workers,
        log_level="info" if args.verbose else "warning",
        access_log=bool(args.verbose),
        loop="uvloop" if loop == "uvloop" else "asyncio",
    )
    return EXIT_OK


def _event_loop() -> str:
    """``uvloop`` when installed (``uvicorn[standard]``), else the standard ``asyncio`` loop."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def _http_parser() -> str:
    """``httptools`` (C) when installed (``uvicorn[standard]``), else the pure-Python ``h11``."""
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "h11"
    return "httptools"
