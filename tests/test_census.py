"""Census tables: codes kept as text, UTF-8 or GB18030, joined by code or name with a match report."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely import box

from gis import InputError
from gis.census import join_census, normalise_key, read_census


@pytest.fixture
def polygons() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": ["东风社区", "West Gate", "New Estate"], "ref": ["0101", None, "0103"]},
        index=pd.Index(["0101", "0102", "w7"]),
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)],
        crs=32649,
    )


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_read_census_keeps_codes_as_text_in_any_encoding(tmp_path: Path, encoding: str) -> None:
    csv = tmp_path / "census.csv"
    csv.write_text("社区代码,社区名称,常住人口\n0101,东风社区,1200\n0102,西门社区,800\n", encoding=encoding)
    table = read_census(csv, "社区代码")
    assert table["社区代码"].tolist() == ["0101", "0102"]
    assert table["社区名称"].tolist() == ["东风社区", "西门社区"]


def test_read_census_errors_name_file_column_and_fix(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nowhere\.csv` does not exist. Fix"):
        read_census(tmp_path / "nowhere.csv", "code")
    csv = tmp_path / "c.csv"
    csv.write_text("code,pop\n1,2\n", encoding="utf-8")
    with pytest.raises(
        InputError, match=r"has no column `社区代码` \(it has \['code', 'pop'\]\). Fix: .*--census-key"
    ):
        read_census(csv, "社区代码")


def test_join_by_code_reports_both_sides(polygons: gpd.GeoDataFrame) -> None:
    census = pd.DataFrame({"code": ["0101", "0102", "0199"], "常住人口": [1200, 800, 300]})
    j = join_census(polygons, census, key="code")
    assert j.on == "index"
    assert j.joined["常住人口"].tolist()[:2] == [1200, 800] and pd.isna(j.joined["常住人口"].iloc[2])
    assert j.joined.index.tolist() == polygons.index.tolist()
    assert j.matched == ("0101", "0102") and j.only_polygons == ("w7",) and j.only_census == ("0199",)
    assert j.unmatched_population == 300
    text = j.report()
    assert "2 of 3 polygons matched" in text and "['0199'] (300 residents not on the map)" in text
    assert "polygons without census (1): ['w7']" in text


def test_join_by_name_wins_when_it_matches_more(polygons: gpd.GeoDataFrame) -> None:
    census = pd.DataFrame({"name": ["东风社区", "west  gate", "NEW ESTATE"], "population": [1, 2, 3]})
    j = join_census(polygons, census, key="name", on=["index", "name", "ref"])
    assert j.on == "name" and j.joined["population"].tolist() == [1, 2, 3] and not j.only_census


def test_duplicate_keys_and_bad_columns_are_refused(polygons: gpd.GeoDataFrame) -> None:
    census = pd.DataFrame({"code": ["0101", " 0101"], "population": [1, 2]})
    with pytest.raises(InputError, match=r"duplicate keys .*Fix: keep one row per area"):
        join_census(polygons, census, key="code")
    with pytest.raises(InputError, match="no column `nope`"):
        join_census(polygons, census, key="nope")
    with pytest.raises(InputError, match=r"`on` names polygon column\(s\) \['district'\]"):
        join_census(polygons, census.iloc[:1], key="code", on="district")


def test_normalise_key() -> None:
    assert normalise_key(" Dong\u3000Feng ") == "dong feng"  # ideographic space
    assert normalise_key("") is None and normalise_key(float("nan")) is None
