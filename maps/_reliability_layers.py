"""Map layer of the reliability stage: each station's busy fraction (planning.reliability).

:func:`workload_spec` draws the ``station_workload`` layer of a coverage with reliability
(:func:`planning.reliability.attach_reliability`) as circles coloured by the share of time the
station's units are out, sized by its response units, with the calls it answers, the share of
its own district's calls it answers and its busiest hour in the tooltip.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np

from . import _layers as lyr
from .words import tr

__all__ = ["BUSY_BANDS", "busy_band", "workload_spec"]

#: ``(upper bound of the busy fraction, key, label, fill colour)``, light to dark.
BUSY_BANDS: tuple[tuple[float, str, str, str], ...] = (
    (0.05, "b1", "busy < 5%", "#fee5d9"),
    (0.15, "b2", "busy 5-15%", "#fcae91"),
    (0.30, "b3", "busy 15-30%", "#fb6a4a"),
    (np.inf, "b4", "busy >= 30%", "#cb181d"),
)


def busy_band(busy: np.ndarray) -> np.ndarray:
    """The band key of each busy fraction.

    Examples
    --------
    >>> busy_band(np.array([0.01, 0.2, 0.5])).tolist()
    ['b1', 'b3', 'b4']
    """
    keys = np.array([k for _, k, _, _ in BUSY_BANDS], dtype=object)
    return keys[
        np.searchsorted([u for u, _, _, _ in BUSY_BANDS], np.asarray(busy, dtype=float), side="right")
    ]


def workload_spec(workload: gpd.GeoDataFrame, display: lyr.Display) -> dict[str, Any]:
    """Layer spec of the stations' busy fractions (circles, one per station)."""
    g = workload.copy()
    g["sid"] = g.index.astype(str)
    g["band"] = busy_band(g["busy_fraction"].to_numpy())
    g["r"] = 6 + 2 * np.minimum(g["response_units"].to_numpy(), 4)
    g["busy_pct"] = 100 * g["busy_fraction"]
    g["peak_pct"] = 100 * g["peak_busy_fraction"] if "peak_busy_fraction" in g else np.nan
    g["own_pct"] = 100 * g["first_due_answered_share"]
    props = {
        "sid": "id",
        "name": "n",
        "band": "b",
        "r": "r",
        "busy_pct": "busy",
        "peak_pct": "peak",
        "peak_hour": "h",
        "response_units": "u",
        "calls_per_day": "c",
        "own_pct": "own",
    }
    return {
        "id": "station_workload",
        "kind": "point",
        "cls": "rp-workload",
        "marker": "circle",
        "style": {"color": "#67000d", "weight": 1, "fillOpacity": 0.85},
        "styleBy": {"prop": "b", "values": {k: {"fillColor": c} for _, k, _, c in BUSY_BANDS}},
        "tooltip": {
            "title": "n",
            "fields": [
                ["id", tr("soc_station"), ""],
                ["busy", tr("soc_busy_day_pct"), ".1"],
                ["peak", tr("soc_busy_peak_pct"), ".1"],
                ["h", tr("soc_peak_hour"), "int"],
                ["u", tr("soc_units"), "int"],
                ["c", tr("soc_calls_per_day"), ".1"],
                ["own", tr("soc_own_answered_pct"), ".1"],
            ],
        },
        "data": lyr.feature_collection(g, props, display, points=True, digits=2),
    }
