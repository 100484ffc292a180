"""Chinese map coordinates: GCJ-02 ("Mars" coordinates) and BD-09 to and from WGS84.

Web maps in mainland China (AMap/Gaode, Tencent, Google China) publish GCJ-02
coordinates, an obfuscated WGS84 offset by up to several hundred metres; Baidu
publishes BD-09, a further rotation of GCJ-02. Points digitised from those maps
must be converted before they meet OpenStreetMap roads.

The forward transform is the widely published polynomial; the inverse is solved
by fixed-point iteration to better than 1e-9 degrees (about 0.1 mm), not by the
common one-step approximation, which is off by up to a couple of metres.
Outside mainland China the obfuscation does not apply and points are returned
unchanged, as the public implementations do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
import numpy.typing as npt

from .errors import InputError

__all__ = [
    "COORDINATE_SYSTEMS",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "to_wgs84",
    "wgs84_to_gcj02",
]

Array = npt.NDArray[np.float64]
CoordinateSystem = Literal["wgs84", "gcj02", "bd09"]
COORDINATE_SYSTEMS: tuple[str, ...] = ("wgs84", "gcj02", "bd09")

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 algorithm.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0


def _arrays(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Array, Array]:
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def _in_china(lon: Array, lat: Array) -> npt.NDArray[np.bool_]:
    """The rough mainland-China box of the public implementations."""
    return (lon > 73.66) & (lon < 135.05) & (lat > 3.86) & (lat < 53.55)


def _delta(lon: Array, lat: Array) -> tuple[Array, Array]:
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    periodic = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    dlat = dlat + periodic
    dlat = dlat + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat = dlat + (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    dlon = dlon + periodic
    dlon = dlon + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon = dlon + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Array, Array]:
    """Convert WGS84 longitude/latitude (degrees) to GCJ-02.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(116.404, 39.915)
    >>> print(f"{float(lon):.6f} {float(lat):.6f}")
    116.410244 39.916404
    """
    lon, lat = _arrays(lon, lat)
    dlon, dlat = _delta(lon, lat)
    inside = _in_china(lon, lat)
    return np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat)


def gcj02_to_wgs84(
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    *,
    tol_deg: float = 1e-10,
    max_iter: int = 30,
) -> tuple[Array, Array]:
    """Convert GCJ-02 longitude/latitude to WGS84 by fixed-point iteration.

    Examples
    --------
    >>> lon, lat = gcj02_to_wgs84(116.41024449916938, 39.91640428150164)
    >>> print(f"{float(lon):.9f} {float(lat):.9f}")
    116.404000000 39.915000000
    """
    glon, glat = _arrays(lon, lat)
    return _invert(wgs84_to_gcj02, glon, glat, glon.copy(), glat.copy(), tol_deg=tol_deg, max_iter=max_iter)


def _invert(
    forward: Callable[[Array, Array], tuple[Array, Array]],
    target_lon: Array,
    target_lat: Array,
    lon: Array,
    lat: Array,
    *,
    tol_deg: float,
    max_iter: int,
) -> tuple[Array, Array]:
    """Solve ``forward(lon, lat) == target`` by fixed-point iteration from a first guess."""
    for _ in range(max_iter):
        flon, flat = forward(lon, lat)
        elon, elat = flon - target_lon, flat - target_lat
        lon = lon - elon
        lat = lat - elat
        if np.all(np.abs(elon) < tol_deg) and np.all(np.abs(elat) < tol_deg):
            break
    return lon, lat


def gcj02_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Array, Array]:
    """Convert GCJ-02 to Baidu BD-09.

    Examples
    --------
    >>> lon, lat = gcj02_to_bd09(116.404, 39.915)
    >>> print(f"{float(lon):.6f} {float(lat):.6f}")
    116.410369 39.921337
    """
    x, y = _arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    *,
    tol_deg: float = 1e-10,
    max_iter: int = 30,
) -> tuple[Array, Array]:
    """Convert Baidu BD-09 to GCJ-02 (iterated to invert :func:`gcj02_to_bd09` exactly)."""
    blon, blat = _arrays(lon, lat)
    x, y = blon - 0.0065, blat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    first_lon, first_lat = z * np.cos(theta), z * np.sin(theta)
    return _invert(gcj02_to_bd09, blon, blat, first_lon, first_lat, tol_deg=tol_deg, max_iter=max_iter)


def bd09_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Array, Array]:
    """Convert Baidu BD-09 to WGS84."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def to_wgs84(
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    system: CoordinateSystem | str,
) -> tuple[Array, Array]:
    """Convert coordinates in ``system`` (``wgs84``, ``gcj02`` or ``bd09``) to WGS84.

    Examples
    --------
    >>> lon, lat = to_wgs84([116.410244], [39.916404], "gcj02")
    >>> print(f"{lon[0]:.4f} {lat[0]:.4f}")
    116.4040 39.9150
    """
    system = str(system).lower().replace("-", "").replace("_", "")
    if system == "wgs84":
        return _arrays(lon, lat)
    if system == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if system == "bd09":
        return bd09_to_wgs84(lon, lat)
    msg = f"Unknown coordinate system `{system}`. Fix: use one of {', '.join(COORDINATE_SYSTEMS)}."
    raise InputError(msg)
