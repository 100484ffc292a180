"""The ``riskplan`` command line.

Exit codes: 0 on success, 2 on invalid input (messages on stderr), 1 on an
unexpected failure. Outputs are written atomically.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from gis import InputError, RiskplanError
from planning.names import DEFAULT_STANDARD, MODELS

from .commands import coverage as _coverage_cmd
from .commands import init as _init_cmd
from .commands import map_report as _map_report_cmd
from .commands import place as _place_cmd
from .commands import risk as _risk_cmd
from .commands import serve as _serve_cmd

# Subcommands of the analysis stages, each a module with ``register(subparsers)``.
STAGE_COMMANDS: tuple[ModuleType, ...] = (
    _init_cmd,
    _coverage_cmd,
    _risk_cmd,
    _map_report_cmd,
    _place_cmd,
    _serve_cmd,
)

if TYPE_CHECKING:
    from .pipeline import PipelineResult

__all__ = ["main"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_INVALID = 2


class _Stages:
    """A progress bar over named pipeline stages (on stderr, hidden when not a terminal)."""

    def __init__(self, total: int, *, quiet: bool) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="stage", disable=quiet or None, file=sys.stderr, leave=False)
        self.started = False

    def __call__(self, name: str) -> None:
        if self.started:
            self.bar.update(1)
        self.started = True
        self.bar.set_description(name)

    def close(self) -> None:
        self.bar.update(1)
        self.bar.close()


def _cmd_demo(args: argparse.Namespace) -> int:
    if args.osm is not None:
        from gis import write_demo_osm

        path = write_demo_osm(args.osm, seed=args.seed, n_road_nodes=args.nodes)
        print(f"Demo city written as OpenStreetMap to {path.resolve()} (synthetic data, not a real city).")
        print(f"Try: riskplan init {path} --out DIR && riskplan run DIR/scenario.toml --out DIR/results")
        return EXIT_OK
    from . import pipeline

    stages = _Stages(7, quiet=args.quiet)
    try:
        result = pipeline.run_demo(args.out, seed=args.seed, n_road_nodes=args.nodes, progress=stages)
    finally:
        stages.close()
    _print_run(result, f"Demo city written to {result.out_dir.resolve()}/ (synthetic data, not a real city):")
    return EXIT_OK


def _print_run(result: PipelineResult, heading: str) -> None:
    print(heading)
    for name, path in result.outputs.items():
        print(f"  {name:<10} {path.resolve()}")
    for note in result.notes:
        print(note)
    print(f"Done in {sum(result.timings_s.values()):.1f} s.")


def _cmd_run(args: argparse.Namespace) -> int:
    from . import pipeline

    stages = _Stages(6, quiet=args.quiet)
    try:
        result = pipeline.run_scenario(
            args.scenario,
            args.out,
            units=args.units,
            standard=args.standard,
            model=args.model,
            n_new=args.new,
            days=args.days,
            weights=args.weights,
            speeds=args.speeds,
            max_snap_m=args.max_snap_m,
            cache=not args.no_cache,
            progress=stages,
        )
    finally:
        stages.close()
    _print_run(result, f"Every stage of {args.scenario} written to {Path(args.out).resolve()}/:")
    return EXIT_OK


def _cmd_validate(args: argparse.Namespace) -> int:
    from gis import load_scenario

    scenario = load_scenario(args.scenario)
    print(f"Scenario {scenario.label} is valid ({scenario.crs.name}):")
    print(scenario.summary().to_string())
    for note in scenario.notes:
        print(f"note: {note}")
    return EXIT_OK


def _cmd_network(args: argparse.Namespace) -> int:
    from gis import load_scenario, save_graph

    from . import pipeline

    scenario = load_scenario(args.scenario)
    run = pipeline.build_network(
        scenario, speeds=args.speeds, max_snap_m=args.max_snap_m, cache=not args.no_cache
    )
    out = save_graph(run.graph, args.out)
    report = run.graph.graph.get("report")
    print(f"Road network of {scenario.label} written to {Path(out).resolve()}")
    if report is not None:
        print(report)
    for layer, ids in run.flagged.items():
        dist = run.snaps[layer].loc[ids, "snap_distance_m"].round(0)
        shown = ", ".join(f"{i} ({d:.0f} m)" for i, d in dist.head(10).items())
        print(f"warning: {layer}: {len(ids)} beyond the snap limit: {shown}", file=sys.stderr)
    if args.snap_report:
        pipeline.write_snap_report(run, Path(args.snap_report))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``riskplan`` (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="riskplan",
        description="Urban safety risk maps and emergency-resource planning on road networks.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="generate the synthetic demo city and run every stage on it")
    demo.add_argument(
        "--out", type=Path, default=Path("demo_output"), help="output folder (default: demo_output)"
    )
    demo.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    demo.add_argument("--nodes", type=int, default=None, help="approximate number of road nodes")
    demo.add_argument(
        "--osm",
        type=Path,
        default=None,
        help="only write the demo city as an OSM file (.osm.pbf or .osm), for `riskplan init`",
    )
    demo.set_defaults(func=_cmd_demo)

    run = sub.add_parser(
        "run", help="run every stage on a scenario: network, coverage, risk, plans, map, report, summary"
    )
    run.add_argument("scenario", type=Path, help="scenario .gpkg or .toml (e.g. from `riskplan init`)")
    run.add_argument("--out", type=Path, required=True, help="output folder")
    run.add_argument("--units", default="communities", help="risk units: communities | h3:RES | grid:METRES")
    run.add_argument(
        "--standard", default=DEFAULT_STANDARD, help=f"response profile (default {DEFAULT_STANDARD})"
    )
    run.add_argument("--model", choices=MODELS, default="mclp", help="station location model (default mclp)")
    run.add_argument("--new", type=int, default=3, help="new stations to propose (default 3)")
    run.add_argument("--days", type=int, default=7, help="days of relief supplies to stock (default 7)")
    run.add_argument("--weights", type=Path, default=None, help="TOML overriding risk_weights.toml")
    run.add_argument("--speeds", type=Path, default=None, help="TOML overriding the road speed table")
    run.add_argument("--max-snap-m", type=float, default=None, help="snap limit: farther places are flagged")
    run.add_argument("--no-cache", action="store_true", help="rebuild the road graph instead of the cache")
    run.set_defaults(func=_cmd_run)

    validate = sub.add_parser("validate", help="check a scenario and list every problem")
    validate.add_argument("scenario", type=Path, help="scenario .gpkg or .toml")
    validate.set_defaults(func=_cmd_validate)

    network = sub.add_parser("network", help="build the routable road network of a scenario")
    network.add_argument("scenario", type=Path, help="scenario .gpkg or .toml")
    network.add_argument("--out", type=Path, required=True, help="output GeoPackage (nodes and edges)")
    network.add_argument("--speeds", type=Path, default=None, help="TOML overriding the road speed table")
    network.add_argument("--max-snap-m", type=float, default=None, help="flag points farther from a road")
    network.add_argument("--snap-report", type=Path, default=None, help="write the snapping table as CSV")
    network.add_argument("--no-cache", action="store_true", help="rebuild instead of using the graph cache")
    network.set_defaults(func=_cmd_network)

    for module in STAGE_COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return int(args.func(args))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except RiskplanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("interrupted; no partial output was kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
