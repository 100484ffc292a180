"""Road network of the demo city: lattice streets, ring expressway, hill roads (private).

Streets are held as sequences of vertex ids into one coordinate array, so a vertex shared
by two streets has bit-identical coordinates in both. Each street is one long polyline
holding every graph node it passes (intersections); straight pass-through vertices are
dropped. The ring expressway shares vertices with primary arterials at interchanges only.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from ._lattice import (
    BRIDGE,
    HIGHWAY_CLASSES,
    MOTORWAY,
    PRIMARY,
    RESIDENTIAL,
    SECONDARY,
    SERVICE,
    TERTIARY,
    Lattice,
    calibrated_lattice,
    class_code,
)
from ._layout import HILLS, OLD_TOWN, ZONES, Layout

__all__ = ["RoadResult", "build_roads"]

logger = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
AXIS_ROW, AXIS_COL, AXIS_RING, AXIS_HILL = range(4)
_NODE_CLEARANCE_M = 1.0  # an interchange keeps this far from the lattice nodes beside it


@dataclass(frozen=True)
class RoadResult:
    """Roads in local metres plus what the other layers are placed from."""

    roads: gpd.GeoDataFrame
    arterial_nodes: FloatArray  # (n, 2) graph nodes on primary / secondary roads
    mine_sites: FloatArray  # (n, 2) ends of the mine access roads, pushed a little further
    n_nodes: int


@dataclass(frozen=True)
class _Streets:
    """Streets as vertex ids: ``ids`` concatenated, ``run`` = street of each vertex."""

    ids: IntArray
    run: IntArray
    code: npt.NDArray[np.int8]  # per street
    axis: IntArray
    line: IntArray  # lattice line index, or hill-road number

    def select(self, keep: npt.NDArray[np.bool_]) -> _Streets:
        vkeep = keep[self.run]
        new_run = np.cumsum(keep) - 1
        return _Streets(
            self.ids[vkeep], new_run[self.run[vkeep]], self.code[keep], self.axis[keep], self.line[keep]
        )

    def edges(self) -> tuple[IntArray, IntArray, IntArray]:
        same = self.run[:-1] == self.run[1:]
        return self.ids[:-1][same], self.ids[1:][same], self.run[:-1][same]


def _runs(codes: npt.NDArray[np.int8]) -> tuple[IntArray, IntArray, IntArray, npt.NDArray[np.int8]]:
    """Maximal runs of equal non-zero codes along each row: (row, first seg, last seg, code)."""
    prev = np.zeros_like(codes)
    nxt = np.zeros_like(codes)
    prev[:, 1:], nxt[:, :-1] = codes[:, :-1], codes[:, 1:]
    nz = codes != 0
    ls, ss = np.nonzero(nz & (prev != codes))
    _, se = np.nonzero(nz & (nxt != codes))
    return ls, ss, se, codes[ls, ss]


def _ragged(starts: IntArray, counts: IntArray, step: int) -> IntArray:
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(starts, counts) + step * (np.arange(int(counts.sum())) - offsets)


def _pack(seqs: list[IntArray], codes: list[int], axis: int, lines: list[int]) -> _Streets:
    counts = np.array([len(s) for s in seqs], dtype=np.int64)
    return _Streets(
        np.concatenate(seqs).astype(np.int64) if seqs else np.zeros(0, np.int64),
        np.repeat(np.arange(len(seqs)), counts),
        np.array(codes, dtype=np.int8),
        np.full(len(seqs), axis, dtype=np.int64),
        np.array(lines, dtype=np.int64),
    )


def _concat(parts: list[_Streets]) -> _Streets:
    offsets = np.cumsum([0] + [len(p.code) for p in parts[:-1]])
    return _Streets(
        np.concatenate([p.ids for p in parts]),
        np.concatenate([p.run + o for p, o in zip(parts, offsets, strict=True)]),
        np.concatenate([p.code for p in parts]),
        np.concatenate([p.axis for p in parts]),
        np.concatenate([p.line for p in parts]),
    )


def _lattice_streets(lat: Lattice) -> _Streets:
    nx = lat.shape[1]
    node = lat.is_node.ravel()
    parts = []
    for axis, codes, step in ((AXIS_ROW, lat.h, 1), (AXIS_COL, lat.v, nx)):
        line, s0, s1, code = _runs(codes)
        first = line * nx + s0 if axis == AXIS_ROW else s0 * nx + line
        counts = s1 - s0 + 2
        ids = _ragged(first, counts, step)
        run = np.repeat(np.arange(len(line)), counts)
        keep = node[ids]
        parts.append(_Streets(ids[keep], run[keep], code, np.full(len(line), axis), line))
    return _concat(parts)


class _Extra:
    """Vertices that are not lattice nodes (ring, interchanges, hill roads)."""

    def __init__(self, first_id: int) -> None:
        self.first_id = first_id
        self.xy: list[FloatArray] = []
        self.n = 0

    def add(self, xy: FloatArray) -> IntArray:
        xy = np.atleast_2d(np.asarray(xy, dtype=np.float64))
        ids = self.first_id + self.n + np.arange(len(xy))
        self.xy.append(xy)
        self.n += len(xy)
        return ids

    def coords(self) -> FloatArray:
        return np.concatenate(self.xy) if self.xy else np.zeros((0, 2))


def _interchanges(
    lat: Lattice, layout: Layout, classes: list[str], extra: _Extra
) -> tuple[list[tuple[int, int, int, int]], list[tuple[float, int]]]:
    """Points where the ring meets the chosen arterials: insertions and (angle, id) pairs."""
    nx = lat.shape[1]
    cx, cy = layout.ring_centre
    radius = layout.ring_radius
    wanted = {class_code(c) for c in classes}
    inserts: list[tuple[int, int, int, int]] = []
    ring_nodes: list[tuple[float, int]] = []
    for axis, info, other, codes in (
        (AXIS_COL, lat.cols, lat.rows, lat.v),
        (AXIS_ROW, lat.rows, lat.cols, lat.h),
    ):
        centre, centre_other = (cx, cy) if axis == AXIS_COL else (cy, cx)
        for li in np.flatnonzero(info.is_art):
            d = info.pos[li] - centre
            if abs(d) >= radius:
                continue
            for sign in (-1.0, 1.0):
                t = centre_other + sign * math.sqrt(radius**2 - d**2)
                k = int(np.searchsorted(other.pos, t)) - 1
                if k < 0 or k + 1 >= len(other.pos) or int(codes[li, k]) not in wanted:
                    continue
                a = k * nx + li if axis == AXIS_COL else li * nx + k
                b = a + (nx if axis == AXIS_COL else 1)
                along = 1 if axis == AXIS_COL else 0
                ta, tb = lat.coords[a, along], lat.coords[b, along]
                if not ta < t < tb:
                    continue
                # Never at a lattice node, where local streets may meet the arterial too.
                t = min(max(t, ta + _NODE_CLEARANCE_M), tb - _NODE_CLEARANCE_M)
                x, y = (info.pos[li], t) if axis == AXIS_COL else (t, info.pos[li])
                node = int(extra.add(np.array([x, y]))[0])
                inserts.append((axis, int(a), int(b), node))
                ring_nodes.append((math.atan2(y - cy, x - cx) % (2 * math.pi), int(node)))
    return inserts, ring_nodes


def _insert(st: _Streets, inserts: list[tuple[int, int, int, int]], nx: int) -> _Streets:
    positions, values, runs = [], [], []
    axis_v = st.axis[st.run]
    same = st.run[:-1] == st.run[1:]
    for axis, a, b, node in inserts:
        lo, hi = st.ids[:-1], st.ids[1:]
        line_ok = (lo // nx == a // nx) if axis == AXIS_ROW else (lo % nx == a % nx)
        hit = np.flatnonzero(same & (axis_v[:-1] == axis) & (lo <= a) & (hi >= b) & line_ok)
        if hit.size != 1:
            logger.debug("interchange on segment %d-%d not found (%d hits)", a, b, hit.size)
            continue
        positions.append(hit[0] + 1)
        values.append(node)
        runs.append(st.run[hit[0]])
    return _Streets(
        np.insert(st.ids, positions, values), np.insert(st.run, positions, runs), st.code, st.axis, st.line
    )


def _ring(
    layout: Layout, ring_p: Mapping[str, Any], ring_nodes: list[tuple[float, int]], extra: _Extra, all_xy: Any
) -> _Streets:
    cx, cy = layout.ring_centre
    radius = layout.ring_radius
    spacing = float(ring_p["vertex_spacing_m"])
    n = max(round(2 * math.pi * radius / spacing), 16)
    theta = 2 * math.pi * np.arange(n) / n
    fixed = np.array([a for a, _ in ring_nodes])
    if fixed.size:
        gap = np.abs((theta[:, None] - fixed[None, :] + math.pi) % (2 * math.pi) - math.pi)
        theta = theta[gap.min(axis=1) >= 0.5 * spacing / radius]
    base_ids = extra.add(np.column_stack([cx + radius * np.cos(theta), cy + radius * np.sin(theta)]))
    angles = np.concatenate([theta, fixed])
    ids = np.concatenate([base_ids, np.array([i for _, i in ring_nodes], dtype=np.int64)])
    order = np.argsort(angles, kind="stable")
    ids = ids[order]
    if fixed.size:
        start = int(np.flatnonzero(order >= len(theta))[0])
        ids = np.roll(ids, -start)
    seq = np.append(ids, ids[0])
    xy = all_xy(seq)
    wet = layout.near_river(xy[:, 0], xy[:, 1])
    seg = (MOTORWAY + BRIDGE * (wet[:-1] | wet[1:])).astype(np.int8)[None, :]
    _, s0, s1, code = _runs(seg)
    return _pack(
        [seq[a : b + 2] for a, b in zip(s0, s1, strict=True)], list(code), AXIS_RING, [-1] * len(code)
    )


def _hill_roads(
    lat: Lattice,
    layout: Layout,
    hp: Mapping[str, Any],
    *,
    n_mines: int,
    extra: _Extra,
    rng: np.random.Generator,
) -> tuple[_Streets, FloatArray]:
    nx = lat.shape[1]
    step = float(hp["vertex_spacing_m"])
    art_rows = np.flatnonzero(lat.rows.is_art)
    seqs: list[IntArray] = []
    codes: list[int] = []
    lines: list[int] = []
    mines: list[FloatArray] = []
    targets = [float(y) for y in hp["road_rows_y_m"]][: int(hp["n_roads"])]
    per_road = [len(c) for c in np.array_split(np.arange(n_mines), max(len(targets), 1))]

    clear = float(hp["spur_clearance_m"])

    def in_hills(x: FloatArray, y: FloatArray) -> npt.NDArray[np.bool_]:
        inside = (y > clear) & (y < layout.height - clear) & (x > clear)
        return inside & (layout.zones(x, y) == HILLS) & (layout.zones(x + clear, y) == HILLS)

    for road_no, (y_target, n_spurs) in enumerate(zip(targets, per_road, strict=True)):
        j = int(art_rows[np.argmin(np.abs(lat.rows.pos[art_rows] - y_target))])
        used = np.flatnonzero((lat.h[j] > 0) & (lat.h[j] < BRIDGE))
        if used.size == 0:
            continue
        start = j * nx + int(used[0])
        x0, y0 = lat.coords[start]
        d = np.arange(step, x0 - float(hp["road_end_x_m"]), step)
        env = np.minimum(d / float(hp["road_ramp_m"]), 1.0)
        phase = rng.uniform(0, 2 * math.pi)
        wavelength = float(hp["road_wavelength_m"])
        wiggle = float(hp["road_amplitude_m"]) * env * np.sin(2 * math.pi * d / wavelength + phase)
        xy = np.column_stack([x0 - d, y0 + wiggle])
        # The road must enter the hills right away and then stay in them.
        zone = layout.zones(xy[:, 0], xy[:, 1])
        entry = np.flatnonzero(zone == HILLS)
        if entry.size == 0 or d[entry[0]] > float(hp["road_ramp_m"]) / 2:
            continue
        bad = (zone != HILLS) & (np.arange(len(xy)) > entry[0])
        if bad.any():
            xy = xy[: int(np.argmax(bad))]
        if len(xy) < 5:
            continue
        main = np.concatenate([[start], extra.add(xy)])
        seqs.append(main)
        codes.append(TERTIARY)
        lines.append(road_no)
        # Mine access roads branch off at vertices of the hill road, alternately north / south.
        cand = rng.permutation(np.arange(int(float(hp["spur_start_share"]) * len(main)), len(main)))
        chosen: list[int] = []
        for c in cand:
            if len(chosen) == n_spurs:
                break
            if any(abs(int(c) - o) < int(hp["spur_min_gap_vertices"]) for o in chosen):
                continue
            direction = 1.0 if len(chosen) % 2 == 0 else -1.0
            length = rng.uniform(float(hp["spur_length_m"][0]), float(hp["spur_length_m"][1]))
            t = np.arange(step, length + step / 2, step)
            px, py = xy[c - 1]
            bend = np.sin(
                2 * math.pi * t / float(hp["spur_wiggle_wavelength_m"]) + rng.uniform(0, 2 * math.pi)
            )
            wig = float(hp["spur_wiggle_m"]) * bend * (t > float(hp["spur_straight_m"]))
            sxy = np.column_stack([px + wig, py + direction * t])
            ok = in_hills(sxy[:, 0], sxy[:, 1])
            n_ok = int(np.argmin(ok)) if not ok.all() else len(ok)
            if n_ok < 5:
                continue
            sxy = sxy[:n_ok]
            seqs.append(np.concatenate([[main[c]], extra.add(sxy)]))
            codes.append(SERVICE)
            lines.append(-1)
            mines.append(sxy[-1] + [0.0, direction * float(hp["mine_offset_m"])])
            chosen.append(int(c))
    mine_xy = np.array(mines) if mines else np.zeros((0, 2))
    return _pack(seqs, codes, AXIS_HILL, lines), mine_xy


def _components(
    st: _Streets, n: int, *, directed: bool, oneway: npt.NDArray[np.bool_] | None = None
) -> IntArray:
    u, v, r = st.edges()
    if directed:
        assert oneway is not None
        two = ~oneway[r]
        u, v = np.concatenate([u, v[two]]), np.concatenate([v, u[two]])
    g = sparse.coo_matrix((np.ones(len(u), np.int8), (u, v)), shape=(n, n)).tocsr()
    _, labels = csgraph.connected_components(g, directed=directed, connection="strong")
    return labels


def _oneway(
    st: _Streets, lat: Lattice, r: Mapping[str, Any], n: int, rng: np.random.Generator
) -> tuple[_Streets, npt.NDArray[np.bool_]]:
    """Make some old-town lanes one-way, then undo any that break strong connectivity.

    Returns the streets (one-way lanes drawn in a random direction) and the one-way flags.
    """
    counts = np.bincount(st.run, minlength=len(st.code))
    first = np.cumsum(counts) - counts
    last = first + counts - 1
    u, v, _ = st.edges()
    degree = np.bincount(u, minlength=n) + np.bincount(v, minlength=n)
    n_lat = len(lat.coords)
    head, tail = st.ids[first], st.ids[last]
    zone = lat.zone.ravel()
    in_old_town = (zone[np.minimum(head, n_lat - 1)] == OLD_TOWN) & (
        zone[np.minimum(tail, n_lat - 1)] == OLD_TOWN
    )
    eligible = (
        (st.code == RESIDENTIAL)
        & (st.axis <= AXIS_COL)
        & in_old_town
        & (counts - 1 >= int(r["oneway_min_segments"]))
        & (degree[head] >= 3)
        & (degree[tail] >= 3)
    )
    oneway = eligible & (rng.random(len(eligible)) < float(r["oneway_share"]))
    flip = oneway & (rng.random(len(eligible)) < 0.5)
    if flip.any():
        pos = np.arange(len(st.ids))
        fv = flip[st.run]
        pos[fv] = (2 * first + counts - 1)[st.run[fv]] - pos[fv]
        st = dataclasses.replace(st, ids=st.ids[pos])
    while True:
        # Every edge between the main strongly connected component and the rest belongs to a
        # one-way street holding a vertex outside it: make those two-way until none is left.
        labels = _components(st, n, directed=True, oneway=oneway)
        outside = labels[st.ids] != np.bincount(labels[st.ids]).argmax()
        bad = np.unique(st.run[outside])
        if bad.size == 0 or not oneway[bad].any():
            return st, oneway
        oneway[bad] = False


def _names(st: _Streets, lat: Lattice, p: Mapping[str, Any], rng: np.random.Generator) -> list[str | None]:
    names_p, zp = p["roads"]["names"], p["zones"]
    ew, ns, syl = names_p["east_west"], names_p["north_south"], names_p["syllables"]
    row_ord = np.cumsum(lat.rows.is_art) - 1
    col_ord = np.cumsum(lat.cols.is_art) - 1
    n_lat = len(lat.coords)
    zone_of = lat.zone.ravel()
    counts = np.bincount(st.run, minlength=len(st.code))
    head = st.ids[np.cumsum(counts) - counts]
    a = rng.integers(0, len(syl), len(st.code))
    b = rng.integers(0, len(syl), len(st.code))
    named = rng.random(len(st.code)) < float(names_p["named_local_share"])
    out: list[str | None] = []
    for k in range(len(st.code)):
        cls, bridge = int(st.code[k]) % BRIDGE, int(st.code[k]) >= BRIDGE
        axis, line = int(st.axis[k]), int(st.line[k])
        if axis == AXIS_RING:
            name: str | None = str(p["ring"]["name"]) + (" Bridge" if bridge else "")
        elif axis == AXIS_HILL:
            name = f"Hill Road {line + 1}" if cls == TERTIARY else None
        elif cls in (PRIMARY, SECONDARY):
            pool, o = (ew, row_ord[line]) if axis == AXIS_ROW else (ns, col_ord[line])
            base = pool[o % len(pool)] + (f" {o // len(pool) + 1}" if o >= len(pool) else "")
            suffix = names_p["primary_suffix"] if cls == PRIMARY else names_p["secondary_suffix"]
            name = f"{base} Bridge" if bridge else f"{base} {suffix}"
        elif cls == TERTIARY:
            name = f"{syl[a[k]]}{syl[b[k]].lower()} {names_p['tertiary_suffix']}"
        elif cls == RESIDENTIAL and named[k]:
            zone = ZONES[zone_of[head[k]]] if head[k] < n_lat else "outer"
            suffix = zp.get(zone, {}).get("local_suffix", "")
            name = f"{syl[a[k]]}{syl[b[k]].lower()} {suffix}" if suffix else None
        else:
            name = None
        out.append(name)
    return out


def build_roads(layout: Layout, p: Mapping[str, Any], n_road_nodes: int, seed: int) -> RoadResult:
    """Build the demo road network with about ``n_road_nodes`` graph nodes."""
    r = p["roads"]
    rng = np.random.default_rng([seed, 102])
    lat = calibrated_lattice(layout, p, n_road_nodes, seed)
    nx = lat.shape[1]
    n_lat = len(lat.coords)
    extra = _Extra(n_lat)

    def all_xy(ids: IntArray) -> FloatArray:
        xy = np.concatenate([lat.coords, extra.coords()])
        return xy[ids]

    streets = _lattice_streets(lat)
    inserts, ring_nodes = _interchanges(lat, layout, list(p["ring"]["interchange_classes"]), extra)
    streets = _insert(streets, inserts, nx)
    ring = _ring(layout, p["ring"], ring_nodes, extra, all_xy)
    mining = p["hazards"]["categories"].get("mining", {})
    n_mines = int(mining.get("count", 0)) if mining.get("near") == "mine_roads" else 0
    hills, mine_xy = _hill_roads(lat, layout, p["hills"], n_mines=n_mines, extra=extra, rng=rng)
    streets = _concat([streets, ring, hills])
    n_all = n_lat + extra.n

    # Keep the largest connected part (random deletions can cut off a few lanes).
    labels = _components(streets, n_all, directed=False)
    main = np.bincount(labels[streets.ids]).argmax()
    keep = np.zeros(len(streets.code), bool)
    keep[streets.run[labels[streets.ids] == main]] = True
    if not keep.all():
        logger.debug("dropping %d streets cut off from the network", int((~keep).sum()))
        streets = streets.select(keep)

    streets, oneway = _oneway(streets, lat, r, n_all, rng)
    cls = streets.code % BRIDGE
    speed = np.array([None] * len(cls), dtype=object)
    draw = rng.random(len(cls))
    for name, spec in r["maxspeed"].items():
        sel = (cls == class_code(name)) & (draw < float(spec["share"]))
        speed[sel] = str(spec["value"])
    names = _names(streets, lat, p, rng)

    coords = np.concatenate([lat.coords, extra.coords()])
    geoms = shapely.linestrings(coords[streets.ids], indices=streets.run)
    roads = gpd.GeoDataFrame(
        {
            "highway": np.array(HIGHWAY_CLASSES, dtype=object)[cls],
            "oneway": np.where(oneway, "yes", "no").astype(object),
            "maxspeed": speed,
            "name": np.array(names, dtype=object),
            "bridge": np.array([None, "yes"], dtype=object)[(streets.code >= BRIDGE).astype(int)],
        },
        geometry=geoms,
    )
    n_nodes = _count_nodes(streets, n_all)
    on_arterial = np.zeros(n_all, bool)
    art_v = np.isin(cls, (PRIMARY, SECONDARY))[streets.run] & (streets.code < BRIDGE)[streets.run]
    on_arterial[streets.ids[art_v]] = True
    art_ids = np.flatnonzero(on_arterial[:n_lat])
    logger.info("demo roads: %d streets, %d graph nodes, %d vertices", len(roads), n_nodes, len(streets.ids))
    return RoadResult(roads, coords[art_ids], mine_xy, n_nodes)


def _count_nodes(st: _Streets, n: int) -> int:
    """Graph nodes: vertices at a street end or used more than once (as the network builder)."""
    counts = np.bincount(st.run)
    first = np.cumsum(counts) - counts
    node = np.bincount(st.ids, minlength=n) > 1
    node[st.ids[first]] = True
    node[st.ids[first + counts - 1]] = True
    return int(node.sum())
