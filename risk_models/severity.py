"""Hazard severity per source, in GB 18218-2018 grading-value units (R).

A source with an inventory takes its grading value ``R`` (:mod:`risk_models.gb18218`);
one without takes the fallback of its category and size class (``severity.fallback``).
Either is then multiplied by

- the factor of its risk grade by LEC or the matrix, when grades are given
  (``severity.risk_grade``; :func:`risk_models.register.hazard_risk_grades`), and
- the factor of its open and overdue major hidden dangers in the live register, when a
  register is given (``severity.register``; :func:`risk_models.register.register_factors`),
  else the factor of its static ``rectification`` column (``severity.rectification``: open
  hazards weigh more until verified and closed), which stays as an import path.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

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
    register: pd.DataFrame | None = None,
    register_at: datetime | date | pd.Timestamp | None = None,
    risk_grades: pd.DataFrame | pd.Series | None = None,
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
    register
        The hidden-danger register (:func:`risk_models.register.items_frame`, or a store
        query with ``hazard_id``, ``status``, ``grade``, ``deadline``): its open and overdue
        major items replace the ``rectification`` column.
    register_at
        When the register is read (overdue is computed then); None: its last change.
    risk_grades
        Risk grades per source (:func:`risk_models.register.hazard_risk_grades`).

    Returns
    -------
    pandas.DataFrame
        On ``hazards``' index: ``category``, ``basis`` (``"GB 18218 R"`` or
        ``"fallback <category>/<size>"``), ``S``, ``R``, ``grade``, ``people_500m``,
        ``base_severity``, ``rectification``, ``rectification_factor``, ``risk_grade``,
        ``risk_grade_factor``, ``open_major``, ``overdue_major``, ``register_factor``,
        ``status_basis`` (``"register"`` or ``"rectification column"``), ``severity``
        (``base_severity x risk_grade_factor x`` the register or rectification factor) and
        ``size_assumed`` (True where the default size class stood in).

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> sev = hazard_severity(city["hazards"], city["communities"])
    >>> sev["basis"].str.startswith("GB").sum(), bool((sev["severity"] > 0).all())
    (np.int64(99), True)

    An overdue major danger at a source doubles its severity (``severity.register``):

    >>> from risk_models.register import synthetic_register
    >>> reg = synthetic_register(city, seed=0)
    >>> live = hazard_severity(city["hazards"], city["communities"], register=reg.items)
    >>> hit = live["overdue_major"] > 0
    >>> bool(hit.any()), bool((live.loc[hit, "severity"] >= 2 * live.loc[hit, "base_severity"]).all())
    (True, True)
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
    out = out.join(_live_factors(hazards.index, w, register, register_at, risk_grades))
    status_factor = out["register_factor"] if register is not None else out["rectification_factor"]
    out["status_basis"] = "register" if register is not None else "rectification column"
    out["severity"] = out["base_severity"] * out["risk_grade_factor"] * status_factor
    if out["size_assumed"].any():
        log.warning(
            "hazards without inventory or size_class take size `%s`: %s",
            w["severity"]["default_size_class"],
            list(out.index[out["size_assumed"]][:10]),
        )
    return out


def _live_factors(
    index: pd.Index,
    w: RiskWeights,
    register: pd.DataFrame | None,
    register_at: datetime | date | pd.Timestamp | None,
    risk_grades: pd.DataFrame | pd.Series | None,
) -> pd.DataFrame:
    """The risk-grade and register factors of each source (1.0 where not given)."""
    from .register.influence import register_factors, risk_grade_factors

    ids = index.astype(str)
    out = pd.DataFrame(index=index)
    if risk_grades is not None:
        grades = risk_grade_factors(risk_grades, ids, factors=dict(w["severity"]["risk_grade"]))
        out["risk_grade"] = grades["risk_grade"].to_numpy()
        out["risk_grade_factor"] = grades["risk_grade_factor"].to_numpy()
    else:
        out["risk_grade"] = None
        out["risk_grade_factor"] = 1.0
    if register is not None:
        live = register_factors(register, ids, factors=dict(w["severity"]["register"]), at=register_at)
        for col in ("open_major", "overdue_major", "register_factor"):
            out[col] = live[col].to_numpy()
    else:
        out["open_major"] = 0
        out["overdue_major"] = 0
        out["register_factor"] = 1.0
    return out
