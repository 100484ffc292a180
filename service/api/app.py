"""Build the web app: :func:`create_app` wires settings, store, job runner, caches and routes.

One call makes one self-contained app (nothing module-global, so two apps in one process, as
in the tests, share nothing): the store, the job registry and runner, the scenario and graph
caches and the anonymous gate go into ``app.state.service`` (a
:class:`service.api.deps.ServiceState`), the analysis caches into ``app.state.analysis``
(:class:`service.api.caches.AnalysisCaches`). The routes are those of
:data:`service.api.routes.ROUTERS`, under :data:`API_PREFIX`; the web page is served at ``/``.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from ..graphs import ServiceGraphs
from ..jobs import JobRegistry, JobRunner, default_registry
from ..store import Store, open_store
from .accounts import TokenVerifier
from .auth import TokenSource, resolve_token
from .budget import AnonymousGate
from .caches import AnalysisCaches
from .deps import READ_OPERATION, ScenarioCache, ServiceState
from .models import DEMO_MIN_NODES, demo_default_nodes
from .problems import AnonymousBodyLimit, BodyLimitMiddleware, install_handlers
from .register_access import RegisterState, ReportLimiter
from .register_areas import GOVERNMENTS_FILE, GovernmentAreas
from .register_pages import ListPageCache, RegisterListShortcut
from .routes import ROUTERS
from .routes.meta import riskplan_version
from .security import SecurityHeaders, add_docs
from .settings import Settings
from .uploads import UnpackBudget

__all__ = ["API_PREFIX", "STATIC_DIR", "VENDOR_DIR", "create_app"]

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
#: The web page (``service/static``).
STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
#: Leaflet and its plugins, vendored once in :mod:`maps` and served from there.
VENDOR_DIR = Path(str(resources.files("maps").joinpath("static", "vendor")))
#: The one-click report page for phones (``service/static/report``), at ``/report``.
REPORT_DIR = STATIC_DIR / "report"
#: The report page loads only its own files and talks only to this server.
_REPORT_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
#: The page loads only its own files; map tiles (off by default) come from OpenStreetMap.
_PAGE_CSP = (
    "default-src 'self'; img-src 'self' data: https://tile.openstreetmap.org; "
    "style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


def _mount_page(app: FastAPI) -> None:
    """Serve the web page at ``/`` and its files (app, styles, vendored Leaflet) at ``/static``."""
    app.mount("/static/vendor", StaticFiles(directory=VENDOR_DIR), name="vendor")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Content-Security-Policy": _PAGE_CSP})

    @app.get("/report", include_in_schema=False)
    @app.get("/report/", include_in_schema=False)
    def report_page() -> FileResponse:
        return FileResponse(REPORT_DIR / "index.html", headers={"Content-Security-Policy": _REPORT_CSP})


def _openapi(app: FastAPI, settings: Settings) -> dict[str, Any]:
    """The OpenAPI schema, saying what this server accepts (so clients and fuzzers agree with it).

    ``n_road_nodes`` is bounded by this server's ``demo_max_nodes``, with the default it uses;
    when reads are public, read operations take the token as optional (``security`` lists
    ``{}``): a token lifts the anonymous limits, none is needed.
    """
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    demo = schema.get("components", {}).get("schemas", {}).get("DemoRequest", {}).get("properties", {})
    if "n_road_nodes" in demo:
        field = demo["n_road_nodes"]
        for option in field.get("anyOf", [field]):
            if option.get("type") == "integer":
                option["maximum"] = max(DEMO_MIN_NODES, settings.demo_max_nodes)
        field["description"] = (
            f"Approximate number of road nodes, {DEMO_MIN_NODES:,} to {settings.demo_max_nodes:,} on this "
            f"server; default {demo_default_nodes(settings.demo_max_nodes):,} (the size `riskplan demo` "
            "makes, or this server's limit when lower)."
        )
    components = schema.get("components", {}).get("schemas", {})
    if "JobRequest" in components:
        components["JobRequest"] = _job_request_schema(app.state.service.registry)
    if not settings.protect_reads:
        for path, operations in schema.get("paths", {}).items():
            if path.startswith(f"{API_PREFIX}/register/"):
                continue  # the register's reads need an account whatever `protect_reads` says
            for method, op in operations.items():  # reads: GET, and a POST that stores nothing
                read = method == "get" or (
                    method == "post" and isinstance(op, dict) and op.get(READ_OPERATION)
                )
                if read and op.get("security"):
                    op["security"] = [*op["security"], {}]
    app.openapi_schema = schema
    return schema


def _job_request_schema(registry: JobRegistry) -> dict[str, Any]:
    """``{kind, params}`` for each registered kind, with the JSON Schema of its parameters."""
    branches = [
        {
            "type": "object",
            "title": kind.name,
            "description": kind.description,
            "properties": {
                "kind": {"const": kind.name},
                "params": dict(kind.params_schema) if kind.params_schema is not None else {"type": "object"},
            },
            "required": ["kind"],
            "additionalProperties": False,
        }
        for kind in registry.kinds()
    ]
    return {
        "title": "JobRequest",
        "description": "Start a job of a registered kind on a scenario.",
        "oneOf": branches,
    }


def create_app(settings: Settings, *, store: Store | None = None) -> FastAPI:
    """Build the web app for ``settings``.

    Parameters
    ----------
    settings
        Data directory, limits, token and job options.
    store
        A store backend; default: :func:`~service.store.open_store` (PostgreSQL at
        ``settings.store_url``, else SQLite in ``settings.data_dir``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from fastapi.testclient import TestClient
    >>> app = create_app(Settings(pathlib.Path(tempfile.mkdtemp()), api_token="t" * 32))
    >>> with TestClient(app) as client:
    ...     client.get("/api/v1/health").json()["status"]
    'ok'
    """
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(data_dir / "tmp", ignore_errors=True)  # uploads cut short by a crash
    token = TokenSource(settings.api_token, None) if settings.api_token else resolve_token(data_dir)
    store = store or open_store(
        data_dir, url=settings.store_url, register_workflow=settings.register_workflow
    )
    registry = default_registry(settings.all_job_plugins())
    scenarios = ScenarioCache(store.load_scenario, settings.scenario_cache_size)
    graphs = ServiceGraphs(data_dir, max_bytes=settings.graph_cache_max_bytes)
    retention = settings.job_retention_days
    runner = JobRunner(
        store,
        registry,
        scenarios.get,
        max_workers=settings.max_workers,
        max_queued=settings.max_queued_jobs,
        graphs=graphs.source,
        retention_s=None if retention is None else retention * 86_400,
    )
    gate = AnonymousGate(settings.anonymous, slot=store.compute_slot())
    unpacking = UnpackBudget(settings.upload_limits.max_server_unzipped_bytes)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        runner.shutdown()
        gate.shutdown()
        store.close()

    app = FastAPI(
        title="riskplan",
        version=riskplan_version(),
        summary="Urban safety risk maps and emergency-resource planning on road networks.",
        description=(
            "Scenarios, their layers, and jobs over them. Write endpoints need "
            "`Authorization: Bearer <token>` (the token is in DATA_DIR/api_token on the server). "
            "Errors are RFC 9457 problem details (`application/problem+json`). Reads without the "
            "token are bounded (units built, bytes sent, seconds of computation); over a bound the "
            "answer is a 403 or 429 problem (`anonymous-limit`) that says which limit, and how to "
            "get more."
        ),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.service = ServiceState(
        settings, store, registry, runner, token, scenarios, gate, graphs, unpacking
    )
    app.state.analysis = AnalysisCaches.sized(settings.scenario_cache_size)
    limits = settings.register_limits
    app.state.register = RegisterState(
        TokenVerifier(store.register),
        ReportLimiter(limits.anonymous_reports, limits.window_s, store=store),
        limits,
        GovernmentAreas(data_dir / GOVERNMENTS_FILE),
    )
    app.state.register_lists = ListPageCache()  # list pages by register version (one per process)
    app.state.register_pages = {}  # rendered disclosures by (month, format, last event id)
    app.state.register_disclosures = {}  # the month's tables by (month, last event id)
    app.openapi = lambda: _openapi(app, settings)  # type: ignore[method-assign]
    install_handlers(app)
    # innermost: the list's plain queries answered before routing (service.api.register_pages)
    app.add_middleware(RegisterListShortcut, path=f"{API_PREFIX}/register/items")
    app.add_middleware(AnonymousBodyLimit, max_bytes=settings.anonymous.max_body_bytes)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_upload_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(SecurityHeaders)  # added last, so outermost: every answer gets the headers
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    add_docs(app)
    _mount_page(app)
    log.info("riskplan API ready: data in %s, %d job worker(s)", data_dir, settings.max_workers)
    return app
