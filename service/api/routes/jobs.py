"""Routes: start, list, poll, cancel jobs and read their results."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam

from ...jobs import JobStateError
from ..deps import ReadAccess, WriteAccess, get_service
from ..geojson import GEOJSON, RenderedLayer
from ..lang import LangQuery, request_lang
from ..models import JobKindOut, JobOut, JobRequest, JobResultOut, JobStatusName
from ..paging import DEFAULT_LIMIT, PAGE_HEADERS, Cursor, Limit, page
from ..params import BBox, parse_bbox
from ..problems import PROBLEM_RESPONSES

__all__ = ["router"]

router = APIRouter(tags=["jobs"], responses=PROBLEM_RESPONSES)

JobId = Annotated[str, PathParam(description="Job id.", max_length=64)]


@router.get("/job-kinds", response_model=list[JobKindOut], dependencies=[ReadAccess], summary="Job kinds")
def job_kinds(request: Request) -> list[JobKindOut]:
    """The kinds of job this server runs."""
    return [JobKindOut(name=k.name, description=k.description) for k in get_service(request).registry.kinds()]


@router.post(
    "/scenarios/{scenario_id}/jobs",
    status_code=202,
    response_model=JobOut,
    dependencies=[WriteAccess],
    summary="Start a job",
)
def start_job(
    scenario_id: Annotated[str, PathParam(max_length=64)],
    body: JobRequest,
    request: Request,
    response: Response,
    lang: LangQuery = None,
) -> JobOut:
    """Queue a job on a scenario; poll ``Location`` for its status and progress.

    The job speaks the request's language (``lang``, the server's $RISKPLAN_LANG, the request's
    Accept-Language, the scenario's place, else English): its messages, notes and errors are
    written in it, and its status shows it as ``lang``.
    """
    service = get_service(request)
    record = service.store.get_scenario(scenario_id)
    chosen = request_lang(request, lang, bounds_wgs84=record.bounds_wgs84)
    job = service.runner.submit(scenario_id, body.kind, body.params, lang=chosen)
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return JobOut.of(job)


@router.get(
    "/jobs",
    response_model=list[JobOut],
    dependencies=[ReadAccess],
    responses={200: {"description": "A page of jobs.", "headers": PAGE_HEADERS}},
    summary="List jobs",
)
def list_jobs(
    request: Request,
    response: Response,
    *,
    scenario_id: Annotated[str | None, Query(max_length=64)] = None,
    status: JobStatusName | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> list[JobOut]:
    """Jobs, newest first, optionally of one scenario or in one status, a page at a time.

    Finished jobs are kept for the server's retention period (``--job-retention-days``).
    """
    store = get_service(request).store

    def fetch(n: int, after: tuple[str, str] | None) -> list[Any]:
        return store.list_jobs(scenario_id=scenario_id, status=status, limit=n, after=after)

    jobs = page(request, response, fetch, lambda j: (j.created_at, j.id), limit=limit, cursor=cursor)
    return [JobOut.of(j) for j in jobs]


@router.get("/jobs/{job_id}", response_model=JobOut, dependencies=[ReadAccess], summary="Job status")
def get_job(job_id: JobId, request: Request) -> JobOut:
    """Status, progress (0..1) and the last message of a job."""
    return JobOut.of(get_service(request).store.get_job(job_id))


@router.post(
    "/jobs/{job_id}/cancel", response_model=JobOut, dependencies=[WriteAccess], summary="Cancel a job"
)
def cancel_job(job_id: JobId, request: Request) -> JobOut:
    """Cancel a queued job, or ask a running one to stop (it ends as ``cancelled``)."""
    return JobOut.of(get_service(request).runner.cancel(job_id))


def _require_result(request: Request, job_id: str) -> None:
    job = get_service(request).store.get_job(job_id)
    if job.status != "succeeded" or not job.has_result:
        msg = f"Job `{job_id}` is {job.status}; only a succeeded job has a result."
        raise JobStateError(msg, key="job_not_succeeded", values={"id": job_id, "status": job.status})


@router.get(
    "/jobs/{job_id}/result", response_model=JobResultOut, dependencies=[ReadAccess], summary="Job result"
)
def job_result(job_id: JobId, request: Request) -> JobResultOut:
    """The JSON result of a succeeded job and the names of its layers."""
    store = get_service(request).store
    _require_result(request, job_id)
    job = store.get_job(job_id)
    return JobResultOut(
        job_id=job_id,
        kind=job.kind,
        data=store.get_job_result(job_id),
        layers=store.job_result_layers(job_id),
    )


@router.get(
    "/jobs/{job_id}/result/layers/{layer}",
    dependencies=[ReadAccess],
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}, "description": "A GeoJSON FeatureCollection in EPSG:4326."}},
    summary="A job result layer as GeoJSON",
)
def job_result_layer(
    job_id: JobId,
    layer: Annotated[str, PathParam(max_length=64)],
    request: Request,
    bbox: Annotated[BBox | None, Depends(parse_bbox)],
) -> Response:
    """One layer of a job's result (proposed stations, snapped points...) in EPSG:4326."""
    _require_result(request, job_id)
    gdf = get_service(request).store.read_job_result_layer(job_id, layer)
    return RenderedLayer.of(gdf).response(bbox=bbox)
