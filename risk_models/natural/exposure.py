"""Natural hazards per area unit: affected residents per return period and per year, and the composite terms.

:class:`NaturalHazards` names a city's census layers: flood depth rasters per return period and
zones (or points) of geological hazards and fire danger with a grade. :func:`natural_exposure`
gives, per unit:

- floods, per return period ``T``: ``flood_affected_rp<T>`` (share of the unit's area deeper than
  ``flood.affected_depth_m``), ``flood_damage_rp<T>`` (mean building damage share),
  ``flood_deaths_rp<T>`` (mean mortality); and per year (:func:`expected_annual`):
  ``eae_share_flood``, ``eae_damage_flood``, ``eae_deaths_share_flood``;
- zones, per group (``geological``, ``wildfire``): ``eae_share_<group>``, the share of the area
  in each grade times the grade's annual probability (where zones overlap, the higher grade
  counts);
- ``eae_affected_<hazard>`` = share x residents, and for floods ``eae_deaths_flood``.

Residents are taken as spread evenly over a unit (the census gives counts per community); a
finer population raster would weight the pixels. :func:`natural_terms` turns the annual shares
into the ``hazard_<name>`` terms of the composite (``[composite]`` of the table).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.crs import require_metric
from gis.errors import InputError
from gis.rasters import zonal_means
from gis.speech import current_lang, say
from gis.tables import TableOverrides

from ..words import category_word
from .annual import expected_annual, return_periods
from .table import NaturalTable, impact_curve, load_natural_table, zone_groups

__all__ = ["NaturalExposure", "NaturalHazards", "natural_exposure", "natural_terms"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NaturalHazards:
    """A city's natural-hazard layers.

    Attributes
    ----------
    flood_depth
        Return period in years -> flood (or waterlogging) depth raster in metres.
    zones
        Polygons or points with ``hazard_type`` (a type of the table's zone groups, e.g.
        ``landslide``, ``forest_fire``) and ``grade`` (one of the group's grades); points count
        as circles of the group's ``point_radius_m``.
    label
        Where the layers come from ("synthetic" for the demo city's), shown in the notes.
    relocation_return_period
        The flood (one of ``flood_depth``'s return periods) whose displaced residents the relief
        depots plan for (:func:`planning.relocation_demand`); None: the risk levels' rates only.
    closure_return_period
        The flood (one of ``flood_depth``'s return periods) whose flooded roads ``riskplan run``
        closes to compute the coverage lost (:mod:`service.flood_run`); None: no closures.
    """

    flood_depth: Mapping[float, Path] = field(default_factory=dict)
    zones: gpd.GeoDataFrame | None = None
    label: str = ""
    relocation_return_period: float | None = None
    closure_return_period: float | None = None

    def __post_init__(self) -> None:
        periods = return_periods(list(self.flood_depth))
        keys = sorted(self.flood_depth, key=lambda k: float(str(k)))
        depth = {t: Path(self.flood_depth[k]) for t, k in zip(periods, keys, strict=True)}
        object.__setattr__(self, "flood_depth", depth)

    @property
    def empty(self) -> bool:
        """True without any layer."""
        return not self.flood_depth and (self.zones is None or self.zones.empty)


@dataclass(frozen=True)
class NaturalExposure:
    """Per-unit natural-hazard figures (:func:`natural_exposure`) and the notes on how they were made."""

    units: pd.DataFrame
    notes: tuple[str, ...]
    hazards: tuple[str, ...]


def _zone_frame(zones: gpd.GeoDataFrame, table: NaturalTable, crs: Any) -> gpd.GeoDataFrame:
    """Zones checked, projected to ``crs``, points buffered; InputError naming rows and the fix."""
    missing = [c for c in ("hazard_type", "grade") if c not in zones.columns]
    if missing:
        msg = (
            f"Natural-hazard zones lack the column(s) {', '.join(missing)}. Fix: give each zone a "
            "`hazard_type` (landslide, collapse, debris_flow, subsidence, forest_fire, grassland_fire) "
            "and a `grade`."
        )
        raise InputError(msg)
    if zones.crs is None:
        msg = "Natural-hazard zones have no CRS. Fix: set it (e.g. EPSG:4326) before scoring."
        raise InputError(msg)
    groups = zone_groups(table)
    kinds = zones["hazard_type"].astype(str).str.strip()
    bad = zones.index[~kinds.isin(list(groups))]
    if len(bad):
        rows = ", ".join(map(str, list(bad[:10])))
        msg = (
            f"Natural-hazard zones: rows {rows} have a `hazard_type` riskplan does not know "
            f"({', '.join(sorted(set(kinds[bad])))}). Fix: use one of {', '.join(groups)}."
        )
        raise InputError(msg)
    group = kinds.map(groups)
    grade = zones["grade"].astype(str).str.strip()
    for g in dict.fromkeys(group):
        allowed = [k for k in table["zones"][g]["annual_probability"] if k != "source"]
        wrong = zones.index[(group == g) & ~grade.isin(allowed)]
        if len(wrong):
            rows = ", ".join(map(str, list(wrong[:10])))
            msg = (
                f"Natural-hazard zones: rows {rows} ({g}) have a `grade` outside {', '.join(allowed)}. "
                "Fix: use the census grade names of the table `zones."
                f"{g}.annual_probability`."
            )
            raise InputError(msg)
    out = gpd.GeoDataFrame({"group": group, "grade": grade}, geometry=zones.geometry.to_crs(crs), crs=crs)
    points = out.geometry.geom_type.isin(["Point", "MultiPoint"]).to_numpy()
    if points.any():
        radius = out["group"].map({g: float(table["zones"][g]["point_radius_m"]) for g in table["zones"]})
        out.loc[points, "geometry"] = out.geometry[points].buffer(radius[points].to_numpy())
    return out[out.geometry.notna() & ~out.geometry.is_empty]


def _zone_shares(units: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, spec: Mapping[str, Any]) -> np.ndarray:
    """Annual affected share per unit from one group's zones: sum over grades of area share x p."""
    probs = {k: float(v) for k, v in spec["annual_probability"].items() if k != "source"}
    area = shapely.area(units.geometry.to_numpy())
    share = np.zeros(len(units))
    higher = None
    for grade in sorted(probs, key=lambda g: -probs[g]):
        geoms = zones.geometry[zones["grade"] == grade].to_numpy()
        if len(geoms) == 0:
            continue
        region = shapely.union_all(shapely.make_valid(geoms))
        if higher is not None:
            region, higher = shapely.difference(region, higher), shapely.union(higher, region)
        else:
            higher = region
        covered = shapely.area(shapely.intersection(units.geometry.to_numpy(), region))
        with np.errstate(invalid="ignore", divide="ignore"):
            share += np.where(area > 0, covered / area, 0.0) * probs[grade]
    return share


def natural_exposure(
    units: gpd.GeoDataFrame,
    hazards: NaturalHazards,
    *,
    table: TableOverrides = None,
) -> NaturalExposure:
    """Natural-hazard figures per unit (see the module's docstring for the columns).

    Parameters
    ----------
    units
        Area units in a metric CRS with ``population`` or ``pop_per_km2``.
    hazards
        The layers.
    table
        Overrides of ``risk_models/data/natural_hazards.toml`` (or a loaded table).

    Returns
    -------
    NaturalExposure
        ``units``: the columns on ``units``' index; ``hazards``: the hazard names with a term
        (``flood``, ``geological``, ``wildfire``).
    """
    require_metric(units, what="natural-hazard units")
    t = load_natural_table(table)
    integ = t["integration"]
    area_km2 = shapely.area(units.geometry.to_numpy()) / 1e6
    if "population" in units.columns:
        residents = units["population"].to_numpy(dtype=np.float64)
    elif "pop_per_km2" in units.columns:
        residents = units["pop_per_km2"].to_numpy(dtype=np.float64) * area_km2
    else:
        residents = np.zeros(len(units))
    out = pd.DataFrame(index=units.index)
    notes: list[str] = []
    names: list[str] = []
    label = f" ({hazards.label})" if hazards.label else ""
    if hazards.flood_depth:
        fl = t["flood"]
        threshold = float(fl["affected_depth_m"])
        damage = impact_curve(fl["building_damage"])
        deaths = impact_curve(fl["mortality"])
        functions = {
            "affected": lambda d: (d > threshold).astype(np.float64),
            "damage": damage,
            "deaths": deaths,
        }
        per: dict[str, dict[float, np.ndarray]] = {k: {} for k in functions}
        for period, path in hazards.flood_depth.items():
            means = zonal_means(
                units, path, functions, fill=0.0, what=f"Flood depth raster ({period:g}-year)"
            )
            tag = f"rp{period:g}"
            for k in functions:
                out[f"flood_{k}_{tag}"] = means[k].to_numpy()
                per[k][period] = means[k].to_numpy()
        protection, beyond = float(integ["protection_years"]), str(integ["beyond_largest"])

        def annual(impacts: Mapping[float, np.ndarray]) -> np.ndarray:
            return expected_annual(impacts, protection_years=protection, beyond_largest=beyond)

        out["eae_share_flood"] = annual(per["affected"])
        out["eae_damage_flood"] = annual(per["damage"])
        out["eae_deaths_share_flood"] = annual(per["deaths"])
        out["eae_affected_flood"] = out["eae_share_flood"] * residents
        out["eae_deaths_flood"] = out["eae_deaths_share_flood"] * residents
        names.append("flood")
        periods = ", ".join(f"{p:g}" for p in hazards.flood_depth)
        affected = f"{out['eae_affected_flood'].sum():,.0f}"
        notes.append(
            say("risk_note_floods", label=label, periods=periods, depth=f"{threshold:g}", affected=affected)
        )
    if hazards.zones is not None and not hazards.zones.empty:
        zones = _zone_frame(hazards.zones, t, units.crs)
        for group in dict.fromkeys(zones["group"]):
            share = _zone_shares(units, zones[zones["group"] == group], t["zones"][group])
            out[f"eae_share_{group}"] = share
            out[f"eae_affected_{group}"] = share * residents
            names.append(group)
            what = group.capitalize() if current_lang() == "en" else category_word(group)
            count, affected = (
                int((zones["group"] == group).sum()),
                f"{out[f'eae_affected_{group}'].sum():,.1f}",
            )
            notes.append(say("risk_note_zones", group=what, label=label, count=count, affected=affected))
    for note in notes:
        log.info(note)
    return NaturalExposure(out, tuple(notes), tuple(names))


def natural_terms(exposure: NaturalExposure, *, table: TableOverrides = None) -> pd.DataFrame:
    """The composite's ``hazard_<name>`` terms: weight x annual share / reference share.

    Examples
    --------
    >>> e = NaturalExposure(pd.DataFrame({"eae_share_flood": [0.0, 0.01, 0.02]}), (), ("flood",))
    >>> natural_terms(e)["hazard_flood"].tolist()
    [0.0, 20.0, 40.0]
    """
    t = load_natural_table(table)
    ref = float(t["composite"]["reference_annual_share"])
    weights = t["composite"]["weights"]
    out = pd.DataFrame(index=exposure.units.index)
    for name in exposure.hazards:
        if name not in weights:
            msg = (
                f"Natural-hazard table has no `composite.weights.{name}`. Fix: give the weight of "
                f"{name} in the composite (0 leaves it out of the score)."
            )
            raise InputError(msg)
        out[f"hazard_{name}"] = float(weights[name]) * exposure.units[f"eae_share_{name}"].to_numpy() / ref
    return out
