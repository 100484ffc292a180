"""What if, in ``riskplan run``: the scenario TOML's ``[what_if]`` table and ``riskplan run --close FILE``.

``[what_if]`` names one change (:class:`planning.ScenarioChange`) and the run reports it against
its own coverage::

    [what_if]
    close = "closures.csv"             # a CSV of edge / way_id / name rows, a polygon layer
                                       # (.geojson / .gpkg: roads crossing it close) or a TOML
                                       # change file, as planning.read_change reads them
    stations_out = ["FS3"]             # optional: stations out of service
    crs = "EPSG:4326"                  # of the temporary stations below
    [[what_if.temporary_stations]]     # optional: temporary stations
    id = "T1"
    x = 112.55
    y = 37.86

Paths are relative to the scenario TOML; ``enabled = false`` turns the table off. The table is
read and checked (:func:`what_if_options`) before anything is written, and the change is checked
against the road graph and the stations (:func:`check_what_if`) right after the graph is built,
still before any output. :func:`attach_what_if` then adds to the run's coverage (written into
``coverage.gpkg``, drawn on the map and in the report's section "Road closures"):

- ``what_if_communities``: per community the response before and after, ``seconds_lost``,
  covered -> not covered (``loses_coverage``), ``cut_off`` (:func:`planning.what_if`);
- ``closed_roads``: the closed edges' lines; ``what_if_summary``, ``what_if_change`` and
  ``what_if_stations`` (stations out and temporary) tables;
- ``isochrones_after_change`` and ``districts_after_change``: the isochrones and station districts
  of the changed scenario (the stations changed, the closed roads taken out of the graph).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from gis.errors import InputError
from gis.scenario import scenario_table
from gis.tables import toml_path

if TYPE_CHECKING:
    from gis import Scenario
    from gis.network import GraphLike
    from planning import CoverageResult
    from planning.change import ScenarioChange
    from planning.what_if import WhatIfResult

__all__ = [
    "CRITICALITY_FILE",
    "WHAT_IF_LAYERS",
    "attach_what_if",
    "check_what_if",
    "merge_changes",
    "what_if_options",
    "with_criticality",
]

log = logging.getLogger(__name__)

_TABLE = "what_if"
#: The file of ``riskplan criticality`` a run draws on its map when it finds it in its folder.
CRITICALITY_FILE = "criticality.gpkg"
_KEYS = {"enabled", "close", "stations_out", "crs", "temporary_stations"}
#: The layers and tables :func:`attach_what_if` adds to a coverage.
WHAT_IF_LAYERS = (
    "what_if_communities",
    "closed_roads",
    "isochrones_after_change",
    "districts_after_change",
    "what_if_summary",
    "what_if_change",
    "what_if_stations",
)


def merge_changes(changes: Sequence[ScenarioChange]) -> ScenarioChange:
    """One change doing what every one of ``changes`` does (roads, stations out, temporary stations).

    Examples
    --------
    >>> from planning.change import ScenarioChange
    >>> merge_changes([ScenarioChange(closed_names=("A",)), ScenarioChange(stations_out=("FS1",))]).describe()
    'close name A; stations out FS1'
    """
    from planning.change import ScenarioChange

    def geo(values: list[Any]) -> Any:
        values = [v for v in values if v is not None and len(v)]
        if not values:
            return None
        crs = values[0].crs
        frame = pd.concat([v.to_crs(crs) for v in values])
        return (
            frame if isinstance(frame, (gpd.GeoDataFrame, gpd.GeoSeries)) else gpd.GeoSeries(frame, crs=crs)
        )

    def uniq(values: list[tuple[Any, ...]]) -> tuple[Any, ...]:
        return tuple(dict.fromkeys(v for t in values for v in t))

    sources = [c.source for c in changes if c.source]
    return ScenarioChange(
        closed_edges=uniq([c.closed_edges for c in changes]),
        closed_ways=uniq([c.closed_ways for c in changes]),
        closed_names=uniq([c.closed_names for c in changes]),
        closed_areas=geo([c.closed_areas for c in changes]),
        closed_at=geo([c.closed_at for c in changes]),
        stations_out=uniq([c.stations_out for c in changes]),
        temporary_stations=geo([c.temporary_stations for c in changes]),
        source=", ".join(sources) or None,
    )


def _temporary(rows: Any, crs: Any, where: str) -> gpd.GeoDataFrame:
    if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
        msg = (
            f"{where}: `temporary_stations` is {rows!r}. Fix: write `[[what_if.temporary_stations]]` tables."
        )
        raise InputError(msg)
    from planning.change import temporary_stations

    return temporary_stations(rows, crs, where=where, key="temporary_stations", crs_at="to `[what_if]`")


def _from_table(table: Any, src: Path) -> ScenarioChange | None:
    from planning.change import ScenarioChange, read_change

    where = f"Scenario TOML `{src}`, table `[{_TABLE}]`"
    if not isinstance(table, Mapping):
        msg = (
            f'{where} is {table!r}. Fix: make it a table, such as `[what_if]` with `close = "closures.csv"`.'
        )
        raise InputError(msg)
    if table.get("enabled", True) is False:
        return None
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        msg = f"{where} has unknown keys {unknown}. Fix: use {sorted(_KEYS)}."
        raise InputError(msg)
    parts = []
    if table.get("close") is not None:
        path = toml_path(src, where, table, "close", file=True)
        assert path is not None
        try:
            parts.append(read_change(path))
        except InputError as exc:
            msg = f"{where}: {exc}"
            raise InputError(msg) from None
    out = table.get("stations_out", [])
    if not isinstance(out, list) or not all(isinstance(s, (str, int)) for s in out):
        msg = f'{where}: `stations_out` is {out!r}. Fix: list station ids, such as `["FS3"]`.'
        raise InputError(msg)
    temporary = None
    if table.get("temporary_stations"):
        temporary = _temporary(table["temporary_stations"], table.get("crs"), where)
    if out or temporary is not None:
        parts.append(
            ScenarioChange(
                stations_out=tuple(str(s) for s in out), temporary_stations=temporary, source=str(src)
            )
        )
    if not parts:
        msg = f'{where} changes nothing. Fix: give `close = "FILE"`, `stations_out` or `temporary_stations`.'
        raise InputError(msg)
    return merge_changes(parts)


def what_if_options(scenario: Scenario, *, close: str | Path | None = None) -> ScenarioChange | None:
    """The change of the TOML's ``[what_if]`` and of ``close`` (``--close FILE``); None without either.

    Both given: one change doing both.

    Raises
    ------
    gis.InputError
        An unknown key, a bad value, a missing or bad change file, naming the TOML and the fix.
    """
    from planning.change import read_change

    found = scenario_table(scenario, _TABLE)
    parts = []
    if found is not None and (change := _from_table(*found)) is not None:
        parts.append(change)
    if close is not None:
        parts.append(read_change(close))
    return merge_changes(parts) if parts else None


def check_what_if(change: ScenarioChange, scenario: Scenario, graph: GraphLike) -> None:
    """Check ``change`` against the road graph and the stations (unknown roads and ids, all out).

    Raises
    ------
    gis.InputError
        Roads the graph does not have, unknown stations, temporary stations off the roads or
        reusing ids, every station out (the messages name the rows and the fix).
    """
    change.apply(scenario, graph)  # every check of the change, on the scenario's own stations


def attach_what_if(
    coverage: CoverageResult,
    scenario: Scenario,
    graph: GraphLike,
    change: ScenarioChange,
    *,
    standard: Any,
    max_snap_m: float | None = None,
) -> tuple[CoverageResult, WhatIfResult]:
    """``coverage`` (of ``scenario`` on ``graph``) with the change's difference and after-change layers.

    The difference is :func:`planning.what_if` on the stations and communities of ``scenario``
    with ``standard`` and ``max_snap_m`` (the coverage's); the isochrones and districts after the
    change are those of :func:`planning.analyse_coverage` on the changed scenario and graph
    (:meth:`planning.ScenarioChange.apply`), at the coverage's breaks.
    """
    from planning import analyse_coverage
    from planning.what_if import what_if, what_if_baseline

    base = what_if_baseline(
        graph, scenario["fire_stations"], scenario["communities"], standard=standard, max_snap_m=max_snap_m
    )
    diff = what_if(base, change)
    changed, closed_graph = change.apply(scenario, graph)
    iso = coverage.isochrones
    breaks = sorted({float(b) for b in iso["break_s"]}) if "break_s" in iso.columns else []
    after = analyse_coverage(
        changed,
        closed_graph,
        standard=standard,
        max_snap_m=max_snap_m,
        breaks_s=breaks or (180.0, 300.0, 480.0),
        area_units=coverage.area_units[[coverage.area_units.geometry.name]],
    )
    spatial, tables = diff.layers()
    stations = pd.DataFrame(
        {
            "station": [*change.stations_out, *change.temporary_station_ids()],
            "status": ["out"] * len(change.stations_out)
            + ["temporary"] * len(change.temporary_station_ids()),
        }
    )
    layers = {
        **spatial,
        "isochrones_after_change": after.isochrones,
        "districts_after_change": after.districts,
    }
    s = diff.summary
    note = (
        f"what if ({change.describe()}): {s['residents_losing_coverage']:,.0f} residents lose coverage, "
        f"{s['residents_cut_off']:,.0f} cut off, {s['resident_seconds_lost']:,.0f} resident-seconds lost "
        "(coverage.gpkg: what_if_communities, closed_roads, isochrones_after_change, districts_after_change)"
    )
    log.info(note)
    out = dataclasses.replace(
        coverage,
        extra_layers={**coverage.extra_layers, **layers},
        extra_tables={**coverage.extra_tables, **tables, "what_if_stations": stations},
        notes=(*coverage.notes, note),
    )
    return out, diff


def with_criticality(coverage: CoverageResult, out_dir: str | Path) -> CoverageResult:
    """``coverage`` with the ranking ``riskplan criticality`` wrote in ``out_dir`` (``criticality.gpkg``).

    For the map and the report only (the ranking is a layer ``criticality`` there): the run's
    folder holds the file when ``riskplan criticality SCENARIO --out DIR/criticality.gpkg`` wrote it.
    A file that cannot be read is left out with a warning (it is no input of the run).
    """
    path = Path(out_dir) / CRITICALITY_FILE
    if not path.is_file():
        return coverage
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    try:
        ranking = pyogrio.read_dataframe(path, layer="criticality")
    except (DataSourceError, DataLayerError) as exc:  # a stale or foreign file
        log.warning("%s cannot be read (%s): the map leaves the criticality ranking out", path, exc)
        return coverage
    needed = {"rank", "kind", "highway", "resident_seconds_lost"}
    if not needed <= set(ranking.columns):
        log.warning(
            "%s lacks %s: the map leaves the criticality ranking out", path, sorted(needed - set(ranking))
        )
        return coverage
    return dataclasses.replace(coverage, extra_layers={**coverage.extra_layers, "criticality": ranking})
