"""GCJ-02 / BD-09 conversions against published reference values and round trips."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gis import coords

# Reference pairs published with the widely used coordtransform implementations
# (Tiananmen area): WGS84 (116.404, 39.915) -> GCJ-02, and GCJ-02 -> BD-09.
WGS = (116.404, 39.915)
GCJ = (116.41024449916938, 39.91640428150164)
BD_OF_WGS_AS_GCJ = (116.41036949371029, 39.92133699351022)


def test_forward_matches_published_values():
    lon, lat = coords.wgs84_to_gcj02(*WGS)
    assert float(lon) == pytest.approx(GCJ[0], abs=1e-12)
    assert float(lat) == pytest.approx(GCJ[1], abs=1e-12)
    lon, lat = coords.gcj02_to_bd09(*WGS)
    assert float(lon) == pytest.approx(BD_OF_WGS_AS_GCJ[0], abs=1e-12)
    assert float(lat) == pytest.approx(BD_OF_WGS_AS_GCJ[1], abs=1e-12)


def test_offset_is_a_few_hundred_metres_in_taiyuan():
    lon, lat = coords.wgs84_to_gcj02(112.55, 37.86)
    dx = (float(lon) - 112.55) * 111_320 * np.cos(np.radians(37.86))
    dy = (float(lat) - 37.86) * 110_574
    assert 100 < np.hypot(dx, dy) < 1000


def test_outside_china_unchanged():
    lon, lat = coords.wgs84_to_gcj02([2.35, -102.3], [48.85, 21.9])
    np.testing.assert_array_equal(lon, [2.35, -102.3])
    np.testing.assert_array_equal(lat, [48.85, 21.9])


china_lon = st.floats(min_value=74.0, max_value=134.0)
china_lat = st.floats(min_value=18.0, max_value=53.0)


@settings(max_examples=200, deadline=None)
@given(china_lon, china_lat)
def test_gcj02_inverse_is_exact(lon, lat):
    g = coords.wgs84_to_gcj02(lon, lat)
    back = coords.gcj02_to_wgs84(*g)
    assert abs(float(back[0]) - lon) < 1e-9
    assert abs(float(back[1]) - lat) < 1e-9


@settings(max_examples=200, deadline=None)
@given(china_lon, china_lat)
def test_bd09_round_trip(lon, lat):
    b = coords.gcj02_to_bd09(*coords.wgs84_to_gcj02(lon, lat))
    back = coords.bd09_to_wgs84(*b)
    assert abs(float(back[0]) - lon) < 1e-9
    assert abs(float(back[1]) - lat) < 1e-9


def test_vectorised_and_to_wgs84_dispatch():
    lon = np.array([112.5, 112.6, 104.07])
    lat = np.array([37.8, 37.9, 30.67])
    g = coords.wgs84_to_gcj02(lon, lat)
    assert g[0].shape == (3,)
    back = coords.to_wgs84(*g, "GCJ-02")
    np.testing.assert_allclose(back[0], lon, atol=1e-9)
    np.testing.assert_allclose(coords.to_wgs84(lon, lat, "wgs84")[0], lon)
    with pytest.raises(ValueError, match="Unknown coordinate system `utm`"):
        coords.to_wgs84(lon, lat, "utm")
