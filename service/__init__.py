"""The riskplan service: command line, pipeline (and later the web API).

Nothing imports :mod:`service`; it imports the other packages.
"""

from .pipeline import NetworkRun, PipelineResult, build_network, run_demo

__all__ = ["NetworkRun", "PipelineResult", "build_network", "run_demo"]
