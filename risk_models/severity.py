"""Hazard severity per source, in GB 18218-2018 grading-value units (R).

A source with an inventory takes its grading value ``R`` (:mod:`risk_models.gb18218`);
one without takes the fallback of its category and size class (``severity.fallback``).
Either is then multiplied by the factor of its rectification status
(``severity.rectification``: open hazards weigh more until verified and closed).
"""

from __future__ import annotations

import logging

import geopandas as gpd
import pandas as pd

from gis.errors import InputError
from gis.schema import HAZARD_CATEGORIES, RECTIFICATION_STATUSES, SIZE_CLASSES

from .gb18218 import major_hazards
from .weights import RiskWeights, load_weights

__all__ = ["check_vocabulary", "hazard_severity"]

log = logging.getLogger(__name__)


def check_vocabulary(hazards: gpd.GeoDataFrame) -> None:
    """Raise :class:`InputError` naming the rows whose category, status or size is unknown.

    Examples
    --------
    >>> from shapely import Point
    >>> h = gpd.GeoDataFrame({"category": ["mine"]}, geometry=[Point(0, 0)], index=["H1"])
    >>> try:
    ...     check_vocabulary(h)
    ... except InputError as exc:
    ...     print(str(exc)[:64])
    Layer `hazards`, rows ['H1'], column `category`: values ['mine']
    """
    if "category" not in hazards.columns:
        msg = "Layer `hazards` has no `category` column. Fix: add one with the categories of the schema."
        raise InputError(msg)
    checks = [
        ("category", HAZARD_CATEGORIES, True),
        ("rectification", RECTIFICATION_STATUSES, False),
        ("size_class", SIZE_CLASSES, False),
    ]
    for column, vocab, required in checks:
        if column not in hazards.columns:
            continue
        values = hazards[column]
        bad = ~values.isin(vocab) & (values.notna() if not required else True)
        if bad.any():
            rows = [str(i) for i in hazards.index[bad][:10]]
            found = sorted({str(v) for v in values[bad]})[:10]
            msg = (
                f"Layer `hazards`, rows {rows}, column `{column}`: values {found} are not in the "
                f"vocabulary {list(vocab)}. Fix: map them with `values = {{ {column} = {{ ... }} }}` "
                "in the scenario TOML."
            )
            raise InputError(msg)


def hazard_severity(
    hazards: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    *,
    risk_weights: RiskWeights | None = None,
) -> pd.DataFrame:
    """Severity of every hazard source, with how it was obtained.

    Parameters
    ----------
    hazards
        The hazards layer (metric CRS), indexed by id.
    communities
        Census polygons with ``population`` (for GB 18218's alpha), same CRS.
    risk_weights
        Risk table (:func:`risk_models.load_weights`).

    Returns
    -------
    pandas.DataFrame
        On ``hazards``' index: ``category``, ``basis`` (``"GB 18218 R"`` or
        ``"fallback <category>/<size>"``), ``S``, ``R``, ``grade``, ``people_500m``,
        ``base_severity``, ``rectification``, ``rectification_factor``, ``severity``
        and ``size_assumed`` (True where the default size class stood in).

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> sev = hazard_severity(city["hazards"], city["communities"])
    >>> sev["basis"].str.startswith("GB").sum(), bool((sev["severity"] > 0).all())
    (np.int64(99), True)
    """
    w = risk_weights if risk_weights is not None else load_weights()
    check_vocabulary(hazards)
    gb = major_hazards(hazards, communities, risk_weights=w)
    out = pd.DataFrame(index=hazards.index)
    out["category"] = hazards["category"].astype(str)
    size = (
        hazards["size_class"].astype(object)
        if "size_class" in hazards.columns
        else pd.Series(None, index=hazards.index, dtype=object)
    )
    out["size_assumed"] = size.isna().to_numpy()
    size = size.fillna(w["severity"]["default_size_class"]).astype(str)
    fallback = [float(w["severity"]["fallback"][c][s]) for c, s in zip(out["category"], size, strict=True)]
    out["basis"] = [f"fallback {c}/{s}" for c, s in zip(out["category"], size, strict=True)]
    out["base_severity"] = fallback
    for col in ("S", "R", "people_500m"):
        out[col] = gb[col].reindex(out.index).astype(float) if len(gb) else float("nan")
    out["grade"] = gb["grade"].reindex(out.index) if len(gb) else None
    has_r = out["R"].notna()
    out.loc[has_r, "base_severity"] = out.loc[has_r, "R"]
    out.loc[has_r, "basis"] = "GB 18218 R"
    out.loc[has_r, "size_assumed"] = False
    status = (
        hazards["rectification"].fillna("none").astype(str)
        if "rectification" in hazards.columns
        else pd.Series("none", index=hazards.index)
    )
    out["rectification"] = status
    out["rectification_factor"] = status.map(
        {k: float(v) for k, v in w["severity"]["rectification"].items() if k != "source"}
    ).astype(float)
    out["severity"] = out["base_severity"] * out["rectification_factor"]
    if out["size_assumed"].any():
        log.warning(
            "hazards without inventory or size_class take size `%s`: %s",
            w["severity"]["default_size_class"],
            list(out.index[out["size_assumed"]][:10]),
        )
    return out
