"""Risk scores for area units: hazard, exposure, vulnerability and response capacity.

The public API of :mod:`risk_models`. :func:`score_scenario` is the entry point; the
functions below it work on plain GeoDataFrames from a notebook; :mod:`risk_models.sensitivity`
says how sure a map is (level probabilities and the figures that drive them). Every weight, bandwidth
and threshold lives in ``risk_models/data/risk_weights.toml`` (:func:`load_weights`).
"""

from typing import TYPE_CHECKING

from gis.lazy import attach

#: Public names by module, imported on first use (see :mod:`gis.lazy`).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "composite": (
        "LEVELS",
        "assign_levels",
        "compose",
        "reasons",
        "response_factor",
    ),
    "density": (
        "category_density",
        "kernel_density",
        "kernel_norm",
        "sample_points",
    ),
    "exposure": (
        "area_interpolate",
        "exposure_factor",
        "population_exposure",
    ),
    "gb18218": (
        "alpha_for",
        "beta_of",
        "grade_of",
        "grading_value_r",
        "hazard_index_s",
        "major_hazards",
        "people_within",
    ),
    "learned": (
        "count_incidents",
        "fit_incident_models",
        "getis_ord_gi_star",
        "skill_scores",
        "unit_features",
    ),
    "model": (
        "RiskInputs",
        "RiskResult",
        "score_scenario",
    ),
    "severity": (
        "check_vocabulary",
        "hazard_severity",
    ),
    "units": (
        "UnitsSpec",
        "build_units",
        "parse_units",
        "study_area_of",
    ),
    "vulnerability": (
        "indicator_columns",
        "vulnerability_factor",
        "vulnerability_index",
    ),
    "weights": (
        "KERNELS",
        "load_weights",
    ),
}
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .composite import LEVELS, assign_levels, compose, reasons, response_factor
    from .density import category_density, kernel_density, kernel_norm, sample_points
    from .exposure import area_interpolate, exposure_factor, population_exposure
    from .gb18218 import (
        alpha_for,
        beta_of,
        grade_of,
        grading_value_r,
        hazard_index_s,
        major_hazards,
        people_within,
    )
    from .learned import count_incidents, fit_incident_models, getis_ord_gi_star, skill_scores, unit_features
    from .model import RiskInputs, RiskResult, score_scenario
    from .severity import check_vocabulary, hazard_severity
    from .units import UnitsSpec, build_units, parse_units, study_area_of
    from .vulnerability import indicator_columns, vulnerability_factor, vulnerability_index
    from .weights import KERNELS, load_weights

__all__ = [
    "KERNELS",
    "LEVELS",
    "RiskInputs",
    "RiskResult",
    "UnitsSpec",
    "alpha_for",
    "area_interpolate",
    "assign_levels",
    "beta_of",
    "build_units",
    "category_density",
    "check_vocabulary",
    "compose",
    "count_incidents",
    "exposure_factor",
    "fit_incident_models",
    "getis_ord_gi_star",
    "grade_of",
    "grading_value_r",
    "hazard_index_s",
    "hazard_severity",
    "indicator_columns",
    "kernel_density",
    "kernel_norm",
    "load_weights",
    "major_hazards",
    "parse_units",
    "people_within",
    "population_exposure",
    "reasons",
    "response_factor",
    "sample_points",
    "score_scenario",
    "skill_scores",
    "study_area_of",
    "unit_features",
    "vulnerability_factor",
    "vulnerability_index",
]
