"""The routes of the web API, one module per group; :data:`ROUTERS` in the order they are mounted.

==================  ====================================================================
module              routes
==================  ====================================================================
``meta``            ``/health``, ``/version``
``i18n``            ``/i18n``: the web pages' texts in Chinese or English
``scenarios``       upload, demo, list, get, delete scenarios; their layers as GeoJSON
``coverage``        ``/scenarios/{id}/coverage[/{layer}]``, isochrones, districts, violations
``risk``            ``/scenarios/{id}/risk`` and ``/risk/top``
``tiles``           ``/scenarios/{id}/tiles/{layer}/{z}/{x}/{y}.mvt``: big layers as vector tiles
``compare``         ``/scenarios/{id}/compare/{other_id}``: before and after
``query``           ``/scenarios/{id}/response-times``: the point query
``jobs``            job kinds; start, list, poll, cancel jobs; their results
``maps``            ``/scenarios/{id}/map`` and ``/report``: the HTML pages
``register``        the hidden-danger register: report, list, get, move, follow, disclosure,
                    assessment
``register_intake`` the register's import (CSV / Excel), traceability and risk grades
``communities``     community safety surveys: upload, the scoring job, scores, plans, changes
``what_if``         ``POST /scenarios/{id}/what-if``: roads closed, stations out or temporary
``reliability``     ``/scenarios/{id}/reliability[/{layer}]``: busy stations (hypercube)
==================  ====================================================================

A route module adds no placeholder data: each endpoint is computed by the library
(:mod:`planning`, :mod:`risk_models`, :mod:`maps`), once per scenario and parameters, and kept
in the app's caches (:mod:`service.api.caches`). How a route is written::

    @router.get("/hotspots", dependencies=[ReadAccess], responses=PROBLEM_RESPONSES)
    def hotspots(scenario_id: str, request: Request, bbox: BBox | None = Depends(parse_bbox)):
        service = get_service(request)
        scenario = service.scenarios.get(scenario_id)          # 404 for unknown ids
        units = cached_layer(service, scenario_id, "hotspots", lambda: score(scenario))
        return RenderedLayer.of(units).response(bbox=bbox)

:func:`~service.api.caches.cached_layer` and :func:`~service.api.caches.cached_bytes` compute
a result once per scenario and keep it in the store (atomically written, deleted with the
scenario); anything slow should rather be a job kind (see :mod:`service.jobs`) whose result
the endpoint reads. A new router is added to :data:`ROUTERS`.
"""

from fastapi import APIRouter

from . import (
    communities,
    compare,
    coverage,
    i18n,
    jobs,
    maps,
    meta,
    query,
    register,
    register_intake,
    reliability,
    risk,
    scenarios,
    tiles,
    what_if,
)

__all__ = ["ROUTERS"]

#: Every router of the API, mounted under ``/api/v1`` in this order.
ROUTERS: tuple[APIRouter, ...] = (
    meta.router,
    i18n.router,  # the pages' texts in Chinese or English
    scenarios.router,
    coverage.router,
    risk.router,
    tiles.router,  # big layers as vector tiles
    compare.router,  # before and after
    query.router,
    jobs.router,
    maps.router,
    register.router,
    register_intake.router,  # import, traceability, risk grades
    communities.router,  # community safety surveys
    what_if.router,  # what-if closures (issue 17)
    reliability.router,  # busy stations (issue 17)
)
