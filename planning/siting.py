"""Siting rules for new fire stations (GB 51080-2015), as filters that say why a site is excluded.

:func:`apply_siting_rules` adds, for every candidate site, the distance to the nearest
flammable or explosive hazard (and whether the site lies downwind of one), to the nearest
sensitive site (schools, hospitals, ...) and to the nearest arterial or secondary arterial road,
then ``excluded_by``: the broken rules, ``""`` when the site is eligible. Nothing is dropped.
:func:`generate_candidates` places candidate points along arterial roads when a scenario has
none. Distances and road classes come from ``planning/data/planning_norms.toml``.
"""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from gis.errors import InputError
from gis.speech import say
from gis.tables import TableOverrides, load_table

__all__ = ["apply_siting_rules", "downwind", "generate_candidates", "load_norms"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]


def load_norms(planning_norms: TableOverrides = None) -> dict[str, Any]:
    """The shipped ``planning_norms.toml`` merged with ``planning_norms`` (a mapping or a TOML path).

    Examples
    --------
    >>> load_norms()["siting"]["hazard_min_m"]
    200.0
    >>> load_norms({"siting": {"hazard_min_m": 300}})["siting"]["hazard_min_m"]
    300
    """
    return load_table("planning_norms", planning_norms, package="planning")


def downwind(
    bearing_deg: npt.ArrayLike, wind_from_deg: float, *, half_angle_deg: float = 45.0
) -> npt.NDArray[np.bool_]:
    """Whether a bearing (from a hazard to a site, clockwise from north) points downwind.

    ``wind_from_deg`` is the meteorological direction the wind blows *from*; the wind blows
    to ``wind_from_deg + 180``. A site is downwind when its bearing is within
    ``half_angle_deg`` of that direction; otherwise it is crosswind or upwind (allowed).

    Examples
    --------
    >>> downwind([0, 90, 180, 225, 270], wind_from_deg=0).tolist()  # north wind blows south
    [False, False, True, True, False]
    """
    to_deg = (float(wind_from_deg) + 180.0) % 360.0
    diff = np.abs((np.asarray(bearing_deg, dtype=np.float64) - to_deg + 180.0) % 360.0 - 180.0)
    return diff <= float(half_angle_deg)


def _bearing_deg(dx: FloatArray, dy: FloatArray) -> FloatArray:
    """Compass bearing of a vector (x east, y north), 0 = north, clockwise."""
    return np.degrees(np.arctan2(dx, dy)) % 360.0


def _nearest(sites: gpd.GeoDataFrame, other: gpd.GeoDataFrame | None) -> tuple[FloatArray, npt.NDArray[Any]]:
    """Distance from each site to the nearest ``other`` geometry and its label (``inf``/None if none)."""
    n = len(sites)
    if other is None or len(other) == 0:
        return np.full(n, np.inf), np.full(n, None, dtype=object)
    geoms = other.geometry.to_crs(sites.crs).to_numpy()
    tree = shapely.STRtree(geoms)
    (i, j), dist = tree.query_nearest(sites.geometry.to_numpy(), return_distance=True, all_matches=False)
    d = np.full(n, np.inf)
    label = np.full(n, None, dtype=object)
    d[i] = dist
    label[i] = np.asarray(other.index, dtype=object)[j]
    return d, label


def _wind_check(
    sites: gpd.GeoDataFrame, hazards: gpd.GeoDataFrame, wind_from_deg: float, within_m: float, half: float
) -> npt.NDArray[Any]:
    """Per site: the id of a hazard within ``within_m`` that the site is downwind of, else None."""
    out = np.full(len(sites), None, dtype=object)
    if len(hazards) == 0:
        return out
    hz = shapely.point_on_surface(hazards.geometry.to_crs(sites.crs).to_numpy())
    tree = shapely.STRtree(hz)
    pts = sites.geometry.to_numpy()
    s_idx, h_idx = tree.query(pts, predicate="dwithin", distance=within_m)
    if len(s_idx) == 0:
        return out
    dx = shapely.get_x(pts[s_idx]) - shapely.get_x(hz[h_idx])
    dy = shapely.get_y(pts[s_idx]) - shapely.get_y(hz[h_idx])
    bad = downwind(_bearing_deg(dx, dy), wind_from_deg, half_angle_deg=half)
    ids = np.asarray(hazards.index, dtype=object)
    for s, h in zip(s_idx[bad][::-1], h_idx[bad][::-1], strict=True):
        out[s] = ids[h]
    return out


def apply_siting_rules(
    sites: gpd.GeoDataFrame,
    *,
    hazards: gpd.GeoDataFrame | None = None,
    sensitive_sites: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    wind_from_deg: float | None = None,
    planning_norms: TableOverrides = None,
) -> gpd.GeoDataFrame:
    """Check candidate sites against the GB 51080 siting rules; report why each one is excluded.

    Parameters
    ----------
    sites
        Candidate points in a metric CRS, indexed by id.
    hazards
        Hazard sources with ``category``; only the categories in
        ``siting.hazard_categories`` (flammable or explosive) count.
    sensitive_sites
        Sites with ``kind``; only ``siting.sensitive_kinds`` count.
    roads
        Road lines with ``highway``; a site must lie within ``siting.frontage_max_m`` of a
        ``siting.frontage_highways`` road. None skips the frontage rule.
    wind_from_deg
        Prevailing wind, the direction it blows *from* (degrees clockwise from north); then a
        site downwind of a hazard within ``siting.wind_check_m`` is excluded. None skips it.
    planning_norms
        Overrides of ``planning/data/planning_norms.toml``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``sites`` plus ``hazard_m`` (nearest counted hazard), ``nearest_hazard``,
        ``sensitive_m``, ``nearest_sensitive``, ``frontage_m`` (nearest arterial),
        ``downwind_of``, ``excluded_by`` (``"; "``-joined rule names: ``hazard_200m``,
        ``downwind_of_hazard``, ``sensitive_50m``, ``no_arterial_frontage``) and ``eligible``.

    Examples
    --------
    >>> from shapely import Point, LineString
    >>> crs = "EPSG:32649"
    >>> pts = [Point(0, 0), Point(150, 0), Point(400, 0)]
    >>> sites = gpd.GeoDataFrame(geometry=pts, index=["a", "b", "c"], crs=crs)
    >>> hz = gpd.GeoDataFrame({"category": ["fuel_gas"]}, geometry=[Point(300, 0)], index=["H1"], crs=crs)
    >>> road = LineString([(0, 10), (500, 10)])
    >>> roads = gpd.GeoDataFrame({"highway": ["primary"]}, geometry=[road], crs=crs)
    >>> apply_siting_rules(sites, hazards=hz, roads=roads)["excluded_by"].tolist()
    ['', 'hazard_200m', 'hazard_200m']
    """
    cfg = load_norms(planning_norms)["siting"]
    if sites.crs is None or not sites.crs.is_projected:
        msg = (
            f"Candidate sites are in CRS {sites.crs}, not a projected metric CRS, so siting distances "
            "cannot be measured. Fix: project them, for example `sites.to_crs(scenario.crs)`."
        )
        raise InputError(msg)
    out = sites.copy()
    reasons: list[list[str]] = [[] for _ in range(len(out))]

    hz = hazards
    if hz is not None and len(hz):
        if "category" not in hz:
            msg = "Layer `hazards` has no `category` column. Fix: add it (see the README's scenario table)."
            raise InputError(msg)
        hz = hz[hz["category"].isin(cfg["hazard_categories"])]
    d, label = _nearest(out, hz)
    out["hazard_m"], out["nearest_hazard"] = d, label
    for i in np.flatnonzero(d < float(cfg["hazard_min_m"])):
        reasons[i].append(f"hazard_{cfg['hazard_min_m']:.0f}m")
    out["downwind_of"] = None
    if wind_from_deg is not None and hz is not None and len(hz):
        if not np.isfinite(wind_from_deg):
            msg = f"`wind_from_deg` is {wind_from_deg}. Fix: give degrees clockwise from north, or None."
            raise InputError(msg)
        down = _wind_check(
            out, hz, wind_from_deg, float(cfg["wind_check_m"]), float(cfg["downwind_half_angle_deg"])
        )
        out["downwind_of"] = down
        for i in np.flatnonzero(pd.notna(down)):
            reasons[i].append("downwind_of_hazard")

    sens = sensitive_sites
    if sens is not None and len(sens) and "kind" in sens:
        sens = sens[sens["kind"].isin(cfg["sensitive_kinds"])]
    d, label = _nearest(out, sens)
    out["sensitive_m"], out["nearest_sensitive"] = d, label
    for i in np.flatnonzero(d < float(cfg["sensitive_min_m"])):
        reasons[i].append(f"sensitive_{cfg['sensitive_min_m']:.0f}m")

    if roads is not None:
        art = roads[roads["highway"].isin(cfg["frontage_highways"])] if "highway" in roads else roads.iloc[:0]
        art = art.reset_index(drop=True)
        d, label = _nearest(out, art)
        out["frontage_m"] = d
        out["frontage_highway"] = [None if lab is None else art.loc[lab, "highway"] for lab in label]
        for i in np.flatnonzero(d > float(cfg["frontage_max_m"])):
            reasons[i].append("no_arterial_frontage")
    out["excluded_by"] = ["; ".join(r) for r in reasons]
    out["eligible"] = out["excluded_by"] == ""
    log.info("siting rules: %d of %d candidate sites eligible", int(out["eligible"].sum()), len(out))
    return out


def generate_candidates(
    roads: gpd.GeoDataFrame, *, spacing_m: float | None = None, planning_norms: TableOverrides = None
) -> gpd.GeoDataFrame:
    """Candidate points every ``spacing_m`` along the arterial and secondary roads.

    Parameters
    ----------
    roads
        Road lines with ``highway`` in a metric CRS.
    spacing_m
        Distance between points (default ``candidates.spacing_m``, 500 m).
    planning_norms
        Overrides of ``planning/data/planning_norms.toml`` (``candidates.highways``).

    Returns
    -------
    geopandas.GeoDataFrame
        Points indexed ``G0001``, ``G0002``, ... with ``name``, ``highway`` and ``generated``.

    Examples
    --------
    >>> from shapely import LineString
    >>> roads = gpd.GeoDataFrame({"highway": ["primary", "residential"]},
    ...     geometry=[LineString([(0, 0), (1200, 0)]), LineString([(0, 50), (900, 50)])], crs="EPSG:32649")
    >>> generate_candidates(roads).geometry.x.tolist()
    [0.0, 500.0, 1000.0]
    """
    cfg = load_norms(planning_norms)["candidates"]
    step = float(cfg["spacing_m"] if spacing_m is None else spacing_m)
    if not step > 0:
        msg = f"`spacing_m` is {spacing_m}. Fix: give a positive distance in metres."
        raise InputError(msg)
    art = roads[roads["highway"].isin(cfg["highways"])].reset_index(drop=True)
    if len(art) == 0:
        msg = (
            f"Layer `roads` has no {cfg['highways']} roads to generate candidate sites on. Fix: give a "
            "`candidate_sites` layer, or list other classes in `candidates.highways`."
        )
        raise InputError(msg)
    merged = shapely.line_merge(shapely.union_all(art.geometry.to_numpy()))
    lines = list(getattr(merged, "geoms", [merged]))
    pts: list[Any] = []
    for line in lines:
        along = np.arange(0.0, line.length + 1e-9, step)
        pts.extend(shapely.line_interpolate_point(line, along))
    # drop near-duplicates where merged lines meet
    pts_arr = np.asarray(pts, dtype=object)
    keep = np.ones(len(pts_arr), bool)
    tree = shapely.STRtree(pts_arr)
    for i, j in zip(*tree.query(pts_arr, predicate="dwithin", distance=step / 4), strict=True):
        if j > i and keep[i]:
            keep[j] = False
    pts_arr = pts_arr[keep]
    ids = [f"G{i + 1:04d}" for i in range(len(pts_arr))]
    out = gpd.GeoDataFrame(geometry=list(pts_arr), index=ids, crs=roads.crs)
    _, label = _nearest(out, art)
    out["highway"] = [art.loc[lab, "highway"] for lab in label]
    road = [art.loc[lab, "name"] if "name" in art else None for lab in label]
    names = [
        say("plan_site_on", road=r) if isinstance(r, str) and r else say("plan_site_on_unnamed") for r in road
    ]
    out.insert(0, "name", names)
    out["generated"] = True
    out.index.name = "id"
    return out
