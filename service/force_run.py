"""Effective response force in a coverage: the ``[force]`` table of a scenario TOML, ``coverage --force``.

``[force]`` (an empty table will do; options ``targets``, a list of names under ``[targets]`` of
``station_force.toml``, and ``station_force``, a TOML of overrides next to the scenario; ``enabled
= false`` turns it off) makes ``riskplan run`` count, at every community, the units and crew that
arrive within each target's time (:func:`planning.concentration.response_force`: NFPA 1710's
full first alarm, the configurable Chinese first alarm), and mark the hazards that need a
special-duty station and have none within reach
(:func:`planning.concentration.special_duty_gaps`). ``coverage.gpkg``'s communities gain
``first_unit_s``, ``special_duty_s`` and per target ``<target>_units``, ``<target>_crew`` and
``<target>_met``; the layer ``hazards_special_duty`` and the table ``force_summary`` (per target
the communities and residents whose force is met) are written beside them.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from gis import InputError
from gis.scenario import scenario_table
from gis.speech import say

if TYPE_CHECKING:
    from gis import Scenario
    from gis.network.graph import GraphLike
    from planning.coverage import CoverageResult

__all__ = ["FORCE_LAYER", "attach_force", "force_run_options", "scenario_force"]

_TABLE = "force"
_KEYS = frozenset({"enabled", "targets", "station_force"})
#: The hazards' special-duty layer a coverage with force writes.
FORCE_LAYER = "hazards_special_duty"


def force_run_options(scenario: Scenario) -> dict[str, Any] | None:
    """The checked options of the scenario TOML's ``[force]``, or None without one (or disabled).

    Raises
    ------
    gis.InputError
        Unknown keys, a ``targets`` that is not a list of the table's target names, or a
        ``station_force`` file that does not exist, naming the TOML and the fix.
    """
    from planning.concentration import load_station_force

    found = scenario_table(scenario, _TABLE)
    if found is None:
        return None
    table, src = found
    where = f"Scenario TOML `{src}`, table `[{_TABLE}]`"
    if not isinstance(table, dict):
        raise InputError(
            f"{where} is not a table. Fix: `[{_TABLE}]` with `targets = [...]`, or leave it out."
        )
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        names = ", ".join(f"`{k}`" for k in unknown)
        msg = f"{where}: unknown key(s) {names}. Fix: use {', '.join(sorted(_KEYS))}."
        raise InputError(msg)
    if table.get("enabled", True) is False:
        return None
    options: dict[str, Any] = {}
    if "station_force" in table:
        path = Path(str(table["station_force"]))
        path = path if path.is_absolute() else src.parent / path
        if not path.is_file():
            raise InputError(
                f"{where}: `station_force` file `{path}` does not exist. Fix: give the TOML's path."
            )
        options["station_force"] = path
    known = sorted(load_station_force(options.get("station_force")).get("targets", {}))
    if "targets" in table:
        targets = table["targets"]
        if not isinstance(targets, list) or not targets or not all(t in known for t in targets):
            msg = f"{where}: `targets = {targets!r}`. Fix: a list of {', '.join(f'`{t}`' for t in known)}."
            raise InputError(msg)
        options["targets"] = [str(t) for t in targets]
    return options


def attach_force(
    coverage: CoverageResult,
    scenario: Scenario,
    graph: GraphLike,
    *,
    targets: list[str] | None = None,
    station_force: Path | None = None,
    max_snap_m: float | None = None,
) -> CoverageResult:
    """``coverage`` with the effective response force at its communities and the special-duty gaps.

    The travel times are ``graph``'s (the coverage's own graph: at its hour when it has one).
    """
    from planning.concentration import response_force, special_duty_gaps

    stations = scenario["fire_stations"]
    communities = coverage.communities
    force = response_force(
        graph, stations, communities, targets=targets, station_force=station_force, max_snap_m=max_snap_m
    )
    layers = dict(coverage.extra_layers)
    hazards = scenario.layers.get("hazards")
    if hazards is not None and len(hazards):
        gaps = special_duty_gaps(graph, stations, hazards, station_force=station_force, max_snap_m=max_snap_m)
        cols = [c for c in ("name", "category") if c in hazards]
        layers[FORCE_LAYER] = hazards[[*cols, "geometry"]].join(gaps)
    pop = communities["population"].astype(float) if "population" in communities else None
    rows = []
    for name, target in force.attrs["targets"].items():
        met = force[f"{name}_met"].astype(bool)
        rows.append(
            {
                "target": name,
                "travel_s": float(target["travel_s"]),
                "units": int(target["units"]),
                "crew": int(target["crew"]),
                "communities_met": int(met.sum()),
                "communities": len(met),
                "residents_met": float(pop[met].sum()) if pop is not None else float("nan"),
                "residents": float(pop.sum()) if pop is not None else float("nan"),
            }
        )
    summary = pd.DataFrame(rows)
    note = say("words_list_sep").join(
        say(
            "force_note_target",
            target=r["target"],
            met=r["communities_met"],
            communities=r["communities"],
            units=r["units"],
            crew=r["crew"],
            seconds=f"{r['travel_s']:.0f}",
        )
        for r in rows
    )
    extra = [c for c in force.columns if c not in communities.columns]
    return replace(
        coverage,
        communities=communities.join(force[extra]),
        extra_layers=layers,
        extra_tables={**coverage.extra_tables, "force_summary": summary},
        notes=(*coverage.notes, say("force_note", targets=note)),
    )


def scenario_force(
    scenario: Scenario, graph: GraphLike, coverage: CoverageResult, *, max_snap_m: float | None = None
) -> CoverageResult:
    """``coverage`` with the force attached when the scenario's ``[force]`` asks for it, else unchanged."""
    options = force_run_options(scenario)
    if options is None or "fire_stations" not in scenario.layers:
        return coverage
    return attach_force(coverage, scenario, graph, max_snap_m=max_snap_m, **options)
