"""How sure is this map, end to end (issue 19): ``[sensitivity]`` in a run, the report's section."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pyogrio
import pytest

from gis import InputError, write_demo_scenario
from maps.interactive import read_map_layers

pytest.importorskip("SALib", reason="SALib is not installed (the `sensitivity` extra)")

LAYERS = ("communities", "hazards", "fire_stations", "roads", "study_area", "candidate_sites", "depots")


def _toml(base: Path, extra: str) -> Path:
    names = {n for n, _ in pyogrio.list_layers(base / "demo_city.gpkg")}
    tables = "\n".join(
        f'[layers.{n}]\npath = "demo_city.gpkg"\nlayer = "{n}"\n' for n in LAYERS if n in names
    )
    path = base / "scenario.toml"
    path.write_text(f'[scenario]\nname = "Demo City (synthetic)"\nsynthetic = true\n\n{tables}\n{extra}')
    return path


@pytest.mark.slow
def test_run_with_a_sensitivity_table_writes_the_layer_the_hatch_and_the_section(tmp_path: Path) -> None:
    from service.workflow import run_scenario

    write_demo_scenario(tmp_path / "demo_city.gpkg", seed=5, n_road_nodes=2000)
    toml = _toml(tmp_path, "[sensitivity]\nsamples = 64\nseed = 1\n")
    out = tmp_path / "out"
    run_scenario(toml, out, cache=False, n_new=1, lang="en")  # the demo city is in Shanxi: else Chinese
    uncertainty = pyogrio.read_dataframe(out / "risk.gpkg", layer="risk_uncertainty")
    assert abs(uncertainty[["p_blue", "p_yellow", "p_orange", "p_red"]].sum(axis=1) - 1).max() < 1e-9
    assert "sensitivity_parameters" in {n for n, _ in pyogrio.list_layers(out / "risk.gpkg")}
    page = (out / "map.html").read_text(encoding="utf-8")
    hatched = read_map_layers(page).get("uncertain", {"data": {"features": []}})["data"]["features"]
    assert len(hatched) == int(uncertainty["uncertain"].sum())
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "How sure is this map" in report and 'id="sensitivity-parameters"' in report


def test_a_bad_sensitivity_table_names_the_toml_and_the_fix(tmp_path: Path) -> None:
    from service.sensitivity_run import sensitivity_options

    path = tmp_path / "scenario.toml"
    path.write_text("[sensitivity]\nsamples = 0\n")
    with pytest.raises(InputError, match=r"scenario\.toml.*\[sensitivity\].*Fix"):
        sensitivity_options(SimpleNamespace(source=path))
    path.write_text("[sensitivity]\nsamples = 10\n")
    assert sensitivity_options(SimpleNamespace(source=path)) == (10, 0)
    path.write_text('[scenario]\nname = "x"\n')
    assert sensitivity_options(SimpleNamespace(source=path)) is None
