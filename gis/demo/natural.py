"""Synthetic natural-hazard layers for the demo city: floods along the river, landslides in the hills.

:func:`write_demo_natural_hazards` writes, next to the demo scenario, flood depth rasters for the
10-, 50- and 100-year return periods (``flood_<T>y.tif``, metres, the demo city's CRS) along its
river and landslide susceptibility zones in its western hills (``geohazards.gpkg``), with a
``natural_hazards.toml`` naming them as a scenario's ``[natural_hazards]`` table does
(:mod:`risk_models.natural`). The parameters are ``[natural_hazards]`` of
``gis/data/demo_city.toml``. Everything is labelled synthetic: raster tags, a ``source`` column
and the table's ``label``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely

from ..atomic import atomic_path, write_gpkg
from ..tables import TableOverrides
from ._layout import HILLS, Layout, make_layout
from .city import _check_seed, _rng, city_offset, load_demo_params

__all__ = ["DemoNaturalHazards", "demo_natural_hazards", "write_demo_natural_hazards"]

GRADES: tuple[str, ...] = ("low", "moderate", "high", "very_high")


@dataclass(frozen=True)
class DemoNaturalHazards:
    """The demo city's synthetic natural hazards, in its CRS.

    Attributes
    ----------
    depth
        Return period (years) -> flood depth grid (metres, rows north to south).
    transform
        The grids' affine transform (rasterio convention).
    crs
        The grids' CRS.
    zones
        Landslide zones: ``hazard_type``, ``grade``, ``source``.
    """

    depth: dict[float, npt.NDArray[np.float32]]
    transform: object
    crs: object
    zones: gpd.GeoDataFrame


def _ground(
    layout: Layout,
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    q: Mapping[str, Any],
    rng: np.random.Generator,
) -> npt.NDArray[np.float64]:
    """Ground height above the river bank (m): a slope away from the bank and gentle waves."""
    bank = np.maximum(layout.river_distance(x, y) - layout.river_half_width, 0.0)
    k = 2.0 * math.pi / float(q["undulation_wavelength_m"])
    ph = rng.uniform(0.0, 2.0 * math.pi, size=2)
    waves = float(q["undulation_m"]) * 0.5 * (np.sin(k * x + ph[0]) + np.sin(k * y + ph[1]))
    z = bank * float(q["bank_slope_m_per_m"]) + waves
    return np.where(layout.zones(x, y) == HILLS, z + 50.0, z)


def demo_natural_hazards(*, seed: int = 42, demo_params: TableOverrides = None) -> DemoNaturalHazards:
    """The demo city's synthetic flood depths and landslide zones (same seed: same layers).

    Examples
    --------
    >>> nat = demo_natural_hazards()
    >>> sorted(nat.depth), sorted(nat.zones["grade"].unique())
    ([10.0, 50.0, 100.0], ['high', 'low', 'moderate', 'very_high'])
    >>> bool((nat.depth[100.0] >= nat.depth[10.0]).all())
    True
    """
    from rasterio.features import shapes
    from rasterio.transform import Affine

    p = load_demo_params(demo_params)
    seed = _check_seed(seed)
    layout = make_layout(p, _rng(seed, "layout"))
    q = p["natural_hazards"]
    px = float(q["pixel_m"])
    nx, ny = math.ceil(layout.width / px), math.ceil(layout.height / px)
    xs = (np.arange(nx) + 0.5) * px
    ys = layout.height - (np.arange(ny) + 0.5) * px
    x, y = np.meshgrid(xs, ys)
    z = _ground(layout, x, y, q, _rng(seed, "natural"))
    depth = {
        float(t): np.maximum(float(level) - z, 0.0).astype(np.float32)
        for t, level in sorted(q["flood_level_m"].items(), key=lambda kv: float(kv[0]))
    }
    off_x, off_y = city_offset(p, layout)
    transform = Affine(px, 0.0, off_x, 0.0, -px, off_y + ny * px)
    # landslides: depth into the hills, west of their edge
    edge = layout.hills_x + layout.hills_amp * np.sin(layout.hills_k * y + layout.hills_phase)
    into = np.where(layout.zones(x, y) == HILLS, edge - x, -1.0)
    bands = [float(b) for b in q["landslide_bands_m"]]
    code = np.where(into < 0, -1, np.searchsorted(bands, into)).astype(np.int16)
    polys, grades = [], []
    for geom, value in shapes(code, mask=code >= 0, transform=transform):
        polys.append(shapely.geometry.shape(geom))
        grades.append(GRADES[int(value)])
    raw = gpd.GeoDataFrame({"grade": grades}, geometry=polys, crs=p["city"]["crs"])
    zones = raw.dissolve("grade", as_index=False)
    zones.insert(0, "hazard_type", "landslide")
    zones["source"] = "synthetic (riskplan demo city)"
    zones = zones[["hazard_type", "grade", "source", "geometry"]]
    return DemoNaturalHazards(depth, transform, p["city"]["crs"], zones)


def write_demo_natural_hazards(
    out_dir: str | Path, *, seed: int = 42, demo_params: TableOverrides = None
) -> Path:
    """Write the rasters, ``geohazards.gpkg`` and ``natural_hazards.toml`` into ``out_dir``; return the TOML.

    Each file is written whole (a temporary file renamed), so an interrupted write leaves none.
    """
    import rasterio

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    nat = demo_natural_hazards(seed=seed, demo_params=demo_params)
    lines = [
        "# Synthetic natural hazards of the demo city (riskplan demo): not a real hazard map.",
        "[natural_hazards]",
        'label = "synthetic"',
        'zones = "geohazards.gpkg"',
        "[natural_hazards.flood_depth]",
    ]
    for period, grid in nat.depth.items():
        name = f"flood_{period:g}y.tif"
        with atomic_path(out / name) as tmp:
            profile = {
                "driver": "GTiff",
                "width": grid.shape[1],
                "height": grid.shape[0],
                "count": 1,
                "dtype": "float32",
                "crs": nat.crs,
                "transform": nat.transform,
                "nodata": -9999.0,
                "compress": "deflate",
            }
            with rasterio.open(tmp, "w", **profile) as dst:
                dst.write(grid, 1)
                tags = {"synthetic": "true", "source": "synthetic (riskplan demo city)"}
                dst.update_tags(return_period_years=f"{period:g}", **tags)
        lines.append(f'{period:g} = "{name}"')
    write_gpkg(out / "geohazards.gpkg", {"zones": nat.zones.set_index(nat.zones.index.astype(str))})
    toml = out / "natural_hazards.toml"
    with atomic_path(toml) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return toml
