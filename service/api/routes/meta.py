"""Routes: ``GET /health`` (the service is up and its store answers) and ``GET /version``."""

from __future__ import annotations

import os
import platform
from importlib.metadata import PackageNotFoundError, version

import geopandas as gpd
from fastapi import APIRouter, Request

from ..deps import ReadAccess, get_service
from ..models import HealthOut, VersionOut
from ..problems import PROBLEM_RESPONSES

__all__ = ["riskplan_version", "router"]

router = APIRouter(tags=["service"], responses=PROBLEM_RESPONSES)


def riskplan_version() -> str:
    """The installed version of riskplan (``unknown`` when run from a source tree)."""
    try:
        return version("riskplan")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def _gdal_version() -> str | None:
    try:
        import pyogrio

        return str(pyogrio.__gdal_version_string__)
    except (ImportError, AttributeError):  # pragma: no cover
        return None


@router.get("/health", response_model=HealthOut, dependencies=[ReadAccess], summary="Health")
def health(request: Request) -> HealthOut:
    """The service is up and its store answers."""
    service = get_service(request)
    service.store.list_jobs(status="running")
    runner = service.runner
    return HealthOut(
        status="ok",
        jobs_active=runner.active,
        max_workers=runner.max_workers,
        process_id=os.getpid(),
        job_leader=runner.is_leader,
    )


@router.get("/version", response_model=VersionOut, dependencies=[ReadAccess], summary="Version")
def version_info() -> VersionOut:
    """Versions of riskplan, the API and the geodata stack."""
    return VersionOut(
        riskplan=riskplan_version(),
        api="v1",
        python=platform.python_version(),
        geopandas=gpd.__version__,
        gdal=_gdal_version(),
    )
