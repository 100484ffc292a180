"""Exposure: population per unit, by area-weighted interpolation from the census units.

Where the units are the communities themselves their population is used as is;
otherwise each community's population is spread over its area
(``population * overlap area / community area``, the areal interpolation of
``tobler.area_weighted.area_interpolate`` for extensive variables) and intensive
variables (shares) are averaged with the interpolated population as weight.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.crs import require_same_crs
from gis.errors import InputError

from ._overlay import intersection_areas
from .weights import RiskWeights, load_weights

__all__ = ["area_interpolate", "exposure_factor", "population_exposure"]

log = logging.getLogger(__name__)


def area_interpolate(
    source: gpd.GeoDataFrame,
    target: gpd.GeoDataFrame,
    *,
    extensive: Sequence[str] = (),
    intensive: Sequence[str] = (),
    intensive_weight: str | None = None,
) -> pd.DataFrame:
    """Area-weighted interpolation of ``source`` columns onto ``target`` polygons.

    Parameters
    ----------
    source, target
        Polygons in one projected CRS.
    extensive
        Counts (population): ``sum_s value_s * |s & t| / |s|``.
    intensive
        Shares or rates: the mean over the overlaps, weighted by overlap area, or by the
        overlap's share of ``intensive_weight`` (an extensive column) when given; NaN where a
        target overlaps no source (or only sources of zero weight and zero area).
    intensive_weight
        Extensive column weighting the intensive means (e.g. ``population``).

    Returns
    -------
    pandas.DataFrame
        The interpolated columns on ``target``'s index.

    Examples
    --------
    >>> from shapely import box
    >>> s = gpd.GeoDataFrame({"population": [100.0, 50.0], "share": [0.2, 0.6]},
    ...                      geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10)], crs=32649)
    >>> t = gpd.GeoDataFrame(geometry=[box(5, 0, 15, 10)], crs=32649)
    >>> area_interpolate(s, t, extensive=["population"], intensive=["share"],
    ...                  intensive_weight="population").round(4).to_dict("records")
    [{'population': 75.0, 'share': 0.3333}]
    """
    require_same_crs(source, target, names=("source", "target"))
    src, tgt, area = intersection_areas(source.geometry, target.geometry)
    frac = area / source.geometry.area.to_numpy(float)[src]
    n = len(target)
    out: dict[str, np.ndarray] = {}
    for col in extensive:
        vals = source[col].to_numpy(float)[src] * frac
        out[col] = np.bincount(tgt, weights=vals, minlength=n)
    if intensive:
        wts = area.copy()
        if intensive_weight is not None:
            wts = source[intensive_weight].to_numpy(float)[src] * frac
        total = np.bincount(tgt, weights=wts, minlength=n)
        area_total = np.bincount(tgt, weights=area, minlength=n)
        use_area = total <= 0
        for col in intensive:
            vals = source[col].to_numpy(float)[src]
            by_w = np.bincount(tgt, weights=vals * wts, minlength=n)
            by_a = np.bincount(tgt, weights=vals * area, minlength=n)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[col] = np.where(use_area, by_a / area_total, by_w / total)
    return pd.DataFrame(out, index=target.index)


def exposure_factor(pop_per_km2: pd.Series, *, risk_weights: RiskWeights | None = None) -> pd.Series:
    """Exposure factor from population density: ``ln(1 + density / reference)`` (or linear).

    Examples
    --------
    >>> exposure_factor(pd.Series([0.0, 100.0])).round(4).tolist()
    [0.0, 0.6931]
    """
    w = (risk_weights if risk_weights is not None else load_weights())["exposure"]
    ratio = pop_per_km2.astype(float) / float(w["reference_per_km2"])
    values = np.log1p(ratio) if w["transform"] == "log" else ratio
    return pd.Series(values, index=pop_per_km2.index, name="exposure_factor")


def population_exposure(
    communities: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    *,
    same_units: bool = False,
    risk_weights: RiskWeights | None = None,
    population_raster: str | Path | None = None,
) -> pd.DataFrame:
    """Population, density and exposure factor of each unit.

    Parameters
    ----------
    communities
        Census polygons with ``population``.
    units
        Area units with ``area_km2`` (:func:`risk_models.units.build_units`).
    same_units
        True when ``units`` are the communities (their population is used as is).
    risk_weights
        Risk table (:func:`risk_models.load_weights`).
    population_raster
        A raster of people per pixel: each unit's population is then summed from it with
        exact pixel fractions (:func:`gis.population.raster_population`), whatever the units,
        instead of taken from the communities.

    Returns
    -------
    pandas.DataFrame
        ``population``, ``pop_per_km2``, ``exposure_factor`` on ``units``' index.

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from risk_models.units import build_units
    >>> cells = build_units(city["communities"], units="grid:1000", study_area=city["study_area"])
    >>> round(population_exposure(city["communities"], cells)["population"].sum())
    1000000
    """
    if "population" not in communities.columns:
        msg = "Layer `communities` has no `population` column. Fix: add the census population per community."
        raise InputError(msg)
    if population_raster is not None:
        from gis.population import raster_population

        pop = raster_population(units, population_raster)
    elif same_units:
        pop = communities["population"].astype(float).reindex(units.index.astype(str))
        pop.index = units.index
    else:
        pop = area_interpolate(communities, units, extensive=["population"])["population"]
    out = pd.DataFrame({"population": pop.to_numpy(float)}, index=units.index)
    out["pop_per_km2"] = out["population"] / units["area_km2"]
    out["exposure_factor"] = exposure_factor(out["pop_per_km2"], risk_weights=risk_weights)
    return out
