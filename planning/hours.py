"""Time of day: coverage, isochrones and districts at an hour, response by hour and the worst hour.

Every analysis here runs the existing one (:func:`planning.analyse_coverage`,
:func:`planning.isochrones`, :func:`planning.station_districts`, :func:`planning.layer_coverage`)
on the road graph of an hour (:func:`gis.network.graph_at_hour`: the speeds of the build times the
congestion factors of ``gis/data/speed_profiles.toml``, or speeds observed per edge), so the
figures of an hour are those of a city whose roads run at that hour's speeds.
:func:`response_by_hour` gives, per hour, the residents' median and 90th-percentile response and
the share of residents covered; :func:`worst_hour` picks the hour with the longest 90th
percentile. :func:`time_of_day_from_toml` reads a scenario TOML's ``[time_of_day]`` table.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from gis.errors import InputError
from gis.network import (
    HOURS,
    ObservedSpeeds,
    as_road_graph,
    check_hour,
    graph_at_hour,
    read_observed_speeds,
    speed_profile_table,
)
from gis.tables import TableOverrides, toml_path

from .coverage import CoverageResult, analyse_coverage
from .districts import StationDistricts, station_districts
from .isochrones import isochrones
from .names import DEFAULT_STANDARD
from .response import layer_coverage
from .standards import ResponseStandard, response_standard

if TYPE_CHECKING:
    from gis.network.graph import GraphLike
    from gis.scenario import Scenario

__all__ = [
    "BY_HOUR_COLUMNS",
    "TimeOfDay",
    "coverage_at_hour",
    "districts_at_hour",
    "isochrones_at_hour",
    "response_by_hour",
    "time_of_day_from_toml",
    "weighted_quantile",
    "worst_hour",
]

log = logging.getLogger(__name__)

#: Columns of :func:`response_by_hour`'s table (indexed by ``hour``).
BY_HOUR_COLUMNS = (
    "median_response_s",
    "p90_response_s",
    "share_covered",
    "residents",
    "residents_covered",
    "communities",
)


def weighted_quantile(values: npt.ArrayLike, weights: npt.ArrayLike, q: float) -> float:
    """The ``q`` quantile (0-1) of ``values`` weighted by ``weights`` (``inf`` read as unreached).

    The smallest value at or below which at least a share ``q`` of the weight lies (the inverse
    of the weighted distribution, no interpolation); NaN without weight.

    Examples
    --------
    >>> weighted_quantile([100.0, 200.0, 300.0], [1, 1, 8], 0.5)
    300.0
    >>> t = [100.0, float("inf")]
    >>> weighted_quantile(t, [9, 1], 0.9), weighted_quantile(t, [8, 2], 0.9)
    (100.0, inf)
    """
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    keep = ~np.isnan(v) & (w > 0)
    v, w = v[keep], w[keep]
    if len(v) == 0:
        return float("nan")
    order = np.argsort(v, kind="stable")
    cum = np.cumsum(w[order])
    at = int(np.searchsorted(cum, q * cum[-1] * (1 - 1e-12), side="left"))
    return float(v[order][min(at, len(v) - 1)])


@dataclass(frozen=True)
class TimeOfDay:
    """The hour of an analysis and where its speeds come from (a scenario's ``[time_of_day]``).

    Attributes
    ----------
    hour
        0-23, ``"worst"`` (the hour of the longest residents' P90 response) or None (the build
        speeds, no hour).
    speed_profiles
        Overrides of ``gis/data/speed_profiles.toml`` (mapping or TOML path), already checked.
    observed_speeds
        A CSV of observed speeds (``edge`` or ``osm_way_id``, ``hour``, ``speed_kph``), or None.
    """

    hour: int | Literal["worst"] | None = None
    speed_profiles: TableOverrides = None
    observed_speeds: Path | None = None

    def observed(self, graph: GraphLike) -> ObservedSpeeds | None:
        """The observed speeds matched to ``graph`` (checked row by row), or None."""
        if self.observed_speeds is None:
            return None
        return read_observed_speeds(self.observed_speeds, as_road_graph(graph))


def time_of_day_from_toml(table: Any, path: str | Path) -> TimeOfDay:
    """The ``[time_of_day]`` table of the scenario TOML ``path``, checked.

    Keys: ``hour`` (0-23 or ``"worst"``), ``speed_profiles`` (the path of a TOML laid out like
    ``speed_profiles.toml``, relative to the scenario TOML, or an inline table) and
    ``observed_speeds`` (a CSV path, relative to the scenario TOML).

    Raises
    ------
    InputError
        For an unknown key, a bad hour, a bad table or a missing file, naming the TOML and the fix.

    Examples
    --------
    >>> time_of_day_from_toml({"hour": 8}, "scenario.toml").hour
    8
    >>> time_of_day_from_toml({"hour": "worst"}, "scenario.toml").hour
    'worst'
    """
    src = Path(path)
    where = f"`[time_of_day]` of `{src}`"
    if not isinstance(table, Mapping):
        msg = f"{where} is {table!r}. Fix: make it a table, such as `[time_of_day]` with `hour = 8`."
        raise InputError(msg)
    known = {"hour", "speed_profiles", "observed_speeds"}
    unknown = sorted(set(table) - known)
    if unknown:
        msg = f"{where} has unknown keys {unknown}. Fix: use {sorted(known)}."
        raise InputError(msg)
    raw = table.get("hour")
    hour: int | Literal["worst"] | None = (
        raw if raw is None or raw == "worst" else check_hour(raw, where=f"{where}: `hour`")
    )
    profiles: TableOverrides = None
    given = table.get("speed_profiles")
    if isinstance(given, Mapping):
        profiles = dict(given)
    elif given is not None:
        profiles = toml_path(src, where, table, "speed_profiles", file=True)
    try:
        speed_profile_table(profiles)
    except InputError as exc:
        msg = f"{where}: {exc}"
        raise InputError(msg) from None
    observed = toml_path(src, where, table, "observed_speeds", file=True)
    return TimeOfDay(hour=hour, speed_profiles=profiles, observed_speeds=observed)


def coverage_at_hour(
    scenario: Scenario,
    graph: GraphLike,
    hour: int,
    *,
    speed_profiles: TableOverrides = None,
    observed: ObservedSpeeds | None = None,
    **coverage: Any,
) -> CoverageResult:
    """:func:`planning.analyse_coverage` on the road graph of ``hour``; the result carries the hour.

    ``coverage`` takes :func:`~planning.analyse_coverage`'s keywords (``standard``,
    ``breaks_s``, ``districts`` ...).

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from gis import graph_from_lines, Scenario, RoadsSource
    >>> sc = Scenario("Demo City (synthetic)", city, city["roads"].crs, RoadsSource("layer"))
    >>> G = graph_from_lines(city["roads"])
    >>> night = coverage_at_hour(sc, G, 3, breaks_s=None, districts=False)
    >>> peak = coverage_at_hour(sc, G, 18, breaks_s=None, districts=False)
    >>> p90 = [r.summary.loc["communities", "p90_response_s"] for r in (night, peak)]
    >>> peak.hour, bool(p90[1] >= p90[0])
    (18, True)
    """
    h = check_hour(hour)
    at = graph_at_hour(as_road_graph(graph), h, speed_profiles=speed_profiles, observed=observed)
    result = analyse_coverage(scenario, at, **coverage)
    note = f"travel times at {h:02d}:00 ({_speeds_label(speed_profiles, observed)})"
    return dataclasses.replace(result, hour=h, notes=(*result.notes, note))


def _speeds_label(speed_profiles: TableOverrides, observed: ObservedSpeeds | None) -> str:
    what = "speed profiles of riskplan's table" if speed_profiles is None else "the scenario's speed profiles"
    if isinstance(speed_profiles, (str, Path)):
        what = f"speed profiles of {Path(speed_profiles).name}"
    if observed is not None:
        what += f", observed speeds of {Path(observed.source).name} where given"
    return what


def isochrones_at_hour(
    graph: GraphLike,
    sources: pd.Series,
    hour: int,
    *,
    speed_profiles: TableOverrides = None,
    observed: ObservedSpeeds | None = None,
    **options: Any,
) -> gpd.GeoDataFrame:
    """:func:`planning.isochrones` at ``hour``, with an ``hour`` column.

    Examples
    --------
    >>> from gis import graph_from_lines
    >>> from planning.snapping import snap_stations
    >>> G = graph_from_lines(city["roads"])
    >>> nodes = snap_stations(G, city["fire_stations"])["node"].iloc[:1]
    >>> night = isochrones_at_hour(G, nodes, 3, breaks_s=[300])
    >>> peak = isochrones_at_hour(G, nodes, 18, breaks_s=[300])
    >>> bool(peak["area_km2"].iloc[0] < night["area_km2"].iloc[0]), peak["hour"].tolist()
    (True, [18])
    """
    h = check_hour(hour)
    at = graph_at_hour(as_road_graph(graph), h, speed_profiles=speed_profiles, observed=observed)
    out = isochrones(at, sources, **options)
    return out.assign(hour=h)


def districts_at_hour(
    graph: GraphLike,
    stations: pd.DataFrame,
    hour: int,
    *,
    speed_profiles: TableOverrides = None,
    observed: ObservedSpeeds | None = None,
    **options: Any,
) -> StationDistricts:
    """:func:`planning.station_districts` at ``hour`` (the districts and their checks at that hour's speeds).

    Examples
    --------
    >>> from gis import graph_from_lines
    >>> from planning.snapping import snap_stations
    >>> G = graph_from_lines(city["roads"])
    >>> st = city["fire_stations"].assign(node=snap_stations(G, city["fire_stations"])["node"])
    >>> len(districts_at_hour(G, st, 8, barriers=city["barriers"]).districts)
    6
    """
    h = check_hour(hour)
    at = graph_at_hour(as_road_graph(graph), h, speed_profiles=speed_profiles, observed=observed)
    return station_districts(at, stations, **options)


def _hour_key(hour: int, table: Mapping[str, Any], observed: ObservedSpeeds | None) -> tuple[Any, ...]:
    """Hours with the same key have the same speeds on every edge (the nights, mostly)."""
    factors = tuple(float(p["factors"][hour]) for _, p in sorted(table["profiles"].items()))
    seen = observed is not None and hour in observed.hours
    return (*factors, hour if seen else None)


def _figures(
    t: npt.NDArray[np.float64], covered: npt.NDArray[np.bool_], pop: npt.NDArray[np.float64]
) -> dict[str, float]:
    total = float(pop.sum())
    return {
        "median_response_s": weighted_quantile(t, pop, 0.5),
        "p90_response_s": weighted_quantile(t, pop, 0.9),
        "share_covered": float(pop[covered].sum() / total) if total > 0 else np.nan,
        "residents": total,
        "residents_covered": float(pop[covered].sum()),
        "communities": float(len(t)),
    }


def response_by_hour(
    scenario: Scenario,
    graph: GraphLike,
    *,
    hours: Iterable[int] = HOURS,
    standard: str | Mapping[str, Any] | ResponseStandard = DEFAULT_STANDARD,
    speed_factor: float = 1.0,
    speed_profiles: TableOverrides = None,
    observed: ObservedSpeeds | None = None,
    max_snap_m: float | None = None,
    response_standards: TableOverrides = None,
    by: str | None = None,
) -> pd.DataFrame:
    """Residents' response by hour: median and 90th percentile (weighted by population), covered share.

    Each hour's communities come from :func:`planning.layer_coverage` on the graph of that hour;
    hours whose speeds are the same on every edge (the free-flowing nights) are computed once.

    Parameters
    ----------
    by
        A column of the communities (a district name or division code) to give the figures per
        group and hour instead of for the whole city.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``hour`` (by ``hour`` and ``by`` with ``by``), columns :data:`BY_HOUR_COLUMNS`:
        ``median_response_s`` and ``p90_response_s`` (residents' quantiles,
        :func:`weighted_quantile`; ``inf`` where the residents beyond it are unreached),
        ``share_covered`` (of residents, within the standard; places beyond the snap limit never
        count), ``residents``, ``residents_covered`` and ``communities``. ``attrs`` holds the
        standard's name and response (``standard``, ``response_s``).

    Raises
    ------
    InputError
        For a bad hour or table, or a ``by`` column the communities do not have.

    Examples
    --------
    >>> from gis import graph_from_lines, Scenario, RoadsSource
    >>> sc = Scenario("Demo City (synthetic)", city, city["roads"].crs, RoadsSource("layer"))
    >>> table = response_by_hour(sc, graph_from_lines(city["roads"]), hours=[3, 8, 18])
    >>> table.index.tolist(), worst_hour(table) in (8, 18)
    ([3, 8, 18], True)
    """
    std = response_standard(standard, response_standards=response_standards)
    road = as_road_graph(graph)
    table = speed_profile_table(speed_profiles)
    stations, communities = scenario["fire_stations"], scenario["communities"]
    if by is not None and by not in communities.columns:
        msg = (
            f"The communities have no column `{by}` to group the response by hour "
            f"(columns {[c for c in communities.columns if c != 'geometry']}). Fix: name one of them."
        )
        raise InputError(msg)
    pop = (
        communities["population"].to_numpy(np.float64)
        if "population" in communities
        else np.ones(len(communities))
    )
    pop = np.nan_to_num(pop, nan=0.0)
    groups = None if by is None else communities[by].astype(str).to_numpy()
    done: dict[tuple[Any, ...], dict[Any, dict[str, float]]] = {}
    rows: dict[Any, dict[str, float]] = {}
    for hour in (check_hour(h) for h in hours):
        key = _hour_key(hour, table, observed)
        if key not in done:
            at = graph_at_hour(road, hour, speed_profiles=speed_profiles, observed=observed)
            layer = layer_coverage(
                at,
                stations,
                communities,
                standard=std,
                speed_factor=speed_factor,
                max_snap_m=max_snap_m,
                layer="communities",
            )
            t = layer["response_time_s"].to_numpy(np.float64)
            covered = layer["covered"].to_numpy(bool)
            if groups is None:
                done[key] = {None: _figures(t, covered, pop)}
            else:
                done[key] = {
                    g: _figures(t[groups == g], covered[groups == g], pop[groups == g])
                    for g in sorted(set(groups))
                }
        for group, figures in done[key].items():
            rows[hour if groups is None else (hour, group)] = figures
    log.info("response by hour: %d rows, %d distinct speed sets", len(rows), len(done))
    out = pd.DataFrame.from_dict(rows, orient="index", columns=list(BY_HOUR_COLUMNS))
    if groups is None:
        out.index.name = "hour"
    else:
        out.index = pd.MultiIndex.from_tuples(list(rows), names=["hour", by])
    out["communities"] = out["communities"].astype(np.int64)
    out.attrs.update(standard=std.name, response_s=float(std.response_s))
    return out


def worst_hour(table: pd.DataFrame, *, column: str = "p90_response_s") -> int:
    """The hour of the longest ``column`` in a :func:`response_by_hour` table.

    Ties go to the hour with the smaller covered share, then the earlier hour.

    Raises
    ------
    InputError
        When the table has no such column or no hour.

    Examples
    --------
    >>> t = pd.DataFrame({"p90_response_s": [300.0, 420.0, 410.0], "share_covered": [0.9, 0.7, 0.8]},
    ...                  index=pd.Index([3, 8, 18], name="hour"))
    >>> worst_hour(t)
    8
    """
    if isinstance(table.index, pd.MultiIndex):
        msg = (
            "The response-by-hour table is grouped (index "
            f"{list(table.index.names)}). Fix: give the city's table (`response_by_hour` without `by`)."
        )
        raise InputError(msg)
    if column not in table.columns or len(table) == 0:
        msg = (
            f"The response-by-hour table has no `{column}` or no hour (columns {list(table.columns)}). "
            "Fix: give a `planning.response_by_hour` table."
        )
        raise InputError(msg)
    value = table[column].to_numpy(np.float64)
    share = table["share_covered"].to_numpy(np.float64) if "share_covered" in table else np.zeros(len(table))
    hours = np.asarray(table.index, dtype=np.int64)
    order = np.lexsort((hours, np.nan_to_num(share, nan=np.inf), -np.nan_to_num(value, nan=-np.inf)))
    return int(hours[order[0]])
