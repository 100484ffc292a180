"""How the register and the risk grades feed the risk model: documented factors on severity.

A hazard source's severity (GB 18218's ``R``, or the fallback of its category and size) is
multiplied by two factors of ``risk_models/data/risk_weights.toml``:

- ``[severity.risk_grade]``: the source's risk grade by LEC or the matrix (its worst assessed
  part, :func:`~risk_models.register.hazard_risk_grades`). R measures the hazardous
  inventory, the grade how it is controlled; unassessed sources keep 1.0.
- ``[severity.register]``: its open and overdue **major** hidden dangers in the live register,
  read at a time (overdue is computed then, never stored): the factor of its worst item
  (``overdue_major`` or ``open_major``) plus ``per_additional_item`` for each further open
  major item, at most ``max_factor``. It replaces the static ``rectification`` column, which
  still applies when no register is given.

:func:`risk_models.hazard_severity` and :func:`risk_models.score_scenario` take
``register=`` and ``risk_grades=``; these functions give the factors alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

import pandas as pd

from .errors import RegisterError
from .frames import overdue
from .vocab import OPEN_STATUSES, RISK_GRADES

__all__ = ["register_factors", "risk_grade_factors"]

_REGISTER_KEYS = ("open_major", "overdue_major", "per_additional_item", "max_factor")


def _ids(hazard_ids: Iterable[object]) -> pd.Index:
    return pd.Index([str(i) for i in hazard_ids], dtype=object)


def register_factors(
    register: pd.DataFrame,
    hazard_ids: Iterable[object],
    *,
    factors: dict[str, float],
    at: datetime | date | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Each source's open and overdue major items and the factor they put on its severity.

    Parameters
    ----------
    register
        Items frame (:func:`~risk_models.register.items_frame`) or any frame with
        ``hazard_id``, ``status``, ``grade`` and ``deadline``.
    hazard_ids
        The sources to give a factor (the hazards layer's index).
    factors
        ``[severity.register]`` of the risk table: ``open_major``, ``overdue_major``,
        ``per_additional_item``, ``max_factor``.
    at
        When the register is read (overdue is computed then); None: its last change
        (``updated_at``), so that the same register gives the same scores.

    Returns
    -------
    pandas.DataFrame
        On ``hazard_ids``: ``open_major``, ``overdue_major`` (counts) and ``register_factor``.

    Examples
    --------
    H1 has an overdue major item and another open one, H2 a closed major, H3 a general one:

    >>> reg = pd.DataFrame({"hazard_id": ["H1", "H1", "H2", "H3"],
    ...                     "grade": ["major", "major", "major", "general"],
    ...                     "status": ["rectifying", "verified", "closed", "rectifying"],
    ...                     "deadline": pd.to_datetime(["2026-03-01", "2026-05-01"] + ["2026-03-01"] * 2)})
    >>> f = {"open_major": 1.5, "overdue_major": 2.0, "per_additional_item": 0.1, "max_factor": 3.0}
    >>> out = register_factors(reg, ["H1", "H2", "H3", "H4"], factors=f, at=date(2026, 4, 1))
    >>> out["register_factor"].tolist()
    [2.1, 1.0, 1.0, 1.0]
    """
    missing = sorted({"hazard_id", "status", "grade", "deadline"} - set(register.columns))
    if missing:
        msg = (
            f"The register lacks columns {missing}. Fix: give the items frame "
            "(`risk_models.register.items_frame`) or a store query with those columns."
        )
        raise RegisterError(msg)
    bad = [k for k in _REGISTER_KEYS if not isinstance(factors.get(k), int | float) or factors[k] < 0]
    if bad:
        msg = f"`risk_weights.toml` entry `severity.register` lacks or has bad {bad}. Fix: give numbers >= 0."
        raise RegisterError(msg)
    if at is None:
        at = (
            pd.to_datetime(register["updated_at"]).max()
            if "updated_at" in register and len(register)
            else date.today()
        )
    ids = _ids(hazard_ids)
    reg = register[register["hazard_id"].notna()]
    major_open = reg["grade"].eq("major") & reg["status"].isin(OPEN_STATUSES)
    late = overdue(reg, at) & major_open
    key = reg["hazard_id"].astype(str)
    out = pd.DataFrame(index=ids)
    out["open_major"] = major_open.groupby(key).sum().reindex(ids).fillna(0).astype(int)
    out["overdue_major"] = late.groupby(key).sum().reindex(ids).fillna(0).astype(int)
    worst = (
        out["overdue_major"]
        .gt(0)
        .map({True: float(factors["overdue_major"]), False: float(factors["open_major"])})
    )
    more = float(factors["per_additional_item"]) * (out["open_major"] - 1).clip(lower=0)
    factor = (worst + more).clip(upper=float(factors["max_factor"]))
    out["register_factor"] = factor.where(out["open_major"] > 0, 1.0).round(6)
    return out


def risk_grade_factors(
    risk_grades: pd.DataFrame | pd.Series,
    hazard_ids: Iterable[object],
    *,
    factors: dict[str, float],
) -> pd.DataFrame:
    """Each source's risk grade and the factor it puts on its severity (1.0 unassessed).

    Parameters
    ----------
    risk_grades
        :func:`~risk_models.register.hazard_risk_grades` (a ``grade`` column) or a Series of
        grades, indexed by hazard id.
    hazard_ids
        The sources to give a factor.
    factors
        ``[severity.risk_grade]`` of the risk table: a factor per grade.

    Returns
    -------
    pandas.DataFrame
        On ``hazard_ids``: ``risk_grade`` (None unassessed) and ``risk_grade_factor``.

    Examples
    --------
    >>> g = pd.Series(["major", "low"], index=["H1", "H2"])
    >>> f = {"major": 1.5, "high": 1.2, "moderate": 1.0, "low": 1.0}
    >>> risk_grade_factors(g, ["H1", "H2", "H3"], factors=f)["risk_grade_factor"].tolist()
    [1.5, 1.0, 1.0]
    """
    grades = risk_grades["grade"] if isinstance(risk_grades, pd.DataFrame) else risk_grades
    grades = grades.copy()
    grades.index = _ids(grades.index)
    bad = sorted({str(g) for g in grades.dropna() if g not in RISK_GRADES})
    if bad:
        msg = f"Risk grades {bad} are unknown. Fix: use {list(RISK_GRADES)} (`hazard_risk_grades`)."
        raise RegisterError(msg)
    missing = [g for g in RISK_GRADES if not isinstance(factors.get(g), int | float) or factors[g] <= 0]
    if missing:
        msg = (
            f"`risk_weights.toml` entry `severity.risk_grade` lacks or has bad {missing}. "
            "Fix: give factors > 0."
        )
        raise RegisterError(msg)
    ids = _ids(hazard_ids)
    out = pd.DataFrame(index=ids)
    g = grades[~grades.index.duplicated()].reindex(ids)
    out["risk_grade"] = g.astype(object).where(g.notna(), None)
    out["risk_grade_factor"] = g.map(lambda v: float(factors[v]) if isinstance(v, str) else 1.0).astype(float)
    return out
