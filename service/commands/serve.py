"""``riskplan serve``: run the web API and page with uvicorn.

Examples
--------
``riskplan serve --data-dir /srv/riskplan --host 127.0.0.1 --port 8000``
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from gis import MissingDependencyError

__all__ = ["register"]

log = logging.getLogger(__name__)

_MIB = 1024**2


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
    print(f"riskplan serving {data_dir} on http://{args.host}:{args.port}/ (API docs at /docs)", flush=True)
    print(token.describe(), flush=True)
    level = "info" if args.verbose else "warning"
    uvicorn.run(app, host=args.host, port=args.port, log_level=level, server_header=False)
    return 0
