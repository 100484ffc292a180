"""The riskplan command line: exit codes, messages, atomic outputs."""

import json
import subprocess
import sys

import pyogrio
import pytest
from scenario_factory import small_layers, write_gpkg

from service.cli import main


def test_validate_ok(tmp_path, capsys):
    assert main(["-q", "validate", "--lang", "en", str(write_gpkg(tmp_path / "ok.gpkg"))]) == 0
    out = capsys.readouterr().out
    assert "is valid" in out and "fire_stations" in out


def test_validate_bad_input_exit_2_with_every_problem(tmp_path, capsys):
    layers = small_layers()
    layers["hazards"].loc[0, "category"] = "chem"
    layers["communities"].loc[1, "population"] = -3
    assert main(["validate", str(write_gpkg(tmp_path / "bad.gpkg", layers))]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "rows [H1], column `category`" in captured.err
    assert "rows [C2], column `population`: negative value" in captured.err
    assert "bad.gpkg" in captured.err


def test_network_writes_graph_and_snap_report(tmp_path, capsys):
    out = tmp_path / "net" / "network.gpkg"
    report = tmp_path / "snaps.csv"
    code = main(
        [
            "-q",
            "network",
            str(write_gpkg(tmp_path / "ok.gpkg")),
            "--out",
            str(out),
            "--snap-report",
            str(report),
            "--no-cache",
        ]
    )
    assert code == 0
    assert {n for n, _ in pyogrio.list_layers(out)} >= {"nodes", "edges"}
    assert "fire_stations" in report.read_text()
    assert str(out.resolve()) in capsys.readouterr().out


def test_network_invalid_input_leaves_no_output(tmp_path, capsys):
    layers = small_layers()
    layers["fire_stations"] = layers["fire_stations"].set_crs(None, allow_override=True)
    out = tmp_path / "network.gpkg"
    assert main(["network", str(write_gpkg(tmp_path / "bad.gpkg", layers)), "--out", str(out)]) == 2
    assert "has no CRS" in capsys.readouterr().err
    assert not out.exists()
    assert list(tmp_path.glob(".*")) == []


def test_far_station_is_flagged_not_silently_snapped(tmp_path, capsys):
    layers = small_layers()
    far = layers["fire_stations"].copy()
    far.loc[0, "geometry"] = far.geometry[0].__class__(112.60, 37.90)  # ~5 km from the grid
    layers["fire_stations"] = far
    code = main(
        [
            "-q",
            "network",
            str(write_gpkg(tmp_path / "far.gpkg", layers)),
            "--out",
            str(tmp_path / "n.gpkg"),
            "--max-snap-m",
            "300",
            "--no-cache",
        ]
    )
    assert code == 0
    err = capsys.readouterr().err
    assert "fire_stations: 1 beyond the snap limit: FS1" in err


@pytest.mark.slow
def test_demo_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["-q", "demo", "--out", str(out), "--nodes", "3000"]) == 0
    printed = capsys.readouterr().out
    # one language for the summary, the map, the report and the register's pages: the demo city
    # lies in Shanxi, so Chinese (gis.i18n.resolve_lang), where the summary used to be English
    assert printed.startswith("演示城市已写入 ") and "合成数据" in printed and "用时" in printed
    assert "图例" in (out / "map.html").read_text(encoding="utf-8")
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "重大风险" in report and "Key figures" not in report
    disclosure = next((out / "register").glob("disclosure-*.html")).read_text(encoding="utf-8")
    assert "隐患情况公开" in disclosure and "Hidden-danger disclosure" not in disclosure
    summary = json.loads((out / "summary.json").read_text())
    assert summary["synthetic"] is True
    assert summary["layers"]["fire_stations"] == 6
    assert summary["coverage"]["standard"] == "cn-gb51080"
    assert 0 < summary["coverage"]["by_layer"]["communities"]["share_weight"] < 1  # east bank uncovered
    assert sum(summary["risk"]["levels"].values()) == 150
    assert summary["risk"]["top"][0]["level"] == "red"
    plan = summary["plan"]["stations"]
    assert plan["after"]["population_share"] > plan["before"]["population_share"]
    assert len(summary["plan"]["proposed"]) == 3
    cs = summary["community_safety"]  # the synthetic survey, its budget and demonstration count
    assert cs["synthetic"] is True and cs["upgrades"]["budget_cny"] == 20_000_000
    assert len(cs["demonstration"]["chosen"]) == 18 and cs["resurveyed"] == 30
    assert "SYNTHETIC survey" in printed
    for name in (
        "demo_city.gpkg",
        "demo_survey.csv",
        "communities.gpkg",
        "network.gpkg",
        "snapping.csv",
        "coverage.gpkg",
        "risk.gpkg",
        "stations.gpkg",
        "depots.gpkg",
        "map.html",
        "report.html",
    ):
        assert (out / name).exists()
        assert str((out / name).resolve()) in printed


def test_console_script_exit_code_for_missing_file(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "service.cli", "validate", str(tmp_path / "nope.gpkg")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr
