"""The risk-model table: weights, bandwidths, standards and thresholds, loaded and checked.

The defaults live in ``risk_models/data/risk_weights.toml``, each entry with its
source. :func:`load_weights` merges per-call overrides into a fresh copy, so no
call can change what another sees. Every function of :mod:`risk_models` takes the table as
``risk_weights=``: overrides (a mapping or a TOML path) for :func:`risk_models.score_scenario`
and :func:`load_weights`, the loaded table (:data:`RiskWeights`) for the parts it calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gis.errors import InputError
from gis.schema import HAZARD_CATEGORIES, RECTIFICATION_STATUSES, SIZE_CLASSES
from gis.tables import TableOverrides, load_table

__all__ = ["KERNELS", "RiskWeights", "load_weights"]

#: The loaded, checked risk table (:func:`load_weights`).
RiskWeights = dict[str, Any]
#: Kernels of :mod:`risk_models.density` (compact support, as in scikit-learn).
KERNELS: tuple[str, ...] = ("epanechnikov", "linear", "tophat")
_LEVEL_METHODS = ("percentile", "thresholds")


def _fail(entry: str, problem: str, fix: str) -> None:
    msg = f"Risk weights entry `{entry}` {problem}. Fix: {fix}."
    raise InputError(msg)


def _positive(table: Mapping[str, Any], key: str, entry: str, *, allow_zero: bool = False) -> None:
    value = table.get(key)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not isinstance(value, (int, float)) or not ok or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        _fail(f"{entry}.{key}", f"is {value!r}, not a number {bound}", f"set it to a number {bound}")


def load_weights(risk_weights: TableOverrides = None) -> RiskWeights:
    """Return the risk-model table merged with ``risk_weights`` and checked.

    Parameters
    ----------
    risk_weights
        Overrides: a mapping or the path of a TOML file with the entries to change
        (see ``risk_models/data/risk_weights.toml``).

    Returns
    -------
    dict
        A fresh copy the caller may modify.

    Raises
    ------
    InputError
        For unknown categories, missing or non-positive weights and bandwidths, or bad levels.

    Examples
    --------
    >>> w = load_weights({"categories": {"mining": {"weight": 2.0}}})
    >>> w["categories"]["mining"]["weight"], w["categories"]["mining"]["bandwidth_m"]
    (2.0, 1500.0)
    """
    table = load_table("risk_weights", risk_weights, package="risk_models")
    cats = table.get("categories", {})
    unknown = sorted(set(cats) - set(HAZARD_CATEGORIES))
    if unknown:
        _fail(
            "categories",
            f"has categories {unknown} outside the vocabulary {list(HAZARD_CATEGORIES)}",
            "use the hazard categories of gis.schema.HAZARD_CATEGORIES",
        )
    for cat in HAZARD_CATEGORIES:
        if cat not in cats:
            _fail(f"categories.{cat}", "is missing", "give it a weight and a bandwidth_m")
        _positive(cats[cat], "weight", f"categories.{cat}", allow_zero=True)
        _positive(cats[cat], "bandwidth_m", f"categories.{cat}")
        fallback = table["severity"]["fallback"].get(cat, {})
        for size in SIZE_CLASSES:
            _positive(fallback, size, f"severity.fallback.{cat}", allow_zero=True)
    if table["kernel"]["name"] not in KERNELS:
        _fail("kernel.name", f"is {table['kernel']['name']!r}", f"use one of {list(KERNELS)}")
    _positive(table["kernel"], "sample_spacing_share", "kernel")
    for status in RECTIFICATION_STATUSES:
        _positive(table["severity"]["rectification"], status, "severity.rectification")
    for key in ("open_major", "overdue_major", "max_factor"):
        _positive(table["severity"]["register"], key, "severity.register")
    _positive(table["severity"]["register"], "per_additional_item", "severity.register", allow_zero=True)
    for grade in ("major", "high", "moderate", "low"):
        _positive(table["severity"]["risk_grade"], grade, "severity.risk_grade")
    if table["severity"]["default_size_class"] not in SIZE_CLASSES:
        _fail("severity.default_size_class", "is not a size class", f"use one of {list(SIZE_CLASSES)}")
    for name, ind in table["vulnerability"]["indicators"].items():
        _positive(ind, "weight", f"vulnerability.indicators.{name}", allow_zero=True)
        _positive(ind, "saturation", f"vulnerability.indicators.{name}")
        default = ind.get("default")
        if not isinstance(default, int | float) or isinstance(default, bool) or not 0 <= default <= 1:
            _fail(
                f"vulnerability.indicators.{name}.default",
                f"is {default!r}, not a share in 0..1",
                "give the share assumed where the census lacks the indicator",
            )
    _positive(table["vulnerability"].get("community_safety", {}), "weight", "vulnerability.community_safety",
              allow_zero=True)  # fmt: skip
    _positive(table["capacity"], "reference_s", "capacity")
    _positive(table["exposure"], "reference_per_km2", "exposure")
    if table["exposure"]["transform"] not in ("log", "linear"):
        _fail("exposure.transform", "is neither 'log' nor 'linear'", "use 'log' or 'linear'")
    levels = table["levels"]
    if levels["method"] in _LEVEL_METHODS:
        breaks = [float(b) for b in levels.get("breaks", [])]
        if len(breaks) != 3 or breaks != sorted(breaks):
            _fail("levels.breaks", f"is {breaks}", "give three increasing breaks (yellow, orange, red)")
    bands = table["gb18218"]["alpha_bands"]
    if not bands or sorted(b["min_people"] for b in bands)[0] != 0:
        _fail("gb18218.alpha_bands", "has no band starting at 0 people", "add a band with min_people = 0")
    return table
