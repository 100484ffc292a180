"""Routes: big layers as Mapbox vector tiles, ``GET /scenarios/{id}/tiles/{layer}/{z}/{x}/{y}.mvt``.

==================================================  =========================================
endpoint                                            gives
==================================================  =========================================
``GET /scenarios/{id}/tiles/{layer}.json``          TileJSON 3.0: tile URL, bounds, zooms,
                                                    ``features`` and the page's switch
                                                    threshold ``geojson_max_features``
``GET /scenarios/{id}/tiles/{layer}/{z}/{x}/{y}.mvt``  one tile (``204`` outside the data)
==================================================  =========================================

``layer`` is ``risk`` (the risk units of :mod:`service.api.routes.risk`, same ``units`` and
``standard`` parameters, same anonymous limits) or ``roads`` (the scenario's road graph, one
feature per road: :class:`maps.RoadTileSource`, its minor classes dropped at low zooms and its
lines simplified per zoom; built in Python on either store). A risk layer a finished ``risk``
job stored (same scenario, units and standard) is read back, not scored again.
Tiles of risk are built by :class:`maps.TileSource`
(a spatial index over the layer in Web Mercator, built once per layer version, when the layer
is scored for a layer above the threshold: :meth:`RiskEntry.tile_source`) and kept in
a bounded LRU per layer version: the version is the scored layer itself, so a re-scored or
deleted scenario never serves an old tile. A tile has the layer's version in its ``ETag``;
the TileJSON's tile URL carries the version (``v=``), so a tile asked with the current version
is cached by the browser as ``immutable`` (a new version is a new URL), and ``If-None-Match``
is answered 304. A big risk layer's first view is built ahead, when its tile index is built
(:meth:`maps.TileSource.prebuild`), and a crowded tile merges its cells by level.
A layer of more than :data:`GEOJSON_MAX_FEATURES` units is drawn from tiles by the web page.

On the PostgreSQL store each layer version is also a PostGIS table of the scenario's schema
(a ``tiles_<layer>_<digest>`` result, EPSG:3857, GiST-indexed; written by the first process
that tiles it), and tiles come from ``ST_AsMVT`` there (:func:`maps.postgis_tile_sql`), equal
feature by feature to the Python tiles, for every server process alike.
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass, field
from typing import Annotated, Any

import geopandas as gpd
import numpy as np
import pandas as pd
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

import maps
from gis import InputError
from gis.i18n import LANGS

from ...store import NotFoundError, PostgresStore
from ...units import canonical_units
from ..caches import BuildCache, cached, get_caches
from ..deps import ReadAccess, get_service
from ..params import DEFAULT_STANDARD, ScenarioId, StandardParam, check_standard
from ..problems import PROBLEM_RESPONSES
from .coverage import number
from .risk import GEOJSON_MAX_FEATURES, TILE_COLUMNS, RiskEntry, UnitsParam, risk_entry

__all__ = ["GEOJSON_MAX_FEATURES", "TILE_COLUMNS", "router"]

router = APIRouter(prefix="/scenarios/{scenario_id}/tiles", tags=["results"], responses=PROBLEM_RESPONSES)

LAYERS = ("risk", "roads")
_TILES_PER_LAYER = 4096
_MVT_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {maps.MVT_MEDIA_TYPE: {}},
        "description": "One Mapbox vector tile (layer named as the route's).",
    },
    204: {"description": "No feature meets this tile."},
}


@dataclass
class _Tiled:
    """One layer version: its tile source, version, bounds and built tiles (and scored entry)."""

    entry: RiskEntry | None
    source: maps.TileSource | maps.RoadTileSource
    version: str
    bounds: tuple[float, float, float, float] | None  # west, south, east, north
    graph: Any = None  # the road graph a roads source was built from (kept alive with it)
    tiles: BuildCache[bytes] = field(default_factory=lambda: BuildCache[bytes](size=_TILES_PER_LAYER))


_LOCK = threading.Lock()
#: Tile sources kept (layer versions); older ones, and their tiles, drop out of the LRU.
_SOURCES = 8


def _tiled(request: Request, scenario_id: str, layer: str, units: str, standard: str) -> _Tiled:
    """The layer's tile source, built once per layer version (concurrent requests wait for it)."""
    if layer not in LAYERS:
        msg = f"No tiled layer `{layer}`: the tiled layers are {list(LAYERS)}."
        raise NotFoundError(msg, key="no_tiled_layer", values={"layer": layer, "layers": list(LAYERS)})
    with _LOCK:
        sources: BuildCache[_Tiled] | None = getattr(request.app.state, "tile_sources", None)
        if sources is None:
            sources = request.app.state.tile_sources = BuildCache[_Tiled](size=_SOURCES)
    if layer == "roads":
        return _road_tiled(request, scenario_id, sources)
    entry = _risk_entry(request, scenario_id, units, standard)
    key = (scenario_id, layer, units, standard, id(entry))  # the entry is kept alive by its _Tiled

    def build() -> _Tiled:
        source = entry.tile_source()  # built when the layer was scored, for a big layer
        version = hashlib.sha256(f"{key}|{len(source)}".encode()).hexdigest()[:16]
        store = get_service(request).store
        if isinstance(store, PostgresStore):  # each layer version a PostGIS table, tiles by ST_AsMVT
            version = _version(source)  # by content: every process finds the same table
            name = _result_name(layer, units, standard)
            if not store.tile_layer_stored(scenario_id, name, version):
                store.put_tile_layer(scenario_id, name, version, source)
        bounds = None
        if len(source):
            west, south, east, north = (float(v) for v in entry.units.total_bounds)
            bounds = (west, south, east, north)
        return _Tiled(entry, source, version, bounds)

    tiled = sources.get(key, build)
    assert tiled.entry is entry
    return tiled


def _road_tiled(request: Request, scenario_id: str, sources: BuildCache[_Tiled]) -> _Tiled:
    """The scenario's roads, indexed for tiles once per road graph (the graph cache's)."""
    service = get_service(request)
    service.store.get_scenario(scenario_id)  # 404 before anything is built
    graph = service.graphs.graph(scenario_id, service.scenarios.get(scenario_id))
    key = (scenario_id, "roads", id(graph))

    def build() -> _Tiled:
        source = maps.RoadTileSource(graph)
        version = hashlib.sha256(
            f"{scenario_id}|roads|{graph.n_nodes}|{graph.n_edges}|{source.bounds}".encode()
        ).hexdigest()[:16]
        bounds = None
        if source.bounds is not None:
            west, south = _lonlat(source.bounds[0], source.bounds[1])
            east, north = _lonlat(source.bounds[2], source.bounds[3])
            bounds = (west, south, east, north)
        return _Tiled(None, source, version, bounds, graph=graph)

    return sources.get(key, build)


def _lonlat(x: float, y: float) -> tuple[float, float]:
    """EPSG:3857 metres as (lon, lat) degrees."""
    radius = 6378137.0
    return math.degrees(x / radius), math.degrees(2 * math.atan(math.exp(y / radius)) - math.pi / 2)


def _risk_entry(request: Request, scenario_id: str, units: str, standard: str) -> RiskEntry:
    """The scored layer: in memory, else the units a finished ``risk`` job stored, else scored now.

    A ``risk`` job of the same scenario, canonical units and standard (the key the risk routes
    cache the layer under) has already scored the layer: its stored units are read back (and
    cached as the risk routes would), not scored again.
    """
    check_standard(standard)
    spec = str(canonical_units(units))
    caches = get_caches(request).coverage
    key = ("risk", scenario_id, spec, standard)
    if caches.peek(key) is None:
        store = get_service(request).store
        params = {"units": spec, "standard": standard}
        jobs = store.list_jobs(scenario_id=scenario_id, status="succeeded")
        job = next((j for j in jobs if j.kind == "risk" and j.has_result and dict(j.params) == params), None)
        if job is not None and "units" in store.job_result_layers(job.id):
            entry = cached(
                request,
                caches,
                key,
                lambda: _stored_entry(store.read_job_result_layer(job.id, "units")),
                scenario_id=scenario_id,
                what=f"The `{spec}` risk layer of scenario `{scenario_id}` (job `{job.id}`)",
            )
            assert isinstance(entry, RiskEntry)
            return entry
    return risk_entry(request, scenario_id, units, standard)


def _stored_entry(units: gpd.GeoDataFrame) -> RiskEntry:
    """The :class:`RiskEntry` of a ``risk`` job's stored units (``id`` column, as the job writes them)."""
    frame = units.set_index(units["id"].astype(str)).drop(columns="id")
    frame.index.name = None
    ranked = frame.sort_values("rank").head(50) if "rank" in frame.columns else frame.head(0)
    top = tuple(
        {
            "unit_id": str(unit),
            "rank": int(row["rank"]),
            "name": str(row["name"]) if "name" in row and pd.notna(row["name"]) else None,
            "score": number(row.get("score")),
            "percentile": number(row.get("percentile")),
            "level": str(row["level"]),
            # the job's words, in the language it ran in: the same text whichever one is asked
            "reasons": dict.fromkeys(LANGS, str(row.get("reasons") or "")),
        }
        for unit, row in ranked.iterrows()
    )
    return RiskEntry.of(frame, top)


def _version(source: maps.TileSource) -> str:
    """A digest of the layer's content: ids, geometry bounds and attributes (the ETag's version)."""
    digest = hashlib.sha256(f"{source.name}|{source.columns}|{len(source)}".encode())
    digest.update(source.ids.astype(str).astype(bytes).tobytes())
    digest.update(np.ascontiguousarray(source.centroids).tobytes())
    digest.update(pd.util.hash_pandas_object(source.attributes, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def _result_name(layer: str, units: str, standard: str) -> str:
    """The store's result holding a layer's tile table (``tiles_risk_<digest>``)."""
    spec = str(canonical_units(units))
    return f"tiles_{layer}_" + hashlib.sha256(f"{spec}|{standard}".encode()).hexdigest()[:12]


@router.get("/{layer}.json", dependencies=[ReadAccess], summary="TileJSON of a tiled layer")
async def tilejson(
    scenario_id: ScenarioId,
    layer: str,
    request: Request,
    *,
    units: UnitsParam = "communities",
    standard: StandardParam = DEFAULT_STANDARD,
) -> dict[str, Any]:
    """TileJSON 3.0 of ``layer``, with its ``features`` count and the page's switch threshold."""
    tiled = await run_in_threadpool(_tiled, request, scenario_id, layer, units, standard)
    bounds = tiled.bounds or (-180.0, -85.0, 180.0, 85.0)
    # the version in the URL: a tile of it never changes, so the browser may keep it (immutable)
    query = (
        f"?units={units}&standard={standard}&v={tiled.version}" if layer == "risk" else f"?v={tiled.version}"
    )
    return {
        "tilejson": "3.0.0",
        "name": layer,
        "tiles": [f"{request.url.path.removesuffix('.json')}/{{z}}/{{x}}/{{y}}.mvt{query}"],
        "vector_layers": [{"id": layer, "fields": dict.fromkeys(("unit_id", *tiled.source.columns), "")}],
        "bounds": [float(v) for v in bounds],
        "minzoom": 0,
        "maxzoom": tiled.source.max_zoom if isinstance(tiled.source, maps.RoadTileSource) else maps.MAX_ZOOM,
        "features": len(tiled.source),
        "geojson_max_features": GEOJSON_MAX_FEATURES,
        "version": tiled.version,
    }


@router.get("/{layer}/feature", dependencies=[ReadAccess], summary="The tile feature at a point")
async def tile_feature(
    scenario_id: ScenarioId,
    layer: str,
    request: Request,
    *,
    z: Annotated[int, Query(ge=0, le=maps.MAX_ZOOM, description="The zoom of the tiles drawn")],
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-85.06, le=85.06)],
    units: UnitsParam = "communities",
    standard: StandardParam = DEFAULT_STANDARD,
) -> dict[str, Any]:
    """The properties of the risk feature the zoom-``z`` tile draws at ``lon, lat`` (the page's hover).

    A thinned tile's square names its worst cell and how many ``cells`` it stands for, as the
    tile itself does; ``{"feature": null}`` where the tile draws nothing.
    """
    if layer != "risk":
        msg = f"No feature lookup for layer `{layer}`: only `risk` has one."
        raise NotFoundError(msg, key="no_feature_lookup", values={"layer": layer})

    def find() -> dict[str, object] | None:
        tiled = _tiled(request, scenario_id, layer, units, standard)
        source = tiled.source
        assert isinstance(source, maps.TileSource)
        x = math.radians(lon) * 6378137.0
        y = 6378137.0 * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
        return source.feature_at(z, x, y)

    return {"feature": await run_in_threadpool(find)}


@router.get(
    "/{layer}/{z}/{x}/{y}.mvt",
    dependencies=[ReadAccess],
    response_class=Response,
    responses=_MVT_DOC,
    summary="One vector tile",
)
async def vector_tile(
    scenario_id: ScenarioId,
    layer: str,
    *,
    z: Annotated[int, Path(ge=0, le=maps.MAX_ZOOM)],
    x: Annotated[int, Path(ge=0)],
    y: Annotated[int, Path(ge=0)],
    request: Request,
    units: UnitsParam = "communities",
    standard: StandardParam = DEFAULT_STANDARD,
    v: Annotated[
        str | None, Query(description="The layer version (TileJSON's); tiles of it are immutable")
    ] = None,
) -> Response:
    """Tile ``z/x/y`` of ``layer`` (Web Mercator, extent 4096); 204 when no feature meets it.

    A tile beyond its zoom's grid (``x`` or ``y`` from ``2**z``) does not exist: 404, as tile
    servers answer (the schema bounds each number, not one by another). Asked with the
    layer's current version ``v`` (TileJSON's URL), the tile is cached for a year as
    ``immutable``; otherwise for 5 minutes. ``If-None-Match`` with its ETag: 304.
    """
    try:
        maps.check_tile(z, x, y)
    except InputError as exc:
        raise NotFoundError(str(exc), key=exc.key, values=exc.values) from None

    def build() -> tuple[bytes, str]:
        tiled = _tiled(request, scenario_id, layer, units, standard)
        store = get_service(request).store
        source = tiled.source
        if isinstance(store, PostgresStore) and isinstance(source, maps.TileSource):
            name = _result_name(layer, units, standard)

            def make() -> bytes:
                return store.vector_tile(scenario_id, name, tiled.version, source, z=z, x=x, y=y)
        else:

            def make() -> bytes:
                return source.tile(z, x, y)

        return tiled.tiles.get((z, x, y), make), tiled.version

    tiled = await run_in_threadpool(_tiled, request, scenario_id, layer, units, standard)
    etag = f'"{tiled.version}-{z}-{x}-{y}"'
    lasting = "private, max-age=31536000, immutable" if v == tiled.version else "private, max-age=300"
    headers = {"ETag": etag, "Cache-Control": lasting}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    body, version = await run_in_threadpool(build)
    if version != tiled.version:  # re-scored meanwhile: the new version, briefly cached
        headers = {"ETag": f'"{version}-{z}-{x}-{y}"', "Cache-Control": "private, max-age=300"}
    if not body:
        return Response(status_code=204, headers=headers)
    return Response(body, media_type=maps.MVT_MEDIA_TYPE, headers=headers)
