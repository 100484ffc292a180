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


def test_risk_figure_paints_a_grid_over_the_budget_as_an_image() -> None:
    from maps.figures import figure_png, risk_figure
    from risk_models.model import RiskResult

    side = 60  # 3,600 cells of 500 m, over a budget of 100
    gx, gy = np.meshgrid(np.arange(side) * 500.0, np.arange(side) * 500.0)
    cells = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + 500, gy.ravel() + 500)
    level = np.array(["red", "orange", "yellow", "blue"])[(gx.ravel() // 7_500).astype(int) % 4]
    units = gpd.GeoDataFrame({"level": level, "score": np.arange(len(cells))}, geometry=cells, crs=32650)
    risk = RiskResult(units, None, (), "grid:500", None, {}, "test")
    small = {"display": {"max_polygons": 100}}
    fig = risk_figure(risk, map_style=small)
    png = figure_png(fig)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    # one image of the levels instead of 3,600 patches, each level in its colour
    ax = fig.axes[0]
    (image,) = ax.get_images()
    rgba = np.ma.getdata(image.get_array()).reshape(-1, 4)
    from matplotlib.colors import to_rgba

    from maps._style import load_style

    colours = {tuple(np.round(to_rgba(v["colour"]), 6)) for v in load_style()["risk_levels"].values()}
    seen = {tuple(c) for c in np.unique(np.round(rgba[rgba[:, 3] > 0], 6), axis=0)}
    assert seen == colours
    assert len(ax.collections) < 10


def test_report_embeds_the_map_page_given() -> None:
    import html as html_module

    from gis import RoadsSource, Scenario, demo_city, graph_from_lines
    from maps.report import report_html
    from planning import analyse_coverage
    from risk_models import score_scenario

    city = demo_city(n_road_nodes=2000)
    sc = Scenario("Demo City (synthetic)", city, city["roads"].crs, RoadsSource("layer"), synthetic=True)
    cov = analyse_coverage(sc, graph_from_lines(city["roads"]), breaks_s=[300], districts=False)
    risk = score_scenario(sc, learn=False)
    page = "<html><body>the map drawn before</body></html>"
    text = report_html(sc, risk=risk, coverage=cov, map_page=page, lang="en")
    assert html_module.escape(page, quote=True) in text
