"""``--workers`` / ``--scheduler`` on ``riskplan run``, ``coverage`` and ``risk``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from gis import write_demo_scenario
from service.cli import EXIT_INVALID, EXIT_OK, main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return write_demo_scenario(tmp_path_factory.mktemp("demo") / "demo.gpkg", n_road_nodes=2000)


@pytest.mark.parametrize("command", ["run", "coverage", "risk"])
def test_an_unreachable_scheduler_exits_2_naming_it_and_the_fix(command, demo, tmp_path, capsys):
    pytest.importorskip("distributed", reason='needs dask[distributed]: pip install "riskplan[scale]"')
    out = tmp_path / ("out" if command == "run" else "out.gpkg")
    code = main(["-q", command, str(demo), "--out", str(out), "--scheduler", "tcp://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == EXIT_INVALID
    assert "`tcp://127.0.0.1:9`" in err
    assert "Fix: start a scheduler there" in err


def test_a_bad_address_or_worker_count_exits_2(demo, tmp_path, capsys):
    assert (
        main(["-q", "risk", str(demo), "--out", str(tmp_path / "r.gpkg"), "--workers", "0"]) == EXIT_INVALID
    )
    assert "`workers` is 0" in capsys.readouterr().err
    code = main(["-q", "risk", str(demo), "--out", str(tmp_path / "r.gpkg"), "--scheduler", "10.0.0.5"])
    assert code == EXIT_INVALID
    assert "not a Dask scheduler address like `tcp://HOST:8786`" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # one place to run: argparse refuses both
        main(["risk", str(demo), "--out", "x.gpkg", "--workers", "2", "--scheduler", "tcp://h:1"])


def test_without_the_flags_dask_is_never_imported(demo, tmp_path):
    argv = ["-q", "risk", str(demo), "--out", str(tmp_path / "r.gpkg"), "--units", "grid:1000"]
    code = (
        "import sys; from service.cli import main; "
        f"rc = main({argv!r}); "
        "assert rc == 0, rc; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')); "
        "assert not bad, bad"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": ""}
    )


def _outputs(folder: Path) -> dict[str, object]:
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    summary.pop("timings_s")
    risk = gpd.read_file(folder / "risk.gpkg", layer="risk_units")
    cov = gpd.read_file(folder / "coverage.gpkg", layer="communities")
    stations = gpd.read_file(folder / "stations.gpkg", layer="proposed")
    return {"summary": summary, "risk": risk, "coverage": cov, "stations": stations}


@pytest.mark.dask
@pytest.mark.slow
def test_run_with_two_workers_writes_what_one_process_writes(demo, tmp_path, monkeypatch):
    pytest.importorskip("distributed", reason='needs dask[distributed]: pip install "riskplan[scale]"')
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the workers import riskplan from this checkout
    args = ["-q", "run", str(demo), "--units", "grid:500", "--no-cache"]
    assert main([*args, "--out", str(tmp_path / "one")]) == EXIT_OK
    assert main([*args, "--out", str(tmp_path / "two"), "--workers", "2"]) == EXIT_OK
    one, two = _outputs(tmp_path / "one"), _outputs(tmp_path / "two")
    assert one["summary"] == two["summary"]
    for name in ("risk", "coverage", "stations"):
        pd.testing.assert_frame_equal(one[name], two[name], check_exact=True)
