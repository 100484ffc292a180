"""Learned mode: incident count models, spatially blocked cross-validation, hot spots.

Given an ``incidents`` layer, incidents are counted per unit and two count models are
fitted on the unit features (log hazard density per category, log population density,
vulnerability, response factor): scikit-learn's ``PoissonRegressor`` and
``HistGradientBoostingRegressor(loss="poisson")``. Rates per km2 are fitted with the
unit area as sample weight (a Poisson model with a log-area offset). Skill is measured
out of fold, with folds made of square blocks of ``block_size_m`` so that neighbouring
units never sit on both sides of a split, and set beside the index model's (its score,
calibrated to counts by a one-feature Poisson fit inside each fold): mean Poisson
deviance, Spearman rank correlation, and the share of incidents in the top 10 % of units.

:func:`getis_ord_gi_star` is the Gi* hot-spot statistic (Getis and Ord 1992) on a binary
distance band that includes each unit itself.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from scipy import sparse, stats
from scipy.spatial import cKDTree

from gis.errors import InputError

from .weights import RiskWeights, load_weights

__all__ = ["count_incidents", "fit_incident_models", "getis_ord_gi_star", "skill_scores", "unit_features"]

log = logging.getLogger(__name__)


def count_incidents(units: gpd.GeoDataFrame, incidents: gpd.GeoDataFrame) -> pd.Series:
    """Incidents per unit (points on a shared edge count once, in the first unit).

    Raises
    ------
    InputError
        When no incident falls in any unit.

    Examples
    --------
    >>> from shapely import Point, box
    >>> u = gpd.GeoDataFrame(geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10)], index=["a", "b"], crs=32649)
    >>> i = gpd.GeoDataFrame(geometry=[Point(1, 1), Point(2, 2), Point(15, 5), Point(99, 99)], crs=32649)
    >>> count_incidents(u, i).tolist()
    [2, 1]
    """
    pts = incidents.to_crs(units.crs).geometry.values
    pt_idx, unit_idx = shapely.STRtree(units.geometry.values).query(pts, predicate="intersects")
    first = pd.Series(unit_idx).groupby(pt_idx).min()
    counts = np.bincount(first.to_numpy(), minlength=len(units))
    if counts.sum() == 0:
        b = incidents.to_crs(units.crs).total_bounds.round(0).tolist()
        msg = (
            f"Layer `incidents` ({len(incidents)} points, bounds {b}) has no point inside the units "
            f"(bounds {units.total_bounds.round(0).tolist()}). Fix: check the incidents' CRS and study area."
        )
        raise InputError(msg)
    outside = len(incidents) - len(first)
    if outside:
        log.warning("%d of %d incidents lie outside the units and are ignored", outside, len(incidents))
    return pd.Series(counts, index=units.index, name="incidents")


def unit_features(units: pd.DataFrame) -> pd.DataFrame:
    """Model features from a scored units table: log densities, vulnerability, response.

    Examples
    --------
    >>> t = pd.DataFrame({"density_mining": [0.0, 1.0], "pop_per_km2": [0.0, 99.0],
    ...                   "vulnerability_index": [0.1, 0.2], "response_factor": [1.0, 1.0]})
    >>> unit_features(t).round(3).to_dict("list")["log_pop_per_km2"]
    [0.0, 4.605]
    """
    feats = pd.DataFrame(index=units.index)
    for col in [c for c in units.columns if str(c).startswith("density_")]:
        feats["log_" + col] = np.log1p(units[col].astype(float))
    feats["log_pop_per_km2"] = np.log1p(units["pop_per_km2"].astype(float))
    feats["vulnerability_index"] = units["vulnerability_index"].astype(float)
    feats["response_factor"] = units["response_factor"].astype(float)
    return feats


def skill_scores(y: npt.ArrayLike, pred: npt.ArrayLike, *, top_share: float = 0.10) -> dict[str, float]:
    """Mean Poisson deviance, Spearman correlation and incident share in the top units.

    Examples
    --------
    >>> s = skill_scores([0, 1, 5, 10], [0.5, 1.0, 4.0, 11.0], top_share=0.25)
    >>> round(s["spearman"], 3), round(s["top_share_incidents"], 3)
    (1.0, 0.625)
    """
    from sklearn.metrics import mean_poisson_deviance

    y, pred = np.asarray(y, dtype=float), np.asarray(pred, dtype=float)
    n_top = max(1, round(top_share * len(y)))
    top = np.argsort(-pred, kind="stable")[:n_top]
    dev = mean_poisson_deviance(y, np.maximum(pred, 1e-9)) if len(y) else float("nan")
    return {
        "poisson_deviance": float(dev),
        "spearman": float(stats.spearmanr(y, pred).statistic),
        "top_share_incidents": float(y[top].sum() / y.sum()) if y.sum() else float("nan"),
    }


def _blocks(units: gpd.GeoDataFrame, size_m: float) -> npt.NDArray[np.int64]:
    xy = shapely.get_coordinates(shapely.point_on_surface(units.geometry.values))
    cells = np.floor((xy - xy.min(axis=0)) / size_m).astype(np.int64)
    return cells[:, 0] * 1_000_003 + cells[:, 1]


def fit_incident_models(
    units: gpd.GeoDataFrame,
    counts: pd.Series,
    *,
    risk_weights: RiskWeights | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit the count models with spatially blocked CV; return (skill table, out-of-fold predictions).

    Parameters
    ----------
    units
        Scored units (:attr:`RiskResult.units`): ``score``, ``area_km2``, ``density_*`` ...
    counts
        Incidents per unit (:func:`count_incidents`).
    risk_weights
        Risk table (``learned`` section).

    Returns
    -------
    skill, predictions
        ``skill`` has one row per model (``index``, ``poisson_glm``, ``hist_gradient_boosting``);
        ``predictions`` the out-of-fold expected counts ``pred_<model>`` on ``units``' index.
    """
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import PoissonRegressor
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    cfg = (risk_weights if risk_weights is not None else load_weights())["learned"]
    X = unit_features(units).to_numpy(float)
    area = units["area_km2"].to_numpy(float)
    y = counts.reindex(units.index).to_numpy(float)
    score = units["score"].to_numpy(float)
    pos = score[score > 0]
    x_index = np.log1p(score / (np.median(pos) if len(pos) else 1.0)).reshape(-1, 1)
    groups = _blocks(units, float(cfg["block_size_m"]))
    n_splits = min(int(cfg["n_splits"]), len(np.unique(groups)))
    if n_splits < 2:
        msg = (
            f"Units fit in {n_splits} block of {cfg['block_size_m']} m: too few for blocked CV. "
            "Fix: lower `[learned] block_size_m` in `risk_weights`."
        )
        raise InputError(msg)
    models = {
        "index": lambda: PoissonRegressor(alpha=0.0, max_iter=1000),
        "poisson_glm": lambda: make_pipeline(StandardScaler(), PoissonRegressor(alpha=1e-3, max_iter=1000)),
        "hist_gradient_boosting": lambda: HistGradientBoostingRegressor(
            loss="poisson",
            max_iter=200,
            learning_rate=0.05,
            min_samples_leaf=10,
            random_state=int(cfg["random_state"]),
        ),
    }
    preds = {name: np.zeros(len(y)) for name in models}
    # one thread: the tables are small, and OpenMP spin-waits crawl on a busy machine
    with threadpool_limits(limits=1):
        for train, test in GroupKFold(n_splits=n_splits).split(X, y, groups):
            for name, make in models.items():
                feats = x_index if name == "index" else X
                model = make()
                fit_kw = {"sample_weight": area[train]}
                if name == "poisson_glm":
                    fit_kw = {"poissonregressor__sample_weight": area[train]}
                model.fit(feats[train], y[train] / area[train], **fit_kw)
                preds[name][test] = model.predict(feats[test]) * area[test]
    rows = {}
    for name, p in preds.items():
        rows[name] = skill_scores(y, p, top_share=float(cfg["top_share"]))
    rows["index"]["spearman"] = float(stats.spearmanr(y, score).statistic)
    skill = pd.DataFrame(rows).T.rename_axis("model")
    skill["folds"] = n_splits
    log.info("learned mode skill:\n%s", skill.to_string())
    out = pd.DataFrame({f"pred_{k}": v for k, v in preds.items()}, index=units.index)
    return skill, out


def getis_ord_gi_star(
    values: pd.Series,
    geometry: gpd.GeoSeries,
    *,
    distance_m: float | None = None,
    significance: float = 0.05,
) -> pd.DataFrame:
    """Getis-Ord Gi* z-scores on a binary distance band (self included).

    ``z_i = (sum_j w_ij x_j - xbar W_i) / (s sqrt((n W_i - W_i^2) / (n - 1)))`` with
    ``W_i = sum_j w_ij``, ``s`` the population standard deviation of ``x``.

    Parameters
    ----------
    values
        The variable (e.g. the score), on ``geometry``'s index.
    geometry
        Units (their representative points are used), metric CRS.
    distance_m
        Band; default the largest nearest-neighbour distance (every unit has a neighbour).
    significance
        Two-sided level for the ``hotspot`` label.

    Returns
    -------
    pandas.DataFrame
        ``gi_z``, ``gi_p`` and ``hotspot`` (``"hot"``, ``"cold"`` or ``"-"``).

    Examples
    --------
    >>> from shapely import Point
    >>> g = gpd.GeoSeries([Point(x, 0) for x in range(6)], crs=32649)
    >>> getis_ord_gi_star(pd.Series([9.0, 8, 9, 0, 1, 0]), g, distance_m=1.0)["hotspot"].tolist()
    ['-', 'hot', '-', '-', 'cold', '-']
    """
    xy = shapely.get_coordinates(shapely.point_on_surface(geometry.values))
    x = values.reindex(geometry.index).to_numpy(float)
    n = len(x)
    tree = cKDTree(xy)
    if distance_m is None:
        dist, _ = tree.query(xy, k=2)
        distance_m = float(dist[:, 1].max()) * (1 + 1e-9)
    w = tree.sparse_distance_matrix(tree, distance_m, output_type="coo_matrix").tocsr()
    w.data[:] = 1.0
    w = (w + sparse.identity(n, format="csr")).sign()  # self included (distance 0 is not stored)
    wi = np.asarray(w.sum(axis=1)).ravel()
    lag = w @ x
    xbar, s = x.mean(), x.std()
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (lag - xbar * wi) / (s * np.sqrt((n * wi - wi**2) / (n - 1)))
    p = 2 * stats.norm.sf(np.abs(z))
    label = np.where(p < significance, np.where(z > 0, "hot", "cold"), "-")
    return pd.DataFrame({"gi_z": z, "gi_p": p, "hotspot": label}, index=geometry.index)
