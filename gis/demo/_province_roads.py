"""Roads between the places of the demo province (private).

The country roads form a planar network on the places and the cities' portals: the Gabriel
graph of their Delaunay triangulation on the plains and its sparser relative neighbourhood
graph in the mountains, plus a minimum spanning tree so that nothing is cut off, never
through a city. Routes between bigger places pick the road classes: national roads
(``trunk``) along the shortest paths between neighbouring cities and county towns, provincial
roads (``secondary``) between county towns and townships, county roads (``tertiary``) between
townships and the biggest villages; the rest are village roads (``unclassified``). Each road is
drawn with a bow and a wiggle, winding in the mountains. Expressways (``motorway``, two-way) join
neighbouring cities (their Gabriel graph) and cross the country roads without junctions except
the national roads (interchanges). A stub continues each city gate (an arterial end at its edge) to its portal
outside the city; coal mines get access roads (``service``) from the nearest country road.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import Delaunay, cKDTree

from ._hazards import _spaced
from ._province_cities import CityResult
from ._province_places import CLASSES, COUNTY, TOWNSHIP, VILLAGE, Places, Streets

__all__ = ["CountryRoads", "build_country_roads", "gabriel_neighbours", "relative_neighbours"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

MOTORWAY, TRUNK, PRIMARY, SECONDARY, TERTIARY, UNCLASSIFIED, RESIDENTIAL, SERVICE = range(len(CLASSES))


@dataclass(frozen=True)
class CountryRoads:
    """The roads between places (not the places' own streets), before noding."""

    streets: Streets
    mines: FloatArray  # (n, 2) mine sites
    mine_field: IntArray  # coalfield of each mine


def _delaunay_edges(xy: FloatArray) -> IntArray:
    tri = Delaunay(xy)
    s = tri.simplices
    e = np.concatenate([s[:, [0, 1]], s[:, [1, 2]], s[:, [2, 0]]])
    e.sort(axis=1)
    return np.unique(e, axis=0).astype(np.int64)


def _gabriel(xy: FloatArray, e: IntArray, tree: cKDTree) -> BoolArray:
    mid = (xy[e[:, 0]] + xy[e[:, 1]]) / 2
    r = np.hypot(*(xy[e[:, 0]] - xy[e[:, 1]]).T) / 2
    return tree.query_ball_point(mid, r * (1 - 1e-9), return_length=True) == 0


def _relative(xy: FloatArray, e: IntArray, tree: cKDTree) -> BoolArray:
    a, b = xy[e[:, 0]], xy[e[:, 1]]
    d = np.hypot(*(a - b).T)
    near = tree.query_ball_point((a + b) / 2, d * 0.8661)
    ok = np.ones(len(e), bool)
    for k, cand in enumerate(near):
        c = np.asarray(cand, dtype=np.int64)
        c = c[(c != e[k, 0]) & (c != e[k, 1])]
        if c.size:
            da = np.hypot(*(xy[c] - a[k]).T)
            db = np.hypot(*(xy[c] - b[k]).T)
            ok[k] = not bool((np.maximum(da, db) < d[k]).any())
    return ok


def _neighbours(xy: FloatArray, *, gabriel: bool) -> IntArray:
    if len(xy) < 2:
        return np.zeros((0, 2), np.int64)
    if len(xy) < 4:
        e = np.array([(i, j) for i in range(len(xy)) for j in range(i + 1, len(xy))], dtype=np.int64)
    else:
        e = _delaunay_edges(xy)
    tree = cKDTree(xy)
    return e[_gabriel(xy, e, tree) if gabriel else _relative(xy, e, tree)]


def relative_neighbours(xy: FloatArray) -> IntArray:
    """Edges ``(i, j)`` of the relative neighbourhood graph of the points ``xy``."""
    return _neighbours(xy, gabriel=False)


def gabriel_neighbours(xy: FloatArray) -> IntArray:
    """Edges ``(i, j)`` of the Gabriel graph of the points ``xy``."""
    return _neighbours(xy, gabriel=True)


def _shape(
    a: FloatArray,
    b: FloatArray,
    *,
    spacing: FloatArray,
    bow: FloatArray,
    amp: FloatArray,
    wavelength: FloatArray,
    rng: np.random.Generator,
) -> tuple[FloatArray, IntArray]:
    """Polylines from ``a`` to ``b`` (exact ends) with a bow and a wiggle; packed coordinates."""
    vec = b - a
    length = np.hypot(*vec.T)
    n = np.maximum(np.ceil(length / spacing), 1).astype(np.int64)
    counts = n + 1
    line = np.repeat(np.arange(len(a)), counts)
    k = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    t = k / n[line]
    unit = vec / np.maximum(length, 1e-9)[:, None]
    normal = np.column_stack([-unit[:, 1], unit[:, 0]])
    side = rng.uniform(-1.0, 1.0, len(a)) * bow * length
    wig = np.minimum(amp, 0.1 * length) * rng.uniform(0.5, 1.0, len(a))
    phase = rng.uniform(0.0, 2 * math.pi, len(a))
    env = np.sin(math.pi * t)
    off = env * (
        side[line] + wig[line] * np.sin(2 * math.pi * t * length[line] / wavelength[line] + phase[line])
    )
    xy = a[line] + t[:, None] * vec[line] + off[:, None] * normal[line]
    ends = np.cumsum(counts) - 1
    xy[ends] = b
    xy[ends - counts + 1] = a
    return xy, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def _straight_where(
    xy: FloatArray, off: IntArray, a: FloatArray, b: FloatArray, bad: BoolArray
) -> tuple[FloatArray, IntArray]:
    counts = np.diff(off)
    counts = np.where(bad, 2, counts)
    out = np.empty((int(counts.sum()), 2))
    new_off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    keep = np.repeat(~bad, np.diff(off))
    pos_keep = np.repeat(~bad, counts)
    out[pos_keep] = xy[keep]
    out[new_off[:-1][bad]] = a[bad]
    out[new_off[1:][bad] - 1] = b[bad]
    return out, new_off


def _routes(
    n: int,
    e: IntArray,
    length: FloatArray,
    pairs: list[tuple[int, int]],
) -> list[IntArray]:
    """Edge indices of the shortest path (by length) for each ``(source, target)`` anchor pair.

    Edges ``e`` are ``(u, v)`` rows with ``u < v``; an unreachable target gives an empty path.
    All paths are walked back from their targets at once, one predecessor step per round.
    """
    if not pairs:
        return []
    g = sparse.coo_matrix((length, (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
    edge_key = e[:, 0] * n + e[:, 1]
    by_key = np.argsort(edge_key, kind="stable")
    sources, src_row = np.unique(np.array([s for s, _ in pairs], dtype=np.int64), return_inverse=True)
    _, pred = csgraph.dijkstra(g, directed=False, indices=sources, return_predecessors=True)
    target = np.array([t for _, t in pairs], dtype=np.int64)
    source = sources[src_row]
    cur = target.copy()
    ok = np.ones(len(pairs), bool)
    steps_pair, steps_edge = [], []
    active = np.flatnonzero(cur != source)
    while active.size:
        v = cur[active]
        u = pred[src_row[active], v].astype(np.int64)
        lost = u < 0
        ok[active[lost]] = False
        active, u, v = active[~lost], u[~lost], v[~lost]
        key = np.minimum(u, v) * n + np.maximum(u, v)
        steps_pair.append(active)
        steps_edge.append(by_key[np.searchsorted(edge_key, key, sorter=by_key)])
        cur[active] = u
        active = active[u != source[active]]
    which = np.concatenate(steps_pair) if steps_pair else np.zeros(0, np.int64)
    edges = np.concatenate(steps_edge) if steps_edge else np.zeros(0, np.int64)
    order = np.argsort(which, kind="stable")  # per pair, in the order walked (target first)
    which, edges = which[order], edges[order]
    bounds = np.searchsorted(which, np.arange(len(pairs) + 1))
    return [edges[bounds[k] : bounds[k + 1]] if ok[k] else np.zeros(0, np.int64) for k in range(len(pairs))]


def build_country_roads(
    places: Places,
    cities: list[CityResult],
    pp: Mapping[str, Any],
    *,
    mountains: shapely.Geometry,
    rng: np.random.Generator,
) -> CountryRoads:
    """Country roads, expressways, city stubs and mine access roads of the province."""
    r, shape = pp["roads"], pp["roads"]["shape"]
    portals = [c.portals for c in cities]
    portal_city = np.concatenate([np.full(len(p), k) for k, p in enumerate(portals)]).astype(np.int64)
    xy = np.concatenate([places.xy, *portals])
    n_places = len(places)
    boxes = shapely.buffer(
        np.array([c.square for c in cities], dtype=object), float(r["city_clearance_m"]), join_style="mitre"
    )
    city_zone = shapely.union_all(boxes)
    shapely.prepare(city_zone)

    # The planar network: Delaunay edges not through a city, Gabriel / RNG plus a spanning tree.
    e = _delaunay_edges(xy)
    seg = shapely.linestrings(np.stack([xy[e[:, 0]], xy[e[:, 1]]], axis=1))
    e = e[~shapely.intersects(city_zone, seg)]
    length = np.hypot(*(xy[e[:, 0]] - xy[e[:, 1]]).T)
    tree = cKDTree(xy)
    mid = (xy[e[:, 0]] + xy[e[:, 1]]) / 2
    in_mtn = shapely.contains_xy(mountains, mid[:, 0], mid[:, 1])
    keep = _gabriel(xy, e, tree) & (length <= float(r["max_edge_km"]) * 1000.0)
    keep[in_mtn] &= _relative(xy, e[in_mtn], tree)
    g = sparse.coo_matrix((length, (e[:, 0], e[:, 1])), shape=(len(xy), len(xy))).tocsr()
    mst = sparse.triu(csgraph.minimum_spanning_tree(g) + csgraph.minimum_spanning_tree(g).T).tocoo()
    on_tree = {(int(u), int(v)) for u, v in zip(mst.row, mst.col, strict=True)}
    keep |= np.array([(int(u), int(v)) in on_tree for u, v in e], dtype=bool)
    e, length, in_mtn = e[keep], length[keep], in_mtn[keep]

    # Road classes from routes between neighbouring bigger places.
    code = np.full(len(e), UNCLASSIFIED, np.int8)
    names: list[str | None] = [None] * len(e)
    centres = np.array([c.square.centroid.coords[0] for c in cities])

    def anchor(node: int, towards: FloatArray) -> int:
        """The anchor of a route end: the place, or the city's portal nearest ``towards``."""
        if node < n_places:
            return node
        k = node - n_places
        idx = np.flatnonzero(portal_city == k)
        return n_places + int(idx[np.argmin(np.hypot(*(portals[k] - towards).T))])

    village = places.tier == VILLAGE
    share = float(pp["townships"]["central_village_share"])
    cut = np.quantile(places.population[village], 1.0 - share) if village.any() and share > 0 else np.inf
    central = village & (places.population >= cut) if share > 0 else np.zeros(len(places), bool)
    levels: list[tuple[int, list[tuple[str, Any]]]] = [
        (
            TRUNK,
            [("city", k) for k in range(len(cities))]
            + [("place", i) for i in np.flatnonzero(places.tier == COUNTY)],
        ),
        (
            SECONDARY,
            [("place", i) for i in np.flatnonzero((places.tier == COUNTY) | (places.tier == TOWNSHIP))],
        ),
        (TERTIARY, [("place", i) for i in np.flatnonzero((places.tier == TOWNSHIP) | central)]),
    ]
    number = {TRUNK: 301, SECONDARY: 201, TERTIARY: 1}
    pattern = {
        TRUNK: r["names"]["trunk"],
        SECONDARY: r["names"]["secondary"],
        TERTIARY: r["names"]["tertiary"],
    }
    for cls, members in levels:
        pts = np.array([centres[m] if kind == "city" else places.xy[m] for kind, m in members])
        nodes = [n_places + m if kind == "city" else int(m) for kind, m in members]
        pairs = []
        for u, v in relative_neighbours(pts):
            pairs.append((anchor(nodes[u], pts[v]), anchor(nodes[v], pts[u])))
        for path in _routes(len(xy), e, length, pairs):
            if path.size == 0:
                continue
            free = path[code[path] > cls]
            if free.size == 0:
                continue
            name = pattern[cls].format(n=number[cls])
            number[cls] += 1
            code[free] = cls
            for k in free:
                names[int(k)] = name

    a, b = xy[e[:, 0]], xy[e[:, 1]]
    pick = np.where(in_mtn, 1, 0)
    sp = np.array([shape["plain_vertex_spacing_m"], shape["mountain_vertex_spacing_m"]], dtype=float)[pick]
    bow = np.array([shape["plain_bow_share"], shape["mountain_bow_share"]], dtype=float)[pick]
    amp = np.array([shape["plain_amplitude_m"], shape["mountain_amplitude_m"]], dtype=float)[pick]
    wl = np.array([shape["plain_wavelength_m"], shape["mountain_wavelength_m"]], dtype=float)[pick]
    rxy, roff = _shape(a, b, spacing=sp, bow=bow, amp=amp, wavelength=wl, rng=rng)
    country = Streets(rxy, roff, code, np.full(len(e), -1, np.int64), names)
    bad = shapely.intersects(city_zone, country.geoms())
    if bad.any():
        rxy, roff = _straight_where(rxy, roff, a, b, bad)
        country = Streets(rxy, roff, code, country.place, names)

    parts = [country, _expressways(cities, centres, city_zone, pp, rng), _stubs(cities)]
    mines, field = _mine_sites(places, cities, pp, rng)
    spurs, mines, field = _mine_roads(country, mines, field, city_zone=city_zone, pp=pp, rng=rng)
    parts.append(spurs)
    return CountryRoads(Streets.concat(parts), mines, field)


def _expressways(
    cities: list[CityResult],
    centres: FloatArray,
    city_zone: shapely.Geometry,
    pp: Mapping[str, Any],
    rng: np.random.Generator,
) -> Streets:
    shape = pp["roads"]["shape"]
    a_list, b_list = [], []
    for u, v in gabriel_neighbours(centres):
        # the closest pair of portals whose straight line keeps out of every city
        pu, pv = cities[u].portals, cities[v].portals
        gu, gv = np.meshgrid(np.arange(len(pu)), np.arange(len(pv)), indexing="ij")
        iu, iv = gu.ravel(), gv.ravel()
        seg = shapely.linestrings(np.stack([pu[iu], pv[iv]], axis=1))
        clear = np.flatnonzero(~shapely.intersects(city_zone, seg))
        if clear.size == 0:
            continue
        best = clear[np.argmin(np.hypot(*(pu[iu[clear]] - pv[iv[clear]]).T))]
        a_list.append(pu[iu[best]])
        b_list.append(pv[iv[best]])
    if not a_list:
        return Streets.empty()
    a, b = np.array(a_list), np.array(b_list)
    n = len(a)
    xy, off = _shape(
        a,
        b,
        spacing=np.full(n, float(shape["expressway_vertex_spacing_m"])),
        bow=np.full(n, float(shape["expressway_bow_share"])),
        amp=np.zeros(n),
        wavelength=np.ones(n),
        rng=rng,
    )
    lines = shapely.linestrings(xy, indices=np.repeat(np.arange(n), np.diff(off)))
    # An expressway keeps out of every city, its own two included (it starts at portals
    # outside them): one whose bow would enter a city is drawn straight.
    xy, off = _straight_where(xy, off, a, b, shapely.intersects(city_zone, lines))
    return Streets(
        xy,
        off,
        np.full(n, MOTORWAY, np.int8),
        np.full(n, -1, np.int64),
        [str(pp["roads"]["names"]["expressway"]).format(n=91 + k) for k in range(n)],
    )


def _stubs(cities: list[CityResult]) -> Streets:
    gates = np.concatenate([c.gates for c in cities])
    portals = np.concatenate([c.portals for c in cities])
    n = len(gates)
    xy = np.empty((2 * n, 2))
    xy[0::2], xy[1::2] = gates, portals
    return Streets(
        xy,
        np.arange(0, 2 * n + 1, 2, dtype=np.int64),
        np.full(n, PRIMARY, np.int8),
        np.full(n, -1, np.int64),
        [None] * n,
    )


def _mine_sites(
    places: Places, cities: list[CityResult], pp: Mapping[str, Any], rng: np.random.Generator
) -> tuple[FloatArray, IntArray]:
    hp = pp["hazards"]
    d_min = float(hp["min_spacing_m"])
    # city squares (1 km margin) and place squares (300 m margin): mines stay out of them
    big = places.side > 0
    half = places.side[big, None] / 2 + 300.0
    boxes = np.concatenate(
        [
            np.array([np.add(c.square.bounds, [-1000.0, -1000.0, 1000.0, 1000.0]) for c in cities]),
            np.column_stack([places.xy[big] - half, places.xy[big] + half]),
        ]
    )
    tree = shapely.STRtree(shapely.box(boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]))
    mines, field = [], []
    taken: list[FloatArray] = []
    for k, spec in enumerate(hp["coalfields"]):
        n = int(spec["count"])
        cx, cy = (float(v) * 1000.0 for v in spec["centre_km"])
        radius = float(spec["radius_km"]) * 1000.0
        m = 30 * n
        rho = radius * np.sqrt(rng.random(m))
        phi = rng.uniform(0.0, 2 * math.pi, m)
        cand = np.column_stack([cx + rho * np.cos(phi), cy + rho * np.sin(phi)])
        inside = np.zeros(len(cand), bool)
        inside[tree.query(shapely.points(cand), predicate="intersects")[0]] = True
        cand = cand[~inside]
        xy = _spaced(cand, n, d_min, taken)
        taken.extend(xy)
        mines.append(xy)
        field.append(np.full(len(xy), k))
    if not mines:
        return np.zeros((0, 2)), np.zeros(0, np.int64)
    return np.concatenate(mines), np.concatenate(field).astype(np.int64)


def _mine_roads(
    country: Streets,
    mines: FloatArray,
    field: IntArray,
    *,
    city_zone: shapely.Geometry,
    pp: Mapping[str, Any],
    rng: np.random.Generator,
) -> tuple[Streets, FloatArray, IntArray]:
    """Access roads from a near country-road vertex towards each mine, and the mines.

    The road starts at the nearest of the 8 nearest vertices whose straight line to the mine
    stays out of the cities (a mine without one is dropped). A mine lies ``mine_offset_m``
    beyond the end of its road (moved out where the road would be shorter than 60 m).
    """
    if len(mines) == 0:
        return Streets.empty(), mines, field
    hp = pp["hazards"]
    vertices = country.xy
    k = min(8, len(vertices))
    _, near = cKDTree(vertices).query(mines, k=k)
    near = near.reshape(len(mines), k)
    choice = np.full(len(mines), -1, np.int64)
    for j in range(k):
        todo = choice < 0
        if not todo.any():
            break
        seg = shapely.linestrings(np.stack([vertices[near[todo, j]], mines[todo]], axis=1))
        clear = ~shapely.intersects(city_zone, seg)
        choice[np.flatnonzero(todo)[clear]] = near[todo, j][clear]
    ok = choice >= 0
    mines, field, start = mines[ok], field[ok], vertices[choice[ok]]
    vec = mines - start
    dist = np.hypot(*vec.T)
    unit = vec / np.maximum(dist, 1e-9)[:, None]
    reach = np.maximum(dist - float(hp["mine_offset_m"]), 60.0)
    end = start + unit * reach[:, None]
    n = len(mines)
    xy, off = _shape(
        start,
        end,
        spacing=np.full(n, float(hp["spur_vertex_spacing_m"])),
        bow=np.full(n, 0.05),
        amp=np.full(n, 30.0),
        wavelength=np.full(n, 300.0),
        rng=rng,
    )
    bad = shapely.intersects(
        city_zone, shapely.linestrings(xy, indices=np.repeat(np.arange(n), np.diff(off)))
    )
    xy, off = _straight_where(xy, off, start, end, bad)
    streets = Streets(xy, off, np.full(n, SERVICE, np.int8), np.full(n, -1, np.int64), [None] * n)
    return streets, end + unit * float(hp["mine_offset_m"]), field
