"""``scenario_from_osm``: a whole scenario from one OSM extract (``riskplan init``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ..crs import local_metric_crs
from ..tables import TableOverrides
from . import area as _area
from . import sites as _sites
from .communities import osm_communities
from .hazards import classify_hazards, hazard_rules
from .reading import drivable_roads, read_extract
from .residents import community_residents
from .writing import write_folder

__all__ = ["ExtractReport", "scenario_from_osm"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExtractReport:
    """What :func:`scenario_from_osm` found, estimated and wrote.

    Attributes
    ----------
    scenario_path, layers_path
        The ``scenario.toml`` and ``layers.gpkg`` written.
    osm_path
        The OSM file read (the scenario's roads).
    counts
        Features per layer written (``0``: the layer is left out of the scenario).
    community_method
        Where the communities come from: ``landuse=residential``, ``place=...``,
        ``admin_level=N`` or ``cells``.
    population_total
        Residents over all communities.
    population_sources
        Communities per ``population_source`` (``census``, ``raster``, ``buildings``, ``density``,
        ``..._scaled``).
    notes
        The sentences written to ``[scenario] notes``: every estimate and every missing layer.
    repaired, dropped
        OSM ids of polygons cut at the edge of the extract that were rebuilt / had to be dropped.
    elapsed_s
        Wall time of the whole build.
    """

    scenario_path: Path
    layers_path: Path
    osm_path: Path
    counts: Mapping[str, int]
    community_method: str
    population_total: float
    population_sources: Mapping[str, int]
    notes: tuple[str, ...]
    repaired: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    elapsed_s: float = 0.0
    timings_s: Mapping[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"Scenario from {self.osm_path.name} written to {self.scenario_path}:"]
        for layer, n in self.counts.items():
            lines.append(f"  {layer:<16} {n:>7,}" + ("" if n else "  (left out)"))
        sources = ", ".join(f"{k} {v}" for k, v in self.population_sources.items())
        lines.append(f"  population       {self.population_total:>9,.0f}  ({sources} communities)")
        lines.append("Notes (also in scenario.toml and in every output):")
        lines += [f"  - {n}" for n in self.notes]
        lines.append(f"Done in {self.elapsed_s:.1f} s. Next: riskplan validate {self.scenario_path}")
        return "\n".join(lines)


def scenario_from_osm(
    path: str | Path,
    out_dir: str | Path,
    *,
    population: str | Path | None = None,
    population_total: float | None = None,
    census: str | Path | None = None,
    census_key: str | None = None,
    stations: str | Path | None = None,
    depots: str | Path | None = None,
    boundary: str | Path | None = None,
    admin_level: int | None = None,
    osm_hazards: TableOverrides = None,
    building_population: TableOverrides = None,
    road_speeds: TableOverrides = None,
    name: str | None = None,
    cell_m: float = 500.0,
    progress: Callable[[str], None] | None = None,
) -> ExtractReport:
    """Build a scenario from an OSM extract: ``out_dir/scenario.toml`` and ``out_dir/layers.gpkg``.

    The roads are the OSM file itself (absolute path in the TOML); every other layer is derived
    from it in one read (see :mod:`gis.extract`) and written to ``layers.gpkg``. Nothing is
    written unless the whole build succeeds.

    Parameters
    ----------
    path
        OSM PBF, XML or ``.osm.bz2`` / ``.osm.gz`` file.
    out_dir
        Folder to write (created when missing; other files in it are kept).
    population
        Population raster (people per pixel: WorldPop, GHS-POP), summed with exact pixel fractions.
    population_total
        Residents of the study area: estimated figures are scaled to match it.
    census, census_key
        Census CSV and its key column (community code or name), joined to the communities.
    stations
        Fire stations file (any format :func:`gis.io.read_layer` reads): replaces OSM's.
    depots
        Relief depots file (OSM maps none).
    boundary
        Study-area polygon file; default: the convex hull of the drivable roads.
    admin_level
        Administrative level to use as communities when the extract has no residential areas.
    osm_hazards
        Overrides of ``gis/data/osm_hazards.toml`` (mapping or TOML path).
    building_population
        Overrides of ``gis/data/building_population.toml``.
    road_speeds
        Overrides of ``gis/data/road_speeds.toml`` (which ``highway`` classes are drivable).
    name
        Scenario name (default: the file name without its suffixes).
    cell_m
        Size of the square cells used as communities when the extract maps none.
    progress
        Called with the name of each stage as it starts (``read``, ``stations``, ``hazards``,
        ``communities``, ``population``, ``sites``, ``write``), for progress bars.

    Returns
    -------
    ExtractReport
        Counts, estimates and notes; ``str(report)`` is what ``riskplan init`` prints.

    Raises
    ------
    InputError
        When the extract has no drivable road, no fire station and no ``stations`` is given,
        or the boundary misses the data (and for unreadable inputs).

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "tiny"
    >>> report = scenario_from_osm("tests/fixtures/tiny_city.osm.xml", out, population_total=5000)
    >>> sorted(p.name for p in out.iterdir()), report.community_method
    (['layers.gpkg', 'scenario.toml'], 'cells')
    >>> round(report.population_total), report.counts["fire_stations"]
    (5000, 1)
    """
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    current: list[tuple[str, float]] = []

    def stage(name: str) -> None:
        now = time.perf_counter()
        if current:
            previous, start = current.pop()
            timings[previous] = round(now - start, 2)
        current.append((name, now))
        if progress is not None and name != "done":
            progress(name)

    osm_path = Path(path)
    rules = hazard_rules(osm_hazards)
    stage("read")
    read = read_extract(osm_path, rules)
    roads = drivable_roads(read["roads"], osm_path, road_speeds=road_speeds)
    crs = local_metric_crs(roads)
    roads_m = roads.to_crs(crs)
    sa, sa_note = _area.study_area(roads_m, boundary=boundary, osm_path=osm_path)
    region = sa.geometry.iloc[0]
    notes = [
        f"Built by `riskplan init` from the OpenStreetMap extract {osm_path.name} "
        "(ODbL, (c) OpenStreetMap contributors); OSM is incomplete: check every layer.",
        sa_note,
    ]
    stage("stations")
    stations_gdf, station_notes = _sites.fire_stations(
        read["fire_stations"], stations=stations, crs=crs, osm_path=osm_path
    )
    notes += station_notes
    layers: dict[str, gpd.GeoDataFrame] = {"fire_stations": stations_gdf}

    stage("hazards")
    hazards = classify_hazards(read["hazards"], osm_hazards=rules)
    hazards = hazards.to_crs(crs)
    hazards = hazards[hazards.intersects(region)]
    hazards = hazards.assign(id=_ids(hazards))[
        ["id", "name", "category", "size_class", "hazard_rule", "footprint_m2", "osm_id", "tags", "geometry"]
    ]
    layers["hazards"] = hazards.reset_index(drop=True)
    if len(hazards):
        mix = _mix(hazards["category"])
        notes.append(
            f"Hazard sources: {len(hazards)} OSM features classified by gis/data/osm_hazards.toml "
            f"({mix}); OSM holds no inventories, so size classes come from footprints."
        )
    else:
        notes.append(
            "No hazard source: no feature of the extract matches gis/data/osm_hazards.toml, so the "
            "`hazards` layer is left out and risk rests on exposure, vulnerability and response."
        )

    stage("communities")
    comm = osm_communities(read, roads_m, region, admin_level=admin_level, cell_m=cell_m)
    notes.append(comm.note)
    polygons = comm.polygons.set_index("id", drop=False)
    stage("population")
    residents = community_residents(
        polygons,
        read["buildings"],
        density_kind=comm.density_kind,
        census=census,
        census_key=census_key,
        raster=population,
        total=population_total,
        building_population=building_population,
    )
    notes += residents.notes
    communities = polygons.assign(population=residents.population, population_source=residents.source)
    for column in residents.extra.columns:
        communities[column] = residents.extra[column]
    layers["communities"] = communities.reset_index(drop=True)

    stage("sites")
    sensitive = _sites.sensitive_sites(read["sensitive"], crs=crs, area=region)
    layers["sensitive_sites"] = sensitive
    if len(sensitive):
        notes.append(f"Sensitive sites: {len(sensitive)} ({_mix(sensitive['kind'])}).")
    else:
        notes.append(
            "No sensitive site (school, hospital, theatre, mall, stadium) in the extract: "
            "the 50 m siting rule is not checked."
        )
    notes.append(
        "No candidate sites layer: the station-planning stage generates candidates along arterial roads."
    )
    if depots is not None:
        depot_gdf, depot_notes = _sites.depots(depots, crs)
        layers["depots"] = depot_gdf
        notes += depot_notes
    else:
        notes.append(
            "No relief depots: OpenStreetMap does not map them; give `--depots FILE` to plan relief supplies."
        )
    layers["study_area"] = sa
    layers["barriers"] = _area.barriers(read["barrier_lines"], read["water"], roads, crs=crs, area=region)
    if read.repaired or read.dropped:
        notes.append(
            f"{len(read.repaired)} polygon(s) cut at the edge of the extract were rebuilt from the "
            f"nodes present {list(read.repaired[:10])}; {len(read.dropped)} had too few nodes left "
            f"and were dropped {list(read.dropped[:10])}."
        )
    stem = osm_path.name.split(".")[0]
    stage("write")
    scenario_path, layers_path = write_folder(
        out_dir,
        layers,
        name=name or stem,
        description=f"Scenario derived from the OpenStreetMap extract {osm_path.name} by `riskplan init`.",
        metric_crs=crs,
        roads_path=osm_path,
        notes=notes,
        # the raster then gives grid and H3 units their residents too, unless a census or a
        # given total overrides what it says
        rasters={"population": Path(population)}
        if population is not None and census is None and population_total is None
        else None,
    )
    stage("done")
    elapsed = time.perf_counter() - t0
    counts = {"roads (drivable ways)": len(roads), **{n: len(g) for n, g in layers.items()}}
    report = ExtractReport(
        scenario_path=scenario_path,
        layers_path=layers_path,
        osm_path=osm_path,
        counts=counts,
        community_method=comm.method,
        population_total=float(communities["population"].sum()),
        population_sources=residents.source.value_counts().to_dict(),
        notes=tuple(notes),
        repaired=read.repaired,
        dropped=read.dropped,
        elapsed_s=round(elapsed, 2),
        timings_s=timings,
    )
    log.info("init %s: %s", osm_path, dict(counts))
    return report


def _mix(values: pd.Series) -> str:
    """``"school 55, hospital 28"``: counts of each value, commonest first."""
    return ", ".join(f"{k} {v}" for k, v in values.value_counts().items())


def _ids(gdf: gpd.GeoDataFrame) -> list[str]:
    prefix = pd.Series(gdf["osm_type"], dtype=object).astype(str).str[0].to_numpy()
    return [f"{p}{i}" for p, i in zip(prefix, np.asarray(gdf["osm_id"]), strict=True)]
