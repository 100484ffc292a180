"""What the maps and the report read of a station plan and a depot plan (structural types).

:class:`planning.StationPlan` and :class:`planning.DepotPlan` satisfy these protocols; so does
any object with the same attributes, such as a plan read back from stored results.
"""

from __future__ import annotations

from typing import Protocol

import geopandas as gpd
import pandas as pd

__all__ = ["DepotPlanLike", "StationPlanLike"]


class StationPlanLike(Protocol):
    """What the maps read of a :class:`planning.StationPlan`: its proposals and trade-off curve.

    A :class:`~planning.StationPlan` is one; so is any object with these two attributes, such
    as a plan read back from stored results.
    """

    @property
    def proposed(self) -> gpd.GeoDataFrame:
        """Proposed stations (``name``, ``reason``, ``added_demand``; points), indexed by id."""
        ...

    @property
    def tradeoff(self) -> pd.DataFrame:
        """Coverage against new stations (``n_new``, ``coverage_share``, ``mean_response_s``)."""
        ...


class DepotPlanLike(Protocol):
    """What the maps read of a :class:`planning.DepotPlan`: who each depot serves, its table.

    A :class:`~planning.DepotPlan` is one; so is any object with ``served`` and ``table()``.
    """

    @property
    def served(self) -> pd.Series:
        """Depot id per served community id."""
        ...

    def table(self) -> pd.DataFrame:
        """One row per depot for the report."""
        ...
