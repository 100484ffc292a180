"""``riskplan tiles``: a risk layer, or a scenario's roads, as one PMTiles file (vector tiles).

``--layer risk`` tiles the scored risk units (a run's risk.gpkg, or a scenario scored here);
``--layer roads`` the scenario's road graph (:class:`maps.RoadTileSource`: minor classes only
at street zooms, lines simplified per zoom), the same tiles the web service serves.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ._console import EXIT_OK, add_lang_option, cli_lang, say

if TYPE_CHECKING:
    import maps
    from gis import Scenario

__all__ = ["register"]

RISK_LAYER = "risk_units"  # the layer of risk.gpkg (risk_models.RiskResult.write)


def _risk_units(args: argparse.Namespace) -> tuple[object, str]:
    """The scored risk units of ``args.source`` and what they are: a run, a risk.gpkg or a scenario."""
    import pyogrio

    from gis import InputError

    source: Path = args.source
    risk_gpkg = source / "risk.gpkg" if source.is_dir() else source
    if source.is_dir() and not risk_gpkg.exists():
        msg = (
            f"`{source}` is a directory without risk.gpkg. Fix: give the output directory of `riskplan run`."
        )
        raise InputError(msg)
    if risk_gpkg.suffix == ".gpkg" and risk_gpkg.exists():
        layers = {str(name) for name in pyogrio.list_layers(risk_gpkg)[:, 0]}
        if RISK_LAYER in layers:
            import geopandas as gpd

            units = gpd.read_file(risk_gpkg, layer=RISK_LAYER)
            if "id" in units.columns:
                units = units.set_index("id")
            return units, f"{risk_gpkg} (layer {RISK_LAYER})"
    from gis import load_scenario

    from ..workflow import assess

    scenario = load_scenario(source)
    _, risk = assess(scenario, units=args.units, standard=args.standard, learn=False)
    return risk.units, f"{scenario.label} scored on {args.units}"


def _roads(args: argparse.Namespace) -> tuple[maps.RoadTileSource, Scenario]:
    """The road tiles of the scenario ``args.source`` (a scenario .gpkg / .toml), and the scenario."""
    import maps
    from gis import InputError, load_scenario, scenario_graph

    if args.source.is_dir():
        msg = f"`{args.source}` is a directory. Fix: give the scenario (.gpkg or .toml) whose roads to tile."
        raise InputError(msg)
    scenario = load_scenario(args.source)
    return maps.RoadTileSource(scenario_graph(scenario), name="roads"), scenario


def _run(args: argparse.Namespace) -> int:
    import maps

    start = time.perf_counter()
    if args.layer == "roads":
        roads, scenario = _roads(args)
        done = maps.write_pmtiles(
            roads,
            args.out,
            min_zoom=args.min_zoom,
            max_zoom=args.max_zoom,
            max_tiles=args.max_tiles,
            description=f"riskplan road network: {scenario.label}",
        )
        lang = cli_lang(args, scenario)
        print(
            say(
                "tiles_roads_written",
                lang,
                tiles=f"{done['tiles']:,}",
                low=done["min_zoom"],
                high=done["max_zoom"],
                roads=f"{len(roads):,}",
                scenario=scenario.label,
                path=Path(args.out).resolve(),
                mb=f"{done['bytes'] / 1e6:.1f}",
                seconds=f"{time.perf_counter() - start:.1f}",
            )
        )
        return EXIT_OK
    units, what = _risk_units(args)
    columns = [c for c in maps.RISK_TILE_COLUMNS if c in units.columns]  # type: ignore[attr-defined]
    source = maps.TileSource(
        units,
        name=args.layer,
        columns=columns,
        rank_by="score" if "score" in columns else None,
    )
    done = maps.write_pmtiles(
        source,
        args.out,
        min_zoom=args.min_zoom,
        max_zoom=args.max_zoom,
        max_tiles=args.max_tiles,
        description=f"riskplan risk levels: {what}",
    )
    print(
        f"{done['tiles']:,} tiles (zooms {done['min_zoom']}..{done['max_zoom']}) of {len(source):,} units "
        f"from {what} written to {Path(args.out).resolve()} ({done['bytes'] / 1e6:.1f} MB) "
        f"in {time.perf_counter() - start:.1f} s."
    )
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``tiles`` subcommand."""
    from planning.names import DEFAULT_STANDARD

    p = subparsers.add_parser("tiles", help="a risk layer or the roads as one PMTiles file of vector tiles")
    p.add_argument(
        "source",
        type=Path,
        help="a run's output directory or its risk.gpkg (scored), or a scenario .gpkg / .toml (scored here)",
    )
    p.add_argument(
        "--layer",
        default="risk",
        choices=["risk", "roads"],
        help="the layer to tile: risk (default) or roads (a scenario's road graph)",
    )
    p.add_argument("--out", type=Path, required=True, help="the .pmtiles file to write")
    p.add_argument(
        "--units", default="communities", help="for a scenario: communities | h3:RES | grid:METRES"
    )
    p.add_argument("--standard", default=DEFAULT_STANDARD, help="for a scenario: the response standard")
    p.add_argument("--min-zoom", type=int, default=0, help="the shallowest zoom written (default 0)")
    p.add_argument(
        "--max-zoom", type=int, default=None, help="the deepest zoom (default: units about 16 px wide)"
    )
    p.add_argument("--max-tiles", type=int, default=200_000, help="refuse an export over this many tiles")
    add_lang_option(p)
    p.set_defaults(func=_run)
