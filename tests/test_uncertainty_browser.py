"""The uncertainty hatch in a real headless Chromium (issue 19): hatched on the uncertain units only.

The map marks units whose level is uncertain (no level reaches 70 %) with the SVG pattern
``rp-hatch-uncertain`` (maps/_uncertainty.py, riskplan_map.js / .css). The test reads, per drawn
path, the unit it draws and the fill the browser computed for it.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import shapely
from live_server import wait_for

from maps import write_map

#: Units C0..C5 in a row; C1 and C4 have no level at >= 70 %.
_PROBS = [0.95, 0.55, 0.9, 0.8, 0.4, 1.0]


def _layers() -> tuple[dict[str, gpd.GeoDataFrame], gpd.GeoDataFrame]:
    ids = [f"C{i}" for i in range(len(_PROBS))]
    geom = [shapely.box(500_000 + i * 400, 4_200_000, 500_000 + i * 400 + 380, 4_200_380) for i in range(6)]
    communities = gpd.GeoDataFrame(
        {"id": ids, "name": [f"Community {i}" for i in range(6)], "population": [1000] * 6},
        geometry=geom,
        crs=32650,
    ).set_index("id", drop=False)
    units = gpd.GeoDataFrame(
        {
            "level": ["red", "orange", "yellow", "blue", "orange", "blue"],
            "level_likely": ["red", "orange", "yellow", "blue", "yellow", "blue"],
            "level_probability": _PROBS,
            "p_red": [0.95, 0.3, 0.0, 0.0, 0.1, 0.0],
            "uncertain": [p < 0.7 for p in _PROBS],
        },
        index=ids,
        geometry=geom,
        crs=32650,
    )
    stations = gpd.GeoDataFrame(
        {"id": ["S1"], "name": ["Station 1"], "grade": ["grade1"]},
        geometry=[shapely.Point(500_100, 4_199_800)],
        crs=32650,
    ).set_index("id", drop=False)
    return {"communities": communities, "fire_stations": stations}, units


def test_uncertain_units_are_hatched_and_certain_ones_are_not(browser, tmp_path: Path) -> None:
    layers, units = _layers()
    out = write_map(layers, tmp_path / "map.html", uncertainty=units, lang="en")
    browser.get(out.as_uri())
    wait_for(browser, "return window.riskplanReady === true", "the map to be ready")
    browser.execute_script("riskplan.showAll()")
    fills = browser.execute_script(
        """
        const out = {};
        for (const [id, e] of Object.entries(riskplan.layers)) {
          out[id] = {};
          e.geo.eachLayer(function (l) {
            if (l._path && l._path.isConnected) {
              out[id][l.feature.properties.id] = getComputedStyle(l._path).fill;
            }
          });
        }
        return out;
        """
    )
    hatched = {uid for uid, fill in fills["uncertain"].items() if "rp-hatch-uncertain" in fill}
    assert hatched == {"C1", "C4"}, fills["uncertain"]
    # the units underneath keep their plain fill: nothing else on the map is hatched
    for layer, by_unit in fills.items():
        if layer != "uncertain":
            assert not any("rp-hatch-uncertain" in f for f in by_unit.values()), (layer, by_unit)
    assert set(fills["communities"]) == set(units.index)
    pattern = browser.execute_script(
        "const p = document.getElementById('rp-hatch-uncertain');"
        "return p && [p.tagName, p.querySelectorAll('line').length];"
    )
    assert pattern == ["pattern", 1]
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe
