"""A TestClient on a fresh data directory, and a demo scenario created through the API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient

from service.api import Settings, create_app

API = "/api/v1"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def demo_client(data_dir: Path, token: str) -> Iterator[TestClient]:
    """A client of an app with ``token`` that may create demo cities of up to 5,000 road nodes."""
    settings = Settings(data_dir, api_token=token, demo_max_nodes=5000)
    with TestClient(create_app(settings)) as client:
        yield client


def create_demo(client: TestClient, token: str, *, seed: int, n_road_nodes: int = 3000) -> str:
    """Create a demo scenario through ``POST /scenarios/demo`` and return its id."""
    r = client.post(
        f"{API}/scenarios/demo", json={"seed": seed, "n_road_nodes": n_road_nodes}, headers=auth(token)
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])
