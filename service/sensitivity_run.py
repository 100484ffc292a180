"""The ``[sensitivity]`` table of a scenario TOML: the uncertainty of ``riskplan run``'s risk map.

``[sensitivity]`` with ``samples = N`` (and optionally ``seed``) makes the run sample the ranges
of the risk model's figures (:func:`risk_models.sensitivity.analyse_sensitivity`) and write the
layer ``risk_uncertainty`` in ``risk.gpkg``, the hatched uncertain units on the map and the
report's section "How sure is this map".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from gis import InputError
from gis.scenario import scenario_table

if TYPE_CHECKING:
    from gis import Scenario
    from risk_models import RiskResult
    from risk_models.sensitivity import SensitivityResult

__all__ = ["scenario_sensitivity", "sensitivity_options"]

_TABLE = "sensitivity"
_KEYS = {"samples", "seed"}


def sensitivity_options(scenario: Scenario) -> tuple[int, int] | None:
    """``(samples, seed)`` of the scenario TOML's ``[sensitivity]`` table, or None without one.

    Raises
    ------
    InputError
        Unknown keys or a ``samples`` / ``seed`` that is not a positive whole number, naming
        the TOML and the fix.
    """
    found = scenario_table(scenario, _TABLE)
    if found is None:
        return None
    table, src = found
    where = f"Scenario TOML `{src}`, table `[{_TABLE}]`"
    samples = table.get("samples") if isinstance(table, Mapping) else None
    seed = table.get("seed", 0) if isinstance(table, Mapping) else None
    bad = (
        not isinstance(table, Mapping)
        or set(table) - _KEYS
        or not isinstance(samples, int)
        or isinstance(samples, bool)
        or samples < 1
        or not isinstance(seed, int)
        or isinstance(seed, bool)
        or seed < 0
    )
    if bad:
        msg = (
            f"{where} needs `samples` (a whole number >= 1) and at most `seed` (>= 0). "
            "Fix: e.g. `[sensitivity]` with `samples = 1000`."
        )
        raise InputError(msg)
    assert isinstance(samples, int) and isinstance(seed, int)
    return samples, seed


def scenario_sensitivity(scenario: Scenario, risk: RiskResult) -> SensitivityResult | None:
    """The uncertainty of ``risk`` when the scenario asks for it (``[sensitivity]``), else None."""
    options = sensitivity_options(scenario)
    if options is None:
        return None
    from risk_models.sensitivity import analyse_sensitivity

    samples, seed = options
    return analyse_sensitivity(risk, n_samples=samples, seed=seed)
