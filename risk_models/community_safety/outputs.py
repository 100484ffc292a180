"""What a survey's scores give a bureau: a summary per district, the tables, one file.

:func:`safety_summary` counts per district (and for the whole city) the communities surveyed,
the mean score, how many pass, the failed and veto items and the most failed item;
:func:`safety_tables` gathers the map layer (each community's latest score on its polygon) and
the tables; :func:`write_safety` writes them, atomically, to a GeoPackage (``.gpkg``) or an
Excel workbook (``.xlsx``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import pandas as pd

from gis.atomic import atomic_path, write_gpkg
from gis.errors import InputError, MissingDependencyError
from gis.validate import index_by_id

from .scoring import CommunitySafety, survey_changes

__all__ = ["SUFFIXES", "safety_summary", "safety_tables", "write_safety"]

#: Output formats of :func:`write_safety`.
SUFFIXES: tuple[str, ...] = (".gpkg", ".xlsx")
_ALL = "(all)"


def safety_summary(safety: CommunitySafety) -> pd.DataFrame:
    """Per district and for the whole city (``(all)``, last): each community's latest survey, counted.

    Columns: ``district``, ``communities``, ``mean_score``, ``passed``, ``passed_share``,
    ``failed_items``, ``veto_failed``, ``most_failed_item`` and one column per grade.

    Examples
    --------
    >>> from gis.demo import synthetic_survey
    >>> from risk_models.community_safety import score_communities
    >>> summary = safety_summary(score_communities(synthetic_survey(city["communities"], seed=1),
    ...                                            communities=city["communities"]))
    >>> summary["district"].iloc[-1], int(summary["communities"].iloc[-1])
    ('(all)', 150)
    """
    latest = safety.latest().reset_index()
    if "district" not in latest.columns:
        latest["district"] = _ALL
    latest["district"] = latest["district"].fillna("(no district)").astype(str)
    failed = safety.failed()
    last = latest.set_index(["community_id", "survey_date"]).index
    failed = failed[
        pd.MultiIndex.from_arrays([failed["community_id"].astype(str), failed["survey_date"]]).isin(last)
    ]
    failed = failed.assign(
        district=failed["community_id"].astype(str).map(latest.set_index("community_id")["district"])
    )
    grades = [g for g, _, _ in safety.standard.grades]

    def block(rows: pd.DataFrame, fails: pd.DataFrame, name: str) -> dict[str, object]:
        counts = fails["item"].astype(str).value_counts()
        out: dict[str, object] = {
            "district": name,
            "communities": len(rows),
            "mean_score": float(rows["score"].mean()),
            "passed": int(rows["passed"].sum()),
            "passed_share": float(rows["passed"].mean()),
            "failed_items": int(rows["failed_items"].sum()),
            "veto_failed": int(rows["veto_failed"].sum()),
            "most_failed_item": str(counts.index[0]) if len(counts) else "",
        }
        out.update({g: int((rows["grade"] == g).sum()) for g in grades})
        return out

    table = [
        block(rows, failed[failed["district"] == d], d) for d, rows in latest.groupby("district", sort=True)
    ]
    if len(table) != 1 or table[0]["district"] != _ALL:
        table.append(block(latest, failed, _ALL))
    return pd.DataFrame(table)


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categoricals as text, for files."""
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].astype(str)
    return out


def safety_tables(
    safety: CommunitySafety, communities: gpd.GeoDataFrame | None = None
) -> tuple[dict[str, gpd.GeoDataFrame], dict[str, pd.DataFrame]]:
    """The map layer and the tables of a scored survey.

    Returns
    -------
    tuple of dict and dict
        Layers: ``community_safety`` (each surveyed community's latest scores on its polygon;
        needs ``communities``). Tables: ``community_surveys`` (every survey's scores),
        ``community_items`` (the item breakdown), ``community_failed`` (the failed items),
        ``community_summary`` (:func:`safety_summary`), ``community_standard`` (the items with
        rules and sources), ``community_notes``, and for re-surveys ``community_changes``,
        ``community_item_changes``, ``district_changes``, ``district_item_changes``
        (:func:`survey_changes`).

    Examples
    --------
    >>> from gis.demo import synthetic_survey
    >>> from risk_models.community_safety import score_communities
    >>> safety = score_communities(synthetic_survey(city["communities"], seed=1, resurvey_share=0.2))
    >>> layers, tables = safety_tables(safety, city["communities"])
    >>> len(layers["community_safety"]), "district_changes" in tables
    (150, True)
    """
    layers: dict[str, gpd.GeoDataFrame] = {}
    if communities is not None:
        layer = index_by_id(communities)
        latest = safety.latest().drop(
            columns=[c for c in ("population", "households") if c in layer.columns], errors="ignore"
        )
        keep = layer.index.astype(str).isin(latest.index)
        joined = layer.loc[
            keep, ["geometry", *[c for c in ("population", "households") if c in layer.columns]]
        ]
        joined = joined.join(
            latest.drop(columns=[c for c in latest.columns if c in joined.columns]), how="left"
        )
        joined = _plain(joined).rename_axis("community_id")
        layers["community_safety"] = gpd.GeoDataFrame(joined, geometry="geometry", crs=layer.crs)
    std = safety.standard.items.reset_index()
    std["criteria"] = std["criteria"].map(", ".join)
    std["headers"] = std["headers"].map(", ".join)
    label = "SYNTHETIC survey (generated, not measured)" if safety.synthetic else "survey"
    notes = [
        f"{label}: {safety.where}; standard: {safety.standard.where}; "
        f"pass mark {safety.standard.pass_mark:g}",
    ]
    tables = {
        "community_surveys": _plain(safety.scores),
        "community_items": _plain(safety.items),
        "community_failed": _plain(safety.failed()),
        "community_summary": safety_summary(safety),
        "community_standard": std,
    }
    changes = survey_changes(safety)
    if len(changes.communities):
        tables.update(
            {
                "community_changes": changes.communities,
                "community_item_changes": changes.items,
                "district_changes": changes.districts,
                "district_item_changes": changes.district_items,
            }
        )
        notes.append(
            f"{len(changes.communities)} communities re-surveyed: changes against their previous survey"
        )
    tables["community_notes"] = pd.DataFrame({"note": notes})
    return layers, tables


def write_safety(
    path: str | Path,
    safety: CommunitySafety,
    communities: gpd.GeoDataFrame | None = None,
    *,
    extra_tables: Mapping[str, pd.DataFrame] | None = None,
) -> Path:
    """Write :func:`safety_tables` to a GeoPackage or an Excel workbook (one sheet each), atomically.

    ``extra_tables`` (name -> frame) are written beside them in the same file, for example the
    upgrade plan and the demonstration communities of :mod:`planning.upgrades`.

    Raises
    ------
    InputError
        A suffix other than ``.gpkg`` or ``.xlsx``.

    Examples
    --------
    >>> import tempfile, pathlib, pyogrio
    >>> from gis.demo import synthetic_survey
    >>> from risk_models.community_safety import score_communities
    >>> safety = score_communities(synthetic_survey(city["communities"], seed=1))
    >>> out = write_safety(pathlib.Path(tempfile.mkdtemp()) / "c.gpkg", safety, city["communities"])
    >>> "community_safety" in pyogrio.list_layers(out)[:, 0]
    True
    """
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        msg = f"`{path}`: cannot write `{path.suffix}`. Fix: give a {' or '.join(SUFFIXES)} file."
        raise InputError(msg)
    layers, tables = safety_tables(safety, communities)
    tables.update(extra_tables or {})
    if path.suffix.lower() == ".gpkg":
        return write_gpkg(path, layers, tables, index_label="community_id")
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        raise MissingDependencyError(
            "openpyxl", "excel", purpose=f"write `{path}` (or write a .gpkg)"
        ) from None
    with atomic_path(path) as tmp, pd.ExcelWriter(tmp, engine="openpyxl") as book:
        for name, frame in {**layers, **tables}.items():
            sheet = pd.DataFrame(frame.drop(columns="geometry")) if "geometry" in frame.columns else frame
            sheet = sheet.reset_index() if name == "community_safety" else sheet
            for col in sheet.columns:
                if pd.api.types.is_datetime64_any_dtype(sheet[col]):
                    sheet[col] = sheet[col].dt.date
            sheet.to_excel(book, sheet_name=name[:31], index=False)
    return path
