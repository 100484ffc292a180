"""Before and after: what changes per unit between two result sets, and why (issue 19).

:func:`compare_units` lines up two risk layers (``risk_units`` of ``risk.gpkg``) and, when
given, two coverage layers (``communities`` of ``coverage.gpkg``) unit by unit, and gives per
unit the change in score, level, response time and covered residents with its reasons: which
hazard categories' contributions changed, which station now serves the unit, which of the
exposure, vulnerability and response factors moved. Inputs that do not match (other units,
another CRS) raise :class:`gis.InputError` naming both sources and the fix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.errors import InputError
from gis.speech import say
from risk_models.words import category_word, level_word

__all__ = ["LEVEL_ORDER", "Comparison", "compare_results", "compare_units", "read_results"]

#: Risk levels from lowest to highest (a positive step is worse).
LEVEL_ORDER = ("blue", "yellow", "orange", "red")
#: Relative change below which a figure counts as unchanged.
REL_TOL = 1e-6
# each factor's words for its change (literal glossary keys: the words test collects them)
_FACTORS: dict[str, Callable[[str, str], str]] = {
    "exposure_factor": lambda b, a: say("plan_why_exposure", before=b, after=a),
    "vulnerability_factor": lambda b, a: say("plan_why_vulnerability", before=b, after=a),
    "response_factor": lambda b, a: say("plan_why_response", before=b, after=a),
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
        ``covered_after`` / ``covered_residents_change`` (with coverage), ``change``
        (``better`` / ``worse`` / ``same``) and ``reasons`` (text).
    labels
        The two sources, baseline first.
    """

    units: gpd.GeoDataFrame
    labels: tuple[str, str]

    def counts(self) -> dict[str, int]:
        """Units better, worse and unchanged."""
        c = self.units["change"].value_counts()
        return {k: int(c.get(k, 0)) for k in ("better", "worse", "same")}

    def write(self, path: str | Path) -> Path:
        """Write the layer ``compare_units`` and the table ``compare_summary`` atomically."""
        from gis.atomic import write_gpkg

        summary = pd.DataFrame({"line": self.summary()})
        return write_gpkg(path, {"compare_units": self.units}, {"compare_summary": summary})

    def summary(self) -> list[str]:
        """Lines a person reads."""
        c = self.counts()
        u = self.units
        up, down = int((u["level_steps"] > 0).sum()), int((u["level_steps"] < 0).sum())
        lines = [
            say(
                "plan_compare_summary", other=self.labels[1], base=self.labels[0], worse=c["worse"],
                better=c["better"], same=c["same"], up=up, down=down,
            )
        ]  # fmt: skip
        if "covered_residents_change" in u:
            lines.append(say("plan_compare_covered", change=f"{int(u['covered_residents_change'].sum()):+,}"))
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
    labels: tuple[str, str] = ("baseline", "other"),
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
    labels
        Names of the two sources in messages and reasons.

    Examples
    --------
    >>> import shapely
    >>> u = gpd.GeoDataFrame({"score": [1.0, 2.0], "level": ["blue", "red"], "hazard_mining": [1.0, 2.0]},
    ...                      index=["a", "b"], geometry=[shapely.Point(0, 0)] * 2, crs=32650)
    >>> v = u.copy(); v.loc["b", ["score", "hazard_mining"]] = 1.0; v.loc["b", "level"] = "orange"
    >>> c = compare_units(u, v)
    >>> c.counts(), c.units.loc["b", "reasons"]
    ({'better': 1, 'worse': 0, 'same': 1}, 'level red -> orange; hazard mining -1.00')
    """
    _check(before, after, labels, "risk_units")
    b = before.copy()
    b.index = b.index.astype(str)
    a = after.copy()
    a.index = a.index.astype(str)
    a = a.reindex(b.index)
    out = pd.DataFrame(index=b.index)
    out["score_before"] = b["score"].astype(float)
    out["score_after"] = a["score"].astype(float)
    out["score_change"] = out["score_after"] - out["score_before"]
    rank = {lv: i for i, lv in enumerate(LEVEL_ORDER)}
    out["level_before"] = b["level"].astype(str)
    out["level_after"] = a["level"].astype(str)
    out["level_steps"] = out["level_after"].map(rank) - out["level_before"].map(rank)
    reasons: list[list[str]] = [[] for _ in range(len(out))]
    for i in np.flatnonzero(out["level_steps"].to_numpy() != 0):
        was, now = level_word(out["level_before"].iloc[i]), level_word(out["level_after"].iloc[i])
        reasons[i].append(say("plan_why_level", before=was, after=now))
    cats = [c for c in b.columns if c.startswith("hazard_") and c in a.columns and c != "hazard_vs_median"]
    for c in cats:
        d = a[c].astype(float) - b[c].astype(float)
        for i in np.flatnonzero(_changed(b[c], a[c])):
            what = category_word(c.removeprefix("hazard_")).replace("_", " ")
            reasons[i].append(say("plan_why_hazard", category=what, change=f"{d.iloc[i]:+.2f}"))
    for col, words in _FACTORS.items():
        if col in b.columns and col in a.columns:
            for i in np.flatnonzero(_changed(b[col], a[col])):
                was, now = f"{float(b[col].iloc[i]):.2f}", f"{float(a[col].iloc[i]):.2f}"
                reasons[i].append(words(was, now))
    if (coverage_before is None or coverage_after is None) and all(
        "response_time_s" in u.columns for u in (b, a)
    ):  # grid or H3 units: the response time each unit was scored with
        out["response_time_s_before"] = b["response_time_s"].astype(float)
        out["response_time_s_after"] = a["response_time_s"].astype(float)
        with np.errstate(invalid="ignore"):
            out["response_time_s_change"] = out["response_time_s_after"] - out["response_time_s_before"]
    if coverage_before is not None and coverage_after is not None:
        cb, ca = coverage_before.copy(), coverage_after.copy()
        cb.index, ca.index = cb.index.astype(str), ca.index.astype(str)
        cb, ca = cb.reindex(b.index), ca.reindex(b.index)
        if "response_time_s" in cb and "response_time_s" in ca:
            out["response_time_s_before"] = cb["response_time_s"].astype(float)
            out["response_time_s_after"] = ca["response_time_s"].astype(float)
            with np.errstate(invalid="ignore"):
                out["response_time_s_change"] = out["response_time_s_after"] - out["response_time_s_before"]
        if "covered" in cb and "covered" in ca:
            out["covered_before"] = cb["covered"].fillna(False).astype(bool)
            out["covered_after"] = ca["covered"].fillna(False).astype(bool)
            pop = cb["population"].fillna(0).astype(float) if "population" in cb else 1.0
            out["covered_residents_change"] = (
                out["covered_after"].astype(int) - out["covered_before"].astype(int)
            ) * pop
            for i in np.flatnonzero(out["covered_before"].to_numpy() != out["covered_after"].to_numpy()):
                covered = bool(out["covered_after"].iloc[i])
                reasons[i].append(say("plan_why_now_covered") if covered else say("plan_why_not_covered"))
        if "nearest_station" in cb and "nearest_station" in ca:
            s0, s1 = cb["nearest_station"].astype(str), ca["nearest_station"].astype(str)
            for i in np.flatnonzero(s0.to_numpy() != s1.to_numpy()):
                reasons[i].append(say("plan_why_district", before=s0.iloc[i], after=s1.iloc[i]))
    worse = (out["level_steps"] > 0) | (
        (out["level_steps"] == 0)
        & _changed(out["score_before"], out["score_after"])
        & (out["score_change"] > 0)
    )
    better = (out["level_steps"] < 0) | (
        (out["level_steps"] == 0)
        & _changed(out["score_before"], out["score_after"])
        & (out["score_change"] < 0)
    )
    out["change"] = np.where(worse, "worse", np.where(better, "better", "same"))
    out["reasons"] = [say("words_clause_sep").join(r) for r in reasons]
    return Comparison(gpd.GeoDataFrame(out, geometry=b.geometry.values, crs=b.crs), labels)


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


def read_results(path: str | Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame | None]:
    """``(risk units, coverage communities or None)`` of a run folder or a risk GeoPackage.

    A folder of ``riskplan run`` gives ``risk.gpkg`` (layer ``risk_units``) and, when its risk
    units are communities, ``coverage.gpkg`` (layer ``communities``); a ``.gpkg`` its
    ``risk_units`` only.
    """
    path = Path(path)
    if path.is_dir():
        units = _read(path / "risk.gpkg", "risk_units", required=True)
        cover = _read(path / "coverage.gpkg", "communities", required=False)
    else:
        units = _read(path, "risk_units", required=True)
        cover = None
    assert units is not None  # required
    if cover is not None and not units.index.isin(cover.index).all():
        cover = None  # grid or H3 units: the coverage is per community, not per unit
    return units, cover


def compare_results(baseline: str | Path, other: str | Path) -> Comparison:
    """:func:`compare_units` on two run folders or risk GeoPackages (:func:`read_results`)."""
    before, cover_before = read_results(baseline)
    after, cover_after = read_results(other)
    both = cover_before is not None and cover_after is not None
    return compare_units(
        before,
        after,
        coverage_before=cover_before if both else None,
        coverage_after=cover_after if both else None,
        labels=(str(baseline), str(other)),
    )
