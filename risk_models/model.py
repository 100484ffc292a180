"""Score a scenario: the entry point that strings the risk components together.

:func:`score_scenario` takes a :class:`gis.Scenario` (or a mapping of layers, such as
:func:`gis.demo_city`'s) and returns a frozen :class:`RiskResult`: the scored units
(GeoDataFrame), the hazard sources with their severity, notes on every assumption,
and, when the scenario has incidents, the skill of the learned models.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from gis._atomic import atomic_path
from gis._errors import InputError
from gis.crs import local_metric_crs
from gis.scenario import Scenario

from .composite import compose, reasons, response_factor
from .density import category_density, kernel_norm
from .exposure import area_interpolate, population_exposure
from .learned import count_incidents, fit_incident_models, getis_ord_gi_star
from .severity import hazard_severity
from .units import build_units, parse_units
from .vulnerability import indicator_columns, vulnerability_factor, vulnerability_index
from .weights import Weights, load_weights

__all__ = ["RiskResult", "score_scenario"]

log = logging.getLogger(__name__)

NO_RESPONSE_NOTE = (
    "Response capacity not included: no response times were given, so the response factor is "
    "neutral (1.0) everywhere. Pass `response_time_s` (from the coverage stage) to include it."
)


@dataclass(frozen=True)
class RiskResult:
    """A scored scenario.

    Attributes
    ----------
    units
        Scored units (metric CRS, indexed by ``unit_id``): factors, ``hazard_<category>``
        contributions, ``share_<category>``, ``<factor>_vs_median``, ``score``, ``percentile``,
        ``level``, ``rank`` and, in learned mode, ``incidents``, ``pred_*``, ``gi_*``, ``hotspot``.
    hazards
        Hazard sources with ``severity`` and how it was obtained (GB 18218 or fallback).
    notes
        Every assumption and data gap, in words.
    units_spec
        ``communities``, ``h3:RES`` or ``grid:METRES``.
    skill
        Skill of the index and learned models (learned mode), else None.
    weights
        The risk table used.
    label
        Scenario name (marked synthetic for generated data).
    """

    units: gpd.GeoDataFrame
    hazards: gpd.GeoDataFrame
    notes: tuple[str, ...]
    units_spec: str
    skill: pd.DataFrame | None = None
    weights: Mapping[str, Any] = field(default_factory=dict, repr=False)
    label: str = ""

    def top(self, n: int = 10) -> pd.DataFrame:
        """The ``n`` highest-scoring units with the reasons for their score.

        Examples
        --------
        >>> from gis import demo_city
        >>> res = score_scenario(demo_city(n_road_nodes=2000), learn=False)
        >>> list(res.top(3).columns)
        ['rank', 'name', 'score', 'percentile', 'level', 'reasons']
        """
        head = self.units.sort_values("score", ascending=False, kind="stable").head(n)
        sources = _top_sources(head, self.hazards, self.weights)
        why = [reasons(row, top_sources=sources.get(i, "")) for i, row in head.iterrows()]
        cols = ["rank"] + (["name"] if "name" in head.columns else []) + ["score", "percentile", "level"]
        out = head[cols].copy()
        out["level"] = out["level"].astype(str)
        out["reasons"] = why
        return out

    def write(self, path: str | Path, *, top_n: int = 20) -> Path:
        """Write the layers ``risk_units``, ``risk_hazards``, ``risk_top`` and ``risk_notes`` atomically.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from gis import demo_city
        >>> res = score_scenario(demo_city(n_road_nodes=2000), learn=False)
        >>> out = res.write(pathlib.Path(tempfile.mkdtemp()) / "risk.gpkg")
        >>> sorted(pyogrio.list_layers(out)[:, 0])
        ['risk_hazards', 'risk_notes', 'risk_top', 'risk_units']
        """
        path = Path(path)
        units = self.units.copy()
        units["level"] = units["level"].astype(str)
        tables: dict[str, pd.DataFrame] = {
            "risk_top": self.top(top_n).reset_index(),
            "risk_notes": pd.DataFrame({"note": list(self.notes) or ["-"]}),
        }
        if self.skill is not None:
            tables["risk_skill"] = self.skill.reset_index()
        with atomic_path(path) as tmp:
            units.reset_index().to_file(tmp, layer="risk_units", driver="GPKG")
            self.hazards.reset_index().to_file(tmp, layer="risk_hazards", driver="GPKG")
            for name, table in tables.items():
                pyogrio.write_dataframe(table, tmp, layer=name, driver="GPKG")
        log.info("risk layers written to %s", path)
        return path


def _top_sources(units: gpd.GeoDataFrame, hazards: gpd.GeoDataFrame, weights: Mapping[str, Any]) -> dict:
    """The three sources that add most to each unit's hazard at its representative point."""
    if units.empty or hazards.empty:
        return {}
    kernel = weights["kernel"]["name"]
    pts = shapely.get_coordinates(shapely.point_on_surface(units.geometry.values))
    src = shapely.get_coordinates(shapely.point_on_surface(hazards.geometry.values))
    cats = weights["categories"]
    bw = hazards["category"].map(lambda c: float(cats[c]["bandwidth_m"])).to_numpy(float)
    cw = hazards["category"].map(lambda c: float(cats[c]["weight"])).to_numpy(float)
    out = {}
    for uid, p in zip(units.index, pts, strict=True):
        d = np.hypot(*(src - p).T)
        u = np.clip(d / bw, 0, 1)
        prof = {"epanechnikov": 1 - u * u, "linear": 1 - u}.get(kernel, np.ones_like(u))
        contrib = np.where(d < bw, prof * cw * hazards["severity"].to_numpy(float), 0.0)
        best = np.argsort(-contrib)[:3]
        names = [
            f"{hazards.index[j]} {hazards['name'].iloc[j]}"
            + (f" (GB 18218 grade {g})" if isinstance(g := hazards["grade"].iloc[j], str) else "")
            for j in best
            if contrib[j] > 0
        ]
        out[uid] = ", ".join(names)
    return out


def _by_id(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if "id" in gdf.columns and not gdf.index.astype(str).equals(pd.Index(gdf["id"].astype(str))):
        gdf = gdf.set_index(gdf["id"].astype(str).rename(None))
    return gdf


def _response(
    response_time_s: pd.Series,
    units: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
) -> pd.Series:
    idx = response_time_s.index.astype(str)
    t = pd.Series(response_time_s.to_numpy(float), index=idx)
    if idx.isin(units.index).any():
        return t.reindex(units.index)
    if idx.isin(communities.index).any():
        pts = gpd.GeoSeries(units.geometry.representative_point(), crs=units.crs)
        pos_pt, pos_c = shapely.STRtree(communities.geometry.values).query(pts.values, predicate="within")
        owner = pd.Series(communities.index[pos_c], index=units.index[pos_pt])
        owner = owner[~owner.index.duplicated()]
        return owner.map(t).reindex(units.index)
    msg = (
        "`response_time_s` is indexed by neither unit ids nor community ids "
        f"(first ids {list(idx[:3])}). Fix: index it by community id or by the ids of the units."
    )
    raise InputError(msg)


def score_scenario(
    scenario: Scenario | Mapping[str, gpd.GeoDataFrame],
    *,
    units: str = "communities",
    response_time_s: pd.Series | None = None,
    weights: Mapping[str, Any] | str | Path | None = None,
    at: str | None = None,
    learn: bool | None = None,
) -> RiskResult:
    """Score the area units of a scenario: hazard x exposure x vulnerability x response.

    Parameters
    ----------
    scenario
        A :class:`gis.Scenario` or a mapping of layers (``hazards``, ``communities``, optional
        ``study_area`` and ``incidents``) in any CRS: work runs in the local UTM zone.
    units
        ``"communities"``, ``"h3:RES"`` or ``"grid:METRES"``.
    response_time_s
        First-engine response time per unit or per community (seconds; inf = unreached);
        None leaves capacity neutral and says so in the notes.
    weights
        Overrides of ``risk_models/data/risk_weights.toml`` (mapping or TOML path).
    at
        Density on ``"area"`` (mean over the unit) or ``"point"``; default ``"area"`` for
        communities, ``"point"`` for hexagons and grid cells.
    learn
        Fit the incident models; default when the scenario has an ``incidents`` layer.

    Returns
    -------
    RiskResult

    Raises
    ------
    InputError
        Unknown categories, missing census columns, no hazard near the study area, incidents
        outside every unit, bad units spec or weights.

    Examples
    --------
    >>> from gis import demo_city
    >>> res = score_scenario(demo_city(n_road_nodes=2000), units="grid:1000", learn=False)
    >>> len(res.units), res.units["level"].astype(str).value_counts()["red"]
    (225, np.int64(11))
    """
    w: Weights = load_weights(weights)
    spec = parse_units(units)
    layers = dict(scenario.layers) if isinstance(scenario, Scenario) else dict(scenario)
    label = scenario.label if isinstance(scenario, Scenario) else "scenario"
    for name in ("hazards", "communities"):
        if name not in layers:
            msg = f"The scenario has no `{name}` layer (it has {sorted(layers)}). Fix: add it."
            raise InputError(msg)
    crs = local_metric_crs(layers["communities"])
    lay = {k: _by_id(v.to_crs(crs)) for k, v in layers.items() if isinstance(v, gpd.GeoDataFrame) and len(v)}
    communities, hazards = lay["communities"], lay.get("hazards")
    if hazards is None or hazards.empty:
        msg = "Layer `hazards` is empty: there is nothing to score. Fix: add hazard sources."
        raise InputError(msg)
    notes: list[str] = []
    unit_gdf = build_units(communities, units=spec, study_area=lay.get("study_area"))
    area = shapely.union_all(unit_gdf.geometry.values)

    sev = hazard_severity(hazards, communities, weights=w)
    if sev["size_assumed"].any():
        ids = list(sev.index[sev["size_assumed"]])
        notes.append(
            f"{len(ids)} hazards without inventory or size_class take size "
            f"`{w['severity']['default_size_class']}`: {ids[:10]}"
        )
    dist = shapely.distance(area, hazards.geometry.values)
    reach = hazards["category"].map(lambda c: float(w["categories"][c]["bandwidth_m"])).to_numpy(float)
    outside, far = dist > 0, dist >= reach
    if far.all():
        msg = (
            f"No hazard of layer `hazards` lies within its bandwidth of the study area "
            f"(nearest {dist.min():,.0f} m away). Fix: check the hazards' CRS and the study area."
        )
        raise InputError(msg)
    if outside.any():
        notes.append(
            f"{int(outside.sum())} hazards lie outside the study area; {int(far.sum())} of them "
            f"beyond their bandwidth add nothing: {list(hazards.index[far][:10])}"
        )
    bandwidths = {c: float(v["bandwidth_m"]) for c, v in w["categories"].items()}
    mode = at or ("area" if spec.kind == "communities" else "point")
    dens = category_density(
        hazards,
        unit_gdf,
        severity=sev["severity"],
        bandwidths_m=bandwidths,
        kernel=w["kernel"]["name"],
        at=mode,
        sample_spacing_share=float(w["kernel"]["sample_spacing_share"]),
    )
    parts = pd.DataFrame(index=unit_gdf.index)
    parts = parts.join(
        population_exposure(communities, unit_gdf, same_units=spec.kind == "communities", weights=w)
    )
    zero = parts.index[parts["population"] <= 0]
    if len(zero):
        notes.append(
            f"{len(zero)} units have no residents, so their score is 0 whatever their hazard: "
            f"{list(zero[:10])}"
        )

    cols = indicator_columns(w)
    vulnerability_index(communities, weights=w)  # raises InputError naming missing census columns
    nan_rows = communities.index[communities[cols].isna().any(axis=1)]
    census = communities[cols].astype(float)
    if len(nan_rows):
        pop = communities["population"].astype(float)
        means = {
            c: float(np.average(census[c].dropna(), weights=pop[census[c].notna()] + 1e-12)) for c in cols
        }
        census = census.fillna(means)
        notes.append(
            f"{len(nan_rows)} communities miss census shares, filled with the population-weighted "
            f"mean: {list(nan_rows[:10])}"
        )
    if spec.kind == "communities":
        shares = census.reindex(unit_gdf.index)
    else:
        src = communities[["population", "geometry"]].join(census)
        shares = area_interpolate(src, unit_gdf, intensive=cols, intensive_weight="population")
        shares = shares.fillna(
            {c: float(np.average(census[c], weights=communities["population"] + 1e-12)) for c in cols}
        )
    vuln = vulnerability_index(shares, weights=w)
    parts = parts.join(vuln)
    parts["vulnerability_factor"] = vulnerability_factor(vuln["vulnerability_index"], weights=w)

    if response_time_s is None:
        notes.append(NO_RESPONSE_NOTE)
        log.warning(NO_RESPONSE_NOTE)
        parts["response_factor"] = 1.0
    else:
        t = _response(response_time_s, unit_gdf, communities)
        parts["response_time_s"] = t
        parts["response_factor"] = response_factor(t, unit_gdf.index, weights=w)
        unreached = int((~np.isfinite(t)).sum())
        if unreached:
            notes.append(
                f"{unreached} units have no response time (unreached or missing): factor "
                f"{w['capacity']['unreached_factor']}"
            )
    for c, bw in bandwidths.items():
        parts[f"density_{c}"] = dens[c]
        # weight x sum(severity x kernel profile): density times the kernel's area, so that a
        # bandwidth sets a hazard's reach without diluting (or concentrating) its severity
        reach_km2 = kernel_norm(w["kernel"]["name"], bw) / 1e6
        parts[f"hazard_{c}"] = float(w["categories"][c]["weight"]) * dens[c] * reach_km2
    scored = compose(parts, weights=w)
    scored["rank"] = scored["score"].rank(method="first", ascending=False).astype(int)
    result_units = gpd.GeoDataFrame(unit_gdf.join(scored), geometry="geometry", crs=crs)

    skill = None
    if learn or (learn is None and "incidents" in lay):
        if "incidents" not in lay:
            msg = "Learned mode needs an `incidents` layer. Fix: add one or pass `learn=False`."
            raise InputError(msg)
        counts = count_incidents(result_units, lay["incidents"])
        skill, preds = fit_incident_models(result_units, counts, weights=w)
        result_units = result_units.join(counts).join(preds)
        notes.append(
            f"Learned mode: {int(counts.sum())} incidents in {len(result_units)} units, "
            f"spatially blocked CV in {int(skill['folds'].iloc[0])} folds."
        )
    hot = getis_ord_gi_star(
        result_units["score"], result_units.geometry, significance=float(w["hotspots"]["significance"])
    )
    result_units = result_units.join(hot)
    haz = gpd.GeoDataFrame(sev.join(hazards[["name", "geometry"]]), geometry="geometry", crs=crs)
    for note in notes:
        log.info(note)
    return RiskResult(result_units, haz, tuple(notes), str(spec), skill, w, label)
