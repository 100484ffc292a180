"""Major hazard sources of hazardous chemicals after GB 18218-2018.

``S = sum(q_i / Q_i)`` (a major hazard source when ``S >= 1``) and the grading
value ``R = alpha * sum(beta_i * q_i / Q_i)``, graded I (``R >= 100``) to IV
(``R < 10``). ``alpha`` depends on the people within 500 m of the plant boundary
(or of the point, for point hazards), counted area-weighted from the communities
layer. Every figure comes from the ``gb18218`` table of
``risk_models/data/risk_weights.toml``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.crs import require_metric, require_same_crs
from gis.errors import InputError
from gis.validate import parse_inventory

from ._overlay import intersection_areas
from .weights import RiskWeights, load_weights

__all__ = [
    "alpha_for",
    "beta_of",
    "grade_of",
    "grading_value_r",
    "hazard_index_s",
    "major_hazards",
    "people_within",
]

log = logging.getLogger(__name__)

Inventory = Sequence[Mapping[str, Any]] | str


def _gb(risk_weights: RiskWeights | None) -> dict[str, Any]:
    return (risk_weights if risk_weights is not None else load_weights())["gb18218"]


def _items(inventory: Inventory, where: str = "inventory") -> list[Mapping[str, Any]]:
    if isinstance(inventory, str):
        parsed = parse_inventory(inventory)
        if parsed is None:
            msg = (
                f"{where} is not a valid inventory: {inventory[:80]!r}. Fix: give a JSON list of "
                '{"substance": ..., "q_t": ..., "Q_t": ...} with Q_t > 0.'
            )
            raise InputError(msg)
        return list(parsed)
    return list(inventory)


def _canonical(substance: str, gb: Mapping[str, Any]) -> str:
    name = " ".join(str(substance).strip().lower().replace("_", " ").replace("-", " ").split())
    return str(gb.get("aliases", {}).get(name, name))


def beta_of(substance: str, *, risk_weights: RiskWeights | None = None) -> float:
    """Correction factor ``beta`` of a substance (GB 18218-2018 Tables 3 and 4).

    Named toxic gases take their own beta; others the beta of their class
    (``gb18218.substance_class``), unlisted substances the class ``other`` (1).

    Examples
    --------
    >>> beta_of("Chlorine"), beta_of("hydrogen_sulfide"), beta_of("LPG"), beta_of("methanol")
    (4.0, 5.0, 1.5, 1.0)
    """
    gb = _gb(risk_weights)
    name = _canonical(substance, gb)
    if name in gb["beta"]:
        return float(gb["beta"][name])
    cls = gb.get("substance_class", {}).get(name, "other")
    return float(gb["beta_by_class"][cls])


def hazard_index_s(inventory: Inventory) -> float:
    """GB 18218-2018 index ``S = sum(q_i / Q_i)``; a major hazard source when ``S >= 1``.

    Examples
    --------
    >>> round(hazard_index_s([{"substance": "chlorine", "q_t": 2, "Q_t": 5},
    ...                       {"substance": "ammonia", "q_t": 8, "Q_t": 10}]), 6)
    1.2
    """
    return float(sum(float(i["q_t"]) / float(i["Q_t"]) for i in _items(inventory)))


def grading_value_r(inventory: Inventory, *, alpha: float, risk_weights: RiskWeights | None = None) -> float:
    """GB 18218-2018 grading value ``R = alpha * sum(beta_i * q_i / Q_i)``.

    An item's own ``beta`` wins over the table.

    Examples
    --------
    >>> round(grading_value_r([{"substance": "chlorine", "q_t": 10, "Q_t": 5}], alpha=2.0), 6)
    16.0
    """
    total = 0.0
    for item in _items(inventory):
        beta = (
            float(item["beta"])
            if "beta" in item
            else beta_of(str(item["substance"]), risk_weights=risk_weights)
        )
        total += beta * float(item["q_t"]) / float(item["Q_t"])
    return float(alpha) * total


def alpha_for(people: float, *, risk_weights: RiskWeights | None = None) -> float:
    """Correction ``alpha`` for the people within 500 m (counts are rounded to whole people).

    Examples
    --------
    >>> [alpha_for(p) for p in (0, 0.4, 1, 29, 30, 49, 50, 99, 100, 5000)]
    [0.5, 0.5, 1.0, 1.0, 1.2, 1.2, 1.5, 1.5, 2.0, 2.0]
    """
    count = round(float(people))
    bands = sorted(_gb(risk_weights)["alpha_bands"], key=lambda b: b["min_people"])
    alpha = float(bands[0]["alpha"])
    for band in bands:
        if count >= band["min_people"]:
            alpha = float(band["alpha"])
    return alpha


def grade_of(r: float, *, risk_weights: RiskWeights | None = None) -> str:
    """Grade ``"I"``..``"IV"`` of a grading value ``R``.

    Examples
    --------
    >>> [grade_of(r) for r in (150, 100, 99.9, 50, 10, 9.99)]
    ['I', 'I', 'II', 'II', 'III', 'IV']
    """
    grades = _gb(risk_weights)["grades"]
    for name in ("I", "II", "III"):
        if r >= float(grades[name]):
            return name
    return "IV"


def people_within(
    hazards: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    *,
    radius_m: float = 500.0,
) -> pd.Series:
    """People within ``radius_m`` of each hazard's boundary (or point), area-weighted.

    A community contributes ``population * overlap area / community area``.

    Parameters
    ----------
    hazards
        Hazard sources (points or plant polygons) in a metric CRS.
    communities
        Polygons with ``population``, in the same CRS.
    radius_m
        Ring width; GB 18218-2018 uses 500 m.

    Returns
    -------
    pandas.Series
        ``people_500m`` (named after the radius) on ``hazards``' index.

    Examples
    --------
    >>> from shapely import Point, box
    >>> h = gpd.GeoDataFrame(geometry=[Point(0, 0)], crs=32649)
    >>> c = gpd.GeoDataFrame({"population": [1000.0]}, geometry=[box(0, -5000, 5000, 5000)], crs=32649)
    >>> round(float(people_within(h, c).iloc[0]), 2)  # 1000 * (pi * 500**2 / 2) / 50 km2
    7.85
    """
    require_metric(hazards, what="hazards")
    require_same_crs(hazards, communities, names=("hazards", "communities"))
    rings = hazards.geometry.buffer(radius_m, quad_segs=32)
    src, tgt, area = intersection_areas(communities.geometry, rings)
    pop = communities["population"].to_numpy(float)
    share = area / communities.geometry.area.to_numpy(float)[src]
    people = np.bincount(tgt, weights=pop[src] * share, minlength=len(hazards))
    return pd.Series(people, index=hazards.index, name=f"people_{radius_m:g}m")


def major_hazards(
    hazards: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    *,
    risk_weights: RiskWeights | None = None,
) -> pd.DataFrame:
    """GB 18218-2018 indices of every hazard with an inventory.

    Parameters
    ----------
    hazards
        Layer with an ``inventory`` column (JSON, see :func:`gis.validate.parse_inventory`).
    communities
        Polygons with ``population`` in the same metric CRS.
    risk_weights
        Risk table (:func:`risk_models.load_weights`); default the shipped one.

    Returns
    -------
    pandas.DataFrame
        On ``hazards``' index, rows with a non-empty inventory only: ``S``, ``people_500m``,
        ``alpha``, ``R``, ``grade`` and ``major`` (``S >= 1``).

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> gb = major_hazards(city["hazards"], city["communities"])
    >>> len(gb), sorted(gb["grade"].unique())
    (99, ['III', 'IV'])
    """
    w = risk_weights if risk_weights is not None else load_weights()
    gb = w["gb18218"]
    if "inventory" not in hazards.columns:
        return pd.DataFrame(columns=["S", "people_500m", "alpha", "R", "grade", "major"])
    items = {}
    for idx, value in hazards["inventory"].items():
        parsed = (
            _items(value, f"layer `hazards`, row `{idx}`, column `inventory`")
            if isinstance(value, str)
            else ([] if value is None or (isinstance(value, float) and np.isnan(value)) else list(value))
        )
        if parsed:
            items[idx] = parsed
    if not items:
        return pd.DataFrame(columns=["S", "people_500m", "alpha", "R", "grade", "major"])
    with_inv = hazards.loc[list(items)]
    people = people_within(with_inv, communities, radius_m=float(gb["exposure_radius_m"]))
    rows = []
    for idx, inv in items.items():
        alpha = alpha_for(people[idx], risk_weights=w)
        s = hazard_index_s(inv)
        r = grading_value_r(inv, alpha=alpha, risk_weights=w)
        rows.append(
            {
                "S": s,
                "people_500m": float(people[idx]),
                "alpha": alpha,
                "R": r,
                "grade": grade_of(r, risk_weights=w),
                "major": s >= float(gb["major_threshold_s"]),
            }
        )
    out = pd.DataFrame(rows, index=with_inv.index)
    log.info("GB 18218: %d sources with inventories, %d major", len(out), int(out["major"].sum()))
    return out
