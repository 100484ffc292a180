"""Names that several parts of riskplan share: location models, distances, the default standard.

Defined once here and imported by the planning functions and results, the command line
(argparse ``choices``), the web API (pydantic literals) and the jobs. Importing this module
costs nothing.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["DEFAULT_STANDARD", "DISTANCES", "MODELS", "Distance", "Model"]

#: A location model: what :func:`planning.plan_stations` optimises, and the ``model`` of every
#: :class:`planning.location.LocationResult` (``lscp``, ``mclp``, ``p-median``, ``p-center``,
#: ``backup``, ``mexclp`` for the functions ``lscp``, ``mclp``, ``p_median``, ``p_center``,
#: ``backup_coverage``, ``mexclp``).
Model = Literal["lscp", "mclp", "p-median", "p-center", "backup", "mexclp"]
#: The location models, in the order the command line and the API list them.
MODELS: tuple[Model, ...] = get_args(Model)
#: How response times are measured: road travel, or straight line at a documented speed.
Distance = Literal["network", "euclidean"]
#: The distances, network first (the default).
DISTANCES: tuple[Distance, ...] = get_args(Distance)
#: The response profile used when none is named: GB 51080-2015, 1 min turnout + 4 min travel.
DEFAULT_STANDARD = "cn-gb51080"
