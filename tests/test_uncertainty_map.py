"""The uncertainty on the map (issue 19): hatched units are the uncertain ones only."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

import gis
from maps import risk_map
from maps.interactive import read_map_layers
from risk_models import score_scenario


@pytest.fixture(scope="module")
def city() -> dict:
    return gis.demo_city(n_road_nodes=2000)


def test_the_hatch_appears_for_uncertain_units_only(city: dict) -> None:
    risk = score_scenario(city, learn=False)
    u = risk.units[["level", "score"]].copy()
    flagged = list(u.index[:3])
    u["uncertain"] = u.index.isin(flagged)
    u["p_red"], u["level_likely"], u["level_probability"], u["drivers"] = 0.4, "red", 0.55, "x 0.50"
    u = gpd.GeoDataFrame(u, geometry=risk.units.geometry, crs=risk.units.crs)
    page = risk_map(city, risk=risk, uncertainty=u, lang="en").get_root().render()
    spec = read_map_layers(page)["uncertain"]
    assert spec["cls"] == "rp-uncertain"
    assert sorted(f["properties"]["id"] for f in spec["data"]["features"]) == sorted(map(str, flagged))
    assert "x 0.50" in spec["data"]["features"][0]["properties"]["dr"]
    assert "path.rp-uncertain { fill: url(#rp-hatch-uncertain); }" in page
    assert 'id="rp-hatch-uncertain"' in page and "Uncertain level: no level has at least 70%" in page
    none = u.assign(uncertain=False)
    page = risk_map(city, risk=risk, uncertainty=none, lang="en").get_root().render()
    assert "uncertain" not in read_map_layers(page) and "no level has at least" not in page


def test_no_uncertainty_column_draws_no_layer() -> None:
    from maps._layers import Display
    from maps._uncertainty import uncertainty_spec

    u = gpd.GeoDataFrame({"level": ["red"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=32650)
    assert uncertainty_spec(u, Display(simplify_m=5, decimals=5, gcj02=False)) is None
