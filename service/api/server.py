"""How ``riskplan serve`` runs uvicorn: connection limits that uvicorn alone does not enforce.

uvicorn's own settings bound idle keep-alive connections (``timeout_keep_alive``), the number
of connections and tasks (``limit_concurrency``: 503 beyond) and, with the pure-Python h11
parser only, the size of an incomplete request head (``h11_max_incomplete_event_size``). Two
holes remain, for both parsers, and :func:`limited_protocol` closes them with a small subclass
of uvicorn's HTTP protocol:

* **header size**: the request line and headers of one request may not pass
  ``max_header_bytes`` (counted as they arrive, so a 32 MiB ``Authorization`` header is
  refused after the first 64 KiB, never read whole): ``431 Request Header Fields Too Large``;
* **header-read timeout**: a request's head must arrive within ``header_timeout_s`` of its
  first byte (or of the connection opening), so a client that sends one header line a second
  is cut off: ``408 Request Timeout``.

Both answers close the connection. :func:`server_config` builds the ``uvicorn.Config``.

**Several processes** (``riskplan serve --workers N``, :func:`serve`): the socket is bound once
and uvicorn's supervisor starts N worker processes (``spawn``), restarting any that dies. Each
builds its own app from the settings passed in ``$RISKPLAN_SERVE_WORKER`` (:func:`worker_app`;
the API token is not passed, each resolves it as the parent did); they share the data
directory, and the store elects the one that runs jobs (:mod:`service.jobs.runner`).
"""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the command line imports this module to build its parser: keep it light
    import asyncio

    from fastapi import FastAPI

    from .settings import Settings

__all__ = [
    "WORKER_ENV",
    "ServerLimits",
    "limited_protocol",
    "serve",
    "server_config",
    "tune_gc",
    "worker_app",
]

#: The environment variable that carries a worker process's settings (JSON).
WORKER_ENV = "RISKPLAN_SERVE_WORKER"
#: Collect the youngest generation after this many new container objects (Python's default
#: is 700): a request allocates a few thousand, so the default collects several times a request.
_GC_GEN0_THRESHOLD = 50_000
#: The settings a worker process is given (the API token is resolved by each worker).
_PASSED = (
    "max_upload_bytes", "max_workers", "max_queued_jobs", "protect_reads", "cors_origins", "job_plugins",
    "scenario_cache_size", "demo_max_nodes", "graph_cache_max_bytes", "job_retention_days",
    "register_workflow",
)  # fmt: skip

_KIB = 1024


@dataclass(frozen=True)
class ServerLimits:
    """Connection limits of the HTTP server.

    Attributes
    ----------
    max_header_bytes
        Largest request line plus headers of one request (431 beyond).
    header_timeout_s
        Longest time a request's head may take to arrive (408 beyond).
    keep_alive_s
        Idle time after which a keep-alive connection is closed.
    limit_concurrency
        Most connections and requests in progress at once (503 beyond).
    """

    max_header_bytes: int = 64 * _KIB
    header_timeout_s: float = 10.0
    keep_alive_s: float = 5.0
    limit_concurrency: int = 1000


def _refusal(status: int, reason: str, detail: str) -> bytes:
    body = json.dumps({"type": "about:blank", "title": reason, "status": status, "detail": detail}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\nx-content-type-options: nosniff\r\n\r\n"
    )
    return head.encode("ascii") + body


class _HeadLimits:
    """Mixin for uvicorn's ``H11Protocol`` and ``HttpToolsProtocol``: bound each request's head.

    While a request's head is arriving, the bytes are watched for the blank line that ends it
    (whatever the parser does with them): past ``max_header_bytes`` without one, or with one
    further than that, the request is refused before the parser sees the rest; the timer
    started by the head's first byte (or by the connection) refuses a head that is too slow.
    """

    limits: ServerLimits
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport

    def _reset_head(self) -> None:
        self._awaiting_head = True
        self._head = b""
        self._head_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.limits.header_timeout_s, self._head_too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _refuse(self, status: int, reason: str, detail: str) -> None:
        self._disarm()
        self._awaiting_head = False
        self._refused = True
        if not self.transport.is_closing():
            self.transport.write(_refusal(status, reason, detail))
            self.transport.close()

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._awaiting_head and not self._refused:
            detail = f"The request head did not arrive within {self.limits.header_timeout_s:g} s."
            self._refuse(408, "Request Timeout", detail)

    def _head_fits(self, data: bytes) -> bool:
        """Watch ``data`` for the end of the head; False (and refused) when the head is too big."""
        limit = self.limits.max_header_bytes
        seen = self._head + data
        end = seen.lstrip(b"\r\n").find(b"\r\n\r\n")
        if end == -1 and len(seen) <= limit:
            self._head = seen
            return True
        if end != -1 and end + 4 <= limit:
            self._awaiting_head = False  # the whole head is here: the rest is the body
            self._head = b""
            self._disarm()
            return True
        detail = f"The request line and headers pass the limit of {limit:,} bytes."
        self._refuse(431, "Request Header Fields Too Large", detail)
        return False

    # -- uvicorn's protocol interface -----------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:
        self._refused = False
        super().connection_made(transport)  # type: ignore[misc]
        self._reset_head()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._awaiting_head:
            self._arm()
            if not self._head_fits(data):
                return
        super().data_received(data)  # type: ignore[misc]

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        if not self._refused:
            self._disarm()
            self._reset_head()  # the next request on this connection has a head of its own


def limited_protocol(http: str, limits: ServerLimits) -> type[asyncio.Protocol]:
    """Uvicorn's ``h11`` or ``httptools`` protocol class with :class:`ServerLimits` on request heads."""
    if http == "httptools":
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as Base
    else:
        from uvicorn.protocols.http.h11_impl import H11Protocol as Base  # type: ignore[assignment]
    return type(f"Limited{Base.__name__}", (_HeadLimits, Base), {"limits": limits})


def server_config(app: Any, *, host: str, port: int, http: str, limits: ServerLimits, **kwargs: Any) -> Any:
    """The ``uvicorn.Config`` of ``riskplan serve``: ``http`` is ``h11`` or ``httptools``.

    Examples
    --------
    >>> config = server_config(None, host="127.0.0.1", port=8000, http="h11", limits=ServerLimits())
    >>> config.h11_max_incomplete_event_size, config.timeout_keep_alive, config.http.__name__
    (65536, 5, 'LimitedH11Protocol')
    """
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=limited_protocol(http, limits),
        h11_max_incomplete_event_size=limits.max_header_bytes,
        timeout_keep_alive=int(limits.keep_alive_s),
        limit_concurrency=limits.limit_concurrency,
        server_header=False,
        **kwargs,
    )


def tune_gc() -> None:
    """Keep garbage-collection pauses short while serving (process-wide: called by the server).

    Everything loaded so far (the libraries, the app) lives as long as the process: freezing it
    takes it out of every later collection, so a full collection no longer walks a few hundred
    thousand objects (about 150 ms, a latency spike for every request in flight). A larger
    first threshold makes the young collections rarer.
    """
    gc.collect()
    gc.freeze()
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(gen0, _GC_GEN0_THRESHOLD), gen1, gen2)


def _worker_spec() -> dict[str, Any]:
    raw = os.environ.get(WORKER_ENV)
    if not raw:
        msg = f"${WORKER_ENV} is not set: worker processes are started by `riskplan serve --workers N`."
        raise RuntimeError(msg)
    spec: dict[str, Any] = json.loads(raw)
    return spec


def worker_app() -> FastAPI:
    """The app of one worker process, from ``$RISKPLAN_SERVE_WORKER`` (uvicorn calls it, ``factory``)."""
    from .app import create_app
    from .auth import resolve_token
    from .settings import Settings

    spec = _worker_spec()
    logging.basicConfig(level=spec.get("log_level", "WARNING"), format="%(levelname)s %(name)s: %(message)s")
    data_dir = Path(spec["data_dir"])
    passed = dict(spec["settings"])
    for key in ("cors_origins", "job_plugins"):
        passed[key] = tuple(passed[key])
    settings = Settings(data_dir=data_dir, api_token=resolve_token(data_dir).token, **passed)
    app = create_app(settings)
    tune_gc()
    return app


def __getattr__(name: str) -> type[asyncio.Protocol]:
    """``WorkerH11Protocol`` / ``WorkerHttptoolsProtocol``: the limited protocols of a worker process.

    uvicorn imports a worker's protocol class by name, in the worker; its limits come with the
    worker's settings (``$RISKPLAN_SERVE_WORKER``).
    """
    parsers = {"WorkerH11Protocol": "h11", "WorkerHttptoolsProtocol": "httptools"}
    if name not in parsers:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    cls = limited_protocol(parsers[name], ServerLimits(**_worker_spec()["limits"]))
    globals()[name] = cls
    return cls


def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    http: str,
    limits: ServerLimits,
    workers: int = 1,
    log_level: str = "warning",
    **kwargs: Any,
) -> None:
    """Run the service with uvicorn: in this process (``workers=1``), or in ``workers`` processes.

    With several, the socket is bound here and uvicorn's supervisor starts the workers
    (``spawn``) and restarts any that dies; each builds its app with :func:`worker_app`.
    """
    import uvicorn

    if workers <= 1:
        from .app import create_app

        app = create_app(settings)
        tune_gc()
        config = server_config(
            app, host=host, port=port, http=http, limits=limits, log_level=log_level, **kwargs
        )
        uvicorn.Server(config).run()
        return
    from uvicorn.supervisors import Multiprocess

    passed = {key: getattr(settings, key) for key in _PASSED}
    spec = {
        "data_dir": str(settings.data_dir),
        "settings": passed,
        "limits": dataclasses.asdict(limits),
        "log_level": log_level.upper(),
    }
    os.environ[WORKER_ENV] = json.dumps(spec)  # the workers are spawned with this environment
    protocol = "WorkerHttptoolsProtocol" if http == "httptools" else "WorkerH11Protocol"
    config = uvicorn.Config(
        f"{__name__}:worker_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http=f"{__name__}:{protocol}",
        h11_max_incomplete_event_size=limits.max_header_bytes,
        timeout_keep_alive=int(limits.keep_alive_s),
        limit_concurrency=limits.limit_concurrency,
        server_header=False,
        log_level=log_level,
        **kwargs,
    )
    sock = config.bind_socket()
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
