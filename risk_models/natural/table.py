"""The natural-hazard table (``risk_models/data/natural_hazards.toml``): loaded, checked, its curves.

:func:`load_natural_table` merges overrides and checks every entry, naming the entry and the fix;
:func:`impact_curve` turns a curve entry (``kind = "table"``: linear between points, or
``kind = "lognormal"``: Jonkman's mortality form) into a vectorised function of the intensity.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

from gis.errors import InputError
from gis.tables import TableOverrides, load_table

__all__ = ["NaturalTable", "impact_curve", "load_natural_table", "zone_groups"]

#: The loaded, checked table (:func:`load_natural_table`).
NaturalTable = dict[str, Any]
Curve = Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]]
_CURVE_KINDS = ("table", "lognormal")


def _fail(entry: str, problem: str, fix: str) -> NoReturn:
    msg = f"Natural-hazard table entry `{entry}` {problem}. Fix: {fix}."
    raise InputError(msg)


def _number(
    table: Mapping[str, Any], key: str, entry: str, *, low: float = 0.0, strict: bool = True
) -> float:
    value = table.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        _fail(f"{entry}.{key}", f"is {value!r}, not a number", "give a number")
    v = float(value)
    if v < low or (strict and v == low):
        bound = f"> {low:g}" if strict else f">= {low:g}"
        _fail(f"{entry}.{key}", f"is {v:g}", f"give a number {bound}")
    return v


def _check_curve(spec: Any, entry: str) -> None:
    if not isinstance(spec, Mapping) or spec.get("kind") not in _CURVE_KINDS:
        kind = spec.get("kind") if isinstance(spec, Mapping) else spec
        _fail(f"{entry}.kind", f"is {kind!r}", f"use one of {', '.join(_CURVE_KINDS)}")
    if spec["kind"] == "lognormal":
        float(_number(spec, "mu", entry, low=-math.inf))
        _number(spec, "sigma", entry)
        return
    x, y = spec.get("x"), spec.get("y")
    if not isinstance(x, list) or not isinstance(y, list) or len(x) != len(y) or len(x) < 2:
        _fail(entry, "needs lists `x` and `y` of the same length (at least 2 points)", "give both lists")
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if np.any(np.diff(xs) <= 0):
        _fail(f"{entry}.x", f"is {x}, not increasing", "list the intensities from low to high")
    if np.any(ys < 0) or np.any(ys > 1) or np.any(np.diff(ys) < 0):
        _fail(f"{entry}.y", f"is {y}", "give shares in 0..1 that never fall as the intensity rises")


def load_natural_table(table: TableOverrides = None) -> NaturalTable:
    """Return the natural-hazard table merged with overrides and checked.

    Parameters
    ----------
    table
        Overrides: a mapping or the path of a TOML file with the entries to change.

    Raises
    ------
    InputError
        A curve that is not a curve, a probability outside 0..1, a weight below 0 and the like,
        naming the entry and the fix.

    Examples
    --------
    >>> t = load_natural_table()
    >>> t["flood"]["affected_depth_m"], t["composite"]["weights"]["flood"]
    (0.15, 20.0)
    >>> load_natural_table({"flood": {"affected_depth_m": -1}})
    Traceback (most recent call last):
    ...
    gis.errors.InputError: Natural-hazard table entry `flood.affected_depth_m` is -1. Fix: give a number >= 0.
    """
    t = load_table("natural_hazards", table, package="risk_models")
    _number(t["flood"], "affected_depth_m", "flood", strict=False)
    for name in ("building_damage", "mortality"):
        _check_curve(t["flood"].get(name), f"flood.{name}")
    for group, spec in t["zones"].items():
        entry = f"zones.{group}"
        if not isinstance(spec.get("types"), list) or not spec["types"]:
            _fail(f"{entry}.types", f"is {spec.get('types')!r}", "list the hazard types of the group")
        _number(spec, "point_radius_m", entry)
        probs = {k: v for k, v in spec.get("annual_probability", {}).items() if k != "source"}
        if not probs:
            _fail(f"{entry}.annual_probability", "is empty", "give the annual probability of each grade")
        for grade in probs:
            p = _number(probs, grade, f"{entry}.annual_probability", strict=False)
            if p > 1:
                _fail(f"{entry}.annual_probability.{grade}", f"is {p:g}", "give a probability in 0..1")
    integ = t["integration"]
    if _number(integ, "protection_years", "integration") < 1:
        _fail(
            "integration.protection_years",
            f"is {integ['protection_years']}",
            "give a return period >= 1 year",
        )
    if integ.get("beyond_largest") not in ("constant", "none"):
        _fail("integration.beyond_largest", f"is {integ.get('beyond_largest')!r}", 'use "constant" or "none"')
    _number(t["composite"], "reference_annual_share", "composite")
    for name in t["composite"]["weights"]:
        _number(t["composite"]["weights"], name, "composite.weights", strict=False)
    return t


def impact_curve(spec: Mapping[str, Any]) -> Curve:
    """A vectorised impact function from a curve entry of the table.

    Examples
    --------
    >>> t = load_natural_table()
    >>> damage = impact_curve(t["flood"]["building_damage"])
    >>> damage(np.array([0.0, 0.25, 1.0, 9.0])).round(3).tolist()
    [0.0, 0.165, 0.49, 1.0]
    >>> death = impact_curve(t["flood"]["mortality"])
    >>> [round(float(v), 5) for v in death(np.array([0.0, 1.0, 3.0]))]
    [0.0, 0.00286, 0.00904]
    """
    if spec["kind"] == "lognormal":
        mu, sigma = float(spec["mu"]), float(spec["sigma"])

        def lognormal(h: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            h = np.asarray(h, dtype=np.float64)
            with np.errstate(divide="ignore"):
                z = (np.log(np.where(h > 0, h, 1.0)) - mu) / sigma
            return np.where(h > 0, ndtr(z), 0.0)

        return lognormal
    xs = np.asarray(spec["x"], dtype=np.float64)
    ys = np.asarray(spec["y"], dtype=np.float64)

    def table(h: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.interp(np.asarray(h, dtype=np.float64), xs, ys, left=ys[0], right=ys[-1])

    return table


def zone_groups(table: NaturalTable) -> dict[str, str]:
    """Hazard type -> its zone group (``"landslide"`` -> ``"geological"``).

    Examples
    --------
    >>> zone_groups(load_natural_table())["debris_flow"]
    'geological'
    """
    return {str(kind): group for group, spec in table["zones"].items() for kind in spec["types"]}
