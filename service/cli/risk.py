"""``riskplan risk``: score the area units of a scenario and write the risk layer."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gis import InputError
from gis.i18n import load_glossary
from gis.speech import speak, speaks
from planning.names import DEFAULT_STANDARD

from ._console import EXIT_OK, add_executor_options, add_lang_option, cli_executor, cli_lang, say

if TYPE_CHECKING:
    import pandas as pd

    from gis import Scenario

__all__ = ["register"]


def _read_times(path: Path) -> pd.Series:
    import pandas as pd

    table = pd.read_csv(path, dtype={"id": str})
    if not {"id", "response_time_s"} <= set(table.columns):
        msg = f"`{path}` needs the columns `id` and `response_time_s`. Fix: add them (seconds, per id)."
        raise InputError(msg)
    return table.set_index("id")["response_time_s"].astype(float)  # a CSV: the id is a column


def _road_times(scenario: Scenario, args: argparse.Namespace, executor: Any = None) -> Any:
    """Road response times of the units: per community, or a function snapping grid/H3 units."""
    from gis import scenario_graph
    from planning import layer_coverage, reached_times, unit_response_times

    from ..workflow import with_executor

    graph = scenario_graph(scenario)
    stations = scenario["fire_stations"]
    if args.units != "communities":
        return lambda units: with_executor(
            unit_response_times,
            executor,
            graph,
            stations,
            units,
            standard=args.standard,
            max_snap_m=args.max_snap_m,
        )
    table = layer_coverage(
        graph,
        stations,
        scenario["communities"],
        standard=args.standard,
        layer="communities",
        max_snap_m=args.max_snap_m,
    )
    return reached_times(table)


def _natural_hazards(args: argparse.Namespace, scenario: Scenario) -> tuple[Any, Any]:
    """The ``[natural_hazards]`` of ``--natural``, else of a scenario TOML; (None, None) without."""
    from risk_models.natural import read_natural_hazards

    from ..natural_run import natural_inputs

    if args.natural is None:
        return natural_inputs(scenario)
    found = read_natural_hazards(args.natural)
    if found is None:
        msg = f"`{args.natural}` has no [natural_hazards] table. Fix: see docs/natural_hazards.md."
        raise InputError(msg)
    return found


@speaks  # speak(lang) below holds for this command only
def _run(args: argparse.Namespace) -> int:
    import risk_models
    from gis import load_scenario
    from maps.qgis_styles import write_qgis_styles

    scenario = load_scenario(args.scenario)
    lang = speak(cli_lang(args, scenario))  # the reasons and notes made below speak it too
    natural, natural_table = _natural_hazards(args, scenario)
    with cli_executor(args) as ex:
        if args.response_times:
            times = _read_times(args.response_times)
        elif args.standard.lower() != "none" and "fire_stations" in scenario:
            times = _road_times(scenario, args, ex)
        else:
            times = None
        result = risk_models.score_scenario(
            scenario,
            units=args.units,
            response_time_s=times,
            risk_weights=args.risk_weights,
            learn=False if args.no_learn else None,
            natural_hazards=natural,
            natural_table=natural_table,
            executor=ex,
        )
    sens = None
    if args.uncertainty:
        from risk_models.sensitivity import analyse_sensitivity

        sens = analyse_sensitivity(result, n_samples=args.uncertainty, seed=args.seed)
    out = result.write(
        args.out,
        top_n=max(args.top, 20),
        extra_layers=sens.layers() if sens else None,
        extra_tables=sens.tables() if sens else None,
    )
    write_qgis_styles(out)
    written = say("risk_written", lang, scenario=scenario.label, units=result.units_spec,
                  count=len(result.units), path=Path(out).resolve())  # fmt: skip
    print(written + (say("risk_uncertainty", lang) if sens else ""))
    levels = result.units["level"].astype(str).value_counts()

    def level(lv: str) -> str:
        return lv if lang == "en" else load_glossary().term(f"level_{lv}", lang)

    counts = ", ".join(f"{level(lv)} {int(levels.get(lv, 0))}" for lv in risk_models.LEVELS[::-1])
    print(say("levels", lang, levels=counts))
    print(say("top_units", lang, count=args.top))
    score = say("score", lang)
    for uid, row in result.top(args.top).iterrows():
        name = f" {row['name']}" if "name" in row else ""
        lv = level(str(row["level"]))
        print(f"  {row['rank']:>3}. {uid}{name}  {score} {row['score']:.2f}  {lv}: {row['reasons']}")
    if sens is not None:
        print(say("uncertainty", lang))
        for line in sens.summary():
            print(f"  {line}")
    if result.skill is not None:
        print(say("skill", lang))
        print(result.skill.round(3).to_string())
    for note in result.notes:
        print(say("note", lang, note=note))
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``risk`` subcommand."""
    p = subparsers.add_parser("risk", help="score area units: hazard x exposure x vulnerability x response")
    p.add_argument("scenario", type=Path, help="scenario .gpkg or .toml")
    p.add_argument("--units", default="communities", help="communities | h3:RES | grid:METRES")
    p.add_argument("--out", type=Path, required=True, help="output GeoPackage")
    p.add_argument("--top", type=int, default=10, help="units to list with their reasons (default 10)")
    p.add_argument("--risk-weights", type=Path, default=None, help="TOML overriding risk_weights.toml")
    p.add_argument(
        "--response-times",
        type=Path,
        default=None,
        help="CSV with id,response_time_s per community or unit (from the coverage stage)",
    )
    p.add_argument(
        "--standard",
        default=DEFAULT_STANDARD,
        help="response standard whose road response times give the capacity component "
        "(default cn-gb51080; 'none' leaves capacity neutral)",
    )
    p.add_argument("--max-snap-m", type=float, default=None, help="snap limit: farther places are flagged")
    p.add_argument("--no-learn", action="store_true", help="skip the incident models")
    p.add_argument(
        "--uncertainty",
        type=int,
        default=0,
        metavar="SAMPLES",
        help="also sample the figures' ranges ([uncertainty]) this many times: level probabilities, "
        "score and rank bands and the figures that drive each unit, in the layer risk_uncertainty",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the uncertainty samples (default 0)")
    p.add_argument(
        "--natural",
        type=Path,
        default=None,
        metavar="TOML",
        help="a TOML with a [natural_hazards] table (flood depth rasters per return period, graded "
        "geological / fire zones) to add to the hazard term; default: the scenario TOML's own",
    )
    add_executor_options(p)
    add_lang_option(p)
    p.set_defaults(func=_run)
