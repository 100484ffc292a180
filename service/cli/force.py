"""``riskplan force``: effective response force per community and special-duty gaps at hazards."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ._console import EXIT_OK

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from gis import load_scenario, scenario_graph
    from gis.atomic import write_gpkg
    from planning.concentration import response_force, special_duty_gaps

    start = time.perf_counter()
    scenario = load_scenario(args.scenario)
    graph = scenario_graph(scenario, cache=not args.no_cache)
    stations = scenario["fire_stations"]
    places = scenario["communities"]
    force = response_force(
        graph, stations, places, station_force=args.station_force, max_snap_m=args.max_snap_m
    )
    keep = [c for c in ("name", "population") if c in places]
    layers = {"communities_force": places[[*keep, "geometry"]].join(force)}
    hazards = scenario.layers.get("hazards")
    if hazards is not None and len(hazards):
        gaps = special_duty_gaps(
            graph, stations, hazards, station_force=args.station_force, max_snap_m=args.max_snap_m
        )
        cols = [c for c in ("name", "category") if c in hazards]
        layers["hazards_special_duty"] = hazards[[*cols, "geometry"]].join(gaps)
    out = write_gpkg(args.out, layers)
    pop = places["population"].astype(float) if "population" in places else None
    print(f"Effective response force at {len(places)} communities:")
    for name, target in force.attrs["targets"].items():
        met = force[f"{name}_met"]
        share = (
            f", {pop[met].sum() / pop.sum():.1%} of the population" if pop is not None and pop.sum() else ""
        )
        print(
            f"  {name}: {int(met.sum())} of {len(met)} get {target['units']} units and {target['crew']} crew "
            f"within {float(target['travel_s']):.0f} s{share}"
        )
    if "hazards_special_duty" in layers:
        g = layers["hazards_special_duty"]
        print(
            f"Special duty: {int(g['needs_special_duty'].sum())} hazards need a special-duty station; "
            f"{int(g['special_duty_gap'].sum())} have none within reach (layer `hazards_special_duty`)"
        )
    print(f"Force written to {Path(out).resolve()} in {time.perf_counter() - start:.1f} s.")
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``force`` subcommand."""
    p = subparsers.add_parser(
        "force",
        help="units and crew reaching each community in time (NFPA 1710 full alarm), special-duty gaps",
    )
    p.add_argument("scenario", type=Path, help="scenario .gpkg or .toml")
    p.add_argument("--out", type=Path, required=True, help="output GeoPackage")
    p.add_argument(
        "--station-force",
        type=Path,
        default=None,
        help="TOML overriding station_force.toml (crew per grade, targets)",
    )
    p.add_argument("--max-snap-m", type=float, default=None, help="snap limit: farther places are flagged")
    p.add_argument("--no-cache", action="store_true", help="rebuild the road graph instead of the cache")
    p.set_defaults(func=_run)
