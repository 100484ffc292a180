"""Cities' territories, rural communities, sensitive sites and incidents of the province (private).

The province is split into the territories of its cities (prefecture-level cities, as in
China: each city governs the counties around it): the Voronoi cells of the city centres,
each grown to hold its own city square and cut back from the others. Outside the city
squares, communities are the Voronoi cells of seeds, one per village and a few per township
or county town (one per ``people_per_community``), computed in each territory and clipped to
it, so that the cities' and the countryside's communities together tile the province.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import MultiPoint

from ._people import _times
from ._province_places import TIERS, VILLAGE, Places, allocate

__all__ = ["build_rural_communities", "build_rural_incidents", "build_rural_sensitive_sites", "territories"]

FloatArray = npt.NDArray[np.float64]
_SHARES = ("share_aged_65plus", "share_built_pre2000", "share_highrise_no_elevator", "share_gas_supply")


def territories(province: shapely.Polygon, centres: FloatArray, squares: list[shapely.Polygon]) -> list[Any]:
    """The territory of each city: its Voronoi cell, plus its square, minus the other squares."""
    cells = shapely.voronoi_polygons(MultiPoint(centres), extend_to=province, ordered=True)
    cells = shapely.intersection(np.asarray(shapely.get_parts(cells)), province)
    out = []
    for k, cell in enumerate(cells):
        others = shapely.union_all([s for j, s in enumerate(squares) if j != k])
        out.append(shapely.difference(shapely.union(cell, squares[k]), others))
    return out


def city_of(xy: FloatArray, terr: list[Any]) -> npt.NDArray[np.int64]:
    """Index of the territory holding each point (nearest one for points on no territory)."""
    out = np.full(len(xy), -1, np.int64)
    for k, t in enumerate(terr):
        out[(out < 0) & shapely.contains_xy(t, xy[:, 0], xy[:, 1])] = k
    if (out < 0).any():
        pts = shapely.points(xy[out < 0])
        out[out < 0] = np.argmin(np.stack([shapely.distance(pts, t) for t in terr]), axis=0)
    return out


def _seeds(
    places: Places, pp: Mapping[str, Any], rng: np.random.Generator
) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """Community seeds (the first of each place at its centre) and the place of each."""
    xy, owner = [], []
    for i in np.flatnonzero(places.population > 0):
        per = float(pp[TIERS[places.tier[i]]].get("people_per_community", math.inf))
        n = 1 if places.tier[i] == VILLAGE else max(round(places.population[i] / per), 1)
        pts = [places.xy[i]]
        if n > 1:
            pts.extend(_spread(places.xy[i], float(places.side[i]) * 0.9, n - 1, rng))
        xy.extend(pts)
        owner.extend([i] * n)
    return np.array(xy), np.array(owner, dtype=np.int64)


def _spread(centre: FloatArray, side: float, n: int, rng: np.random.Generator) -> FloatArray:
    """``n`` points in the square of ``side`` around ``centre``, one per cell of a grid.

    The grid has ``m x m`` cells (``m * m > n``), the centre's cell is left to the centre
    itself; each point is jittered by at most a fifth of a cell, so no two are closer than
    0.6 cells (a community is never a sliver between two close neighbours).
    """
    m = math.ceil(math.sqrt(n + 1))
    cell = side / m
    ij = np.stack(np.meshgrid(np.arange(m), np.arange(m), indexing="ij"), axis=-1).reshape(-1, 2)
    xy = centre - side / 2 + (ij + 0.5) * cell
    free = np.delete(np.arange(len(xy)), np.argmin(np.hypot(*(xy - centre).T)))
    pick = np.sort(rng.choice(free, size=n, replace=False))
    return xy[pick] + rng.uniform(-0.2, 0.2, (n, 2)) * cell


def _beta(rng: np.random.Generator, mean: FloatArray, concentration: float) -> FloatArray:
    m = np.clip(mean, 0.01, 0.99)
    return rng.beta(m * concentration, (1.0 - m) * concentration)


def build_rural_communities(
    places: Places,
    terr: list[Any],
    squares: list[shapely.Polygon],
    *,
    pp: Mapping[str, Any],
    demo: Mapping[str, Any],
    rng: np.random.Generator,
) -> tuple[gpd.GeoDataFrame, npt.NDArray[np.int64]]:
    """Communities of the countryside and the city (territory) of each."""
    seeds, owner = _seeds(places, pp, rng)
    seed_city = city_of(seeds, terr)
    cells: list[Any] = [None] * len(seeds)
    for k, t in enumerate(terr):
        idx = np.flatnonzero(seed_city == k)
        if idx.size == 0:
            continue
        land = shapely.difference(t, squares[k])
        if idx.size == 1:
            cells[idx[0]] = land
            continue
        vor = shapely.voronoi_polygons(MultiPoint(seeds[idx]), extend_to=t, ordered=True)
        clipped = shapely.intersection(np.asarray(shapely.get_parts(vor)), land)
        for i, geom in zip(idx, clipped, strict=True):
            polys = [g for g in shapely.get_parts(geom) if g.geom_type == "Polygon" and g.area > 0]
            cells[i] = shapely.multipolygons(polys) if len(polys) > 1 else polys[0]
    n = len(seeds)
    pop = np.zeros(n, np.int64)
    for i in np.unique(owner):
        sel = np.flatnonzero(owner == i)
        pop[sel] = allocate(int(places.population[i]), rng.lognormal(0.0, 0.3, len(sel)))
    cens = pp["census"]
    tier_of = places.tier[owner]
    attr = {
        key: np.array([float(cens[TIERS[t]][key]) for t in tier_of]) for key in ("household_size", *_SHARES)
    }
    hh = np.clip(attr["household_size"] + rng.normal(0.0, 0.08, n), 2.0, 3.8)
    conc = float(demo["communities"]["share_concentration"])
    counter: dict[int, int] = {}
    names = []
    for i in owner:
        counter[int(i)] = counter.get(int(i), 0) + 1
        base = places.name[i]
        names.append(base if places.tier[i] == VILLAGE else f"{base} Community {counter[int(i)]}")
    gdf = gpd.GeoDataFrame(
        {
            "name": names,
            "district": [places.name[i] for i in owner],
            "population": pop.astype(float),
            "households": np.round(pop / hh),
            **{key: np.round(_beta(rng, attr[key], conc), 3) for key in _SHARES},
        },
        geometry=cells,
    )
    return gdf, seed_city


def build_rural_sensitive_sites(
    places: Places, pp: Mapping[str, Any], demo: Mapping[str, Any], rng: np.random.Generator
) -> gpd.GeoDataFrame:
    """Schools, kindergartens, hospitals ... of the county towns and townships."""
    labels = demo["sensitive_sites"]["labels"]
    rows: list[tuple[str, str, FloatArray]] = []
    for key in ("county_towns", "townships"):
        t = TIERS.index(key)
        kinds = pp["sensitive_sites"].get(key, {})
        for i in np.flatnonzero(places.tier == t):
            for kind, count in kinds.items():
                for no in range(1, int(count) + 1):
                    xy = places.xy[i] + rng.uniform(-0.4, 0.4, 2) * places.side[i]
                    rows.append((f"{places.name[i]} {labels.get(kind, kind.title())} No. {no}", kind, xy))
    xy = np.array([r[2] for r in rows]).reshape(-1, 2)
    return gpd.GeoDataFrame(
        {"name": [r[0] for r in rows], "kind": [r[1] for r in rows]}, geometry=shapely.points(xy)
    )


def build_rural_incidents(
    places: Places,
    hazards: gpd.GeoDataFrame,
    land: Any,
    *,
    pp: Mapping[str, Any],
    demo: Mapping[str, Any],
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    """A year of incidents in the countryside: around people, around hazards, anywhere."""
    ip = pp["incidents"]
    people = float(places.population.sum())
    n = int(rng.poisson(float(ip["per_million"]) * people / 1e6))
    shares = [float(ip["share_population"]), float(ip["share_hazards"])]
    n_pop, n_haz, n_bg = rng.multinomial(n, [*shares, max(1.0 - sum(shares), 0.0)])
    w = places.population.astype(float)
    src = rng.choice(len(places), size=n_pop, p=w / w.sum())
    spread = float(ip["place_kernel_share"]) * places.side[src]
    pop_xy = places.xy[src] + rng.normal(0.0, 1.0, (n_pop, 2)) * spread[:, None]
    cats = demo["incidents"]["population_categories"]
    pop_cat = rng.choice(list(cats), size=n_pop, p=np.array(list(cats.values())) / sum(cats.values()))
    cat_p = demo["hazards"]["categories"]
    hw = np.array([float(cat_p[c]["incident_weight"]) for c in hazards["category"]])
    hsrc = rng.choice(len(hazards), size=n_haz, p=hw / hw.sum())
    hxy = shapely.get_coordinates(hazards.geometry.to_numpy())[hsrc]
    haz_xy = hxy + rng.normal(0.0, float(ip["hazard_kernel_m"]), hxy.shape)
    x0, y0, x1, y1 = land.bounds
    bg: list[FloatArray] = []
    while sum(len(b) for b in bg) < n_bg:
        cand = np.column_stack([rng.uniform(x0, x1, 2 * n_bg + 8), rng.uniform(y0, y1, 2 * n_bg + 8)])
        bg.append(cand[shapely.contains_xy(land, cand[:, 0], cand[:, 1])])
    bg_xy = np.concatenate(bg)[:n_bg] if bg else np.zeros((0, 2))
    xy = np.concatenate([pop_xy, haz_xy, bg_xy])
    category = np.concatenate([pop_cat, hazards["category"].to_numpy()[hsrc], np.full(n_bg, "other")])
    order = rng.permutation(len(xy))
    yp = demo["incidents"]
    return gpd.GeoDataFrame(
        {
            "category": category[order].astype(object),
            "time": _times(rng, len(xy), int(yp["year"]), float(yp["winter_peak"]), float(yp["peak_day"])),
        },
        geometry=shapely.points(xy[order]),
    )
