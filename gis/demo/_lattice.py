"""The street lattice of the demo city: arterial grid plus local streets (private).

The city's streets lie on a rectilinear lattice of east-west rows and north-south columns.
Arterials are fixed lines of the lattice; the local lines between two arterials are spread
evenly and their number is calibrated so that the road graph gets about the requested number
of nodes. Each lattice segment gets a highway class code (0 = no street) from the zone it lies
in (street stride, random deletions), the river (cut except on bridge rows) and the railway
(only arterials pass). Old-town nodes are jittered. All of it is vectorised numpy.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ._layout import HILLS, INDUSTRIAL, RIVER, ZONES, Layout

__all__ = [
    "BRIDGE",
    "HIGHWAY_CLASSES",
    "Lattice",
    "LineInfo",
    "calibrated_lattice",
    "class_code",
]

logger = logging.getLogger(__name__)

# Highway class codes; BRIDGE is added to the class of a segment on a bridge.
HIGHWAY_CLASSES: tuple[str, ...] = (
    "",
    "motorway",
    "primary",
    "secondary",
    "tertiary",
    "residential",
    "service",
)
MOTORWAY, PRIMARY, SECONDARY, TERTIARY, RESIDENTIAL, SERVICE = range(1, 7)
BRIDGE = 8

Int8Array = npt.NDArray[np.int8]
BoolArray = npt.NDArray[np.bool_]


def class_code(name: str) -> int:
    return HIGHWAY_CLASSES.index(name)


@dataclass(frozen=True)
class LineInfo:
    """The lattice lines along one axis: position, arterial role and place in its block."""

    pos: npt.NDArray[np.float64]
    is_art: BoolArray
    is_primary: BoolArray
    k: npt.NDArray[np.int64]  # 1..m inside a block of m local lines (0 for arterials)
    m: npt.NDArray[np.int64]

    @classmethod
    def build(cls, length: float, n_lines: int, r: Mapping[str, Any]) -> LineInfo:
        art = np.arange(float(r["arterial_offset_m"]), length, float(r["arterial_spacing_m"]))
        anchors = np.concatenate([[0.0], art, [length]])
        widths = np.diff(anchors)
        n_local = max(n_lines - len(art), 0)
        share = widths / length * n_local
        m = np.floor(share).astype(np.int64)
        extra = n_local - int(m.sum())
        m[np.argsort(-(share - m), kind="stable")[:extra]] += 1
        pos, is_art, k, mm = [], [], [], []
        for b, (lo, w) in enumerate(zip(anchors[:-1], widths, strict=True)):
            t = np.arange(1, m[b] + 1)
            pos.append(lo + w * t / (m[b] + 1))
            is_art.append(np.zeros(m[b], bool))
            k.append(t)
            mm.append(np.full(m[b], m[b]))
            if b < len(art):
                pos.append(art[b : b + 1])
                is_art.append(np.ones(1, bool))
                k.append(np.zeros(1, np.int64))
                mm.append(np.zeros(1, np.int64))
        p = np.concatenate(pos).astype(np.float64)
        a = np.concatenate(is_art).astype(bool)
        q = (p - float(r["primary_offset_m"])) / float(r["primary_spacing_m"])
        primary = a & (np.abs(q - np.round(q)) < 1e-9)
        return cls(p, a, primary, np.concatenate(k).astype(np.int64), np.concatenate(mm).astype(np.int64))

    def active(self, stride: int) -> tuple[BoolArray, BoolArray]:
        """Local lines that are streets for ``stride``, and those of them that are tertiary."""
        if stride <= 0:
            none = np.zeros(len(self.pos), bool)
            return none, none
        act = ~self.is_art & (self.k % stride == 0)
        n_act = self.m // stride
        tert = act & (n_act >= 2) & (self.k == stride * ((n_act + 1) // 2))
        return act, tert


@dataclass(frozen=True)
class Lattice:
    """Street lattice: node coordinates, segment codes and graph-node flags.

    Node ``(j, i)`` (row j, column i) has id ``j * nx + i``. ``h[j, i]`` is the code of the
    segment from node (j, i) to (j, i + 1); ``v[i, j]`` from (j, i) to (j + 1, i).
    """

    rows: LineInfo
    cols: LineInfo
    coords: npt.NDArray[np.float64]  # (ny * nx, 2), jittered
    zone: Int8Array  # (ny, nx), of the unjittered node
    h: Int8Array
    v: Int8Array
    is_node: BoolArray  # (ny, nx): intersection, dead end or change of class

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.rows.pos), len(self.cols.pos)

    @property
    def n_nodes(self) -> int:
        return int(self.is_node.sum())


def _codes_along(
    info: LineInfo,
    zone: Int8Array,
    *,
    ok: BoolArray,
    wet: BoolArray,
    river_side: BoolArray,
    rail_side: BoolArray,
    bridge_lines: BoolArray,
    zp: Mapping[str, Any],
    rng: np.random.Generator,
) -> Int8Array:
    """Segment codes along lines; node arrays are shaped (lines, positions along a line)."""
    za, zb = zone[:, :-1], zone[:, 1:]
    zs = np.minimum(za, zb)
    both_ok = ok[:, :-1] & ok[:, 1:]
    cross_river = river_side[:, :-1] != river_side[:, 1:]
    cross_rail = rail_side[:, :-1] != rail_side[:, 1:]
    art = info.is_art[:, None]
    art_class = np.where(info.is_primary, PRIMARY, SECONDARY).astype(np.int8)[:, None]
    codes = np.where(art & both_ok & ~cross_river, art_class, 0).astype(np.int8)
    # Bridges: on bridge lines, the segments cut by the water (not by the hills).
    on_bridge = (
        (bridge_lines & info.is_art)[:, None]
        & (wet[:, :-1] | wet[:, 1:] | cross_river)
        & (za != HILLS)
        & (zb != HILLS)
    )
    codes[on_bridge] = (art_class + BRIDGE).repeat(codes.shape[1], axis=1)[on_bridge]

    stride = np.array([int(zp[z]["street_stride"]) if z in zp else 0 for z in ZONES])[zs]
    active = np.zeros(zs.shape, bool)
    tertiary = np.zeros(zs.shape, bool)
    for s in np.unique(stride):
        act, tert = info.active(int(s))
        sel = stride == s
        active |= sel & act[:, None]
        tertiary |= sel & tert[:, None]
    local = ~art & both_ok & ~cross_river & ~cross_rail & active
    p_del = np.array([float(zp[z]["deletion_prob"]) if z in zp else 0.0 for z in ZONES])[zs]
    cand = local & (p_del > 0)
    local[cand] = rng.random(int(cand.sum())) >= p_del[cand]
    local_class = np.where(zs == INDUSTRIAL, SERVICE, np.where(tertiary, TERTIARY, RESIDENTIAL))
    codes[local] = local_class[local]
    return codes


def _graph_nodes(h: Int8Array, v: Int8Array) -> BoolArray:
    ny, nx = h.shape[0], v.shape[0]
    left = np.zeros((ny, nx), np.int8)
    right = np.zeros((ny, nx), np.int8)
    left[:, 1:], right[:, :-1] = h, h
    down = np.zeros((ny, nx), np.int8)
    up = np.zeros((ny, nx), np.int8)
    down[1:, :], up[:-1, :] = v.T, v.T
    hdeg = (left > 0).astype(np.int8) + (right > 0)
    vdeg = (down > 0).astype(np.int8) + (up > 0)
    return (
        ((hdeg > 0) & (vdeg > 0))
        | (hdeg + vdeg == 1)
        | ((hdeg == 2) & (left != right))
        | ((vdeg == 2) & (down != up))
    )


def _build(layout: Layout, p: Mapping[str, Any], density: float, seed: int) -> Lattice:
    r, zp = p["roads"], p["zones"]
    rng = np.random.default_rng([seed, 101])
    rows = LineInfo.build(layout.height, round(density * layout.height / 1000.0), r)
    cols = LineInfo.build(layout.width, round(density * layout.width / 1000.0), r)
    xs, ys = cols.pos[None, :], rows.pos[:, None]
    zone = layout.zones(xs, ys)
    wet = np.broadcast_to(layout.near_river(xs, ys), zone.shape)
    ok = (zone != RIVER) & (zone != HILLS) & ~wet
    river_side = np.broadcast_to(layout.east_of_river(xs, ys), zone.shape)
    rail_side = np.broadcast_to(layout.north_of_railway(xs, ys), zone.shape)
    bridge_y = np.asarray(r["bridge_rows_y_m"], dtype=np.float64)
    bridge_rows = np.zeros(len(rows.pos), bool)
    art_rows = np.flatnonzero(rows.is_art)
    for y in bridge_y:
        bridge_rows[art_rows[np.argmin(np.abs(rows.pos[art_rows] - y))]] = True
    h = _codes_along(
        rows,
        zone,
        ok=ok,
        wet=wet,
        river_side=river_side,
        rail_side=rail_side,
        bridge_lines=bridge_rows,
        zp=zp,
        rng=rng,
    )
    v = _codes_along(
        cols,
        zone.T,
        ok=ok.T,
        wet=wet.T,
        river_side=river_side.T,
        rail_side=rail_side.T,
        bridge_lines=np.zeros(len(cols.pos), bool),
        zp=zp,
        rng=rng,
    )
    # Jitter local old-town nodes along the axes whose line is local (arterials stay straight).
    coords = np.empty((*zone.shape, 2))
    coords[..., 0], coords[..., 1] = xs, ys
    jit = np.array([float(zp[z]["jitter"]) if z in zp else 0.0 for z in ZONES])[zone]
    jj, ii = np.nonzero(jit > 0)
    if jj.size:
        gap_x = _gaps(cols.pos)[ii] * ~cols.is_art[ii]
        gap_y = _gaps(rows.pos)[jj] * ~rows.is_art[jj]
        shift = rng.uniform(-1.0, 1.0, size=(jj.size, 2)) * jit[jj, ii][:, None]
        coords[jj, ii, 0] += shift[:, 0] * gap_x
        coords[jj, ii, 1] += shift[:, 1] * gap_y
    return Lattice(rows, cols, coords.reshape(-1, 2), zone, h, v, _graph_nodes(h, v))


def _gaps(pos: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    d = np.diff(pos)
    return np.minimum(np.concatenate([[d[0]], d]), np.concatenate([d, [d[-1]]]))


def calibrated_lattice(layout: Layout, p: Mapping[str, Any], target: int, seed: int) -> Lattice:
    """Build the lattice whose graph-node count is within ``roads.node_tolerance`` of ``target``.

    The count grows about quadratically with the number of lattice lines per km, so a cheap
    pilot lattice gives a first guess that one or two corrections refine.
    """
    r = p["roads"]
    n_art = layout.width / float(r["arterial_spacing_m"])
    tol = float(r["node_tolerance"])
    pilot_density = 12.0
    lat = _build(layout, p, pilot_density, seed)
    density, count = pilot_density, lat.n_nodes
    for attempt in range(4):
        local = max(density - n_art / layout.width * 1000.0, 0.1)
        density = local * math.sqrt(target / max(count, 1)) + n_art / layout.width * 1000.0
        lat = _build(layout, p, density, seed)
        count = lat.n_nodes
        logger.debug("lattice attempt %d: %.2f lines/km -> %d nodes", attempt, density, count)
        if abs(count / target - 1.0) <= tol:
            break
    logger.info("street lattice %d x %d lines, %d graph nodes (target %d)", *lat.shape, count, target)
    return lat
