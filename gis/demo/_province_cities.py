"""The cities of the demo province: the demo-city generator at a size and a place (private).

:func:`city_params` turns ``gis/data/demo_city.toml`` into the parameters of one city of
``gis/data/demo_province.toml``: the layout (river, ring, railway, hills, old town, industrial
park, stations, depots) scaled by ``s = size_km / 15``, the arterial grid kept at 1 km, counts
scaled by area or population, names prefixed with the city's. :func:`build_city` runs
:func:`gis.demo.demo_city` with them, placed at its square of the province (UTM coordinates
exact to the centimetre), and finds the city's gates: arterial ends near its edge, where the
country roads join through short stubs.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pyproj
import shapely

from ..tables import deep_merge
from ._hazards import _spaced
from .city import demo_city

__all__ = ["CityResult", "build_city", "city_params", "extra_station_sites"]

FloatArray = npt.NDArray[np.float64]

_BASE_SIZE_M = 15000.0  # the demo city's square (demo_city.toml city.width_m)

# Entries of demo_city.toml that are positions or layout lengths in the city's local frame and
# move with its size. The 1 km arterial grid, vertex spacings, the river's width and the
# hill-road and mine-access shapes keep their lengths.
_SCALED: dict[str, tuple[str, ...]] = {
    "city": ("width_m", "height_m"),
    "river": ("x_m", "amplitude_m", "wavelength_m"),
    "ring": ("centre_m", "radius_m"),
    "railway": ("y_m", "amplitude_m", "wavelength_m"),
    "hills": (
        "edge_x_m",
        "edge_amplitude_m",
        "edge_wavelength_m",
        "south_y_m",
        "south_amplitude_m",
        "south_wavelength_m",
        "road_rows_y_m",
        "road_end_x_m",
    ),
    "old_town": ("centre_m", "radii_m"),
    "industrial_park": ("x_m", "y_m"),
    "roads": ("bridge_rows_y_m",),
}
_SCALED_NEAR = frozenset({"industrial", "ring", "edge"})  # hazard `distance_m` that scale


def _scale(value: Any, s: float) -> Any:
    if isinstance(value, list):
        return [_scale(v, s) for v in value]
    return float(value) * s


@dataclass(frozen=True)
class CityResult:
    """One city's layers (UTM) plus what the province joins to it."""

    name: str
    layers: dict[str, gpd.GeoDataFrame]
    square: shapely.Polygon  # in the province frame (m)
    gates: FloatArray  # (n, 2) arterial ends near the edge, province frame
    portals: FloatArray  # (n, 2) the stub ends outside the city, province frame
    arterial_nodes: FloatArray  # (n, 2) primary / secondary vertices, province frame


def city_params(base: Mapping[str, Any], spec: Mapping[str, Any], pp: Mapping[str, Any]) -> dict[str, Any]:
    """The demo-city parameters of the province city ``spec`` (a ``[[cities]]`` entry)."""
    s = float(spec["size_km"]) * 1000.0 / _BASE_SIZE_M
    p = copy.deepcopy(dict(base))
    for section, keys in _SCALED.items():
        for key in keys:
            p[section][key] = _scale(p[section][key], s)
    for station in p["fire_stations"]:
        station["position_m"] = _scale(station["position_m"], s)
    for depot in p["depots"]["sites"]:
        depot["position_m"] = _scale(depot["position_m"], s)
    sc = pp["city_scaling"]
    area, people = s * s, float(spec["population"]) / 1e6
    for cat in p["hazards"]["categories"].values():
        cat["count"] = max(round(int(cat["count"]) * area * float(sc["hazards_per_area"])), 1)
        if cat.get("near", "") in _SCALED_NEAR:
            cat["distance_m"] = float(cat["distance_m"]) * s
    p["candidate_sites"]["count"] = max(
        round(int(p["candidate_sites"]["count"]) * area * float(sc["candidate_sites_per_area"])), 5
    )
    p["communities"]["count"] = max(round(float(sc["communities_per_million"]) * people), 20)
    for kind in [k for k in p["sensitive_sites"] if k != "labels"]:
        count = int(p["sensitive_sites"][kind]) * people * float(sc["sensitive_sites_per_million"])
        p["sensitive_sites"][kind] = max(round(count), 1)
    p["incidents"]["expected_count"] = float(sc["incidents_per_million"]) * people
    name = str(spec["name"])
    p["city"].update(name=f"{name} (synthetic)", population_total=int(spec["population"]))
    p["city"]["source"] = str(pp["province"]["source"])
    p["river"]["name"] = f"{name} River (synthetic)"
    p["ring"]["name"] = f"{name} Ring Expressway"
    p["railway"]["name"] = f"{name} Railway (synthetic)"
    if sc.get("name_ids", True):
        for station in p["fire_stations"]:
            station["name"] = f"{name} {station['name']}"
        for depot in p["depots"]["sites"]:
            depot["name"] = f"{name} {depot['name']}"
    return deep_merge(p, spec.get("demo_params", {}))


def _square(spec: Mapping[str, Any]) -> tuple[float, float, float]:
    """The city's south-west corner (whole metres) and side, in the province frame."""
    side = float(spec["size_km"]) * 1000.0
    cx, cy = (float(v) * 1000.0 for v in spec["centre_km"])
    return float(round(cx - side / 2)), float(round(cy - side / 2)), side


def build_city(
    spec: Mapping[str, Any],
    p: dict[str, Any],
    *,
    origin: tuple[float, float],
    n_road_nodes: int,
    seed: int,
    pp: Mapping[str, Any],
) -> CityResult:
    """Generate the city ``spec`` with parameters ``p`` at its place in the province.

    ``origin`` is the province frame's south-west corner in UTM (whole metres). The city's
    centre is handed to :func:`demo_city` in degrees, chosen so that its square lands on
    whole metres of the province frame.
    """
    x0, y0, side = _square(spec)
    crs = pyproj.CRS.from_user_input(pp["province"]["crs"])
    to_geo = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
    lon, lat = to_geo.transform(origin[0] + x0 + side / 2, origin[1] + y0 + side / 2)
    p["city"].update(centre_lon=float(lon), centre_lat=float(lat), crs=str(pp["province"]["crs"]))
    layers = demo_city(seed=seed, n_road_nodes=n_road_nodes, demo_params=p)
    bx = layers["study_area"].total_bounds
    if abs(bx[0] - origin[0] - x0) > 1e-6 or abs(bx[1] - origin[1] - y0) > 1e-6:  # pragma: no cover
        msg = f"city `{spec['name']}` landed at {bx[:2]}, not at {origin[0] + x0}, {origin[1] + y0}"
        raise RuntimeError(msg)
    square = shapely.box(x0, y0, x0 + side, y0 + side)
    roads = layers["roads"]
    r = pp["roads"]
    gates = _gates(roads, square, origin, list(r["gate_classes"]), float(r["gate_max_edge_m"]))
    portals = _portals(gates, square, float(r["portal_offset_m"]))
    art = roads[roads["highway"].isin(["primary", "secondary"]) & roads["bridge"].isna()]
    art_xy = np.unique(shapely.get_coordinates(art.geometry.to_numpy()), axis=0) - np.asarray(origin)
    return CityResult(str(spec["name"]), layers, square, gates, portals, art_xy)


def _gates(
    roads: gpd.GeoDataFrame,
    square: shapely.Polygon,
    origin: tuple[float, float],
    classes: list[str],
    max_edge_m: float,
) -> FloatArray:
    """Ends of arterial lines (of ``classes``) within ``max_edge_m`` of the city's edge.

    Only ends that no other line of the city continues (dead ends at the edge) qualify, so a
    stub never doubles a street.
    """
    lines = roads.geometry.to_numpy()
    xy, which = shapely.get_coordinates(lines, return_index=True)
    counts = np.bincount(which, minlength=len(lines))
    first = np.cumsum(counts) - counts
    last = first + counts - 1
    ends = np.concatenate([first, last])
    line_of = np.concatenate([np.arange(len(lines)), np.arange(len(lines))])
    ok = np.isin(roads["highway"].to_numpy()[line_of], classes) & roads["bridge"].isna().to_numpy()[line_of]
    # a gate is used by one line only
    _, key, uses = np.unique(np.round(xy, 2), axis=0, return_inverse=True, return_counts=True)
    ok &= uses[key.ravel()[ends]] == 1
    local = xy[ends] - np.asarray(origin)
    x0, y0, x1, y1 = square.bounds
    edge = np.minimum.reduce([local[:, 0] - x0, x1 - local[:, 0], local[:, 1] - y0, y1 - local[:, 1]])
    gates = local[ok & (edge <= max_edge_m)]
    return gates[np.lexsort((gates[:, 1], gates[:, 0]))]


def _portals(gates: FloatArray, square: shapely.Polygon, offset_m: float) -> FloatArray:
    """For each gate, the point ``offset_m`` outside the nearest side of the city's square."""
    x0, y0, x1, y1 = square.bounds
    out = gates.copy()
    d = np.column_stack([gates[:, 0] - x0, x1 - gates[:, 0], gates[:, 1] - y0, y1 - gates[:, 1]])
    side = d.argmin(axis=1)
    out[side == 0, 0] = x0 - offset_m
    out[side == 1, 0] = x1 + offset_m
    out[side == 2, 1] = y0 - offset_m
    out[side == 3, 1] = y1 + offset_m
    return out


def extra_station_sites(
    city: CityResult, n_extra: int, spacing_m: float, rng: np.random.Generator
) -> FloatArray:
    """``n_extra`` arterial nodes of the city (province frame) for more fire stations.

    Drawn at random, each at least ``spacing_m`` from the city's stations and the others
    drawn; where the city has no room left at that spacing, at half of it, and so on.
    """
    offset = np.asarray(city.layers["study_area"].total_bounds[:2]) - np.asarray(city.square.bounds[:2])
    taken = shapely.get_coordinates(city.layers["fire_stations"].geometry.to_numpy()) - offset
    cand = city.arterial_nodes[rng.permutation(len(city.arterial_nodes))]
    out = np.zeros((0, 2))
    d_min = spacing_m
    while len(out) < n_extra and d_min > 1.0:
        more = _spaced(cand, n_extra - len(out), d_min, [*taken, *out])
        out = np.concatenate([out, more])
        d_min /= 2
    return out
