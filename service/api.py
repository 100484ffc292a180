"""The riskplan web service: a FastAPI app over the store, the job runner and the library.

:func:`create_app` builds one self-contained app from :class:`Settings`; everything it holds
lives in ``app.state.service``. Routes (all under ``/api/v1``, documented at ``/docs`` and
``/openapi.json``):

==========================================  ===========================================
``GET  /health``, ``GET /version``           liveness and versions
``POST /scenarios``                          create from an upload (multipart)
``POST /scenarios/demo``                     create the synthetic demo city
``GET  /scenarios``, ``GET /scenarios/{id}``  list, detail with layer columns
``DELETE /scenarios/{id}``                   delete with results and jobs
``GET  /scenarios/{id}/layers/{layer}``      a layer as GeoJSON (EPSG:4326, ``bbox``)
``GET  /job-kinds``                          what jobs can run
``POST /scenarios/{id}/jobs``                start a job ``{kind, params}``
``GET  /jobs``, ``GET /jobs/{id}``           list, status with progress
``POST /jobs/{id}/cancel``                   cancel
``GET  /jobs/{id}/result[/layers/{layer}]``  result JSON, result layers as GeoJSON
``GET  /scenarios/{id}/coverage[/{layer}]``  coverage summary, layers as GeoJSON
``GET  /scenarios/{id}/isochrones``          isochrones as GeoJSON
``GET  /scenarios/{id}/districts``           station districts as GeoJSON
``GET  /scenarios/{id}/violations``          district rule violations
``GET  /scenarios/{id}/response-times``      the k fastest stations to a lon/lat
``GET  /scenarios/{id}/map``, ``/report``     interactive map, HTML report
==========================================  ===========================================

The web page is served at ``/`` (files under ``/static``; Leaflet is vendored, so it works
offline).

Write endpoints need ``Authorization: Bearer <token>``; read endpoints too when
``protect_reads`` is set. Errors are RFC 9457 problem details. Result endpoints of the
analysis stages plug in through :mod:`service._api_results`.
"""

from __future__ import annotations

import logging
import platform
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import geopandas as gpd
from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from . import _api_jobs, _api_maps, _api_query, _api_results, _api_scenarios
from ._api_deps import ReadAccess, ScenarioCache, ServiceState, get_service
from ._api_models import HealthOut, VersionOut
from ._api_problems import PROBLEM_RESPONSES, BodyLimitMiddleware, install_handlers
from ._api_query import AnalysisCaches
from ._api_settings import Settings
from .auth import TokenSource, resolve_token
from .jobs import JobRunner, default_registry
from .store import SQLiteStore, Store

__all__ = ["API_PREFIX", "Settings", "create_app"]

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
STATIC_DIR = Path(__file__).resolve().parent / "static"
#: Leaflet and its plugins, vendored once in :mod:`maps` and served from there.
VENDOR_DIR = Path(str(resources.files("maps").joinpath("static", "vendor")))
#: The page loads only its own files; map tiles (off by default) come from OpenStreetMap.
_PAGE_CSP = (
    "default-src 'self'; img-src 'self' data: https://tile.openstreetmap.org; "
    "style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


def _riskplan_version() -> str:
    try:
        return version("riskplan")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def _gdal_version() -> str | None:
    try:
        import pyogrio

        return str(pyogrio.__gdal_version_string__)
    except (ImportError, AttributeError):  # pragma: no cover
        return None


def _meta_router() -> APIRouter:
    router = APIRouter(tags=["service"], responses=PROBLEM_RESPONSES)

    @router.get("/health", response_model=HealthOut, dependencies=[ReadAccess], summary="Health")
    def health(request: Request) -> HealthOut:
        """The service is up and its store answers."""
        service = get_service(request)
        service.store.list_jobs(status="running")
        return HealthOut(
            status="ok", jobs_active=service.runner.active, max_workers=service.runner.max_workers
        )

    @router.get("/version", response_model=VersionOut, dependencies=[ReadAccess], summary="Version")
    def version_info() -> VersionOut:
        """Versions of riskplan, the API and the geodata stack."""
        return VersionOut(
            riskplan=_riskplan_version(),
            api="v1",
            python=platform.python_version(),
            geopandas=gpd.__version__,
            gdal=_gdal_version(),
        )

    return router


def _mount_page(app: FastAPI) -> None:
    """Serve the web page at ``/`` and its files (app, styles, vendored Leaflet) at ``/static``."""
    app.mount("/static/vendor", StaticFiles(directory=VENDOR_DIR), name="vendor")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(
            STATIC_DIR / "index.html",
            headers={"Content-Security-Policy": _PAGE_CSP, "X-Content-Type-Options": "nosniff"},
        )


def create_app(settings: Settings, *, store: Store | None = None) -> FastAPI:
    """Build the web app for ``settings``.

    Parameters
    ----------
    settings
        Data directory, limits, token and job options.
    store
        A store backend; default: :class:`~service.store.SQLiteStore` in ``settings.data_dir``.

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
    store = store or SQLiteStore(data_dir)
    registry = default_registry(settings.all_job_plugins())
    scenarios = ScenarioCache(store.load_scenario, settings.scenario_cache_size)
    runner = JobRunner(
        store,
        registry,
        scenarios.get,
        max_workers=settings.max_workers,
        max_queued=settings.max_queued_jobs,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        runner.shutdown()
        store.close()

    app = FastAPI(
        title="riskplan",
        version=_riskplan_version(),
        summary="Urban safety risk maps and emergency-resource planning on road networks.",
        description=(
            "Scenarios, their layers, and jobs over them. Write endpoints need "
            "`Authorization: Bearer <token>` (the token is in DATA_DIR/api_token on the server). "
            "Errors are RFC 9457 problem details (`application/problem+json`)."
        ),
        lifespan=lifespan,
    )
    app.state.service = ServiceState(settings, store, registry, runner, token, scenarios)
    app.state.analysis = AnalysisCaches.sized(settings.scenario_cache_size)
    install_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_upload_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    routers = (
        _meta_router(),
        _api_scenarios.router,
        _api_results.router,
        _api_query.router,
        _api_jobs.router,
        _api_maps.router,
    )
    for router in routers:
        app.include_router(router, prefix=API_PREFIX)
    _mount_page(app)
    log.info("riskplan API ready: data in %s, %d job worker(s)", data_dir, settings.max_workers)
    return app
