"""Time of day on the road graph: speed profiles by hour and road class, observed speeds per edge.

:func:`graph_at_hour` gives the :class:`~gis.network.RoadGraph` of an hour: every edge's speed
is its build speed times the congestion factor of its road class at that hour
(``gis/data/speed_profiles.toml``, :func:`speed_profile_table`; overridable), or the speed observed on
that edge at that hour (:func:`read_observed_speeds`: a CSV of ``edge`` or ``osm_way_id``,
``hour``, ``speed_kph``). The graph is not rebuilt: the hour's graph shares every array of the
input (topology, lengths, lines and their STRtree) and carries only new ``speed_kph`` and
``travel_time_s``, computed as a build computes them (``length_m / (speed_kph / 3.6)``), so it
equals, exactly, a graph built with the same speeds.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import InputError
from ..tables import TableOverrides, load_table
from ._columns import MISSING_ID

if TYPE_CHECKING:
    from .graph import RoadGraph

__all__ = [
    "HOURS",
    "ObservedSpeeds",
    "check_hour",
    "edge_factors",
    "graph_at_hour",
    "hour_speeds",
    "read_observed_speeds",
    "speed_profile_table",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: The hours of a day, 0-23 (local time).
HOURS: tuple[int, ...] = tuple(range(24))

_MAX_FACTOR = 1.5
_MAX_SPEED_KPH = 200.0
_ID_COLUMNS = ("edge", "osm_way_id")


def check_hour(hour: Any, *, where: str = "`hour`") -> int:
    """``hour`` as an int 0-23, or an :class:`~gis.errors.InputError` naming ``where`` and the fix.

    Examples
    --------
    >>> check_hour(8), check_hour("17")
    (8, 17)
    """
    value: Any = hour
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= int(value) <= 23:
        msg = f"{where} is {hour!r}. Fix: give an hour of the day, a whole number 0-23 (local time)."
        raise InputError(msg)
    return int(value)


def _where(speed_profiles: TableOverrides) -> str:
    return f"`{speed_profiles}`" if isinstance(speed_profiles, (str, Path)) else "`speed_profiles`"


def speed_profile_table(speed_profiles: TableOverrides = None) -> dict[str, Any]:
    """The speed-profile table merged with ``speed_profiles``, validated.

    Parameters
    ----------
    speed_profiles
        Overrides: a mapping laid out like ``gis/data/speed_profiles.toml`` or the path of such
        a TOML file. None gives the shipped table.

    Raises
    ------
    InputError
        When a profile has not 24 factors in (0, 1.5], or a class names an unknown profile.

    Examples
    --------
    >>> t = speed_profile_table({"profiles": {"local": {"factors": [1.0] * 24}}})
    >>> t["profiles"]["local"]["factors"][8], t["profiles"]["arterial"]["factors"][8]
    (1.0, 0.56)
    """
    where = _where(speed_profiles)
    if speed_profiles is not None and not isinstance(speed_profiles, (str, Path, Mapping)):
        msg = f"{where} is {speed_profiles!r}. Fix: give the path of a TOML file or a table of profiles."
        raise InputError(msg)
    table = load_table("speed_profiles", speed_profiles)
    profiles = table.get("profiles")
    if not isinstance(profiles, Mapping) or not profiles:
        msg = (
            f"{where}: `profiles` must be a table of named profiles. "
            "Fix: lay it out like speed_profiles.toml."
        )
        raise InputError(msg)
    for name, entry in profiles.items():
        factors = entry.get("factors") if isinstance(entry, Mapping) else None
        ok = isinstance(factors, list) and len(factors) == len(HOURS)
        ok = ok and all(
            isinstance(f, (int, float)) and not isinstance(f, bool) and 0 < f <= _MAX_FACTOR
            for f in factors or []
        )
        if not ok:
            msg = (
                f"{where}: `profiles.{name}.factors` is {factors!r}. Fix: give 24 numbers, one per "
                f"hour 0-23, each the share of the off-peak speed kept (0 < factor <= {_MAX_FACTOR})."
            )
            raise InputError(msg)
    default = table.get("defaults", {}).get("profile")
    if default not in profiles:
        msg = f"{where}: `defaults.profile` is {default!r}. Fix: name one of {sorted(profiles)}."
        raise InputError(msg)
    classes = table.get("classes", {})
    bad = {c: p for c, p in classes.items() if p not in profiles}
    if bad:
        msg = f"{where}: `classes` name unknown profiles {bad}. Fix: use one of {sorted(profiles)}."
        raise InputError(msg)
    return table


def edge_factors(graph: RoadGraph, hour: int, *, speed_profiles: TableOverrides = None) -> FloatArray:
    """The congestion factor of every edge at ``hour``: its road class's profile (one per edge).

    A class is looked up by the first of its ``;``-separated values, case-insensitively;
    classes not in ``[classes]`` and edges without one take ``[defaults] profile``.

    Examples
    --------
    >>> from gis.network import graph_from_osm
    >>> G = graph_from_osm("tests/fixtures/tiny_city.osm.xml")
    >>> sorted(set(edge_factors(G, 8).tolist())), sorted(set(edge_factors(G, 3).tolist()))
    ([0.56, 0.67], [1.0])
    """
    h = check_hour(hour)
    table = speed_profile_table(speed_profiles)
    profiles, classes = table["profiles"], table.get("classes", {})
    default = float(profiles[table["defaults"]["profile"]]["factors"][h])

    def factor(cls: Any) -> float:
        name = classes.get(str(cls).split(";", 1)[0].strip().lower())
        return default if name is None else float(profiles[name]["factors"][h])

    codes = np.asarray(graph.highway.codes, dtype=np.int64)
    lookup = np.array([factor(c) for c in graph.highway.categories] + [default], dtype=np.float64)
    out: FloatArray = lookup[codes]  # code -1 (no class) takes the trailing default
    return out


@dataclass(frozen=True, eq=False)
class ObservedSpeeds:
    """Speeds observed on edges at hours, from :func:`read_observed_speeds`, matched to a graph.

    Attributes
    ----------
    edge, hour, speed_kph
        One entry per observed edge and hour: the edge position in the graph, the hour 0-23
        and the speed (km/h). A way's row gives one entry per edge of the way.
    n_edges
        The edge count of the graph they were matched to (another graph is refused).
    source
        The file read.
    """

    edge: IntArray
    hour: IntArray
    speed_kph: FloatArray
    n_edges: int
    source: str

    def at(self, hour: int) -> tuple[IntArray, FloatArray]:
        """The edges observed at ``hour`` and their speeds."""
        sel = self.hour == check_hour(hour)
        return self.edge[sel], self.speed_kph[sel]

    @property
    def hours(self) -> tuple[int, ...]:
        """The hours with at least one observation."""
        return tuple(int(h) for h in np.unique(self.hour))


def _rows(mask: npt.NDArray[np.bool_] | pd.Series) -> str:
    lines = (np.flatnonzero(np.asarray(mask)) + 2).tolist()  # the header is line 1
    shown = ", ".join(str(x) for x in lines[:10])
    return f"{len(lines)} row(s) (lines {shown}{', ...' if len(lines) > 10 else ''})"


def read_observed_speeds(path: str | Path, graph: RoadGraph) -> ObservedSpeeds:
    r"""Read observed speeds per edge and hour from a CSV and match them to ``graph``.

    Columns: ``edge`` (edge position, the index of ``graph.edges_gdf()``) or ``osm_way_id``
    (every edge of the way, both directions), ``hour`` (0-23) and ``speed_kph`` (> 0). Every
    bad row is reported at once, by its line in the file.

    Raises
    ------
    InputError
        The file is missing or unreadable, a column is missing, or rows have a bad hour or
        speed, an unknown edge or way, or repeat an edge and hour; the message names the file,
        the lines and the fix.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from gis.network import graph_from_osm
    >>> G = graph_from_osm("tests/fixtures/tiny_city.osm.xml")
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "speeds.csv"
    >>> _ = p.write_text("edge,hour,speed_kph\n0,8,12.5\n1,8,15\n")
    >>> obs = read_observed_speeds(p, G)
    >>> obs.edge.tolist(), obs.hours, obs.speed_kph.tolist()
    ([0, 1], (8,), [12.5, 15.0])
    """
    p = Path(path)
    where = f"Observed speeds `{p}`"
    if not p.is_file():
        msg = (
            f"{where} does not exist. Fix: give the path of a CSV with edge (or osm_way_id), hour, speed_kph."
        )
        raise InputError(msg)
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        msg = f"{where} cannot be read as CSV ({exc}). Fix: save it as UTF-8 CSV with a header row."
        raise InputError(msg) from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    ids = [c for c in _ID_COLUMNS if c in df.columns]
    missing = [c for c in ("hour", "speed_kph") if c not in df.columns]
    if missing or len(ids) != 1:
        need = "one of `edge` or `osm_way_id`" if len(ids) != 1 else ""
        what = ", ".join([f"`{c}`" for c in missing] + ([need] if need else []))
        msg = (
            f"{where} has columns {list(df.columns)}; it needs {what}. Fix: give the columns "
            "edge (or osm_way_id, not both), hour and speed_kph."
        )
        raise InputError(msg)
    id_col = ids[0]
    problems: list[str] = []
    hour = pd.to_numeric(df["hour"].str.strip(), errors="coerce")
    bad_hour = ~(hour.between(0, 23) & (hour % 1 == 0))
    if bad_hour.any():
        problems.append(f"{_rows(bad_hour)} have an `hour` that is not a whole number 0-23")
    speed = pd.to_numeric(df["speed_kph"].str.strip(), errors="coerce")
    bad_speed = ~(speed.gt(0) & speed.le(_MAX_SPEED_KPH))
    if bad_speed.any():
        problems.append(
            f"{_rows(bad_speed)} have a `speed_kph` that is not a number in (0, {_MAX_SPEED_KPH:g}]"
        )
    ident = pd.to_numeric(df[id_col].str.strip(), errors="coerce")
    if id_col == "edge":
        known = ident.between(0, graph.n_edges - 1) & (ident % 1 == 0)
        fix_id = f"edge positions 0..{graph.n_edges - 1:,} (the index of `graph.edges_gdf()`)"
    else:
        ways = np.unique(graph.osm_way_id[graph.osm_way_id != MISSING_ID])
        known = ident.notna() & ident.isin(ways)
        fix_id = "OSM way ids of the scenario's roads"
    if (~known).any():
        problems.append(f"{_rows(~known)} have an `{id_col}` not in the road graph (give {fix_id})")
    ok = ~(bad_hour | bad_speed | ~known)
    dup = ok & df.assign(_i=ident, _h=hour).duplicated(["_i", "_h"], keep=False)
    if dup.any():
        problems.append(f"{_rows(dup)} repeat an `{id_col}` and `hour` (give one speed per edge and hour)")
    if problems:
        msg = f"{where}: " + "; ".join(problems) + ". Fix: correct or remove these rows."
        raise InputError(msg)
    ident_i, hour_i = ident.to_numpy(np.int64), hour.to_numpy(np.int64)
    speed_f = speed.to_numpy(np.float64)
    if id_col == "edge":
        edge, hours, speeds = ident_i, hour_i, speed_f
    else:
        # every edge of each way: sort the edges by way and take each row's run
        order = np.argsort(graph.osm_way_id, kind="stable")
        sorted_ways = graph.osm_way_id[order]
        lo = np.searchsorted(sorted_ways, ident_i, side="left")
        hi = np.searchsorted(sorted_ways, ident_i, side="right")
        counts = hi - lo
        row = np.repeat(np.arange(len(ident_i)), counts)
        offset = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        edge, hours, speeds = order[lo[row] + offset], hour_i[row], speed_f[row]
    log.info("%s: %d observations on %d edges", p, len(df), len(np.unique(edge)))
    return ObservedSpeeds(
        edge=np.asarray(edge, dtype=np.int64),
        hour=np.asarray(hours, dtype=np.int64),
        speed_kph=np.asarray(speeds, dtype=np.float64),
        n_edges=graph.n_edges,
        source=str(p),
    )


def hour_speeds(
    graph: RoadGraph,
    hour: int,
    *,
    speed_profiles: TableOverrides = None,
    observed: ObservedSpeeds | None = None,
) -> FloatArray:
    """Every edge's speed at ``hour`` (km/h): observed where given, else build speed x class factor.

    Examples
    --------
    >>> from gis.network import graph_from_osm
    >>> G = graph_from_osm("tests/fixtures/tiny_city.osm.xml")
    >>> bool((hour_speeds(G, 8) <= G.speed_kph).all()), bool((hour_speeds(G, 3) == G.speed_kph).all())
    (True, True)
    """
    speed = graph.speed_kph * edge_factors(graph, hour, speed_profiles=speed_profiles)
    if observed is not None:
        if observed.n_edges != graph.n_edges:
            msg = (
                f"Observed speeds `{observed.source}` were matched to a graph of {observed.n_edges:,} "
                f"edges, not this one of {graph.n_edges:,}. Fix: read them for this graph "
                "(`read_observed_speeds(path, graph)`)."
            )
            raise InputError(msg)
        edges, kph = observed.at(hour)
        speed[edges] = kph
    return speed


def graph_at_hour(
    graph: RoadGraph,
    hour: int,
    *,
    speed_profiles: TableOverrides = None,
    observed: ObservedSpeeds | None = None,
) -> RoadGraph:
    """The road graph at ``hour``: new ``speed_kph`` and ``travel_time_s`` on the same arrays.

    Nothing is rebuilt or copied but the two weight arrays: topology, lengths, lines and the
    STRtree are the input's. An edge whose speed is unchanged (factor 1.0, no observation) keeps
    its travel time as it is; the others get ``length_m / (speed_kph / 3.6)``, as a build computes
    it, so the result equals a graph built at the same speeds. On a graph without speeds (a
    networkx graph of travel times only) the travel times are divided by the factors.

    Parameters
    ----------
    graph
        The road graph (its build speeds are the off-peak speeds).
    hour
        Hour of the day, 0-23 (local time).
    speed_profiles
        Overrides of ``gis/data/speed_profiles.toml`` (mapping or TOML path).
    observed
        Observed speeds (:func:`read_observed_speeds`), winning over the profile where given.

    Raises
    ------
    InputError
        For a bad hour, a bad table, or observed speeds matched to another graph.

    Examples
    --------
    >>> from gis.network import graph_from_osm
    >>> G = graph_from_osm("tests/fixtures/tiny_city.osm.xml")
    >>> peak = graph_at_hour(G, 18)
    >>> peak.targets is G.targets, bool((peak.travel_time_s >= G.travel_time_s).all())
    (True, True)
    >>> bool((graph_at_hour(G, 2).travel_time_s == G.travel_time_s).all())
    True
    """
    h = check_hour(hour)
    factors = edge_factors(graph, h, speed_profiles=speed_profiles)
    if not np.isfinite(graph.speed_kph).all() or not (graph.speed_kph > 0).all():
        times = graph.travel_time_s / factors
        if observed is not None:
            edges, kph = observed.at(h)
            times[edges] = graph.length_m[edges] / (kph / 3.6)
        return graph.with_travel_times(times)
    speed = hour_speeds(graph, h, speed_profiles=speed_profiles, observed=observed)
    changed = speed != graph.speed_kph
    times = np.where(changed, graph.length_m / (speed / 3.6), graph.travel_time_s)
    bad = ~np.isfinite(times) | (times < 0)
    if bad.any():
        msg = (
            f"{int(bad.sum())} edges have no travel time at hour {h} (edges "
            f"{np.flatnonzero(bad)[:10].tolist()}). Fix: give those edges a length and a speed."
        )
        raise InputError(msg)
    log.debug("graph at hour %d: %d of %d edges re-weighted", h, int(changed.sum()), graph.n_edges)
    return graph._replace(speed_kph=speed, travel_time_s=times)
