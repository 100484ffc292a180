"""Concentration: the effective response force that reaches each place, and special-duty gaps.

Standards of cover ask not only how soon the first engine arrives (distribution, see
:mod:`planning.coverage`) but how many appliances and firefighters arrive within a time
(concentration): NFPA 1710's full first alarm, 15 members within 480 s of travel, or a bureau's
own target. :func:`response_force` counts, for every place (community, grid cell), the units and
crew of the stations that reach it within each target of ``planning/data/station_force.toml``
(per-grade units and crew after GB 51080-2015 and 建标152-2017, overridable; a station's own
``units`` / ``crew`` columns win). :func:`special_duty_gaps` marks the hazards that need a
special-duty station (hazardous-chemical parks, major hazards) and have none within its time.

Travel times come from the travel-time engine (:class:`planning.travel.RoadMatrix`), stations
searched ``chunk_size`` at a time with a cutoff at the longest target, and reduced at once to
per-place sums: never the full station x node matrix, so a province-size graph stays bounded.
:func:`force_within` is the same sum on a given ``(targets, sources)`` matrix.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from gis.errors import InputError
from gis.tables import TableOverrides, load_table

from .snapping import snap_points
from .travel import TargetsBySources, road_matrix

if TYPE_CHECKING:
    from collections.abc import Iterator

    from gis.network.graph import GraphLike

__all__ = ["force_within", "load_station_force", "response_force", "special_duty_gaps", "station_force"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]


def load_station_force(station_force: TableOverrides = None) -> dict[str, Any]:
    """The shipped ``station_force.toml`` merged with ``station_force`` (a mapping or a TOML path).

    Examples
    --------
    >>> t = load_station_force()
    >>> t["grades"]["grade1"]["units"], t["targets"]["nfpa-1710"]["crew"]
    (5, 15)
    >>> load_station_force({"grades": {"grade1": {"crew": 21}}})["grades"]["grade1"]["crew"]
    21
    """
    table = load_table("station_force", station_force, package="planning")
    for name, g in table.get("grades", {}).items():
        for key in ("units", "crew"):
            v = g.get(key)
            if not isinstance(v, int | float) or isinstance(v, bool) or v < 0:
                msg = f"station_force.toml [grades.{name}] `{key}` is {v!r}. Fix: give a number >= 0."
                raise InputError(msg)
    for name, t in table.get("targets", {}).items():
        for key in ("travel_s", "units", "crew"):
            v = t.get(key)
            if not isinstance(v, int | float) or isinstance(v, bool) or v < 0:
                msg = f"station_force.toml [targets.{name}] `{key}` is {v!r}. Fix: give a number >= 0."
                raise InputError(msg)
    return table


def station_force(
    stations: gpd.GeoDataFrame | pd.DataFrame, station_force: TableOverrides = None
) -> pd.DataFrame:
    """Units, crew and special duty of every station: its own columns, else its grade's row.

    Parameters
    ----------
    stations
        The ``fire_stations`` layer: ``grade`` (``grade1``, ``grade2``, ``small``, ``special``,
        ``micro``) and optionally ``units``, ``crew`` and ``special_duty`` columns.
    station_force
        Overrides of ``planning/data/station_force.toml``.

    Returns
    -------
    pandas.DataFrame
        On the stations' index: ``units``, ``crew`` (float) and ``special_duty`` (bool).

    Raises
    ------
    InputError
        Stations whose grade is not in the table and that lack their own ``units`` / ``crew``.

    Examples
    --------
    >>> st = pd.DataFrame({"grade": ["grade1", "special"], "crew": [20, None]}, index=["A", "B"])
    >>> station_force(st).to_dict("index")["A"], float(station_force(st).loc["B", "crew"])
    ({'units': 5.0, 'crew': 20.0, 'special_duty': False}, 45.0)
    """
    grades = load_station_force(station_force)["grades"]
    grade = stations["grade"].astype(str) if "grade" in stations else pd.Series("", index=stations.index)
    out = pd.DataFrame(index=stations.index)
    for key in ("units", "crew"):
        table = grade.map({g: float(v[key]) for g, v in grades.items()})
        own = pd.to_numeric(stations[key], errors="coerce") if key in stations else None
        out[key] = table if own is None else own.where(own.notna(), table)
    unknown = out[["units", "crew"]].isna().any(axis=1)
    if unknown.any():
        bad = stations.index[unknown.to_numpy()]
        msg = (
            f"fire_stations rows {', '.join(map(str, bad[:10]))} have grade "
            f"{sorted(set(grade[unknown]))} with no row in station_force.toml and no own `units`/`crew`. "
            f"Fix: use one of {', '.join(grades)}, add `units` and `crew` columns, or add the grade "
            "under [grades] via `station_force`."
        )
        raise InputError(msg)
    special = grade.map({g: bool(v.get("special_duty", False)) for g, v in grades.items()})
    special = special.where(special.notna(), False).astype(bool)
    if "special_duty" in stations:
        own_s = stations["special_duty"]
        special = own_s.where(own_s.notna(), special).astype(bool)
    out["special_duty"] = special.to_numpy(bool)
    return out


def force_within(
    times: TargetsBySources, units: npt.ArrayLike, crew: npt.ArrayLike, travel_s: float
) -> tuple[FloatArray, FloatArray]:
    """Units and crew of the sources that reach each target within ``travel_s``.

    Parameters
    ----------
    times
        ``(targets, sources)`` travel seconds, ``inf`` = unreachable.
    units, crew
        Per source (column).
    travel_s
        Time limit, inclusive.

    Examples
    --------
    >>> t = np.array([[100.0, 500.0], [np.inf, 300.0]])
    >>> u, c = force_within(t, [2, 3], [10, 12], 480.0)
    >>> u.tolist(), c.tolist()
    ([2.0, 3.0], [10.0, 12.0])
    """
    within = (np.asarray(times, dtype=np.float64) <= float(travel_s)).astype(np.float64)
    return (
        within @ np.asarray(units, dtype=np.float64),
        within @ np.asarray(crew, dtype=np.float64),
    )


def _targets(table: dict[str, Any], targets: Sequence[str] | None) -> dict[str, dict[str, Any]]:
    known = table.get("targets", {})
    names = list(known) if targets is None else list(targets)
    missing = [n for n in names if n not in known]
    if missing or not names:
        msg = (
            f"`targets` {missing or names} not in station_force.toml. Fix: use {', '.join(known)} or add one."
        )
        raise InputError(msg)
    return {n: known[n] for n in names}


def _station_times(
    graph: GraphLike,
    stations: gpd.GeoDataFrame,
    places: gpd.GeoDataFrame,
    *,
    cutoff_s: float,
    chunk_size: int,
    edge_weight: str,
    max_snap_m: float | None,
) -> Iterator[tuple[npt.NDArray[np.int64], FloatArray]]:
    """Yield ``(columns, (places, chunk) times)`` for chunks of stations, cut off at ``cutoff_s``."""
    m = road_matrix(graph, edge_weight=edge_weight)
    st = snap_points(graph, stations, layer="fire_stations", max_snap_m=max_snap_m, edge_weight=edge_weight)
    pl = snap_points(graph, places, layer="places", max_snap_m=max_snap_m, edge_weight=edge_weight)
    src = m.positions(st["node"].tolist())
    off = pl["flagged"].to_numpy(bool)
    for lo in range(0, len(src), chunk_size):
        cols = np.arange(lo, min(lo + chunk_size, len(src)))
        t = m.point_times(m.one_to_all(src[cols], cutoff=cutoff_s), pl)
        t[off] = np.inf  # a place off every road is reached by nobody (planning.OFF_ROAD_RULE)
        t[t > cutoff_s] = np.inf
        yield cols, t


def response_force(
    graph: GraphLike,
    stations: gpd.GeoDataFrame,
    places: gpd.GeoDataFrame,
    *,
    targets: Sequence[str] | None = None,
    station_force: TableOverrides = None,
    chunk_size: int = 16,
    edge_weight: str = "travel_time_s",
    max_snap_m: float | None = None,
) -> pd.DataFrame:
    """Effective response force at every place: units and crew within each target's time.

    Parameters
    ----------
    graph
        Road graph (:class:`~gis.network.RoadGraph` or networkx), metric CRS.
    stations
        ``fire_stations`` layer (``grade``; optional ``units``, ``crew``, ``special_duty``).
    places
        Communities, grid cells or any features; polygons are represented by a point on them.
    targets
        Names under ``[targets]`` of ``station_force.toml`` (default: all, ``nfpa-1710`` and
        ``cn-first-alarm``).
    station_force
        Overrides of ``planning/data/station_force.toml``.
    chunk_size
        Stations searched at once (memory ``n_nodes x chunk_size`` floats).
    edge_weight, max_snap_m
        As in :func:`planning.snapping.snap_points`.

    Returns
    -------
    pandas.DataFrame
        On the index of ``places``: ``first_unit_s`` (travel time of the nearest station within
        the longest target, else ``inf``), ``special_duty_s`` (nearest special-duty station, same
        cutoff) and per target ``T``: ``T_units``, ``T_crew`` (within its ``travel_s``) and
        ``T_met`` (both at least the target's ``units`` and ``crew``). ``df.attrs["targets"]``
        holds the targets used.

    Examples
    --------
    >>> from gis.network import graph_from_osm
    >>> G = graph_from_osm("tests/fixtures/tiny_city.osm.xml")
    >>> st = gpd.GeoDataFrame({"grade": ["grade1", "grade2"]}, index=["A", "B"],
    ...     geometry=gpd.points_from_xy([112.5505, 112.556], [37.8502, 37.853]), crs=4326)
    >>> pl = gpd.GeoDataFrame(geometry=gpd.points_from_xy([112.553], [37.851]), crs=4326)
    >>> f = response_force(G, st, pl)
    >>> row = f.iloc[0]
    >>> float(row["nfpa-1710_units"]), float(row["nfpa-1710_crew"]), bool(row["nfpa-1710_met"])
    (7.0, 45.0, True)
    """
    table = load_station_force(station_force)
    chosen = _targets(table, targets)
    force = station_force_of(stations, station_force)
    if isinstance(chunk_size, bool) or int(chunk_size) < 1:
        msg = f"`chunk_size` is {chunk_size!r}. Fix: give an integer >= 1."
        raise InputError(msg)
    special_s = float(table.get("special_duty", {}).get("travel_s", 0.0))
    cutoff = max([float(t["travel_s"]) for t in chosen.values()] + [special_s])
    n = len(places)
    units = {k: np.zeros(n) for k in chosen}
    crew = {k: np.zeros(n) for k in chosen}
    first = np.full(n, np.inf)
    special = np.full(n, np.inf)
    u_all = force["units"].to_numpy(np.float64)
    c_all = force["crew"].to_numpy(np.float64)
    sp_all = force["special_duty"].to_numpy(bool)
    if len(stations):
        for cols, t in _station_times(
            graph,
            stations,
            places,
            cutoff_s=cutoff,
            chunk_size=int(chunk_size),
            edge_weight=edge_weight,
            max_snap_m=max_snap_m,
        ):
            first = np.minimum(first, t.min(axis=1))
            if sp_all[cols].any():
                special = np.minimum(special, t[:, sp_all[cols]].min(axis=1))
            for k, target in chosen.items():
                du, dc = force_within(t, u_all[cols], c_all[cols], float(target["travel_s"]))
                units[k] += du
                crew[k] += dc
    out = pd.DataFrame({"first_unit_s": first, "special_duty_s": special}, index=places.index)
    for k, target in chosen.items():
        out[f"{k}_units"] = units[k]
        out[f"{k}_crew"] = crew[k]
        out[f"{k}_met"] = (units[k] >= float(target["units"])) & (crew[k] >= float(target["crew"]))
        log.info(
            "%s: %d of %d places get %s units / %s crew within %.0f s",
            k,
            int(out[f"{k}_met"].sum()),
            n,
            target["units"],
            target["crew"],
            float(target["travel_s"]),
        )
    out.attrs["targets"] = {k: dict(v) for k, v in chosen.items()}
    return out


station_force_of = station_force  # the function, under a name the `station_force=` parameter cannot shadow


def special_duty_gaps(
    graph: GraphLike,
    stations: gpd.GeoDataFrame,
    hazards: gpd.GeoDataFrame,
    *,
    station_force: TableOverrides = None,
    edge_weight: str = "travel_time_s",
    max_snap_m: float | None = None,
) -> pd.DataFrame:
    """Hazards that need a special-duty station, and whether the nearest one is beyond its time.

    A hazard needs special duty when its ``category`` is in ``[special_duty] hazard_categories``
    (hazardous-chemical parks, fireworks and explosives) or its ``major_hazard`` column is true.

    Returns
    -------
    pandas.DataFrame
        On the hazards' index: ``needs_special_duty``, ``special_duty_s`` (travel time of the
        nearest special-duty station, ``inf`` beyond ``[special_duty] travel_s`` or when there
        is none) and ``special_duty_gap`` (needs one and none within the time).

    Examples
    --------
    >>> from gis.network import graph_from_osm
    >>> G = graph_from_osm("tests/fixtures/tiny_city.osm.xml")
    >>> st = gpd.GeoDataFrame({"grade": ["grade1"]}, index=["A"],
    ...     geometry=gpd.points_from_xy([112.5505], [37.8502]), crs=4326)
    >>> hz = gpd.GeoDataFrame({"category": ["hazardous_chemicals", "other"]}, index=["H1", "H2"],
    ...     geometry=gpd.points_from_xy([112.553, 112.553], [37.851, 37.851]), crs=4326)
    >>> special_duty_gaps(G, st, hz)["special_duty_gap"].tolist()
    [True, False]
    """
    table = load_station_force(station_force)
    rule = table.get("special_duty", {})
    cats = {str(c) for c in rule.get("hazard_categories", [])}
    needs = (
        hazards["category"].astype(str).isin(cats)
        if "category" in hazards
        else pd.Series(False, hazards.index)
    )
    if "major_hazard" in hazards:
        needs = needs | hazards["major_hazard"].fillna(False).astype(bool)
    force = station_force_of(stations, station_force)
    special = stations[force["special_duty"].to_numpy(bool)]
    t = np.full(len(hazards), np.inf)
    limit = float(rule.get("travel_s", 0.0))
    if len(special) and needs.any():
        for _, times in _station_times(
            graph,
            special,
            hazards,
            cutoff_s=limit,
            chunk_size=16,
            edge_weight=edge_weight,
            max_snap_m=max_snap_m,
        ):
            t = np.minimum(t, times.min(axis=1))
    out = pd.DataFrame({"needs_special_duty": needs.to_numpy(bool), "special_duty_s": t}, index=hazards.index)
    out["special_duty_gap"] = out["needs_special_duty"] & ~(out["special_duty_s"] <= limit)
    return out
