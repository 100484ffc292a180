"""Floods inside ``riskplan run``: the roads a flood closes, the coverage it costs, the depots' flooded roads.

The scenario TOML's ``[natural_hazards]`` (:mod:`risk_models.natural`) names flood depth rasters per
return period. With ``closure_return_period = T`` (one of them; checked when the table is read,
before anything is written) the run closes the roads that flood puts deeper than
``[flood_roads] closed_depth_m`` under water (:func:`planning.flooded_edges`) and computes the
first-engine coverage without them through the what-if (:func:`planning.what_if.what_if` on the
run's own graph, so the baseline is the run's coverage). :func:`flood_coverage` adds to the
coverage (and so to ``coverage.gpkg``, the map and the report):

- ``flood_communities``: per community the response before and after, ``seconds_lost``,
  ``loses_coverage`` (covered -> not covered), ``cut_off`` (no station reaches it any more);
- ``flood_closed_roads``: the closed road edges with ``depth_m`` (the deepest water along each);
- ``flood_depth``: the flood's depth as polygons of depth classes (:data:`DEPTH_CLASSES_M`), light
  enough for the map;
- the tables ``flood_summary`` (the what-if's city figures) and ``flood_residents`` (residents
  affected per return period and a year in expectation, from the risk's flood figures).

The relief depots plan for ``relocation_return_period``'s flood (its displaced residents), with
delivery times on the roads that flood leaves open (:func:`depot_flood_depth`).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.network import as_road_graph
from gis.rasters import open_raster, require_raster_crs
from planning.change import ScenarioChange
from planning.flood_roads import flooded_edges
from planning.what_if import WhatIfBaseline, what_if

if TYPE_CHECKING:
    from gis.network import GraphLike
    from gis.scenario import Scenario
    from planning.coverage import CoverageResult
    from risk_models import RiskResult
    from risk_models.natural import NaturalHazards

__all__ = [
    "DEPTH_CLASSES_M",
    "FLOOD_LAYERS",
    "depot_flood_depth",
    "flood_coverage",
    "flood_depth_polygons",
    "flood_residents",
    "flood_summary",
]

log = logging.getLogger(__name__)

#: Lower bounds of the flood depth classes drawn (metres): 0.15 m the kerb height from which
#: residents count as affected (``flood.affected_depth_m`` of ``natural_hazards.toml``), 0.3 m
#: where roads close (``[flood_roads] closed_depth_m``), then knee, chest and storey heights.
DEPTH_CLASSES_M = (0.15, 0.3, 0.5, 1.5, 3.0)
#: The layers :func:`flood_coverage` adds to the coverage.
FLOOD_LAYERS = ("flood_communities", "flood_closed_roads", "flood_depth")


def flood_depth_polygons(
    raster: str | Path, *, classes: tuple[float, ...] = DEPTH_CLASSES_M, crs: Any = None
) -> gpd.GeoDataFrame:
    """The flood depth raster as polygons of depth classes (``depth_min_m``, ``depth_max_m``).

    Each class's pixels are dissolved into one (multi)polygon (rasterio's polygonize), in the
    raster's CRS or ``crs``. Pixels shallower than the first class are left out.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, rasterio
    >>> from rasterio.transform import from_origin
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "d.tif"
    >>> with rasterio.open(p, "w", driver="GTiff", width=3, height=1, count=1, dtype="float32",
    ...                    crs="EPSG:32649", transform=from_origin(0, 10, 10, 10)) as dst:
    ...     dst.write(np.array([[0.0, 0.4, 2.0]], dtype="float32"), 1)
    >>> flood_depth_polygons(p)[["depth_min_m", "area_km2"]].values.tolist()
    [[0.3, 0.0001], [1.5, 0.0001]]
    """
    from rasterio.features import shapes

    path = Path(raster)
    with open_raster(path, what="Flood depth raster") as src:
        src_crs = require_raster_crs(src, path, what="Flood depth raster")
        grid = src.read(1, masked=True).astype(np.float64).filled(0.0)
        transform = src.transform
    bounds = np.asarray([*classes, np.inf], dtype=np.float64)
    cls = np.searchsorted(bounds, np.nan_to_num(grid, nan=0.0), side="right").astype(np.int32)
    rows = []
    for k in range(1, len(bounds)):
        mask = cls == k
        if not mask.any():
            continue
        parts = [shapely.geometry.shape(g) for g, _ in shapes(cls, mask=mask, transform=transform)]
        rows.append(
            {
                "depth_min_m": float(bounds[k - 1]),
                "depth_max_m": float(bounds[k]) if np.isfinite(bounds[k]) else None,
                "geometry": shapely.union_all(parts),
            }
        )
    out = gpd.GeoDataFrame(
        rows or {"depth_min_m": [], "depth_max_m": [], "geometry": []}, geometry="geometry", crs=src_crs
    )
    out["area_km2"] = (out.geometry.area / 1e6).round(6) if len(out) else []
    return out.to_crs(crs) if crs is not None and len(out) else out


def flood_residents(risk: RiskResult | None) -> pd.DataFrame | None:
    """Residents affected per return period and a year in expectation, from the risk's flood figures.

    One row per return period (``return_period``, ``residents_affected``, ``units_affected``) and a
    last row ``expected_annual`` (``eae_affected_flood``); None when the risk has no flood figures.
    """
    if risk is None:
        return None
    u = risk.units
    cols = sorted(
        (c for c in u.columns if c.startswith("flood_affected_rp")),
        key=lambda c: float(c.removeprefix("flood_affected_rp")),
    )
    if not cols or "population" not in u:
        return None
    pop = pd.to_numeric(u["population"], errors="coerce").fillna(0.0)
    rows = [
        {
            "return_period": c.removeprefix("flood_affected_rp"),
            "residents_affected": float((pop * u[c].astype(float)).sum()),
            "units_affected": int((u[c].astype(float) > 0).sum()),
        }
        for c in cols
    ]
    if "eae_affected_flood" in u:
        eae = u["eae_affected_flood"].astype(float)
        rows.append(
            {
                "return_period": "expected_annual",
                "residents_affected": float(eae.sum()),
                "units_affected": int((eae > 0).sum()),
            }
        )
    return pd.DataFrame(rows)


def flood_coverage(
    scenario: Scenario,
    graph: GraphLike,
    coverage: CoverageResult,
    natural: NaturalHazards | None,
    *,
    risk: RiskResult | None = None,
    standard: str | None = None,
    max_snap_m: float | None = None,
) -> CoverageResult:
    """``coverage`` with the flood's layers and tables (see the module notes); as is without a flood.

    Parameters
    ----------
    scenario, graph
        The run's scenario and the road graph its coverage was computed on.
    coverage
        The run's coverage (its standard and speed factor are the what-if's).
    natural
        The scenario's natural hazards (``closure_return_period`` chooses the flood closed).
    risk
        The run's risk: its flood figures per return period go into ``flood_residents``.
    standard, max_snap_m
        As for the coverage (``standard`` defaults to the coverage's own).
    """
    tables: dict[str, pd.DataFrame] = {}
    residents = flood_residents(risk)
    if residents is not None:
        tables["flood_residents"] = residents
    period = natural.closure_return_period if natural is not None else None
    if natural is None or period is None:
        return dataclasses.replace(coverage, extra_tables={**coverage.extra_tables, **tables})
    raster = natural.flood_depth[period]
    g = as_road_graph(graph)
    closed, depth = flooded_edges(g, raster)
    base = WhatIfBaseline.from_scenario(
        scenario,
        g,
        standard=standard or coverage.standard,
        speed_factor=coverage.speed_factor,
        max_snap_m=max_snap_m,
    )
    change = ScenarioChange(closed_edges=tuple(np.flatnonzero(closed).tolist()), source=raster.name)
    res = what_if(base, change)
    roads = res.closed_edges.assign(depth_m=depth[res.closed_edges["edge"].to_numpy(np.int64)])
    roads["return_period"] = period
    summary = {"return_period": period, **res.summary}
    summary.pop("seconds", None)  # a timing, not a figure of the flood
    tables["flood_summary"] = pd.DataFrame(
        {"measure": list(summary), "value": [float(v) for v in summary.values()]}
    )
    layers = {
        "flood_communities": res.communities,
        "flood_closed_roads": roads,
        "flood_depth": flood_depth_polygons(raster, crs=coverage.communities.crs),
    }
    s = res.summary
    note = (
        f"the {period:g}-year flood closes {int(s['closed_edges'])} road edges deeper than the "
        f"closure depth: {s['residents_losing_coverage']:,.0f} residents lose coverage "
        f"({int(s['communities_losing_coverage'])} communities), {s['residents_cut_off']:,.0f} cut off"
    )
    log.info("%s", note)
    return dataclasses.replace(
        coverage,
        extra_layers={**coverage.extra_layers, **layers},
        extra_tables={**coverage.extra_tables, **tables},
        notes=(*coverage.notes, note),
    )


def flood_summary(coverage: CoverageResult, depots: Any = None) -> dict[str, float] | None:
    """The flood's figures for ``summary.json``: the closure's city figures and the depots' cut-off."""
    out: dict[str, float] = {}
    t = coverage.extra_tables.get("flood_summary")
    if t is not None:
        out |= dict(zip(t["measure"], t["value"].astype(float), strict=True))
    c = getattr(depots, "communities", None)
    if c is not None and "flood_cut_off" in c:
        out["depot_communities_cut_off"] = float(c["flood_cut_off"].sum())
        out["depot_people_cut_off"] = float(c.loc[c["flood_cut_off"], "relocate_people"].sum())
    return out or None


def depot_flood_depth(natural: NaturalHazards | None) -> Path | None:
    """The depth raster of the flood the depots plan for (``relocation_return_period``), or None."""
    if natural is None or natural.relocation_return_period is None:
        return None
    return natural.flood_depth[natural.relocation_return_period]
