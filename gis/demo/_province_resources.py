"""Hazard sources and emergency resources of the demo province's countryside (private).

Hazards: coal mines and quarries at the ends of their access roads in the coalfields, plants
along the streets of the chemical parks, fuel stations beside national and provincial roads,
and a few sources of each kind in every county town; inventories after GB 18218-2018 from the
demo city's facility types (``gis/data/demo_city.toml``). Resources: fire stations in county
towns, some townships and every chemical park (special duty), county and township relief
depots, the province's depots, and candidate sites; all on road vertices of the country.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely

from ..errors import InputError
from ..schema import RECTIFICATION_STATUSES, SIZE_CLASSES
from ._hazards import _beside_lines, _inventory, _snap, _spaced
from ._province_places import COUNTY, PARK, TOWNSHIP, Places, Streets

__all__ = ["build_rural_hazards", "build_rural_resources"]

FloatArray = npt.NDArray[np.float64]


def _facilities(demo: Mapping[str, Any], category: str) -> list[Mapping[str, Any]]:
    out = [f for f in demo["hazards"]["facilities"] if f["category"] == category]
    if not out:
        msg = (
            f"Hazard category `{category}` has no facility type in the demo-city table. Fix: add a "
            "`[[hazards.facilities]]` entry to the `demo_params` of the province."
        )
        raise InputError(msg)
    return out


def _records(
    xy: FloatArray,
    category: str,
    facilities: list[Mapping[str, Any]],
    weights: FloatArray,
    size_mix: list[float],
    *,
    pp: Mapping[str, Any],
    demo: Mapping[str, Any],
    rng: np.random.Generator,
    numbers: dict[str, int],
    prefix: str = "",
) -> list[dict[str, Any]]:
    rect = pp["hazards"]["rectification"]
    rect_p = np.array([float(rect.get(s, 0.0)) for s in RECTIFICATION_STATUSES])
    kinds = rng.choice(len(facilities), size=len(xy), p=weights / weights.sum())
    size = rng.choice(SIZE_CLASSES, size=len(xy), p=np.asarray(size_mix) / np.sum(size_mix))
    status = rng.choice(RECTIFICATION_STATUSES, size=len(xy), p=rect_p / rect_p.sum())
    out = []
    for k in range(len(xy)):
        fac = facilities[kinds[k]]
        label = f"{prefix}{fac['label']}"
        numbers[label] = numbers.get(label, 0) + 1
        inv = fac.get("inventory")
        out.append(
            {
                "name": f"{label} {numbers[label]}",
                "category": category,
                "inventory": _inventory(inv, demo["critical_quantities_t"], 1, rng) if inv else None,
                "rectification": str(status[k]),
                "size_class": str(size[k]),
                "geometry": shapely.Point(xy[k]),
            }
        )
    return out


def _by_label(facilities: list[Mapping[str, Any]], mix: Mapping[str, Any], where: str) -> FloatArray:
    labels = [f["label"] for f in facilities]
    unknown = sorted(set(mix) - set(labels))
    if unknown:
        msg = f"{where}: unknown facility types {unknown}. Fix: use the labels of demo_city.toml: {labels}."
        raise InputError(msg)
    return np.array([float(mix.get(label, 0.0)) for label in labels])


def build_rural_hazards(
    places: Places,
    roads: Streets,
    *,
    mines: FloatArray,
    mine_field: npt.NDArray[np.int64],
    pp: Mapping[str, Any],
    demo: Mapping[str, Any],
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    """Hazard sources of the countryside (local metres), with a ``cluster`` column."""
    hp = pp["hazards"]
    numbers: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    clusters: list[str] = []
    mining = _facilities(demo, "mining")
    for k, spec in enumerate(hp["coalfields"]):
        xy = mines[mine_field == k]
        w = _by_label(mining, spec["facilities"], f"coalfield `{spec['name']}`")
        new = _records(
            xy, "mining", mining, w, spec["size_class"], pp=pp, demo=demo, rng=rng, numbers=numbers
        )
        rows += new
        clusters += [str(spec["name"])] * len(new)

    geoms = roads.geoms()
    park_ids = np.flatnonzero(places.tier == PARK)
    for spec, pid in zip(hp["parks"], park_ids, strict=True):
        n = int(spec["count"])
        on = np.flatnonzero(roads.place == pid)
        if on.size:  # points every 50 m along the park's streets, however sparse they are
            lines = geoms[on]
            steps = np.maximum(np.ceil(shapely.length(lines) / 50.0), 1).astype(np.int64)
            which = np.repeat(np.arange(len(lines)), steps + 1)
            first = np.repeat(np.cumsum(steps + 1) - steps - 1, steps + 1)
            t = (np.arange(len(which)) - first) / steps[which]
            vxy = shapely.get_coordinates(shapely.line_interpolate_point(lines[which], t, normalized=True))
        else:
            half = float(spec["side_m"]) / 2
            vxy = places.xy[pid] + rng.uniform(-half, half, (30 * n, 2))
        cand = vxy[rng.permutation(len(vxy))]
        ang = rng.uniform(0, 2 * np.pi, len(cand))
        cand = cand + float(hp["plant_offset_m"]) * np.column_stack([np.cos(ang), np.sin(ang)])
        xy = _spaced(cand, n, float(hp["min_spacing_m"]) / 2, [])
        mix = spec["category_mix"]
        cats = rng.choice(list(mix), size=len(xy), p=np.array(list(mix.values()), float) / sum(mix.values()))
        for cat in dict.fromkeys(cats):
            fac = _facilities(demo, str(cat))
            w = np.array([float(f["weight"]) for f in fac])
            sel = xy[cats == cat]
            new = _records(
                sel, str(cat), fac, w, hp["size_class"]["parks"], pp=pp, demo=demo, rng=rng, numbers=numbers
            )
            rows += new
            clusters += [str(spec["name"])] * len(new)

    ar = hp["along_roads"]
    codes = [_code(c) for c in ar["classes"]]
    sel = np.isin(roads.code, codes) & (roads.place < 0)
    lines = geoms[sel]
    if len(lines):
        n = round(shapely.length(lines).sum() / 1000.0 / float(ar["km_per_station"]))
        xy = _beside_lines(lines, n, float(ar["offset_m"]), rng)
        fac = _facilities(demo, str(ar["category"]))
        w = np.array([float(f["weight"]) for f in fac])
        new = _records(
            xy,
            str(ar["category"]),
            fac,
            w,
            hp["size_class"]["along_roads"],
            pp=pp,
            demo=demo,
            rng=rng,
            numbers=numbers,
        )
        rows += new
        clusters += [""] * len(new)

    for i in np.flatnonzero(places.tier == COUNTY):
        for cat, count in hp["per_county_town"].items():
            fac = _facilities(demo, cat)
            w = np.array([float(f["weight"]) for f in fac])
            xy = places.xy[i] + rng.uniform(-0.45, 0.45, (int(count), 2)) * places.side[i]
            new = _records(
                xy, cat, fac, w, hp["size_class"]["county_towns"], pp=pp, demo=demo, rng=rng, numbers=numbers
            )
            rows += new
            clusters += [""] * len(new)
    gdf = gpd.GeoDataFrame(rows, geometry="geometry")
    gdf["cluster"] = [c or None for c in clusters]
    return gdf


def _code(name: str) -> int:
    from ._province_places import CLASSES

    return CLASSES.index(name)


def _targets(places: Places, i: int, share: float, angle: float) -> FloatArray:
    """A point ``share`` of the place's side from its centre, along its streets' grid."""
    a = places.turn[i] + angle
    return places.xy[i] + share * places.side[i] * np.array([np.cos(a), np.sin(a)])


def build_rural_resources(
    places: Places,
    nodes: FloatArray,
    pp: Mapping[str, Any],
    demo: Mapping[str, Any],
    rng: np.random.Generator,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Fire stations, depots and candidate sites of the countryside, on road ``nodes``.

    Returns GeoDataFrames (local metres) without ids: stations (name, grade), depots (name,
    tier, capacity_people, stock_*) and candidate sites (name).
    """
    ct, tw, pl = pp["county_towns"], pp["townships"], pp["hazards"]["parks_lattice"]
    st_targets, st_names, st_grades = [], [], []
    dp_targets, dp_names, dp_tiers, dp_cap = [], [], [], []
    cs_targets = []
    quarter = np.pi / 2
    for i in range(len(places)):
        name = places.name[i]
        if places.tier[i] == COUNTY:
            for n, grade in enumerate(ct["fire_stations"]):
                st_targets.append(_targets(places, i, 0.25 * n, quarter * n))
                st_names.append(f"{name} Fire Station" + (f" {n + 1}" if n else ""))
                st_grades.append(str(grade))
            dp_targets.append(_targets(places, i, 0.3, 2 * quarter))
            dp_names.append(f"{name} Relief Depot")
            dp_tiers.append("county")
            dp_cap.append(float(ct["depot_capacity_people"]))
            cs_targets += [
                _targets(places, i, 0.4, quarter * (n + 0.5)) for n in range(int(ct["candidate_sites"]))
            ]
        elif places.tier[i] == TOWNSHIP:
            if rng.random() < float(tw["fire_station_share"]):
                st_targets.append(places.xy[i])
                st_names.append(f"{name} Fire Station")
                st_grades.append(str(tw["fire_station_grade"]))
            if rng.random() < float(tw["depot_share"]):
                dp_targets.append(_targets(places, i, 0.25, quarter))
                dp_names.append(f"{name} Relief Depot")
                dp_tiers.append("township")
                dp_cap.append(float(tw["depot_capacity_people"]))
            cs_targets += [_targets(places, i, 0.35, 3 * quarter) for _ in range(int(tw["candidate_sites"]))]
        elif places.tier[i] == PARK:
            st_targets.append(_targets(places, i, 0.25, 0.0))
            st_names.append(f"{name.removesuffix(' (synthetic)')} Special Fire Station")
            st_grades.append(str(pl["fire_station_grade"]))
    for spec in pp["depots"]:
        dp_targets.append(np.array([float(v) * 1000.0 for v in spec["position_km"]]))
        dp_names.append(str(spec["name"]))
        dp_tiers.append(str(spec["tier"]))
        dp_cap.append(float(spec["capacity_people"]))
    # stations and candidate sites on distinct nodes; depots may share a node with a station
    both = _snap(nodes, np.array(st_targets + cs_targets).reshape(-1, 2))
    st_xy, cs_xy = both[: len(st_targets)], both[len(st_targets) :]
    dp_xy = _snap(nodes, np.array(dp_targets).reshape(-1, 2))
    stations = gpd.GeoDataFrame({"name": st_names, "grade": st_grades}, geometry=shapely.points(st_xy))
    dp = demo["depots"]
    cap = np.array(dp_cap)
    lo, hi = (float(v) for v in dp["fill"])
    data: dict[str, Any] = {"name": dp_names, "tier": dp_tiers, "capacity_people": cap}
    for item, need in dp["need_per_person"].items():
        data[f"stock_{item}"] = np.round(cap * float(need) * rng.uniform(lo, hi, len(cap)))
    depots = gpd.GeoDataFrame(data, geometry=shapely.points(dp_xy))
    candidates = gpd.GeoDataFrame(
        {"name": [f"Candidate site {k + 1}" for k in range(len(cs_xy))]}, geometry=shapely.points(cs_xy)
    )
    return stations, depots, candidates
