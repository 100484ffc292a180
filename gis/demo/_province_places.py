"""Places of the demo province's countryside and their street lattices (private).

County towns, townships and villages lie on jittered grids (one place per cell, fewer
villages in the mountains), clear of the cities, the chemical parks and the bigger places;
each gets a population, a name and a square of streets: a small lattice turned by a random
angle, whose two middle lines meet at the place's centre, where its country roads arrive.
The lattices of all places are built at once with numpy, their density set from the
countryside's share of the province's road nodes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

__all__ = [
    "CLASSES",
    "COUNTY",
    "PARK",
    "TIERS",
    "TOWNSHIP",
    "VILLAGE",
    "Places",
    "Streets",
    "allocate",
    "build_lattices",
    "lattice_sizes",
    "make_places",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Tiers of the countryside's places, in the order they are placed (a park is a chemical park).
TIERS: tuple[str, ...] = ("county_towns", "townships", "villages", "parks")
COUNTY, TOWNSHIP, VILLAGE, PARK = range(len(TIERS))
#: Road classes of the province's own lines, by code (index).
CLASSES: tuple[str, ...] = (
    "motorway",
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "unclassified",
    "residential",
    "service",
)


@dataclass(frozen=True)
class Places:
    """Places of the countryside, one row each, in the province frame (metres)."""

    tier: IntArray
    xy: FloatArray
    side: FloatArray
    turn: FloatArray  # radians
    population: IntArray  # 0 for parks
    name: list[str]
    mountain: BoolArray

    def __len__(self) -> int:
        return len(self.tier)


@dataclass(frozen=True)
class Streets:
    """Lines as packed coordinates: line ``k`` is ``xy[offsets[k]:offsets[k + 1]]``."""

    xy: FloatArray
    offsets: IntArray
    code: npt.NDArray[np.int8]  # index into CLASSES
    place: IntArray  # place of a lattice street, -1 for other lines
    name: list[str | None]

    @property
    def n_lines(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def empty(cls) -> Streets:
        return cls(np.zeros((0, 2)), np.zeros(1, np.int64), np.zeros(0, np.int8), np.zeros(0, np.int64), [])

    @classmethod
    def concat(cls, parts: Sequence[Streets]) -> Streets:
        sizes = [len(p.xy) for p in parts]
        base = np.cumsum([0, *sizes[:-1]])
        return cls(
            np.concatenate([p.xy for p in parts]),
            np.concatenate([[0]] + [p.offsets[1:] + b for p, b in zip(parts, base, strict=True)]).astype(
                np.int64
            ),
            np.concatenate([p.code for p in parts]).astype(np.int8),
            np.concatenate([p.place for p in parts]).astype(np.int64),
            [n for p in parts for n in p.name],
        )

    def select(self, keep: BoolArray) -> Streets:
        counts = np.diff(self.offsets)
        vkeep = np.repeat(keep, counts)
        return Streets(
            self.xy[vkeep],
            np.concatenate([[0], np.cumsum(counts[keep])]).astype(np.int64),
            self.code[keep],
            self.place[keep],
            [n for n, k in zip(self.name, keep, strict=True) if k],
        )

    def geoms(self) -> npt.NDArray[np.object_]:
        return shapely.linestrings(self.xy, indices=np.repeat(np.arange(self.n_lines), np.diff(self.offsets)))


def allocate(total: int, weights: FloatArray) -> IntArray:
    """Split ``total`` in proportion to ``weights`` (largest remainder, deterministic)."""
    if len(weights) == 0:
        return np.zeros(0, np.int64)
    share = weights / weights.sum() * total
    out = np.floor(share).astype(np.int64)
    out[np.argsort(-(share - out), kind="stable")[: total - int(out.sum())]] += 1
    return out


def _box_distance(xy: FloatArray, boxes: FloatArray) -> FloatArray:
    """Distance from each point to the nearest axis-aligned box ``(x0, y0, x1, y1)``."""
    if len(boxes) == 0:
        return np.full(len(xy), np.inf)
    x, y = xy[:, 0:1], xy[:, 1:2]
    dx = np.maximum(np.maximum(boxes[None, :, 0] - x, x - boxes[None, :, 2]), 0.0)
    dy = np.maximum(np.maximum(boxes[None, :, 1] - y, y - boxes[None, :, 3]), 0.0)
    return np.hypot(dx, dy).min(axis=1)


def _grid(width: float, height: float, spacing: float, jitter: float, rng: np.random.Generator) -> FloatArray:
    xs = np.arange(spacing / 2, width, spacing)
    ys = np.arange(spacing / 2, height, spacing)
    gx, gy = np.meshgrid(xs, ys)
    xy = np.column_stack([gx.ravel(), gy.ravel()])
    return xy + rng.uniform(-jitter, jitter, xy.shape) * spacing


def _names(
    rng: np.random.Generator, n: int, syllables: Sequence[str], suffix: str, used: set[str]
) -> list[str]:
    combos = [f"{a}{b.lower()}" for a, b in itertools.product(syllables, syllables) if a != b]
    order = rng.permutation(len(combos))
    out: list[str] = []
    k = 0
    while len(out) < n:
        base = combos[order[k % len(combos)]]
        name = f"{base} {suffix}" if k < len(combos) else f"{base} {k // len(combos) + 1} {suffix}"
        k += 1
        if name not in used:
            used.add(name)
            out.append(name)
    return out


def make_places(
    pp: Mapping[str, Any],
    *,
    city_boxes: FloatArray,
    mountains: shapely.Geometry,
    rural_people: dict[str, int],
    rng: np.random.Generator,
) -> Places:
    """Place the county towns, townships, villages and chemical parks of the countryside."""
    prov = pp["province"]
    width, height = float(prov["width_km"]) * 1000.0, float(prov["height_km"]) * 1000.0
    parks = pp["hazards"]["parks"]
    park_xy = np.array([[float(v) * 1000.0 for v in s["centre_km"]] for s in parks]).reshape(-1, 2)
    park_side = np.array([float(s["side_m"]) for s in parks])
    park_boxes = np.column_stack([park_xy - park_side[:, None] / 2, park_xy + park_side[:, None] / 2])
    tiers, xys, sides, pops, names = [], [], [], [], []
    syllables = pp["census"]["name_syllables"]
    used: set[str] = set()
    placed_xy = np.zeros((0, 2))
    placed_half = np.zeros(0)
    for t, key in enumerate(TIERS[:PARK]):
        spec = pp[key]
        lo, hi = (float(v) for v in spec["side_m"])
        clear = float(spec["clearance_m"])
        xy = _grid(width, height, float(spec["spacing_km"]) * 1000.0, float(spec["jitter"]), rng)
        inside = (
            (xy[:, 0] > hi + clear / 2)
            & (xy[:, 0] < width - hi - clear / 2)
            & (xy[:, 1] > hi + clear / 2)
            & (xy[:, 1] < height - hi - clear / 2)
        )
        ok = (
            inside
            & (_box_distance(xy, city_boxes) >= clear + hi)
            & (_box_distance(xy, park_boxes) >= clear + hi)
        )
        if len(placed_xy):
            d, i = cKDTree(placed_xy).query(xy, k=min(4, len(placed_xy)))
            d, i = d.reshape(len(xy), -1), i.reshape(len(xy), -1)
            ok &= (d >= clear + placed_half[i] * math.sqrt(2) + hi / math.sqrt(2)).all(axis=1)
        in_mountains = shapely.contains_xy(mountains, xy[:, 0], xy[:, 1])
        keep_share = float(spec.get("mountain_keep", 1.0))
        ok &= ~in_mountains | (rng.random(len(xy)) < keep_share)
        xy = xy[ok]
        weights = rng.lognormal(0.0, float(spec["population_sigma"]), len(xy))
        pop = allocate(int(rural_people[key]), weights)
        root = np.sqrt(pop.astype(float))
        span = max(float(root.max() - root.min()), 1e-9) if len(root) else 1.0
        side = lo + (hi - lo) * (root - (root.min() if len(root) else 0.0)) / span
        tiers.append(np.full(len(xy), t))
        xys.append(xy)
        sides.append(side)
        pops.append(pop)
        names.extend(_names(rng, len(xy), syllables, str(spec["name_suffix"]), used))
        placed_xy = np.concatenate([placed_xy, xy])
        placed_half = np.concatenate([placed_half, side / 2])
    tiers.append(np.full(len(parks), PARK))
    xys.append(park_xy)
    sides.append(park_side)
    pops.append(np.zeros(len(parks), np.int64))
    names.extend(str(s["name"]) for s in parks)
    tier = np.concatenate(tiers).astype(np.int64)
    all_xy = np.concatenate(xys)
    turn_deg = np.array([float(pp[k]["max_turn_deg"]) for k in TIERS[:PARK]] + [0.0])
    turn_deg[PARK] = float(pp["hazards"]["parks_lattice"]["max_turn_deg"])
    turn = np.radians(rng.uniform(-1.0, 1.0, len(tier)) * turn_deg[tier])
    return Places(
        tier,
        all_xy,
        np.concatenate(sides),
        turn,
        np.concatenate(pops).astype(np.int64),
        names,
        shapely.contains_xy(mountains, all_xy[:, 0], all_xy[:, 1]),
    )


def _tier_spec(pp: Mapping[str, Any], t: int) -> Mapping[str, Any]:
    return pp["hazards"]["parks_lattice"] if t == PARK else pp[TIERS[t]]


def lattice_sizes(places: Places, pp: Mapping[str, Any], budget: float, rng: np.random.Generator) -> IntArray:
    """Lattice lines per side (odd, 1 = no streets) of each place for ``budget`` nodes in all.

    A place's share of the budget (its tier's ``node_share``, split by area) asks for ``n``
    nodes; its side gets the odd count ``k`` just below or above ``sqrt(n)``, drawn so that
    ``k**2`` is ``n`` on average (so that small budgets do not jump by whole steps).
    """
    shares = np.array([float(_tier_spec(pp, t)["node_share"]) for t in range(len(TIERS))])
    area = places.side**2
    k = np.ones(len(places), np.int64)
    draw = rng.random(len(places))
    for t in range(len(TIERS)):
        sel = places.tier == t
        if not sel.any():
            continue
        n = max(budget, 0.0) * shares[t] / shares.sum() * area[sel] / area[sel].sum()
        lo = 2 * np.floor((np.sqrt(np.maximum(n, 1.0)) - 1.0) / 2.0).astype(np.int64) + 1
        hi = lo + 2
        up = draw[sel] < (n - lo**2) / (hi**2 - lo**2)
        spacing = float(_tier_spec(pp, t)["min_street_spacing_m"])
        k_max = 2 * np.floor(places.side[sel] / spacing / 2.0).astype(np.int64) + 1
        k[sel] = np.clip(np.where(up, hi, lo), 1, k_max)
    return k


def build_lattices(places: Places, k: IntArray, pp: Mapping[str, Any], rng: np.random.Generator) -> Streets:
    """The street lattices of all places with ``k`` lines per side, as lines.

    Middle lines are never deleted and meet at the place's centre (bit-identical to
    ``places.xy``); of the rest, segments are removed at random (``deletion_prob``) and only the
    part connected to the centre is kept. Consecutive segments of one lattice line with the
    same class form one street.
    """
    n_nodes = k * k
    node_off = np.concatenate([[0], np.cumsum(n_nodes)])
    total = int(node_off[-1])
    place = np.repeat(np.arange(len(places)), n_nodes)
    local = np.arange(total) - node_off[place]
    kk = k[place]
    j, i = local // kk, local % kk
    half = (kk - 1) // 2
    d = np.where(kk > 1, places.side[place] / np.maximum(kk - 1, 1), 0.0)
    u, v = (i - half) * d, (j - half) * d
    tier = places.tier[place]
    specs = [_tier_spec(pp, t) for t in range(len(TIERS))]
    jit = np.array([float(s["jitter_share"]) for s in specs])[tier] * d
    off_main = (i != half) & (j != half)
    shift = rng.uniform(-1.0, 1.0, (total, 2)) * (jit * off_main)[:, None]
    u, v = u + shift[:, 0], v + shift[:, 1]
    c, s = np.cos(places.turn[place]), np.sin(places.turn[place])
    xy = np.column_stack([places.xy[place, 0] + (u * c - v * s), places.xy[place, 1] + (u * s + v * c)])
    centre = node_off[:-1] + half_of(k) * k + half_of(k)
    xy[centre] = places.xy  # exact, whatever the rounding of the rotation

    code_of = {name: n for n, name in enumerate(CLASSES)}
    main = np.array([code_of[str(s["main_class"])] for s in specs], np.int8)
    other = np.array([code_of[str(s["other_class"])] for s in specs], np.int8)
    every = np.array([int(s["tertiary_every"]) for s in specs])
    p_del = np.array([float(s["deletion_prob"]) for s in specs])
    segs = []
    for ax in (0, 1):  # 0: along rows (i -> i + 1), 1: along columns (j -> j + 1)
        pos, line = (i, j) if ax == 0 else (j, i)
        a = np.flatnonzero(pos < kk - 1)
        b = a + (1 if ax == 0 else kk[a])
        off = line[a] - half[a]
        t = tier[a]
        code = np.where(off == 0, main[t], other[t])
        tert = (every[t] > 0) & (off != 0) & (off % np.maximum(every[t], 1) == 0)
        code = np.where(tert, code_of["tertiary"], code).astype(np.int8)
        keep = (off == 0) | (rng.random(len(a)) >= p_del[t])
        segs.append((a[keep], b[keep], code[keep], np.full(int(keep.sum()), ax), line[a][keep], pos[a][keep]))
    a, b, code, axis, line, pos = (np.concatenate(x) for x in zip(*segs, strict=True))
    g = sparse.coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(total, total))
    _, labels = csgraph.connected_components(g, directed=False)
    keep = labels[a] == labels[centre[place[a]]]
    a, b, code, axis, line, pos = a[keep], b[keep], code[keep], axis[keep], line[keep], pos[keep]
    # Streets: runs of consecutive segments along one lattice line with one class.
    order = np.lexsort((pos, line, axis, place[a]))
    a, b, code, axis, line, pos = a[order], b[order], code[order], axis[order], line[order], pos[order]
    pl = place[a]
    new = np.ones(len(a), bool)
    new[1:] = (
        (pl[1:] != pl[:-1])
        | (axis[1:] != axis[:-1])
        | (line[1:] != line[:-1])
        | (pos[1:] != pos[:-1] + 1)
        | (code[1:] != code[:-1])
    )
    run = np.cumsum(new) - 1
    n_runs = int(run[-1]) + 1 if len(run) else 0
    seg_count = np.bincount(run, minlength=n_runs)
    # vertices of a run: the first segment's start, then every segment's end
    starts = np.flatnonzero(new)
    vid = np.empty(len(a) + n_runs, np.int64)
    voff = np.concatenate([[0], np.cumsum(seg_count + 1)])
    vid[voff[:-1]] = a[starts]
    rest = np.ones(len(vid), bool)
    rest[voff[:-1]] = False
    vid[rest] = b
    return Streets(
        xy[vid],
        voff.astype(np.int64),
        code[starts],
        pl[starts],
        [None] * n_runs,
    )


def half_of(k: IntArray) -> IntArray:
    return (k - 1) // 2
