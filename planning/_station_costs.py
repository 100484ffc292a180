"""A station plan's response-time matrix, searched only as far as the plan reads it (private).

:func:`planning.plan_stations` reads its ``(communities, stations + candidates)`` matrix in two
ways. The coverage models (``mclp``, ``lscp``, ``backup``, ``mexclp``), their greedy extension
and their idle-site check only ask whether an entry is within the standard's radius. The
figures of a selection (response before and after, mean, worst and 90th percentile, the
station serving each community) read the exact time of the columns selected, and the
``uncoverable`` table the best time over every column.

So, for the coverage models on the road network, :class:`StationCosts` searches every
candidate site with a cut-off at the standard's travel time (a fraction of the search of the
whole graph: the candidates are most of the sources), every existing station with a cut-off
at the latest of the communities' best times from the existing stations (found first by one
multi-source search; any selection holds the existing stations, so no later time of theirs is
read), then searches again without a cut-off only the candidate columns some selection holds
(:meth:`StationCosts.exact`), and the best time over every candidate in one multi-source
search (:meth:`StationCosts.best`). Every entry the plan reads is then the very number the
full matrix holds: a search with a cut-off settles every node within it exactly as the search
without one does, and a multi-source search's minimum is the minimum of the single-source
searches (a sum of rounded floats is monotone in each term). ``tests/test_province_plans.py``
proves the plans identical to those of the full matrix.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
import pandas as pd

from gis.network.graph import GraphLike

from .travel import CHUNK_FLOATS, RoadMatrix, TargetsBySources, _points, road_matrix

__all__ = ["StationCosts"]

FloatArray = npt.NDArray[np.float64]

#: Slack of the cut-off over the standard's travel time (rounding of ``turnout + travel``).
_SLACK = 1e-6


class StationCosts:
    """Response times from ``sources`` (existing stations first, then candidates) to ``targets``.

    Parameters
    ----------
    graph
        The road graph.
    sources, targets
        Point layers in the graph CRS: ``n_existing`` existing stations then candidate sites;
        communities.
    n_existing
        How many of the first ``sources`` are existing stations: searched as far as the latest
        of the communities' best times from them (:attr:`before`), all any selection reads of
        them (every selection holds the existing stations).
    turnout_s, radius_s
        The standard's turnout and response time: candidate columns are exact up to
        ``radius_s`` and ``inf`` or exact beyond, until :meth:`exact` makes them whole.
    snaps
        The targets' snaps on the graph (:meth:`planning.travel.RoadMatrix._snap`), when known.
    blank
        Target rows no source reaches (off-road communities): ``inf`` in every column.

    Attributes
    ----------
    cost
        The ``(targets, sources)`` matrix, ``turnout + travel`` as :func:`planning.travel.cost_matrix`
        sums it.
    before
        Every target's best time from the existing stations.
    """

    def __init__(
        self,
        graph: GraphLike,
        sources: pd.DataFrame,
        targets: pd.DataFrame,
        *,
        n_existing: int,
        turnout_s: float,
        radius_s: float,
        snaps: pd.DataFrame | None = None,
        blank: npt.NDArray[np.bool_] | None = None,
    ) -> None:
        self._m: RoadMatrix = road_matrix(graph)
        m = self._m
        self._nodes = m.positions(m._snap(_points(sources))["node"].tolist())
        self._snaps = m._snap(_points(targets)) if snaps is None else snaps
        self._turnout = float(turnout_s)
        self._chunk = max(1, min(64, CHUNK_FLOATS // max(m.n_nodes, 1)))
        travel = max(float(radius_s) - self._turnout, 0.0)
        self._cutoff = travel + _SLACK * max(1.0, travel)
        n = len(self._nodes)
        self.cost: TargetsBySources = np.empty((len(self._snaps), n))
        self._whole = np.zeros(n, dtype=bool)
        self._whole[:n_existing] = True
        self._blank = np.zeros(len(self._snaps), dtype=bool) if blank is None else np.asarray(blank, bool)
        # the stations reach no community later than its best station: searched that far (exactly)
        self.before = self._nearest(np.arange(n_existing))
        finite = self.before[np.isfinite(self.before)]
        reach = max(float(finite.max()) - self._turnout, travel) if len(finite) else travel
        self.cost[:, :n_existing] = self._search(np.arange(n_existing), reach + _SLACK * max(1.0, reach))
        self.cost[:, n_existing:] = self._search(np.arange(n_existing, n), self._cutoff)

    def _search(self, cols: npt.NDArray[np.intp], cutoff: float | None) -> FloatArray:
        """``turnout + travel`` to every target from the sources ``cols``, as :func:`cost_matrix` sums it."""
        m, nodes = self._m, self._nodes[cols]
        out = np.empty((len(self._snaps), len(nodes)))
        for start in range(0, len(nodes), self._chunk):
            times = m.one_to_all(nodes[start : start + self._chunk], cutoff=cutoff)
            out[:, start : start + self._chunk] = m.point_times(times, self._snaps)
        out = self._turnout + out
        out[self._blank] = np.inf
        return out

    def _nearest(self, cols: npt.NDArray[np.intp]) -> FloatArray:
        """The best time from the sources ``cols``, exactly ``full[:, cols].min(axis=1)``: one search."""
        if len(cols) == 0:
            return np.full(len(self._snaps), np.inf)
        m = self._m
        times, _ = m.nearest(np.unique(self._nodes[cols]))
        out = self._turnout + m.point_times(times[:, None], self._snaps)[:, 0]
        out[self._blank] = np.inf
        return out

    def exact(self, cols: Iterable[int]) -> TargetsBySources:
        """Search the columns ``cols`` without a cut-off where not done yet; return :attr:`cost`."""
        want = np.unique(np.fromiter((int(c) for c in cols), dtype=np.intp))
        want = want[~self._whole[want]]
        if len(want):
            self.cost[:, want] = self._search(want, None)
            self._whole[want] = True
        return self.cost

    def best(self) -> FloatArray:
        """The best time over every column, exactly ``full_matrix.min(axis=1)``: one multi-source search."""
        best = self.cost[:, self._whole].min(axis=1) if self._whole.any() else np.full(len(self.cost), np.inf)
        return np.minimum(best, self._nearest(np.flatnonzero(~self._whole)))
