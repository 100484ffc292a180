"""Where the web service keeps scenarios, results and jobs.

:class:`Store` is the interface; :class:`SQLiteStore` (SQLite plus one GeoPackage per
scenario in a data directory) is the embedded default and, so far, the only backend. Another
backend would implement :class:`Store` and be passed to :func:`service.api.create_app` as
``store=``.
"""

from .base import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    After,
    JobRecord,
    JobStatus,
    NotFoundError,
    ScenarioRecord,
    Store,
    check_result_name,
)
from .sqlite import SQLiteStore

__all__ = [
    "ACTIVE_STATUSES",
    "FINAL_STATUSES",
    "After",
    "JobRecord",
    "JobStatus",
    "NotFoundError",
    "SQLiteStore",
    "ScenarioRecord",
    "Store",
    "check_result_name",
]
