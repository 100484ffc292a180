"""The riskplan web service: a FastAPI app over the store, the job runner and the library.

:func:`create_app` builds one self-contained app from :class:`Settings`; everything it holds
lives in ``app.state.service``. Routes (all under ``/api/v1``, documented at ``/docs`` and
``/openapi.json``):

==========================================  ===========================================
``GET  /health``, ``GET /version``           liveness and versions
``POST /scenarios``                          create from an upload (multipart)
``POST /scenarios/demo``                     create the synthetic demo city
``GET  /scenarios``, ``GET /scenarios/{id}``  list (paged), detail with layer columns
``DELETE /scenarios/{id}``                   delete with results and jobs
``GET  /scenarios/{id}/layers/{layer}``      a layer as GeoJSON (EPSG:4326, ``bbox``)
``GET  /job-kinds``                          what jobs can run
``POST /scenarios/{id}/jobs``                start a job ``{kind, params}``
``GET  /jobs``, ``GET /jobs/{id}``           list (paged), status with progress
``POST /jobs/{id}/cancel``                   cancel
``GET  /jobs/{id}/result[/layers/{layer}]``  result JSON, result layers as GeoJSON
``GET  /scenarios/{id}/coverage[/{layer}]``  coverage summary, layers as GeoJSON
``GET  /scenarios/{id}/isochrones``          isochrones as GeoJSON
``GET  /scenarios/{id}/districts``           station districts as GeoJSON
``GET  /scenarios/{id}/violations``          district rule violations
                                             (these four: ``hour`` or ``worst_hour``)
``GET  /scenarios/{id}/reliability[/{l}]``   busy stations: summary, layers as GeoJSON
``POST /scenarios/{id}/what-if``             roads closed, stations out: the difference
``GET  /scenarios/{id}/response-times``      the k fastest stations to a lon/lat
``GET  /scenarios/{id}/risk[/top]``          risk units as GeoJSON, the top units
``GET  /scenarios/{id}/map``, ``/report``     interactive map, HTML report
==========================================  ===========================================

The web page is served at ``/`` (files under ``/static``; Leaflet is vendored, so it works
offline), the API documentation at ``/docs`` (Swagger UI, vendored too).

Write endpoints need ``Authorization: Bearer <token>`` (:mod:`service.api.auth`); read
endpoints too when ``protect_reads`` is set. Reads without the token are bounded
(:mod:`service.api.budget`). Errors are RFC 9457 problem details (:mod:`service.api.problems`).
Every answer carries the security headers of :mod:`service.api.security`.

Layout: :mod:`~service.api.app` builds the app; :mod:`~service.api.routes` holds one module
per group of routes; beside them are the pieces the routes share: per-app state and token
checks (``deps``), shared parameters (``params``), analysis caches (``caches``), models,
problems, paging, GeoJSON rendering (``geojson``), anonymous budgets, security headers,
settings, uploads, and the HTTP server limits of ``riskplan serve`` (``server``). Names are
imported on first use, so ``import service.api.server`` (the command line) loads no FastAPI.
"""

from typing import TYPE_CHECKING

from gis.lazy import attach

#: Public names by module, imported on first use (see :mod:`gis.lazy`).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "app": ("API_PREFIX", "STATIC_DIR", "VENDOR_DIR", "create_app"),
    "settings": ("Settings",),
}
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .app import API_PREFIX, STATIC_DIR, VENDOR_DIR, create_app
    from .settings import Settings

__all__ = ["API_PREFIX", "STATIC_DIR", "VENDOR_DIR", "Settings", "create_app"]
