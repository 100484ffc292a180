"""Reliability of a scenario's response: from its incidents (or risk) to per-community figures.

:func:`analyse_reliability` strings the pieces together for a loaded scenario: response times
from every station to every community (turnout included; the coverage's own when it is given,
:func:`~planning.reliability.times.response_times`), call rates by community and hour
(:func:`~planning.reliability.call_rates` from the ``incidents`` layer, else
:func:`~planning.reliability.rates_from_risk`), service times by the calls' categories, each
station's response units, then the hypercube for the day's mean rates and for each hour.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.errors import InputError
from gis.speech import say
from gis.tables import TableOverrides

from ..names import DEFAULT_STANDARD
from ..standards import ResponseStandard, response_standard
from .concurrency import concurrency_by_hour
from .rates import (
    HOURS,
    _durations,
    area_service_times,
    call_rates,
    incident_hours,
    load_service_times,
    rates_from_risk,
    response_units,
)
from .times import response_times
from .workload import Workload, station_workload, workload_by_hour

if TYPE_CHECKING:
    from gis.network.graph import GraphLike

    from ..coverage import CoverageResult

__all__ = [
    "RELIABILITY_COLUMNS",
    "ReliabilityResult",
    "analyse_reliability",
    "attach_reliability",
    "check_reliability_inputs",
    "reliability_options",
]

log = logging.getLogger(__name__)

#: Columns :func:`analyse_reliability` adds to the communities.
RELIABILITY_COLUMNS = (
    "calls_per_day",
    "service_min",
    "busy_fraction_first_due",
    "second_due_share",
    "third_due_share",
    "lost_share",
    "expected_coverage",
    "expected_response_p90_s",
)

_OPTIONS = {"calls_per_year", "period_days", "service_times", "weight_column", "method", "hours"}


@dataclass(frozen=True, eq=False)
class ReliabilityResult:
    """What :func:`analyse_reliability` found.

    Attributes
    ----------
    communities
        The communities' reliability columns (:data:`RELIABILITY_COLUMNS`, plus ``first_due``
        and ``off_network``) on their index, for the day's mean call rates; an off-network
        community keeps its ``calls_per_day`` and ``service_min``, the rest empty.
    station_workload
        Stations (points) with ``response_units``, ``busy_fraction``, ``calls_per_day``,
        ``first_due_calls_per_day``, ``first_due_answered_share`` and ``peak_busy_fraction``
        (the busiest hour's) and ``peak_hour``.
    p90_by_hour
        Expected 90th-percentile response (s) by district (first-due station; last row
        ``city``) and hour of the day (columns ``h00`` .. ``h23``).
    concurrency
        :func:`~planning.reliability.concurrency_by_hour` with the city's units.
    city
        The city's figures for the day's mean rates (see :class:`Workload`), over the
        communities on the road network, and ``off_network_communities`` (the count left out).
    rates_source
        ``incidents`` or ``risk (column)``.
    notes
        What a reader must know (defaults used, lost calls).
    """

    standard: ResponseStandard
    communities: pd.DataFrame
    station_workload: gpd.GeoDataFrame
    p90_by_hour: pd.DataFrame
    concurrency: pd.DataFrame
    city: dict[str, float]
    rates_source: str
    notes: tuple[str, ...] = ()
    workload: Workload | None = field(default=None, repr=False)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The plain tables to write beside the layers."""
        city = pd.DataFrame([{"measure": k, "value": v} for k, v in self.city.items()]).set_index("measure")
        return {
            "p90_by_hour": self.p90_by_hour,
            "concurrency_by_hour": self.concurrency,
            "reliability_summary": city,
        }

    def report(self) -> str:
        """A few lines for people."""
        c = self.city
        busiest = self.station_workload.sort_values("busy_fraction", ascending=False).head(3)
        p90 = c["expected_response_p90_s"]
        lines = [
            f"Reliability ({self.rates_source} call rates, {c['calls_per_day']:.1f} calls a day): "
            f"expected coverage {c['expected_coverage']:.1%} within {self.standard.response_s:.0f} s, "
            f"expected p90 response {'beyond reach' if not np.isfinite(p90) else f'{p90:.0f} s'}, "
            f"{c['lost_share']:.2%} of calls find every unit busy",
            "  busiest stations: "
            + ", ".join(f"{i} {r['busy_fraction']:.0%}" for i, r in busiest.iterrows()),
        ]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def reliability_options(table: Mapping[str, Any] | None, where: str = "[reliability]") -> dict[str, Any]:
    """Check the options of a ``[reliability]`` table (scenario TOML) or API request.

    Examples
    --------
    >>> reliability_options({"calls_per_year": 5000})
    {'calls_per_year': 5000.0}
    """
    if table is None:
        return {}
    if not isinstance(table, Mapping):
        msg = (
            f"{where} must be a table of options ({', '.join(sorted(_OPTIONS))}). "
            "Fix: write it as a TOML table."
        )
        raise InputError(msg)
    unknown = sorted(set(table) - _OPTIONS - {"enabled"})
    if unknown:
        msg = f"{where}: unknown keys {unknown}. Fix: use {', '.join(sorted(_OPTIONS))}."
        raise InputError(msg)
    out: dict[str, Any] = {}
    for key in ("calls_per_year", "period_days"):
        if table.get(key) is not None:
            v = table[key]
            if not isinstance(v, int | float) or isinstance(v, bool) or not v > 0:
                msg = f"{where} `{key}` is {v!r}. Fix: give a number > 0."
                raise InputError(msg)
            out[key] = float(v)
    for key in ("service_times", "weight_column", "method", "hours"):
        if table.get(key) is not None:
            out[key] = table[key]
    return out


def _source(scenario: Any) -> str:
    files = getattr(scenario, "files", {}) or {}
    return str(files.get("incidents") or getattr(scenario, "source", None) or "incidents")


def check_reliability_inputs(scenario: Any, *, service_times: TableOverrides = None) -> None:
    """Check what :func:`analyse_reliability` reads before anything runs or is written.

    The service-time table (with its overrides), the stations' response units and the
    incidents' ``time`` and ``duration_min``.

    Raises
    ------
    gis.InputError
        Naming the file, the rows and the fix.
    """
    load_service_times(service_times)
    response_units(scenario["fire_stations"], service_times=service_times)
    incidents = scenario.layers.get("incidents")
    if incidents is not None and len(incidents):
        incident_hours(incidents, source=_source(scenario))
        _durations(incidents, _source(scenario))


def analyse_reliability(
    scenario: Any,
    graph: GraphLike,
    *,
    standard: str | Mapping[str, Any] | ResponseStandard = DEFAULT_STANDARD,
    speed_factor: float = 1.0,
    calls_per_year: float | None = None,
    period_days: float | None = None,
    service_times: TableOverrides = None,
    weight_column: str | None = None,
    response_standards: TableOverrides = None,
    method: str = "auto",
    hours: str = "city",
    coverage: CoverageResult | None = None,
    max_snap_m: float | None = None,
) -> ReliabilityResult:
    """Station workload, expected coverage and expected 90th-percentile response of a scenario.

    Parameters
    ----------
    scenario
        A loaded scenario: ``fire_stations`` and ``communities``; ``incidents`` when present.
    graph
        Its road graph.
    standard, response_standards
        The response profile (as for :func:`planning.coverage.analyse_coverage`).
    speed_factor
        Engine speed relative to the edge speeds.
    calls_per_year
        Without incidents: the city's calls a year shared by risk (default: the per-resident
        rate of ``service_times.toml``). With incidents: ignored.
    period_days
        Days the incidents cover (default: first to last incident).
    service_times
        Overrides of ``planning/data/service_times.toml``.
    weight_column
        Without incidents: the communities' column sharing the calls (default ``risk_score``,
        ``risk`` or ``population``).
    method
        The hypercube approximation's busy-set law.
    hours
        With incidents: ``city`` (each community's calls shaped by the city's hour profile)
        or ``area`` (its own counts per hour), see :func:`~planning.reliability.call_rates`.
    coverage
        The coverage of the same scenario and graph (:func:`planning.analyse_coverage`): its
        station x community response times are used (its snaps, speed factor and off-network
        flags; :func:`~planning.reliability.times.response_times`), its standard too. Without
        it they are computed by the same rule.
    max_snap_m
        Snap limit without ``coverage``.

    Communities off the road network (farther than the snap limit from every road:
    :data:`planning.response.OFF_ROAD_RULE`) get no response: their rows are ``off_network``
    with the reliability columns empty, and they are left out of the workload and of the
    city's expected figures, the count in ``city["off_network_communities"]`` and the notes.

    Returns
    -------
    ReliabilityResult

    Examples
    --------
    >>> from gis import graph_from_lines, Scenario, RoadsSource
    >>> sc = Scenario("Demo City (synthetic)", city, city["roads"].crs, RoadsSource("layer"))
    >>> rel = analyse_reliability(sc, graph_from_lines(city["roads"]))
    >>> rel.rates_source, bool(0 < rel.city["expected_coverage"] <= 1)
    ('incidents', True)
    """
    std = (
        coverage.standard
        if coverage is not None
        else response_standard(standard, response_standards=response_standards)
    )
    if not speed_factor > 0:
        msg = f"`speed_factor` is {speed_factor!r}. Fix: give a number > 0 (0.8 = engines 20% slower)."
        raise InputError(msg)
    stations, communities = scenario["fire_stations"], scenario["communities"]
    if not len(stations) or not len(communities):
        msg = "reliability: the scenario needs fire_stations and communities. Fix: add the layers."
        raise InputError(msg)
    src = _source(scenario)
    incidents = scenario.layers.get("incidents") if hasattr(scenario, "layers") else None
    notes: list[str] = []
    if incidents is not None and len(incidents):
        rates = call_rates(incidents, communities, period_days=period_days, hours=hours, source=src)
        rsource = "incidents"
        service = area_service_times(incidents, communities, service_times=service_times, source=src)
    else:
        rates = rates_from_risk(
            communities,
            weight_column=weight_column,
            calls_per_year=calls_per_year,
            service_times=service_times,
        )
        rsource = str(rates.attrs["source"])
        service = area_service_times(None, communities, service_times=service_times)
        notes.append(say("rel_no_incidents", calls=f"{rates.attrs['calls_per_year']:.0f}", source=rsource))
    units = response_units(stations, service_times=service_times)
    all_times, off = response_times(
        graph,
        stations,
        communities,
        standard=std,
        speed_factor=speed_factor,
        max_snap_m=max_snap_m,
        coverage=coverage,
    )
    on = ~off.to_numpy()
    if not on.any():
        msg = (
            f"reliability: all {len(communities)} communities are off the road network (farther "
            "than the snap limit from every road). Fix: check the communities' CRS and the roads, "
            "or raise `max_snap_m`."
        )
        raise InputError(msg)
    off_calls, off_service = rates[~on].sum(axis=1), service[~on]
    times, rates, service = all_times[on], rates[on], service[on]
    daily = rates.sum(axis=1) / 24.0
    w = station_workload(
        times,
        daily.to_numpy(),
        service.to_numpy(),
        response_units=units.to_numpy(),
        standard_s=std.response_s,
        method=method,
    )
    per_hour, p90 = workload_by_hour(
        times,
        rates,
        service.to_numpy(),
        response_units=units.to_numpy(),
        standard_s=std.response_s,
        method=method,
    )
    busy_by_hour = pd.DataFrame({h: per_hour[h].stations["busy_fraction"] for h in HOURS})
    comm = w.areas.assign(service_min=service.to_numpy())
    comm = comm[["first_due", *RELIABILITY_COLUMNS]].reindex(communities.index)
    comm["off_network"] = off.to_numpy()
    n_off = int(off.sum())
    city = {**w.city, "off_network_communities": float(n_off)}
    if n_off:
        comm.loc[off.to_numpy(), "calls_per_day"] = off_calls.to_numpy()
        comm.loc[off.to_numpy(), "service_min"] = off_service.to_numpy()
        notes.append(say("rel_off_network", count=n_off, calls=f"{off_calls.sum():.1f}"))
    st = w.stations.set_axis(stations.index).assign(
        peak_busy_fraction=busy_by_hour.max(axis=1).to_numpy(),
        peak_hour=busy_by_hour.idxmax(axis=1).to_numpy(),
    )
    layer = gpd.GeoDataFrame(
        stations[[c for c in ("name", "grade") if c in stations.columns]].join(st),
        geometry=stations.geometry,
        crs=stations.crs,
    )
    p90.columns = [f"h{h:02d}" for h in p90.columns]
    conc = concurrency_by_hour(rates, service, units=int(units.sum()))
    if w.city["lost_share"] > 0.01:
        notes.append(say("rel_lost_calls", share=f"{w.city['lost_share']:.1%}"))
    unreached = int(np.isinf(times.to_numpy()).all(axis=1).sum())
    if unreached:
        notes.append(say("rel_unreached", count=unreached))
    log.info("reliability: %s", {k: round(v, 4) for k, v in city.items()})
    return ReliabilityResult(
        standard=std,
        communities=comm,
        station_workload=layer,
        p90_by_hour=p90,
        concurrency=conc,
        city=city,
        rates_source=rsource,
        notes=tuple(notes),
        workload=w,
    )


def attach_reliability(coverage: CoverageResult, reliability: ReliabilityResult) -> CoverageResult:
    """The coverage with the reliability's columns on its communities and its layers and tables.

    The communities gain :data:`RELIABILITY_COLUMNS` (``expected_response_p90_s``,
    ``busy_fraction_first_due`` ...), the GeoPackage the ``station_workload`` layer and the
    ``p90_by_hour``, ``concurrency_by_hour`` and ``reliability_summary`` tables, and the
    report its lines.
    """
    comm = coverage.communities.drop(columns=[c for c in RELIABILITY_COLUMNS if c in coverage.communities])
    comm = comm.join(reliability.communities[list(RELIABILITY_COLUMNS)])
    st = (
        reliability.station_workload.to_crs(coverage.stations.crs)
        if coverage.stations.crs
        else reliability.station_workload
    )
    return replace(
        coverage,
        communities=comm,
        extra_layers={**coverage.extra_layers, "station_workload": st},
        extra_tables={**coverage.extra_tables, **reliability.tables()},
        notes=(*coverage.notes, reliability.report().replace("\n", " ")),
    )
