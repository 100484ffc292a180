"""How sure is this red? The uncertainty and sensitivity of a risk map (issue 19).

Every weight, bandwidth, factor and threshold of the risk model has a documented range in
``[uncertainty]`` of ``risk_models/data/risk_weights.toml``. This package samples them and
re-scores the units, fast, with SALib's Morris screening and Sobol indices:

- :func:`uncertain_parameters` (:mod:`.parameters`): the ranges that matter for a result;
- :class:`Rescorer` (:mod:`.rescore`): a result's scores for a matrix of samples, as arrays
  (the kernel densities are reused; no tree is built per sample);
- :func:`analyse_sensitivity` (:mod:`.analysis`): per unit the probability of each level, the
  5-95 % band of the score and rank and the figures that drive it; for the city, the figures
  that move the map most (:class:`SensitivityResult`).

Examples
--------
>>> from risk_models import load_weights
>>> params, _ = uncertain_parameters(load_weights(), categories=["mining", "fuel_gas"], response=True)
>>> len(params), params[-1].name
(22, 'levels.breaks.2')
"""

from .analysis import SensitivityResult, analyse_sensitivity
from .parameters import Parameter, apply_parameters, natural_overrides, uncertain_parameters
from .rescore import Rescorer

__all__ = [
    "Parameter",
    "Rescorer",
    "SensitivityResult",
    "analyse_sensitivity",
    "apply_parameters",
    "natural_overrides",
    "uncertain_parameters",
]
