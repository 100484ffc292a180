"""A hidden-danger register kept as files in a directory, for ``riskplan register`` and ``riskplan run``.

- ``register.json``: format, CRS (always EPSG:4326, WGS84 longitude / latitude) and label.
- ``events.jsonl``: the audit log, one event a line (:meth:`Event.to_record`), append-only:
  a change writes the old lines and the new ones to a temporary file that replaces the log
  only when complete, so that a failed command leaves the register as it was.
- ``areas.csv``: district and street of the items whose import gave them.
- ``items.csv``: the current items (replayed from the log), rewritten after each change for
  spreadsheets; the log is the truth and is replayed (and so checked) on every read.

The web service keeps the same records in its SQLite store; this is the command line's store.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gis import InputError
from gis.atomic import atomic_path

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from risk_models.register import Event, Item

__all__ = ["CRS", "RegisterDir", "open_register"]

CRS = "EPSG:4326"
_FORMAT = 1


@dataclass
class RegisterDir:
    """A register directory as read: its log, the items it replays to and the items' areas."""

    path: Path
    label: str
    events: list[Event]
    items: dict[str, Item]
    areas: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)

    def frame(self) -> gpd.GeoDataFrame:
        """The items frame (EPSG:4326) with ``district`` / ``street`` where known."""
        from risk_models.register import items_frame

        frame = items_frame(self.items.values(), crs=CRS)
        for col in ("district", "street"):
            frame[col] = self.areas[col].reindex(frame.index).to_numpy() if col in self.areas else None
        return frame

    def events_frame(self) -> pd.DataFrame:
        """The audit log as a frame."""
        from risk_models.register import events_frame

        return events_frame(self.events)

    def next_counters(self) -> dict[int, int]:
        """``{year: next free counter}`` from the numbers in use."""
        out: dict[int, int] = {}
        for number in self.items:
            _, year, counter = number.rsplit("-", 2)
            out[int(year)] = max(out.get(int(year), 1), int(counter) + 1)
        return out

    def append(self, events: Iterable[Event], areas: pd.DataFrame | None = None) -> None:
        """Add events (checked by replaying them onto the items) and areas; all or nothing."""
        import pandas as pd

        from risk_models.register import apply

        new = list(events)
        items = dict(self.items)
        for ev in new:
            items[ev.number] = apply(items.get(ev.number), ev)
        log = self.path / "events.jsonl"
        with atomic_path(log) as tmp:
            with tmp.open("w", encoding="utf-8") as out:
                if log.exists():
                    out.write(log.read_text(encoding="utf-8"))
                for ev in new:
                    out.write(json.dumps(ev.to_record(), ensure_ascii=False, sort_keys=True) + "\n")
            if areas is not None and len(areas):
                merged = pd.concat([self.areas, areas])
                merged = merged[~merged.index.duplicated(keep="last")]
                with atomic_path(self.path / "areas.csv") as tmp_areas:
                    merged.rename_axis("number").to_csv(tmp_areas, encoding="utf-8")
                self.areas = merged
        self.events.extend(new)
        self.items = items
        self.write_items()

    def write_items(self) -> Path:
        """Rewrite ``items.csv`` from the items (longitude / latitude columns)."""
        frame = self.frame()
        table = frame.drop(columns="geometry").assign(lon=frame.geometry.x, lat=frame.geometry.y)
        with atomic_path(self.path / "items.csv") as tmp:
            table.to_csv(tmp, index=False, encoding="utf-8-sig")
        return self.path / "items.csv"


def open_register(path: Path, *, create: bool = False, label: str | None = None) -> RegisterDir:
    """Read the register in ``path`` (replaying and so checking its log); ``create`` makes one."""
    import pandas as pd

    from risk_models.register import Event, RegisterError, replay_many

    meta_path = path / "register.json"
    if not meta_path.exists():
        if not create:
            msg = (
                f"`{path}` is not a register directory (no register.json). Fix: create it with "
                f"`riskplan register import {path} FILE` or `riskplan register demo {path}`."
            )
            raise InputError(msg)
        path.mkdir(parents=True, exist_ok=True)
        meta = {"format": _FORMAT, "crs": CRS, "label": label or f"hidden-danger register {path.name}"}
        with atomic_path(meta_path) as tmp:
            tmp.write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("format") != _FORMAT or meta.get("crs") != CRS:
        msg = (
            f"`{meta_path}` has format {meta.get('format')} / CRS {meta.get('crs')}. "
            f"Fix: use format {_FORMAT}, {CRS}."
        )
        raise InputError(msg)
    events: list[Event] = []
    log = path / "events.jsonl"
    if log.exists():
        for k, line in enumerate(log.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                events.append(Event.from_record(json.loads(line)))
            except (json.JSONDecodeError, TypeError, RegisterError) as exc:
                msg = f"`{log}`, line {k}: not an event ({exc}). Fix: restore the log from a backup."
                raise InputError(msg) from None
    try:
        items = replay_many(events)
    except RegisterError as exc:
        msg = f"`{log}` does not replay: {exc}"
        raise InputError(msg) from None
    areas_path = path / "areas.csv"
    areas = (
        pd.read_csv(areas_path, dtype=str, keep_default_na=False).set_index("number").replace("", None)
        if areas_path.exists()
        else pd.DataFrame(columns=["district", "street"], dtype=object)
    )
    areas.index.name = None
    return RegisterDir(path, str(meta.get("label", "")), events, items, areas, meta)
