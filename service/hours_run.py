"""The time of day in a run and on the coverage command: ``[time_of_day]``, ``--hour``, ``--worst-hour``.

:func:`time_of_day_options` reads the scenario TOML's ``[time_of_day]`` (checked before anything
is written); :func:`prepare_hours` matches the observed speeds to the road graph (bad rows stop
here, before any output), computes the response-by-hour table when it is wanted and picks the
hour (``"worst"``: :func:`planning.hours.worst_hour`); :meth:`HourRun.write` writes the table
(``response_by_hour.csv``) and its chart (``response_by_hour.png``) atomically.

At the worst hour, :meth:`HourRun.with_free_flow` puts the isochrones and station districts at
the build (free-flow) speeds next to the worst hour's: the coverage's ``isochrones``,
``districts``, ``enclaves`` and ``violations`` are those of the build speeds (the GB 51080
district checks are planning checks, at design speeds), and ``isochrones_worst_hour`` and
``districts_worst_hour`` (with an ``hour`` column) those of the worst hour, drawn on the map as
layers of their own; the places' response times stay the worst hour's.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from gis.atomic import atomic_path
from gis.errors import InputError
from gis.i18n import Lang
from gis.network import RoadGraph, as_road_graph, check_hour, graph_at_hour, speed_profile_table
from gis.scenario import scenario_table
from gis.tables import TableOverrides
from planning.hours import TimeOfDay, response_by_hour, time_of_day_from_toml, worst_hour

if TYPE_CHECKING:
    from gis.network import GraphLike, ObservedSpeeds
    from gis.scenario import Scenario
    from planning.coverage import CoverageResult

__all__ = ["BY_HOUR_FILES", "WORST_HOUR_LAYERS", "HourRun", "prepare_hours", "time_of_day_options"]

log = logging.getLogger(__name__)

#: The files :meth:`HourRun.write` writes, by output name.
BY_HOUR_FILES = {"response_by_hour": "response_by_hour.csv", "response_by_hour_chart": "response_by_hour.png"}
#: The layers :meth:`HourRun.with_free_flow` adds: the worst hour's isochrones and districts.
WORST_HOUR_LAYERS = ("isochrones_worst_hour", "districts_worst_hour")


def time_of_day_options(
    scenario: Scenario,
    *,
    hour: int | str | None = None,
    worst: bool = False,
    speed_profiles: TableOverrides = None,
    observed_speeds: str | Path | None = None,
) -> TimeOfDay | None:
    """The scenario TOML's ``[time_of_day]``, with the command line's choices winning; None without either.

    Raises
    ------
    InputError
        For a bad ``[time_of_day]`` table, hour, profile table or a missing file.
    """
    found = scenario_table(scenario, "time_of_day")
    tod = time_of_day_from_toml(*found) if found is not None else None
    asked = hour is not None or worst or speed_profiles is not None or observed_speeds is not None
    if tod is None and not asked:
        return None
    base = tod or TimeOfDay()
    chosen: int | Literal["worst"] | None = base.hour
    if worst:
        chosen = "worst"
    elif hour is not None:
        chosen = check_hour(hour, where="`--hour`")
    profiles = base.speed_profiles
    if speed_profiles is not None:
        profiles = speed_profiles
        try:
            speed_profile_table(profiles)
        except InputError as exc:
            msg = f"`--speed-profiles`: {exc}"
            raise InputError(msg) from None
    observed = Path(observed_speeds) if observed_speeds is not None else base.observed_speeds
    if observed is not None and not observed.is_file():
        msg = f"Observed speeds `{observed}` do not exist. Fix: give a CSV of edge, hour, speed_kph."
        raise InputError(msg)
    return TimeOfDay(hour=chosen, speed_profiles=profiles, observed_speeds=observed)


@dataclass(frozen=True, eq=False)
class HourRun:
    """The hour an analysis runs at, its road graph and the response-by-hour table.

    Attributes
    ----------
    hour
        The hour (0-23), or None for the build speeds.
    graph
        The road graph at ``hour`` (the input graph when ``hour`` is None).
    table
        The response-by-hour table (:func:`planning.response_by_hour`), or None.
    time_of_day
        The options it came from.
    observed
        The observed speeds, matched to the graph, or None.
    """

    hour: int | None
    graph: RoadGraph
    table: pd.DataFrame | None
    time_of_day: TimeOfDay
    observed: ObservedSpeeds | None

    def mark(self, coverage: CoverageResult) -> CoverageResult:
        """``coverage`` (computed on :attr:`graph`) with the hour and a note saying where speeds came from."""
        if self.hour is None:
            return coverage
        what = (
            "riskplan's speed profiles"
            if self.time_of_day.speed_profiles is None
            else "the given speed profiles"
        )
        if self.observed is not None:
            what += f" and the observed speeds of {Path(self.observed.source).name}"
        worst = " (the worst hour)" if self.time_of_day.hour == "worst" else ""
        note = f"travel times at {self.hour:02d}:00{worst}, from {what}"
        return dataclasses.replace(coverage, hour=self.hour, notes=(*coverage.notes, note))

    @property
    def worst(self) -> bool:
        """Whether the hour is the worst hour (``hour = "worst"``, ``--worst-hour``)."""
        return self.hour is not None and self.time_of_day.hour == "worst"

    def with_free_flow(
        self, coverage: CoverageResult, scenario: Scenario, free_flow: GraphLike, **options: Any
    ) -> CoverageResult:
        """At the worst hour: ``coverage`` (of :attr:`graph`) with the free-flow isochrones and districts.

        ``coverage``'s own isochrones and districts become ``isochrones_worst_hour`` and
        ``districts_worst_hour`` (each with ``hour``); its ``isochrones``, ``districts``,
        ``enclaves``, ``violations`` and the stations' district figures are replaced by those of
        :func:`planning.analyse_coverage` on ``free_flow`` (``options``: its keywords, such as
        ``standard`` and ``max_snap_m``), at the same isochrone breaks. Unchanged at another hour.
        """
        if not self.worst:
            return coverage
        from planning import analyse_coverage

        assert self.hour is not None
        iso = coverage.isochrones
        breaks = sorted({float(b) for b in iso["break_s"]}) if "break_s" in iso.columns else None
        free = analyse_coverage(
            scenario,
            free_flow,
            breaks_s=breaks,
            area_units=coverage.area_units[[coverage.area_units.geometry.name]],
            **options,
        )
        layers = {
            "isochrones_worst_hour": iso.assign(hour=self.hour),
            "districts_worst_hour": coverage.districts.assign(hour=self.hour),
        }
        note = (
            f"isochrones and station districts at the build speeds (free flow); those of the worst hour "
            f"{self.hour:02d}:00 in isochrones_worst_hour and districts_worst_hour"
        )
        return dataclasses.replace(
            coverage,
            stations=free.stations,
            isochrones=free.isochrones,
            districts=free.districts,
            enclaves=free.enclaves,
            violations=free.violations,
            extra_layers={**coverage.extra_layers, **layers},
            notes=(*coverage.notes, note),
        )

    def write(self, out_dir: str | Path, *, prefix: str = "", lang: Lang = "en") -> dict[str, Path]:
        """Write the table (CSV) and its chart (PNG, in ``lang``) into ``out_dir``; {} without a table."""
        if self.table is None:
            return {}
        from maps.figures import save_figure
        from maps.hours_figure import response_by_hour_figure

        out = Path(out_dir)
        csv = out / f"{prefix}{BY_HOUR_FILES['response_by_hour']}"
        with atomic_path(csv) as tmp:
            self.table.assign(worst=self.table.index == worst_hour(self.table)).to_csv(tmp)
        fig = response_by_hour_figure(self.table, worst=worst_hour(self.table), lang=lang)
        png = save_figure(fig, out / f"{prefix}{BY_HOUR_FILES['response_by_hour_chart']}")
        return {"response_by_hour": csv, "response_by_hour_chart": png}


def prepare_hours(
    scenario: Scenario,
    graph: GraphLike,
    time_of_day: TimeOfDay,
    *,
    table: bool = True,
    standard: Any = None,
    max_snap_m: float | None = None,
    speed_factor: float = 1.0,
    response_standards: TableOverrides = None,
) -> HourRun:
    """The hour's road graph, the observed speeds matched to ``graph`` and the response-by-hour table.

    The table is computed with ``table`` and always for the worst hour.

    Raises
    ------
    InputError
        For bad observed-speed rows (file, lines and fix), before anything is computed.
    """
    road = as_road_graph(graph)
    observed = time_of_day.observed(road)
    by_hour = None
    if table or time_of_day.hour == "worst":
        kwargs: dict[str, Any] = {} if standard is None else {"standard": standard}
        by_hour = response_by_hour(
            scenario,
            road,
            speed_profiles=time_of_day.speed_profiles,
            observed=observed,
            max_snap_m=max_snap_m,
            speed_factor=speed_factor,
            response_standards=response_standards,
            **kwargs,
        )
    hour = worst_hour(by_hour) if time_of_day.hour == "worst" and by_hour is not None else time_of_day.hour
    if hour is None:
        return HourRun(None, road, by_hour, time_of_day, observed)
    h = check_hour(hour)
    at = graph_at_hour(road, h, speed_profiles=time_of_day.speed_profiles, observed=observed)
    log.info("time of day: %02d:00%s", h, " (worst hour)" if time_of_day.hour == "worst" else "")
    return HourRun(h, at, by_hour, time_of_day, observed)
