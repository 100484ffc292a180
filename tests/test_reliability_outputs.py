"""Reliability outputs: `riskplan coverage --reliability`, map layer, report section, `[reliability]`."""

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyogrio
import pytest

from gis import InputError, write_scenario
from service import cli
from service.reliability_run import reliability_run_options


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, _demo_city: dict) -> Path:  # type: ignore[type-arg]
    # the doctests' demo city (built once a session), written as a scenario GeoPackage
    meta = {"name": "Demo City (synthetic)", "synthetic": True}
    return write_scenario(_demo_city, tmp_path_factory.mktemp("rel") / "demo.gpkg", metadata=meta)


@pytest.fixture(scope="module")
def written(demo: Path) -> Path:
    out = demo.parent / "cov.gpkg"
    argv = [
        "-q",
        "coverage",
        str(demo),
        "--out",
        str(out),
        "--reliability",
        "--force",
        "--no-districts",
        "--breaks",
        "5",
    ]
    assert cli.main(argv) == 0
    return out


def test_coverage_reliability_writes_columns_layer_and_tables(written: Path) -> None:
    layers = {str(n) for n, _ in pyogrio.list_layers(written)}
    assert {"station_workload", "p90_by_hour", "concurrency_by_hour", "reliability_summary"} <= layers
    comm = pyogrio.read_dataframe(written, layer="communities")
    assert {"expected_response_p90_s", "busy_fraction_first_due", "expected_coverage"} <= set(comm.columns)
    finite = comm["expected_response_p90_s"].dropna()
    # busy stations never make the 90th percentile faster than the nearest station's time
    assert (finite >= comm.loc[finite.index, "response_time_s"] - 1e-6).all()
    assert comm["busy_fraction_first_due"].between(0, 1).all()
    st = pyogrio.read_dataframe(written, layer="station_workload")
    assert st["busy_fraction"].between(0, 1).all() and (st["response_units"] >= 1).all()
    # --force: both shipped targets' units and crew in time, and the hazards' special-duty gaps
    assert {"nfpa-1710_met", "cn-first-alarm_met", "special_duty_s"} <= set(comm.columns)
    assert {"force_summary", "hazards_special_duty"} <= layers
    p90 = pyogrio.read_dataframe(written, layer="p90_by_hour")
    assert list(p90.columns[-24:]) == [f"h{h:02d}" for h in range(24)] and p90["district"].iloc[-1] == "city"


def test_bad_input_exits_2_with_nothing_written(demo: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[categories.traffic]\nminutes = -1\n")
    out = tmp_path / "x.gpkg"
    argv = ["-q", "coverage", str(demo), "--out", str(out), "--reliability", "--service-times", str(bad)]
    assert cli.main(argv) == 2 and not out.exists()
    broken = tmp_path / "broken.gpkg"
    shutil.copy(demo, broken)
    inc = pyogrio.read_dataframe(broken, layer="incidents")
    inc.loc[[3, 5], "time"] = "sometime"
    pyogrio.write_dataframe(inc, broken, layer="incidents", layer_options={"OVERWRITE": "YES"})
    argv = ["-q", "coverage", str(broken), "--out", str(out), "--reliability", "--no-districts"]
    assert cli.main(argv) == 2 and not out.exists()


def test_map_layer_and_report_section(demo: Path) -> None:
    from gis import load_scenario, scenario_graph
    from maps._standard_of_cover import standard_of_cover_section
    from maps.interactive import LAYER_NAMES, read_map_layers, risk_map
    from planning.coverage import analyse_coverage
    from planning.reliability import analyse_reliability, attach_reliability

    sc = load_scenario(demo)
    g = scenario_graph(sc)
    rel = analyse_reliability(sc, g, standard="cn-gb51080")
    plain = analyse_coverage(sc, g, breaks_s=None, districts=False)
    cov = attach_reliability(plain, rel)
    page = risk_map(sc, coverage=cov, lang="en").get_root().render()
    spec = read_map_layers(page)["station_workload"]
    assert (
        len(spec["data"]["features"]) == len(sc["fire_stations"]) and LAYER_NAMES["station_workload"] in page
    )
    busy = {f["properties"]["id"]: f["properties"]["busy"] for f in spec["data"]["features"]}
    assert busy == pytest.approx((100 * rel.station_workload["busy_fraction"]).round(2).to_dict())
    # each community's expected P90 with busy stations, banded against the standard's time
    expected = read_map_layers(page)["expected_response"]
    got = {f["properties"]["id"]: f["properties"] for f in expected["data"]["features"]}
    p90 = cov.communities["expected_response_p90_s"]
    limit = cov.standard.response_s
    for cid, value in p90.items():
        band = got[str(cid)]["b"]
        if not np.isfinite(value):
            assert band == "none"
        else:
            assert band == ("e1" if value <= limit else "e2" if value <= 1.5 * limit else "e3"), cid
            assert got[str(cid)]["p90"] == pytest.approx(round(value, 2))
    assert {"e1", "e3"} <= {p["b"] for p in got.values()}  # both ends drawn on the demo city
    assert LAYER_NAMES["expected_response"] in page and "P90 within" in page  # layer control, legend
    assert "map_busy_band" not in page and "busy &lt; 5%" in page
    html = standard_of_cover_section(cov)
    assert "Standard of cover" in html and 'id="p90-by-hour"' in html and 'id="station-workload"' in html
    assert html.count("<tr>") >= len(rel.p90_by_hour) + len(sc["fire_stations"]) + 24
    assert standard_of_cover_section(plain) == ""
    from maps.words import speaking

    with speaking("zh"):  # the demo city is in Shanxi: its reports are Chinese by default
        zh = standard_of_cover_section(cov)
    assert "消防站服务标准" in zh and "Standard of cover" not in zh and "全市" in zh
    # the city figures from risk when there are no incidents: the default per-resident rate
    no_inc = SimpleNamespace(
        layers={k: v for k, v in sc.layers.items() if k != "incidents"}, files={}, source=None
    )
    rel_risk = analyse_reliability(_Layers(no_inc.layers), g, calls_per_year=3650)
    assert rel_risk.rates_source.startswith("risk") and rel_risk.city["calls_per_day"] == pytest.approx(10.0)
    assert np.isfinite(rel.concurrency["p_at_least_2"]).all()


class _Layers:
    def __init__(self, layers: dict) -> None:  # type: ignore[type-arg]
        self.layers, self.files, self.source = layers, {}, None

    def __getitem__(self, name: str):  # type: ignore[no-untyped-def]
        return self.layers[name]


def test_scenario_toml_reliability_table(tmp_path: Path) -> None:
    toml = tmp_path / "city.toml"
    sc = SimpleNamespace(source=toml, layers={}, files={})
    toml.write_text("[reliability]\ncalls_per_year = 5000\nhours = 'area'\n")
    assert reliability_run_options(sc) == {"calls_per_year": 5000.0, "hours": "area"}
    toml.write_text("[reliability]\nenabled = false\n")
    assert reliability_run_options(sc) is None
    toml.write_text("[reliability]\ncals_per_year = 5000\n")
    with pytest.raises(InputError, match=r"city\.toml.*\[reliability\].*unknown keys \['cals_per_year'\]"):
        reliability_run_options(sc)
    toml.write_text("[reliability]\ncalls_per_year = -1\n")
    with pytest.raises(InputError, match="calls_per_year"):
        reliability_run_options(sc)
