"""Write a scenario folder atomically: ``scenario.toml`` and the derived layers in ``layers.gpkg``.

Everything is written to a hidden folder beside the target and moved in only when complete
(``layers.gpkg`` first, ``scenario.toml`` last), so a failed ``init`` leaves no half-written
contents; other files already in the folder (earlier results) are left alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import pyproj

from ..atomic import staging_dir
from ..errors import InputError
from ..scenario import write_scenario

__all__ = ["LAYERS_FILE", "SCENARIO_FILE", "scenario_toml", "write_folder"]

SCENARIO_FILE = "scenario.toml"
LAYERS_FILE = "layers.gpkg"


def _string(value: str) -> str:
    """A TOML basic string (JSON escapes are valid TOML escapes)."""
    return json.dumps(value, ensure_ascii=False)


def scenario_toml(
    *,
    name: str,
    description: str,
    metric_crs: pyproj.CRS,
    roads_path: Path,
    layers: Sequence[str],
    notes: Sequence[str],
    rasters: Mapping[str, Path] | None = None,
) -> str:
    """The text of ``scenario.toml``: roads from the OSM file, other layers from ``layers.gpkg``.

    ``rasters`` (``{"population": path}``) become raster layers: the risk model then takes
    every unit's residents from the raster, not only the communities'.

    Examples
    --------
    >>> import pyproj
    >>> print(scenario_toml(name="Tiny", description="d", metric_crs=pyproj.CRS(32649),
    ...       roads_path=Path("/data/tiny.osm.pbf"), layers=["fire_stations"], notes=["n"]))
    ... # doctest: +NORMALIZE_WHITESPACE
    # Written by `riskplan init`. Edit freely; check it with `riskplan validate`.
    [scenario]
    name = "Tiny"
    description = "d"
    metric_crs = "EPSG:32649"
    notes = [
      "n",
    ]
    <BLANKLINE>
    [layers.roads]
    path = "/data/tiny.osm.pbf"
    <BLANKLINE>
    [layers.fire_stations]
    path = "layers.gpkg"
    layer = "fire_stations"
    <BLANKLINE>
    """
    epsg = metric_crs.to_epsg()
    crs_text = f"EPSG:{epsg}" if epsg else metric_crs.to_wkt()
    lines = [
        "# Written by `riskplan init`. Edit freely; check it with `riskplan validate`.",
        "[scenario]",
        f"name = {_string(name)}",
        f"description = {_string(description)}",
        f"metric_crs = {_string(crs_text)}",
        "notes = [",
        *(f"  {_string(n)}," for n in notes),
        "]",
        "",
        "[layers.roads]",
        f"path = {_string(str(roads_path))}",
        "",
    ]
    for layer in layers:
        lines += [f"[layers.{layer}]", f"path = {_string(LAYERS_FILE)}", f"layer = {_string(layer)}", ""]
    for layer, path in (rasters or {}).items():
        lines += [f"[layers.{layer}]", f"path = {_string(str(path))}", ""]
    return "\n".join(lines)


def write_folder(
    out_dir: str | Path,
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    name: str,
    description: str,
    metric_crs: pyproj.CRS,
    roads_path: Path,
    notes: Sequence[str],
    rasters: Mapping[str, Path] | None = None,
) -> tuple[Path, Path]:
    """Write ``scenario.toml`` and ``layers.gpkg`` into ``out_dir`` atomically; return both paths.

    Layers are written in EPSG:4326 with their ``id`` column; empty layers are left out.

    Examples
    --------
    >>> import tempfile, pyproj
    >>> from shapely import Point
    >>> st = gpd.GeoDataFrame({"id": ["S1"], "name": ["One"], "grade": ["grade1"]},
    ...                       geometry=[Point(112.55, 37.85)], crs=4326)
    >>> out = Path(tempfile.mkdtemp()) / "city"
    >>> toml, gpkg = write_folder(out, {"fire_stations": st, "hazards": st.iloc[:0]}, name="City",
    ...     description="d", metric_crs=pyproj.CRS(32649), roads_path=Path("city.osm.pbf"), notes=["n"])
    >>> sorted(p.name for p in out.iterdir()), "[layers.hazards]" in toml.read_text()
    (['layers.gpkg', 'scenario.toml'], False)
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        msg = f"`--out` `{out_dir}` is a file. Fix: give a folder (it is created when missing)."
        raise InputError(msg)
    kept = {n: g for n, g in layers.items() if len(g)}
    with staging_dir(out_dir, "init") as tmp:
        frames = {n: g.to_crs(4326) for n, g in kept.items()}
        write_scenario(
            frames,
            tmp / LAYERS_FILE,
            metadata={"name": name, "synthetic": False, "notes": json.dumps(list(notes), ensure_ascii=False)},
        )
        text = scenario_toml(
            name=name,
            description=description,
            metric_crs=metric_crs,
            roads_path=roads_path.resolve(),
            layers=list(kept),
            notes=notes,
            rasters={k: Path(v).resolve() for k, v in (rasters or {}).items()},
        )
        (tmp / SCENARIO_FILE).write_text(text, encoding="utf-8")
        if not out_dir.exists():
            os.replace(tmp, out_dir)
            tmp.mkdir()  # the staging cleanup expects a folder
        else:
            os.replace(tmp / LAYERS_FILE, out_dir / LAYERS_FILE)
            os.replace(tmp / SCENARIO_FILE, out_dir / SCENARIO_FILE)
    return out_dir / SCENARIO_FILE, out_dir / LAYERS_FILE
