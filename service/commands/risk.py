"""``riskplan risk``: score the area units of a scenario and write the risk layer."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from gis import InputError, Scenario, load_scenario, scenario_graph

__all__ = ["register"]


def _read_times(path: Path) -> pd.Series:
    table = pd.read_csv(path, dtype={"id": str})
    if not {"id", "response_time_s"} <= set(table.columns):
        msg = f"`{path}` needs the columns `id` and `response_time_s`. Fix: add them (seconds, per id)."
        raise InputError(msg)
    return table.set_index("id")["response_time_s"].astype(float)


def _community_times(scenario: Scenario, standard: str) -> pd.Series:
    """First-engine response times per community, from the coverage stage."""
    from planning import layer_coverage

    graph = scenario_graph(scenario)
    table = layer_coverage(
        graph, scenario["fire_stations"], scenario["communities"], standard=standard, layer="communities"
    )
    return table["response_time_s"]


def _run(args: argparse.Namespace) -> int:
    import risk_models

    scenario = load_scenario(args.scenario)
    if args.response_times:
        times = _read_times(args.response_times)
    elif args.standard.lower() != "none" and "fire_stations" in scenario:
        times = _community_times(scenario, args.standard)
    else:
        times = None
    result = risk_models.score_scenario(
        scenario,
        units=args.units,
        response_time_s=times,
        weights=args.weights,
        learn=False if args.no_learn else None,
    )
    out = result.write(args.out, top_n=max(args.top, 20))
    print(
        f"Risk layer of {scenario.label} ({result.units_spec}, {len(result.units)} units) "
        f"written to {Path(out).resolve()}"
    )
    levels = result.units["level"].astype(str).value_counts()
    print("Levels: " + ", ".join(f"{lv} {int(levels.get(lv, 0))}" for lv in risk_models.LEVELS[::-1]))
    print(f"Top {args.top} units:")
    for uid, row in result.top(args.top).iterrows():
        name = f" {row['name']}" if "name" in row else ""
        print(f"  {row['rank']:>3}. {uid}{name}  score {row['score']:.2f}  {row['level']}: {row['reasons']}")
    if result.skill is not None:
        print("Skill (spatially blocked cross-validation):")
        print(result.skill.round(3).to_string())
    for note in result.notes:
        print(f"note: {note}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``risk`` subcommand."""
    p = subparsers.add_parser("risk", help="score area units: hazard x exposure x vulnerability x response")
    p.add_argument("scenario", type=Path, help="scenario .gpkg or .toml")
    p.add_argument("--units", default="communities", help="communities | h3:RES | grid:METRES")
    p.add_argument("--out", type=Path, required=True, help="output GeoPackage")
    p.add_argument("--top", type=int, default=10, help="units to list with their reasons (default 10)")
    p.add_argument("--weights", type=Path, default=None, help="TOML overriding risk_weights.toml")
    p.add_argument(
        "--response-times",
        type=Path,
        default=None,
        help="CSV with id,response_time_s per community or unit (from the coverage stage)",
    )
    p.add_argument(
        "--standard",
        default="cn-gb51080",
        help="response standard whose road response times give the capacity component "
        "(default cn-gb51080; 'none' leaves capacity neutral)",
    )
    p.add_argument("--no-learn", action="store_true", help="skip the incident models")
    p.set_defaults(func=_run)
