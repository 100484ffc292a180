"""What a graph build kept and dropped: :class:`NetworkReport` (public as ``gis.network.NetworkReport``)."""

from __future__ import annotations

from dataclasses import dataclass

from ..speech import say

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
        """The report in the output's language (:func:`gis.speech.speaking`; English outside one)."""
        kept = (
            say(
                "net_report_dropped", components=f"{self.n_components:,}",
                nodes=f"{self.n_dropped_nodes:,}", edges=f"{self.n_dropped_edges:,}",
            )
            if self.n_dropped_nodes or self.n_dropped_edges
            else say("net_report_kept", components=f"{self.n_components:,}")
        )  # fmt: skip
        return say(
            "net_report", nodes=f"{self.n_nodes:,}", edges=f"{self.n_edges:,}",
            length=f"{self.length_km:,.2f}", kept=kept, used=f"{self.n_lines_in - self.n_lines_skipped:,}",
            lines=f"{self.n_lines_in:,}",
            skipped=f"{self.n_lines_skipped:,}", seconds=f"{self.build_time_s:.2f}",
        )  # fmt: skip


# Pickles of networkx graphs (osmnx users) name the class by its public home.
NetworkReport.__module__ = "gis.network"
