"""Station districts: a network Voronoi of the road nodes, checked against GB 51080.

Every road node belongs to the station that reaches it fastest. A district's polygon is the
union of the (planar) Voronoi cells of its nodes, clipped to the study area with polygon
barriers (rivers) cut out. Each district is checked against

- the area cap of its station's grade (grade-1 7 km2, grade-2 4 km2, small 2 km2,
  suburban 15 km2; ``planning/data/response_standards.toml``), and
- the travel time to its farthest edge (4 min under GB 51080: 5 min minus 1 min turnout),
  where the edge of a district on a road shared with a neighbour is the meeting point of the
  two stations' engines.

Parts of a district apart from the part holding its station are *enclaves*: ``across_barrier``
when a barrier (river, expressway, railway) separates them from the main part, such as a
patch on the far bank of a river reached by one bridge; otherwise ``through_other_district``,
reached only by driving through another station's district.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from gis.errors import InputError
from gis.speech import say

from .names import DEFAULT_STANDARD
from .standards import ResponseStandard, district_caps_km2, response_standard
from .travel import RoadMatrix, TargetsBySources, road_matrix
from .words import grade_word

if TYPE_CHECKING:
    from gis.network.graph import GraphLike

__all__ = ["StationDistricts", "district_pixel_m", "station_districts"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
_VIOLATION_COLUMNS = ["station", "kind", "value", "limit", "unit", "message"]


@dataclass(frozen=True)
class StationDistricts:
    """Station districts and what breaks the code in them.

    Attributes
    ----------
    node_station
        Station id of every road node (in node order; None where no station reaches).
    districts
        One row per station: ``grade``, ``n_nodes``, ``area_km2``, ``cap_km2``,
        ``farthest_travel_s``, ``limit_travel_s``, ``n_enclaves``, ``area_ok``, ``travel_ok``
        and the district polygon.
    enclaves
        One row per enclave: ``station``, ``kind``, ``area_km2``, polygon.
    violations
        One row per violation: ``station``, ``kind`` (``area_cap``, ``district_travel``,
        ``enclave``), ``value``, ``limit``, ``unit`` and a readable ``message``.
    """

    node_station: pd.Series
    districts: gpd.GeoDataFrame
    enclaves: gpd.GeoDataFrame
    violations: pd.DataFrame


def _enclave_kind(kind: str) -> str:
    """An enclave's kind as the message words it (``across barrier`` / 隔着障碍)."""
    return (
        say("plan_enclave_across_barrier") if kind == "across_barrier" else say("plan_enclave_through_other")
    )


def _caps(grades: pd.Series, suburban: Iterable[object], caps: Mapping[str, float]) -> pd.Series:
    out = grades.map(lambda g: caps.get(str(g), np.nan)).astype(float)
    for sid in suburban:
        if sid not in out.index:
            msg = f"`suburban` names station {sid!r}, which is not in the stations. Fix: use station ids."
            raise InputError(msg)
        out[sid] = caps["suburban"]
    return out


def _farthest(
    own_t: FloatArray, owner: npt.NDArray[np.int64], k: int, uv: npt.NDArray[np.int64], w: FloatArray
) -> FloatArray:
    """Latest time each station reaches a point of its district, meeting points on shared edges included.

    ``own_t`` is the time of every node from its own station (``-inf`` where no station reaches).
    """
    reached = owner >= 0
    far = np.full(k, -np.inf)
    np.maximum.at(far, owner[reached], own_t[reached])
    u, v = uv[:, 0], uv[:, 1]
    shared = reached[u] & reached[v] & (owner[u] != owner[v])
    u, v, w = u[shared], v[shared], w[shared]
    # engines from both ends meet where their times are equal (the road assumed alike both ways)
    meet = np.clip((own_t[v] - own_t[u] + w) / 2.0, 0.0, w)
    np.maximum.at(far, owner[u], own_t[u] + meet)
    return far


@dataclass(frozen=True)
class _Voronoi:
    cells: npt.NDArray[np.object_]  # cell of each distinct node position
    first: npt.NDArray[np.int64]  # a node at each distinct position


# planar Voronoi cells of the road nodes depend on the node positions and the clip envelope only:
# built once per road matrix (the latest envelope kept), like its STRtree
_VORONOI: weakref.WeakKeyDictionary[RoadMatrix, tuple[tuple[float, ...], _Voronoi]] = (
    weakref.WeakKeyDictionary()
)


def _voronoi(m: RoadMatrix, region: shapely.Geometry) -> _Voronoi:
    # `extend_to` only sets the clip envelope, so the envelope is the whole key
    key = tuple(float(b) for b in shapely.bounds(region))
    hit = _VORONOI.get(m)
    if hit is not None and hit[0] == key:
        return hit[1]
    uniq, first = np.unique(m.xy, axis=0, return_index=True)
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(uniq), extend_to=region, ordered=True)
    )
    out = _Voronoi(cells, first.astype(np.int64))
    _VORONOI[m] = (key, out)
    return out


def _union_cells(cells: npt.NDArray[np.object_]) -> shapely.Geometry:
    """Union of adjacent Voronoi cells: a coverage union, or a full union where GEOS finds them badly noded.

    At province size (millions of cells, coordinates of 10^6 m) GEOS's Voronoi cells do not always
    share exact vertices, and the fast coverage union refuses them; the overlay union accepts them.
    """
    try:
        return shapely.coverage_union_all(cells)
    except shapely.errors.GEOSException:
        log.warning("district cells not exactly noded (%d cells): using the overlay union", len(cells))
        return shapely.union_all(cells)


#: Distinct road-node positions above which the district polygons are drawn from a raster of
#: nearest-node labels instead of the planar Voronoi diagram of every node (which took 9.7 GB of
#: memory at 3 M nodes); the assignment of nodes to stations is the same either way.
VORONOI_MAX_NODES = 500_000
#: Pixels of the district raster at most (its pixel grows from ``DISTRICT_PIXEL_M`` to keep to it).
DISTRICT_MAX_PIXELS = 16_000_000
#: Smallest pixel of the district raster, metres.
DISTRICT_PIXEL_M = 50.0
_QUERY_ROWS = 1_000_000  # pixel centres looked up in the node tree at once


def _cells(
    m: RoadMatrix, owner: npt.NDArray[np.int64], k: int, region: shapely.Geometry
) -> list[shapely.Geometry]:
    """Union of the planar Voronoi cells of each station's nodes, clipped to ``region``.

    Above :data:`VORONOI_MAX_NODES` distinct node positions, the pixels of a raster instead
    (:func:`_cells_raster`).
    """
    if m.n_nodes > VORONOI_MAX_NODES:
        uniq, first = np.unique(m.xy, axis=0, return_index=True)
        if len(uniq) > VORONOI_MAX_NODES:
            return _cells_raster(uniq, owner[first], k, region)
    vor = _voronoi(m, region)
    lab = owner[vor.first]
    order = np.argsort(lab, kind="stable")
    bounds = np.searchsorted(lab[order], np.arange(k + 1))
    out = []
    for s in range(k):
        mine = vor.cells[order[bounds[s] : bounds[s + 1]]]
        poly = _union_cells(mine) if len(mine) else shapely.Polygon()
        out.append(shapely.intersection(shapely.make_valid(poly), region))
    return out


def district_pixel_m(region: shapely.Geometry) -> float:
    """Pixel of the district raster over ``region``: at least 50 m, at most 16 M pixels in all."""
    x0, y0, x1, y1 = shapely.bounds(region)
    return float(max(DISTRICT_PIXEL_M, np.ceil(np.sqrt((x1 - x0) * (y1 - y0) / DISTRICT_MAX_PIXELS))))


def _cells_raster(
    xy: FloatArray, owner: npt.NDArray[np.int64], k: int, region: shapely.Geometry
) -> list[shapely.Geometry]:
    """Each station's district as the pixels whose centre lies in one of its nodes' Voronoi cells.

    ``xy``: the distinct node positions, ``owner``: the station of each (-1 where none).

    A pixel of :func:`district_pixel_m` belongs to the station of the road node nearest to its
    centre (a KD-tree query, the planar Voronoi diagram sampled at the pixel centres) if its
    centre is in ``region``; the pixels of each station are polygonised (GDAL's polygonize
    through ``rasterio.features.shapes``) and clipped to ``region``. Memory is the label raster
    (4 bytes a pixel) and the tree of the nodes, not a diagram of millions of cells. The area of
    a district differs from the Voronoi polygon's by the pixels its boundary cuts.
    """
    from rasterio import features
    from rasterio.transform import Affine
    from scipy.spatial import cKDTree

    pixel = district_pixel_m(region)
    x0, y0, x1, y1 = shapely.bounds(region)
    nx_, ny_ = max(1, int(np.ceil((x1 - x0) / pixel))), max(1, int(np.ceil((y1 - y0) / pixel)))
    affine = Affine(pixel, 0.0, x0, 0.0, -pixel, y0 + ny_ * pixel)  # row 0 at the top
    inside = features.rasterize(
        [(region, 1)], out_shape=(ny_, nx_), transform=affine, fill=0, dtype="uint8"
    ).astype(bool)  # pixels whose centre is in the region
    tree = cKDTree(xy)
    label = np.full(ny_ * nx_, -1, dtype=np.int32)
    flat = np.flatnonzero(inside.ravel())
    del inside
    cx = x0 + (np.arange(nx_) + 0.5) * pixel
    cy = y0 + ny_ * pixel - (np.arange(ny_) + 0.5) * pixel
    for b in range(0, len(flat), _QUERY_ROWS):
        ids = flat[b : b + _QUERY_ROWS]
        _, nearest = tree.query(np.column_stack([cx[ids % nx_], cy[ids // nx_]]), workers=-1)
        label[ids] = owner[nearest]
    del tree, flat
    grid = label.reshape(ny_, nx_)
    pieces: list[list[shapely.Geometry]] = [[] for _ in range(k)]
    for geom, value in features.shapes(grid, mask=grid >= 0, transform=affine, connectivity=4):
        pieces[int(value)].append(shapely.geometry.shape(geom))
    out = []
    for s in range(k):
        if not pieces[s]:
            out.append(shapely.Polygon())
            continue
        poly = shapely.union_all(pieces[s]) if len(pieces[s]) > 1 else pieces[s][0]
        near = shapely.clip_by_rect(region, *shapely.bounds(poly))  # cheap: the region near it only
        out.append(shapely.intersection(poly, near))
    log.info("districts: %d x %d raster of %g m pixels", nx_, ny_, pixel)
    return out


def station_districts(
    graph: GraphLike,
    stations: pd.DataFrame,
    *,
    standard: str | ResponseStandard = DEFAULT_STANDARD,
    speed_factor: float = 1.0,
    extent: shapely.Geometry | None = None,
    barriers: gpd.GeoDataFrame | None = None,
    suburban: Iterable[object] = (),
    caps_km2: Mapping[str, float] | None = None,
    edge_weight: str = "travel_time_s",
    node_times: TargetsBySources | None = None,
) -> StationDistricts:
    """Assign every road node to its fastest station and check each district.

    Parameters
    ----------
    graph
        Road graph in a metric CRS.
    stations
        Indexed by station id, with columns ``node`` (snapped road node) and ``grade``.
    standard
        Response profile (:class:`~planning.standards.ResponseStandard`: turnout plus the travel
        time allowed for the first engine), by name (``cn-gb51080``, ``nfpa-1710``, ...) or as
        given; its ``district_travel_s`` bounds the travel to the district edge.
    speed_factor
        Engine speed relative to the edge speeds.
    extent
        Area the districts cover (the study area); default: hull of the road nodes plus 200 m.
    barriers
        Barriers (river polygons cut out of ``extent``; lines and polygons both separate
        enclaves ``across_barrier``).
    suburban
        Station ids whose districts take the suburban cap (15 km2).
    caps_km2
        Area cap by grade (default: :func:`planning.standards.district_caps_km2`).
    edge_weight
        Edge attribute to minimise (seconds).
    node_times
        Precomputed ``(n, len(stations))`` travel times at speed factor 1.

    Returns
    -------
    StationDistricts

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from gis import graph_from_lines
    >>> from planning.snapping import snap_stations
    >>> graph = graph_from_lines(city["roads"])
    >>> st = city["fire_stations"]
    >>> st["node"] = snap_stations(graph, st)["node"]
    >>> d = station_districts(graph, st, barriers=city["barriers"])
    >>> len(d.districts), bool((d.districts["area_km2"] > 0).all())
    (6, True)
    """
    return _station_districts(
        road_matrix(graph, edge_weight=edge_weight),
        stations,
        standard=standard,
        speed_factor=speed_factor,
        extent=extent,
        barriers=barriers,
        suburban=suburban,
        caps_km2=caps_km2,
        node_times=node_times,
    )


def _station_districts(
    m: RoadMatrix,
    stations: pd.DataFrame,
    *,
    standard: str | ResponseStandard,
    speed_factor: float,
    extent: shapely.Geometry | None,
    barriers: gpd.GeoDataFrame | None,
    suburban: Iterable[object],
    caps_km2: Mapping[str, float] | None,
    node_times: TargetsBySources | None,
    nearest: tuple[FloatArray, npt.NDArray[np.int64]] | None = None,
) -> StationDistricts:
    """:func:`station_districts` on a road matrix already looked up.

    ``nearest``: the multi-source search instead of ``node_times`` (the travel cost of every
    node from its nearest station at speed factor 1, and that station's position, -1 where
    none): the districts without the stations x nodes matrix.
    """
    std = response_standard(standard)
    if speed_factor <= 0:
        msg = f"`speed_factor` is {speed_factor}. Fix: give a positive factor."
        raise InputError(msg)
    missing = {"node", "grade"} - set(stations.columns)
    if missing:
        msg = f"`stations` lacks columns {sorted(missing)}. Fix: snap them (`node`) and give each a `grade`."
        raise InputError(msg)
    k = len(stations)
    if nearest is not None:
        cost, owner = nearest[0], np.asarray(nearest[1], dtype=np.int64)
        # min over stations commutes with the division: the owner's time, as from the full matrix
        own_t = np.where(owner >= 0, cost / speed_factor, -np.inf)
    else:
        if node_times is None:
            node_times = m.one_to_all(m.positions(stations["node"].tolist()))
        times = node_times / speed_factor
        owner = np.where(np.isfinite(times).any(axis=1), np.argmin(times, axis=1), -1).astype(np.int64)
        own_t = np.where(owner >= 0, times[np.arange(len(owner)), np.maximum(owner, 0)], -np.inf)
    ids = stations.index
    far = _farthest(own_t, owner, k, m.edge_uv, m.edge_cost / speed_factor)

    if extent is None:
        extent = shapely.convex_hull(shapely.multipoints(m.xy)).buffer(200.0)
    region = extent
    if barriers is not None and len(barriers):
        bgeom = barriers.to_crs(m.crs).geometry.to_numpy() if m.crs else barriers.geometry.to_numpy()
        polys = bgeom[np.isin(shapely.get_type_id(bgeom), [3, 6])]
        if len(polys):
            region = shapely.difference(extent, shapely.union_all(polys))
        barrier_union = shapely.union_all(bgeom)
    else:
        barrier_union = None
    polys_by_station = _cells(m, owner, k, region)

    caps = _caps(stations["grade"], suburban, caps_km2 or district_caps_km2())
    rows, enclave_rows, violations = [], [], []
    for s, sid in enumerate(ids):
        poly = polys_by_station[s]
        parts = shapely.get_parts(poly)
        parts = parts[shapely.area(parts) > 0]
        home = shapely.points(m.xy[m.positions([stations["node"].iloc[s]])[0]])
        main = int(np.argmin(shapely.distance(parts, home))) if len(parts) else -1
        for j, part in enumerate(parts):
            if j == main:
                continue
            gap = shapely.shortest_line(part, parts[main])
            crosses = barrier_union is not None and bool(shapely.intersects(gap, barrier_union))
            kind = "across_barrier" if crosses else "through_other_district"
            enclave_rows.append((sid, kind, part.area / 1e6, part))
            violations.append(
                (
                    sid,
                    "enclave",
                    part.area / 1e6,
                    0.0,
                    "km2",
                    say("plan_enclave", station=sid, km2=f"{part.area / 1e6:.3f}", kind=_enclave_kind(kind)),
                )
            )
        area = poly.area / 1e6
        cap = caps.iloc[s]
        n_enc = len(parts) - 1 if len(parts) else 0
        area_ok = bool(np.isnan(cap) or area <= cap)
        travel_ok = bool(far[s] <= std.district_travel_s)
        if not area_ok:
            violations.append(
                (
                    sid,
                    "area_cap",
                    area,
                    cap,
                    "km2",
                    say(
                        "plan_area_cap",
                        station=sid,
                        grade=grade_word(stations["grade"].iloc[s]),
                        km2=f"{area:.2f}",
                        cap=f"{cap:g}",
                    ),
                )
            )
        if not travel_ok:
            violations.append(
                (
                    sid,
                    "district_travel",
                    far[s],
                    std.district_travel_s,
                    "s",
                    say(
                        "plan_district_travel",
                        station=sid,
                        seconds=f"{far[s]:.0f}",
                        limit=f"{std.district_travel_s:.0f}",
                        standard=std.name,
                    ),
                )
            )
        rows.append(
            (
                sid,
                stations["grade"].iloc[s],
                int((owner == s).sum()),
                area,
                cap,
                far[s],
                std.district_travel_s,
                n_enc,
                area_ok,
                travel_ok,
                poly,
            )
        )
    cols = [
        "station",
        "grade",
        "n_nodes",
        "area_km2",
        "cap_km2",
        "farthest_travel_s",
        "limit_travel_s",
        "n_enclaves",
        "area_ok",
        "travel_ok",
        "geometry",
    ]
    districts = gpd.GeoDataFrame(rows, columns=cols, geometry="geometry", crs=m.crs).set_index("station")
    enclaves = gpd.GeoDataFrame(
        enclave_rows, columns=["station", "kind", "area_km2", "geometry"], geometry="geometry", crs=m.crs
    )
    labels = np.asarray(ids, dtype=object)[np.maximum(owner, 0)]
    labels[owner < 0] = None
    node_station = pd.Series(labels, index=pd.Index(m.nodes, name="node"), name="station")
    log.info("districts: %d stations, %d violations, %d enclaves", k, len(violations), len(enclave_rows))
    return StationDistricts(
        node_station, districts, enclaves, pd.DataFrame(violations, columns=_VIOLATION_COLUMNS)
    )
