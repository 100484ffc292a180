"""The riskplan service: command line, pipeline, web API.

Nothing imports :mod:`service`; it imports the other packages.
"""

from typing import TYPE_CHECKING

from gis.lazy import attach

#: Public names by module, imported on first use (see :mod:`gis.lazy`).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "pipeline": ("NetworkRun", "PipelineResult", "build_network", "run_demo", "run_scenario"),
}
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .pipeline import NetworkRun, PipelineResult, build_network, run_demo, run_scenario

__all__ = ["NetworkRun", "PipelineResult", "build_network", "run_demo", "run_scenario"]
