"""Uploads become scenarios; bad files, wrong names, zip slips and zip bombs are refused."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from scenario_factory import small_layers, write_gpkg

from gis import ScenarioError
from service.api.uploads import UploadedFile, UploadError, UploadLimits, safe_extract, scenario_from_upload


def _csv(gdf: object) -> bytes:
    frame = pd.DataFrame(gdf.drop(columns="geometry"))  # type: ignore[attr-defined]
    frame["lon"], frame["lat"] = gdf.geometry.x, gdf.geometry.y  # type: ignore[attr-defined]
    return frame.to_csv(index=False).encode()


def _layer_files(tmp: Path) -> dict[str, bytes]:
    layers = small_layers()
    return {
        "roads": layers["roads"].to_json().encode(),
        "hazards": _csv(layers["hazards"]),
        "communities": layers["communities"].to_json().encode(),
        "fire_stations": _csv(layers["fire_stations"]),
    }


def _save(work: Path, field: str, data: bytes, filename: str) -> UploadedFile:
    path = work / f"in_{field}.bin"
    path.write_bytes(data)
    return UploadedFile(field, path, filename)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def test_geopackage_upload(work: Path, tmp_path: Path) -> None:
    gpkg = write_gpkg(tmp_path / "city.gpkg").read_bytes()
    sc = scenario_from_upload([_save(work, "file", gpkg, "../city.gpkg")], work, name="Taiyuan test")
    assert sc.name == "Taiyuan test" and sorted(sc["hazards"].index) == ["H1", "H2"]


def test_per_layer_fields(work: Path, tmp_path: Path) -> None:
    files = [_save(work, layer, data, f"{layer}.dat") for layer, data in _layer_files(tmp_path).items()]
    sc = scenario_from_upload(files, work)
    assert sc.name == "Uploaded scenario" and len(sc["roads"]) == 8 and sc.crs.to_epsg() == 32649


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")
def test_zip_of_shapefiles_and_csv(work: Path, tmp_path: Path) -> None:
    layers = small_layers()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in ("roads", "communities"):
            shp = tmp_path / "shp" / f"{name}.shp"
            shp.parent.mkdir(exist_ok=True)
            layers[name].to_file(shp, engine="pyogrio")
            for part in shp.parent.glob(f"{name}.*"):
                zf.write(part, f"city/{part.name}")
        zf.writestr("city/hazards.csv", _csv(layers["hazards"]))
        zf.writestr("city/fire_stations.csv", _csv(layers["fire_stations"]))
        zf.writestr("city/README.txt", "ignored")
        zf.writestr("__MACOSX/city/._hazards.csv", "junk")
    sc = scenario_from_upload([_save(work, "file", buf.getvalue(), "city.zip")], work)
    assert sorted(sc.layers) == ["communities", "fire_stations", "hazards", "roads"]


def test_options_rename_and_convert(work: Path, tmp_path: Path) -> None:
    files = _layer_files(tmp_path)
    files["fire_stations"] = "编号,名称,grade,经度,纬度\nFS1,一站,grade1,112.555,37.855\n".encode()
    uploads = [_save(work, layer, data, f"{layer}.csv") for layer, data in files.items()]
    options = {"fire_stations": {"rename": {"编号": "id", "名称": "name"}, "coords": "gcj02"}}
    sc = scenario_from_upload(uploads, work, options=options)
    assert list(sc["fire_stations"]["name"]) == ["一站"]


def test_validation_problems_name_layer_rows_and_column_without_server_paths(
    work: Path, tmp_path: Path
) -> None:
    files = _layer_files(tmp_path)
    files["hazards"] = files["hazards"].replace(b"mining", b"volcano")
    del files["fire_stations"]
    uploads = [_save(work, layer, data, f"my_{layer}.csv") for layer, data in files.items()]
    with pytest.raises(ScenarioError) as info:
        scenario_from_upload(uploads, work)
    problems = info.value.problems
    category = next(p for p in problems if p.layer == "hazards")
    assert category.column == "category" and list(category.rows) == ["H2"]
    assert category.file == "my_hazards.csv"
    assert any(p.layer == "fire_stations" for p in problems)
    assert str(work) not in str(info.value) and "/tmp" not in str(info.value)


@pytest.mark.parametrize(
    ("field", "data", "match"),
    [
        ("hazard", b"id,name\n", "unknown form field"),
        ("file", b"SQLite format 3\x00" + b"\x00" * 2000, "cannot"),
        ("file", b'{"type": "FeatureCollection", "features": []}', "GeoPackage or a zip"),
        ("hazards", b"\x00\x01\x02binary", "neither GeoJSON"),
        ("file", b"PK\x03\x04 truncated zip", "not a readable zip"),
    ],
)
def test_bad_files_are_refused(work: Path, field: str, data: bytes, match: str) -> None:
    with pytest.raises(UploadError, match=match):
        scenario_from_upload([_save(work, field, data, "x")], work)


def test_zip_member_named_after_no_layer(work: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("stations.csv", "id,name,grade,lon,lat\n")
    with pytest.raises(UploadError, match="does not name a layer"):
        scenario_from_upload([_save(work, "file", buf.getvalue(), "a.zip")], work)


def _zip_with(name: str, data: bytes = b"x", *, symlink: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo(name)
        if symlink:
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, data)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("member", "symlink", "match"),
    [
        ("../../evil.csv", False, "unsafe path"),
        ("/etc/evil.csv", False, "unsafe path"),
        ("C:/evil.csv", False, "unsafe path"),
        ("a\\..\\..\\evil.csv", False, "unsafe path"),
        ("hazards.csv", True, "symbolic link"),
    ],
)
def test_zip_slip_is_refused(work: Path, tmp_path: Path, member: str, symlink: bool, match: str) -> None:
    archive = tmp_path / "slip.zip"
    archive.write_bytes(_zip_with(member, b"/etc/passwd", symlink=symlink))
    with pytest.raises(UploadError, match=match):
        safe_extract(archive, work, UploadLimits())
    assert not (tmp_path / "evil.csv").exists() and list(work.iterdir()) == []


def test_zip_bomb_is_refused(work: Path, tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("hazards.csv", b"0" * (20 * 1024**2))  # about 1000:1
    with pytest.raises(UploadError, match="zip bomb"):
        safe_extract(archive, work, UploadLimits())
    with pytest.raises(UploadError, match="more than the limit"):
        safe_extract(archive, work, UploadLimits(max_unzipped_bytes=1024**2, max_ratio=1e9))


def test_too_many_members_and_lying_headers(work: Path, tmp_path: Path) -> None:
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(20):
            zf.writestr(f"f{i}.csv", "a")
    with pytest.raises(UploadError, match="entries"):
        safe_extract(archive, work, UploadLimits(max_zip_members=10))
    liar = tmp_path / "liar.zip"
    with zipfile.ZipFile(liar, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("hazards.csv", b"a" * 5000)
    raw = bytearray(liar.read_bytes())
    # shrink the declared size in the central directory: real data is longer than declared
    central = raw.rfind(b"PK\x01\x02")
    raw[central + 24 : central + 28] = (10).to_bytes(4, "little")
    liar.write_bytes(bytes(raw))
    with pytest.raises(UploadError):
        safe_extract(liar, work, UploadLimits())


def test_options_are_checked(work: Path, tmp_path: Path) -> None:
    from service.api.uploads import parse_options

    with pytest.raises(UploadError, match="not allowed"):
        parse_options('{"hazards": {"path": "/etc/passwd"}}')
    with pytest.raises(UploadError, match="unknown layer"):
        parse_options('{"hazard": {}}')
    with pytest.raises(UploadError, match="not valid JSON"):
        parse_options("{")


# -- archives checked as a whole before anything is extracted (issue 12) ----------------------


def _count_extractions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every member the upload code starts to extract."""
    from service.api import _archives as uploads

    calls: list[str] = []
    real = uploads._copy_member

    def counting(zf: zipfile.ZipFile, info: zipfile.ZipInfo, *args: object, **kwargs: object) -> int:
        calls.append(info.filename)
        return real(zf, info, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(uploads, "_copy_member", counting)
    return calls


def test_duplicate_layers_are_refused_before_extracting(
    work: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extracted = _count_extractions(monkeypatch)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for folder in ("a", "b", "c"):
            zf.writestr(f"{folder}/roads.geojson", small_layers()["roads"].to_json())
    with pytest.raises(UploadError, match="layer `roads`"):
        scenario_from_upload([_save(work, "file", buf.getvalue(), "dup.zip")], work)
    assert extracted == []


def test_many_small_members_are_a_zip_bomb_as_a_whole(
    work: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every member is just under the 1 MiB that the per-member ratio check exempts
    extracted = _count_extractions(monkeypatch)
    archive = tmp_path / "many-small.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(40):
            zf.writestr(f"part{i:03d}.csv", b"0" * (1024**2 - 1))
    assert archive.stat().st_size < 1024**2 / 4
    with pytest.raises(UploadError, match=r"compressed [0-9,]+ times as a whole"):
        safe_extract(archive, work, UploadLimits())
    assert extracted == [] and list(work.iterdir()) == []


def _random_zip(path: Path, name: str, size: int) -> bytes:
    import numpy as np

    data = np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8).tobytes()  # incompressible
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, data)
    return path.read_bytes()


def test_unpacked_bytes_are_capped_per_upload(work: Path, tmp_path: Path) -> None:
    files = [
        _save(work, layer, _random_zip(tmp_path / f"{layer}.zip", f"{layer}.csv", 600_000), f"{layer}.zip")
        for layer in ("hazards", "communities")
    ]
    limits = UploadLimits(max_unzipped_bytes=1_000_000)
    with pytest.raises(UploadError, match="this upload"):
        scenario_from_upload(files, work, limits=limits)
    assert sum(p.stat().st_size for p in work.rglob("*.csv")) <= 1_000_000


def test_unpacked_bytes_are_capped_per_server(work: Path, tmp_path: Path) -> None:
    from service.api.uploads import UnpackBudget
    from service.jobs import BusyError

    budget = UnpackBudget(max_bytes=1_000_000)
    data = _random_zip(tmp_path / "h.zip", "hazards.csv", 600_000)
    with budget.upload(max_bytes=1024**3) as other:  # another upload, unpacking at the same time
        other.reserve(700_000, "other.zip")
        with (
            budget.upload(max_bytes=1024**3) as mine,
            pytest.raises(BusyError, match="uploads in progress"),
        ):
            scenario_from_upload([_save(work, "hazards", data, "h.zip")], work, tally=mine)
    assert budget.in_use == 0  # both released
    with budget.upload(max_bytes=1024**3) as mine:
        mine.reserve(600_000, "h.zip")  # alone, it fits


def test_deeply_nested_options_are_a_422_not_a_crash() -> None:
    from service.api.uploads import parse_options

    deep = '{"hazards": {"rename": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    with pytest.raises(UploadError, match="nested"):
        parse_options(deep)
    nested = '{"hazards": {"values": {"a": {"b": {"c": {"d": 1}}}}}}'
    with pytest.raises(UploadError, match="nested"):
        parse_options(nested)
    assert parse_options('{"hazards": {"values": {"category": {"危化": "hazardous_chemicals"}}}}')
