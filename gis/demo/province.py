"""A synthetic demo province, "Demo Province (synthetic)", written as a scenario.

:func:`demo_province` builds a deterministic (seeded) Shanxi-like province of 200 x 250 km and
30 million people: 10 cities of different sizes (the demo city generator,
:func:`gis.demo.demo_city`, scaled and placed), about 40 county towns, 330 townships and 5,000
villages with their own streets, national and provincial roads, county and village roads
between them, winding roads in two mountain ranges, expressways between the cities, four
coalfields with about 440 mines, six chemical parks, a few hundred fire stations and relief
depots of every tier (province, city, county, township). All cities' roads and the country
roads form one strongly connected network of about 3 million nodes by default.
:func:`write_demo_province` writes it as a scenario folder (``scenario.toml`` and
``demo_province.gpkg``) for ``riskplan validate`` and ``riskplan run``.

The layers are those of :func:`gis.demo.demo_city` plus ``cities``: the territory of each
city (prefecture-level, as in China: the counties around a city belong to it), so that later
stages can plan per city; features carry the ``city`` they lie in. Nothing in it is real:
every layer has ``gdf.attrs["synthetic"] = True`` and a ``source`` column saying so, and the
GeoPackage has a ``metadata`` table. The parameters live in ``gis/data/demo_province.toml``,
documented there; the cities' own in ``gis/data/demo_city.toml``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely

from ..errors import InputError
from ..schema import DEPOT_TIERS, LAYERS, STATION_GRADES
from ..tables import TableOverrides, load_table
from ._province_assemble import assemble, rural_roads_frame
from ._province_cities import CityResult, build_city, city_params, extra_station_sites
from ._province_files import province_summary
from ._province_people import (
    build_rural_communities,
    build_rural_incidents,
    build_rural_sensitive_sites,
    city_of,
    territories,
)
from ._province_places import CLASSES, TIERS, make_places
from ._province_resources import build_rural_hazards, build_rural_resources
from ._province_streets import countryside_streets
from .city import _check_seed, generator_metadata, load_demo_params

__all__ = [
    "LAYER_NAMES",
    "demo_province",
    "load_province_params",
    "province_summary",
    "write_demo_province",
    "write_demo_province_osm",
]

logger = logging.getLogger(__name__)

#: The layers of :func:`demo_province`: the scenario layers, then ``cities``.
LAYER_NAMES: tuple[str, ...] = (*LAYERS, "cities")
CITY_TIERS: tuple[str, ...] = ("capital", "prefecture")

# Sub-streams of the seed, one per component (as in gis.demo.city).
_STREAM = {
    "places": 1,
    "roads": 2,
    "lattices": 3,
    "communities": 4,
    "hazards": 5,
    "resources": 6,
    "sensitive": 7,
    "incidents": 8,
    "stations": 9,
    "maxspeed": 10,
}


def _rng(seed: int, stream: str) -> np.random.Generator:
    return np.random.default_rng([seed, 1000 + _STREAM[stream]])


def load_province_params(province_params: TableOverrides = None) -> dict[str, Any]:
    """Return the demo-province parameters: the shipped table merged with ``province_params``.

    Parameters
    ----------
    province_params
        Overrides of ``gis/data/demo_province.toml``: the entries to change, as a mapping or
        the path of a TOML file holding them; see that file for every entry and its meaning.

    Returns
    -------
    dict
        A fresh copy of the checked parameters.

    Examples
    --------
    >>> p = load_province_params({"province": {"population_total": 25_000_000}})
    >>> p["province"]["population_total"], len(p["cities"]), p["province"]["width_km"]
    (25000000, 10, 200.0)
    """
    p = load_table("demo_province", province_params)
    _check_params(p)
    return p


def _check_params(p: Mapping[str, Any]) -> None:
    def fail(what: str, fix: str) -> None:
        msg = f"Demo-province parameters: {what}. Fix: {fix}"
        raise InputError(msg)

    for section in ("province", "roads", "cities", "city_scaling", *TIERS[:3], "census", "hazards", "depots"):
        if section not in p:
            fail(f"section `[{section}]` is missing", "start from `gis/data/demo_province.toml`.")
    prov = p["province"]
    width, height = float(prov["width_km"]), float(prov["height_km"])
    names = [str(c["name"]) for c in p["cities"]]
    if not names or len(set(names)) != len(names):
        fail(f"city names {names} are empty or repeated", "give every `[[cities]]` entry its own `name`.")
    squares = []
    for c in p["cities"]:
        if c.get("tier") not in CITY_TIERS:
            fail(f"city `{c['name']}` has tier `{c.get('tier')}`", f"use one of {', '.join(CITY_TIERS)}.")
        half = float(c["size_km"]) / 2
        cx, cy = (float(v) for v in c["centre_km"])
        if not (half <= cx <= width - half and half <= cy <= height - half):
            fail(f"city `{c['name']}` does not fit in the province", "move `centre_km` or shrink `size_km`.")
        squares.append(shapely.box(cx - half, cy - half, cx + half, cy + half))
        if int(c["fire_stations"]) < len(load_demo_params()["fire_stations"]):
            fail(f"city `{c['name']}` has fewer fire stations than the demo city's", "raise `fire_stations`.")
    tree = shapely.STRtree(squares)
    left, right = tree.query(squares, predicate="intersects")
    if (left != right).any():
        k = int(left[left != right][0])
        fail(f"city `{names[k]}` overlaps another city", "move the cities apart (`centre_km`).")
    for key in TIERS[:3]:
        spec = p[key]
        gap = (1.0 - 2.0 * float(spec["jitter"])) * float(spec["spacing_km"]) * 1000.0
        if gap <= float(spec["side_m"][1]) * 2**0.5:
            fail(f"places of `[{key}]` could overlap", "lower `jitter` or `side_m`, or raise `spacing_km`.")
        for cls in ("main_class", "other_class"):
            if spec[cls] not in CLASSES:
                fail(f"`{key}.{cls}` = `{spec[cls]}`", f"use one of {', '.join(CLASSES)}.")
    for d in p["depots"]:
        if d["tier"] not in DEPOT_TIERS:
            fail(f"depot `{d['name']}` has tier `{d['tier']}`", f"use one of {', '.join(DEPOT_TIERS)}.")
    grades = [*p["county_towns"]["fire_stations"], p["townships"]["fire_station_grade"]]
    grades += [
        p["hazards"]["parks_lattice"]["fire_station_grade"],
        *p["city_scaling"]["extra_station_grades"],
    ]
    bad = sorted(set(grades) - set(STATION_GRADES))
    if bad:
        fail(f"unknown fire-station grades {bad}", f"use {', '.join(STATION_GRADES)}.")
    left_over = int(prov["population_total"]) - sum(int(c["population"]) for c in p["cities"])
    left_over -= int(p["county_towns"]["population_total"]) + int(p["townships"]["population_total"])
    if left_over <= 0:
        fail("the cities, county towns and townships hold the whole population", "lower their populations.")
    if not pyproj.CRS.from_user_input(prov["crs"]).is_projected:
        fail(f"`province.crs` = `{prov['crs']}` is not projected", "use a UTM zone, e.g. EPSG:32649.")


def _node_target(n_road_nodes: int | None, p: Mapping[str, Any]) -> int:
    r = p["roads"]
    n = int(r["n_road_nodes"]) if n_road_nodes is None else n_road_nodes
    lo, hi = int(r["min_road_nodes"]), int(r["max_road_nodes"])
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not lo <= n <= hi:
        msg = (
            f"`n_road_nodes` = {n_road_nodes!r} is out of range. Fix: pass an integer from {lo} to {hi} "
            "(the province keeps its size: more nodes make the streets of cities and places denser)."
        )
        raise InputError(msg)
    return int(n)


def _origin(p: Mapping[str, Any]) -> tuple[float, float]:
    prov = p["province"]
    to_utm = pyproj.Transformer.from_crs(4326, prov["crs"], always_xy=True)
    east, north = to_utm.transform(float(prov["centre_lon"]), float(prov["centre_lat"]))
    return (
        float(round(east - float(prov["width_km"]) * 500.0)),
        float(round(north - float(prov["height_km"]) * 500.0)),
    )


def _city_seed(seed: int, k: int) -> int:
    return int(np.random.SeedSequence([seed, 100 + k]).generate_state(1)[0])


def demo_province(
    *,
    seed: int = 42,
    n_road_nodes: int | None = None,
    province_params: TableOverrides = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, gpd.GeoDataFrame]:
    """Generate the synthetic demo province as scenario layers plus a ``cities`` layer.

    Parameters
    ----------
    seed
        Random seed; the same seed and parameters give identical layers.
    n_road_nodes
        Wanted number of road-graph nodes of the whole province, met within a few percent
        from about 100,000 on; None takes ``roads.n_road_nodes`` (3 million). The province keeps
        its size: more nodes make the streets denser. From 50,000 to 6 million.
    province_params
        Overrides of the parameters (``gis/data/demo_province.toml``), see
        :func:`load_province_params`; its optional ``demo_params`` entry overrides
        ``gis/data/demo_city.toml`` for every city, a city's own ``demo_params`` that city only.
    progress
        Called with the name of each stage as it starts (the command line's progress bar).

    Returns
    -------
    dict of str to GeoDataFrame
        The layers of :data:`LAYER_NAMES` in that order: those of :func:`gis.demo.demo_city`
        (the roads of every city and of the country in one network; every point and polygon
        layer with a ``city`` column, the territory it lies in, and the roads with the territory
        holding the largest part of their length) and ``cities`` (id, name,
        tier, population, urban_population, area_km2, urban_area_km2: the territory of each
        city). All in ``province.crs`` (EPSG:32649), each with ``attrs["synthetic"] = True``
        and a ``source`` column, layers with ids indexed by them
        (:func:`gis.validate.index_by_id`).

    Raises
    ------
    InputError
        For a bad seed, size or parameter.

    Examples
    --------
    >>> layers = demo_province(n_road_nodes=30_000)
    >>> list(layers)[-2:], len(layers["cities"])
    (['incidents', 'cities'], 10)
    >>> int(layers["communities"]["population"].sum())
    30000000
    >>> sorted(set(layers["depots"]["tier"]))
    ['city', 'county', 'province', 'township']
    >>> layers["roads"].attrs["synthetic"], layers["roads"].crs.to_epsg()
    (True, 32649)
    """
    pp = load_province_params(province_params)
    seed = _check_seed(seed)
    target = _node_target(n_road_nodes, pp)
    step = progress or (lambda _name: None)
    t0 = time.perf_counter()
    origin = _origin(pp)
    demo = load_demo_params(pp.get("demo_params"))
    r = pp["roads"]

    step("cities")
    cities: list[CityResult] = []
    for k, spec in enumerate(pp["cities"]):
        n_city = max(int(r["min_city_nodes"]), round(float(spec["road_node_share"]) * target))
        cp = city_params(demo, spec, pp)
        cities.append(
            build_city(spec, cp, origin=origin, n_road_nodes=n_city, seed=_city_seed(seed, k), pp=pp)
        )
    city_nodes = sum(_city_node_count(c) for c in cities)
    logger.info("%d cities: %d road nodes in %.1f s", len(cities), city_nodes, time.perf_counter() - t0)

    step("countryside")
    prov = pp["province"]
    width, height = float(prov["width_km"]) * 1000.0, float(prov["height_km"]) * 1000.0
    mountains = shapely.union_all(
        [shapely.Polygon(np.asarray(m["polygon_km"], dtype=float) * 1000.0) for m in pp.get("mountains", [])]
    )
    rural_people = {
        "county_towns": int(pp["county_towns"]["population_total"]),
        "townships": int(pp["townships"]["population_total"]),
    }
    rural_people["villages"] = (
        int(prov["population_total"])
        - sum(int(c["population"]) for c in pp["cities"])
        - sum(rural_people.values())
    )
    boxes = np.array([c.square.bounds for c in cities])
    places = make_places(
        pp, city_boxes=boxes, mountains=mountains, rural_people=rural_people, rng=_rng(seed, "places")
    )
    country = countryside_streets(
        places,
        cities,
        pp,
        mountains=mountains,
        n_nodes=target - city_nodes,
        rng=_rng(seed, "roads"),
        lattice_seed=[seed, 1000 + _STREAM["lattices"]],
    )
    logger.info("countryside: %d places, %d road nodes", len(places), country.n_nodes)

    step("people")
    province_box = shapely.box(0.0, 0.0, width, height)
    centres = np.array([c.square.centroid.coords[0] for c in cities])
    squares = [c.square for c in cities]
    terr = territories(province_box, centres, squares)
    communities, community_city = build_rural_communities(
        places, terr, squares, pp=pp, demo=demo, rng=_rng(seed, "communities")
    )
    sensitive = build_rural_sensitive_sites(places, pp, demo, _rng(seed, "sensitive"))

    step("hazards and resources")
    hazards = build_rural_hazards(
        places,
        country.streets,
        mines=country.mines,
        mine_field=country.mine_field,
        pp=pp,
        demo=demo,
        rng=_rng(seed, "hazards"),
    )
    stations, depots, candidates = build_rural_resources(
        places, country.resource_nodes, pp, demo, _rng(seed, "resources")
    )
    land = shapely.difference(province_box, shapely.union_all(squares))
    incidents = build_rural_incidents(places, hazards, land, pp=pp, demo=demo, rng=_rng(seed, "incidents"))
    extra = _extra_city_stations(cities, pp, _rng(seed, "stations"))

    step("layers")
    rural = {
        "roads": rural_roads_frame(country.streets, pp, _rng(seed, "maxspeed"), origin=origin),
        "hazards": hazards,
        "communities": communities,
        "fire_stations": pd.concat([extra, stations], ignore_index=True),
        "depots": depots,
        "candidate_sites": candidates,
        "sensitive_sites": sensitive,
        "incidents": incidents,
    }
    city_tables = [c.layers for c in cities]
    out = assemble(
        city_tables,
        rural,
        pp=pp,
        origin=origin,
        territories=terr,
        city_names=[str(c["name"]) for c in pp["cities"]],
        community_city=community_city,
        seed=seed,
        locate=city_of,
    )
    logger.info(
        "%s: %d road lines, %d hazards, %d communities, %d stations, %d depots in %.1f s",
        prov["name"],
        len(out["roads"]),
        len(out["hazards"]),
        len(out["communities"]),
        len(out["fire_stations"]),
        len(out["depots"]),
        time.perf_counter() - t0,
    )
    return out


def _city_node_count(city: CityResult) -> int:
    roads = city.layers["roads"]
    xy, line = shapely.get_coordinates(roads.geometry.to_numpy(), return_index=True)
    _, key = np.unique(np.round(xy, 2), axis=0, return_inverse=True)
    key = key.ravel()
    first = np.r_[True, line[1:] != line[:-1]]
    last = np.r_[line[1:] != line[:-1], True]
    node = np.bincount(key) > 1
    node[key[first | last]] = True
    return int(node.sum())


def _extra_city_stations(
    cities: list[CityResult], pp: Mapping[str, Any], rng: np.random.Generator
) -> gpd.GeoDataFrame:
    """The stations each city has beyond the demo city's own, on its arterial nodes."""
    sc = pp["city_scaling"]
    grades = sc["extra_station_grades"]
    weights = np.array(list(grades.values()), dtype=float)
    names, gr, xy = [], [], []
    for city, spec in zip(cities, pp["cities"], strict=True):
        n = int(spec["fire_stations"]) - len(city.layers["fire_stations"])
        if n <= 0:
            continue
        sites = extra_station_sites(city, n, float(sc["extra_station_spacing_m"]), rng)
        names += [f"{city.name} Fire Station No. {k + 1}" for k in range(len(sites))]
        gr += list(rng.choice(list(grades), size=len(sites), p=weights / weights.sum()))
        xy.append(sites)
    pts: npt.NDArray[np.float64] = np.concatenate(xy) if xy else np.zeros((0, 2))
    return gpd.GeoDataFrame({"name": names, "grade": [str(g) for g in gr]}, geometry=shapely.points(pts))


def _metadata(p: Mapping[str, Any], seed: int, n_road_nodes: int | None) -> dict[str, str]:
    meta = generator_metadata(
        p,
        seed,
        n_road_nodes,
        kind="province",
        description="Synthetic demo province generated by riskplan; not a real place.",
    )
    return {**meta, "cities": json.dumps([str(c["name"]) for c in p["cities"]])}


def write_demo_province(
    out_dir: str | Path,
    *,
    seed: int = 42,
    n_road_nodes: int | None = None,
    province_params: TableOverrides = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Generate the demo province and write it as a scenario folder, atomically.

    ``out_dir`` gets two files, as ``riskplan init`` writes a scenario: ``demo_province.gpkg``
    holds every layer of :func:`demo_province` (the road lines included, and ``cities``) and a
    non-spatial ``metadata`` table of key / value rows (name, ``synthetic = true``, seed,
    generator version, CRS, a hash of the parameters, the city names, the notes and the
    figures of :func:`gis.demo.province_summary` as JSON under ``summary``);
    ``scenario.toml`` (``synthetic = true``) maps the scenario layers to it, for
    ``riskplan validate`` and ``riskplan run``. Both are written in a staging folder beside
    ``out_dir`` and moved in only when complete, so a failure leaves no partial scenario;
    other files in ``out_dir`` are left alone. The same arguments give byte-identical files.

    Parameters
    ----------
    out_dir
        The folder to write into (created when missing).
    seed, n_road_nodes, province_params, progress
        As for :func:`demo_province`; ``progress`` also hears ``"writing"``.

    Returns
    -------
    Path
        The ``scenario.toml`` written.

    Raises
    ------
    InputError
        For a bad seed, size, parameter, or an ``out_dir`` that is a file.

    Examples
    --------
    >>> import tempfile, json, pyogrio
    >>> with tempfile.TemporaryDirectory() as d:
    ...     toml = write_demo_province(Path(d) / "province", n_road_nodes=30_000)
    ...     meta = pyogrio.read_dataframe(toml.parent / "demo_province.gpkg", layer="metadata")
    ...     sorted(p.name for p in toml.parent.iterdir())
    ['demo_province.gpkg', 'scenario.toml']
    >>> meta = dict(zip(meta["key"], meta["value"]))
    >>> meta["synthetic"], json.loads(meta["summary"])["cities"]
    ('true', 10)
    """
    from ._province_files import write_folder

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        msg = f"`out_dir` `{out}` is a file. Fix: give a folder (it is created when missing)."
        raise InputError(msg)
    p = load_province_params(province_params)
    layers = demo_province(seed=seed, n_road_nodes=n_road_nodes, province_params=p, progress=progress)
    if progress is not None:
        progress("writing")
    t0 = time.perf_counter()
    meta = _metadata(p, seed, n_road_nodes)
    meta["summary"] = json.dumps(province_summary(layers))
    notes = [
        f"{meta['name']} is SYNTHETIC: generated by riskplan (seed {seed}); no city, place, road, "
        "station, depot, hazard, community or incident in it is real.",
        "The `cities` layer of demo_province.gpkg holds each city's territory; every point and "
        "polygon layer has a `city` column naming the territory it lies in, and so do the roads "
        "(the territory holding the largest part of a road's length).",
    ]
    path = write_folder(out, layers, scenario_layers=list(LAYERS), metadata=meta, notes=notes)
    logger.info("wrote %s (%d layers + metadata) in %.1f s", out, len(layers), time.perf_counter() - t0)
    return path


def write_demo_province_osm(
    path: str | Path,
    *,
    seed: int = 42,
    n_road_nodes: int | None = None,
    province_params: TableOverrides = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Write the demo province as an OpenStreetMap file (PBF or XML by its name), atomically.

    The roads of :func:`demo_province` become ways (its ``highway``, ``name``, ``maxspeed``,
    ``oneway``, ``junction`` and ``bridge`` tags), and its fire stations, hazards, communities,
    sensitive sites and barriers are tagged as the demo city's OSM file tags them
    (:func:`gis.demo.write_demo_osm`), so ``riskplan init province.osm.pbf`` then ``riskplan run``
    measure the OSM path at province scale. The file says it is synthetic: the header's
    ``generator``, editors' ``upload=false``, and a ``place=state`` node whose ``description``
    says so. No building footprints are written.

    Parameters
    ----------
    path
        The file to write (replaced if it exists): PBF for ``.pbf`` / ``.osm.pbf``, XML for ``.osm``.
    seed, n_road_nodes, province_params, progress
        As for :func:`demo_province`; ``progress`` also hears ``"writing"``.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputError
        For a bad seed, size, parameter or file name ending.

    Examples
    --------
    Not run here (about 40 s; tests/test_demo_province_osm.py writes one):

    >>> import tempfile
    >>> from gis.osm import read_osm_features
    >>> with tempfile.TemporaryDirectory() as d:  # doctest: +SKIP
    ...     pbf = write_demo_province_osm(Path(d) / "province.osm.pbf", n_road_nodes=30_000)
    ...     state = read_osm_features(pbf, {"place": "state"})
    >>> "SYNTHETIC" in state["tags"].iloc[0]  # doctest: +SKIP
    True
    """
    from ._osm import osm_write_format, write_city_osm

    osm_write_format(path)  # a bad file name fails before the province is generated
    p = load_province_params(province_params)
    layers = demo_province(seed=seed, n_road_nodes=n_road_nodes, province_params=p, progress=progress)
    if progress is not None:
        progress("writing")
    meta = _metadata(p, seed, n_road_nodes)
    generator = (
        f"riskplan demo province (gis.demo.write_demo_province_osm) v{meta['generator_version']}: "
        f"SYNTHETIC data, not a real place (seed {seed}, {meta['n_road_nodes']} road nodes)"
    )
    place = {
        "place": "state",
        "name": meta["name"],
        "description": f"{meta['description']} SYNTHETIC: no road, station or hazard in it is real.",
        "population": str(int(layers["communities"]["population"].sum())),
        "source": str(p["province"]["source"]),
    }
    out = write_city_osm(layers, path, generator=generator, place=place, n_buildings=0, seed=seed)
    logger.info("wrote %s (synthetic demo province as OSM)", out)
    return out
