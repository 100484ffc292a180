"""Execute the analyst notebooks of ``notebooks/`` and check they are committed clean.

Each notebook runs top to bottom in a fresh kernel of *this* interpreter (a kernelspec
written to a temporary ``JUPYTER_PATH``, so no kernel has to be installed on the machine),
with its parameters overridden papermill-style: a cell tagged ``injected-parameters`` is
inserted after the cell tagged ``parameters``. Any error in any cell fails the test.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason='the notebook tests need `pip install -e ".[notebooks]"`')
nbclient = pytest.importorskip("nbclient", reason='the notebook tests need `pip install -e ".[notebooks]"`')
pytest.importorskip("ipykernel", reason='the notebook tests need `pip install -e ".[notebooks]"`')

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
ALL = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
KERNEL = "riskplan-test"
CELL_TIMEOUT_S = 240
# the public API: top-level packages, plus the modules their docs name as public
PUBLIC_MODULES = {
    "gis",
    "gis.census",
    "gis.coords",
    "gis.demo",
    "gis.population",
    "gis.tables",
    "risk_models",
    "risk_models.community_safety",
    "risk_models.register",
    "planning",
    "planning.concentration",
    "planning.location",
    "planning.reliability",
    "maps",
}


def _notebook(name: str) -> Path:
    path = NOTEBOOKS / name
    assert path.exists(), f"{path} is missing"
    return path


def _inject(nb, params: dict[str, object]):
    """Insert a cell assigning ``params`` after the cell tagged ``parameters`` (as papermill does)."""
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    source = "\n".join(f"{k} = {v!r}" for k, v in params.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    cell.id = "injected-parameters"
    nb.cells.insert(at + 1, cell)
    return nb


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec for the running interpreter, in a temporary JUPYTER_PATH; a private graph cache."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "riskplan tests", "language": "python"}), encoding="utf-8"
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("RISKPLAN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return KERNEL


def run_notebook(path: Path, kernel: str, params: dict[str, object]):
    """Execute ``path`` with ``params`` injected; returns the executed notebook."""
    nb = _inject(nbformat.read(path, as_version=4), params)
    client = nbclient.NotebookClient(
        nb,
        kernel_name=kernel,
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
        allow_errors=False,
    )
    client.execute()
    return nb


def _outputs_text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.append(str(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


@pytest.mark.slow
def test_01_risk_map_demo(tmp_path: Path, kernel: str) -> None:
    out = tmp_path / "out"
    run_notebook(_notebook("01_risk_map.ipynb"), kernel, {"OUT_DIR": str(out), "DEMO_ROAD_NODES": 3000})
    assert {"risk.gpkg", "risk_top.csv", "risk_map.png", "risk_map.html"} <= {p.name for p in out.iterdir()}


@pytest.mark.slow
def test_01_risk_map_hexagons(tmp_path: Path, kernel: str) -> None:
    out = tmp_path / "out"
    params = {"OUT_DIR": str(out), "DEMO_ROAD_NODES": 2000, "UNITS": "h3:8", "WITH_RESPONSE": False}
    run_notebook(_notebook("01_risk_map.ipynb"), kernel, params)
    assert (out / "risk.gpkg").exists()


@pytest.mark.slow
@pytest.mark.realdata
def test_01_risk_map_taiyuan(tmp_path: Path, kernel: str, shared_data_dir: Path) -> None:
    out = tmp_path / "out"
    params = {"OUT_DIR": str(out), "TAIYUAN": True, "SHARED_DATA": str(shared_data_dir)}
    nb = run_notebook(_notebook("01_risk_map.ipynb"), kernel, params)
    text = _outputs_text(nb)
    assert "SYNTHETIC population and stations" in text
    assert (out / "risk.gpkg").exists()


@pytest.mark.slow
def test_02_response_times_demo(tmp_path: Path, kernel: str) -> None:
    out = tmp_path / "out"
    run_notebook(_notebook("02_response_times.ipynb"), kernel, {"OUT_DIR": str(out), "DEMO_ROAD_NODES": 3000})
    names = {p.name for p in out.iterdir()}
    assert {"coverage.gpkg", "what_if.csv"} <= names


@pytest.mark.slow
def test_03_station_placement_demo(tmp_path: Path, kernel: str) -> None:
    out = tmp_path / "out"
    params = {"OUT_DIR": str(out), "DEMO_ROAD_NODES": 3000, "N_NEW_MAX": 3}
    run_notebook(_notebook("03_station_placement.ipynb"), kernel, params)
    names = {p.name for p in out.iterdir()}
    assert {"tradeoff_curve.csv", "placement_summary.csv", "coverage_after.gpkg"} <= names
    assert {"station_plan.gpkg", "station_plan.html", "station_tradeoff.png"} <= names


@pytest.mark.slow
def test_04_census_risk_assessment_demo(tmp_path: Path, kernel: str) -> None:
    out = tmp_path / "out"
    run_notebook(
        _notebook("04_census_risk_assessment.ipynb"), kernel, {"OUT_DIR": str(out), "DEMO_ROAD_NODES": 3000}
    )
    names = {p.name for p in out.iterdir()}
    assert {"census_risk_h3.gpkg", "committee_table.csv", "committee_by_district.csv"} <= names


@pytest.mark.slow
def test_05_relief_depots_demo(tmp_path: Path, kernel: str) -> None:
    out = tmp_path / "out"
    nb = run_notebook(
        _notebook("05_relief_depots.ipynb"), kernel, {"OUT_DIR": str(out), "DEMO_ROAD_NODES": 3000}
    )
    names = {p.name for p in out.iterdir()}
    assert {"depot_plan.gpkg", "depot_table.csv", "stock.csv", "depot_map.html"} <= names
    assert "depot_plan_stress.gpkg" in names  # the stress test leaves demand unmet and suggests depots
    assert "Suggested new depots" in _outputs_text(nb)


@pytest.mark.slow
def test_06_hazard_register_demo(tmp_path: Path, kernel: str) -> None:
    out = tmp_path / "out"
    params = {"OUT_DIR": str(out), "DEMO_ROAD_NODES": 2000}
    nb = run_notebook(_notebook("06_hazard_register.ipynb"), kernel, params)
    names = {p.name for p in out.iterdir()}
    assert {"four_colour_risk_map.png", "register_map.html", "risk_with_register.csv"} <= names
    assert any(n.startswith("disclosure-") and n.endswith(".gpkg") for n in names)
    text = _outputs_text(nb)
    assert "(synthetic)" in text and "items overdue at the month's end" in text


@pytest.mark.slow
def test_07_safe_communities_demo(tmp_path: Path, kernel: str) -> None:
    out = tmp_path / "out"
    params = {"OUT_DIR": str(out), "DEMO_ROAD_NODES": 2000}
    nb = run_notebook(_notebook("07_safe_communities.ipynb"), kernel, params)
    names = {p.name for p in out.iterdir()}
    assert {
        "districts.csv",
        "scores.png",
        "risk_with_survey.png",
        "demonstration.csv",
        "communities.gpkg",
    } <= names
    text = _outputs_text(nb)
    assert "SYNTHETIC survey" in text and "below the bound" in text and "communities re-surveyed" in text
    assert "followed up by a re-survey" in text


@pytest.mark.slow
def test_08_standards_of_cover_demo(tmp_path: Path, kernel: str) -> None:
    out = tmp_path / "out"
    params = {"OUT_DIR": str(out), "DEMO_ROAD_NODES": 2000, "N_NEW": 1}
    nb = run_notebook(_notebook("08_standards_of_cover.ipynb"), kernel, params)
    names = {p.name for p in out.iterdir()}
    assert {"p90_by_hour.csv", "station_workload.csv", "placement_with_reliability.csv"} <= names
    assert "busiest stations" in _outputs_text(nb)


@pytest.mark.parametrize("path", ALL, ids=[p.name for p in ALL])
def test_notebook_is_committed_clean(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{path.name} has no code cell"
    assert "parameters" in code[0].metadata.get("tags", []), (
        f"{path.name}: first code cell not tagged `parameters`"
    )
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, (
        f"{path.name}: cells {dirty} have outputs or execution counts; clear them before committing"
    )


@pytest.mark.parametrize("path", ALL, ids=[p.name for p in ALL])
def test_notebook_uses_public_api_only(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    imported = set(
        re.findall(r"^\s*(?:from|import)\s+((?:gis|risk_models|planning|maps|service)\S*)", source, re.M)
    )
    private = sorted(m for m in imported if m not in PUBLIC_MODULES)
    assert not private, f"{path.name} imports non-public modules {private}; use the packages' public API"


def test_readme_points_to_every_notebook() -> None:
    readme = (NOTEBOOKS / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in ALL if p.name not in readme]
    assert not missing, f"notebooks/README.md does not mention {missing}"
