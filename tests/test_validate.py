"""Validation names every problem at once, with file, layer, rows, column and fix."""

import geopandas as gpd
import pytest
from scenario_factory import small_layers
from shapely import LineString, Point, Polygon

from gis.errors import ScenarioError
from gis.validate import normalise_layer, parse_inventory, validate_layer, validate_layers


def messages(problems):
    return [str(p) for p in problems]


def test_valid_layers_have_no_problems():
    assert validate_layers(small_layers()) == []


def test_every_problem_reported_at_once():
    bow_tie = Polygon([(112.5, 37.8), (112.51, 37.81), (112.51, 37.8), (112.5, 37.81)])
    gdf = gpd.GeoDataFrame(
        {
            "id": ["C1", "C1", "C3", "C4"],
            "name": ["a", "b", "c", "d"],
            "population": [10, -5, "many", 3],
            "share_aged_65plus": [0.2, 25, 0.1, None],
        },
        geometry=[
            bow_tie,
            Polygon(),
            Point(112.5, 37.8),
            Polygon([(112.5, 37.8), (112.6, 37.8), (112.6, 37.9)]),
        ],
        crs=4326,
    )
    problems = validate_layer(gdf, "communities", file="city.gpkg")
    text = "\n".join(messages(problems))
    assert "rows [C1], column `id`: duplicate id" in text
    assert "invalid geometry" in text and "rows [C1]" in text
    assert "missing or empty geometry" in text
    assert "geometry type ['Point']" in text and "rows [C3]" in text
    assert "column `population`: negative value" in text
    assert "column `population`: not a number" in text and "rows [C3]" in text
    assert "column `share_aged_65plus`: share outside 0..1" in text
    assert all(m.startswith("`city.gpkg`, layer `communities`") for m in messages(problems))
    assert all("Fix:" in m for m in messages(problems))


def test_missing_columns_and_unknown_category():
    gdf = gpd.GeoDataFrame(
        {"id": ["H1", "H2"], "category": ["chem", "mining"]},
        geometry=[Point(112.5, 37.8), Point(112.6, 37.8)],
        crs=4326,
    )
    text = "\n".join(messages(validate_layer(gdf.drop(columns="category"), "hazards")))
    assert "column `category`: required column is missing" in text
    text = "\n".join(messages(validate_layer(gdf, "hazards")))
    assert "column `name`" not in text  # unnamed features are called by their id
    assert "rows [H1], column `category`: unknown value(s) ['chem']" in text
    assert "hazardous_chemicals" in text  # the fix lists the vocabulary


def test_vocabulary_matches_case_and_spacing_and_hints_at_near_misses():
    gdf = gpd.GeoDataFrame(
        {"id": ["H1", "H2", "H3"], "category": ["Hazardous chemicals", "MINING", "minning"]},
        geometry=[Point(112.5, 37.8), Point(112.6, 37.8), Point(112.7, 37.8)],
        crs=4326,
    )
    problems = validate_layer(gdf, "hazards")
    assert len(problems) == 1 and problems[0].rows == ("H3",)
    assert "did you mean: 'minning' -> 'mining'?" in str(problems[0])
    out = normalise_layer(gdf.iloc[:2], "hazards")
    assert out["category"].tolist() == ["hazardous_chemicals", "mining"]
    assert out["name"].tolist() == ["H1", "H2"]


def test_swapped_lat_lon_is_named():
    gdf = gpd.GeoDataFrame(
        {"id": ["S1"], "name": ["x"], "grade": ["grade1"]},
        geometry=[Point(37.85, 112.55)],
        crs=4326,
    )
    text = "\n".join(messages(validate_layer(gdf, "fire_stations")))
    assert "look swapped" in text and "rows [S1]" in text


def test_degrees_declared_as_metres():
    gdf = gpd.GeoDataFrame(
        {"id": ["S1", "S2"], "name": ["x", "y"], "grade": ["grade1", "micro"]},
        geometry=[Point(112.55, 37.85), Point(112.56, 37.86)],
        crs=32649,
    )
    text = "\n".join(messages(validate_layer(gdf, "fire_stations")))
    assert "in metres but the coordinates look like degrees" in text


def test_no_crs():
    gdf = gpd.GeoDataFrame({"id": ["S1"], "name": ["x"], "grade": ["grade1"]}, geometry=[Point(1, 2)])
    assert "has no CRS" in messages(validate_layer(gdf, "fire_stations"))[0]


def test_missing_required_layer_and_unknown_layer():
    layers = small_layers()
    del layers["fire_stations"]
    layers["stations"] = layers["hazards"]
    text = "\n".join(messages(validate_layers(layers)))
    assert "layer `fire_stations`: required layer is missing" in text
    assert "layer `stations`: unknown layer name" in text


def test_bad_inventory_rows():
    layers = small_layers()
    hz = layers["hazards"].copy()
    hz.loc[1, "inventory"] = '[{"substance": "ammonia", "q_t": 3}]'
    text = "\n".join(messages(validate_layer(hz, "hazards")))
    assert "rows [H2], column `inventory`: not a valid inventory" in text


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (None, []),
        ("", []),
        (
            '[{"substance": "ammonia", "q_t": 5, "Q_t": 10, "beta": 2}]',
            [{"substance": "ammonia", "q_t": 5.0, "Q_t": 10.0, "beta": 2.0}],
        ),
        ("not json", None),
        ('{"substance": "x"}', None),
        ('[{"substance": "x", "q_t": -1, "Q_t": 1}]', None),
    ],
)
def test_parse_inventory(cell, expected):
    assert parse_inventory(cell) == expected


def test_scenario_error_lists_all_problems():
    gdf = gpd.GeoDataFrame({"id": ["R"]}, geometry=[LineString([(0, 0), (1, 1)])], crs=4326)
    err = ScenarioError.from_problems(validate_layer(gdf, "fire_stations"), "x.toml")
    text = str(err)
    assert text.startswith("Scenario `x.toml` has")
    assert text.count("\n  - ") == len(err.problems) >= 2
    assert isinstance(err, ValueError)


def test_blank_ids_are_named_by_row_number():
    gdf = gpd.GeoDataFrame(
        {"id": ["", "S2", None], "name": ["a", "b", "c"], "grade": ["grade1"] * 3},
        geometry=[Point(112.5, 37.8)] * 3,
        crs=4326,
    )
    text = "\n".join(messages(validate_layer(gdf, "fire_stations")))
    assert "rows [row 0, row 2], column `id`: empty id" in text
