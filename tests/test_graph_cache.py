"""Road-graph caches bounded in size (issue 12): the command line's, and the service's in DATA_DIR.

The command line's cache (``$RISKPLAN_CACHE_DIR``) keeps at most ``$RISKPLAN_CACHE_MAX_MB``,
evicting the least recently used graphs; the web service keeps its graphs in
``DATA_DIR/cache/graphs`` (never in the home directory), bounded the same way, and deleting a
scenario deletes its graphs.
"""

from __future__ import annotations

import time
from pathlib import Path

import networkx as nx
import pytest
from fastapi.testclient import TestClient
from scenario_factory import write_gpkg

from gis import GraphCache, InputError
from gis.network import RoadGraph, cache_max_bytes
from gis.network._cache import cached_graph
from gis.network._store import write_npz
from service.api import Settings, create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TOKEN = "graph-cache-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
API = "/api/v1"


def _graph(n: int) -> nx.MultiDiGraph:
    graph = nx.MultiDiGraph()
    graph.add_edges_from((i, i + 1, {"length_m": float(i), "name": "x" * 40}) for i in range(n))
    return graph


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*.npz"))


def _stored_size(graph: nx.MultiDiGraph, folder: Path) -> int:
    path = folder / "one.npz"
    write_npz(RoadGraph.from_networkx(graph), path)
    size = path.stat().st_size
    path.unlink()
    return size


def test_the_command_line_cache_is_bounded_with_lru_eviction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "cli-cache"
    monkeypatch.setenv("RISKPLAN_CACHE_DIR", str(folder))
    one = _stored_size(_graph(500), tmp_path)
    monkeypatch.setenv("RISKPLAN_CACHE_MAX_MB", str(3.5 * one / 1024**2))  # room for three graphs
    builds: list[str] = []

    def get(key: str) -> None:
        time.sleep(0.01)  # distinct modification times
        cached_graph({"roads": key}, lambda: builds.append(key) or _graph(500))
        assert _size(folder) <= 3.5 * one

    for key in ("a", "b", "c", "a", "d"):  # "a" is used again before "d" comes
        get(key)
    assert builds == ["a", "b", "c", "d"] and len(list(folder.glob("*.npz"))) == 3
    get("a")
    get("b")  # "b" was the least recently used: it went first
    assert builds == ["a", "b", "c", "d", "b"]


def test_the_size_bound_names_its_variable() -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RISKPLAN_CACHE_MAX_MB", "lots")
        with pytest.raises(InputError, match="RISKPLAN_CACHE_MAX_MB"):
            cache_max_bytes()
        mp.setenv("RISKPLAN_CACHE_MAX_MB", "0")
        assert cache_max_bytes() is None  # 0 turns the bound off
        mp.delenv("RISKPLAN_CACHE_MAX_MB")
        assert cache_max_bytes() == 2048 * 1024**2


def test_an_entry_alone_over_the_bound_is_still_used(tmp_path: Path) -> None:
    cache = GraphCache(tmp_path, max_bytes=10)
    graph = cache.get({"roads": "big"}, lambda: _graph(50))
    assert graph.n_edges == 50 and list(tmp_path.glob("*.npz")) == []  # built, not kept


@pytest.fixture
def gpkg_bytes(tmp_path: Path) -> bytes:
    return write_gpkg(tmp_path / "small.gpkg").read_bytes()


def test_the_service_caches_graphs_in_its_data_dir_and_deletes_them_with_the_scenario(
    tmp_path: Path, gpkg_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    home_cache = tmp_path / "home-cache"
    monkeypatch.setenv("RISKPLAN_CACHE_DIR", str(home_cache))
    data_dir = tmp_path / "data"
    with TestClient(create_app(Settings(data_dir, api_token=TOKEN))) as client:
        sids = []
        for _ in range(2):
            r = client.post(f"{API}/scenarios", files={"file": ("s.gpkg", gpkg_bytes)}, headers=AUTH)
            sids.append(r.json()["id"])
            assert client.get(f"{API}/scenarios/{sids[-1]}/coverage", headers=AUTH).status_code == 200
        job = client.post(f"{API}/scenarios/{sids[0]}/jobs", json={"kind": "network"}, headers=AUTH).json()
        deadline = time.monotonic() + 60
        while client.get(f"{API}/jobs/{job['id']}").json()["status"] != "succeeded":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        graphs = data_dir / "cache" / "graphs"
        names = sorted(p.name for p in graphs.glob("*.npz"))
        assert len(names) == 2 and {n.split("-")[0] for n in names} == set(sids)  # the job reused it
        assert not home_cache.exists() or not list(home_cache.iterdir())
        assert client.delete(f"{API}/scenarios/{sids[0]}", headers=AUTH).status_code == 204
        assert [p.name.split("-")[0] for p in graphs.glob("*.npz")] == [sids[1]]


def test_the_service_graph_cache_is_bounded(tmp_path: Path, gpkg_bytes: bytes) -> None:
    data_dir = tmp_path / "data"
    with TestClient(create_app(Settings(data_dir, api_token=TOKEN, graph_cache_max_bytes=1))) as client:
        sid = client.post(f"{API}/scenarios", files={"file": ("s.gpkg", gpkg_bytes)}, headers=AUTH).json()[
            "id"
        ]
        assert client.get(f"{API}/scenarios/{sid}/coverage", headers=AUTH).status_code == 200
    assert _size(data_dir / "cache" / "graphs") <= 1
