"""How sure is this red? Morris screening, then Sobol indices, on a scored risk map.

:func:`analyse_sensitivity` takes a :class:`~risk_models.RiskResult` and the ranges of its
figures (``[uncertainty]`` of the risk table) and answers, per unit, how likely each level is,
how wide its score and rank may be, and which figures drive it; and for the city, which figures
move the map most:

1. **Morris screening** (SALib): trajectories through every uncertain figure; the output is the
   share of units whose level differs from the baseline map. Figures whose mu* is at
   least ``keep_share`` of the largest go on (at most ``max_sobol_parameters``).
2. **Sobol indices** (SALib's Saltelli sample, first and total order) on those figures, the
   others held at their value. For the city the output is the share of units whose level differs
   from the baseline map (SALib's estimates with bootstrap confidence intervals); per unit it is
   the unit's percentile (the same estimators, vectorised over the units).
3. **Per unit**, from every Sobol sample: the probability of each level, the 5-95 % band of the
   score and of the rank, the most likely level and whether it is uncertain (no level reaches
   ``certain_probability``), and the three figures with the largest total index.

Every sample is re-scored by :class:`~risk_models.sensitivity.Rescorer` (arrays, no
kernel-density tree per sample). The sampled distribution is uniform over each range and
independent between figures: the probabilities are those of that assumption, which the notes say.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.atomic import write_gpkg
from gis.errors import MissingDependencyError

from ..composite import LEVELS
from ._saltelli import sobol_indices
from .parameters import Parameter, uncertain_parameters
from .rescore import Rescorer

if TYPE_CHECKING:
    from ..model import RiskResult

__all__ = ["SensitivityResult", "analyse_sensitivity"]

log = logging.getLogger(__name__)

#: Rows evaluated at once (bounds memory at rows x units floats per array).
BLOCK_ROWS = 2048
#: Above this many sample x unit values the samples are reduced (with a note).
MAX_VALUES = 200_000_000


@dataclass(frozen=True, eq=False)
class SensitivityResult:
    """The uncertainty of a risk map.

    Attributes
    ----------
    units
        Per unit (the risk result's index and geometry): ``level`` (the map's), ``score``,
        ``p_blue`` .. ``p_red`` (they sum to 1), ``level_likely``, ``level_probability``,
        ``uncertain`` (no level has ``certain_probability``), ``score_p05`` / ``score_p50`` /
        ``score_p95``, ``rank_p05`` / ``rank_p95`` (1 = highest) and ``drivers`` (the figures
        with the largest total Sobol index of the unit's percentile, with the index).
    parameters
        Per uncertain figure: ``low``, ``high``, ``value``, ``source``, Morris ``mu_star``
        (``mu_star_share`` of the largest) and ``sigma``, ``sobol`` (kept for Sobol), and for
        those kept ``S1`` / ``S1_conf`` / ``ST`` / ``ST_conf`` of the map's change and
        ``ST_units`` (the population-weighted mean of the units' total indices).
    n_evaluations
        Re-scorings: Morris's and Sobol's.
    notes
        The method, the assumptions and what was left out, in words.
    """

    units: gpd.GeoDataFrame
    parameters: pd.DataFrame
    n_evaluations: int
    notes: tuple[str, ...]

    def top_parameters(self, n: int = 5) -> pd.DataFrame:
        """The figures that move the map most (by total Sobol index, then Morris mu*)."""
        cols = [c for c in ("ST", "mu_star") if c in self.parameters]
        return self.parameters.sort_values(cols, ascending=False, na_position="last").head(n)

    def summary(self) -> list[str]:
        """Lines a person reads: how many units are uncertain, and the figures that matter."""
        u = self.units
        lines = [
            f"{len(u)} units, {self.n_evaluations:,} re-scorings: {int(u['uncertain'].sum())} units have no "
            f"level with at least the certain probability; {int((u['level_likely'] != u['level']).sum())} "
            "are most likely at another level than the map's."
        ]
        top = self.top_parameters(5)
        if len(top):
            shown = ", ".join(
                f"{name} (ST {row['ST']:.2f})"
                if pd.notna(row.get("ST"))
                else f"{name} (mu* {row['mu_star']:.2f})"
                for name, row in top.iterrows()
            )
            lines.append(f"Figures that move the map most: {shown}")
        return lines

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """The layer ``risk_uncertainty`` (levels as text, for GeoPackage and GeoJSON)."""
        units = self.units.copy()
        for c in ("level", "level_likely"):
            units[c] = units[c].astype(str)
        return {"risk_uncertainty": units}

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables ``sensitivity_parameters`` and ``sensitivity_notes``."""
        params = self.parameters.reset_index()
        return {
            "sensitivity_parameters": params,
            "sensitivity_notes": pd.DataFrame({"note": list(self.notes)}),
        }

    def write(self, path: str | Path) -> Path:
        """Write :meth:`layers` and :meth:`tables` to one GeoPackage, atomically."""
        return write_gpkg(path, self.layers(), self.tables())


def _problem(params: list[Parameter]) -> dict[str, Any]:
    return {
        "num_vars": len(params),
        "names": [p.name for p in params],
        "bounds": [[p.low, p.high] for p in params],
    }


def _present_categories(result: RiskResult) -> list[str]:
    inputs = result.inputs
    assert inputs is not None
    if inputs.neutral_hazard or inputs.hazards.empty:
        return []
    return list(dict.fromkeys(inputs.hazards["category"].astype(str)))


def analyse_sensitivity(
    result: RiskResult,
    *,
    n_samples: int = 10_000,
    seed: int = 0,
) -> SensitivityResult:
    """The level probabilities, score and rank bands and drivers of every unit of a risk map.

    Parameters
    ----------
    result
        A :func:`~risk_models.score_scenario` result. Its risk table's ``[uncertainty]`` entries
        give the ranges and ``[sensitivity]`` the settings (override them as any risk weight).
    n_samples
        Sobol re-scorings at least: the smallest power of two ``N`` (Saltelli's sample needs one)
        with ``N x (k + 2) >= n_samples`` for the ``k`` figures kept after screening, at least
        16 x (k + 2); Morris's trajectories come on top.
    seed
        Seeds Morris's trajectories, Saltelli's sample and the bootstrap: the same seed gives the
        same answer.

    Returns
    -------
    SensitivityResult

    Raises
    ------
    InputError
        Bad ``[uncertainty]`` entries (naming the entry and the fix), or levels by a mapclassify
        scheme (only percentile and threshold levels can be re-scored as arrays).

    Examples
    --------
    >>> from risk_models import score_scenario
    >>> res = score_scenario(city, learn=False)
    >>> sens = analyse_sensitivity(res, n_samples=600, seed=1)
    >>> p = sens.units[["p_blue", "p_yellow", "p_orange", "p_red"]].sum(axis=1)
    >>> bool(np.allclose(p, 1.0)), len(sens.units) == len(res.units)
    (True, True)
    """
    try:
        from SALib.analyze import morris as morris_analyze
        from SALib.analyze import sobol as sobol_analyze
        from SALib.sample import morris as morris_sample
        from SALib.sample import sobol as sobol_sample
    except ImportError:
        raise MissingDependencyError("SALib", purpose="analyse the sensitivity of a risk map") from None
    from gis.errors import InputError

    w = result.risk_weights
    if str(w["levels"]["method"]) not in ("percentile", "thresholds"):
        msg = (
            f"Levels by {w['levels']['method']!r} cannot be re-scored as arrays. Fix: score with "
            '`[levels] method = "percentile"` or "thresholds" for the sensitivity analysis.'
        )
        raise InputError(msg)
    settings = w["sensitivity"]
    certain = float(settings["certain_probability"])
    inputs = result.inputs
    if inputs is None:
        msg = "This risk result keeps no inputs to re-score. Fix: score it with risk_models.score_scenario."
        raise InputError(msg)
    params, notes = uncertain_parameters(
        w,
        categories=_present_categories(result),
        survey=inputs.safety_score is not None,
        response="response_time_s" in result.units,
        natural=inputs.natural_weights,
    )
    rescorer = Rescorer(result, params)
    absent = set(_present_categories(result)) - set(rescorer.categories)
    if absent:
        params = [p for p in params if not (p.path[0] == "categories" and p.path[1] in absent)]
        rescorer = Rescorer(result, params)
        notes.append(
            f"Categories whose sources reach no unit at any sampled bandwidth are held: {sorted(absent)}"
        )
    base_level = pd.Categorical(result.units["level"], categories=list(LEVELS)).codes.astype(int)
    table = pd.DataFrame(
        {"low": [p.low for p in params], "high": [p.high for p in params], "value": [p.value for p in params],
         "source": [p.source for p in params]},
        index=pd.Index([p.name for p in params], name="parameter"),
    )  # fmt: skip
    n_units = len(result.units)
    if not params:
        notes.append("No uncertain figure can change a score here: the map is as certain as its inputs.")
        units = _unit_table(result, rescorer, base_level, certain=certain)
        return SensitivityResult(units, table, 0, tuple(notes))

    # 1. Morris screening of every figure
    problem = _problem(params)
    levels = int(settings["morris_levels"])
    xm = morris_sample.sample(problem, int(settings["morris_trajectories"]), num_levels=levels, seed=seed)
    ym = np.concatenate([
        (rescorer.levels(b, rescorer.scores(b)) != base_level[None, :]).mean(axis=1) for b in _blocks(xm)
    ])  # fmt: skip
    mo = morris_analyze.analyze(problem, xm, ym, num_levels=levels, seed=seed)
    mu = np.asarray(mo["mu_star"], dtype=float)
    table["mu_star"] = mu
    table["mu_star_share"] = mu / mu.max() if mu.max() > 0 else 0.0
    table["sigma"] = np.asarray(mo["sigma"], dtype=float)
    keep_share = float(settings["keep_share"])
    order = np.argsort(-mu, kind="stable")
    kept = [
        int(i)
        for i in order[: int(settings["max_sobol_parameters"])]
        if mu[i] > 0 and mu[i] >= keep_share * mu.max()
    ]
    table["sobol"] = False
    table.iloc[kept, table.columns.get_loc("sobol")] = True
    held = len(params) - len(kept)
    notes.append(
        f"Morris screening: {len(params)} figures, {len(xm):,} re-scorings "
        f"({settings['morris_trajectories']} trajectories); {len(kept)} kept for Sobol (mu* at least "
        f"{keep_share:.0%} of the largest), {held} held at their value."
    )
    if not kept:
        units = _unit_table(result, rescorer, base_level, certain=certain)
        return SensitivityResult(units, table, len(xm), tuple(notes))

    # 2. Sobol indices on the figures kept
    sub = [params[i] for i in kept]
    k = len(sub)
    n_base = max(16, 2 ** int(np.ceil(np.log2(max(n_samples, 1) / (k + 2)))))
    while n_base > 16 and n_base * (k + 2) * n_units > MAX_VALUES:
        n_base //= 2
    if n_base * (k + 2) * n_units > MAX_VALUES:
        notes.append(
            f"{n_units:,} units: the samples were reduced to {n_base * (k + 2):,} to stay in memory."
        )
    xs = sobol_sample.sample(_problem(sub), n_base, calc_second_order=False, seed=seed)
    full = np.tile([p.value for p in params], (len(xs), 1))
    full[:, kept] = xs
    scores = np.empty((len(full), n_units))
    for start in range(0, len(full), BLOCK_ROWS):
        scores[start : start + BLOCK_ROWS] = rescorer.scores(full[start : start + BLOCK_ROWS])
    lv = rescorer.levels(full, scores)
    changed = (lv != base_level[None, :]).mean(axis=1)
    si = sobol_analyze.analyze(_problem(sub), changed, calc_second_order=False, seed=seed)
    for key in ("S1", "S1_conf", "ST", "ST_conf"):
        table[key] = np.nan
        table.iloc[kept, table.columns.get_loc(key)] = np.asarray(si[key], dtype=float)
    pct = rescorer.percentiles(scores)
    _, st_units = sobol_indices(pct, k)  # (k, units)
    pop = result.units["population"].to_numpy(float) if "population" in result.units else np.ones(n_units)
    table["ST_units"] = np.nan
    weights = pop if pop.sum() > 0 else np.ones(n_units)
    table.iloc[kept, table.columns.get_loc("ST_units")] = st_units @ weights / weights.sum()
    notes += [
        f"Sobol indices (Saltelli's sample, first and total order): {len(full):,} re-scorings of {n_units:,} "
        f"units on {k} figures; city output: the share of units whose level differs from the map's "
        f"(on average {changed.mean():.1%}); unit output: the unit's percentile.",
        "Each figure is sampled uniformly over its range and independently of the others "
        "(risk_weights.toml [uncertainty]); the level probabilities hold under that assumption.",
        "Bandwidths are re-scored exactly on the map's own sample lattice (spaced by the table's smallest "
        "bandwidth).",
    ]
    units = _unit_table(
        result,
        rescorer,
        base_level,
        certain=certain,
        scores=scores,
        levels=lv,
        names=[p.name for p in sub],
        st_units=st_units,
    )
    notes.append(
        f"{int(units['uncertain'].sum())} of {n_units} units have no level with at least "
        f"{float(settings['certain_probability']):.0%} of the samples "
        "(`uncertain` in the layer risk_uncertainty)."
    )
    for note in notes:
        log.info(note)
    return SensitivityResult(units, table, len(xm) + len(full), tuple(notes))


def _blocks(x: np.ndarray) -> list[np.ndarray]:
    return [x[i : i + BLOCK_ROWS] for i in range(0, len(x), BLOCK_ROWS)]


def _unit_table(
    result: RiskResult,
    rescorer: Rescorer,
    base_level: np.ndarray,
    *,
    certain: float,
    scores: np.ndarray | None = None,
    levels: np.ndarray | None = None,
    names: Sequence[str] = (),
    st_units: np.ndarray | None = None,
) -> gpd.GeoDataFrame:
    """The per-unit answer from the samples' scores and levels (the map's own when none vary)."""
    units = result.units
    n = len(units)
    if scores is None or levels is None:
        scores = units["score"].to_numpy(float)[None, :]
        levels = base_level[None, :]
    lv = levels
    counts = np.stack([(lv == k).sum(axis=0) for k in range(len(LEVELS))], axis=1) / len(lv)
    out = pd.DataFrame(index=units.index)
    out["level"] = pd.Categorical(units["level"].astype(str), categories=list(LEVELS), ordered=True)
    out["score"] = units["score"].to_numpy(float)
    for k, name in enumerate(LEVELS):
        out[f"p_{name}"] = counts[:, k]
    likely = counts.argmax(axis=1)
    out["level_likely"] = pd.Categorical(np.asarray(LEVELS)[likely], categories=list(LEVELS), ordered=True)
    out["level_probability"] = counts.max(axis=1)
    out["uncertain"] = out["level_probability"] < certain
    q = np.quantile(scores, [0.05, 0.5, 0.95], axis=0)
    out["score_p05"], out["score_p50"], out["score_p95"] = q
    ranks = rescorer.ranks(scores)
    r = np.quantile(ranks, [0.05, 0.95], axis=0, method="nearest")
    out["rank_p05"], out["rank_p95"] = r.astype(int)
    drivers = [""] * n
    if st_units is not None and names:
        top = np.argsort(-st_units, axis=0, kind="stable")[:3]
        drivers = [
            ", ".join(
                f"{names[i]} {min(st_units[i, u], 1.0):.2f}" for i in top[:, u] if st_units[i, u] >= 0.05
            )
            for u in range(n)
        ]
    out["drivers"] = drivers
    return gpd.GeoDataFrame(out, geometry=units.geometry.values, crs=units.crs)
