"""Names that several parts of riskplan share: location models, distances, the default standard.

Defined once here and imported by the planning functions, the command line (argparse
``choices``), the web API (pydantic literals) and the jobs. Importing this module costs nothing.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["DEFAULT_STANDARD", "DISTANCES", "MODELS", "Distance"]

#: Location models of :func:`planning.plan_stations`, as the command line and the API name them.
MODELS: tuple[str, ...] = ("lscp", "mclp", "p-median", "p-center", "backup")
#: How response times are measured: road travel, or straight line at a documented speed.
DISTANCES: tuple[str, ...] = ("network", "euclidean")
Distance = Literal["network", "euclidean"]
#: The response profile used when none is named: GB 51080-2015, 1 min turnout + 4 min travel.
DEFAULT_STANDARD = "cn-gb51080"
