"""Customizable contraction hierarchies (routingkit-cch) against csgraph Dijkstra, same inputs.

Issue 14 asks whether ``routingkit-cch`` should replace csgraph behind the travel engine for
candidate x demand matrices and point queries: adopt it only if it is at least 3x faster with
identical results. This script answers with figures, on demo cities of the sizes given:

- one-time preparation: csgraph needs none (the CSR matrix is the graph); CCH needs a node
  order (inertial flow on the node coordinates), the hierarchy and a customisation (metric);
- a candidates x demand matrix (every candidate to every demand node): csgraph runs one
  Dijkstra per candidate over the whole graph (riskplan's engine today), CCH one pinned
  one-to-many sweep per candidate;
- point queries (one source, one target): csgraph's Dijkstra from the source (no early stop
  in scipy), CCH's bidirectional query.

CCH takes integer weights, so both engines run on travel times in whole milliseconds (the
float seconds rounded): sums of integers are exact in float64, so the matrices must be equal,
and the script checks it. Each case runs in its own subprocess so its peak RSS is its own.

    .venv/bin/python benchmarks/bench_cch.py                  # 100k-node demo city
    .venv/bin/python benchmarks/bench_cch.py --nodes 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ADOPT_RATIO = 3.0


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_mb() -> float:
    """Resident memory now (not the peak), from /proc: what an engine's structures hold."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _graph_csr(n_nodes: int) -> tuple[object, object]:
    """The demo city's road graph as (CSR of integer-millisecond costs, node xy)."""
    import numpy as np

    from gis.demo import demo_city
    from gis.network import graph_from_lines
    from planning.travel import road_matrix

    G = graph_from_lines(demo_city(n_road_nodes=n_nodes)["roads"])
    m = road_matrix(G)
    csr = m.csr.copy()
    csr.data = np.maximum(np.rint(csr.data * 1000.0), 1.0)  # whole ms; CCH needs > 0 integers
    return csr, np.asarray(m.xy)


def _queries(n: int, n_candidates: int, n_demand: int, n_pairs: int) -> dict[str, object]:
    import numpy as np

    rng = np.random.default_rng(14)
    return {
        "candidates": rng.choice(n, size=n_candidates, replace=False),
        "demand": rng.choice(n, size=n_demand, replace=False),
        "pairs": rng.integers(0, n, size=(n_pairs, 2)),
    }


def run_case(engine: str, n_nodes: int, n_candidates: int, n_demand: int, n_pairs: int) -> dict[str, object]:
    """Inside the subprocess: one engine on one city; figures and a checksum of its answers."""
    import hashlib

    import numpy as np

    csr, xy = _graph_csr(n_nodes)
    q = _queries(csr.shape[0], n_candidates, n_demand, n_pairs)
    cand, demand, pairs = q["candidates"], q["demand"], q["pairs"]
    base_mb = _current_mb()
    out: dict[str, object] = {"engine": engine, "nodes": int(csr.shape[0]), "edges": int(csr.nnz)}
    if engine == "csgraph":
        from scipy.sparse.csgraph import dijkstra

        out["prepare_s"] = 0.0
        t0 = time.perf_counter()
        matrix = np.empty((len(cand), len(demand)))
        for start in range(0, len(cand), 64):
            rows = dijkstra(csr, directed=True, indices=cand[start : start + 64])
            matrix[start : start + 64] = rows[:, demand]
        out["matrix_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        point = np.array([dijkstra(csr, directed=True, indices=int(s))[int(t)] for s, t in pairs])
        out["pairs_s"] = time.perf_counter() - t0
    else:
        import routingkit_cch as rk

        coo = csr.tocoo()
        tail, head = coo.row.astype(int).tolist(), coo.col.astype(int).tolist()
        weights = coo.data.astype(np.int64).tolist()
        t0 = time.perf_counter()
        order = rk.compute_order_inertial(csr.shape[0], tail, head, xy[:, 1].tolist(), xy[:, 0].tolist())
        cch = rk.CCH(order, tail, head, False)
        metric = rk.CCHMetric(cch, weights)
        out["prepare_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        sweep = rk.CCHOneToMany(metric, demand.astype(int).tolist())
        matrix = np.array(
            [[np.inf if d is None else d for d in sweep.distances_from(int(s))] for s in cand], dtype=float
        )
        out["matrix_s"] = time.perf_counter() - t0
        del sweep
        t0 = time.perf_counter()
        query = rk.CCHQuery(metric)
        point = np.empty(len(pairs))
        for i, (s, t) in enumerate(pairs):
            result = query.run(int(s), int(t))  # must be dropped before the next run
            point[i] = np.inf if result.distance is None else result.distance
            del result
        out["pairs_s"] = time.perf_counter() - t0
    out["peak_mb"] = _rss_mb()
    out["engine_mb"] = _current_mb() - base_mb
    out["matrix_sha"] = hashlib.sha256(np.ascontiguousarray(matrix).tobytes()).hexdigest()[:16]
    out["pairs_sha"] = hashlib.sha256(np.ascontiguousarray(point).tobytes()).hexdigest()[:16]
    return out


def _child(*args: object) -> dict[str, object]:
    cmd = [sys.executable, __file__, "--case", *map(str, args)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        msg = f"case {args} failed (exit {done.returncode})"
        raise RuntimeError(msg)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=fmt)
    parser.add_argument("--nodes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--candidates", type=int, default=200)
    parser.add_argument("--demand", type=int, default=20_000)
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--case", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        engine, *sizes = args.case
        print(json.dumps(run_case(engine, *map(int, sizes))))
        return
    print(
        f"{'nodes':>10} {'engine':>8} {'prepare s':>10} {'matrix s':>9} {'pairs s':>8} "
        f"{'peak MB':>8} {'engine MB':>9}  matrix / pairs checksum"
    )
    for n in args.nodes:
        rows = {e: _child(e, n, args.candidates, args.demand, args.pairs) for e in ("csgraph", "cch")}
        for r in rows.values():
            print(
                f"{r['nodes']:>10,} {r['engine']:>8} {r['prepare_s']:>10.2f} {r['matrix_s']:>9.2f} "
                f"{r['pairs_s']:>8.2f} {r['peak_mb']:>8.0f} {r['engine_mb']:>9.0f}  "
                f"{r['matrix_sha']} / {r['pairs_sha']}"
            )
        a, b = rows["csgraph"], rows["cch"]
        same = a["matrix_sha"] == b["matrix_sha"] and a["pairs_sha"] == b["pairs_sha"]
        m_ratio = float(a["matrix_s"]) / float(b["matrix_s"])
        m_ratio_all = float(a["matrix_s"]) / (float(b["matrix_s"]) + float(b["prepare_s"]))
        p_ratio = float(a["pairs_s"]) / float(b["pairs_s"])
        print(
            f"{'':>10} ratio csgraph/cch: matrix {m_ratio:.2f}x ({m_ratio_all:.2f}x with CCH's "
            f"preparation), point queries {p_ratio:.2f}x; identical results: {same}; "
            f"{args.candidates} candidates x {args.demand:,} demand nodes, {args.pairs} pairs"
        )
        verdict = "adopt" if same and m_ratio_all >= ADOPT_RATIO else "keep csgraph"
        print(f"{'':>10} verdict (>= {ADOPT_RATIO:.0f}x with identical results): {verdict}")


if __name__ == "__main__":
    main()
