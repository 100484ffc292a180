"""Score a scenario: the entry point that strings the risk components together.

:func:`score_scenario` takes a :class:`gis.Scenario` (or a mapping of layers, such as
:func:`gis.demo_city`'s) and returns a frozen :class:`RiskResult`: the scored units
(GeoDataFrame), the hazard sources with their severity, notes on every assumption,
and, when the scenario has incidents, the skill of the learned models.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeAlias

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.atomic import write_gpkg
from gis.crs import local_metric_crs
from gis.errors import InputError
from gis.scenario import Scenario
from gis.speech import say
from gis.tables import TableOverrides
from gis.validate import index_by_id

from .composite import compose, reasons, response_factor
from .density import category_density, kernel_norm
from .exposure import area_interpolate, population_exposure
from .learned import count_incidents, fit_incident_models, getis_ord_gi_star
from .natural import NaturalHazards, load_natural_table, natural_exposure, natural_terms
from .severity import hazard_severity
from .units import UnitsSpec, build_units, parse_units
from .vulnerability import indicator_columns, vulnerability_factor, vulnerability_index
from .weights import RiskWeights, load_weights
from .words import listing

__all__ = ["RiskInputs", "RiskResult", "score_scenario"]

log = logging.getLogger(__name__)

#: Response times per unit: a Series (indexed by unit id, or by community id for community
#: units), or a function from the scored units to such a Series (e.g. road response times of
#: each unit from :func:`planning.layer_coverage`).
ResponseTimes: TypeAlias = pd.Series | Callable[[gpd.GeoDataFrame], pd.Series]

NO_HAZARD_NOTE = (
    "No hazard source reaches the study area{why}: the hazard term is neutral (1.0) everywhere, "
    "so risk rests on exposure, vulnerability and response. Fix: add hazard sources "
    "(a `hazards` layer, or `riskplan init` with its OSM rule table) for industrial risk."
)

NO_RESPONSE_NOTE = (
    "Response capacity not included: no response times were given, so the response factor is "
    "neutral (1.0) everywhere. Pass `response_time_s` (from the coverage stage) to include it."
)


@dataclass(frozen=True, eq=False)
class RiskInputs:
    """What a score was made of before the table's figures were applied (for re-scoring).

    :func:`score_scenario` keeps these so that the sensitivity analysis
    (:mod:`risk_models.sensitivity`) can re-score the units under other weights, bandwidths and
    thresholds without reading, projecting or snapping anything again.

    Attributes
    ----------
    units
        The area units (metric CRS), as scored.
    hazards
        The hazard sources (metric CRS) with ``category``.
    severity
        Each source's severity (GB 18218 R or the fallback, times its live factors).
    shares
        The raw census shares of the vulnerability indicators per unit (gaps filled).
    safety_score
        The community safety score per unit (NaN: not surveyed), or None without a survey.
    at
        ``"area"`` or ``"point"``: where the densities were taken.
    neutral_hazard
        True when no source reaches the units (the hazard term is 1).
    natural
        The natural-hazard terms per unit as they entered the hazard term (``hazard_<name>``,
        at the natural-hazard table's weights), or None without natural hazards.
    natural_weights
        The composite's weight of each of those hazards (``name -> weight``), for sampling them.
    """

    units: gpd.GeoDataFrame
    hazards: gpd.GeoDataFrame
    severity: pd.Series
    shares: pd.DataFrame
    safety_score: pd.Series | None
    at: str
    neutral_hazard: bool
    natural: pd.DataFrame | None = None
    natural_weights: Mapping[str, float] | None = None


@dataclass(frozen=True, eq=False)
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
    risk_weights
        The risk table used.
    label
        Scenario name (marked synthetic for generated data).
    inputs
        What the score was made of (:class:`RiskInputs`), for re-scoring.
    """

    units: gpd.GeoDataFrame
    hazards: gpd.GeoDataFrame
    notes: tuple[str, ...]
    units_spec: str
    skill: pd.DataFrame | None = None
    risk_weights: Mapping[str, Any] = field(default_factory=dict, repr=False)
    label: str = ""
    inputs: RiskInputs | None = field(default=None, repr=False)

    def top(self, n: int = 10) -> pd.DataFrame:
        """The ``n`` highest-scoring units with the reasons for their score.

        Examples
        --------
        With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

        >>> res = score_scenario(city, learn=False)
        >>> list(res.top(3).columns)
        ['rank', 'name', 'score', 'percentile', 'level', 'reasons']
        """
        head = self.units.sort_values("score", ascending=False, kind="stable").head(n)
        sources = _top_sources(head, self.hazards, self.risk_weights)
        why = [reasons(row, top_sources=sources.get(i, "")) for i, row in head.iterrows()]
        cols = ["rank"] + (["name"] if "name" in head.columns else []) + ["score", "percentile", "level"]
        out = head[cols].copy()
        out["level"] = out["level"].astype(str)
        out["reasons"] = why
        return out

    def write(
        self,
        path: str | Path,
        *,
        top_n: int = 20,
        extra_layers: Mapping[str, gpd.GeoDataFrame] | None = None,
        extra_tables: Mapping[str, pd.DataFrame] | None = None,
    ) -> Path:
        """Write ``risk_units``, ``risk_hazards`` (if any), ``risk_top`` and ``risk_notes`` atomically.

        ``extra_layers`` and ``extra_tables`` go into the same file, for example the uncertainty
        of :func:`risk_models.sensitivity.analyse_sensitivity` (its ``layers()`` and ``tables()``).

        Examples
        --------
        With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

        >>> import tempfile, pathlib, pyogrio
        >>> res = score_scenario(city, learn=False)
        >>> out = res.write(pathlib.Path(tempfile.mkdtemp()) / "risk.gpkg")
        >>> sorted(pyogrio.list_layers(out)[:, 0])
        ['risk_hazards', 'risk_notes', 'risk_top', 'risk_units']
        """
        tables: dict[str, pd.DataFrame] = {
            "risk_top": self.top(top_n),
            "risk_notes": pd.DataFrame({"note": list(self.notes) or ["-"]}),
        }
        if self.skill is not None:
            tables["risk_skill"] = self.skill.rename_axis(self.skill.index.name or "model")
        layers = {"risk_units": self.units, "risk_hazards": self.hazards}  # no hazards: no layer
        layers.update(extra_layers or {})
        tables.update(extra_tables or {})
        out = write_gpkg(path, layers, tables)
        log.info("risk layers written to %s", out)
        return out


def _top_sources(units: gpd.GeoDataFrame, hazards: gpd.GeoDataFrame, risk_weights: Mapping[str, Any]) -> dict:
    """The three sources that add most to each unit's hazard at its representative point."""
    if units.empty or hazards.empty:
        return {}
    kernel = risk_weights["kernel"]["name"]
    pts = shapely.get_coordinates(shapely.point_on_surface(units.geometry.values))
    src = shapely.get_coordinates(shapely.point_on_surface(hazards.geometry.values))
    cats = risk_weights["categories"]
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
            _label(hazards.index[j], hazards["name"].iloc[j])
            + (say("risk_why_gb18218", grade=g) if isinstance(g := hazards["grade"].iloc[j], str) else "")
            for j in best
            if contrib[j] > 0
        ]
        out[uid] = listing(names)
    return out


def _label(hazard_id: object, name: object) -> str:
    """``id name``, or the id alone for an unnamed source (its name is its id)."""
    return str(hazard_id) if pd.isna(name) or str(name) == str(hazard_id) else f"{hazard_id} {name}"


def _response(
    response_time_s: ResponseTimes,
    units: gpd.GeoDataFrame,
    spec: UnitsSpec,
) -> pd.Series:
    if callable(response_time_s):
        times = response_time_s(units)
        if not isinstance(times, pd.Series):
            msg = "`response_time_s` returned no Series. Fix: return response times indexed by unit id."
            raise InputError(msg)
        response_time_s = times
    idx = response_time_s.index.astype(str)
    t = pd.Series(response_time_s.to_numpy(float), index=idx)
    if idx.isin(units.index).any():
        return t[~t.index.duplicated()].reindex(units.index)
    what = "community ids" if spec.kind != "communities" else "neither unit nor community ids"
    msg = (
        f"`response_time_s` is indexed by {what} (first ids {list(idx[:3])}) but the units are "
        f"`{spec}`: a unit must take its response time from the road network, not from the "
        "community it lies in. Fix: pass times per unit, or a function of the units such as "
        "`lambda units: planning.unit_response_times(graph, stations, units)`."
    )
    raise InputError(msg)


def _census_shares(
    communities: gpd.GeoDataFrame, w: RiskWeights, cols: list[str]
) -> tuple[pd.DataFrame, list[str]]:
    """The vulnerability indicators per community, gaps filled, and a note on every fill."""
    table = w["vulnerability"]["indicators"]
    notes: list[str] = []
    census = pd.DataFrame(index=communities.index)
    absent = [c for c in cols if c not in communities.columns or communities[c].isna().all()]
    pop = communities["population"].astype(float)
    filled: list[object] = []
    for c in cols:
        if c in absent:
            census[c] = float(table[c]["default"])
            continue
        values = communities[c].astype(float)
        gaps = values.isna()
        if gaps.any():
            filled += list(communities.index[gaps])
            values = values.fillna(float(np.average(values[~gaps], weights=pop[~gaps] + 1e-12)))
        census[c] = values
    if absent:
        shown = ", ".join(f"{c} = {float(table[c]['default']):.1%}" for c in absent)
        columns = ", ".join(f"`{c}`" for c in absent)
        notes.append(say("risk_note_assumed_census", columns=columns, defaults=shown))
    if filled:
        unique = list(dict.fromkeys(filled))
        notes.append(say("risk_note_census_filled", count=len(unique), ids=unique[:10]))
    return census, notes


def score_scenario(
    scenario: Scenario | Mapping[str, gpd.GeoDataFrame],
    *,
    units: str = "communities",
    response_time_s: ResponseTimes | None = None,
    risk_weights: TableOverrides = None,
    at: str | None = None,
    learn: bool | None = None,
    register: pd.DataFrame | None = None,
    register_at: datetime | date | pd.Timestamp | None = None,
    risk_grades: pd.DataFrame | pd.Series | None = None,
    community_safety: pd.Series | None = None,
    natural_hazards: NaturalHazards | None = None,
    natural_table: TableOverrides = None,
    executor: Any = None,
) -> RiskResult:
    """Score the area units of a scenario: hazard x exposure x vulnerability x response.

    Parameters
    ----------
    scenario
        A :class:`gis.Scenario` or a mapping of layers (``communities``, optional ``hazards``,
        ``study_area`` and ``incidents``) in any CRS: work runs in the local UTM zone. Without
        hazard sources near the study area the hazard term is neutral (1.0) and a note says so.
        Census shares the communities lack take the documented defaults of the risk table,
        with a note.
    units
        ``"communities"``, ``"h3:RES"`` or ``"grid:METRES"``.
    response_time_s
        First-engine response time per unit (seconds; inf = unreached), as a Series indexed by
        unit id (community ids for ``communities`` units) or a function of the scored units
        returning one (:func:`planning.unit_response_times`); None leaves capacity neutral and
        says so in the notes.
    risk_weights
        Overrides of ``risk_models/data/risk_weights.toml`` (mapping or TOML path).
    at
        Density on ``"area"`` (mean over the unit) or ``"point"``; default ``"area"`` for
        communities, ``"point"`` for hexagons and grid cells.
    learn
        Fit the incident models; default when the scenario has an ``incidents`` layer.
    register
        The live hidden-danger register (:func:`risk_models.register.items_frame`): open and
        overdue major items raise their source's severity by ``[severity.register]``,
        replacing the hazards' static ``rectification`` column (:func:`hazard_severity`).
    register_at
        When the register is read (overdue is computed then); None: its last change.
    risk_grades
        Risk grades of the sources by LEC or the matrix
        (:func:`risk_models.register.hazard_risk_grades`): factors ``[severity.risk_grade]``.
    community_safety
        Community safety scores (0..100) indexed by community id, from a survey
        (:meth:`risk_models.community_safety.CommunitySafety.safety_score`): the shortfall
        ``(100 - score) / 100`` joins the vulnerability index with the weight of
        ``[vulnerability.community_safety]`` for the surveyed communities (grid and H3 units: the
        population-weighted mean over the surveyed communities they overlap). None: unchanged.
    natural_hazards
        Flood depth rasters per return period and graded geological / fire zones
        (:class:`risk_models.natural.NaturalHazards`): their expected annual affected share of
        residents joins the hazard term as ``hazard_flood``, ``hazard_geological``,
        ``hazard_wildfire`` beside the categories (``[composite]`` of
        ``risk_models/data/natural_hazards.toml``), with the per-unit figures
        (``eae_affected_<hazard>``, ``flood_affected_rp<T>`` ...) as columns. Without
        production-safety sources near the units, the natural terms replace the neutral 1.
    natural_table
        Overrides of the natural-hazard table (mapping or TOML path).
    executor
        Where the kernel-density tiles run: None (in process), a :class:`gis.executor.Executor`
        or a ``distributed.Client`` (:func:`risk_models.category_density`; same result).

    Returns
    -------
    RiskResult

    Raises
    ------
    InputError
        Unknown categories, incidents outside every unit, bad units spec or risk weights, response
        times not given per unit.

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> res = score_scenario(city, units="grid:1000", learn=False)
    >>> len(res.units), res.units["level"].astype(str).value_counts()["red"]
    (225, np.int64(11))
    """
    w: RiskWeights = load_weights(risk_weights)
    spec = parse_units(units)
    layers = dict(scenario.layers) if isinstance(scenario, Scenario) else dict(scenario)
    label = scenario.label if isinstance(scenario, Scenario) else "scenario"
    if "communities" not in layers:
        msg = f"The scenario has no `communities` layer (it has {sorted(layers)}). Fix: add it."
        raise InputError(msg)
    crs = local_metric_crs(layers["communities"])
    lay = {
        k: index_by_id(v.to_crs(crs)) for k, v in layers.items() if isinstance(v, gpd.GeoDataFrame) and len(v)
    }
    communities = lay["communities"]
    hazards = lay.get("hazards")
    if hazards is None:
        hazards = gpd.GeoDataFrame({"name": [], "category": []}, geometry=[], crs=crs)
    notes: list[str] = list(scenario.notes) if isinstance(scenario, Scenario) else []
    unit_gdf = build_units(communities, units=spec, study_area=lay.get("study_area"))
    area = shapely.union_all(unit_gdf.geometry.values)
    area_name = say("risk_note_study_area") if "study_area" in lay else say("risk_note_communities_extent")

    sev = hazard_severity(
        hazards,
        communities,
        risk_weights=w,
        register=register,
        register_at=register_at,
        risk_grades=risk_grades,
    )
    notes += _live_notes(sev, register is not None, risk_grades is not None, hazards)
    if sev["size_assumed"].any():
        ids = list(sev.index[sev["size_assumed"]])
        size = w["severity"]["default_size_class"]
        notes.append(say("risk_note_size_assumed", count=len(ids), size=size, ids=ids[:10]))
    dist = shapely.distance(area, hazards.geometry.values)
    reach = hazards["category"].map(lambda c: float(w["categories"][c]["bandwidth_m"])).to_numpy(float)
    outside, far = dist > 0, dist >= reach
    neutral_hazard = bool(far.all())
    if neutral_hazard:
        why = say("risk_note_nearest", metres=f"{dist.min():,.0f}", area=area_name) if len(hazards) else ""
        notes.append(say("risk_note_no_hazard", why=why or say("risk_note_none_given")))
    elif outside.any():
        ids = list(hazards.index[far][:10])
        notes.append(
            say("risk_note_outside", count=int(outside.sum()), area=area_name, far=int(far.sum()), ids=ids)
        )
    bandwidths = {c: float(v["bandwidth_m"]) for c, v in w["categories"].items()}
    mode = at or ("area" if spec.kind == "communities" else "point")
    dens = (
        {}
        if neutral_hazard
        else category_density(
            hazards,
            unit_gdf,
            severity=sev["severity"],
            bandwidths_m=bandwidths,
            kernel=w["kernel"]["name"],
            at=mode,
            sample_spacing_share=float(w["kernel"]["sample_spacing_share"]),
            executor=executor,
        )
    )
    parts = pd.DataFrame(index=unit_gdf.index)
    parts = parts.join(
        population_exposure(
            communities,
            unit_gdf,
            same_units=spec.kind == "communities",
            risk_weights=w,
            population_raster=scenario.rasters.get("population") if isinstance(scenario, Scenario) else None,
        )
    )
    zero = parts.index[parts["population"] <= 0]
    if len(zero):
        notes.append(say("risk_note_no_residents", count=len(zero), ids=list(zero[:10])))

    cols = indicator_columns(w)
    census, census_notes = _census_shares(communities, w, cols)
    notes += census_notes
    if spec.kind == "communities":
        shares = census.reindex(unit_gdf.index)
    else:
        src = communities[["population", "geometry"]].join(census)
        shares = area_interpolate(src, unit_gdf, intensive=cols, intensive_weight="population")
        shares = shares.fillna(
            {c: float(np.average(census[c], weights=communities["population"] + 1e-12)) for c in cols}
        )
    safety = None
    if community_safety is not None:
        safety, safety_notes = _safety_scores(community_safety, communities, unit_gdf, spec, w)
        notes += safety_notes
    vuln = vulnerability_index(shares, risk_weights=w, safety_score=safety)
    parts = parts.join(vuln)
    parts["vulnerability_factor"] = vulnerability_factor(vuln["vulnerability_index"], risk_weights=w)

    if response_time_s is None:
        notes.append(say("risk_note_no_response"))
        log.warning(NO_RESPONSE_NOTE)
        parts["response_factor"] = 1.0
    else:
        t = _response(response_time_s, unit_gdf, spec)
        parts["response_time_s"] = t
        parts["response_factor"] = response_factor(t, unit_gdf.index, risk_weights=w)
        unreached = int((~np.isfinite(t)).sum())
        if unreached:
            factor = w["capacity"]["unreached_factor"]
            notes.append(say("risk_note_unreached", count=unreached, factor=factor))
    for c, bw in bandwidths.items():
        if neutral_hazard:
            continue
        parts[f"density_{c}"] = dens[c]
        # weight x sum(severity x kernel profile): density times the kernel's area, so that a
        # bandwidth sets a hazard's reach without diluting (or concentrating) its severity
        reach_km2 = kernel_norm(w["kernel"]["name"], bw) / 1e6
        parts[f"hazard_{c}"] = float(w["categories"][c]["weight"]) * dens[c] * reach_km2
    natural = natural_weights = None
    if natural_hazards is not None and not natural_hazards.empty:
        exposure = natural_exposure(
            unit_gdf.join(parts[["population"]]), natural_hazards, table=natural_table
        )
        notes += list(exposure.notes)
        natural = natural_terms(exposure, table=natural_table)
        composite = load_natural_table(natural_table)["composite"]["weights"]
        natural_weights = {n: float(composite[n]) for n in exposure.hazards}
        parts = parts.join(exposure.units).join(natural)
    scored = compose(parts, risk_weights=w)
    scored["rank"] = scored["score"].rank(method="first", ascending=False).astype(int)
    result_units = gpd.GeoDataFrame(unit_gdf.join(scored), geometry="geometry", crs=crs)

    skill = None
    if learn or (learn is None and "incidents" in lay):
        if "incidents" not in lay:
            msg = "Learned mode needs an `incidents` layer. Fix: add one or pass `learn=False`."
            raise InputError(msg)
        counts = count_incidents(result_units, lay["incidents"])
        skill, preds = fit_incident_models(result_units, counts, risk_weights=w)
        result_units = result_units.join(counts).join(preds)
        folds = int(skill["folds"].iloc[0])
        notes.append(
            say("risk_note_learned", incidents=int(counts.sum()), units=len(result_units), folds=folds)
        )
    hot = getis_ord_gi_star(
        result_units["score"], result_units.geometry, significance=float(w["hotspots"]["significance"])
    )
    result_units = result_units.join(hot)
    haz = gpd.GeoDataFrame(sev.join(hazards[["name", "geometry"]]), geometry="geometry", crs=crs)
    for note in notes:
        log.info(note)
    inputs = RiskInputs(
        unit_gdf,
        hazards,
        sev["severity"],
        shares[cols],
        safety,
        mode,
        neutral_hazard,
        natural,
        natural_weights,
    )
    return RiskResult(result_units, haz, tuple(notes), str(spec), skill, w, label, inputs)


def _safety_scores(
    community_safety: pd.Series,
    communities: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    spec: UnitsSpec,
    w: RiskWeights,
) -> tuple[pd.Series, list[str]]:
    """The safety score of each unit (NaN: no survey) and a note on the term."""
    score = pd.Series(pd.to_numeric(community_safety, errors="coerce").to_numpy(float),
                      index=community_safety.index.astype(str))  # fmt: skip
    score = score[~score.index.duplicated(keep="last")]
    unknown = score.index.difference(communities.index.astype(str))
    surveyed = communities.index.astype(str).isin(score.index)
    if spec.kind == "communities":
        per_unit = score.reindex(units.index.astype(str)).set_axis(units.index)
    else:
        src = communities.loc[surveyed, ["population", "geometry"]].copy()
        src["safety_score"] = score.reindex(src.index.astype(str)).to_numpy(float)
        per_unit = area_interpolate(src, units, intensive=["safety_score"], intensive_weight="population")[
            "safety_score"
        ]
    weight = float(w["vulnerability"].get("community_safety", {}).get("weight", 0.0))
    notes = [
        say(
            "risk_note_safety", surveyed=int(surveyed.sum()), communities=len(communities),
            scored=int(per_unit.notna().sum()), units=len(units), weight=f"{weight:g}",
        )
    ]  # fmt: skip
    if len(unknown):
        notes.append(say("risk_note_safety_unknown", count=len(unknown), ids=list(unknown[:10])))
    return per_unit, notes


def _live_notes(sev: pd.DataFrame, register: bool, grades: bool, hazards: gpd.GeoDataFrame) -> list[str]:
    """What the register and the risk grades did to the sources' severity, in words."""
    notes = []
    if register:
        raised = sev.index[sev["register_factor"] > 1.0]
        late = int((sev["overdue_major"] > 0).sum())
        column = say("risk_note_register_replaces") if "rectification" in hazards else ""
        notes.append(
            say("risk_note_register", column=column, raised=len(raised), late=late, ids=list(raised[:10]))
        )
    if grades:
        graded = int(sev["risk_grade"].notna().sum())
        heavier = int((sev["risk_grade_factor"] > 1.0).sum())
        notes.append(say("risk_note_grades", graded=graded, sources=len(sev), heavier=heavier))
    return notes
