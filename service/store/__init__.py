"""Where the web service keeps scenarios, results and jobs.

:class:`Store` is the interface; :class:`SQLiteStore` (SQLite plus one GeoPackage per
scenario in a data directory) is the embedded default; :class:`PostgresStore` keeps everything
in PostgreSQL, the layers as PostGIS tables QGIS opens (``riskplan serve --store
postgresql://...``, the ``postgres`` extra). :func:`open_store` picks one. Another backend
would implement :class:`Store` (and :class:`RegisterStore` for the hidden-danger register,
:mod:`.register`) and be passed to :func:`service.api.create_app` as ``store=``.
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
from .postgres import PostgresStore, open_store
from .register import (
    AREA_COLUMNS,
    REGISTER_CRS,
    Account,
    AreaRule,
    Attachment,
    ItemQuery,
    ListView,
    RegisterStore,
    Scope,
    StoredItem,
)
from .register_sqlite import SQLiteRegister
from .sqlite import SQLiteStore

__all__ = [
    "ACTIVE_STATUSES",
    "AREA_COLUMNS",
    "FINAL_STATUSES",
    "REGISTER_CRS",
    "Account",
    "After",
    "AreaRule",
    "Attachment",
    "ItemQuery",
    "JobRecord",
    "JobStatus",
    "ListView",
    "NotFoundError",
    "PostgresStore",
    "RegisterStore",
    "SQLiteRegister",
    "SQLiteStore",
    "ScenarioRecord",
    "Scope",
    "Store",
    "StoredItem",
    "check_result_name",
    "open_store",
]
