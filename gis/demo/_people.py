"""Communities, sensitive sites and synthetic incidents of the demo city (private).

Communities are Voronoi cells of seeds (denser in the old town) computed separately on each
bank of the river and clipped to that bank, so they tile the land without overlapping and
never straddle the river. Population, households and census shares come from the zones a
community covers, measured on a regular sampling grid (:class:`gis.demo._layout.Grid`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
from scipy.spatial import cKDTree
from shapely.geometry import MultiPoint

from ._layout import RIVER, ZONES, Grid, Layout

__all__ = ["Population", "build_communities", "build_incidents", "build_sensitive_sites"]

FloatArray = npt.NDArray[np.float64]
SHARES = ("share_aged_65plus", "share_built_pre2000", "share_highrise_no_elevator", "share_gas_supply")


@dataclass(frozen=True)
class Population:
    """Communities plus the population weight of each grid cell (for placing points)."""

    communities: gpd.GeoDataFrame
    cell_weight: FloatArray


def _allocate(total: int, weights: FloatArray) -> npt.NDArray[np.int64]:
    """Split ``total`` in proportion to ``weights`` (largest remainder, deterministic)."""
    share = weights / weights.sum() * total
    out = np.floor(share).astype(np.int64)
    out[np.argsort(-(share - out), kind="stable")[: total - int(out.sum())]] += 1
    return out


def _seeds(grid: Grid, counts: npt.NDArray[np.int64], spacing: float, rng: np.random.Generator) -> FloatArray:
    """Community seeds per zone, kept apart by ``spacing`` x the mean distance between them."""
    seeds = []
    for z, n in enumerate(counts):
        if n == 0:
            continue
        cand = grid.xy[grid.zone == z]
        d_min = spacing * np.sqrt(len(cand) * grid.spacing**2 / n)
        accepted: list[FloatArray] = []
        shuffled = cand[rng.permutation(len(cand))]
        taken = np.zeros(len(shuffled), bool)
        for k, c in enumerate(shuffled):
            if not accepted or np.min(np.hypot(*(np.array(accepted) - c).T)) >= d_min:
                accepted.append(c)
                taken[k] = True
                if len(accepted) == n:
                    break
        # Too tight a spacing for this zone: fill up with the next candidates.
        accepted.extend(shuffled[~taken][: n - len(accepted)])
        seeds.extend(accepted)
    return np.array(seeds)


def _cells(layout: Layout, seeds: FloatArray) -> list[Any]:
    """Voronoi cells of the seeds of each bank, clipped to that bank; one part per cell."""
    east = layout.east_of_river(seeds[:, 0], seeds[:, 1])
    cells: list[Any] = [None] * len(seeds)
    for bank, land in zip((False, True), layout.land_parts(), strict=True):
        idx = np.flatnonzero(east == bank)
        vor = shapely.voronoi_polygons(MultiPoint(seeds[idx]), extend_to=layout.study_area(), ordered=True)
        clipped = shapely.intersection(np.asarray(shapely.get_parts(vor)), land)
        orphans = []
        for k, geom in zip(idx, clipped, strict=True):
            parts = sorted(
                (g for g in shapely.get_parts(geom) if g.geom_type == "Polygon"), key=lambda g: -g.area
            )
            cells[k] = parts[0]
            orphans.extend(parts[1:])
        # A cell cut in two by a meander of the bank: give the stray part to the neighbour
        # sharing the longest border with it.
        for part in orphans:
            shared = [shapely.length(shapely.intersection(part.boundary, cells[i].boundary)) for i in idx]
            best = int(idx[int(np.argmax(shared))])
            cells[best] = shapely.union(cells[best], part)
    return cells


def _beta(rng: np.random.Generator, mean: FloatArray, concentration: float) -> FloatArray:
    m = np.clip(mean, 0.01, 0.99)
    return rng.beta(m * concentration, (1.0 - m) * concentration)


def build_communities(
    layout: Layout, grid: Grid, p: Mapping[str, Any], rng: np.random.Generator
) -> Population:
    cp, zp = p["communities"], p["zones"]
    zone_attr = {
        key: np.array([float(zp[z][key]) if z in zp else 0.0 for z in ZONES])
        for key in ("population_density", "community_density", "household_size", *SHARES)
    }
    area = np.bincount(grid.zone, minlength=len(ZONES)) * grid.cell_area_km2
    area[RIVER] = 0.0
    counts = _allocate(int(cp["count"]), area * zone_attr["community_density"])
    seeds = _seeds(grid, counts, float(cp["seed_spacing"]), rng)
    # Number the communities from north-west to south-east.
    seeds = seeds[np.lexsort((seeds[:, 0], -np.round(seeds[:, 1] / 1000.0)))]
    cells = _cells(layout, seeds)

    # Each grid cell belongs to the nearest seed on its own bank (the clipped Voronoi rule).
    owner = np.empty(len(grid.xy), np.int64)
    seed_east = layout.east_of_river(seeds[:, 0], seeds[:, 1])
    grid_east = layout.east_of_river(grid.xy[:, 0], grid.xy[:, 1])
    for bank in (False, True):
        idx = np.flatnonzero(seed_east == bank)
        sel = grid_east == bank
        owner[sel] = idx[cKDTree(seeds[idx]).query(grid.xy[sel])[1]]
    n = len(seeds)
    mix = np.zeros((n, len(ZONES)))
    np.add.at(mix, (owner, grid.zone), 1.0)
    mix /= np.maximum(mix.sum(axis=1, keepdims=True), 1.0)

    noise = rng.lognormal(0.0, float(cp["population_noise_sigma"]), n)
    raw = np.bincount(owner, weights=zone_attr["population_density"][grid.zone], minlength=n) * noise
    population = _allocate(int(p["city"]["population_total"]), np.maximum(raw, 1e-9)).astype(float)
    hh_size = mix @ zone_attr["household_size"] + rng.normal(0.0, float(cp["household_size_sd"]), n)
    households = np.round(population / np.clip(hh_size, *cp["household_size_range"]))
    conc = float(cp["share_concentration"])
    shares = {key: np.round(_beta(rng, mix @ zone_attr[key], conc), 3) for key in SHARES}

    prefixes, suffixes = cp["name_prefixes"], cp["name_suffixes"]
    combos = [f"{a}{b}" for a, b in itertools.product(prefixes, suffixes)]
    order = rng.permutation(len(combos))
    names = [
        f"{combos[order[k % len(combos)]]}{'' if k < len(combos) else f' {k // len(combos) + 1}'} Community"
        for k in range(n)
    ]
    width = max(3, len(str(n)))
    gdf = gpd.GeoDataFrame(
        {
            "id": [f"C{k + 1:0{width}d}" for k in range(n)],
            "name": names,
            "district": [str(zp[ZONES[z]]["label"]) for z in mix.argmax(axis=1)],
            "population": population,
            "households": households,
            **shares,
        },
        geometry=cells,
    )
    cell_weight = (population / np.maximum(np.bincount(owner, minlength=n), 1))[owner]
    return Population(gdf, cell_weight)


def build_sensitive_sites(
    layout: Layout, grid: Grid, pop: Population, p: Mapping[str, Any], rng: np.random.Generator
) -> gpd.GeoDataFrame:
    sp = p["sensitive_sites"]
    kinds = [k for k in sp if k != "labels"]
    counts = [int(sp[k]) for k in kinds]
    xy = grid.sample(rng, pop.cell_weight, sum(counts), layout)
    kind = np.repeat(kinds, counts)
    number = np.concatenate([np.arange(1, c + 1) for c in counts]) if counts else np.zeros(0, int)
    width = max(3, len(str(len(kind))))
    return gpd.GeoDataFrame(
        {
            "id": [f"SS{k + 1:0{width}d}" for k in range(len(kind))],
            "name": [f"{sp['labels'].get(k, k.title())} No. {i}" for k, i in zip(kind, number, strict=True)],
            "kind": kind.astype(object),
        },
        geometry=shapely.points(xy),
    )


def _times(rng: np.random.Generator, n: int, year: int, peak: float, peak_day: float) -> list[str]:
    """Random times in ``year``, more frequent in the heating season (around ``peak_day``)."""
    start = np.datetime64(f"{year}-01-01T00:00")
    minutes = int((np.datetime64(f"{year + 1}-01-01T00:00") - start) / np.timedelta64(1, "m"))
    out = np.empty(0, np.int64)
    while len(out) < n:
        t = rng.integers(0, minutes, 2 * n + 16)
        accept = rng.random(len(t)) * (1 + peak) < 1 + peak * np.cos(
            2 * np.pi * (t / minutes - peak_day / 365)
        )
        out = np.concatenate([out, t[accept]])
    stamps = start + np.sort(out[:n]).astype("timedelta64[m]")
    return list(np.datetime_as_string(stamps, unit="s"))


def build_incidents(
    layout: Layout,
    grid: Grid,
    pop: Population,
    hazards: gpd.GeoDataFrame,
    *,
    p: Mapping[str, Any],
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    """Incidents of an inhomogeneous Poisson process: population, hazards, background."""
    ip = p["incidents"]
    n = int(rng.poisson(float(ip["expected_count"])))
    shares = np.array([float(ip["share_population"]), float(ip["share_hazards"])])
    n_pop, n_haz, n_bg = rng.multinomial(n, [*shares, max(1.0 - shares.sum(), 0.0)])
    cats = ip["population_categories"]
    pop_xy = grid.sample(rng, pop.cell_weight, n_pop, layout)
    pop_cat = rng.choice(list(cats), size=n_pop, p=np.array(list(cats.values())) / sum(cats.values()))

    cat_p = p["hazards"]["categories"]
    w = np.array([float(cat_p[c]["incident_weight"]) for c in hazards["category"]])
    src = rng.choice(len(hazards), size=n_haz, p=w / w.sum())
    hxy = np.column_stack([hazards.geometry.x, hazards.geometry.y])[src]
    sigma = float(ip["hazard_kernel_m"])
    haz_xy = hxy + rng.normal(0.0, sigma, hxy.shape)
    while True:  # draw again the points that fall into the water or outside the city
        bad = (layout.zones(haz_xy[:, 0], haz_xy[:, 1]) == RIVER) | (
            layout.edge_distance(haz_xy[:, 0], haz_xy[:, 1]) < 0
        )
        if not bad.any():
            break
        haz_xy[bad] = hxy[bad] + rng.normal(0.0, sigma, (int(bad.sum()), 2))
    bg_xy = grid.sample(rng, np.ones(len(grid.xy)), n_bg, layout)

    xy = np.concatenate([pop_xy, haz_xy, bg_xy])
    category = np.concatenate([pop_cat, hazards["category"].to_numpy()[src], np.full(n_bg, "other")])
    order = rng.permutation(len(xy))
    width = max(5, len(str(len(xy))))
    return gpd.GeoDataFrame(
        {
            "id": [f"I{k + 1:0{width}d}" for k in range(len(xy))],
            "category": category[order].astype(object),
            "time": _times(rng, len(xy), int(ip["year"]), float(ip["winter_peak"]), float(ip["peak_day"])),
        },
        geometry=shapely.points(xy[order]),
    )
