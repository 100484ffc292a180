"""Before and after: what changes per unit between two result sets, and why (issue 19).

:func:`compare_units` lines up two risk layers (``risk_units`` of ``risk.gpkg``) and, when
given, two coverage layers (``communities`` of ``coverage.gpkg``) unit by unit, and gives per
unit the change in score, level, response time and covered residents with its reasons: which
hazard categories' contributions changed, which station now serves the unit, which of the
exposure, vulnerability and response factors moved. Inputs that do not match (other units,
another CRS) raise :class:`gis.InputError` naming both sources and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from gis.errors import InputError
from gis.i18n import Lang, load_glossary

from ._compare_reasons import (
    NOT_HAZARDS,
    Changes,
    Joined,
    Text,
    Value,
    hazard_parts,
    level_word,
    measure_word,
    render_all,
    serving_station,
)

__all__ = [
    "LEVEL_ORDER",
    "Changes",
    "Comparison",
    "ResultSet",
    "compare_results",
    "compare_units",
    "compare_what_if",
    "is_what_if",
    "read_results",
    "serving_station",
]

#: Risk levels from lowest to highest (a positive step is worse).
LEVEL_ORDER = ("blue", "yellow", "orange", "red")
#: Relative change below which a figure counts as unchanged.
REL_TOL = 1e-6
_FACTORS = {
    "exposure_factor": "exposure",
    "vulnerability_factor": "vulnerability",
    "response_factor": "response",
}


@dataclass(frozen=True, eq=False)
class Comparison:
    """The change per unit from a baseline to another result set.

    Attributes
    ----------
    units
        Per unit (the baseline's index and geometry): ``score_before`` / ``score_after`` /
        ``score_change``, ``level_before`` / ``level_after`` / ``level_steps`` (+1 = one level
        worse), ``response_time_s_before`` / ``_after`` / ``_change`` and ``covered_before`` /
        ``covered_after`` / ``covered_residents_change`` (with coverage), ``station_before`` /
        ``station_after`` (with coverage or station districts), ``change`` (``better`` /
        ``worse`` / ``same``) and ``reasons`` (text in :attr:`lang`).
    labels
        The two sources, baseline first.
    parts
        Per unit its reasons as glossary texts (:meth:`in_lang` renders them in another language).
    lang
        The language of ``units["reasons"]``.
    """

    units: gpd.GeoDataFrame
    labels: tuple[str, str]
    parts: tuple[tuple[Text, ...], ...] = ()
    lang: Lang = "en"

    def counts(self) -> dict[str, int]:
        """Units better, worse and unchanged."""
        c = self.units["change"].value_counts()
        return {k: int(c.get(k, 0)) for k in ("better", "worse", "same")}

    def in_lang(self, lang: Lang) -> Comparison:
        """The same comparison with its reasons in ``lang``."""
        if lang == self.lang or len(self.parts) != len(self.units):
            return self
        units = self.units.copy()
        units["reasons"] = render_all(self.parts, lang)
        return Comparison(units, self.labels, self.parts, lang)

    def write(self, path: str | Path) -> Path:
        """Write the layer ``compare_units`` and the table ``compare_summary`` atomically."""
        from gis.atomic import write_gpkg

        summary = pd.DataFrame({"line": self.summary()})
        units = self.units.rename_axis("unit_id")
        return write_gpkg(path, {"compare_units": units}, {"compare_summary": summary})

    def summary(self) -> list[str]:
        """Lines a person reads, in :attr:`lang`."""
        g = load_glossary()
        c = self.counts()
        u = self.units
        lines = [
            g.text(
                "cmp_summary",
                self.lang,
                other=self.labels[1],
                baseline=self.labels[0],
                worse=str(c["worse"]),
                better=str(c["better"]),
                same=str(c["same"]),
                up=str(int((u["level_steps"] > 0).sum())),
                down=str(int((u["level_steps"] < 0).sum())),
            )
        ]
        if "covered_residents_change" in u:
            ch = u["covered_residents_change"]
            lines.append(
                g.text(
                    "cmp_summary_covered",
                    self.lang,
                    net=f"{int(ch.sum()):+,}",
                    gained=f"{int(ch[ch > 0].sum()):,}",
                    lost=f"{int(-ch[ch < 0].sum()):,}",
                )
            )
        return lines


def _check(before: gpd.GeoDataFrame, after: gpd.GeoDataFrame, labels: tuple[str, str], layer: str) -> None:
    a, b = labels
    if before.crs is not None and after.crs is not None and before.crs != after.crs:
        msg = (
            f"Layer `{layer}` of `{a}` is in {before.crs.to_string()} and of `{b}` in "
            f"{after.crs.to_string()}. Fix: compare results of the same scenario area and CRS."
        )
        raise InputError(msg)
    ia, ib = before.index.astype(str), after.index.astype(str)
    if not ia.is_unique or not ib.is_unique:
        msg = f"Layer `{layer}` of `{a}` or `{b}` has repeated unit ids. Fix: one row per unit."
        raise InputError(msg)
    only_a, only_b = ia.difference(ib), ib.difference(ia)
    if len(only_a) or len(only_b):
        msg = (
            f"Layer `{layer}` of `{a}` and of `{b}` have different units: {len(only_a)} only in the "
            f"first (e.g. {list(only_a[:5])}), {len(only_b)} only in the second (e.g. {list(only_b[:5])}). "
            "Fix: compare results scored on the same units (the same `--units` and communities)."
        )
        raise InputError(msg)


def _changed(before: pd.Series, after: pd.Series) -> np.ndarray:
    x, y = before.to_numpy(float), after.to_numpy(float)
    both_inf = np.isinf(x) & np.isinf(y) & (np.sign(x) == np.sign(y))
    with np.errstate(invalid="ignore"):
        diff = np.abs(y - x) > REL_TOL * np.maximum(1.0, np.abs(x))
    return (diff | (np.isnan(x) != np.isnan(y))) & ~both_inf


def compare_units(
    before: gpd.GeoDataFrame,
    after: gpd.GeoDataFrame,
    *,
    coverage_before: pd.DataFrame | None = None,
    coverage_after: pd.DataFrame | None = None,
    districts_before: gpd.GeoDataFrame | None = None,
    districts_after: gpd.GeoDataFrame | None = None,
    changes: Changes | None = None,
    labels: tuple[str, str] = ("baseline", "other"),
    lang: Lang = "en",
) -> Comparison:
    """Per unit the change from ``before`` to ``after`` and its reasons.

    Parameters
    ----------
    before, after
        Risk units (``risk_units``): ``score``, ``level``, ``hazard_<category>`` and the factors,
        indexed by unit id.
    coverage_before, coverage_after
        Optional coverage per unit (``communities`` of ``coverage.gpkg``): ``response_time_s``,
        ``covered``, ``nearest_station`` and ``population``, on the same ids. Without them, the
        units' own ``response_time_s`` (the time they were scored with: grid and H3 units) gives
        the response time change.
    districts_before, districts_after
        Optional station districts (``districts`` of ``coverage.gpkg``): when both are given, a
        unit's station is the district its representative point lies in (the nearest station's
        district, for every kind of unit), in place of the coverage's ``nearest_station``.
    changes
        What differs between the sides (:class:`Changes`): the reasons then name the measures
        done in a community, the stations added or removed, and the hazard sources changed.
    labels
        Names of the two sources in messages and the summary.
    lang
        Language of the reasons and the summary (:meth:`Comparison.in_lang` gives the other).

    Examples
    --------
    >>> import shapely
    >>> u = gpd.GeoDataFrame({"score": [1.0, 2.0], "level": ["blue", "red"], "hazard_mining": [1.0, 2.0]},
    ...                      index=["a", "b"], geometry=[shapely.Point(0, 0)] * 2, crs=32650)
    >>> v = u.copy(); v.loc["b", ["score", "hazard_mining"]] = 1.0; v.loc["b", "level"] = "orange"
    >>> c = compare_units(u, v)
    >>> c.counts(), c.units.loc["b", "reasons"]
    ({'better': 1, 'worse': 0, 'same': 1}, 'level red -> orange; hazard mining -1.00')
    >>> c.in_lang("zh").units.loc["b", "reasons"].endswith("-1.00")
    True
    """
    _check(before, after, labels, "risk_units")
    changes = changes or Changes()
    b = before.copy()
    b.index = b.index.astype(str)
    a = after.copy()
    a.index = a.index.astype(str)
    a = a.reindex(b.index)
    out = pd.DataFrame(index=b.index)
    if "name" in b.columns:
        out["name"] = b["name"].astype(object)
    out["score_before"] = b["score"].astype(float)
    out["score_after"] = a["score"].astype(float)
    out["score_change"] = out["score_after"] - out["score_before"]
    rank = {lv: i for i, lv in enumerate(LEVEL_ORDER)}
    out["level_before"] = b["level"].astype(str)
    out["level_after"] = a["level"].astype(str)
    steps = out["level_after"].map(rank) - out["level_before"].map(rank)
    out["level_steps"] = steps.fillna(0).astype(int)  # a unit without a level: no step
    parts: list[list[Text]] = [[] for _ in range(len(out))]
    for i in np.flatnonzero(out["level_steps"].to_numpy() != 0):
        lv: dict[str, Value] = {
            "before": level_word(out["level_before"].iloc[i]),
            "after": level_word(out["level_after"].iloc[i]),
        }
        parts[i].append(Text("cmp_r_level", lv))
    geo = gpd.GeoDataFrame(geometry=b.geometry.values, index=b.index, crs=b.crs)
    cats = [c for c in b.columns if c.startswith("hazard_") and c in a.columns and c not in NOT_HAZARDS]
    for c in cats:
        d = (a[c].astype(float) - b[c].astype(float)).to_numpy()
        rows = np.flatnonzero(_changed(b[c], a[c]))
        for i, part in zip(rows, hazard_parts(geo, c, d, rows, changes.hazards), strict=True):
            parts[i].append(part)
    _measure_reasons(out.index, changes, parts)
    for col, name in _FACTORS.items():
        if col in b.columns and col in a.columns:
            for i in np.flatnonzero(_changed(b[col], a[col])):
                values: dict[str, Value] = {
                    "before": f"{float(b[col].iloc[i]):.2f}",
                    "after": f"{float(a[col].iloc[i]):.2f}",
                }
                parts[i].append(Text(f"cmp_r_factor_{name}", values))
    if (coverage_before is None or coverage_after is None) and all(
        "response_time_s" in u.columns for u in (b, a)
    ):  # grid or H3 units: the response time each unit was scored with
        _times(out, b["response_time_s"], a["response_time_s"])
    if coverage_before is not None and coverage_after is not None:
        _coverage(out, coverage_before, coverage_after, parts)
    if districts_before is not None and districts_after is not None:
        out["station_before"] = serving_station(geo, districts_before)
        out["station_after"] = serving_station(geo, districts_after)
    _station_reasons(out, changes, parts)
    out["change"] = _direction(out)
    frozen = tuple(tuple(p) for p in parts)
    out["reasons"] = render_all(frozen, lang)
    return Comparison(gpd.GeoDataFrame(out, geometry=b.geometry.values, crs=b.crs), labels, frozen, lang)


def _direction(out: pd.DataFrame) -> npt.NDArray[np.str_]:
    """``worse`` / ``better`` / ``same`` per unit: by level, else score, coverage, response time.

    A unit that loses coverage at the same score is worse; one reached later, too.
    """
    steps = out["level_steps"].to_numpy()
    ds = out["score_change"].to_numpy(float)
    key = np.where(steps != 0, np.sign(steps), 0.0)
    moved = _changed(out["score_before"], out["score_after"])
    key = np.where((key == 0) & moved, np.sign(np.nan_to_num(ds)), key)
    if "covered_before" in out and "covered_after" in out:
        cov = out["covered_before"].to_numpy(int) - out["covered_after"].to_numpy(int)  # lost: +1
        key = np.where(key == 0, cov, key)
    if "response_time_s_change" in out:
        dt = out["response_time_s_change"].to_numpy(float)
        with np.errstate(invalid="ignore"):
            late = np.where(np.isnan(dt), 0.0, np.where(np.abs(dt) > 0.5, np.sign(dt), 0.0))
        key = np.where(key == 0, late, key)
    return np.where(key > 0, "worse", np.where(key < 0, "better", "same"))


def _times(out: pd.DataFrame, before: pd.Series, after: pd.Series) -> None:
    out["response_time_s_before"] = before.astype(float).to_numpy()
    out["response_time_s_after"] = after.astype(float).to_numpy()
    with np.errstate(invalid="ignore"):
        out["response_time_s_change"] = out["response_time_s_after"] - out["response_time_s_before"]


def _coverage(
    out: pd.DataFrame, coverage_before: pd.DataFrame, coverage_after: pd.DataFrame, parts: list[list[Text]]
) -> None:
    """Response times, covered residents and nearest stations of the communities, with reasons."""
    cb, ca = coverage_before.copy(), coverage_after.copy()
    cb.index, ca.index = cb.index.astype(str), ca.index.astype(str)
    cb, ca = cb.reindex(out.index), ca.reindex(out.index)
    if "response_time_s" in cb and "response_time_s" in ca:
        _times(out, cb["response_time_s"], ca["response_time_s"])
    if "covered" in cb and "covered" in ca:
        out["covered_before"] = cb["covered"].astype("boolean").fillna(False).astype(bool)
        out["covered_after"] = ca["covered"].astype("boolean").fillna(False).astype(bool)
        pop = cb["population"].fillna(0).astype(float) if "population" in cb else 1.0
        out["covered_residents_change"] = (
            out["covered_after"].astype(int) - out["covered_before"].astype(int)
        ) * pop
        for i in np.flatnonzero(out["covered_before"].to_numpy() != out["covered_after"].to_numpy()):
            parts[i].append(Text("cmp_r_covered" if out["covered_after"].iloc[i] else "cmp_r_uncovered", {}))
    if "nearest_station" in cb and "nearest_station" in ca:
        out["station_before"] = _ids(cb["nearest_station"])
        out["station_after"] = _ids(ca["nearest_station"])


def _ids(values: pd.Series) -> pd.Series:
    """Station ids as text, None where there is none."""
    text = values.astype(object).map(lambda v: None if v is None or pd.isna(v) or str(v) == "" else str(v))
    return text.astype(object)


def _station_reasons(out: pd.DataFrame, changes: Changes, parts: list[list[Text]]) -> None:
    """A unit served by another station: the new station, the removed one, or the district change."""
    if "station_before" not in out or "station_after" not in out:
        return
    s0 = out["station_before"].map(lambda v: "-" if v is None or pd.isna(v) else str(v))
    s1 = out["station_after"].map(lambda v: "-" if v is None or pd.isna(v) else str(v))
    added, removed = set(map(str, changes.stations_added)), set(map(str, changes.stations_removed))
    for i in np.flatnonzero(s0.to_numpy() != s1.to_numpy()):
        before, after = str(s0.iloc[i]), str(s1.iloc[i])
        if after in added:
            parts[i].append(Text("cmp_r_new_station", {"station": after, "before": before}))
        elif before in removed:
            parts[i].append(Text("cmp_r_station_removed", {"station": before, "after": after}))
        else:
            parts[i].append(Text("cmp_r_district", {"before": before, "after": after}))


def _measure_reasons(index: pd.Index, changes: Changes, parts: list[list[Text]]) -> None:
    """The safety measures done in each community, by name."""
    m = changes.measures
    if m is None or not len(m):
        return
    if "community_id" not in m.columns or "measure" not in m.columns:
        msg = (
            "`changes.measures` lacks `community_id` or `measure`. "
            "Fix: pass an upgrade plan's `chosen` frame (planning.plan_upgrades)."
        )
        raise InputError(msg)
    pos = pd.Series(np.arange(len(index)), index=index)
    titles = m["title"].tolist() if "title" in m.columns else [None] * len(m)
    words: dict[int, list[Value]] = {}
    for cid, measure, title in zip(
        m["community_id"].astype(str), m["measure"].astype(str), titles, strict=True
    ):
        if cid in pos.index:
            name = measure_word(measure, str(title) if title is not None and pd.notna(title) else None)
            words.setdefault(int(pos[cid]), []).append(name)
    for i, ws in sorted(words.items()):
        parts[i].append(Text("cmp_r_measures", {"measures": Joined(tuple(ws))}))


def _read(path: Path, layer: str, *, required: bool) -> gpd.GeoDataFrame | None:
    import pyogrio

    if not path.is_file():
        if required:
            msg = f"`{path}` does not exist. Fix: give a run's output folder or its risk GeoPackage."
            raise InputError(msg)
        return None
    if layer not in set(pyogrio.list_layers(path)[:, 0]):
        if required:
            msg = (
                f"`{path}` has no layer `{layer}`. Fix: give a `risk.gpkg` of `riskplan risk` / "
                "`riskplan run`, or the run's output folder."
            )
            raise InputError(msg)
        return None
    gdf = gpd.read_file(path, layer=layer)
    key = next((c for c in ("unit_id", "id") if c in gdf.columns), None)
    if key is None:
        msg = f"Layer `{layer}` of `{path}` has no `unit_id` or `id` column. Fix: write it with riskplan."
        raise InputError(msg)
    return gdf.set_index(gdf[key].astype(str)).drop(columns=[key])


@dataclass(frozen=True)
class ResultSet:
    """One side of a comparison read from disk (:func:`read_results`)."""

    units: gpd.GeoDataFrame
    coverage: gpd.GeoDataFrame | None = None
    districts: gpd.GeoDataFrame | None = None


def _layers(path: Path) -> set[str]:
    import pyogrio

    return set(pyogrio.list_layers(path)[:, 0]) if path.is_file() else set()


def read_results(path: str | Path) -> ResultSet:
    """The risk units, coverage communities and station districts of a run folder or a GeoPackage.

    A folder of ``riskplan run`` gives ``risk.gpkg`` (layer ``risk_units``) and, from
    ``coverage.gpkg``, its ``communities`` (when the risk units are communities) and its station
    ``districts``; a ``.gpkg`` its ``risk_units`` and, when it holds them, its ``communities``
    and ``districts``.
    """
    path = Path(path)
    risk, cov = (path / "risk.gpkg", path / "coverage.gpkg") if path.is_dir() else (path, path)
    units = _read(risk, "risk_units", required=True)
    assert units is not None  # required
    cover = _read(cov, "communities", required=False) if "communities" in _layers(cov) else None
    if cover is not None and (
        "response_time_s" not in cover.columns or not units.index.isin(cover.index).all()
    ):
        cover = None  # grid or H3 units: the coverage is per community, not per unit
    districts = None
    if "districts" in _layers(cov):
        districts = gpd.read_file(cov, layer="districts")
    return ResultSet(units, cover, districts)


def compare_results(
    baseline: str | Path, other: str | Path, *, changes: Changes | None = None, lang: Lang = "en"
) -> Comparison:
    """:func:`compare_units` on two run folders or risk GeoPackages (:func:`read_results`).

    Coverage and station districts are compared when both sides have them.
    """
    a, b = read_results(baseline), read_results(other)
    cover = a.coverage is not None and b.coverage is not None
    districts = a.districts is not None and b.districts is not None
    return compare_units(
        a.units,
        b.units,
        coverage_before=a.coverage if cover else None,
        coverage_after=b.coverage if cover else None,
        districts_before=a.districts if districts else None,
        districts_after=b.districts if districts else None,
        changes=changes,
        labels=(str(baseline), str(other)),
        lang=lang,
    )


#: The layer of a ``riskplan what-if`` output that :func:`compare_what_if` reads.
WHAT_IF_LAYER = "what_if_communities"


def is_what_if(path: str | Path) -> bool:
    """Whether ``path`` is a GeoPackage written by ``riskplan what-if`` (its difference layers)."""
    path = Path(path)
    return path.suffix.lower() == ".gpkg" and WHAT_IF_LAYER in _layers(path)


def compare_what_if(
    what_if: str | Path | pd.DataFrame,
    *,
    risk: gpd.GeoDataFrame | None = None,
    label: str = "what-if",
    baseline_label: str = "baseline",
    lang: Lang = "en",
) -> Comparison:
    """The comparison of a what-if closure: its difference layer, as before and after per community.

    A what-if (``riskplan what-if``, :class:`planning.what_if.WhatIfResult`) already holds both
    sides of its change for the response: each community's response time and coverage before
    and after, and its nearest station. It does not re-score the risk (the closure is a
    what-if of the road network, answered in a second), so the scores and levels are the
    baseline's when ``risk`` is given (the same both sides) and missing otherwise; a unit is
    ``worse`` when it loses coverage or is reached later, ``better`` when it gains coverage or is
    reached sooner.

    Parameters
    ----------
    what_if
        A what-if GeoPackage (layer ``what_if_communities``) or that layer as a frame.
    risk
        The baseline's risk units on the same communities (``risk_units``), for their levels.
    label, baseline_label
        Names of the two sides.
    lang
        Language of the reasons.
    """
    if isinstance(what_if, str | Path):
        src = str(what_if)
        frame = _read(Path(what_if), WHAT_IF_LAYER, required=True)
        assert frame is not None
    else:
        src = label
        frame = what_if.copy()
        frame.index = frame.index.astype(str)
    need = ["response_before_s", "response_after_s", "covered_before", "covered_after"]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        msg = f"Layer `{WHAT_IF_LAYER}` of `{src}` lacks {missing}. Fix: give a `riskplan what-if` output."
        raise InputError(msg)
    gdf = (
        frame
        if isinstance(frame, gpd.GeoDataFrame)
        else gpd.GeoDataFrame(frame, geometry=[None] * len(frame))
    )
    units = gpd.GeoDataFrame(
        {"score": np.nan, "level": ""}, index=gdf.index.astype(str), geometry=gdf.geometry.values, crs=gdf.crs
    )
    if risk is not None:
        r = risk.copy()
        r.index = r.index.astype(str)
        _check(units, r, (src, "risk_units"), WHAT_IF_LAYER)
        units["score"] = r["score"].reindex(units.index).astype(float)
        units["level"] = r["level"].reindex(units.index).astype(str)
    cover = pd.DataFrame(index=units.index)
    cover_after = pd.DataFrame(index=units.index)
    for side, frame_side, suffix in (("before", cover, "before"), ("after", cover_after, "after")):
        frame_side["response_time_s"] = gdf[f"response_{suffix}_s"].astype(float).to_numpy()
        frame_side["covered"] = gdf[f"covered_{side}"].astype(bool).to_numpy()
        if f"nearest_{suffix}" in gdf:
            frame_side["nearest_station"] = gdf[f"nearest_{suffix}"].to_numpy()
        if "population" in gdf:
            frame_side["population"] = gdf["population"].astype(float).to_numpy()
    comparison = compare_units(
        units, units.copy(), coverage_before=cover, coverage_after=cover_after, labels=(baseline_label, label)
    )
    out = comparison.units
    parts = [list(p) for p in comparison.parts]
    dt = out["response_time_s_change"].to_numpy(float)
    lost = (~out["covered_after"] & out["covered_before"]).to_numpy()
    gained = (out["covered_after"] & ~out["covered_before"]).to_numpy()
    for col, key in (("cut_off", "cmp_r_cut_off"), ("on_closed_road", "cmp_r_road_closed")):
        if col in gdf:
            for i in np.flatnonzero(gdf[col].astype(bool).to_numpy()):
                parts[i].append(Text(key, {}))
    with np.errstate(invalid="ignore"):
        slower = np.isinf(dt) | (dt > 0.5)
        faster = dt < -0.5
    for i in np.flatnonzero((slower | faster) & np.isfinite(dt)):
        parts[i].append(Text("cmp_r_response", {"change": f"{dt[i]:+.0f}"}))
    out["change"] = np.where(lost | (slower & ~gained), "worse", np.where(gained | faster, "better", "same"))
    frozen = tuple(tuple(p) for p in parts)
    out["reasons"] = render_all(frozen, lang)
    return Comparison(out, (baseline_label, label), frozen, lang)
