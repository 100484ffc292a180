"""Point sites of a scenario built from OSM: fire stations, sensitive sites, depots.

Fire stations are ``amenity=fire_station`` nodes, ways and relations as representative points
(``--stations FILE`` replaces them); OSM does not say a station's grade, so it defaults to
``grade1`` with a note. Sensitive sites (GB 51080-2015 siting rule: schools, kindergartens,
hospitals, theatres, malls, stadiums) keep their footprints. Relief depots are not mapped in
OSM: they come from ``--depots FILE`` only.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyproj

from .._osm_features import osm_ids
from ..errors import InputError
from ..io import LayerSource, read_layer, to_points
from ..schema import DEPOT_TIERS, STATION_GRADES
from .reading import SENSITIVE_TAGS

__all__ = ["DEFAULT_GRADE", "DEFAULT_TIER", "depots", "fire_stations", "sensitive_sites", "site_file"]

#: Grade given to stations whose grade is unknown (OSM has none).
DEFAULT_GRADE = "grade1"
#: Tier given to depots of a ``--depots`` file without a ``tier`` column.
DEFAULT_TIER = "city"


def _names(gdf: gpd.GeoDataFrame, ids: list[str], label: str) -> list[str]:
    names = gdf["name"] if "name" in gdf.columns else pd.Series(None, index=gdf.index)
    return [
        n if isinstance(n, str) and n.strip() else f"{label} {i}" for n, i in zip(names, ids, strict=True)
    ]


def site_file(path: str | Path, layer: str, flag: str, crs: pyproj.CRS) -> gpd.GeoDataFrame:
    r"""Read a point layer given on the command line (any format :func:`gis.io.read_layer` reads).

    Polygons become points inside them; missing ``id`` and ``name`` are filled in.

    Examples
    --------
    >>> import tempfile, pathlib, pyproj
    >>> csv = pathlib.Path(tempfile.mkdtemp()) / "st.csv"
    >>> _ = csv.write_text("name,lon,lat\nEast,112.55,37.85\n,112.56,37.85\n")
    >>> site_file(csv, "fire_stations", "--stations", pyproj.CRS(32649))[["id", "name"]].to_numpy().tolist()
    [['F1', 'East'], ['F2', 'fire station F2']]
    """
    path = Path(path)
    gdf = read_layer(LayerSource(layer, path, points="representative"))
    if gdf.crs is None:
        msg = f"`{flag}` `{path}` has no CRS. Fix: give a file with a CRS, or WGS84 lon/lat columns in a CSV."
        raise InputError(msg)
    if gdf.empty:
        msg = f"`{flag}` `{path}` holds no feature. Fix: give a file with one row per site."
        raise InputError(msg)
    gdf = gdf.to_crs(crs)
    if "id" not in gdf.columns:
        gdf["id"] = [f"{layer[0].upper()}{i + 1}" for i in range(len(gdf))]
    gdf["id"] = gdf["id"].astype(str)
    label = {"fire_stations": "fire station", "depots": "depot"}.get(layer, layer)
    gdf["name"] = _names(gdf, gdf["id"].tolist(), label)
    return gdf.reset_index(drop=True)


def fire_stations(
    osm: gpd.GeoDataFrame,
    *,
    stations: str | Path | None,
    crs: pyproj.CRS,
    osm_path: Path,
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """The fire stations (points, metric CRS) and the notes about them.

    Raises
    ------
    InputError
        When the extract has none and no ``--stations`` file is given.

    Examples
    --------
    >>> import pyproj
    >>> from gis.osm import read_osm_features
    >>> osm = Path("tests/fixtures/tiny_city.osm.xml")
    >>> st, notes = fire_stations(read_osm_features(osm, {"amenity": "fire_station"}), stations=None,
    ...                           crs=pyproj.CRS(32649), osm_path=osm)
    >>> st[["id", "name", "grade"]].to_numpy().tolist(), len(notes)
    ([['n900', '第一消防站', 'grade1']], 2)
    """
    notes = []
    if stations is not None:
        gdf = site_file(stations, "fire_stations", "--stations", crs)
        notes.append(f"Fire stations: the {len(gdf)} sites of `--stations` {Path(stations).name}.")
    else:
        if osm.empty:
            msg = (
                f"`{osm_path}` maps no fire station (no `amenity=fire_station` node, way or "
                "relation), and riskplan needs at least one to compute response times. Fix: give "
                "the stations with `--stations FILE` (GeoJSON, GeoPackage, Shapefile, or a CSV "
                "with lon/lat columns; columns id, name, grade optional)."
            )
            raise InputError(msg)
        ids = osm_ids(osm)
        gdf = gpd.GeoDataFrame(
            {"id": ids, "name": _names(osm, ids, "fire station"), "osm_id": osm["osm_id"].to_numpy()},
            geometry=osm.geometry.to_numpy(),
            crs=osm.crs,
        )
        gdf = to_points(gdf, "representative", where=f"`{osm_path}`, fire stations").to_crs(crs)
        n_poly = int((~osm.geom_type.isin(["Point", "MultiPoint"])).sum())
        shape = f" ({n_poly} mapped as buildings or areas, placed at a point inside them)" if n_poly else ""
        notes.append(f"Fire stations: the {len(gdf)} `amenity=fire_station` features of the extract{shape}.")
    if "grade" not in gdf.columns:
        gdf["grade"] = None
    unknown = gdf["grade"].isna() | ~gdf["grade"].isin(STATION_GRADES)
    if unknown.any():
        gdf.loc[unknown, "grade"] = DEFAULT_GRADE
        notes.append(
            f"{int(unknown.sum())} fire station(s) have no known grade: set to `{DEFAULT_GRADE}` "
            f"(correct them in layers.gpkg, one of {list(STATION_GRADES)})."
        )
    return gdf, notes


def depots(path: str | Path, crs: pyproj.CRS) -> tuple[gpd.GeoDataFrame, list[str]]:
    r"""Relief depots from ``--depots`` (tier defaults to ``city`` with a note).

    Examples
    --------
    >>> import tempfile, pathlib, pyproj
    >>> csv = pathlib.Path(tempfile.mkdtemp()) / "depots.csv"
    >>> _ = csv.write_text("id,name,lon,lat\nD1,Store,112.55,37.85\n")
    >>> gdf, notes = depots(csv, pyproj.CRS(32649))
    >>> gdf["tier"].tolist(), notes[1]
    (['city'], '1 depot(s) have no known tier: set to `city`.')
    """
    gdf = site_file(path, "depots", "--depots", crs)
    notes = [f"Relief depots: the {len(gdf)} sites of `--depots` {Path(path).name}."]
    if "tier" not in gdf.columns:
        gdf["tier"] = None
    unknown = gdf["tier"].isna() | ~gdf["tier"].isin(DEPOT_TIERS)
    if unknown.any():
        gdf.loc[unknown, "tier"] = DEFAULT_TIER
        notes.append(f"{int(unknown.sum())} depot(s) have no known tier: set to `{DEFAULT_TIER}`.")
    return gdf, notes


def sensitive_sites(osm: gpd.GeoDataFrame, *, crs: pyproj.CRS, area: object) -> gpd.GeoDataFrame:
    """Schools, kindergartens, hospitals, theatres, malls and stadiums, with ``kind``.

    Examples
    --------
    >>> import pyproj
    >>> from shapely import box
    >>> from gis.osm import read_osm_features
    >>> osm = read_osm_features("tests/fixtures/tiny_city.osm.xml", {"amenity": ["school", "hospital"]})
    >>> sites = sensitive_sites(osm, crs=pyproj.CRS(32649), area=box(6e5, 4.1e6, 7e5, 4.3e6))
    >>> sites[["id", "kind", "name"]].to_numpy().tolist()
    [['n905', 'hospital', 'Clinic'], ['w901', 'hospital', '人民医院'], ['r902', 'school', 'Yingze School']]
    """
    kinds = []
    for _, row in osm.iterrows():
        kind = next(
            (
                k
                for k, tags in SENSITIVE_TAGS.items()
                if any(row.get(key) in values for key, values in tags.items())
            ),
            "other",
        )
        kinds.append(kind)
    ids = osm_ids(osm)
    gdf = gpd.GeoDataFrame(
        {
            "id": ids,
            "name": [
                n if isinstance(n, str) and n.strip() else f"{k} {i}"
                for n, k, i in zip(osm["name"], kinds, ids, strict=True)
            ],
            "kind": kinds,
            "osm_id": osm["osm_id"].to_numpy(),
        },
        geometry=osm.geometry.to_numpy(),
        crs=osm.crs,
    ).to_crs(crs)
    gdf = gdf[gdf.intersects(area)]
    # open ways (a school's fence, an outline cut by the extract) are not sites
    return gdf[~gdf.geom_type.isin(["LineString", "MultiLineString"])].reset_index(drop=True)
