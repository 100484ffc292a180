"""Natural hazards from the risk census in the risk map: floods per return period, geological and fire zones.

- :func:`natural_exposure`: per unit, the share of residents affected per return period and per
  year (the exceedance curve integrated, :func:`expected_annual`), building damage and deaths
  for floods, from :class:`NaturalHazards` (depth rasters, graded zones and points);
- :func:`natural_terms`: the ``hazard_<name>`` terms that join the production-safety categories
  in the composite score (:func:`risk_models.score_scenario` takes ``natural_hazards=``);
- :func:`load_natural_table`: the impact functions, grades' probabilities and weights
  (``risk_models/data/natural_hazards.toml``), each with its source, overridable.
"""

from .annual import expected_annual, return_periods
from .exposure import NaturalExposure, NaturalHazards, natural_exposure, natural_terms
from .sources import natural_hazards_from_toml, read_natural_hazards
from .table import NaturalTable, impact_curve, load_natural_table, zone_groups

__all__ = [
    "NaturalExposure",
    "NaturalHazards",
    "NaturalTable",
    "expected_annual",
    "impact_curve",
    "load_natural_table",
    "natural_exposure",
    "natural_hazards_from_toml",
    "natural_terms",
    "read_natural_hazards",
    "return_periods",
    "zone_groups",
]
