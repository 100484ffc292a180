"""The pipeline that strings the stages together: scenario -> network -> outputs.

Each stage is a plain function of its inputs; :func:`run_demo` runs every stage
that exists on the built-in synthetic demo city and writes its outputs
atomically into one folder.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import pandas as pd

from gis import (
    Scenario,
    load_scenario,
    save_graph,
    scenario_graph,
    snap_points,
    write_demo_scenario,
)
from gis._atomic import atomic_path
from maps import write_map, write_report
from planning import CoverageResult, DepotPlan, StationPlan, analyse_coverage, plan_depots, plan_stations
from risk_models import RiskResult, score_scenario

__all__ = ["NetworkRun", "PipelineResult", "assess", "build_network", "run_demo"]

log = logging.getLogger(__name__)

#: Layers whose points are snapped to the road network and reported.
SNAPPED_LAYERS = ("fire_stations", "depots", "hazards", "communities", "candidate_sites")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class NetworkRun:
    """A built network with the snapping report of every point layer."""

    graph: nx.MultiDiGraph
    snaps: dict[str, pd.DataFrame]

    @property
    def flagged(self) -> dict[str, list[str]]:
        """``{layer: ids farther from any road than the snap limit}``."""
        return {
            layer: [str(i) for i in df.index[df["flagged"]]]
            for layer, df in self.snaps.items()
            if df["flagged"].any()
        }


@dataclass
class PipelineResult:
    """What a pipeline run wrote, stage by stage."""

    out_dir: Path
    outputs: dict[str, Path] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@contextmanager
def _stage(result: PipelineResult, name: str, progress: Progress | None) -> Iterator[None]:
    if progress is not None:
        progress(name)
    start = time.perf_counter()
    yield
    result.timings_s[name] = round(time.perf_counter() - start, 3)
    log.info("stage %s done in %.2f s", name, result.timings_s[name])


def build_network(
    scenario: Scenario,
    *,
    speeds: str | Path | None = None,
    max_snap_m: float | None = None,
    cache: bool = True,
) -> NetworkRun:
    """Build the road graph of ``scenario`` and snap its point layers to it."""
    graph = scenario_graph(scenario, speeds=speeds, cache=cache)
    snaps = {
        layer: snap_points(graph, scenario[layer], max_snap_m=max_snap_m, layer=layer)
        for layer in SNAPPED_LAYERS
        if layer in scenario
    }
    for layer, ids in NetworkRun(graph, snaps).flagged.items():
        log.warning("layer %s: %d points beyond the snap limit: %s", layer, len(ids), ids[:10])
    return NetworkRun(graph, snaps)


def assess(
    scenario: Scenario,
    *,
    graph: nx.MultiDiGraph | None = None,
    units: str = "communities",
    standard: str = "cn-gb51080",
    learn: bool | None = None,
    cache: bool = True,
) -> tuple[CoverageResult, RiskResult]:
    """Coverage under ``standard``, then risk with each community's response time as capacity."""
    if graph is None:
        graph = scenario_graph(scenario, cache=cache)
    coverage = analyse_coverage(scenario, graph, standard=standard)
    risk = score_scenario(
        scenario, units=units, response_time_s=coverage.communities["response_time_s"], learn=learn
    )
    return coverage, risk


def write_snap_report(run: NetworkRun, path: Path) -> Path:
    """Write one CSV row per snapped feature: layer, id, node, distances, flagged.

    Text cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
    ``@``, a tab or a carriage return) are written with a leading ``'``, so opening the
    report never runs a formula from an input file; numbers stay numbers. Text cells are
    quoted, so a line break inside one cannot start a row.
    """
    import csv

    frames = [df.assign(layer=layer).rename_axis("id").reset_index() for layer, df in run.snaps.items()]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    for column in table.columns:
        if not pd.api.types.is_numeric_dtype(table[column]) and not pd.api.types.is_bool_dtype(table[column]):
            text = table[column].astype(str).where(table[column].notna())
            risky = text.str.match(r"^[=+\-@\t\r]", na=False)
            table[column] = text.where(~risky, "'" + text)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, quoting=csv.QUOTE_NONNUMERIC)
    return path


def _coverage_summary(coverage: CoverageResult) -> dict[str, object]:
    table = coverage.summary[["features", "covered", "share_weight", "p50_response_s", "p90_response_s"]]
    return {
        "standard": coverage.standard.name,
        "by_layer": json.loads(table.to_json(orient="index")),
        "violations": len(coverage.violations),
    }


def _plan_summary(stations: StationPlan, depots: DepotPlan) -> dict[str, object]:
    return {
        "stations": json.loads(stations.summary.round(4).to_json(orient="index")),
        "proposed": [str(i) for i in stations.proposed.index],
        "recommended_new": int(stations.recommended_n),
        "unmet_people": float(depots.unmet_people),
    }


def _risk_note(risk: RiskResult, n: int = 5) -> str:
    lines = [f"Highest risk ({risk.units_spec}):"]
    for unit_id, row in risk.top(n).iterrows():
        lines.append(
            f"  {row['rank']:>3}. {unit_id} {row.get('name', '')} [{row['level']}]: {row['reasons']}"
        )
    return "\n".join(lines)


def run_demo(
    out_dir: str | Path,
    *,
    seed: int = 42,
    n_road_nodes: int | None = None,
    progress: Progress | None = None,
) -> PipelineResult:
    """Generate the synthetic demo city and run every stage on it.

    Outputs (all in ``out_dir``): ``demo_city.gpkg`` (the scenario),
    ``network.gpkg`` (road nodes and edges with travel times), ``snapping.csv``,
    ``coverage.gpkg`` (GB 51080 response times, isochrones, station districts and
    violations), ``risk.gpkg`` (risk by community with the reasons, response times as the
    capacity component, incident models), ``stations.gpkg`` and ``depots.gpkg`` (proposed
    stations with the trade-off curve; depot assignment and stock), ``map.html``
    (interactive, works offline), ``report.html`` (self-contained) and ``summary.json``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = PipelineResult(out)
    with _stage(result, "generate demo city", progress):
        result.outputs["scenario"] = write_demo_scenario(
            out / "demo_city.gpkg", seed=seed, n_road_nodes=n_road_nodes
        )
    with _stage(result, "load and validate scenario", progress):
        scenario = load_scenario(result.outputs["scenario"])
    with _stage(result, "build road network", progress):
        run = build_network(scenario, cache=False)
        result.outputs["network"] = save_graph(run.graph, out / "network.gpkg")
        result.outputs["snapping"] = write_snap_report(run, out / "snapping.csv")
    with _stage(result, "coverage (GB 51080) and risk", progress):
        coverage, risk = assess(scenario, graph=run.graph)
        result.outputs["coverage"] = coverage.write(out / "coverage.gpkg")
        result.outputs["risk"] = risk.write(out / "risk.gpkg")
    with _stage(result, "plan stations and depots", progress):
        stations = plan_stations(scenario, run.graph, risk=risk, n_new=3)
        depots = plan_depots(scenario, run.graph, risk=risk)
        result.outputs["stations"] = stations.write(out / "stations.gpkg")
        result.outputs["depots"] = depots.write(out / "depots.gpkg")
    with _stage(result, "map and report", progress):
        plans = {"proposed": stations.proposed, "tradeoff": stations.tradeoff, "depots_served": depots.served}
        result.outputs["map"] = write_map(scenario, out / "map.html", risk=risk, coverage=coverage, **plans)
        result.outputs["report"] = write_report(
            scenario, out / "report.html", risk=risk, coverage=coverage, depot_plan=depots.table(), **plans
        )
    report = run.graph.graph.get("report")
    result.notes.append(f"{scenario.label}: synthetic data, not a real city.")
    if report is not None:
        result.notes.append(str(report))
    result.notes.append(coverage.report())
    result.notes.append(_risk_note(risk))
    result.notes += [stations.report(), depots.report()]
    summary = {
        "scenario": scenario.label,
        "synthetic": scenario.synthetic,
        "crs": scenario.crs.to_string(),
        "layers": {name: len(gdf) for name, gdf in scenario.layers.items()},
        "network": {"nodes": run.graph.number_of_nodes(), "edges": run.graph.number_of_edges()},
        "flagged_snaps": run.flagged,
        "coverage": _coverage_summary(coverage),
        "plan": _plan_summary(stations, depots),
        "risk": {
            "units": risk.units_spec,
            "levels": risk.units["level"].astype(str).value_counts().to_dict(),
            "top": risk.top(5)[["name", "score", "level"]].reset_index().to_dict("records"),
        },
        "outputs": {k: str(v.name) for k, v in result.outputs.items()},
        "timings_s": result.timings_s,
    }
    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    result.outputs["summary"] = out / "summary.json"
    return result
