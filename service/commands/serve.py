"""``riskplan serve``: run the web API and page with uvicorn.

Examples
--------
``riskplan serve --data-dir /srv/riskplan --host 127.0.0.1 --port 8000``
"""

from __future__ import annotations

import argparse
import gc
import logging
from pathlib import Path

from gis import MissingDependencyError

__all__ = ["register"]

log = logging.getLogger(__name__)

_MIB = 1024**2
#: Collect the youngest generation after this many new container objects (Python's default
#: is 700): a request allocates a few thousand, so the default collects several times a request.
_GC_GEN0_THRESHOLD = 50_000


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        msg = f"must be at least 1, got {number}"
        raise argparse.ArgumentTypeError(msg)
    return number


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``serve`` subcommand."""
    parser = subparsers.add_parser("serve", help="run the web API (and page) on a data directory")
    parser.add_argument("--data-dir", type=Path, required=True, help="folder for the database and scenarios")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    parser.add_argument("--workers", type=_positive, default=2, help="jobs running at once (default: 2)")
    parser.add_argument("--protect-reads", action="store_true", help="require the API token on reads too")
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
    parser.set_defaults(func=_cmd_serve)


def _cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from ..api import Settings, create_app
    except ImportError as exc:
        raise MissingDependencyError(
            exc.name or "fastapi", "service", purpose="run the web service"
        ) from None
    from ..auth import resolve_token

    data_dir: Path = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    token = resolve_token(data_dir)
    settings = Settings(
        data_dir=data_dir,
        max_upload_bytes=args.max_upload_mb * _MIB,
        max_workers=args.workers,
        protect_reads=args.protect_reads,
        cors_origins=tuple(args.cors_origin),
        api_token=token.token,
        job_plugins=tuple(args.job_plugin),
    )
    app = create_app(settings)
    _tune_gc()
    loop, http = _event_loop(), _http_parser()
    print(f"riskplan serving {data_dir} on http://{args.host}:{args.port}/ (API docs at /docs)", flush=True)
    print(f"uvicorn: 1 process, event loop {loop}, HTTP parser {http}", flush=True)
    if "uvloop" not in loop or http != "httptools":
        print("  (faster with uvloop and httptools: pip install 'uvicorn[standard]')", flush=True)
    print(token.describe(), flush=True)
    level = "info" if args.verbose else "warning"
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=level,
        access_log=bool(args.verbose),
        server_header=False,
        loop="uvloop" if loop == "uvloop" else "asyncio",
        http="httptools" if http == "httptools" else "h11",
    )
    return 0


def _tune_gc() -> None:
    """Keep garbage-collection pauses short while serving (process-wide, so done here, in the CLI).

    Everything loaded so far (the libraries, the app) lives as long as the process: freezing it
    takes it out of every later collection, so a full collection no longer walks a few hundred
    thousand objects (about 150 ms, a latency spike for every request in flight). A larger
    first threshold makes the young collections rarer.
    """
    gc.collect()
    gc.freeze()
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(gen0, _GC_GEN0_THRESHOLD), gen1, gen2)


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
