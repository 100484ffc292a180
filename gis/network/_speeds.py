"""Road speed table and OSM tag parsing for :mod:`gis.network`.

Loads and validates ``gis/data/road_speeds.toml`` (overridable per call), parses ``maxspeed``
and ogr2ogr ``other_tags`` values, and turns the ``highway``, ``maxspeed``, ``oneway`` and
``junction`` tags of a line layer into per-line speeds and travel directions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import InputError
from ..tables import TableOverrides, load_table

__all__ = ["parse_maxspeed", "parse_other_tags", "speed_table"]

FloatArray = npt.NDArray[np.float64]

_FORWARD = frozenset({"yes", "true", "1"})
_BACKWARD = frozenset({"-1", "reverse"})
_TWO_WAY = frozenset({"no", "false", "0"})
_ROUNDABOUT = frozenset({"roundabout", "circular"})
_POLICIES = frozenset({"cap", "replace", "ignore"})
_MAXSPEED_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph|knots)?$")
_UNITS = {None: 1.0, "km/h": 1.0, "kmh": 1.0, "kph": 1.0, "mph": 1.609344, "knots": 1.852}


def speed_table(road_speeds: TableOverrides = None) -> dict[str, Any]:
    """Return the road speed table merged with ``road_speeds``, validated.

    Parameters
    ----------
    road_speeds
        Overrides: a mapping laid out like ``gis/data/road_speeds.toml`` or the path of such
        a TOML file. None gives the shipped table.

    Raises
    ------
    InputError
        When an entry is malformed; the message names the entry and the fix.

    Examples
    --------
    >>> t = speed_table({"highway": {"residential": {"speed_kph": 20.0}}})
    >>> t["highway"]["residential"]["speed_kph"], t["highway"]["primary"]["speed_kph"]
    (20.0, 50.0)
    """
    table = load_table("road_speeds", road_speeds)
    where = f"`{road_speeds}`" if isinstance(road_speeds, (str, Path)) else "`road_speeds`"
    defaults = table.get("defaults", {})
    policy = defaults.get("maxspeed_policy")
    if policy not in _POLICIES:
        msg = f"{where}: `defaults.maxspeed_policy` is {policy!r}. Fix: use one of {sorted(_POLICIES)}."
        raise InputError(msg)
    for key in ("default_speed_kph", "max_snap_m", "maxspeed_factor"):
        value = defaults.get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            msg = f"{where}: `defaults.{key}` is {value!r}. Fix: give a positive number."
            raise InputError(msg)
    if not isinstance(defaults.get("unknown_drivable"), bool):
        msg = f"{where}: `defaults.unknown_drivable` must be true or false. Fix: set it."
        raise InputError(msg)
    for cls, entry in table.get("highway", {}).items():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("drivable"), bool):
            msg = f"{where}: `highway.{cls}` needs `drivable = true/false`. Fix: add it."
            raise InputError(msg)
        speed = entry.get("speed_kph")
        if entry["drivable"] and (
            not isinstance(speed, (int, float)) or isinstance(speed, bool) or speed <= 0
        ):
            msg = (
                f"{where}: `highway.{cls}.speed_kph` is {speed!r} but the class is drivable. "
                "Fix: give a positive speed in km/h, or set `drivable = false`."
            )
            raise InputError(msg)
    return table


def _parse_one(value: Any, named: Mapping[str, float]) -> float:
    if value is None or isinstance(value, bool):
        return np.nan
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value) if value > 0 else np.nan
    parts = value if isinstance(value, (list, tuple)) else str(value).split(";")
    best = np.nan
    for part in parts:
        text = str(part).strip().casefold()
        if text in named:
            speed = named[text]
        elif m := _MAXSPEED_RE.match(text):
            speed = float(m.group(1)) * _UNITS[m.group(2)]
        else:
            continue
        if speed > 0 and not speed >= best:  # also true when best is NaN
            best = speed
    return best


def parse_maxspeed(values: Any, *, named: Mapping[str, float] | None = None) -> FloatArray:
    """Parse OSM ``maxspeed`` values to km/h.

    Handles ``"50"``, ``"50 km/h"``, ``"30 mph"``, ``"10 knots"``, numbers, named values
    (``"CN:urban"``: the ``[maxspeed]`` table of ``road_speeds.toml``, case-insensitive) and
    several values (``"50;60"`` or a list): the lowest wins, the cautious choice. ``"none"``,
    ``"signals"``, missing values and garbage give NaN (the class speed applies).

    Parameters
    ----------
    values
        A sequence (list, array, Series) of strings, numbers, lists or None.
    named
        Named values in km/h; defaults to the shipped table.

    Returns
    -------
    numpy.ndarray
        Speeds in km/h (float64), NaN where unknown.

    Examples
    --------
    >>> parse_maxspeed(["50", "30 mph", "50;60", "CN:urban", "none", None]).round(2).tolist()
    [50.0, 48.28, 50.0, 50.0, nan, nan]
    """
    if named is None:
        named = load_table("road_speeds")["maxspeed"]
    lookup = {str(k).casefold(): float(v) for k, v in named.items()}
    series = pd.Series(list(values) if not isinstance(values, pd.Series) else values, dtype=object)
    try:
        codes, uniques = pd.factorize(series)
    except TypeError:  # lists (osmnx merged edges) are unhashable
        series = series.map(lambda v: tuple(v) if isinstance(v, list) else v)
        codes, uniques = pd.factorize(series)
    parsed = np.array([_parse_one(u, lookup) for u in uniques] + [np.nan], dtype=np.float64)
    return parsed[codes]  # code -1 (missing) picks the trailing NaN


def parse_other_tags(other_tags: pd.Series, keys: tuple[str, ...]) -> pd.DataFrame:
    """Extract ``keys`` from an ogr2ogr OSM ``other_tags`` hstore column.

    Examples
    --------
    >>> s = pd.Series(['"lanes"=>"4","oneway"=>"yes"', None])
    >>> parse_other_tags(s, ("oneway", "maxspeed")).to_dict("list")
    {'oneway': ['yes', None], 'maxspeed': [None, None]}
    """
    text = other_tags.astype(object).where(other_tags.notna(), "")
    out = pd.DataFrame(index=other_tags.index)
    for key in keys:
        pattern = rf'"{re.escape(key)}"=>"((?:[^"\\]|\\.)*)"'
        col = text.str.extract(pattern, expand=False).astype(object)
        out[key] = col.where(col.notna(), None)
    return out


def _first_text(value: Any) -> str | None:
    if isinstance(value, (list, tuple)):
        value = value[0] if len(value) else None
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(value).strip() or None


def _text(values: pd.Series | None, n: int) -> npt.NDArray[np.object_]:
    """Tag values as an object array of stripped strings or None (lists: first item)."""
    if values is None:
        return np.full(n, None, dtype=object)
    s = pd.Series(values).reset_index(drop=True).astype(object)
    try:
        out = s.str.strip()
    except AttributeError:  # no string at all (a numeric column)
        out = pd.Series(np.nan, index=s.index, dtype=object)
    odd = (out.isna() & s.notna()).to_numpy()
    if odd.any():  # numbers, lists
        out[odd] = [_first_text(v) for v in s[odd]]
    return out.where(out.notna() & (out != ""), None).to_numpy(dtype=object)


def _osmids(values: pd.Series | None, n: int) -> npt.NDArray[np.object_]:
    out = np.full(n, None, dtype=object)
    if values is None:
        return out
    num = pd.to_numeric(pd.Series(values).reset_index(drop=True), errors="coerce")
    num = num.to_numpy(dtype=np.float64, na_value=np.nan)
    ok = np.isfinite(num)
    out[ok] = num[ok].astype(np.int64).tolist()
    return out


def _lookup(values: npt.NDArray[np.object_], fn: Any, missing: Any, dtype: Any) -> Any:
    """Apply ``fn`` to the distinct values only (class names, tags: few distinct values)."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object))
    table = np.array([fn(u) for u in uniques] + [missing], dtype=dtype)
    return table[codes]


def _speeds(
    highway: npt.NDArray[np.object_], maxspeed: npt.NDArray[np.object_], table: Mapping[str, Any]
) -> tuple[FloatArray, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Per line: speed (NaN when not drivable), drivable mask, implied-oneway mask."""
    defaults = table["defaults"]
    classes = table["highway"]
    unknown = float(defaults["default_speed_kph"]) if defaults["unknown_drivable"] else np.nan

    def entry(value: str) -> Mapping[str, Any] | None:
        return classes.get(value.split(";", 1)[0].strip().lower())

    def class_speed(value: str) -> float:
        e = entry(value)
        if e is None:
            return unknown
        return float(e["speed_kph"]) if e["drivable"] else np.nan

    speed = _lookup(highway, class_speed, np.nan, np.float64)
    implied = _lookup(highway, lambda v: bool((entry(v) or {}).get("oneway_implied")), False, bool)
    drivable = np.isfinite(speed)
    posted = parse_maxspeed(maxspeed, named=table.get("maxspeed", {}))
    policy = defaults["maxspeed_policy"]
    if policy == "cap":
        speed = np.where(drivable, np.fmin(speed, posted), speed)
    elif policy == "replace":
        replaced = posted * float(defaults["maxspeed_factor"])
        speed = np.where(drivable & np.isfinite(posted), replaced, speed)
    return speed, drivable, implied


def _directions(
    oneway: npt.NDArray[np.object_],
    junction: npt.NDArray[np.object_],
    implied: npt.NDArray[np.bool_],
) -> npt.NDArray[np.int8]:
    """1: forward only, -1: backward only, 0: both ways (unknown values count as two-way)."""
    ow = pd.Series(oneway, dtype=object).str.lower()
    fwd = ow.isin(_FORWARD).to_numpy()
    bwd = ow.isin(_BACKWARD).to_numpy()
    two = ow.isin(_TWO_WAY).to_numpy()
    rb = pd.Series(junction, dtype=object).str.lower().isin(_ROUNDABOUT).to_numpy()
    default = np.where(rb | implied, 1, 0)
    return np.select([fwd, bwd, two], [1, -1, 0], default).astype(np.int8)
