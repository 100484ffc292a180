"""Settings of one web-service instance, passed to :func:`service.api.create_app`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .budget import AnonymousLimits
from .register_access import RegisterLimits
from .uploads import UploadLimits

__all__ = ["PLUGINS_ENV", "Settings"]

PLUGINS_ENV = "RISKPLAN_JOB_PLUGINS"


@dataclass(frozen=True)
class Settings:
    """Configuration of the service; frozen, so no request can change it for another.

    Attributes
    ----------
    data_dir
        Folder for the SQLite database, scenarios, results and the token file.
    max_upload_bytes
        Largest request body, enforced while the body streams in (HTTP 413 beyond).
    max_workers
        Jobs running at once.
    max_queued_jobs
        Jobs queued or running before new ones are refused with HTTP 503.
    protect_reads
        Require the API token on read endpoints too.
    cors_origins
        Origins allowed to call the API from a browser; empty (the default) turns CORS off.
    api_token
        The token; ``None`` reads ``$RISKPLAN_API_TOKEN`` or ``DATA_DIR/api_token`` (created).
    job_plugins
        ``module:function`` hooks that register more job kinds (also ``$RISKPLAN_JOB_PLUGINS``,
        comma-separated).
    upload_limits
        Zip member count, uncompressed size (per upload and per server) and compression-ratio
        limits.
    scenario_cache_size
        Loaded scenarios kept in memory.
    demo_max_nodes
        Largest demo city (road nodes) the demo endpoint generates (the OpenAPI schema says so).
    anonymous
        What one request without the API token may cost: units, bytes, seconds
        (:mod:`service.api.budget`).
    graph_cache_max_bytes
        Size bound of the road-graph cache in ``DATA_DIR/cache/graphs`` (least recently used
        graphs go first); ``None`` for no bound.
    job_retention_days
        Finished jobs (and their results) older than this are deleted; ``None`` keeps them.
    register_limits
        Anonymous reports per address and window, report and photo sizes
        (:class:`service.api.register_access.RegisterLimits`).
    store_url
        A PostgreSQL URL (``postgresql://user@host/db``): keep scenarios, results and jobs there
        (:class:`service.store.PostgresStore`); ``None``, the default, keeps them in SQLite in
        ``data_dir``.
    register_workflow
        A TOML file of overrides of ``register_workflow.toml``: this deployment's workflow,
        which the store enforces and the register's routes answer by (rights, scopes).
    """

    data_dir: Path
    max_upload_bytes: int = 200 * 1024**2
    max_workers: int = 2
    max_queued_jobs: int = 100
    protect_reads: bool = False
    cors_origins: tuple[str, ...] = ()
    api_token: str | None = field(default=None, repr=False)
    job_plugins: tuple[str, ...] = ()
    upload_limits: UploadLimits = field(default_factory=UploadLimits)
    scenario_cache_size: int = 4
    demo_max_nodes: int = 200_000
    anonymous: AnonymousLimits = field(default_factory=AnonymousLimits)
    graph_cache_max_bytes: int | None = 2 * 1024**3
    job_retention_days: float | None = 90.0
    register_limits: RegisterLimits = field(default_factory=RegisterLimits)
    store_url: str | None = field(default=None, repr=False)  # may hold a password
    register_workflow: str | None = None

    def all_job_plugins(self) -> tuple[str, ...]:
        """``job_plugins`` plus those named in ``$RISKPLAN_JOB_PLUGINS``."""
        env = [s.strip() for s in os.environ.get(PLUGINS_ENV, "").split(",") if s.strip()]
        return (*self.job_plugins, *env)
