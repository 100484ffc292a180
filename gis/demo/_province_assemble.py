"""The demo province's layers from its cities' and its countryside's parts (private).

The cities come as :func:`gis.demo.demo_city` layers in UTM; the countryside's parts in the
province's local frame, moved to UTM here and rounded to the centimetre like the cities'.
Every layer gets ids numbered across the province, the ``source`` column, a ``city`` column
(the territory a feature lies in) and the ``synthetic`` attributes. A road's ``city`` is the
territory holding the largest part of its length (:func:`road_cities`): a city's own streets
are its city's, a country road between two cities the one it mostly runs in; the territories
tile the province, so no road is left without one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely

from ..schema import LAYERS
from ..validate import index_by_id
from ._province_places import CLASSES, Streets

__all__ = ["assemble", "road_cities", "rural_roads_frame"]

FloatArray = npt.NDArray[np.float64]

# Id prefix and smallest number width of each layer (as the demo city numbers them).
_IDS: dict[str, tuple[str, int]] = {
    "hazards": ("H", 4),
    "communities": ("C", 3),
    "fire_stations": ("FS", 1),
    "depots": ("D", 1),
    "candidate_sites": ("CS", 2),
    "sensitive_sites": ("SS", 3),
    "incidents": ("I", 5),
    "cities": ("CT", 2),
}
_WITH_CITY = frozenset(_IDS) - {"cities"}


def _to_utm(geoms: Any, origin: tuple[float, float], decimals: int) -> npt.NDArray[np.object_]:
    offset = np.asarray(origin, dtype=float)
    return shapely.transform(np.asarray(geoms), lambda c: np.round(c + offset, decimals))


def rural_roads_frame(
    streets: Streets,
    pp: Mapping[str, Any],
    rng: np.random.Generator,
    *,
    origin: tuple[float, float],
) -> gpd.GeoDataFrame:
    """The countryside's road lines in UTM, with the demo city's road columns."""
    decimals = int(pp["province"]["coordinate_decimals"])
    xy = np.round(streets.xy + np.asarray(origin), decimals)
    line = np.repeat(np.arange(streets.n_lines), np.diff(streets.offsets))
    dup = np.zeros(len(xy), bool)
    dup[1:] = (line[1:] == line[:-1]) & (xy[1:] == xy[:-1]).all(axis=1)
    xy, line = xy[~dup], line[~dup]
    counts = np.bincount(line, minlength=streets.n_lines)
    ok = counts >= 2
    geoms = np.full(streets.n_lines, None, dtype=object)
    keep_v = ok[line]
    geoms[ok] = shapely.linestrings(xy[keep_v], indices=np.cumsum(ok)[line[keep_v]] - 1)
    cls = np.asarray(CLASSES, dtype=object)[streets.code]
    speed = np.full(streets.n_lines, None, dtype=object)
    draw = rng.random(streets.n_lines)
    for name, spec in pp["roads"]["maxspeed"].items():
        speed[(cls == name) & (draw < float(spec["share"]))] = str(spec["value"])
    frame = gpd.GeoDataFrame(
        {
            "highway": cls,
            "oneway": np.full(streets.n_lines, "no", dtype=object),
            "maxspeed": speed,
            "name": np.asarray(streets.name, dtype=object),
            "bridge": np.full(streets.n_lines, None, dtype=object),
        },
        geometry=gpd.GeoSeries(geoms, crs=pp["province"]["crs"]),
    )
    return frame[ok].reset_index(drop=True)


def assemble(
    city_layers: Sequence[Mapping[str, gpd.GeoDataFrame]],
    rural: Mapping[str, gpd.GeoDataFrame],
    *,
    pp: Mapping[str, Any],
    origin: tuple[float, float],
    territories: Sequence[Any],
    city_names: Sequence[str],
    community_city: npt.NDArray[np.int64],
    seed: int,
    locate: Callable[[FloatArray, list[Any]], npt.NDArray[np.int64]],
) -> dict[str, gpd.GeoDataFrame]:
    """All layers of the province, in the order of :data:`gis.demo.province.LAYER_NAMES`."""
    prov = pp["province"]
    crs = pyproj.CRS.from_user_input(prov["crs"])
    decimals = int(prov["coordinate_decimals"])
    terr = list(territories)
    labels = np.array([f"{n} (synthetic)" for n in city_names], dtype=object)
    out: dict[str, gpd.GeoDataFrame] = {}
    for name in LAYERS:
        parts = []
        for k, layers in enumerate(city_layers):
            part = layers[name].reset_index(drop=True).drop(columns=["id", "source"], errors="ignore")
            if name in _WITH_CITY or name == "roads":
                part["city"] = labels[k]
            parts.append(pd.DataFrame(part))
        if name == "roads":
            country = pd.DataFrame(rural["roads"])
            utm = list(_to_utm(terr, origin, decimals))
            country["city"] = labels[road_cities(rural["roads"].geometry.to_numpy(), utm, locate)]
            parts.append(country)
        elif name in rural:
            local = rural[name].reset_index(drop=True)
            pts = shapely.get_coordinates(local.geometry.representative_point().to_numpy())
            where = community_city if name == "communities" else locate(pts, terr)
            data = pd.DataFrame(local.drop(columns=local.geometry.name))
            data["city"] = labels[where]
            data["geometry"] = _to_utm(local.geometry.to_numpy(), origin, decimals)
            parts.append(data)
        elif name == "study_area":
            box = shapely.box(0.0, 0.0, float(prov["width_km"]) * 1000.0, float(prov["height_km"]) * 1000.0)
            parts = [pd.DataFrame({"name": [prov["name"]], "geometry": _to_utm([box], origin, decimals)})]
        elif name == "barriers":
            roads = rural["roads"]
            ex = roads[roads["highway"] == "motorway"]
            parts.append(
                pd.DataFrame(
                    {"kind": "expressway", "name": ex["name"].to_numpy(), "geometry": ex.geometry.to_numpy()}
                )
            )
        gdf = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=crs)
        if name == "candidate_sites":
            gdf["name"] = [f"Candidate site {k + 1}" for k in range(len(gdf))]
        out[name] = _finish(gdf, name, pp, seed)
    cities = _cities(pp, terr, out["communities"], origin=origin, decimals=decimals, crs=crs)
    out["cities"] = _finish(cities, "cities", pp, seed)
    return out


def road_cities(
    lines: npt.NDArray[np.object_],
    terr: Sequence[Any],
    locate: Callable[[FloatArray, list[Any]], npt.NDArray[np.int64]],
) -> npt.NDArray[np.int64]:
    """The territory holding the largest part of each line's length (ties: the first territory).

    A line whose vertices all lie in one territory (``locate``: the nearest one for a vertex on
    none) is that territory's; only a line with vertices in several is measured, by the length of
    its intersection with each of them.
    """
    xy, line = shapely.get_coordinates(lines, return_index=True)
    owner = locate(xy, list(terr))
    starts = np.flatnonzero(np.r_[True, line[1:] != line[:-1]])
    lo, hi = np.minimum.reduceat(owner, starts), np.maximum.reduceat(owner, starts)
    out = lo.copy()
    mixed = np.flatnonzero(lo != hi)
    if len(mixed):
        lengths = np.column_stack([shapely.length(shapely.intersection(lines[mixed], t)) for t in terr])
        out[mixed] = np.argmax(lengths, axis=1)
    return out


def _cities(
    pp: Mapping[str, Any],
    terr: list[Any],
    communities: gpd.GeoDataFrame,
    *,
    origin: tuple[float, float],
    decimals: int,
    crs: pyproj.CRS,
) -> gpd.GeoDataFrame:
    specs = pp["cities"]
    labels = [f"{c['name']} (synthetic)" for c in specs]
    people = communities.groupby("city")["population"].sum()
    geoms = _to_utm(terr, origin, decimals)
    return gpd.GeoDataFrame(
        {
            "name": labels,
            "tier": [str(c["tier"]) for c in specs],
            "population": [float(people.get(label, 0.0)) for label in labels],
            "urban_population": [float(c["population"]) for c in specs],
            "area_km2": np.round(shapely.area(geoms) / 1e6, 1),
            "urban_area_km2": [float(c["size_km"]) ** 2 for c in specs],
            "geometry": geoms,
        },
        geometry="geometry",
        crs=crs,
    )


def _finish(gdf: gpd.GeoDataFrame, name: str, pp: Mapping[str, Any], seed: int) -> gpd.GeoDataFrame:
    if name in _IDS:
        prefix, width = _IDS[name]
        width = max(width, len(str(len(gdf))))
        gdf.insert(0, "id", [f"{prefix}{k + 1:0{width}d}" for k in range(len(gdf))])
    geometry = gdf.pop("geometry")
    gdf["source"] = str(pp["province"]["source"])
    gdf = gpd.GeoDataFrame(gdf, geometry=geometry, crs=geometry.crs)
    if "id" in gdf.columns:
        gdf = index_by_id(gdf)
    gdf.attrs.update(synthetic=True, name=str(pp["province"]["name"]), seed=seed)
    return gdf
