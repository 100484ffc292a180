"""Synthetic risk assessments of the demo city's hazard sources (labelled synthetic).

:func:`synthetic_assessments` gives each hazard source LEC or matrix assessments of its parts
(a tank farm, a loading bay, a workshop), drawn with ``[risk_points]`` of
``risk_models/data/demo_register.toml``: the rows :func:`~risk_models.register.grade_assessments`
grades and the four-colour risk map (安全风险四色分布图) draws. The same layer, seed and
register give the same assessments.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.tables import TableOverrides, load_table
from gis.validate import index_by_id

from .errors import RegisterError
from .vocab import OPEN_STATUSES

__all__ = ["synthetic_assessments"]


def _draw(weights: Mapping[str, float], rng: np.random.Generator) -> float:
    values = [float(k) for k in weights]
    p = np.array([float(v) for v in weights.values()])
    return float(rng.choice(values, p=p / p.sum()))


def _step(value: float, scale: list[float], by: int) -> float:
    """The value ``by`` steps up (positive) or down the scale (sorted ascending here)."""
    ordered = sorted(scale)
    k = min(max(ordered.index(value) + by, 0), len(ordered) - 1)
    return ordered[k]


def synthetic_assessments(
    hazards: gpd.GeoDataFrame,
    *,
    seed: int = 0,
    register: pd.DataFrame | None = None,
    demo_register: TableOverrides = None,
) -> pd.DataFrame:
    """Synthetic risk assessments of each hazard source's parts, for the demo city.

    Parameters
    ----------
    hazards
        The hazards layer (``category``, optional ``size_class``), indexed by id.
    seed
        Random seed.
    register
        An items frame (``hazard_id``, ``grade``, ``status``): sources with open major items
        have their likelihood raised one step.
    demo_register
        Overrides of ``risk_models/data/demo_register.toml`` (``[risk_points]``).

    Returns
    -------
    pandas.DataFrame
        One row per assessment: ``hazard_id``, ``part``, ``method`` and the factor columns
        ``L``, ``E``, ``C``, ``likelihood``, ``severity`` (the other method's left empty), ready
        for :func:`~risk_models.register.grade_assessments`.

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from risk_models.register import grade_assessments, hazard_risk_grades
    >>> rows = synthetic_assessments(city["hazards"], seed=0)
    >>> grades = hazard_risk_grades(grade_assessments(rows), city["hazards"])
    >>> sorted(grades["grade"].unique()), bool(grades["grade"].notna().all())
    (['high', 'low', 'major', 'moderate'], True)
    """
    spec = load_table("demo_register", demo_register, package="risk_models")
    rp: Mapping[str, Any] = spec.get("risk_points", {})
    if not rp.get("parts"):
        msg = "`demo_register.toml` has no `[risk_points.parts]`. Fix: list the parts assessed per category."
        raise RegisterError(msg)
    grading = load_table("risk_grading", package="risk_models")
    scales = {
        name: [float(v) for v in f["scale"]]
        for m in grading["methods"].values()
        for name, f in m["factors"].items()
    }
    h = index_by_id(hazards)
    rng = np.random.default_rng(seed)
    raised: set[str] = set()
    if register is not None and len(register):
        hot = register["hazard_id"].notna() & register["grade"].eq("major")
        hot &= register["status"].isin(OPEN_STATUSES)
        raised = set(register.loc[hot, "hazard_id"].astype(str))
    high = set(rp.get("high_consequence", []))
    rows: list[dict[str, Any]] = []
    for hid, row in h.iterrows():
        category = str(row.get("category", "other"))
        parts = list(rp["parts"].get(category, rp["parts"].get("other", ["site"])))
        size = str(row.get("size_class", "") or "")
        shift = 1 if size == "large" else -1 if size == "small" else 0
        hot_source = str(hid) in raised
        for k, part in enumerate(parts):
            if k > 0 and rng.random() >= float(rp.get("share_more_parts", 0.5)):
                continue
            rec: dict[str, Any] = {"hazard_id": str(hid), "part": part}
            if rng.random() < float(rp.get("share_matrix", 0.0)):
                m = rp["matrix"]
                sev = _draw(m["severity_high" if category in high else "severity_low"], rng)
                lik = _draw(m["likelihood"], rng)
                rec |= {
                    "method": "matrix",
                    "likelihood": _step(lik, scales["likelihood"], 1) if hot_source else lik,
                    "severity": _step(sev, scales["severity"], shift),
                }
            else:
                lec = rp["lec"]
                c = _draw(lec["C_high" if category in high else "C_low"], rng)
                likelihood = _draw(lec["L"], rng)
                rec |= {
                    "method": "lec",
                    "L": _step(likelihood, scales["L"], 1) if hot_source else likelihood,
                    "E": _draw(lec["E"], rng),
                    "C": _step(c, scales["C"], shift),
                }
            rows.append(rec)
    cols = ["hazard_id", "part", "method", "L", "E", "C", "likelihood", "severity"]
    return pd.DataFrame(rows, columns=cols)
