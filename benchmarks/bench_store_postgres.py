"""The PostgreSQL + PostGIS store beside the embedded SQLite store, operation by operation.

On one demo city (``--nodes`` road nodes) each store: creates the scenario (every layer
written), loads it back (validated), looks its record up ``--lookups`` times, stores a
10,000-point result layer and reads it back whole and within a 1 km box, and deletes the
scenario. Printed side by side, seconds (lookups: microseconds each), with the ratio
PostgreSQL / SQLite, the peak RSS and the load average (the machine is shared: timings are
noisy). Without ``--dsn`` a throwaway server is started in a temp dir (``tests/_pg.py``, as the
tests do: unix socket, ``fsync=off``, so PostgreSQL's writes are not durable there while
SQLite's are: read the write figures with that in mind).

    .venv/bin/python benchmarks/bench_store_postgres.py
    .venv/bin/python benchmarks/bench_store_postgres.py --nodes 20000 --dsn postgresql://riskplan@/riskplan
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from gis import load_scenario, write_demo_scenario  # noqa: E402
from service.store import PostgresStore, SQLiteStore, Store  # noqa: E402


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _run(store: Store, scenario: Any, lookups: int) -> dict[str, float]:
    out: dict[str, float] = {}
    out["create_s"], record = _timed(lambda: store.create_scenario(scenario, origin="bench"))
    out["load_s"], _ = _timed(lambda: store.load_scenario(record.id))
    total, _ = _timed(lambda: [store.get_scenario(record.id) for _ in range(lookups)])
    out["lookup_us"] = total / lookups * 1e6
    rng = np.random.default_rng(18)
    x0, y0, x1, y1 = scenario["roads"].total_bounds
    points = gpd.GeoDataFrame(
        {"id": [f"p{i}" for i in range(10_000)], "value": rng.random(10_000)},
        geometry=gpd.points_from_xy(rng.uniform(x0, x1, 10_000), rng.uniform(y0, y1, 10_000)),
        crs=scenario.crs,
    )
    out["put_layer_s"], _ = _timed(lambda: store.put_result_layers(record.id, "bench", {"points": points}))
    out["read_layer_s"], _ = _timed(lambda: store.read_result_layer(record.id, "bench", "points"))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    box = (cx - 500, cy - 500, cx + 500, cy + 500)
    out["read_bbox_s"], _ = _timed(lambda: store.read_result_layer(record.id, "bench", "points", bbox=box))
    out["delete_s"], _ = _timed(lambda: store.delete_scenario(record.id))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5000, help="road nodes of the demo city (default 5000)")
    parser.add_argument("--lookups", type=int, default=2000, help="record lookups timed (default 2000)")
    parser.add_argument("--dsn", help="an existing PostgreSQL database (default: a throwaway server)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-store-"))
    scenario = load_scenario(write_demo_scenario(work / "demo.gpkg", n_road_nodes=args.nodes))
    server = None
    dsn = args.dsn
    if dsn is None:
        from _pg import start_server

        server = start_server(extensions=("postgis",))
        dsn = server.new_database()
    try:
        sqlite = SQLiteStore(work / "data")
        postgres = PostgresStore(dsn)
        figures = {
            "SQLite": _run(sqlite, scenario, args.lookups),
            "PostgreSQL": _run(postgres, scenario, args.lookups),
        }
        sqlite.close()
        postgres.close()
    finally:
        if server is not None:
            server.stop()
    layers = {name: len(gdf) for name, gdf in scenario.layers.items()}
    print(f"demo city, {args.nodes:,} road nodes: {layers}")
    print(f"{'operation':<14}{'SQLite':>12}{'PostgreSQL':>12}{'PG / SQLite':>13}")
    for key in figures["SQLite"]:
        a, b = figures["SQLite"][key], figures["PostgreSQL"][key]
        print(f"{key:<14}{a:>12.4f}{b:>12.4f}{b / a:>13.2f}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak_mb:,.0f} MB; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
