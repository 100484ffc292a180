"""Risk points graded (风险分级管控): LEC and the likelihood x severity matrix.

An assessment grades a hazard source, or a part of one, by a method of
``risk_models/data/risk_grading.toml``: LEC (``D = L x E x C`` on Graham and Kinney's scales)
or the five-level matrix (``R = likelihood x severity``). The score falls in one of four bands:
major / high / moderate / low, shown red / orange / yellow / blue, each with its control level
(enterprise / workshop / team / post) and default control measures. :func:`grade_assessments`
grades a table of assessments; :func:`hazard_risk_grades` gives each source its worst grade
for the four-colour risk map.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NoReturn

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.tables import TableOverrides, load_table

from .errors import RegisterError
from .vocab import COLOURS, CONTROL_LEVELS, RISK_GRADES

__all__ = ["grade_assessments", "hazard_risk_grades", "load_risk_grading"]

_FILE = "risk_grading.toml"
#: The loaded, checked grading table (:func:`load_risk_grading`).
RiskGrading = dict[str, Any]


def _fail(entry: str, problem: str, fix: str) -> NoReturn:
    msg = f"`{_FILE}` entry `{entry}` {problem}. Fix: {fix}."
    raise RegisterError(msg)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def load_risk_grading(risk_grading: TableOverrides = None) -> RiskGrading:
    """Return the risk-grading table merged with ``risk_grading`` and checked.

    Parameters
    ----------
    risk_grading
        Overrides: a mapping or the path of a TOML file with the entries to change.

    Returns
    -------
    dict
        A fresh copy the caller may modify.

    Raises
    ------
    RegisterError
        Grades outside major / high / moderate / low, a colour or control level that does not
        match its grade, empty scales, bands out of order or with both or neither bound.

    Examples
    --------
    >>> table = load_risk_grading()
    >>> sorted(table["methods"]), table["methods"]["lec"]["factors"]["E"]["scale"][:3]
    (['lec', 'matrix'], [10.0, 6.0, 3.0])
    """
    table = load_table("risk_grading", risk_grading, package="risk_models")
    grades = table.get("grades", {})
    if set(grades) != set(RISK_GRADES):
        _fail("grades", f"has {sorted(grades)}", f"give exactly {list(RISK_GRADES)}")
    for grade, colour, level in zip(RISK_GRADES, COLOURS, CONTROL_LEVELS, strict=True):
        spec = grades[grade]
        if spec.get("colour") != colour or spec.get("control_level") != level:
            _fail(
                f"grades.{grade}",
                f"has colour {spec.get('colour')!r} and control level {spec.get('control_level')!r}",
                f'keep the four-colour scheme: colour = "{colour}", control_level = "{level}"',
            )
    methods = table.get("methods", {})
    if not methods:
        _fail("methods", "is empty", "give at least one method")
    for name, spec in methods.items():
        entry = f"methods.{name}"
        if spec.get("combine", "product") != "product":
            _fail(f"{entry}.combine", f"is {spec.get('combine')!r}", 'use "product"')
        factors = spec.get("factors", {})
        if not factors:
            _fail(f"{entry}.factors", "is empty", "give the factors and their scales")
        for fname, f in factors.items():
            scale = f.get("scale", [])
            if not scale or not all(_number(v) and v > 0 for v in scale):
                _fail(
                    f"{entry}.factors.{fname}.scale", f"is {scale!r}", "list the positive values of the scale"
                )
        bands = spec.get("bands", [])
        if [b.get("grade") for b in bands] != list(RISK_GRADES):
            _fail(
                f"{entry}.bands",
                f"grades {[b.get('grade') for b in bands]}",
                f"give one band per grade, in order {list(RISK_GRADES)}",
            )
        bounds = []
        for k, band in enumerate(bands[:-1]):
            keys = [key for key in ("above", "at_least") if key in band]
            if len(keys) != 1 or not _number(band[keys[0]]):
                _fail(
                    f"{entry}.bands[{k}]", f"has bounds {keys}", "give exactly one of `above` or `at_least`"
                )
            bounds.append(float(band[keys[0]]))
        if bounds != sorted(bounds, reverse=True) or "above" in bands[-1] or "at_least" in bands[-1]:
            _fail(
                f"{entry}.bands",
                f"has bounds {bounds}",
                "give decreasing bounds and none for the last (low) band",
            )
    return table


def _band(score: float, bands: list[Mapping[str, Any]]) -> str:
    for band in bands[:-1]:
        if ("above" in band and score > band["above"]) or ("at_least" in band and score >= band["at_least"]):
            return str(band["grade"])
    return str(bands[-1]["grade"])


def grade_assessments(assessments: pd.DataFrame, *, risk_grading: TableOverrides = None) -> pd.DataFrame:
    """Grade risk assessments: score, grade, colour, control level and measures of each row.

    Parameters
    ----------
    assessments
        One row per assessment: ``hazard_id``, ``part`` (optional: the tank farm, workshop or
        post assessed), ``method`` (``lec`` or ``matrix``, or another method of the table) and
        the method's factor columns: ``L``, ``E``, ``C`` for LEC, ``likelihood``, ``severity``
        for the matrix (rows of the other method leave them empty). An optional
        ``control_measures`` column replaces the grade's default measures where given.
    risk_grading
        Overrides of ``risk_models/data/risk_grading.toml``.

    Returns
    -------
    pandas.DataFrame
        On the input's index: ``hazard_id``, ``part``, ``method``, ``score`` (D or R),
        ``basis`` (the product written out), ``grade``, ``grade_zh``, ``colour``,
        ``control_level``, ``control_level_zh`` and ``control_measures``.

    Raises
    ------
    RegisterError
        Missing columns, unknown methods, missing hazard ids, or factor values off their
        scale, naming the rows, the values and the scale.

    Examples
    --------
    >>> rows = pd.DataFrame({"hazard_id": ["H0001", "H0001", "H0007"], "part": ["tank farm", "workshop", ""],
    ...                      "method": ["lec", "lec", "matrix"], "L": [6, 3, None], "E": [6, 6, None],
    ...                      "C": [15, 3, None], "likelihood": [None, None, 4], "severity": [None, None, 5]})
    >>> grade_assessments(rows)[["score", "grade", "colour", "control_level"]]
       score  grade colour control_level
    0  540.0  major    red    enterprise
    1   54.0    low   blue          post
    2   20.0  major    red    enterprise
    """
    table = load_risk_grading(risk_grading)
    methods = table["methods"]
    missing = [c for c in ("hazard_id", "method") if c not in assessments.columns]
    if missing:
        msg = (
            f"The assessments lack columns {missing}. Fix: give `hazard_id`, `method` and the factor columns."
        )
        raise RegisterError(msg)
    method = assessments["method"].astype(str).str.strip().str.lower()
    unknown = ~method.isin(list(methods))
    if unknown.any():
        rows = list(assessments.index[unknown][:10])
        msg = (
            f"Assessments, rows {rows}: methods {sorted(set(method[unknown]))[:10]} are unknown. "
            f"Fix: use one of {sorted(methods)}."
        )
        raise RegisterError(msg)
    no_id = assessments["hazard_id"].isna() | (assessments["hazard_id"].astype(str).str.strip() == "")
    if no_id.any():
        rows = list(assessments.index[no_id][:10])
        msg = f"Assessments, rows {rows}: no `hazard_id`. Fix: name the hazard source assessed."
        raise RegisterError(msg)
    out = pd.DataFrame(index=assessments.index)
    out["hazard_id"] = assessments["hazard_id"].astype(str)
    out["part"] = assessments["part"].fillna("").astype(str) if "part" in assessments else ""
    out["method"] = method
    out["score"] = np.nan
    out["basis"] = ""
    out["grade"] = ""
    for name, spec in methods.items():
        rows = method == name
        if not rows.any():
            continue
        product = pd.Series(1.0, index=assessments.index[rows])
        parts = []
        for fname, f in spec["factors"].items():
            if fname not in assessments.columns:
                msg = f"Assessments by `{name}` need a column `{fname}` ({f.get('label', '')}). Fix: add it."
                raise RegisterError(msg)
            values = pd.to_numeric(assessments.loc[rows, fname], errors="coerce")
            scale = [float(v) for v in f["scale"]]
            off = ~values.isin(scale)
            if off.any():
                found = sorted({str(v) for v in assessments.loc[rows, fname][off]})[:10]
                msg = (
                    f"Assessments, rows {list(values.index[off][:10])}, column `{fname}` of method "
                    f"`{name}`: values {found} are not on the scale {scale}. Fix: pick the scale value "
                    "that describes the condition (risk_grading.toml)."
                )
                raise RegisterError(msg)
            product *= values
            parts.append(values.map(lambda v: f"{v:g}"))
        out.loc[rows, "score"] = product
        label = "D" if name == "lec" else "R" if name == "matrix" else "score"
        written = [" x ".join(p) for p in zip(*parts, strict=True)]
        out.loc[rows, "basis"] = [
            f"{name.upper()} {label} = {w} = {s:g}" for w, s in zip(written, product, strict=True)
        ]
        out.loc[rows, "grade"] = [_band(s, spec["bands"]) for s in product]
    grades = table["grades"]
    out["grade_zh"] = out["grade"].map(lambda g: grades[g]["label_zh"])
    out["colour"] = out["grade"].map(lambda g: grades[g]["colour"])
    out["control_level"] = out["grade"].map(lambda g: grades[g]["control_level"])
    out["control_level_zh"] = out["grade"].map(lambda g: grades[g]["control_level_zh"])
    default = out["grade"].map(lambda g: grades[g]["measures"])
    if "control_measures" in assessments.columns:
        own = assessments["control_measures"].astype(object)
        given = own.notna() & (own.astype(str).str.strip() != "")
        out["control_measures"] = own.where(given, default)
    else:
        out["control_measures"] = default
    return out


def hazard_risk_grades(graded: pd.DataFrame, hazards: gpd.GeoDataFrame | None = None) -> pd.DataFrame:
    """Each hazard source's risk grade: the worst grade of its assessed parts.

    Parameters
    ----------
    graded
        The result of :func:`grade_assessments`.
    hazards
        The hazards layer, indexed by id: the result is then a GeoDataFrame on its index (the
        four-colour risk map), unassessed sources without a grade.

    Returns
    -------
    pandas.DataFrame
        Indexed by hazard id: ``grade``, ``colour``, ``control_level``, ``score`` and ``part``
        (of the worst part; ties: the highest score), ``n_parts`` and ``n_<grade>`` counts.

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> rows = pd.DataFrame({"hazard_id": ["H0001", "H0001"], "part": ["tanks", "office"],
    ...                      "method": ["lec"] * 2, "L": [6, 1], "E": [6, 3], "C": [15, 1]})
    >>> grades = hazard_risk_grades(grade_assessments(rows), city["hazards"])
    >>> grades.loc["H0001", ["grade", "colour", "part"]].tolist(), int(grades["grade"].notna().sum())
    (['major', 'red', 'tanks'], 1)
    """
    g = graded.copy()
    g["_rank"] = g["grade"].map({k: i for i, k in enumerate(RISK_GRADES)})
    g = g.sort_values(["hazard_id", "_rank", "score"], ascending=[True, True, False], kind="stable")
    worst = g.groupby("hazard_id", sort=True).first()
    out = worst[["grade", "colour", "control_level", "score", "part"]].copy()
    out["n_parts"] = g.groupby("hazard_id").size()
    for grade in RISK_GRADES:
        out[f"n_{grade}"] = (
            g.loc[g["grade"] == grade].groupby("hazard_id").size().reindex(out.index).fillna(0).astype(int)
        )
    out.index.name = None
    if hazards is None:
        return out
    unknown = sorted(set(out.index) - set(hazards.index.astype(str)))
    if unknown:
        msg = (
            f"Assessments name hazard ids {unknown[:10]} that are not in layer `hazards`. "
            "Fix: correct the ids, or add the sources to the layer."
        )
        raise RegisterError(msg)
    joined = out.reindex(hazards.index.astype(str))
    joined.index = hazards.index
    return gpd.GeoDataFrame(joined, geometry=hazards.geometry, crs=hazards.crs)
