"""Call rates by area and hour of day, and service times per incident category.

The hypercube (:mod:`planning.reliability.hypercube`) needs, for every demand area, how many
calls it makes per hour and how long a unit is busy with one. :func:`call_rates` counts the
``incidents`` layer per area and hour of day over the period the record spans;
:func:`rates_from_risk` shares a city total among the areas by their risk score (or
population) when there is no incidents layer. :func:`area_service_times` gives each area the
mean service time of its calls' categories from ``planning/data/service_times.toml``, or the
incidents' own ``duration_min`` where they carry it.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.errors import InputError
from gis.tables import TableOverrides, load_table

__all__ = [
    "HOURS",
    "area_service_times",
    "assign_areas",
    "call_rates",
    "incident_hours",
    "load_service_times",
    "rates_from_risk",
    "response_units",
]

log = logging.getLogger(__name__)

#: Columns of a rates table: the hours of the day, 0 = 00:00-01:00.
HOURS = list(range(24))


def load_service_times(service_times: TableOverrides = None) -> dict[str, Any]:
    """The shipped ``service_times.toml`` merged with ``service_times`` (a mapping or a TOML path).

    Examples
    --------
    >>> t = load_service_times({"categories": {"traffic": {"minutes": 35}}})
    >>> t["categories"]["traffic"]["minutes"], t["default"]["minutes"]
    (35, 45.0)
    """
    table = load_table("service_times", service_times, package="planning")
    entries = {"default": table.get("default", {})}
    entries.update({f"categories.{k}": v for k, v in table.get("categories", {}).items()})
    for name, entry in entries.items():
        v = entry.get("minutes") if isinstance(entry, dict) else None
        if not isinstance(v, int | float) or isinstance(v, bool) or not v > 0:
            msg = f"service_times.toml [{name}] `minutes` is {v!r}. Fix: give a number of minutes > 0."
            raise InputError(msg)
    cr = table.get("call_rates", {})
    shares = np.asarray(cr.get("hour_shares", []), dtype=float)
    if (
        shares.shape != (24,)
        or (shares < 0).any()
        or not math.isclose(float(shares.sum()), 1.0, rel_tol=1e-3)
    ):
        msg = (
            "service_times.toml [call_rates] `hour_shares` must be 24 shares >= 0 summing to 1 "
            f"(got {shares.size} summing to {shares.sum():.3f}). Fix: list one share per hour 0..23."
        )
        raise InputError(msg)
    v = cr.get("calls_per_1000_residents_per_year")
    if not isinstance(v, int | float) or isinstance(v, bool) or not v > 0:
        msg = (
            f"service_times.toml [call_rates] `calls_per_1000_residents_per_year` is {v!r}. "
            "Fix: give a rate > 0."
        )
        raise InputError(msg)
    return table


def _rows(index: pd.Index, mask: np.ndarray) -> str:
    bad = index[mask]
    more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
    return ", ".join(map(str, bad[:10])) + more


def incident_hours(incidents: pd.DataFrame, *, source: str = "incidents") -> pd.Series:
    """The incidents' ``time`` parsed to timestamps, checked: every row needs a valid time.

    Raises
    ------
    gis.InputError
        Naming ``source``, the rows whose ``time`` is missing or not a date-time, and the fix.

    Examples
    --------
    >>> inc = pd.DataFrame({"time": ["2024-01-05T08:30:00", "2024-01-06T23:10:00"]}, index=["I1", "I2"])
    >>> incident_hours(inc).dt.hour.tolist()
    [8, 23]
    """
    if "time" not in incidents.columns:
        msg = (
            f"{source}: layer `incidents` has no `time` column. "
            "Fix: add the call time (ISO 8601, e.g. 2024-01-05T08:30:00)."
        )
        raise InputError(msg)
    t = pd.to_datetime(incidents["time"], errors="coerce", format="mixed")
    bad = t.isna().to_numpy()
    if bad.any():
        msg = (
            f"{source}: layer `incidents` rows {_rows(incidents.index, bad)} have a missing or unreadable "
            "`time`. Fix: give each call's date and time as ISO 8601 (2024-01-05T08:30:00), or drop the rows."
        )
        raise InputError(msg)
    return t


def _durations(incidents: pd.DataFrame, source: str) -> pd.Series | None:
    if "duration_min" not in incidents.columns:
        return None
    raw = incidents["duration_min"]
    d = pd.to_numeric(raw, errors="coerce")
    bad = (raw.notna() & ~(d > 0)).to_numpy()
    if bad.any():
        msg = (
            f"{source}: layer `incidents` rows {_rows(incidents.index, bad)} have a `duration_min` that is "
            "not a number of minutes > 0. Fix: correct them or leave them empty (the category's table "
            "value is used)."
        )
        raise InputError(msg)
    return d


def assign_areas(points: gpd.GeoDataFrame, areas: gpd.GeoDataFrame) -> pd.Series:
    """The area each point falls in; points outside every area go to the nearest area.

    Examples
    --------
    >>> from shapely import Point, box
    >>> areas = gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], index=["A", "B"], crs=3857)
    >>> pts = gpd.GeoDataFrame(geometry=[Point(0.5, 0.5), Point(5, 0.5)], index=["p", "q"], crs=3857)
    >>> assign_areas(pts, areas).tolist()
    ['A', 'B']
    """
    pts = points.to_crs(areas.crs) if points.crs != areas.crs else points
    zones = gpd.GeoDataFrame(geometry=areas.geometry.to_numpy(), crs=areas.crs).assign(_area=areas.index)
    hit = gpd.sjoin(pts[[pts.geometry.name]], zones, predicate="within", how="left")
    hit = hit[~hit.index.duplicated(keep="first")]["_area"]
    out = hit.reindex(pts.index)
    missing = out.isna().to_numpy()
    if missing.any():
        near = gpd.sjoin_nearest(pts.loc[missing, [pts.geometry.name]], zones, how="left")
        near = near[~near.index.duplicated(keep="first")]["_area"]
        out.loc[missing] = near.reindex(out.index[missing]).to_numpy()
        log.info("%d incidents outside every area assigned to the nearest", int(missing.sum()))
    return out


def call_rates(
    incidents: gpd.GeoDataFrame,
    areas: gpd.GeoDataFrame,
    *,
    period_days: float | None = None,
    hours: str = "area",
    source: str = "incidents",
) -> pd.DataFrame:
    """Calls per hour from each area at each hour of the day, from the incidents layer.

    Parameters
    ----------
    incidents
        The ``incidents`` layer: points with a ``time`` (ISO 8601).
    areas
        Demand areas (communities, grid units) on their id index.
    period_days
        Days the record covers; default: from the first to the last incident's day.
    hours
        ``area``: each area's own count at each hour; ``city``: each area's daily calls shaped
        by the whole city's hour-of-day profile (steadier when an area has few calls: a year
        of a few thousand calls leaves most area-hours with none or one).
    source
        File or layer named in error messages.

    Returns
    -------
    pandas.DataFrame
        On the areas' index, columns 0..23: the mean calls per hour during that hour of the day
        (an area's daily calls are the row's sum).

    Raises
    ------
    gis.InputError
        Rows with a missing or unreadable ``time``, or ``period_days`` <= 0.

    Examples
    --------
    >>> from shapely import Point, box
    >>> areas = gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)], index=["A"], crs=3857)
    >>> inc = gpd.GeoDataFrame({"time": ["2024-01-01T08:10", "2024-01-02T08:50"]},
    ...                        geometry=[Point(0.5, 0.5)] * 2, crs=3857)
    >>> float(call_rates(inc, areas).loc["A", 8])  # two 08:00 calls in two days
    1.0
    """
    t = incident_hours(incidents, source=source)
    if period_days is None:
        days = (t.max().normalize() - t.min().normalize()).days + 1 if len(t) else 1
        period_days = float(max(days, 1))
    if not period_days > 0:
        msg = f"`period_days` is {period_days!r}. Fix: give the days the incidents record covers (> 0)."
        raise InputError(msg)
    area = assign_areas(incidents, areas) if len(incidents) else pd.Series(dtype=object)
    counts = pd.crosstab(area.to_numpy(), t.dt.hour.to_numpy()) if len(incidents) else pd.DataFrame()
    out = counts.reindex(index=areas.index, columns=HOURS, fill_value=0).astype(float) / period_days
    out.columns = HOURS
    if hours == "city":
        profile = out.sum(axis=0)
        profile = profile / profile.sum() if profile.sum() > 0 else pd.Series(1.0 / 24, index=HOURS)
        out = pd.DataFrame(
            out.sum(axis=1).to_numpy()[:, None] * profile.to_numpy()[None, :], index=out.index, columns=HOURS
        )
    elif hours != "area":
        msg = f"`hours` is {hours!r}. Fix: use area (each area's own counts) or city (the city's profile)."
        raise InputError(msg)
    out.attrs.update(source="incidents", period_days=period_days, calls=len(incidents))
    return out


def rates_from_risk(
    areas: gpd.GeoDataFrame | pd.DataFrame,
    *,
    weight_column: str | None = None,
    calls_per_year: float | None = None,
    service_times: TableOverrides = None,
) -> pd.DataFrame:
    """Calls per hour by area and hour when there are no incidents: a city total shared by risk.

    Parameters
    ----------
    areas
        Demand areas with a weight column.
    weight_column
        Column sharing the calls: default the first of ``risk_score``, ``risk``, ``population``.
    calls_per_year
        The city's calls a year; default ``[call_rates] calls_per_1000_residents_per_year`` of
        ``service_times.toml`` times the areas' ``population``.
    service_times
        Overrides of ``planning/data/service_times.toml`` (its hour shares and default rate).

    Returns
    -------
    pandas.DataFrame
        As :func:`call_rates`, the hours shaped by ``[call_rates] hour_shares``.

    Examples
    --------
    >>> areas = pd.DataFrame({"population": [30_000, 10_000]}, index=["A", "B"])
    >>> r = rates_from_risk(areas)
    >>> round(float(r.sum(axis=1).sum() * 365), 1)  # 1.5 per 1,000 residents a year
    60.0
    """
    table = load_service_times(service_times)["call_rates"]
    column = weight_column or next(
        (c for c in ("risk_score", "risk", "population") if c in areas.columns), None
    )
    if column is None or column not in areas.columns:
        msg = (
            f"rates from risk: the areas have no `{weight_column or 'risk_score'}` column. Fix: score "
            "the risk first (riskplan risk), name a weight column, or give an incidents layer."
        )
        raise InputError(msg)
    w = pd.to_numeric(areas[column], errors="coerce")
    bad = (w.isna() | (w < 0)).to_numpy()
    if bad.any() or float(w.sum()) <= 0:
        msg = (
            f"rates from risk: column `{column}` rows {_rows(areas.index, bad) or '(all zero)'} are not "
            "numbers >= 0 with a positive total. Fix: correct the column or name another one."
        )
        raise InputError(msg)
    if calls_per_year is None:
        if "population" not in areas.columns:
            msg = (
                "rates from risk: no `calls_per_year` and no `population` to scale the default rate. "
                "Fix: give calls_per_year."
            )
            raise InputError(msg)
        people = float(pd.to_numeric(areas["population"], errors="coerce").fillna(0).sum())
        calls_per_year = float(table["calls_per_1000_residents_per_year"]) * people / 1000.0
    if not calls_per_year > 0:
        msg = f"`calls_per_year` is {calls_per_year!r}. Fix: give the city's calls a year (> 0)."
        raise InputError(msg)
    daily = w.to_numpy(float) / float(w.sum()) * calls_per_year / 365.0
    shares = np.asarray(table["hour_shares"], dtype=float)
    out = pd.DataFrame(daily[:, None] * shares[None, :], index=areas.index, columns=HOURS)
    out.attrs.update(source=f"risk ({column})", calls_per_year=calls_per_year)
    return out


def area_service_times(
    incidents: gpd.GeoDataFrame | None,
    areas: gpd.GeoDataFrame,
    *,
    service_times: TableOverrides = None,
    source: str = "incidents",
) -> pd.Series:
    """Mean service time (minutes) of each area's calls, by their categories' mix.

    A call's service time is its own ``duration_min`` when given, else its ``category``'s
    entry of ``service_times.toml`` (``[default]`` for categories not listed). Areas without
    calls take the city's mean (the table's default when there are no incidents).

    Examples
    --------
    >>> from shapely import Point, box
    >>> areas = gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], index=["A", "B"], crs=3857)
    >>> inc = gpd.GeoDataFrame({"category": ["traffic", "residential_fire"], "duration_min": [None, 80]},
    ...                        geometry=[Point(0.5, 0.5)] * 2, crs=3857)
    >>> area_service_times(inc, areas).tolist()  # (40 + 80) / 2 in A; B takes the city mean
    [60.0, 60.0]
    """
    table = load_service_times(service_times)
    default = float(table["default"]["minutes"])
    if incidents is None or not len(incidents):
        return pd.Series(default, index=areas.index, name="service_min")
    cats = {k: float(v["minutes"]) for k, v in table.get("categories", {}).items()}
    category = (
        incidents["category"] if "category" in incidents.columns else pd.Series("", index=incidents.index)
    )
    minutes = category.astype(str).map(cats).fillna(default)
    own = _durations(incidents, source)
    if own is not None:
        minutes = own.where(own.notna(), minutes)
    area = assign_areas(incidents, areas)
    mean = minutes.groupby(area.to_numpy()).mean()
    out = mean.reindex(areas.index).fillna(float(minutes.mean())).astype(float)
    out.name = "service_min"
    return out


def response_units(stations: pd.DataFrame, *, service_times: TableOverrides = None) -> pd.Series:
    """Units of each station that can take separate calls: its ``response_units``, else its grade's.

    Examples
    --------
    >>> st = pd.DataFrame({"grade": ["grade1", "micro"], "response_units": [None, 2]}, index=["A", "B"])
    >>> response_units(st).tolist()
    [2, 2]
    """
    grades = {
        k: v for k, v in load_service_times(service_times).get("response_units", {}).items() if k != "source"
    }
    grade = (
        stations["grade"].astype(str) if "grade" in stations.columns else pd.Series("", index=stations.index)
    )
    units = grade.map(grades)
    if "response_units" in stations.columns:
        own = pd.to_numeric(stations["response_units"], errors="coerce")
        units = own.where(own.notna(), units)
    units = pd.to_numeric(units, errors="coerce")
    bad = (units.isna() | (units < 1) | (units != units.round())).to_numpy()
    if bad.any():
        msg = (
            f"fire_stations rows {_rows(stations.index, bad)} have no whole number of response units "
            f"(grade not in service_times.toml [response_units]: {', '.join(grades)}; or a bad "
            "`response_units`). Fix: add a `response_units` column (>= 1) or a grade entry via "
            "`service_times`."
        )
        raise InputError(msg)
    return units.astype(int)
