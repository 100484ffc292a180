"""The ``[natural_hazards]`` table of a scenario TOML, read once for the run and the planning commands.

:func:`natural_inputs` gives the natural hazards (:mod:`risk_models.natural`: flood rasters,
landslide zones, fire danger) and the TOML they came from, which ``riskplan run``, ``place``,
``depots`` and ``register compare`` score risk with; a bad table stops the command before
anything is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from gis.scenario import scenario_table
from risk_models.natural import NaturalHazards, natural_hazards_from_toml

if TYPE_CHECKING:
    from gis import Scenario

__all__ = ["natural_inputs"]


def natural_inputs(scenario: Scenario) -> tuple[NaturalHazards | None, Path | None]:
    """The ``[natural_hazards]`` of a scenario TOML (:mod:`risk_models.natural`); (None, None) without."""
    found = scenario_table(scenario, "natural_hazards")
    if found is None:
        return None, None
    return natural_hazards_from_toml(*found)
