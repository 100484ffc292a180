"""Routes: scenarios (upload, demo, list, get, delete) and their layers as GeoJSON.

Layers are rendered as GeoJSON once per scenario and layer and kept in memory
(:class:`service.api.geojson.RenderedLayer`), so ``bbox`` and ``limit`` only slice them.
Deleting a scenario drops everything the app keeps for it: loaded layers, analyses, pages
and its road graphs.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from gis import InputError, load_scenario, write_demo_scenario
from gis.schema import LAYERS

from ...store import NotFoundError
from ..caches import get_caches
from ..deps import ReadAccess, WriteAccess, get_service
from ..geojson import GEOJSON, RenderedLayer
from ..models import DemoRequest, LayerInfo, ScenarioDetail, ScenarioOut, demo_default_nodes
from ..paging import DEFAULT_LIMIT, PAGE_HEADERS, Cursor, Limit, page
from ..params import BBox, ScenarioId, parse_bbox
from ..problems import PROBLEM_RESPONSES
from ..uploads import SCENARIO_FIELD, UploadedFile, parse_options, scenario_from_upload

__all__ = ["router"]

router = APIRouter(prefix="/scenarios", tags=["scenarios"], responses=PROBLEM_RESPONSES)

_CHUNK = 1 << 20
_MAX_FORM_FILES = len(LAYERS) + 1
_NAME = {"type": "string", "maxLength": 200, "description": "Scenario name."}
_OPTIONS = {
    "type": "string",
    "maxLength": 1 << 20,
    "description": "JSON per-layer reading options, e.g. "
    '{"hazards": {"coords": "gcj02", "rename": {"名称": "name"}}} (nested at most 4 deep).',
}
_UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "oneOf": [
                        {
                            "title": "A whole scenario",
                            "type": "object",
                            "properties": {
                                SCENARIO_FIELD: {
                                    "type": "string",
                                    "format": "binary",
                                    "description": "A GeoPackage, or a zip of per-layer files named after "
                                    "their layers (roads.shp/.shx/.dbf/.prj, hazards.csv...).",
                                },
                                "name": _NAME,
                                "options": _OPTIONS,
                            },
                            "required": [SCENARIO_FIELD],
                            "additionalProperties": False,
                        },
                        {
                            "title": "One file per layer",
                            "type": "object",
                            "properties": {
                                **{
                                    name: {
                                        "type": "string",
                                        "format": "binary",
                                        "description": f"The `{name}` layer: GeoJSON, CSV, GeoPackage "
                                        "or zipped SHP.",
                                    }
                                    for name in LAYERS
                                },
                                "name": _NAME,
                                "options": _OPTIONS,
                            },
                            "anyOf": [{"required": [name]} for name in LAYERS],
                            "additionalProperties": False,
                        },
                    ]
                }
            }
        },
    }
}


async def _save_form(request: Request, work: Path) -> tuple[list[UploadedFile], str | None, str | None]:
    files: list[UploadedFile] = []
    fields: dict[str, str] = {}
    try:
        form_cm = request.form(
            max_files=_MAX_FORM_FILES, max_fields=_MAX_FORM_FILES + 2, max_part_size=1 << 20
        )
    except AssertionError:
        msg = "The upload must be multipart/form-data. Fix: send the files as form fields."
        raise InputError(msg) from None
    async with form_cm as form:
        for i, (key, value) in enumerate(form.multi_items()):
            if isinstance(value, UploadFile):
                target = work / f"in_{i:03d}.bin"
                with target.open("wb") as out:
                    while chunk := await value.read(_CHUNK):
                        out.write(chunk)
                files.append(UploadedFile(key, target, value.filename))
            elif key in ("name", "options"):
                fields[key] = value
            elif key == SCENARIO_FIELD or key in LAYERS:  # a file sent as a plain part (no file name)
                target = work / f"in_{i:03d}.bin"
                target.write_text(value, encoding="utf-8")
                files.append(UploadedFile(key, target, None))
            else:
                msg = (
                    f"Form field `{key}` is not part of an upload. Fix: send `{SCENARIO_FIELD}`, or one "
                    f"field per layer ({', '.join(LAYERS)}), with `name` and `options` if needed."
                )
                raise InputError(msg)
    name = fields.get("name", "").strip()[:200] or None
    return files, name, fields.get("options")


@router.post(
    "",
    status_code=201,
    response_model=ScenarioOut,
    dependencies=[WriteAccess],
    openapi_extra=_UPLOAD_DOC,
    summary="Create a scenario from uploaded files",
)
async def create_scenario(request: Request, response: Response) -> ScenarioOut:
    """Upload a GeoPackage, a zip, or one file per layer; every problem comes back as a 422."""
    service = get_service(request)
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        msg = "The upload must be multipart/form-data. Fix: send the files as form fields."
        raise InputError(msg)
    tmp_root = service.settings.data_dir / "tmp"
    tmp_root.mkdir(exist_ok=True)
    limits = service.settings.upload_limits
    with service.unpacking.upload(max_bytes=limits.max_unzipped_bytes) as tally:
        work = Path(tempfile.mkdtemp(prefix="upload-", dir=tmp_root))
        try:
            files, name, options_text = await _save_form(request, work)
            options = parse_options(options_text)
            scenario = await run_in_threadpool(
                scenario_from_upload, files, work, name=name, options=options, limits=limits, tally=tally
            )
            origin = "upload:file" if [f.field for f in files] == [SCENARIO_FIELD] else "upload:layers"
            record = await run_in_threadpool(service.store.create_scenario, scenario, origin=origin)
        finally:
            shutil.rmtree(work, ignore_errors=True)  # before the unpacked bytes are given back
    response.headers["Location"] = f"{request.url.path.rstrip('/')}/{record.id}"
    return ScenarioOut.of(record)


@router.post(
    "/demo",
    status_code=201,
    response_model=ScenarioOut,
    dependencies=[WriteAccess],
    summary="Create the synthetic demo city",
)
def create_demo(body: DemoRequest, request: Request, response: Response) -> ScenarioOut:
    """Generate the deterministic synthetic demo city (it says so in its name).

    Without ``n_road_nodes`` the city is the size ``riskplan demo`` makes (or this server's
    limit, when that is lower), so the page and the command line show the same figures.
    """
    service = get_service(request)
    limit = service.settings.demo_max_nodes
    n_road_nodes = body.n_road_nodes if body.n_road_nodes is not None else demo_default_nodes(limit)
    if n_road_nodes > limit:
        msg = (
            f"`n_road_nodes` = {n_road_nodes} is above this server's limit of {limit}. "
            "Fix: ask for fewer nodes."
        )
        raise InputError(msg)
    tmp_root = service.settings.data_dir / "tmp"
    tmp_root.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="demo-", dir=tmp_root) as work:
        gpkg = write_demo_scenario(Path(work) / "demo.gpkg", seed=body.seed, n_road_nodes=n_road_nodes)
        record = service.store.create_scenario(load_scenario(gpkg), origin="demo", adopt_gpkg=True)
    response.headers["Location"] = f"{request.url.path.rsplit('/', 1)[0]}/{record.id}"
    return ScenarioOut.of(record)


@router.get(
    "",
    response_model=list[ScenarioOut],
    dependencies=[ReadAccess],
    responses={200: {"description": "A page of scenarios.", "headers": PAGE_HEADERS}},
    summary="List scenarios",
)
def list_scenarios(
    request: Request, response: Response, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> list[ScenarioOut]:
    """Stored scenarios, newest first, a page at a time (``limit``, ``cursor``; see ``Link``)."""
    store = get_service(request).store

    def fetch(n: int, after: tuple[str, str] | None) -> list[Any]:
        return store.list_scenarios(limit=n, after=after)

    rows = page(request, response, fetch, lambda r: (r.created_at, r.id), limit=limit, cursor=cursor)
    return [ScenarioOut.of(r) for r in rows]


@router.get(
    "/{scenario_id}", response_model=ScenarioDetail, dependencies=[ReadAccess], summary="Get a scenario"
)
def get_scenario(scenario_id: ScenarioId, request: Request) -> ScenarioDetail:
    """A scenario with each layer's feature count, geometry types and columns."""
    service = get_service(request)
    record = service.store.get_scenario(scenario_id)
    scenario = service.scenarios.get(scenario_id)
    details = [
        LayerInfo(
            name=name,
            features=len(gdf),
            geometry_types=sorted(str(t) for t in gdf.geom_type.dropna().unique()),
            columns=[str(c) for c in gdf.columns if c != gdf.geometry.name],
        )
        for name, gdf in scenario.layers.items()
    ]
    out = ScenarioOut.of(record).model_dump()
    return ScenarioDetail(**out, layer_details=details, results=service.store.list_results(scenario_id))


@router.delete(
    "/{scenario_id}", status_code=204, response_class=Response, dependencies=[WriteAccess], summary="Delete"
)
def delete_scenario(scenario_id: ScenarioId, request: Request) -> Response:
    """Delete a scenario with its results; its queued and running jobs are cancelled first."""
    service = get_service(request)
    service.store.get_scenario(scenario_id)
    for job in service.store.list_jobs(scenario_id=scenario_id):
        if job.status in ("queued", "running"):
            service.runner.cancel(job.id)
    service.store.delete_scenario(scenario_id)
    service.scenarios.evict(scenario_id)
    get_caches(request).forget(scenario_id)
    service.graphs.drop(scenario_id)
    return Response(status_code=204)


@router.get(
    "/{scenario_id}/layers/{layer}",
    dependencies=[ReadAccess],
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}, "description": "A GeoJSON FeatureCollection in EPSG:4326."}},
    summary="A layer as GeoJSON",
)
def get_layer(
    scenario_id: ScenarioId,
    layer: Annotated[str, PathParam(max_length=64)],
    request: Request,
    bbox: Annotated[BBox | None, Depends(parse_bbox)],
    limit: Annotated[int | None, Query(ge=1, le=1_000_000, description="Most features to return.")] = None,
) -> Response:
    """One layer in EPSG:4326, optionally only the features intersecting ``bbox``.

    ``X-Total-Count`` is the number of features that matched, before ``limit``.
    """
    service = get_service(request)
    service.store.get_scenario(scenario_id)
    scenario = service.scenarios.get(scenario_id)
    if layer not in scenario:
        msg = f"Scenario `{scenario_id}` has no layer `{layer}` (it has {sorted(scenario.layers)})."
        words = {"id": scenario_id, "layer": layer, "layers": sorted(scenario.layers)}
        raise NotFoundError(msg, key="scenario_no_layer", values=words)
    rendered = get_caches(request).layers.get((scenario_id, layer), lambda: RenderedLayer.of(scenario[layer]))
    assert isinstance(rendered, RenderedLayer)
    return rendered.response(bbox=bbox, limit=limit)
