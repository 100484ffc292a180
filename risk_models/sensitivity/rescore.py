"""Re-score a risk result under many samples of its uncertain figures, as arrays.

:func:`risk_models.score_scenario` reads, projects and snaps, builds the units, takes kernel
densities over every unit's sample lattice and then multiplies four factors. Only the last
step depends on most of the table's figures, so :class:`Rescorer` keeps what comes before it
(the result's :class:`~risk_models.model.RiskInputs`) and evaluates the product for a whole
matrix of samples at once (samples x units).

Bandwidths are the exception: a density depends on its bandwidth. For each present category the
rescorer finds, once, every pair of a unit's sample point and a source within the largest
bandwidth of the range, sorted by distance per unit, with running sums of the severities and of
severity x distance^2 (x distance for the linear kernel). A unit's hazard at any bandwidth ``h``
is then exact from two running sums at the pairs nearer than ``h``: for the Epanechnikov kernel
``sum(sev) - sum(sev d^2) / h^2`` over the unit's sample points. No kernel-density tree is built
per sample; a sample costs a binary search per unit and category. The one simplification, in the
result's notes: the sample lattice stays the baseline's (``score_scenario`` spaces it by the
smallest bandwidth of the table). At the table's figures the rescorer gives ``score_scenario``'s
scores (tested to 1e-12 relative), and at other bandwidths those of ``score_scenario`` on the same
lattice (tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import shapely
from scipy.spatial import cKDTree
from scipy.stats import rankdata

from ..composite import LEVELS
from ..density import sample_points
from .parameters import Parameter

if TYPE_CHECKING:
    from ..model import RiskResult

__all__ = ["Rescorer"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class _CategoryHazard:
    """One category's hazard per unit as a function of its bandwidth, from sorted pairs.

    ``keys`` are ``unit x span + distance`` of every (sample point, source) pair within the
    largest bandwidth, sorted; ``ones`` and ``moment`` the running sums (with a leading 0) of the
    severity and of severity x the kernel's distance term; ``start`` each unit's first pair;
    ``points`` each unit's number of sample points.
    """

    keys: FloatArray
    ones: npt.NDArray[np.longdouble]
    moment: npt.NDArray[np.longdouble]
    start: npt.NDArray[np.intp]
    points: FloatArray
    span: float
    kernel: str

    def at(self, h: FloatArray) -> FloatArray:
        """The hazard per unit weight of every unit for every bandwidth in ``h``: ``(len(h), units)``."""
        n_units = len(self.points)
        q = np.arange(n_units)[None, :] * self.span + h[:, None]
        idx = np.searchsorted(self.keys, q, side="left")  # the pairs nearer than h
        # running sums in extended precision: a unit's sums are differences of two long prefixes
        s1 = (self.ones[idx] - self.ones[self.start][None, :]).astype(float)
        s2 = (self.moment[idx] - self.moment[self.start][None, :]).astype(float)
        if self.kernel == "epanechnikov":
            total = s1 - s2 / (h * h)[:, None]
        elif self.kernel == "linear":
            total = s1 - s2 / h[:, None]
        else:
            total = s1
        return np.maximum(total, 0.0) / self.points[None, :]


def category_hazard(
    sources_xy: FloatArray,
    weights: FloatArray,
    targets_xy: FloatArray,
    owner: npt.NDArray[np.intp],
    *,
    n_units: int,
    max_bandwidth: float,
    kernel: str,
    chunk_size: int = 250_000,
) -> _CategoryHazard:
    """The sorted pairs and running sums of one category (see :class:`_CategoryHazard`)."""
    tree = cKDTree(sources_xy)
    units, dists, sev = [], [], []
    for start in range(0, len(targets_xy), chunk_size):
        block = cKDTree(targets_xy[start : start + chunk_size])
        pairs = block.sparse_distance_matrix(tree, max_bandwidth, output_type="ndarray")
        units.append(owner[start + pairs["i"]])
        dists.append(pairs["v"])
        sev.append(weights[pairs["j"]])
    u, d, w = np.concatenate(units), np.concatenate(dists), np.concatenate(sev)
    span = 2.0 * max_bandwidth
    keys = u * span + d
    order = np.argsort(keys, kind="stable")
    keys, u, d, w = keys[order], u[order], d[order], w[order]
    term = {"epanechnikov": d * d, "linear": d}.get(kernel, np.zeros_like(d))
    wide = np.longdouble
    ones = np.concatenate([np.zeros(1, wide), np.cumsum(w.astype(wide))])
    moment = np.concatenate([np.zeros(1, wide), np.cumsum((w * term).astype(wide))])
    first = np.searchsorted(keys, np.arange(n_units) * span, side="left")
    points = np.bincount(owner, minlength=n_units).astype(float)
    return _CategoryHazard(keys, ones, moment, first, points, span, kernel)


class Rescorer:
    """The scores of a result's units for a matrix of parameter samples.

    Parameters
    ----------
    result
        A :class:`~risk_models.RiskResult` of :func:`~risk_models.score_scenario` (it keeps its inputs).
    params
        The uncertain figures (:func:`~risk_models.sensitivity.uncertain_parameters`); the
        columns of every sample matrix, in this order.

    Examples
    --------
    >>> from risk_models import score_scenario
    >>> from risk_models.sensitivity import Parameter
    >>> res = score_scenario(city, learn=False)
    >>> p = Parameter("exposure.reference_per_km2", 50.0, 200.0, 100.0)
    >>> r = Rescorer(res, [p])
    >>> bool(np.allclose(r.scores(np.array([[100.0]]))[0], res.units["score"], rtol=1e-12))
    True
    """

    def __init__(self, result: RiskResult, params: Sequence[Parameter]):
        if result.inputs is None:
            msg = (
                "This risk result keeps no inputs to re-score. Fix: score it with risk_models.score_scenario."
            )
            raise ValueError(msg)
        self.params = list(params)
        self.column = {p.name: i for i, p in enumerate(self.params)}
        w = result.risk_weights
        self.weights = w
        inputs = result.inputs
        units = result.units
        self.index = units.index
        self.n_units = len(units)
        self._hazard_tables(result)
        self.pop_per_km2 = units["pop_per_km2"].to_numpy(float)
        self.indicators = list(inputs.shares.columns)
        self.shares = inputs.shares.reindex(units.index).to_numpy(float)
        safety = inputs.safety_score
        sf = None if safety is None else (100.0 - safety.reindex(units.index).to_numpy(float)) / 100.0
        self.shortfall = sf
        self.times = units["response_time_s"].to_numpy(float) if "response_time_s" in units else None
        self.levels_by_percentile = str(w["levels"]["method"]) == "percentile"
        natural = inputs.natural
        self.natural = None if natural is None else natural.reindex(units.index).sum(axis=1).to_numpy(float)
        # each sampled natural weight's term per unit of weight (a zero weight's term is nought)
        weights = inputs.natural_weights or {}
        self.natural_unit: dict[str, tuple[float, FloatArray]] = {}
        for name, w0 in weights.items():
            if f"natural.{name}.weight" in self.column and natural is not None and w0 > 0:
                term = natural[f"hazard_{name}"].reindex(units.index).to_numpy(float)
                self.natural_unit[name] = (float(w0), term / float(w0))

    # -- the parts -------------------------------------------------------------------------------
    def _hazard_tables(self, result: RiskResult) -> None:
        """Each present category's pairs within the largest bandwidth of its range."""
        inputs = result.inputs
        assert inputs is not None
        w = result.risk_weights
        self.categories: list[str] = []
        self.tables: dict[str, _CategoryHazard] = {}
        if inputs.neutral_hazard or inputs.hazards.empty:
            return
        kernel = str(w["kernel"]["name"])
        bandwidths = {c: float(v["bandwidth_m"]) for c, v in w["categories"].items()}
        spacing = None
        if inputs.at == "area":
            spacing = float(w["kernel"]["sample_spacing_share"]) * min(bandwidths.values())
        # the units in the result's order, so that every table lines up with result.units
        units = inputs.units.loc[result.units.index]
        xy, owner = sample_points(units, spacing_m=spacing)
        hazards = inputs.hazards
        src = shapely.get_coordinates(shapely.point_on_surface(hazards.geometry.values))
        sev = inputs.severity.reindex(hazards.index).to_numpy(float)
        cats = hazards["category"].to_numpy()
        for c in dict.fromkeys(cats):
            p = self._param(f"categories.{c}.bandwidth_m")
            hmax = max(bandwidths[c], p.high if p is not None else 0.0)
            mask = cats == c
            table = category_hazard(
                src[mask], sev[mask], xy, owner, n_units=len(units), max_bandwidth=hmax, kernel=kernel
            )
            if len(table.keys) == 0:
                continue
            self.categories.append(c)
            self.tables[c] = table

    def _param(self, name: str) -> Parameter | None:
        i = self.column.get(name)
        return None if i is None else self.params[i]

    def _value(self, x: FloatArray, name: str, default: float) -> FloatArray:
        """The column of ``x`` for ``name`` (samples,), or the table's value where it is not sampled."""
        i = self.column.get(name)
        return x[:, i] if i is not None else np.full(len(x), float(default))

    def _hazard(self, x: FloatArray) -> FloatArray:
        w = self.weights["categories"]
        natural = self.natural
        if not self.categories and natural is None:
            return np.ones((len(x), self.n_units))
        # the natural hazards' terms at their table's weights, moved by each sampled weight
        total = np.zeros((len(x), self.n_units)) + (0.0 if natural is None else natural[None, :])
        for name, (w0, per_weight) in self.natural_unit.items():
            total += (self._value(x, f"natural.{name}.weight", w0) - w0)[:, None] * per_weight[None, :]
        for c in self.categories:
            weight = self._value(x, f"categories.{c}.weight", w[c]["weight"])
            h = self._value(x, f"categories.{c}.bandwidth_m", w[c]["bandwidth_m"])
            total += weight[:, None] * self.tables[c].at(h)
        return total

    def _exposure(self, x: FloatArray) -> FloatArray:
        e = self.weights["exposure"]
        ref = self._value(x, "exposure.reference_per_km2", e["reference_per_km2"])
        ratio = self.pop_per_km2[None, :] / ref[:, None]
        return np.log1p(ratio) if e["transform"] == "log" else ratio

    def _vulnerability(self, x: FloatArray) -> FloatArray:
        v = self.weights["vulnerability"]
        table = v["indicators"]
        num = np.zeros((len(x), self.n_units))
        total = np.zeros(len(x))
        for k, col in enumerate(self.indicators):
            weight = self._value(x, f"vulnerability.indicators.{col}.weight", table[col]["weight"])
            sat = self._value(x, f"vulnerability.indicators.{col}.saturation", table[col]["saturation"])
            num += weight[:, None] * np.minimum(self.shares[None, :, k] / sat[:, None], 1.0)
            total += weight
        with np.errstate(invalid="ignore", divide="ignore"):
            index = np.where(total[:, None] > 0, num / total[:, None], 0.0)
        if self.shortfall is not None:
            ws = self._value(
                x, "vulnerability.community_safety.weight", v.get("community_safety", {}).get("weight", 0)
            )
            surveyed = np.isfinite(self.shortfall)[None, :] & (ws[:, None] > 0)
            with np.errstate(invalid="ignore", divide="ignore"):
                mixed = (num + ws[:, None] * self.shortfall[None, :]) / (total + ws)[:, None]
            index = np.where(surveyed, mixed, index)
        lo = self._value(x, "vulnerability.factor_min", v["factor_min"])[:, None]
        hi = self._value(x, "vulnerability.factor_max", v["factor_max"])[:, None]
        return lo + (hi - lo) * index

    def _response(self, x: FloatArray) -> FloatArray:
        if self.times is None:
            return np.ones((len(x), self.n_units))
        c = self.weights["capacity"]
        ref = self._value(x, "capacity.reference_s", c["reference_s"])[:, None]
        lo = self._value(x, "capacity.factor_min", c["factor_min"])[:, None]
        hi = self._value(x, "capacity.factor_max", c["factor_max"])[:, None]
        unreached = self._value(x, "capacity.unreached_factor", c["unreached_factor"])[:, None]
        t = self.times[None, :]
        with np.errstate(invalid="ignore"):
            f = np.minimum(np.maximum(t / ref, lo), hi)
        return np.where(np.isfinite(t), f, unreached)

    # -- the answers -----------------------------------------------------------------------------
    def scores(self, x: npt.ArrayLike) -> FloatArray:
        """The score of every unit under every sample: ``(samples, units)``."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        if x.shape[1] != len(self.params):
            msg = f"The samples have {x.shape[1]} columns for {len(self.params)} parameters."
            raise ValueError(msg)
        return self._hazard(x) * self._exposure(x) * self._vulnerability(x) * self._response(x)

    @staticmethod
    def percentiles(scores: FloatArray) -> FloatArray:
        """The share of units scoring strictly lower, 0..100, per sample (as the levels use it)."""
        return (rankdata(scores, method="min", axis=1) - 1) / scores.shape[1] * 100.0

    @staticmethod
    def ranks(scores: FloatArray) -> npt.NDArray[np.int64]:
        """Each unit's rank per sample (1 = highest score; ties by position, as the result's ``rank``)."""
        order = np.argsort(-scores, axis=1, kind="stable")
        ranks = np.empty_like(order)
        np.put_along_axis(ranks, order, np.arange(1, scores.shape[1] + 1)[None, :], axis=1)
        return ranks

    def levels(self, x: npt.ArrayLike, scores: FloatArray) -> npt.NDArray[np.intp]:
        """The level of every unit under every sample: 0 (blue) .. 3 (red), ``(samples, units)``."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        lv = self.weights["levels"]
        base = [float(b) for b in lv["breaks"]]
        breaks = np.column_stack([self._value(x, f"levels.breaks.{k}", b) for k, b in enumerate(base)])
        basis = self.percentiles(scores) if self.levels_by_percentile else scores
        cls = (basis[:, :, None] >= breaks[:, None, :]).sum(axis=2)
        return np.clip(cls, 0, len(LEVELS) - 1)
