"""A polygon layer over the map's vertex budget (a province's isochrones) is drawn simplified."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import shapely

from maps._layers import Display, polygon_spec


def _staircase(n: int) -> shapely.Polygon:
    """A 50 m pixel staircase of ``n`` steps: what isochrone and district rasters look like."""
    xs = np.repeat(np.arange(n + 1) * 50.0, 2)[1:]
    ys = np.repeat(np.arange(n + 1) * 50.0, 2)[:-1]
    ring = np.r_[np.column_stack([xs, ys]), [[0.0, n * 50.0]]]
    return shapely.Polygon(np.r_[ring, ring[:1]])


def _count(spec: dict) -> int:
    return sum(
        int(shapely.get_num_coordinates(shapely.from_geojson(json.dumps(f["geometry"]))))
        for f in spec["data"]["features"]
    )


def test_layer_over_the_vertex_budget_is_simplified_and_says_so() -> None:
    gdf = gpd.GeoDataFrame(
        {"n": ["a", "b"]},
        geometry=[_staircase(2000), shapely.affinity.translate(_staircase(2000), 200_000)],
        crs=32650,
    )
    kw = {"layer_id": "isochrones", "props": {"n": "n"}, "style": {}, "tooltip": None}
    free = polygon_spec(gdf, display=Display(simplify_m=5, decimals=6, gcj02=False), **kw)
    assert "note" not in free and _count(free) > 8000
    within = polygon_spec(
        gdf, display=Display(simplify_m=5, decimals=6, gcj02=False, max_vertices=10**6), **kw
    )
    assert "note" not in within and _count(within) == _count(free)
    tight = polygon_spec(gdf, display=Display(simplify_m=5, decimals=6, gcj02=False, max_vertices=1000), **kw)
    assert _count(tight) <= 1000
    assert "simplified to" in tight["note"] and "isochrones" in tight["note"]
    # still the same shapes, within the tolerance: areas within a few percent
    a = [shapely.from_geojson(json.dumps(f["geometry"])) for f in free["data"]["features"]]
    b = [shapely.from_geojson(json.dumps(f["geometry"])) for f in tight["data"]["features"]]
    assert np.allclose(shapely.area(b), shapely.area(a), rtol=0.05)
