"""The register on the map and in the report, against the hand-made register of March 2026.

The map is a published artefact: these tests check the four-colour layers' colours, the
items' states, overdue and supervision marks, the thinning under the point budget, and that no
private field (reporter, description, plan, note: marked ``SECRET`` in the factory) reaches
the page. The report's section is checked figure by figure against :func:`assess`.
"""

from __future__ import annotations

import json
import re
from html import unescape

import geopandas as gpd
import pandas as pd
import pytest
import register_factory as rf
from shapely import Point, box

from maps import read_map_layers, risk_map
from maps._register import REGISTER_PROPERTIES
from maps._register_report import register_section
from maps._style import load_style
from risk_models.register import assess, register_month, trace_incidents

#: Risk assessments by hand: H1 major (D = 6 x 6 x 15 = 540), H2 high (its worst part, D = 270;
#: R = 3 x 4 = 12 moderate), H3 low (D = 1 x 6 x 3 = 18).
ROWS = pd.DataFrame(
    {
        "hazard_id": ["H1", "H2", "H2", "H3"],
        "part": ["tank farm", "mill", "store", "yard"],
        "method": ["lec", "lec", "matrix", "lec"],
        "L": [6, 3, None, 1],
        "E": [6, 6, None, 6],
        "C": [15, 15, None, 3],
        "likelihood": [None, None, 3, None],
        "severity": [None, None, 4, None],
    }
)


@pytest.fixture(scope="module")
def hm() -> rf.HandMade:
    return rf.build()


@pytest.fixture(scope="module")
def month(hm: rf.HandMade):
    hazards = hm.hazards.copy()
    hazards.loc["H2", "geometry"] = Point(rf.XY[4]).buffer(60.0)  # a plant mapped as an area
    return register_month(
        hm.frame,
        hm.events,
        "2026-03",
        label="hand-made register (synthetic)",
        hazards=hazards,
        incidents=hm.incidents,
        risk_assessments=ROWS,
        synthetic=True,
    )


def _shown(text: str, page: str) -> bool:
    """Whether ``text`` is in the page, as written or as the JSON of the legend and title."""
    return text in page or json.dumps(text)[1:-1] in page


def _layers(hm: rf.HandMade) -> dict[str, gpd.GeoDataFrame]:
    """The hand-made city around the register: two communities, a station, the hazards."""
    x0, y0 = rf.X0, rf.Y0
    communities = gpd.GeoDataFrame(
        {"id": ["C1", "C2"], "name": ["North", "South"], "population": [1000, 2000]},
        geometry=[
            box(x0 - 60_000, y0 - 500, x0 + 5000, y0 + 500),
            box(x0 + 5000, y0 - 500, x0 + 16_000, y0 + 500),
        ],
        crs=rf.CRS,
    )
    stations = gpd.GeoDataFrame(
        {"id": ["F1"], "name": ["Station 1"], "grade": ["grade1"]}, geometry=[Point(x0, y0 + 300)], crs=rf.CRS
    )
    return {
        "communities": communities,
        "fire_stations": stations,
        "hazards": hm.hazards.reset_index(names="id"),
    }


@pytest.fixture(scope="module")
def page(hm: rf.HandMade, month) -> str:
    return risk_map(_layers(hm), register=month, tiles=None, lang="en").get_root().render()


def test_the_month_reads_the_states_at_its_end(month) -> None:
    items = month.items
    # item 6 was reported on 25 March, so all seven are in; item 3 is 11 days past 20 March
    assert items.loc[rf.num(3), "status"] == "rectifying"
    assert bool(items.loc[rf.num(3), "overdue"]) and items.loc[rf.num(3), "days_overdue"] == 11
    assert not items.loc[[rf.num(k) for k in (1, 2, 4, 5, 6, 7)], "overdue"].any()
    assert items.loc[rf.num(4), "supervised_by"] == "City Safety Office"
    assert month.as_of == pd.Timestamp("2026-03-31 23:59:59.999999999")


def test_four_colour_layers_have_the_grades_colours(month, page: str) -> None:
    specs = read_map_layers(page)
    style = load_style()
    red, orange, blue = (style["risk_levels"][c]["colour"] for c in ("red", "orange", "blue"))
    points = specs["risk_points"]
    grade_of = {f["properties"]["id"]: f["properties"]["gr"] for f in points["data"]["features"]}
    assert grade_of == {"H1": "major", "H2": "high", "H3": "low"}
    values = points["styleBy"]["values"]
    assert (values["major"]["fillColor"], values["high"]["fillColor"], values["low"]["fillColor"]) == (
        red,
        orange,
        blue,
    )
    # the footprint of H2 is drawn in its grade's colour, and only H2 has one
    areas = specs["risk_areas"]
    assert [f["properties"]["id"] for f in areas["data"]["features"]] == ["H2"]
    assert areas["styleBy"]["values"]["high"] == {"fillColor": orange, "color": orange}
    parts = next(
        f["properties"]["parts"] for f in points["data"]["features"] if f["properties"]["id"] == "H2"
    )
    assert parts.startswith("mill: high (LEC D = 3 x 6 x 15 = 270)")  # the page is in English
    assert _shown("Safety risk points, four colours", page) and _shown("Major risk point (red)", page)


def test_items_by_state_overdue_majors_and_supervised(page: str) -> None:
    specs = read_map_layers(page)
    open_ = {f["properties"]["id"]: f["properties"] for f in specs["register"]["data"]["features"]}
    done = {f["properties"]["id"]: f["properties"] for f in specs["register_closed"]["data"]["features"]}
    assert set(open_) == {rf.num(k) for k in (3, 4, 6)}
    assert set(done) == {rf.num(k) for k in (1, 2, 5, 7)}
    assert open_[rf.num(3)]["ic"] == "rectifying|g|o"  # overdue: ringed
    assert open_[rf.num(3)]["od"] == 11 and open_[rf.num(3)]["dl"] == "2026-03-20"
    assert open_[rf.num(4)]["ic"] == "rectifying|s"  # a supervised major: a star
    assert open_[rf.num(4)]["sup"] == "City Safety Office"
    assert open_[rf.num(6)]["ic"] == "verified|g"
    assert done[rf.num(1)]["ic"] == "closed|m"  # a major: a square
    assert done[rf.num(5)]["ic"] == "rejected|g" and done[rf.num(5)]["closed"] == 1
    style = load_style()["register"]
    icons = specs["register"]["icons"]
    assert (
        style["overdue_ring"] in icons["rectifying|g|o"] and style["overdue_ring"] not in icons["verified|g"]
    )
    assert "<polygon" in icons["rectifying|s"] and "<circle" in icons["verified|g"]
    popup = [f[0] for f in specs["register"]["popup"]["fields"]]
    assert {"cat", "gr", "st", "dl", "od"} <= set(popup)
    for text in ("Overdue", "Major, under supervision", "Rectifying"):  # the page is in English
        assert _shown(text, page), text


def test_the_map_leaks_no_reporter_description_plan_or_note(hm: rf.HandMade, page: str) -> None:
    specs = read_map_layers(page)
    for layer in ("register", "register_closed"):
        for f in specs[layer]["data"]["features"]:
            assert set(f["properties"]) <= set(REGISTER_PROPERTIES), f["properties"]
    text = unescape(page)
    assert "SECRET" not in text
    for who in rf.REPORTERS:
        assert not _shown(who, text)
    assert "acct-" not in text and "insp-1" not in text  # no actors


def test_the_point_budget_keeps_overdue_and_supervised_items_first(hm: rf.HandMade, month) -> None:
    page = risk_map(
        _layers(hm), register=month, tiles=None, map_style={"display": {"max_points": 2}}, lang="en"
    )
    specs = read_map_layers(page.get_root().render())
    drawn = [f["properties"]["id"] for f in specs["register"]["data"]["features"]]
    assert drawn == [rf.num(3), rf.num(4)]  # overdue, then the supervised major
    assert "register_closed" not in specs
    assert "2 of 7 items drawn" in specs["register"]["note"]


def test_the_report_section_matches_assess(hm: rf.HandMade, month) -> None:
    section = register_section(month)
    by_district = assess(hm.frame, hm.events, "2026-03", by="district")
    city = by_district.city.loc["2026-03"]
    kpi = dict(re.findall(r'data-metric="(\w+)"><b>([^<]*)</b>', section))
    assert kpi["found"] == f"{int(city['found']):,}" == "4"
    assert kpi["closed"] == f"{int(city['closed']):,}" == "2"
    assert kpi["on_time_rate"] == f"{city['on_time_rate']:.0%}" == "50%"  # item 1 on time, item 2 late
    assert kpi["overdue_now"] == f"{int(city['overdue_now'])}" == "1"
    assert kpi["median_days_to_close"] == f"{city['median_days_to_close']:,.1f}"
    assert kpi["reopen_rate"] == f"{city['reopen_rate']:.0%}"
    assert kpi["self_check_share"] == f"{city['self_check_share']:.0%}"
    # the ranking tables in assess's order, with its scores
    for by in ("district", "department_unit", "enterprise_id"):
        a = assess(hm.frame, hm.events, "2026-03", by=by)
        table = re.search(rf'<table class="rp" id="reg-rank-{by}">(.*?)</table>', section, re.S)
        assert table is not None, by
        rows = re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)[1:]
        cells = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in rows]
        assert [unescape(c[1]) for c in cells] == [str(g) for g in a.table.index]
        assert [c[2] for c in cells] == [f"{s:,.1f}" for s in a.table["score"]]
    # one chart per assessment, the trend and the four-colour map
    assert section.count("<img") == 2 + 3
    # the traceability findings are those of trace_incidents, for the incidents up to the
    # month's end (I2, on 1 April, is not in March's report)
    march = hm.incidents[pd.to_datetime(hm.incidents["time"]) < pd.Timestamp("2026-04-01")]
    trace = trace_incidents(march, hm.frame, hm.events)
    assert len(trace) == 4 and "I2" not in set(trace["incident_id"])
    table = re.search(r'id="reg-trace">(.*?)</table>', section, re.S)
    assert table is not None and table.group(1).count("<tr>") - 1 == len(trace)
    assert "SECRET" not in section and "Synthetic register" in section


def test_the_report_embeds_the_section_and_the_register_layers(month, tmp_path) -> None:
    from map_factory import map_inputs

    from maps import write_report

    tradeoff = pd.DataFrame({"n_new": [0, 1], "coverage_share": [0.5, 0.6], "mean_response_s": [400, 350]})
    sc, risk, cov, *_ = map_inputs(["north", "south", "east"], tradeoff)
    out = write_report(sc, tmp_path / "report.html", risk=risk, coverage=cov, register=month, lang="en")
    text = out.read_text(encoding="utf-8")
    assert 'id="register"' in text and 'id="reg-kpis"' in text
    assert {"register", "risk_points"} <= set(read_map_layers(text))
    assert "SECRET" not in unescape(text)


def test_the_register_layers_draw_and_a_click_opens_the_public_popup(
    hm: rf.HandMade, month, browser, tmp_path
) -> None:
    import time

    from maps import write_map

    out = write_map(_layers(hm), tmp_path / "map.html", register=month, tiles=None, lang="en")
    browser.get(out.as_uri())
    for _ in range(400):
        if browser.execute_script("return window.riskplanReady === true"):
            break
        time.sleep(0.05)
    drawn = browser.execute_script("return riskplan.drawn()")
    assert drawn["register"]["shown"] and drawn["risk_points"]["shown"]
    assert not drawn["register_closed"]["shown"]  # closed items hidden by default
    browser.execute_script("riskplan.showAll()")
    drawn = browser.execute_script("return riskplan.drawn()")
    for layer, n in {"register": 3, "register_closed": 4, "risk_points": 3, "risk_areas": 1}.items():
        assert drawn[layer]["drawn"] == drawn[layer]["expected"] == n, (layer, drawn[layer])
    popup = browser.execute_script(
        "var hit = null; riskplan.layers.register.geo.eachLayer(function (l) {"
        f"  if (l.feature.properties.id === '{rf.num(3)}') {{ hit = l; }} }});"
        "riskplan.map.setView(hit.getLatLng(), 16, {animate: false}); hit.openPopup();"
        "return document.querySelector('.rp-popup').innerText;"
    )
    assert rf.num(3) in popup and "Days overdue" in popup and "11" in popup and "2026-03-20" in popup
    assert "SECRET" not in popup
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe
