"""The riskplan service: the command line, the web API and the workflow they share.

:mod:`service.workflow` strings the other packages together (scenario -> road network ->
coverage and risk -> plans -> map and report); the command line (:mod:`service.cli`), the
job runner (:mod:`service.jobs`) and the web API (:mod:`service.api`, over the store in
:mod:`service.store`) all run it. Nothing imports :mod:`service`; it imports the other packages.
"""

from typing import TYPE_CHECKING

from gis.lazy import attach

#: Public names by module, imported on first use (see :mod:`gis.lazy`).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "workflow": (
        "NetworkRun",
        "PipelineResult",
        "assess",
        "build_network",
        "run_demo",
        "run_scenario",
        "write_snap_report",
    ),
}
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .workflow import (
        NetworkRun,
        PipelineResult,
        assess,
        build_network,
        run_demo,
        run_scenario,
        write_snap_report,
    )

__all__ = [
    "NetworkRun",
    "PipelineResult",
    "assess",
    "build_network",
    "run_demo",
    "run_scenario",
    "write_snap_report",
]
