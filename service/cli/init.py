"""``riskplan init``: a scenario folder from any OpenStreetMap extract (offline)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ._console import EXIT_OK, Stages, add_lang_option, cli_lang, say

if TYPE_CHECKING:
    from gis.extract import ExtractReport
    from gis.i18n import Lang

__all__ = ["init_report", "register"]

_STAGES = ("read", "stations", "hazards", "communities", "population", "sites", "write")


def _run(args: argparse.Namespace) -> int:
    from gis.extract import scenario_from_osm
    from maps.qgis_styles import write_qgis_styles

    progress = Stages(len(_STAGES), quiet=args.quiet)
    try:
        report = scenario_from_osm(
            args.osm,
            args.out,
            population=args.population,
            population_total=args.population_total,
            census=args.census,
            census_key=args.census_key,
            stations=args.stations,
            depots=args.depots,
            boundary=args.boundary,
            admin_level=args.admin_level,
            osm_hazards=args.osm_hazards,
            name=args.name,
            progress=progress,
        )
    finally:
        progress.close()
    write_qgis_styles(report.layers_path)
    lang = cli_lang(args, bounds_wgs84=_layers_bounds(report.layers_path))
    print(report if lang == "en" else init_report(report, lang))
    return EXIT_OK


def _layers_bounds(path: Path) -> tuple[float, float, float, float] | None:
    """The study area's extent in degrees, from the GeoPackage's metadata (no features read)."""
    import pyogrio
    from pyogrio.errors import DataLayerError
    from pyproj import Transformer

    for layer in ("study_area", "communities"):
        try:
            info = pyogrio.read_info(path, layer=layer)
        except DataLayerError:  # a layer left out: try the next one
            continue
        if info.get("crs") is None or info.get("total_bounds") is None:
            continue
        west, south, east, north = (float(v) for v in info["total_bounds"])
        to_degrees = Transformer.from_crs(info["crs"], 4326, always_xy=True)
        x, y = to_degrees.transform([west, east], [south, north])
        return (float(x[0]), float(y[0]), float(x[1]), float(y[1]))
    return None


def init_report(report: ExtractReport, lang: Lang) -> str:
    """What ``riskplan init`` found and estimated (:class:`gis.extract.ExtractReport`), in ``lang``."""
    lines = [say("init_head", lang, osm=report.osm_path.name, path=report.scenario_path)]
    for layer, n in report.counts.items():
        lines.append(f"  {layer:<16} {n:>7,}" + ("" if n else say("init_left_out", lang)))
    sources = ", ".join(f"{k} {v}" for k, v in report.population_sources.items())
    lines.append(say("init_population", lang, total=f"{report.population_total:>9,.0f}", sources=sources))
    lines.append(say("init_notes", lang))
    lines += [f"  - {n}" for n in report.notes]
    lines.append(say("init_done", lang, seconds=f"{report.elapsed_s:.1f}", path=report.scenario_path))
    return "\n".join(lines)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``init`` subcommand."""
    p = subparsers.add_parser(
        "init",
        help="write a scenario (scenario.toml + layers.gpkg) from an OpenStreetMap extract",
        description=(
            "Derive every scenario layer from an OSM extract (PBF, XML, .osm.bz2): fire stations, "
            "hazard sources (gis/data/osm_hazards.toml), communities with an estimated population, "
            "sensitive sites, study area and barriers. Roads stay in the OSM file. Prints what it "
            "found and what it estimated; the notes go into scenario.toml and every output."
        ),
    )
    p.add_argument("osm", type=Path, help="OSM extract: .osm.pbf, .osm, .osm.bz2, .osm.gz")
    p.add_argument("--out", type=Path, required=True, help="output folder (scenario.toml, layers.gpkg)")
    p.add_argument(
        "--population", type=Path, default=None, help="population raster, people per pixel (GeoTIFF)"
    )
    p.add_argument(
        "--population-total",
        type=float,
        default=None,
        help="residents of the study area: estimates are scaled to it",
    )
    p.add_argument("--census", type=Path, default=None, help="census CSV, one row per community")
    p.add_argument("--census-key", default=None, help="census column with the community code or name")
    p.add_argument("--stations", type=Path, default=None, help="fire stations file (replaces OSM's)")
    p.add_argument("--depots", type=Path, default=None, help="relief depots file (OSM maps none)")
    p.add_argument(
        "--boundary", type=Path, default=None, help="study-area polygon file (default: roads' hull)"
    )
    p.add_argument(
        "--admin-level", type=int, default=None, help="admin_level of the boundaries used as communities"
    )
    p.add_argument("--osm-hazards", type=Path, default=None, help="TOML overriding gis/data/osm_hazards.toml")
    p.add_argument("--name", default=None, help="scenario name (default: the file name)")
    add_lang_option(p)
    p.set_defaults(func=_run)
