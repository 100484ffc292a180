"""Map layer of the reliability stage: each station's busy fraction (planning.reliability).

:func:`workload_spec` draws the ``station_workload`` layer of a coverage with reliability
(:func:`planning.reliability.attach_reliability`) as circles coloured by the share of time the
station's units are out, sized by its response units, with the calls it answers, the share of
its own district's calls it answers and its busiest hour in the tooltip.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from . import _layers as lyr
from ._legend_rows import legend_row as _row
from .words import tr

__all__ = [
    "BUSY_BANDS",
    "EXPECTED_BANDS",
    "busy_band",
    "expected_response_spec",
    "legend_parts",
    "workload_spec",
]

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


#: ``(upper bound as a multiple of the standard's response time, key, fill colour)`` of the
#: expected 90th-percentile response with busy stations: in time, late, far too late.
EXPECTED_BANDS = (
    (1.0, "e1", "#1a9850"),
    (1.5, "e2", "#fdae61"),
    (np.inf, "e3", "#d73027"),
)


def expected_response_spec(
    communities: gpd.GeoDataFrame, response_s: float, display: lyr.Display
) -> dict[str, Any] | None:
    """Layer spec of each community's expected P90 response with busy stations (circles by residents).

    Filled by the P90 against the standard's response time ``response_s`` (in time, up to 1.5x,
    beyond); communities no station reaches, or off the network, are grey. None without the
    reliability columns (``expected_response_p90_s``).
    """
    if "expected_response_p90_s" not in communities:
        return None
    c = communities.copy()
    p90 = c["expected_response_p90_s"].to_numpy(dtype=float)
    keys = np.array([k for _, k, _ in EXPECTED_BANDS], dtype=object)
    upper = [u for u, _, _ in EXPECTED_BANDS]
    band = keys[np.minimum(np.searchsorted(upper, p90 / response_s, side="left"), len(keys) - 1)]
    c["band"] = np.where(np.isfinite(p90), band, "none")
    pop = c["population"].astype(float).clip(lower=0) if "population" in c else pd.Series(1.0, index=c.index)
    c["r"] = np.round(3 + 9 * np.sqrt(pop / (float(pop.max()) or 1.0)), 1)
    c["cid"] = c.index.astype(str)
    c["busy_pct"] = 100 * c["busy_fraction_first_due"] if "busy_fraction_first_due" in c else np.nan
    c["exp_cov_pct"] = 100 * c["expected_coverage"] if "expected_coverage" in c else np.nan
    props = {
        "cid": "id",
        "name": "n",
        "band": "b",
        "r": "r",
        "population": "pop",
        "response_time_s": "t",
        "expected_response_p90_s": "p90",
        "busy_pct": "busy",
        "exp_cov_pct": "ec",
    }
    values = {k: {"fillColor": colour} for _, k, colour in EXPECTED_BANDS}
    return {
        "id": "expected_response",
        "kind": "point",
        "cls": "rp-expected",
        "marker": "circle",
        "style": {"color": "#333333", "weight": 1, "fillOpacity": 0.85, "fillColor": "#bdbdbd"},
        "styleBy": {"prop": "b", "values": values},
        "tooltip": {
            "title": "n",
            "fields": [
                ["id", tr("map_f_expected_community"), ""],
                ["pop", tr("map_f_residents"), "int"],
                ["t", tr("map_f_expected_free"), "s"],
                ["p90", tr("map_f_expected_p90"), "s"],
                ["busy", tr("map_f_expected_busy_pct"), ".1"],
                ["ec", tr("map_f_expected_coverage_pct"), ".1"],
            ],
        },
        "response_s": float(response_s),
        "data": lyr.feature_collection(c, props, display, points=True, digits=2),
    }


def legend_parts(present: Iterable[str], specs: list[dict[str, Any]]) -> list[str]:
    """The legend's sections of the stations' busy fractions and the expected response."""
    present = set(present)
    circle = '<svg width="14" height="14"><circle cx="7" cy="7" r="5.5" fill="{}" stroke="#333"/></svg>'
    parts: list[str] = []
    if "station_workload" in present:
        parts.append(f"<h4>{escape(tr('map_layer_station_workload'))}</h4>")
        lower = 0.0
        for upper, _, _, colour in BUSY_BANDS:
            if lower == 0:
                span = f"< {100 * upper:g}%"
            elif np.isfinite(upper):
                span = f"{100 * lower:g}-{100 * upper:g}%"
            else:
                span = f">= {100 * lower:g}%"
            parts.append(_row(circle.format(colour), tr("map_busy_band", range=span)))
            lower = upper
    spec = next((s for s in specs if s["id"] == "expected_response"), None)
    if spec is not None:
        seconds = f"{spec['response_s']:.0f}"
        parts.append(f"<h4>{escape(tr('map_layer_expected_response'))}</h4>")
        labels = {
            "e1": tr("map_expected_band_e1", seconds=seconds),
            "e2": tr("map_expected_band_e2", seconds=seconds),
            "e3": tr("map_expected_band_e3", seconds=seconds),
        }
        for _, key, colour in EXPECTED_BANDS:
            parts.append(_row(circle.format(colour), labels[key]))
        parts.append(_row(circle.format("#bdbdbd"), tr("map_expected_band_none")))
    return parts
