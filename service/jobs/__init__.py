"""Long runs outside the request: job kinds, their registry, and the runner.

================  ==========================================================================
module            job
================  ==========================================================================
``registry``      what a job kind is (:class:`JobOutput`, :class:`JobKind`), the
                  :class:`JobRegistry` of one app, plugins (:func:`load_plugins`)
``kinds``         the built-in kinds (``network``, ``placement``, ``depots``, ``risk``, ``communities``) and
                  the checks of their parameters
``reliability``   the ``reliability`` kind (busy stations, the hypercube) and the result the API's
                  reliability routes serve
``runner``        :class:`JobRunner`: the one leader process that runs jobs, the bounded
                  worker pool, progress, cancel flags, restart recovery, shutdown, retention
================  ==========================================================================

Road graphs of jobs come from :func:`service.graphs.job_graph`.
"""

from .registry import (
    JobCancelled,
    JobFunction,
    JobKind,
    JobOutput,
    JobRegistry,
    ParamsCheck,
    Progress,
    default_registry,
    load_plugins,
)
from .runner import DEPOSED, INTERRUPTED, SHUT_DOWN, BusyError, JobRunner, JobStateError

__all__ = [
    "DEPOSED",
    "INTERRUPTED",
    "SHUT_DOWN",
    "BusyError",
    "JobCancelled",
    "JobFunction",
    "JobKind",
    "JobOutput",
    "JobRegistry",
    "JobRunner",
    "JobStateError",
    "ParamsCheck",
    "Progress",
    "default_registry",
    "load_plugins",
]
