"""The hidden-danger register in the pipeline: found through the scenario, read, written out.

A scenario points at a register with a ``[register]`` table in its ``scenario.toml`` (paths
relative to the TOML file)::

    [register]
    path = "register"                   # a register directory (riskplan register import / demo)
    month = "2024-12"                   # optional: the month read (default: the last with events)
    risk_assessments = "risk_points.csv"   # optional: LEC / matrix assessments of the sources
    incidents = "incidents.csv"         # optional: incidents to trace (lon, lat, time, ...)

``path`` names a register directory (``register.json`` and ``events.jsonl``, see
:mod:`service.register_files`) or its ``events.jsonl`` file. A register directory's own
``risk_points.csv`` and ``incidents.csv`` (written by ``riskplan register demo``) are used when
the table names none; otherwise the scenario's ``incidents`` layer is traced.
``risk_assessments`` has the columns of :func:`risk_models.register.grade_assessments`
(``hazard_id``, ``part``, ``method``, ``L``, ``E``, ``C`` or ``likelihood``, ``severity``).

:func:`register_outputs` (called by :func:`service.workflow.run_scenario`) reads the month
(:func:`risk_models.register.register_month`) and writes its disclosure (三公开: HTML, CSV,
GeoPackage), assessments (四评估), traceability findings (一追溯) and risk grades into the
output folder; the map and the report draw the same month. :func:`write_demo_register` gives
``riskplan demo`` the demo city's synthetic register (labelled synthetic).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from gis import InputError, Scenario, load_scenario
from gis.atomic import atomic_path
from gis.i18n import Lang, load_glossary, resolve_lang
from gis.scenario import scenario_table
from gis.tables import toml_path

from .register_files import RegisterDir, open_register
from .register_outputs import disclosure_bytes, write_disclosure_gpkg

if TYPE_CHECKING:
    from risk_models.register import Disclosure, RegisterMonth, SyntheticRegister

    from .workflow import PipelineResult

__all__ = [
    "RegisterSource",
    "register_inputs",
    "register_outputs",
    "save_synthetic_register",
    "scenario_register",
    "write_demo_register",
    "write_disclosure",
]

log = logging.getLogger(__name__)

_KEYS = {"path", "month", "risk_assessments", "incidents"}
#: Files of a register directory the pipeline reads besides the log.
RISK_POINTS_FILE = "risk_points.csv"
INCIDENTS_FILE = "incidents.csv"


@dataclass(frozen=True)
class RegisterSource:
    """Where a scenario's register is and what to read with it (the ``[register]`` table)."""

    path: Path
    month: str | None = None
    risk_assessments: Path | None = None
    incidents: Path | None = None


def scenario_register(scenario: Scenario) -> RegisterSource | None:
    """The register a scenario's ``[register]`` table names, checked; None without one.

    Raises
    ------
    InputError
        Unknown keys, no ``path``, or files that do not exist, naming the TOML and the fix.
    """
    found = scenario_table(scenario, "register")
    if found is None:
        return None
    table, src = found
    where = f"Scenario TOML `{src}`, table `[register]`"
    if not isinstance(table, Mapping) or "path" not in table or set(table) - _KEYS:
        msg = (
            f"{where} needs `path` and only the keys {sorted(_KEYS)}"
            + (f" (unknown: {sorted(set(table) - _KEYS)})" if isinstance(table, Mapping) else "")
            + '. Fix: e.g. `[register]` with `path = "register"` (a register directory).'
        )
        raise InputError(msg)

    def file(key: str) -> Path | None:
        return toml_path(src, where, table, key)

    path = file("path")
    assert path is not None
    month = None if table.get("month") is None else str(table["month"])
    return RegisterSource(path, month, file("risk_assessments"), file("incidents"))


def _open(path: Path) -> RegisterDir:
    directory = path.parent if path.is_file() else path
    return open_register(directory)


def _points_csv(path: Path, what: str) -> gpd.GeoDataFrame:
    table = pd.read_csv(path, dtype={"id": str, "hazard_id": str}, encoding="utf-8-sig")
    if not {"lon", "lat"} <= set(table.columns):
        msg = f"{what} `{path}` has no `lon` / `lat` columns. Fix: give WGS84 longitude and latitude."
        raise InputError(msg)
    frame = gpd.GeoDataFrame(
        table.drop(columns=["lon", "lat"]), geometry=gpd.points_from_xy(table["lon"], table["lat"]), crs=4326
    )
    if "id" in frame:
        frame.index = pd.Index(frame["id"].astype(str).to_numpy(), dtype=object)
    return frame


def read_register_month(source: RegisterSource, scenario: Scenario) -> RegisterMonth:
    """Read the month of the register ``source`` names, with the scenario's layers."""
    from risk_models.register import RegisterError, register_month

    reg = _open(source.path)
    directory = reg.path
    frame = reg.frame().to_crs(scenario.crs)
    assessments = source.risk_assessments or (
        directory / RISK_POINTS_FILE if (directory / RISK_POINTS_FILE).exists() else None
    )
    incidents_path = source.incidents or (
        directory / INCIDENTS_FILE if (directory / INCIDENTS_FILE).exists() else None
    )
    incidents = (
        _points_csv(incidents_path, "Incidents").to_crs(scenario.crs)
        if incidents_path is not None
        else scenario.layers.get("incidents")
    )
    rows = pd.read_csv(assessments, encoding="utf-8-sig") if assessments is not None else None
    try:
        return register_month(
            frame,
            reg.events_frame(),
            source.month,
            label=reg.label,
            hazards=scenario.layers.get("hazards"),
            communities=scenario.layers.get("communities"),
            incidents=incidents,
            risk_assessments=rows,
            synthetic=scenario.synthetic or "synthetic" in reg.label.lower(),
        )
    except RegisterError as exc:
        msg = f"The register `{directory}` of scenario `{scenario.source}`: {exc}"
        raise InputError(msg) from None


def write_disclosure(d: Disclosure, out_dir: Path, label: str, *, lang: Lang = "en") -> dict[str, Path]:
    """Write a month's disclosure as ``disclosure-YYYY-MM.{html,csv,gpkg}``, each atomically.

    ``lang`` chooses the words of the HTML page and the CSV's column headers (Chinese or English).

    The files are those the web service serves (:mod:`service.register_outputs`): the CSV and
    GeoPackage in WGS84 (``lon`` / ``lat`` columns in the CSV); every table is the public view
    (:func:`risk_models.register.public_view`).
    """
    stem = out_dir / f"disclosure-{d.month}"
    for fmt in ("html", "csv"):
        with atomic_path(stem.with_suffix(f".{fmt}")) as tmp:
            tmp.write_bytes(disclosure_bytes(d, fmt, label=label, lang=lang))
    write_disclosure_gpkg(d, stem.with_suffix(".gpkg"))
    return {f"disclosure_{s.lstrip('.')}": stem.with_suffix(s) for s in (".html", ".csv", ".gpkg")}


def _write_csv(frame: pd.DataFrame, path: Path, *, index: bool = True) -> Path:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=index, encoding="utf-8-sig")
    return path


def write_register_month(month: RegisterMonth, out_dir: Path, *, lang: Lang = "en") -> dict[str, Path]:
    """Write a register month's disclosure, assessments, traceability and risk grades.

    ``lang``: the words of the disclosure page and its CSV's column headers.
    """
    out = write_disclosure(month.disclosure, out_dir, month.label, lang=lang)
    for by, a in month.assessments.items():
        table = a.table.assign(month=a.month)
        out[f"assessment_{by}"] = _write_csv(table, out_dir / f"assessment-{a.month}-by-{by}.csv")
    if month.trace is not None:
        out["trace"] = _write_csv(month.trace, out_dir / f"trace-{month.month}.csv", index=False)
    if month.unchecked is not None:
        out["unchecked"] = _write_csv(
            month.unchecked.rename_axis("hazard_id"), out_dir / f"unchecked-sources-{month.month}.csv"
        )
    if month.risk_grades is not None:
        grades = pd.DataFrame(month.risk_grades.drop(columns="geometry")).rename_axis("hazard_id")
        out["risk_grades"] = _write_csv(grades, out_dir / "risk-grades.csv")
    return out


def _note(month: RegisterMonth, lang: Lang = "en") -> str:
    f = month.figures

    def pct(v: object) -> str:
        return "-" if pd.isna(v) else f"{float(v):.0%}"  # type: ignore[arg-type]

    return load_glossary().text(
        "cli_register_note",
        lang,
        month=month.month,
        label=month.label,
        found=int(f["found"]),
        closed=int(f["closed"]),
        on_time=pct(f["on_time_rate"]),
        overdue=int(f["overdue_now"]),
        days=f"{f['median_days_to_close']:.1f}",
        reopen=pct(f["reopen_rate"]),
        self_check=pct(f["self_check_share"]),
    )


def register_inputs(month: RegisterMonth | None) -> dict[str, Any]:
    """The keywords of :func:`risk_models.score_scenario` that make the risk model read ``month``.

    The items in their states at the month's end (``register``, overdue computed at
    ``register_at``, the month's last instant) and the sources' risk grades (``risk_grades``,
    when the register has risk assessments); nothing without a register.
    """
    if month is None:
        return {}
    return {"register": month.items, "register_at": month.as_of, "risk_grades": month.risk_grades}


def register_outputs(
    scenario: Scenario,
    out_dir: Path,
    result: PipelineResult,
    *,
    register: str | Path | RegisterSource | None = None,
    lang: Lang | None = None,
) -> RegisterMonth | None:
    """Read the scenario's register (``register``, else its ``[register]`` table) and write its month.

    ``lang``: the language of the disclosure page (None: by :func:`gis.i18n.resolve_lang`).

    Outputs (in ``out_dir / "register"``): ``disclosure-YYYY-MM.{html,csv,gpkg}``,
    ``assessment-YYYY-MM-by-<group>.csv``, ``trace-YYYY-MM.csv``,
    ``unchecked-sources-YYYY-MM.csv`` and ``risk-grades.csv`` (with risk assessments), each
    atomically; their paths go into ``result.outputs`` and a line of figures into its notes.

    Returns
    -------
    RegisterMonth or None
        The month for the map and the report; None when the scenario has no register.
    """
    start = time.perf_counter()
    source = (
        register
        if isinstance(register, RegisterSource)
        else RegisterSource(Path(register))
        if register is not None
        else scenario_register(scenario)
    )
    if source is None:
        return None
    month = read_register_month(source, scenario)
    folder = out_dir / "register"
    folder.mkdir(parents=True, exist_ok=True)
    spoken = resolve_lang(lang, scenario=scenario)
    written = write_register_month(month, folder, lang=spoken)
    result.outputs.update({f"register_{k}": v for k, v in written.items()})
    result.notes.append(_note(month, spoken))
    result.timings_s["hazard register"] = round(time.perf_counter() - start, 3)
    log.info("register %s: %d outputs in %s", month.month, len(written), folder)
    return month


def save_synthetic_register(syn: SyntheticRegister, directory: Path) -> RegisterDir:
    """Write a synthetic register as a register directory (WGS84), with its incidents.

    Raises
    ------
    InputError
        The directory already holds a register.
    """
    if (directory / "register.json").exists():
        msg = f"`{directory}` already holds a register. Fix: pick an empty directory."
        raise InputError(msg)
    reg = open_register(directory, create=True, label=syn.label)
    log, frame = syn.log_in_wgs84()
    reg.append(log, frame[["district"]])
    incidents = syn.incidents.to_crs(4326)
    _write_csv(
        incidents.drop(columns="geometry").assign(lon=incidents.geometry.x, lat=incidents.geometry.y),
        directory / INCIDENTS_FILE,
        index=False,
    )
    return reg


def write_demo_register(directory: str | Path, scenario: str | Path | Scenario, *, seed: int = 0) -> Path:
    """The synthetic register of a demo scenario, with risk assessments of its sources.

    Draws :func:`risk_models.register.synthetic_register` from the scenario's hazards and
    communities, writes it to ``directory`` (a register directory, as ``riskplan register``
    keeps one) with ``incidents.csv`` and ``risk_points.csv``
    (:func:`risk_models.register.synthetic_assessments`), and returns the directory.
    """
    from risk_models.register import synthetic_assessments, synthetic_register

    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    directory = Path(directory)
    syn = synthetic_register(sc.layers, seed=seed)
    save_synthetic_register(syn, directory)
    rows = synthetic_assessments(sc["hazards"], seed=seed, register=syn.items)
    _write_csv(rows, directory / RISK_POINTS_FILE, index=False)
    log.info("synthetic register: %d items, %d events in %s", len(syn.items), len(syn.events), directory)
    return directory
