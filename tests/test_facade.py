"""``import riskplan``: the distribution's name gives the main entry points, lazily."""

from __future__ import annotations

import subprocess
import sys

import gis
import riskplan


def test_every_name_resolves_to_the_package_function() -> None:
    import maps
    import planning
    import risk_models

    for name in riskplan.__all__:
        assert getattr(riskplan, name) is not None, name
    assert riskplan.load_scenario is gis.load_scenario
    assert riskplan.plan_stations is planning.plan_stations
    assert riskplan.score_scenario is risk_models.score_scenario
    assert riskplan.write_report is maps.write_report
    assert riskplan.errors is gis.errors
    assert dir(riskplan) == sorted(riskplan.__all__)


def test_importing_the_facade_loads_nothing_heavy() -> None:
    heavy = "('geopandas', 'networkx', 'sklearn')"
    code = f"import sys, riskplan; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
