"""What a graph build kept and dropped: :class:`NetworkReport` (public as ``gis.network.NetworkReport``)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NetworkReport"]


@dataclass(frozen=True)
class NetworkReport:
    """What a graph build kept and dropped (:attr:`RoadGraph.report`).

    ``length_km`` counts each road once (a two-way road is not counted twice).
    ``n_components`` counts strongly connected components before pruning, singletons included.
    ``build_time_s`` is the time spent in the builder (reading included for OSM files).
    """

    n_nodes: int
    n_edges: int
    n_dropped_nodes: int
    n_dropped_edges: int
    n_components: int
    length_km: float
    n_lines_in: int
    n_lines_skipped: int
    build_time_s: float

    def __str__(self) -> str:
        kept = (
            f"kept the largest of {self.n_components:,} strongly connected components, "
            f"dropping {self.n_dropped_nodes:,} nodes and {self.n_dropped_edges:,} edges"
            if self.n_dropped_nodes or self.n_dropped_edges
            else f"{self.n_components:,} strongly connected component(s), nothing dropped"
        )
        return (
            f"Road network: {self.n_nodes:,} nodes, {self.n_edges:,} edges, "
            f"{self.length_km:,.2f} km of road; {kept}; used "
            f"{self.n_lines_in - self.n_lines_skipped:,} of {self.n_lines_in:,} input lines "
            f"({self.n_lines_skipped:,} skipped: not drivable, no highway tag, area or empty); "
            f"built in {self.build_time_s:.2f} s"
        )


# Pickles of networkx graphs (osmnx users) name the class by its public home.
NetworkReport.__module__ = "gis.network"
