"""The measure-cost table ``planning/data/upgrade_measures.toml``, loaded and checked (internal).

:func:`load_upgrade_measures` (public through :mod:`planning.upgrades`) reads the shipped table
merged with a city's overrides into a frozen :class:`UpgradeMeasures`; the shipped default is
built once and shared.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, NoReturn

import pandas as pd

from gis.errors import InputError
from gis.tables import TableOverrides, load_table, read_toml

__all__ = ["MEASURE_COLUMNS", "UpgradeMeasures", "load_upgrade_measures"]

_TABLE = "upgrade_measures"
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_COSTS = ("fixed_cny", "per_household_cny", "per_unit_cny")
_KEYS = frozenset(
    {"item", "title", *_COSTS, "unit", "unit_column", "households_per_unit", "restores", "source"}
)
#: Columns of :attr:`UpgradeMeasures.table` (indexed by measure id).
MEASURE_COLUMNS: tuple[str, ...] = (
    "item",
    "title",
    "fixed_cny",
    "per_household_cny",
    "per_unit_cny",
    "unit",
    "unit_column",
    "households_per_unit",
    "restores",
    "source",
)


@dataclass(frozen=True, eq=False)
class UpgradeMeasures:
    """The checked measure-cost table.

    Attributes
    ----------
    table
        One row per measure (index: measure id), columns :data:`MEASURE_COLUMNS`; a copy.
    vulnerability_weight
        Fall of the vulnerability factor per 100 score points restored (``[risk]``).
    household_size
        Persons per household, for communities without a ``households`` column.
    origin
        Where the overrides came from (``"shipped"``, a file path or ``"mapping"``).
    """

    _table: pd.DataFrame
    vulnerability_weight: float
    household_size: float
    origin: str = "shipped"

    @property
    def table(self) -> pd.DataFrame:
        """The measures, one row per measure id (a copy the caller may change)."""
        return self._table.copy()

    @property
    def items(self) -> list[str]:
        """Survey items with at least one measure, sorted."""
        return sorted(set(self._table["item"]))

    def for_item(self, item: str) -> list[str]:
        """Measure ids that put ``item`` right (the alternatives of one group)."""
        return sorted(self._table.index[self._table["item"] == item])


def _fail(origin: str, entry: str, problem: str, fix: str) -> NoReturn:
    msg = f"Upgrade measures ({origin}) entry `{entry}` {problem}. Fix: {fix}."
    raise InputError(msg)


def _number(origin: str, entry: str, value: Any, *, positive: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)
    if not ok or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        _fail(origin, entry, f"is {value!r}, not a number {bound}", f"set it to a number {bound}")
    return float(value)


def _measure(origin: str, mid: str, spec: Any) -> dict[str, Any]:
    where = f"measures.{mid}"
    if not _ID.match(mid):
        _fail(origin, where, "is not a snake_case id", "name measures with lower-case letters, digits and _")
    if not isinstance(spec, Mapping):
        _fail(origin, where, f"is {spec!r}, not a table", f"write it as a `[{where}]` table")
    unknown = sorted(set(spec) - _KEYS)
    if unknown:
        _fail(origin, where, f"has unknown keys {unknown}", f"use only {sorted(_KEYS)}")
    item = spec.get("item")
    if not isinstance(item, str) or not _ID.match(item):
        _fail(
            origin, f"{where}.item", f"is {item!r}", "give the snake_case id of the survey item it puts right"
        )
    for key in ("title", "source"):
        if not isinstance(spec.get(key), str) or not spec[key].strip():
            fix = 'say where the figures come from ("riskplan default estimate" when none)'
            _fail(
                origin,
                f"{where}.{key}",
                "is missing or empty",
                fix if key == "source" else "describe the measure",
            )
    costs = {key: _number(origin, f"{where}.{key}", spec.get(key, 0.0)) for key in _COSTS}
    if not any(costs.values()):
        _fail(origin, where, "has no cost", "give fixed_cny, per_household_cny or per_unit_cny")
    restores = _number(origin, f"{where}.restores", spec.get("restores"), positive=True)
    if restores > 1.0:
        _fail(
            origin, f"{where}.restores", f"is {restores}, above 1", "give the share of lost points, at most 1"
        )
    unit, column, per = spec.get("unit"), spec.get("unit_column"), spec.get("households_per_unit")
    if costs["per_unit_cny"] > 0:
        if not isinstance(unit, str) or not unit.strip():
            _fail(origin, f"{where}.unit", "is missing", "say what one unit is (an elevator car, a building)")
        if per is None and column is None:
            _fail(
                origin,
                where,
                "has a per-unit cost but no way to count units",
                "give `households_per_unit`, `unit_column` or both",
            )
    if column is not None and (not isinstance(column, str) or not column):
        _fail(origin, f"{where}.unit_column", f"is {column!r}", "name a column of the communities layer")
    hpu = (
        _number(origin, f"{where}.households_per_unit", per, positive=True)
        if per is not None
        else float("nan")
    )
    return {
        "item": item,
        "title": spec["title"].strip(),
        **costs,
        "unit": unit or "",
        "unit_column": column or "",
        "households_per_unit": hpu,
        "restores": restores,
        "source": spec["source"].strip(),
    }


def _build(raw: Mapping[str, Any], origin: str) -> UpgradeMeasures:
    unknown = sorted(set(raw) - {"defaults", "risk", "measures"})
    if unknown:
        _fail(
            origin,
            "(top level)",
            f"has unknown tables {unknown}",
            "use [defaults], [risk] and [measures.<id>]",
        )
    measures = raw.get("measures")
    if not isinstance(measures, Mapping) or not measures:
        _fail(origin, "measures", "is missing or empty", "give at least one [measures.<id>] table")
    rows = {mid: _measure(origin, mid, spec) for mid, spec in measures.items()}
    risk, defaults = raw.get("risk", {}), raw.get("defaults", {})
    weight = _number(origin, "risk.vulnerability_weight", risk.get("vulnerability_weight"), positive=True)
    size = _number(origin, "defaults.household_size", defaults.get("household_size"), positive=True)
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(MEASURE_COLUMNS))
    table.index.name = "measure"
    return UpgradeMeasures(table.sort_index(), weight, size, origin)


@cache
def _default() -> UpgradeMeasures:
    return _build(load_table(_TABLE, package="planning"), "shipped")


def load_upgrade_measures(upgrade_measures: UpgradeMeasures | TableOverrides = None) -> UpgradeMeasures:
    """Return the measure-cost table merged with a city's overrides and checked.

    Parameters
    ----------
    upgrade_measures
        A loaded :class:`UpgradeMeasures` (returned as it is), or overrides of
        ``planning/data/upgrade_measures.toml``: a mapping, or the path of a city's TOML file
        holding the entries to change or add.

    Returns
    -------
    UpgradeMeasures
        Frozen; the shipped default is built once and shared.

    Raises
    ------
    InputError
        A measure without an item, title, source or cost, a negative cost, a share restored
        outside ``(0, 1]``, a per-unit cost with no way to count units, unknown keys; the
        message names the file and the entry.

    Examples
    --------
    >>> m = load_upgrade_measures({"measures": {"fire_lane_clearing": {"fixed_cny": 30000}}})
    >>> float(m.table.loc["fire_lane_clearing", "fixed_cny"]), m.for_item("elevator_age")
    (30000.0, ['elevator_overhaul', 'elevator_renewal'])
    >>> load_upgrade_measures({"measures": {"bad": {"item": "x"}}})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gis.errors.InputError: Upgrade measures (mapping) entry `measures.bad.title` is missing or empty. ...
    """
    if isinstance(upgrade_measures, UpgradeMeasures):
        return upgrade_measures
    if upgrade_measures is None:
        return _default()
    origin = f"file `{upgrade_measures}`" if isinstance(upgrade_measures, (str, Path)) else "mapping"
    overrides = read_toml(upgrade_measures) if isinstance(upgrade_measures, (str, Path)) else upgrade_measures
    return _build(load_table(_TABLE, overrides, package="planning"), origin)
