"""Location models on a ``(targets, sources)`` cost matrix: demand rows x candidate columns.

Costs are seconds or metres, ``inf`` = unreachable, the orientation of every matrix of
:mod:`planning` (:data:`planning.travel.TargetsBySources`).

Like spopt's ``from_cost_matrix`` entry points, but plain functions that return a frozen
:class:`LocationResult`: selected sites (existing ones flagged), objective, a proven bound and
the gap, solver status, demand-to-site assignment and wall time.

- :func:`lscp`: fewest new sites so that every demand row is covered (optionally capacitated);
- :func:`mclp`: ``n_new`` new sites maximising the covered weight;
- :func:`backup_coverage`: ``n_new`` new sites maximising the weight covered twice;
- :func:`p_median`: ``n_new`` new sites minimising the weighted mean cost (optionally capacitated);
- :func:`p_center`: ``n_new`` new sites minimising the worst cost;
- :func:`mexclp`: ``n_new`` new units maximising the expected covered weight when every unit
  is busy with probability ``busy_fraction`` (Daskin), several units per site allowed.

Each result names its model as :data:`planning.names.MODELS` does (``lscp``, ``mclp``,
``p-median``, ``p-center``, ``backup``).

Exact solving uses HiGHS (``highspy`` when installed, for warm starts; else
:func:`scipy.optimize.milp`) under a time limit, warm-started by greedy + swap heuristics;
instances are reduced first (identical demand merged, dominated candidates dropped).
"""

from ._result import LocationResult
from .coverage import backup_coverage, mclp
from .covering import lscp
from .median import p_center, p_median
from .mexclp import MexclpResult, expected_coverage, mexclp

__all__ = [
    "LocationResult",
    "MexclpResult",
    "backup_coverage",
    "expected_coverage",
    "lscp",
    "mclp",
    "mexclp",
    "p_center",
    "p_median",
]
