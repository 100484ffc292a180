"""A synthetic demo city, "Demo City (synthetic)", written as a scenario.

:func:`demo_city` builds a deterministic (seeded) mid-size northern Chinese city of about
15 x 15 km and 1 million people: an arterial grid, a ring expressway with interchanges at the
primary arterials, a river crossed by four bridges (two on arterials, two on the ring), a
railway, a dense old town, newer districts, an industrial park with chemical plants and
storage on the downwind (south-east) side, hills with mines at the west edge, about 150
communities with census attributes, 200+ hazard sources, 6 fire stations that leave the east
bank and the mining area badly covered, 3 relief depots, candidate sites, sensitive sites and
a year of synthetic incidents. :func:`write_demo_scenario` writes it to one GeoPackage.

Nothing in it is real: every layer has ``gdf.attrs["synthetic"] = True`` and a ``source``
column saying so, and the GeoPackage has a ``metadata`` table. The parameters (sizes, zone
densities, hazard mix, GB 18218-2018 critical quantities, ...) live in
``gis/data/demo_city.toml``, documented there.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from ..errors import InputError
from ..scenario import write_scenario
from ..schema import DEPOT_TIERS, HAZARD_CATEGORIES, LAYERS, SENSITIVE_KINDS, STATION_GRADES
from ..tables import TableOverrides, load_table
from ..validate import index_by_id
from ._hazards import build_candidate_sites, build_depots, build_fire_stations, build_hazards
from ._layout import ZONES, Grid, make_layout
from ._people import build_communities, build_incidents, build_sensitive_sites
from ._roads import build_roads

__all__ = ["demo_city", "load_demo_params", "write_demo_osm", "write_demo_scenario"]

logger = logging.getLogger(__name__)

_NEAR = frozenset({"", "arterials", "mine_roads", "industrial", "ring", "edge"})

# Sub-streams of the seed, one per component, so that changing one part of the parameters
# does not reshuffle the others.
_STREAM = {
    "layout": 1,
    "hazards": 3,
    "communities": 4,
    "sensitive": 5,
    "depots": 6,
    "candidates": 7,
    "incidents": 8,
    "natural": 9,
}


def load_demo_params(demo_params: TableOverrides = None) -> dict[str, Any]:
    """Return the demo-city parameters: the shipped table merged with ``demo_params``.

    Parameters
    ----------
    demo_params
        Overrides of ``gis/data/demo_city.toml``: the entries to change, as a mapping or the
        path of a TOML file holding them; see that file for every entry and its meaning.

    Returns
    -------
    dict
        A fresh copy of the checked parameters.

    Examples
    --------
    >>> p = load_demo_params({"city": {"population_total": 500000}})
    >>> p["city"]["population_total"], p["city"]["name"]
    (500000, 'Demo City (synthetic)')
    """
    p = load_table("demo_city", demo_params)
    _check_params(p)
    return p


def _check_params(p: Mapping[str, Any]) -> None:
    def fail(what: str, fix: str) -> None:
        msg = f"Demo-city parameters: {what}. Fix: {fix}"
        raise InputError(msg)

    for section in (
        "city",
        "river",
        "ring",
        "railway",
        "hills",
        "old_town",
        "industrial_park",
        "roads",
        "zones",
        "communities",
        "hazards",
        "fire_stations",
        "depots",
        "candidate_sites",
        "sensitive_sites",
        "incidents",
        "critical_quantities_t",
    ):
        if section not in p:
            fail(f"section `[{section}]` is missing", "start from `gis/data/demo_city.toml`.")
    for zone in p["zones"]:
        if zone not in ZONES:
            fail(f"unknown zone `[zones.{zone}]`", f"use one of {', '.join(ZONES[1:])}.")
    for cat, spec in p["hazards"]["categories"].items():
        if cat not in HAZARD_CATEGORIES:
            fail(f"unknown hazard category `{cat}`", f"use one of {', '.join(HAZARD_CATEGORIES)}.")
        bad = sorted(set(spec.get("zones", [])) - set(ZONES[1:]))
        if bad:
            fail(f"hazard category `{cat}` has unknown zones {bad}", f"use {', '.join(ZONES[1:])}.")
        if spec.get("near", "") not in _NEAR:
            fail(f"hazard category `{cat}` has `near` = `{spec['near']}`", f"use one of {sorted(_NEAR)}.")
    for kind in p["sensitive_sites"]:
        if kind != "labels" and kind not in SENSITIVE_KINDS:
            fail(f"unknown sensitive-site kind `{kind}`", f"use one of {', '.join(SENSITIVE_KINDS)}.")
    for s in p["fire_stations"]:
        if s["grade"] not in STATION_GRADES:
            fail(
                f"fire station `{s['name']}` has grade `{s['grade']}`",
                f"use one of {', '.join(STATION_GRADES)}.",
            )
    for s in p["depots"]["sites"]:
        if s["tier"] not in DEPOT_TIERS:
            fail(f"depot `{s['name']}` has tier `{s['tier']}`", f"use one of {', '.join(DEPOT_TIERS)}.")
    crs = pyproj.CRS.from_user_input(p["city"]["crs"])
    if not crs.is_projected:
        fail(f"`city.crs` = `{p['city']['crs']}` is not projected", "use a UTM zone, e.g. EPSG:32649.")


def _node_target(n_road_nodes: int | None, p: Mapping[str, Any]) -> int:
    r = p["roads"]
    n = int(r["n_road_nodes"]) if n_road_nodes is None else n_road_nodes
    lo, hi = int(r["min_road_nodes"]), int(r["max_road_nodes"])
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not lo <= n <= hi:
        msg = (
            f"`n_road_nodes` = {n_road_nodes!r} is out of range. Fix: pass an integer from {lo} "
            f"to {hi} (the city stays 15 x 15 km; more nodes make the local streets denser)."
        )
        raise InputError(msg)
    return int(n)


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        msg = f"`seed` = {seed!r} must be a non-negative integer. Fix: pass e.g. `seed=42`."
        raise InputError(msg)
    return int(seed)


def _rng(seed: int, stream: str) -> np.random.Generator:
    return np.random.default_rng([seed, _STREAM[stream]])


def city_offset(p: Mapping[str, Any], layout: Any) -> tuple[float, float]:
    """Where the layout's local origin lies in the city's CRS (its centre on ``centre_lon/lat``)."""
    city = p["city"]
    to_crs = pyproj.Transformer.from_crs(4326, pyproj.CRS.from_user_input(city["crs"]), always_xy=True)
    east, north = to_crs.transform(float(city["centre_lon"]), float(city["centre_lat"]))
    return float(round(east - layout.width / 2)), float(round(north - layout.height / 2))


def demo_city(
    *,
    seed: int = 42,
    n_road_nodes: int | None = None,
    demo_params: TableOverrides = None,
) -> dict[str, gpd.GeoDataFrame]:
    """Generate the synthetic demo city as scenario layers.

    Parameters
    ----------
    seed
        Random seed; the same seed and parameters give identical layers.
    n_road_nodes
        Wanted number of road-graph nodes (intersections and dead ends), met within a few
        percent; None takes ``roads.n_road_nodes`` (30 000). The city keeps its size: more
        nodes make the local streets denser. Up to 2 million.
    demo_params
        Overrides of the parameters (``gis/data/demo_city.toml``), see :func:`load_demo_params`.

    Returns
    -------
    dict of str to GeoDataFrame
        One GeoDataFrame per layer of :data:`gis.schema.LAYERS`, in that order, all in
        ``city.crs`` (EPSG:32649), each with ``attrs["synthetic"] = True`` and a ``source``
        column. Layers with ids are indexed by them as :func:`gis.load_scenario` indexes a
        loaded layer (:func:`gis.validate.index_by_id`: index = ``id``, the column kept).

    Raises
    ------
    InputError
        For a bad seed, size or parameter.

    Examples
    --------
    >>> layers = demo_city(n_road_nodes=3000)
    >>> list(layers)[:3]
    ['roads', 'hazards', 'communities']
    >>> int(layers["communities"]["population"].sum()), len(layers["fire_stations"])
    (1000000, 6)
    >>> layers["hazards"].attrs["synthetic"], layers["hazards"].crs.to_epsg()
    (True, 32649)
    """
    p = load_demo_params(demo_params)
    seed = _check_seed(seed)
    target = _node_target(n_road_nodes, p)
    t0 = time.perf_counter()
    layout = make_layout(p, _rng(seed, "layout"))
    grid = Grid.build(layout, float(p["communities"]["grid_spacing_m"]))
    net = build_roads(layout, p, target, seed)
    hazards = build_hazards(layout, grid, net, p, _rng(seed, "hazards"))
    pop = build_communities(layout, grid, p, _rng(seed, "communities"))
    sensitive = build_sensitive_sites(layout, grid, pop, p, _rng(seed, "sensitive"))
    stations = build_fire_stations(net, p)
    city = p["city"]
    layers = {
        "roads": net.roads,
        "hazards": hazards,
        "communities": pop.communities,
        "fire_stations": stations,
        "depots": build_depots(net, p, _rng(seed, "depots")),
        "candidate_sites": build_candidate_sites(
            net, hazards, sensitive, stations, p=p, rng=_rng(seed, "candidates")
        ),
        "sensitive_sites": sensitive,
        "incidents": build_incidents(layout, grid, pop, hazards, p=p, rng=_rng(seed, "incidents")),
        "study_area": gpd.GeoDataFrame({"name": [city["name"]]}, geometry=[layout.study_area()]),
        "barriers": gpd.GeoDataFrame(
            {
                "kind": ["river", "expressway", "railway"],
                "name": [p["river"]["name"], p["ring"]["name"], p["railway"]["name"]],
            },
            geometry=[layout.river_polygon(), layout.ring_line(), layout.railway_line()],
        ),
    }
    crs = pyproj.CRS.from_user_input(city["crs"])
    offset = np.array(city_offset(p, layout), dtype=float)
    decimals = int(city["coordinate_decimals"])
    out = {}
    for name in LAYERS:
        local = layers[name].reset_index(drop=True)
        geoms = shapely.transform(local.geometry.to_numpy(), lambda c: np.round(c + offset, decimals))
        data = local.drop(columns=local.geometry.name)
        data["source"] = str(city["source"])
        gdf = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms, crs=crs))
        if LAYERS[name].has_ids:
            gdf = index_by_id(gdf)
        gdf.attrs.update(synthetic=True, name=str(city["name"]), seed=seed)
        out[name] = gdf
    logger.info(
        "%s: %d road lines, %d hazards, %d communities, %d incidents in %.1f s",
        city["name"],
        len(out["roads"]),
        len(out["hazards"]),
        len(out["communities"]),
        len(out["incidents"]),
        time.perf_counter() - t0,
    )
    return out


def generator_metadata(
    p: Mapping[str, Any], seed: int, n_road_nodes: int | None, *, kind: str, description: str
) -> dict[str, str]:
    """The ``metadata`` table of a generated scenario: synthetic, generator, seed, parameters' hash.

    ``kind`` is the parameter table's section (``city`` or ``province``), which holds the name,
    the generator version and the CRS.
    """
    section = p[kind]
    digest = hashlib.sha256(json.dumps(p, sort_keys=True, default=str).encode()).hexdigest()
    return {
        "name": section["name"],
        "synthetic": "true",
        "description": description,
        "generator": f"gis.demo.demo_{kind} (riskplan)",
        "generator_version": str(section["generator_version"]),
        "seed": str(seed),
        "n_road_nodes": str(n_road_nodes if n_road_nodes is not None else p["roads"]["n_road_nodes"]),
        "crs": str(section["crs"]),
        "metric_crs": str(section["crs"]),
        "params_sha256": digest,
    }


def _metadata(p: Mapping[str, Any], seed: int, n_road_nodes: int | None) -> dict[str, str]:
    return generator_metadata(
        p,
        seed,
        n_road_nodes,
        kind="city",
        description="Synthetic demo data generated by riskplan; not a real place.",
    )


def write_demo_scenario(
    path: str | Path,
    *,
    seed: int = 42,
    n_road_nodes: int | None = None,
    demo_params: TableOverrides = None,
) -> Path:
    """Generate the demo city and write it to one GeoPackage, atomically.

    Every layer of :func:`demo_city` becomes a GeoPackage layer of the same name; a
    non-spatial ``metadata`` table holds key / value rows (name, ``synthetic = true``, seed,
    generator version, CRS, a hash of the parameters), which :func:`gis.scenario.load_scenario`
    reads back. The file is written next to ``path`` under a temporary name and moved into
    place only when complete (:func:`gis.scenario.write_scenario`), so a failure leaves no
    partial file and keeps an older file intact.

    Parameters
    ----------
    path
        The GeoPackage to write (replaced if it exists).
    seed, n_road_nodes, demo_params
        As for :func:`demo_city`.

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> import tempfile, pyogrio
    >>> with tempfile.TemporaryDirectory() as d:
    ...     gpkg = write_demo_scenario(Path(d) / "demo.gpkg", n_road_nodes=3000)
    ...     meta = pyogrio.read_dataframe(gpkg, layer="metadata")
    ...     [str(n) for n, _ in pyogrio.list_layers(gpkg)][-2:]
    ['incidents', 'metadata']
    >>> dict(zip(meta["key"], meta["value"]))["synthetic"]
    'true'
    """
    p = load_demo_params(demo_params)
    layers = demo_city(seed=seed, n_road_nodes=n_road_nodes, demo_params=p)
    path = write_scenario(layers, path, metadata=_metadata(p, seed, n_road_nodes))
    logger.info("wrote %s (%d layers + metadata)", path, len(layers))
    return path


def write_demo_osm(
    path: str | Path,
    *,
    seed: int = 42,
    n_road_nodes: int | None = None,
    demo_params: TableOverrides = None,
    n_buildings: int | None = None,
) -> Path:
    """Generate the demo city and write it as an OpenStreetMap file, atomically, in WGS84.

    The file holds what a real OSM extract holds, with common OSM tags, so that OSM readers
    and ``riskplan init`` can be tried on it at any size: roads as ways that share nodes where
    the road lines share vertices (so :func:`gis.network.graph_from_file` on the file gives the
    graph :func:`gis.network.graph_from_lines` gives on the ``roads`` layer), fire stations,
    hazard sources, residential areas (without population, as in OSM), a few residential
    buildings with ``building:levels``, sensitive sites, the river and the railway. The tag
    of each layer is listed in :mod:`gis.demo._osm`. Depots, candidate sites and incidents
    are not written (OSM has none). The header's ``generator`` and the ``description`` of a
    ``place=city`` node (which has the city's ``population``, as OSM place nodes do) say that
    the data is synthetic; XML files carry ``upload="false"``.
    The same arguments give a byte-identical file.

    Parameters
    ----------
    path
        The file to write (replaced if it exists): PBF for ``.pbf`` / ``.osm.pbf``, XML for
        ``.osm`` / ``.osm.xml``, compressed XML for ``.osm.bz2`` / ``.osm.gz``.
    seed, n_road_nodes, demo_params
        As for :func:`demo_city`.
    n_buildings
        Residential building footprints to add in a few communities; None: up to 2,000
        (a fixed cap, whatever the size of the city), 0: none.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputError
        For a bad seed, size, parameter, building count or file name ending.

    Examples
    --------
    >>> import tempfile
    >>> from gis.osm import read_osm_features
    >>> with tempfile.TemporaryDirectory() as d:
    ...     pbf = write_demo_osm(Path(d) / "demo.osm.pbf", n_road_nodes=3000)
    ...     stations = read_osm_features(pbf, {"amenity": "fire_station"})
    >>> len(stations), sorted(set(stations.osm_type))
    (6, ['node', 'relation', 'way'])
    """
    from ._osm import osm_write_format, write_city_osm

    osm_write_format(path)  # a bad file name fails before the city is generated
    p = load_demo_params(demo_params)
    seed = _check_seed(seed)
    layers = demo_city(seed=seed, n_road_nodes=n_road_nodes, demo_params=p)
    meta = _metadata(p, seed, n_road_nodes)
    generator = (
        f"riskplan demo city (gis.demo.write_demo_osm) v{meta['generator_version']}: SYNTHETIC data, "
        f"not a real place (seed {seed}, {meta['n_road_nodes']} road nodes)"
    )
    place = {
        "name": meta["name"],
        "description": meta["description"],
        "population": str(int(layers["communities"]["population"].sum())),
        "source": str(p["city"]["source"]),
    }
    path = write_city_osm(layers, path, generator=generator, place=place, n_buildings=n_buildings, seed=seed)
    logger.info("wrote %s (synthetic demo city as OSM)", path)
    return path
