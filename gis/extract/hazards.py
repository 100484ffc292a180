"""Hazard sources from OSM tags: the rule table ``gis/data/osm_hazards.toml`` and its engine.

Rules are tried in the table's order; the first whose every tag matches gives the feature its
``category`` (one of :data:`gis.schema.HAZARD_CATEGORIES`) and its ``size_class``: by footprint
area for polygons (thresholds in the table), the rule's ``point_size_class`` for nodes and
lines. The same engine serves ``riskplan init`` and the ``category_rules`` option of an OSM
layer (:mod:`gis.io`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..crs import to_metric
from ..errors import InputError
from ..schema import HAZARD_CATEGORIES, SIZE_CLASSES
from ..tables import TableOverrides, load_table

__all__ = [
    "RULES_TABLE",
    "HazardRule",
    "HazardRules",
    "classify_hazards",
    "hazard_rules",
]

log = logging.getLogger(__name__)

#: Name of the shipped rule table (``gis/data/osm_hazards.toml``).
RULES_TABLE = "osm_hazards"
_RULE_KEYS = {"match", "category", "label", "point_size_class", "reason", "source", "before", "enabled"}


@dataclass(frozen=True)
class HazardRule:
    """One rule: every ``match`` key must hold one of its values (``True``: any value)."""

    name: str
    match: Mapping[str, frozenset[str] | bool]
    category: str
    label: str
    point_size_class: str
    reason: str
    source: str

    def matches(self, tags: Mapping[str, str]) -> bool:
        """True when every key of :attr:`match` is present with an accepted value."""
        for key, wanted in self.match.items():
            value = tags.get(key)
            if value is None:
                return False
            if wanted is True:
                continue
            if isinstance(wanted, bool) or value not in wanted:
                return False
        return True


@dataclass(frozen=True)
class HazardRules:
    """The ordered rules and the size-class thresholds of a rule table."""

    rules: tuple[HazardRule, ...]
    medium_from_m2: float
    large_from_m2: float

    @property
    def tag_spec(self) -> dict[str, frozenset[str] | bool]:
        """The selection that reads every candidate feature (any rule's first key) from an OSM file."""
        spec: dict[str, set[str] | bool] = {}
        for rule in self.rules:
            key, wanted = next(iter(rule.match.items()))
            if wanted is True or spec.get(key) is True:
                spec[key] = True
            else:
                current = spec.setdefault(key, set())
                assert isinstance(current, set) and not isinstance(wanted, bool)
                current.update(wanted)
        return {k: v if v is True else frozenset(v) for k, v in spec.items()}  # type: ignore[arg-type]

    def first_match(self, tags: Mapping[str, str]) -> HazardRule | None:
        """The first rule matching ``tags``, or None."""
        return next((r for r in self.rules if r.matches(tags)), None)

    def size_class(self, area_m2: float) -> str:
        """``small``, ``medium`` or ``large`` for a footprint of ``area_m2``."""
        if area_m2 >= self.large_from_m2:
            return "large"
        return "medium" if area_m2 >= self.medium_from_m2 else "small"


def _fail(where: str, entry: str, problem: str, fix: str) -> None:
    msg = f"{where}: `{entry}` {problem}. Fix: {fix}."
    raise InputError(msg)


def _match_values(where: str, name: str, match: Any) -> dict[str, frozenset[str] | bool]:
    if not isinstance(match, Mapping) or not match:
        _fail(
            where,
            f"rules.{name}.match",
            "must be a non-empty table of tags",
            'write `match = { amenity = "fuel" }`',
        )
    out: dict[str, frozenset[str] | bool] = {}
    for key, value in match.items():
        if value is True:
            out[key] = True
        elif isinstance(value, str):
            out[key] = frozenset([value])
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            out[key] = frozenset(value)
        else:
            _fail(
                where,
                f"rules.{name}.match.{key}",
                f"is {value!r}",
                "give a string, a list of strings, or true",
            )
    return out


def hazard_rules(osm_hazards: TableOverrides = None) -> HazardRules:
    """Return the OSM hazard rule table merged with ``osm_hazards``, checked and in order.

    Parameters
    ----------
    osm_hazards
        Overrides of the table: a mapping laid out like ``gis/data/osm_hazards.toml``, or the
        path of such a TOML file, merged over the shipped table: a rule of the same name is
        updated, a new rule goes at the end (or in front of the rule its ``before`` names),
        ``enabled = false`` drops one.

    Raises
    ------
    InputError
        When a rule is malformed (unknown key, category or size class); the message names it.

    Examples
    --------
    >>> rules = hazard_rules()
    >>> rules.first_match({"amenity": "fuel"}).category
    'fuel_gas'
    >>> custom = hazard_rules({"rules": {"hospital": {"match": {"amenity": "hospital"},
    ...     "category": "other", "label": "hospital", "point_size_class": "small",
    ...     "reason": "oxygen stores", "source": "local rule", "before": "tank_gas"}}})
    >>> custom.rules[0].name, custom.first_match({"amenity": "hospital"}).label
    ('hospital', 'hospital')
    """
    where = f"`{osm_hazards}`" if isinstance(osm_hazards, (str, Path)) else f"rule table `{RULES_TABLE}`"
    table = load_table(RULES_TABLE, osm_hazards)
    sizes = table.get("size_class", {})
    medium, large = sizes.get("medium_from_m2"), sizes.get("large_from_m2")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in (medium, large)):
        _fail(where, "size_class", "needs positive `medium_from_m2` and `large_from_m2`", "give areas in m2")
    if medium >= large:
        _fail(where, "size_class", "has medium_from_m2 >= large_from_m2", "make medium smaller than large")
    entries = table.get("rules", {})
    if not isinstance(entries, Mapping) or not entries:
        _fail(where, "rules", "is missing or empty", "give `[rules.<name>]` tables")
    names = list(entries)
    for name in list(names):
        entry = entries[name]
        before = entry.get("before") if isinstance(entry, Mapping) else None
        if before is None:
            continue
        if before not in entries:
            _fail(where, f"rules.{name}.before", f"names no rule ({before!r})", f"use one of {names[:8]}...")
        names.remove(name)
        names.insert(names.index(before), name)
    rules = []
    for name in names:
        entry = entries[name]
        if not isinstance(entry, Mapping):
            _fail(where, f"rules.{name}", "is not a table", "write `[rules.<name>]` with its keys")
        if entry.get("enabled", True) is False:
            continue
        unknown = sorted(set(entry) - _RULE_KEYS)
        if unknown:
            _fail(where, f"rules.{name}", f"has unknown key(s) {unknown}", f"use only {sorted(_RULE_KEYS)}")
        category = entry.get("category")
        if category not in HAZARD_CATEGORIES:
            _fail(
                where, f"rules.{name}.category", f"is {category!r}", f"use one of {list(HAZARD_CATEGORIES)}"
            )
        size = entry.get("point_size_class", "small")
        if size not in SIZE_CLASSES:
            _fail(where, f"rules.{name}.point_size_class", f"is {size!r}", f"use one of {list(SIZE_CLASSES)}")
        rules.append(
            HazardRule(
                name=name,
                match=_match_values(where, name, entry.get("match")),
                category=category,
                label=str(entry.get("label", name.replace("_", " "))),
                point_size_class=size,
                reason=str(entry.get("reason", "")),
                source=str(entry.get("source", "")),
            )
        )
    return HazardRules(tuple(rules), float(medium), float(large))


def classify_hazards(
    features: gpd.GeoDataFrame,
    *,
    osm_hazards: HazardRules | TableOverrides = None,
    keep_unmatched: bool = False,
) -> gpd.GeoDataFrame:
    """Give OSM features the category and size class of the first rule their tags match.

    Parameters
    ----------
    features
        OSM features with a ``tags`` column of JSON objects (as :func:`gis.osm.read_osm_features`
        returns them) and a CRS.
    osm_hazards
        A :class:`HazardRules`, or overrides of the shipped table (see :func:`hazard_rules`).
    keep_unmatched
        Keep features that no rule matches, with ``category`` and ``size_class`` empty
        (default: drop them: they are not hazard sources).

    Returns
    -------
    geopandas.GeoDataFrame
        The input's rows and columns plus ``category``, ``size_class``, ``hazard_rule`` (the
        rule's name) and ``footprint_m2`` (0 for nodes and lines); ``name`` falls back to the
        rule's label and the OSM id (``"fuel station n12"``).

    Examples
    --------
    >>> from gis.osm import read_osm_features
    >>> f = read_osm_features("tests/fixtures/tiny_city.osm.xml", {"amenity": True})
    >>> rules = {"rules": {"hospital": {"match": {"amenity": "hospital"}, "category": "other",
    ...     "label": "hospital", "point_size_class": "medium", "reason": "r", "source": "s"}}}
    >>> h = classify_hazards(f, osm_hazards=rules)
    >>> h[["osm_id", "category", "size_class", "footprint_m2"]].to_numpy().tolist()
    [[905, 'other', 'medium', 0.0], [901, 'other', 'medium', 9765.0]]
    """
    table = osm_hazards if isinstance(osm_hazards, HazardRules) else hazard_rules(osm_hazards)
    if "tags" not in features.columns:
        msg = "`features` has no `tags` column. Fix: read them with `gis.osm.read_osm_features`."
        raise InputError(msg)
    tags = [json.loads(t) if isinstance(t, str) else dict(t or {}) for t in features["tags"]]
    found = [table.first_match(t) for t in tags]
    out = features.copy()
    polygonal = out.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    area = np.zeros(len(out))
    if polygonal.any():
        area[polygonal] = to_metric(out.loc[polygonal, [out.geometry.name]]).area.to_numpy()
    out["category"] = [r.category if r else None for r in found]
    out["size_class"] = [
        (table.size_class(a) if poly else r.point_size_class) if r else None
        for r, a, poly in zip(found, area, polygonal, strict=True)
    ]
    out["hazard_rule"] = [r.name if r else None for r in found]
    out["footprint_m2"] = np.round(area, 1)
    if "osm_type" in out.columns and "osm_id" in out.columns:
        prefix = out["osm_type"].astype(str).str[0].to_numpy()
        ids = [f"{p}{i}" for p, i in zip(prefix, out["osm_id"], strict=True)]
        names = out["name"] if "name" in out.columns else pd.Series(None, index=out.index)
        out["name"] = [
            n if isinstance(n, str) and n.strip() else (f"{r.label} {i}" if r else f"feature {i}")
            for n, r, i in zip(names, found, ids, strict=True)
        ]
    matched = np.array([r is not None for r in found], dtype=bool)
    log.info("%d of %d features match a hazard rule", int(matched.sum()), len(out))
    return out if keep_unmatched else out[matched]
