"""Hazard sources and emergency resources of the demo city (private).

Hazard sources are placed by category (chemical plants in the industrial park, mines at the
ends of the hill roads, fuel stations on arterials, ...) and given GB 18218-2018 inventories
drawn log-uniformly around the critical quantities, so that some units are major hazard
sources (``S = sum(q / Q) >= 1``) and others are not. Fire stations, depots and candidate
sites sit on arterial road nodes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
from scipy.spatial import cKDTree

from ..errors import InputError
from ..schema import HAZARD_CATEGORIES, RECTIFICATION_STATUSES, SIZE_CLASSES
from ._layout import ZONES, Grid, Layout
from ._roads import RoadResult

__all__ = ["build_candidate_sites", "build_depots", "build_fire_stations", "build_hazards"]

FloatArray = npt.NDArray[np.float64]


def _spaced(cand: FloatArray, n: int, d_min: float, taken: list[FloatArray]) -> FloatArray:
    """Up to ``n`` candidates (in order) at least ``d_min`` from each other and from ``taken``."""
    out: list[FloatArray] = []
    tree = cKDTree(np.array(taken)) if taken else None
    for c in cand:
        if len(out) == n:
            break
        if tree is not None and tree.query(c)[0] < d_min:
            continue
        if out and np.min(np.hypot(*(np.array(out) - c).T)) < d_min:
            continue
        out.append(c)
    return np.array(out).reshape(-1, 2)


def _grid_weights(layout: Layout, grid: Grid, spec: Mapping[str, Any]) -> FloatArray:
    zones = [ZONES.index(z) for z in spec["zones"]]
    w = np.isin(grid.zone, zones).astype(float)
    near, dist = spec.get("near", ""), float(spec.get("distance_m", 0.0))
    x, y = grid.xy[:, 0], grid.xy[:, 1]
    if near == "industrial":
        w *= layout.industrial_distance(x, y) <= dist
    elif near == "ring":
        w *= layout.ring_distance(x, y) <= dist
    elif near == "edge":
        w *= layout.edge_distance(x, y) <= dist
    if w.sum() == 0:
        msg = (
            f"No land fits the placement of hazard category with zones `{spec['zones']}` and "
            f"near `{near}`. Fix: widen `zones` or `distance_m` in the demo-city parameters."
        )
        raise InputError(msg)
    return w


def _beside_lines(lines: npt.NDArray[Any], n: int, offset_m: float, rng: np.random.Generator) -> FloatArray:
    """``n`` random points along ``lines`` (picked by length), ``offset_m`` to a random side."""
    length = shapely.length(lines)
    pick = rng.choice(len(lines), size=n, p=length / length.sum())
    at = rng.uniform(0.05, 0.95, n) * length[pick]
    a = shapely.get_coordinates(shapely.line_interpolate_point(lines[pick], at))
    b = shapely.get_coordinates(shapely.line_interpolate_point(lines[pick], at + 1.0))
    t = (b - a) / np.maximum(np.hypot(*(b - a).T), 1e-9)[:, None]
    side = rng.choice([-1.0, 1.0], n)[:, None]
    return a + side * offset_m * np.column_stack([-t[:, 1], t[:, 0]])


def _on_arterials(
    layout: Layout, roads: gpd.GeoDataFrame, spec: Mapping[str, Any], n: int, rng: np.random.Generator
) -> FloatArray:
    """Random points beside primary / secondary roads, offset ``distance_m`` to one side."""
    art = roads[roads["highway"].isin(["primary", "secondary"]) & roads["bridge"].isna()]
    xy = _beside_lines(art.geometry.to_numpy(), n, float(spec.get("distance_m", 25.0)), rng)
    zones = [ZONES.index(z) for z in spec["zones"]]
    return xy[np.isin(layout.zones(xy[:, 0], xy[:, 1]), zones)]


def _inventory(
    inv: Mapping[str, Any], q_table: Mapping[str, Any], decimals: int, rng: np.random.Generator
) -> str:
    items = []
    for substance, (lo, hi) in inv.items():
        if substance not in q_table:
            msg = (
                f"Substance `{substance}` of a demo facility has no critical quantity. Fix: add it "
                "to `[critical_quantities_t]` with its GB 18218-2018 value."
            )
            raise InputError(msg)
        q = math.exp(rng.uniform(math.log(float(lo)), math.log(float(hi))))
        items.append({"substance": substance, "q_t": round(q, decimals), "Q_t": float(q_table[substance])})
    return json.dumps(items)


def build_hazards(
    layout: Layout, grid: Grid, net: RoadResult, p: Mapping[str, Any], rng: np.random.Generator
) -> gpd.GeoDataFrame:
    hp = p["hazards"]
    d_min = float(hp["min_spacing_m"])
    rect = hp["rectification"]
    rect_p = np.array([float(rect.get(s, 0.0)) for s in RECTIFICATION_STATUSES])
    taken: list[FloatArray] = []
    records: list[dict[str, Any]] = []
    for cat in HAZARD_CATEGORIES:
        spec = hp["categories"].get(cat)
        if spec is None or int(spec["count"]) == 0:
            continue
        n = int(spec["count"])
        near = spec.get("near", "")
        if near == "mine_roads":
            cand = np.concatenate(
                [net.mine_sites, grid.sample(rng, _grid_weights(layout, grid, spec), 5 * n, layout)]
            )
        elif near == "arterials":
            cand = _on_arterials(layout, net.roads, spec, 20 * n, rng)
        else:
            cand = grid.sample(rng, _grid_weights(layout, grid, spec), 20 * n, layout)
        xy = _spaced(cand, n, d_min, taken)
        taken.extend(xy)
        facilities = [f for f in hp["facilities"] if f["category"] == cat]
        if not facilities:
            msg = f"Hazard category `{cat}` has no facility type. Fix: add a `[[hazards.facilities]]` entry."
            raise InputError(msg)
        w = np.array([float(f["weight"]) for f in facilities])
        kinds = rng.choice(len(facilities), size=len(xy), p=w / w.sum())
        size = rng.choice(
            SIZE_CLASSES, size=len(xy), p=np.asarray(spec["size_class"]) / np.sum(spec["size_class"])
        )
        status = rng.choice(RECTIFICATION_STATUSES, size=len(xy), p=rect_p / rect_p.sum())
        numbers: dict[str, int] = {}
        for k in range(len(xy)):
            fac = facilities[kinds[k]]
            numbers[fac["label"]] = numbers.get(fac["label"], 0) + 1
            inv = fac.get("inventory")
            records.append(
                {
                    "name": f"{fac['label']} {numbers[fac['label']]}",
                    "category": cat,
                    "inventory": _inventory(
                        inv, p["critical_quantities_t"], int(hp["inventory_decimals"]), rng
                    )
                    if inv
                    else None,
                    "rectification": str(status[k]),
                    "size_class": str(size[k]),
                    "geometry": shapely.Point(xy[k]),
                }
            )
    width = max(4, len(str(len(records))))
    gdf = gpd.GeoDataFrame(records, geometry="geometry")
    gdf.insert(0, "id", [f"H{k + 1:0{width}d}" for k in range(len(gdf))])
    return gdf


def _snap(nodes: FloatArray, targets: FloatArray) -> FloatArray:
    """Nearest distinct arterial node to each target position."""
    tree = cKDTree(nodes)
    used: set[int] = set()
    out = []
    for t in targets:
        _, idx = tree.query(t, k=min(8, len(nodes)))
        choice = next(int(i) for i in np.atleast_1d(idx) if int(i) not in used)
        used.add(choice)
        out.append(nodes[choice])
    return np.array(out).reshape(-1, 2)


def build_fire_stations(net: RoadResult, p: Mapping[str, Any]) -> gpd.GeoDataFrame:
    specs = p["fire_stations"]
    xy = _snap(net.arterial_nodes, np.array([s["position_m"] for s in specs], dtype=float))
    return gpd.GeoDataFrame(
        {
            "id": [f"FS{k + 1}" for k in range(len(specs))],
            "name": [str(s["name"]) for s in specs],
            "grade": [str(s["grade"]) for s in specs],
        },
        geometry=shapely.points(xy),
    )


def build_depots(net: RoadResult, p: Mapping[str, Any], rng: np.random.Generator) -> gpd.GeoDataFrame:
    dp = p["depots"]
    sites = dp["sites"]
    xy = _snap(net.arterial_nodes, np.array([s["position_m"] for s in sites], dtype=float))
    capacity = np.array([float(s["capacity_people"]) for s in sites])
    data: dict[str, Any] = {
        "id": [f"D{k + 1}" for k in range(len(sites))],
        "name": [str(s["name"]) for s in sites],
        "tier": [str(s["tier"]) for s in sites],
        "capacity_people": capacity,
    }
    lo, hi = (float(v) for v in dp["fill"])
    for item, need in dp["need_per_person"].items():
        data[f"stock_{item}"] = np.round(capacity * float(need) * rng.uniform(lo, hi, len(sites)))
    return gpd.GeoDataFrame(data, geometry=shapely.points(xy))


def build_candidate_sites(
    net: RoadResult,
    hazards: gpd.GeoDataFrame,
    sensitive: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame,
    *,
    p: Mapping[str, Any],
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    cp = p["candidate_sites"]
    nodes = net.arterial_nodes

    def far_from(gdf: gpd.GeoDataFrame, d: float) -> npt.NDArray[np.bool_]:
        if len(gdf) == 0:
            return np.ones(len(nodes), bool)
        pts = shapely.get_coordinates(gdf.geometry.centroid.to_numpy())
        return cKDTree(pts).query(nodes)[0] >= d

    ok = (
        far_from(hazards, float(cp["hazard_distance_m"]))
        & far_from(sensitive, float(cp["sensitive_distance_m"]))
        & far_from(stations, float(cp["station_distance_m"]))
    )
    cand = nodes[ok][rng.permutation(int(ok.sum()))]
    xy = _spaced(cand, int(cp["count"]), float(cp["min_spacing_m"]), [])
    width = max(2, len(str(len(xy))))
    ids = [f"CS{k + 1:0{width}d}" for k in range(len(xy))]
    return gpd.GeoDataFrame(
        {"id": ids, "name": [f"Candidate site {i[2:]}" for i in ids]}, geometry=shapely.points(xy)
    )
