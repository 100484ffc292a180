"""The CRS policy at the edges: errors that name both CRSs and the fix, local UTM zones."""

import geopandas as gpd
import pytest
from shapely import Point

from gis.crs import check_coordinates, local_metric_crs, require_metric, require_same_crs, to_metric
from gis.errors import CRSError


def _pts(crs, xy=(112.55, 37.85)):
    return gpd.GeoDataFrame(geometry=[Point(*xy)], crs=crs)


def test_require_same_crs_names_both_and_the_fix():
    with pytest.raises(
        CRSError, match=r"`hazards` is in EPSG:4326 but `communities` is in EPSG:32649.*to_crs"
    ):
        require_same_crs(_pts(4326), _pts(4326).to_crs(32649), names=("hazards", "communities"))
    require_same_crs(_pts(32649, (660000, 4190000)), _pts(32649, (661000, 4191000)))


def test_require_metric_refuses_degrees_and_no_crs():
    with pytest.raises(
        CRSError, match=r"`hazards` must be in a projected CRS in metres, but it is in EPSG:4326"
    ):
        require_metric(_pts(4326), what="hazards")
    with pytest.raises(CRSError, match="no CRS"):
        require_metric(gpd.GeoDataFrame(geometry=[Point(0, 0)]), what="x")
    require_metric(_pts(4326).to_crs(32649), what="hazards")


def test_local_utm_and_to_metric():
    assert local_metric_crs(_pts(4326)).to_epsg() == 32649  # Taiyuan
    assert local_metric_crs(_pts(4326, (104.07, 30.67))).to_epsg() == 32648  # Chengdu
    metric = to_metric(_pts(4326))
    assert metric.crs.to_epsg() == 32649
    assert to_metric(metric) is metric  # already in metres: unchanged


def test_check_coordinates():
    with pytest.raises(CRSError, match="has no CRS"):
        check_coordinates(gpd.GeoDataFrame(geometry=[Point(0, 0)]), layer="hazards")
    with pytest.raises(CRSError, match="look swapped"):
        check_coordinates(_pts(4326, (37.85, 112.55)), file="h.csv", layer="hazards")
    check_coordinates(_pts(4326))
