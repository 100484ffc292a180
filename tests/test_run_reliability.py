"""``riskplan run`` with a scenario TOML's ``[reliability]``: from the TOML to every output.

The smallest demo city (2,000 road nodes, its incidents): summary.json's ``reliability`` entry,
the ``station_workload`` layer and the ``p90_by_hour`` / ``concurrency_by_hour`` tables of
coverage.gpkg, the communities' reliability columns on the coverage's own times, the report's
"Standard of cover" section; a bad ``[reliability]`` table exits 2 with nothing written.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyogrio
import pytest

from gis import write_scenario
from service.cli import main

LAYERS = ("roads", "hazards", "communities", "fire_stations", "depots", "candidate_sites", "incidents")


def _toml(gpkg: Path, reliability: str) -> str:
    names = {str(n) for n, _ in pyogrio.list_layers(gpkg)}
    tables = "\n".join(
        f'[layers.{name}]\npath = "{gpkg.name}"\nlayer = "{name}"\n' for name in LAYERS if name in names
    )
    return f'[scenario]\nname = "Demo City (synthetic)"\nsynthetic = true\n\n{tables}\n{reliability}'


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory, _demo_city: dict) -> Path:  # type: ignore[type-arg]
    base = tmp_path_factory.mktemp("run_rel")
    return write_scenario(
        _demo_city, base / "demo.gpkg", metadata={"name": "Demo City (synthetic)", "synthetic": True}
    )


@pytest.fixture(scope="module")
def results(city: Path) -> Path:
    toml = city.parent / "scenario.toml"
    toml.write_text(_toml(city, "[reliability]\nhours = 'city'\n"), encoding="utf-8")
    out = city.parent / "results"
    assert main(["-q", "run", str(toml), "--out", str(out), "--lang", "en", "--new", "1", "--no-cache"]) == 0
    return out


@pytest.mark.slow  # the whole run on the smallest demo city (about 25 s of CPU)
def test_run_writes_the_reliability_everywhere(results: Path) -> None:
    summary = json.loads((results / "summary.json").read_text(encoding="utf-8"))
    rel = summary["reliability"]
    city = rel["city"]
    assert 0 < city["expected_coverage"] <= 1 and city["calls_per_day"] > 0
    assert city["off_network_communities"] == 0
    assert city["expected_response_p90_s"] is None or city["expected_response_p90_s"] > 0
    assert all(0 <= s["busy_fraction"] <= 1 and 0 <= s["peak_hour"] < 24 for s in rel["stations"].values())
    gpkg = results / "coverage.gpkg"
    layers = {str(n) for n, _ in pyogrio.list_layers(gpkg)}
    assert {"station_workload", "p90_by_hour", "concurrency_by_hour", "reliability_summary"} <= layers
    st = pyogrio.read_dataframe(gpkg, layer="station_workload")
    assert len(st) == len(rel["stations"]) and st["busy_fraction"].between(0, 1).all()
    stations = pyogrio.read_dataframe(gpkg, layer="stations", read_geometry=False)
    assert len(stations) == len(st)
    p90 = pyogrio.read_dataframe(gpkg, layer="p90_by_hour", read_geometry=False)
    assert list(p90.columns[-24:]) == [f"h{h:02d}" for h in range(24)] and p90["district"].iloc[-1] == "city"
    conc = pyogrio.read_dataframe(gpkg, layer="concurrency_by_hour", read_geometry=False)
    assert len(conc) == 24 and conc["p_at_least_2"].between(0, 1).all()
    comm = pyogrio.read_dataframe(gpkg, layer="communities", read_geometry=False)
    # the reliability solves on the coverage's own times: a call that finds its first-due station
    # free is answered in the coverage's response time, so the p90 is never faster than it
    finite = comm["expected_response_p90_s"].replace(np.inf, np.nan).dropna()
    assert len(finite) and (finite >= comm.loc[finite.index, "response_time_s"] - 1e-6).all()
    assert (comm["busy_fraction_first_due"].between(0, 1)).all()
    report = (results / "report.html").read_text(encoding="utf-8")
    assert 'id="standard-of-cover"' in report and 'id="p90-by-hour"' in report
    assert 'id="station-workload"' in report


@pytest.mark.parametrize(
    ("table", "match"),
    [
        ("[reliability]\ncals_per_year = 5000\n", "cals_per_year"),
        ("[reliability]\ncalls_per_year = -1\n", "calls_per_year"),
        ('[reliability]\nservice_times = "nowhere.toml"\n', "nowhere.toml"),
    ],
)
def test_bad_reliability_table_exits_2_with_nothing_written(
    city: Path, tmp_path: Path, table: str, match: str, capsys: pytest.CaptureFixture[str]
) -> None:
    toml = city.parent / f"bad_{abs(hash(table))}.toml"
    toml.write_text(_toml(city, table), encoding="utf-8")
    out = tmp_path / "results"
    assert main(["-q", "run", str(toml), "--out", str(out), "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert match in err
    assert not out.exists() or not any(out.iterdir())
