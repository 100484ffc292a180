"""Where the web service keeps scenarios, results and jobs.

:class:`Store` is the interface; :class:`SQLiteStore` the embedded default (SQLite plus
one GeoPackage per scenario in a data directory). A PostGIS backend implements
:class:`Store` too and is chosen in :func:`service.api.create_app`'s settings.
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
