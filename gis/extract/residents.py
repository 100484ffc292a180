"""Residents of the communities ``riskplan init`` makes, from the best source at hand.

In order, per community: a census table (where its key matches), a population raster
(exact pixel fractions, :func:`gis.population.raster_population`), OSM buildings (footprint x
levels / floor area per person by type, ``gis/data/building_population.toml``) where the
mapped footprints cover enough of the community, else area x a density of the same table.
``population_total`` then scales the estimated figures (buildings, density) so that the sum
matches it. Each community's ``population_source`` says which: ``census``, ``raster``,
``buildings``, ``density``, with ``_scaled`` appended when scaled to the total.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from ..census import POPULATION_NAMES, join_census, read_census
from ..errors import InputError
from ..population import raster_population
from ..tables import TableOverrides, load_table

__all__ = [
    "ESTIMATED_SOURCES",
    "Residents",
    "building_residents",
    "building_table",
    "community_residents",
]

log = logging.getLogger(__name__)

#: Population sources that are estimates (scaled by ``population_total``).
ESTIMATED_SOURCES: tuple[str, ...] = ("buildings", "density")
#: Census columns copied to the communities when present.
CENSUS_COLUMNS: tuple[str, ...] = (
    "households",
    "share_aged_65plus",
    "share_built_pre2000",
    "share_highrise_no_elevator",
    "share_gas_supply",
)


def building_table(building_population: TableOverrides = None) -> dict[str, Any]:
    """The building population table merged with ``building_population`` (overrides), checked.

    Examples
    --------
    >>> t = building_table({"types": {"apartments": {"levels": 18.0}}})
    >>> t["types"]["apartments"]["levels"], t["defaults"]["m2_per_person"]
    (18.0, 40.0)
    """
    table = load_table("building_population", building_population)
    where = (
        f"`{building_population}`"
        if isinstance(building_population, (str, Path))
        else "building population table"
    )

    def positive(entry: str, value: Any, *, zero: bool = False) -> None:
        ok = (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and (value >= 0 if zero else value > 0)
        )
        if not ok:
            kind = "non-negative" if zero else "positive"
            msg = f"{where}: `{entry}` is {value!r}. Fix: give a {kind} number."
            raise InputError(msg)

    for key in ("levels", "m2_per_person", "level_height_m", "max_levels", "min_footprint_share"):
        positive(f"defaults.{key}", table["defaults"].get(key))
    for key in ("residential_per_km2", "built_up_per_km2"):
        positive(f"density.{key}", table["density"].get(key))
    for name, entry in table.get("types", {}).items():
        positive(f"types.{name}.levels", entry.get("levels"))
        positive(f"types.{name}.m2_per_person", entry.get("m2_per_person"), zero=True)
    return table


def _levels(values: pd.Series) -> npt.NDArray[np.float64]:
    """``building:levels`` as floats (``"5"``, ``"5;6"``: the first, ``"3.5"``), NaN when unusable."""
    text = (
        values.astype(object)
        .where(values.notna(), None)
        .map(lambda v: str(v).split(";")[0].strip() if v else None)
    )
    return pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)


def building_residents(
    buildings: gpd.GeoDataFrame, building_population: Mapping[str, Any]
) -> gpd.GeoDataFrame:
    """Residents of each OSM building polygon: footprint x levels / m2 per person (0 if not housing).

    ``buildings`` must be in a metric CRS, with ``building`` and optionally ``building:levels``
    and ``height`` columns. Returns ``footprint_m2``, ``levels`` and ``residents`` columns added.

    Examples
    --------
    >>> from shapely import box
    >>> b = gpd.GeoDataFrame(
    ...     {"building": ["apartments", "office", "yes"], "building:levels": ["10", None, None]},
    ...     geometry=[box(0, 0, 20, 20), box(0, 0, 20, 20), box(0, 0, 10, 10)], crs=32649)
    >>> building_residents(b, building_table())["residents"].tolist()  # 400 m2 x 10 / 40; 0; 100 x 2 / 80
    [100.0, 0.0, 2.5]
    """
    d = building_population["defaults"]
    types = building_population["types"]
    kind = buildings["building"].astype(object).where(buildings["building"].notna(), "yes").astype(str)
    entry = [
        types.get(k, types.get("yes", {"levels": d["levels"], "m2_per_person": d["m2_per_person"]}))
        for k in kind
    ]
    levels = (
        _levels(buildings["building:levels"])
        if "building:levels" in buildings
        else np.full(len(kind), np.nan)
    )
    if "height" in buildings:
        height = pd.to_numeric(
            buildings["height"].astype(str).str.replace("m", "").str.strip(), errors="coerce"
        )
        from_height = np.maximum(
            1.0, np.round(height.to_numpy(dtype=np.float64) / float(d["level_height_m"]))
        )
        levels = np.where(np.isfinite(levels), levels, from_height)
    default_levels = np.array([float(e.get("levels", d["levels"])) for e in entry])
    bad = ~np.isfinite(levels) | (levels < 1) | (levels > float(d["max_levels"]))
    levels = np.where(bad, default_levels, levels)
    per_person = np.array([float(e.get("m2_per_person", d["m2_per_person"])) for e in entry])
    footprint = buildings.area.to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        residents = np.where(per_person > 0, footprint * levels / per_person, 0.0)
    return buildings.assign(footprint_m2=footprint, levels=levels, residents=residents)


@dataclass(frozen=True)
class Residents:
    """Population per community, its source, and the sentences that say how it was made."""

    population: pd.Series
    source: pd.Series
    notes: tuple[str, ...]
    extra: pd.DataFrame  # census columns (households, shares) on the communities' index


def _census(
    communities: gpd.GeoDataFrame, census: str | Path, key: str | None
) -> tuple[pd.Series, pd.DataFrame, list[str]]:
    if key is None:
        msg = f"`--census` `{census}` needs `--census-key`: the column holding the community code or name."
        raise InputError(msg)
    table = read_census(census, key)
    pop_col = next((c for c in POPULATION_NAMES if c in table.columns), None)
    if pop_col is None:
        msg = (
            f"Census table `{census}` has no population column (looked for {list(POPULATION_NAMES)}; "
            f"it has {list(table.columns)}). Fix: name the residents column `population`."
        )
        raise InputError(msg)
    join = join_census(communities[["name", "ref", "geometry"]], table, key=key, on=["index", "name", "ref"])
    pop = pd.to_numeric(join.joined[pop_col], errors="coerce")
    extra = join.joined[[c for c in CENSUS_COLUMNS if c in join.joined.columns]]
    notes = [f"Census {Path(census).name}: " + join.report().replace("\n", "; ") + "."]
    if not join.matched:
        notes.append(
            f"No census row of {Path(census).name} matches a community by id, name or ref: "
            "check `--census-key` (codes or names as the communities have them)."
        )
    return pop, extra, notes


def community_residents(
    communities: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    density_kind: str,
    census: str | Path | None = None,
    census_key: str | None = None,
    raster: str | Path | None = None,
    total: float | None = None,
    building_population: TableOverrides = None,
) -> Residents:
    """Residents of each community (metric CRS, indexed by id), from the best source at hand.

    Examples
    --------
    >>> from shapely import box
    >>> com = gpd.GeoDataFrame({"name": ["A", "B"]}, index=["a", "b"],
    ...                        geometry=[box(0, 0, 400, 400), box(400, 0, 800, 400)], crs=32649)
    >>> blds = gpd.GeoDataFrame(
    ...     {"building": ["apartments"] * 5, "building:levels": ["6"] * 5},
    ...     geometry=[box(20 + 70 * k, 40, 60 + 70 * k, 80) for k in range(5)], crs=32649)
    >>> r = community_residents(com, blds, density_kind="residential", total=5000)
    >>> r.source.tolist(), round(r.population.sum())
    (['buildings_scaled', 'density_scaled'], 5000)
    """
    t = building_table(building_population)
    n = len(communities)
    population = pd.Series(np.nan, index=communities.index, dtype=np.float64)
    source = pd.Series("", index=communities.index, dtype=object)
    notes: list[str] = []
    extra = pd.DataFrame(index=communities.index)
    if census is not None:
        pop, extra, census_notes = _census(communities, census, census_key)
        ok = pop.notna() & (pop >= 0)
        population[ok], source[ok] = pop[ok], "census"
        notes += census_notes
    if raster is not None and population.isna().any():
        todo = population.isna()
        population[todo] = raster_population(communities.loc[todo], raster)
        source[todo] = "raster"
        notes.append(
            f"Population of {int(todo.sum())} communities from the raster {Path(raster).name} "
            "(people per pixel, summed with exact pixel fractions)."
        )
    todo = population.isna()
    if todo.any():
        pop, how = _estimate(communities.loc[todo], buildings, t, density_kind)
        population[todo], source[todo] = pop, how
        n_b, n_d = int((how == "buildings").sum()), int((how == "density").sum())
        density = float(t["density"][f"{density_kind}_per_km2"])
        parts = []
        if n_b:
            parts.append(
                f"{n_b} from OSM buildings (footprint x levels / floor area per person, "
                "gis/data/building_population.toml)"
            )
        if n_d:
            parts.append(
                f"{n_d} from their area x {density:,.0f} residents per km2 (buildings not mapped there)"
            )
        notes.append(
            f"Population is an estimate, not a count, for {int(todo.sum())} of {n} communities: "
            + "; ".join(parts)
            + "."
        )
    if total is not None:
        population, source, note = _scale(population, source, float(total))
        notes.append(note)
    log.info("population %.0f in %d communities: %s", population.sum(), n, source.value_counts().to_dict())
    return Residents(population.round(1), source, tuple(notes), extra)


def _estimate(
    communities: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, t: Mapping[str, Any], density_kind: str
) -> tuple[pd.Series, pd.Series]:
    area = communities.area
    density = float(t["density"][f"{density_kind}_per_km2"])
    pop = area / 1e6 * density
    how = pd.Series("density", index=communities.index, dtype=object)
    blds = buildings[buildings.geom_type.isin(["Polygon", "MultiPolygon"])] if len(buildings) else buildings
    if len(blds):
        blds = building_residents(blds.to_crs(communities.crs).reset_index(drop=True), t)
        points = gpd.GeoDataFrame(
            blds[["footprint_m2", "residents"]],
            geometry=blds.geometry.representative_point(),
            crs=communities.crs,
        )
        zones = gpd.GeoDataFrame(geometry=communities.geometry.to_numpy(), crs=communities.crs)
        hit = gpd.sjoin(points, zones, predicate="within", how="inner")
        hit = hit[~hit.index.duplicated()]
        pos = hit["index_right"].to_numpy(dtype=np.int64)
        footprint = np.bincount(pos, weights=hit["footprint_m2"].to_numpy(), minlength=len(zones))
        residents = np.bincount(pos, weights=hit["residents"].to_numpy(), minlength=len(zones))
        share = pd.Series(footprint / area.to_numpy(), index=communities.index)
        mapped = share >= float(t["defaults"]["min_footprint_share"])
        pop[mapped] = pd.Series(residents, index=communities.index)[mapped]
        how[mapped] = "buildings"
    return pop, how


def _scale(population: pd.Series, source: pd.Series, total: float) -> tuple[pd.Series, pd.Series, str]:
    if total <= 0:
        msg = f"`--population-total` is {total:g}. Fix: give the study area's residents, a positive number."
        raise InputError(msg)
    estimated = source.isin(ESTIMATED_SOURCES)
    measured = float(population[~estimated].sum())
    est_sum = float(population[estimated].sum())
    if estimated.any() and total > measured:
        target, which = total - measured, estimated
        base = population[estimated] if est_sum > 0 else pd.Series(1.0, index=population.index[estimated])
        kept = " (census and raster figures kept)" if (~estimated).any() else ""
    else:
        target, which = total, pd.Series(True, index=population.index)
        base = population if population.sum() > 0 else pd.Series(1.0, index=population.index)
        kept = " (every figure, census and raster included: they exceeded it or nothing was estimated)"
    factor = target / float(base.sum())
    out = population.copy()
    out[which] = base * factor
    src = source.copy()
    src[which] = src[which] + "_scaled"
    note = (
        f"Population scaled by {factor:.3g} to the given total of {total:,.0f} (`--population-total`){kept}."
    )
    return out, src, note
