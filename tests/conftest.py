"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The real-data folder beside the repository (``../shared/data``), or skip the test."""
    if not SHARED_DATA.is_dir():
        pytest.skip(
            "../shared/data not found: real-data tests need the shared data folder beside the repository"
        )
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_city_osm() -> Path:
    """Hand-written OSM XML: streets, a roundabout, an island, a fire station, hospitals."""
    return FIXTURES / "tiny_city.osm"
