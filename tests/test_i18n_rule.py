"""One rule for the default language of every output (issue 20), and the service's own words.

The rule (:func:`gis.i18n.resolve_lang`): explicit > ``$RISKPLAN_LANG`` > ``Accept-Language``
(the API only) > the scenario TOML's ``[scenario] lang`` > the scenario's place > English. Each
level is checked to beat the next, in both languages, and every output's chooser (the maps'
``output_lang``, the CLI's ``cli_lang``, the API's ``request_lang`` / ``answer_lang``) to follow
it. Then the API's problem documents, the what-if change and the compare map in Chinese.
"""
# ruff: noqa: RUF001 - the Chinese texts under test use Chinese (full-width) punctuation

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient
from scenario_factory import small_layers, write_gpkg
from starlette.requests import Request

from gis import InputError, load_scenario
from gis.i18n import LANG_ENV, Lang, resolve_lang, scenario_bounds_wgs84
from maps import read_map_layers
from maps.compare_map import compare_map
from maps.words import output_lang
from planning.change import ScenarioChange
from service.api import Settings, create_app
from service.api.lang import answer_lang, request_lang
from service.change_words import describe_change
from service.cli import main
from service.cli._console import cli_lang

TOKEN = "rule-test-token-0123456789abcdef"
OTHER: dict[Lang, Lang] = {"zh": "en", "en": "zh"}
TAIYUAN = (112.55, 37.85, 112.57, 37.87)
MANHATTAN = (-74.02, 40.70, -73.93, 40.88)


def _scenario(tmp_path: Path, toml_lang: Lang | None, place: Lang | None) -> SimpleNamespace:
    """A stand-in scenario: its TOML (with ``[scenario] lang`` or not) and layers at a place."""
    toml = tmp_path / "s.toml"
    head = f'lang = "{toml_lang}"\n' if toml_lang else ""
    toml.write_text(f'[scenario]\nname = "x"\n{head}', encoding="utf-8")
    layers: dict[str, gpd.GeoDataFrame] = {}
    if place is not None:
        w, s, e, n = TAIYUAN if place == "zh" else MANHATTAN
        layers["study_area"] = gpd.GeoDataFrame(geometry=[shapely.box(w, s, e, n)], crs=4326)
    return SimpleNamespace(source=toml, layers=layers)


def _request(lang: str | None = None, accept: str | None = None) -> Request:
    headers = [(b"accept-language", accept.encode())] if accept else []
    query = f"lang={lang}".encode() if lang else b""
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "query_string": query})


# (the level that decides, explicit, env, Accept-Language, TOML, place) with `W` the winner's
# language and `L` the other one at every level below; None: that level is not given
LEVELS = [
    ("explicit", "W", "L", "L", "L", "L"),
    ("$RISKPLAN_LANG", None, "W", "L", "L", "L"),
    ("Accept-Language", None, None, "W", "L", "L"),
    ("[scenario] lang", None, None, None, "W", "L"),
    ("place", None, None, None, None, "W"),
]


@pytest.mark.parametrize("winner", ["zh", "en"])
@pytest.mark.parametrize("row", LEVELS, ids=[r[0] for r in LEVELS])
def test_each_level_of_the_rule_beats_the_next(
    row: tuple[Any, ...], winner: Lang, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lang = {"W": winner, "L": OTHER[winner], None: None}
    explicit, env, accept, toml, place = (lang[v] for v in row[1:])
    if env:
        monkeypatch.setenv(LANG_ENV, env)
    else:
        monkeypatch.delenv(LANG_ENV, raising=False)
    sc = _scenario(tmp_path, toml, place)
    header = {"zh": "zh-CN,zh;q=0.9", "en": "en-US,en;q=0.8"}[accept] if accept else None
    assert resolve_lang(explicit, accept_language=header, scenario=sc) == winner
    # the API: ?lang= and Accept-Language; the place given as the stored scenario's bounds
    bounds = scenario_bounds_wgs84(sc)
    if toml is None:
        assert request_lang(_request(accept=header), explicit, bounds_wgs84=bounds) == winner
    if row[0] == "Accept-Language":
        return  # the outputs below have no request: the next level decides them
    assert output_lang(explicit, sc) == winner  # the map, the report, the run
    assert cli_lang(argparse.Namespace(lang=explicit), sc) == winner  # the CLI's summaries
    if toml is None and place is None:
        assert answer_lang(_request(lang=explicit, accept=header)) == winner  # problems, what-if


def test_nothing_given_is_english_and_a_bad_env_is_an_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(LANG_ENV, raising=False)
    assert resolve_lang() == "en" and output_lang(None, {}) == "en"
    assert cli_lang(argparse.Namespace(lang=None)) == "en"
    monkeypatch.setenv(LANG_ENV, "ZH ")  # any case, trimmed
    assert resolve_lang() == "zh"
    monkeypatch.setenv(LANG_ENV, "fr")
    with pytest.raises(InputError, match=r"\$RISKPLAN_LANG is `fr`. Fix: set it to one of zh, en"):
        resolve_lang(scenario=_scenario(tmp_path, "zh", "zh"))
    assert resolve_lang("en") == "en"  # an explicit choice never reads the environment
    assert answer_lang(_request()) == "en"  # the server's bad setting is not the request's problem
    ok = write_gpkg(tmp_path / "ok.gpkg")
    assert main(["-q", "validate", str(ok)]) == 2  # the CLI: exit 2, the fix on stderr
    assert "$RISKPLAN_LANG is `fr`" in capsys.readouterr().err


def test_a_synthetic_scenario_speaks_by_its_declared_place(tmp_path: Path) -> None:
    """The demo city lies in Shanxi: Chinese for the CLI as for the map (the old split is gone)."""
    layers = small_layers()  # a grid near Taiyuan, saved as a synthetic scenario
    sc = load_scenario(write_gpkg(tmp_path / "syn.gpkg", layers))
    sc = replace(sc, synthetic=True)
    assert sc.synthetic
    assert cli_lang(argparse.Namespace(lang=None), sc) == output_lang(None, sc) == "zh"
    away = {k: v.set_geometry(v.geometry.translate(-186.6, 2.9)) for k, v in layers.items()}
    elsewhere = load_scenario(write_gpkg(tmp_path / "ny.gpkg", away))
    assert cli_lang(argparse.Namespace(lang=None), elsewhere) == output_lang(None, elsewhere) == "en"


# -- the API's problem documents -----------------------------------------------------------


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    app = create_app(Settings(tmp_path_factory.mktemp("rule-api"), api_token=TOKEN))
    with TestClient(app) as test_client:
        yield test_client


def _bad_upload() -> dict[str, tuple[str, bytes]]:
    layers = small_layers()
    layers["communities"].loc[1, "population"] = -3
    return {name: (f"{name}.geojson", gdf.to_json().encode()) for name, gdf in layers.items()}


def test_a_bad_upload_is_answered_in_chinese(client: TestClient) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    english = client.post("/api/v1/scenarios", files=_bad_upload(), headers=auth)
    assert english.status_code == 422 and english.headers["content-language"] == "en"
    en = english.json()
    assert en["title"] == "Invalid scenario"
    assert en["detail"].startswith("The scenario has ") and en["detail"].endswith(
        "; `errors` lists each with its fix."
    )
    for how in ({"params": {"lang": "zh"}}, {"headers": {"Accept-Language": "zh-CN,zh;q=0.9"}}):
        r = client.post(
            "/api/v1/scenarios", files=_bad_upload(), **{**how, "headers": auth | how.get("headers", {})}
        )
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
        assert r.headers["content-language"] == "zh"
        body = r.json()
        assert body["title"] == "情景数据有误" and body["detail"].startswith("情景有")
        item = next(e for e in body["errors"] if e["layer"] == "communities")
        assert item["rows"] == ["C2"] and item["column"] == "population"  # the structure is kept
        assert "数值为负" in item["message"], item
        assert {k: v for k, v in item.items() if k not in ("message", "fix")} == next(
            {k: v for k, v in e.items() if k not in ("message", "fix")}
            for e in en["errors"]
            if e["layer"] == "communities"
        )
    # ?lang= beats Accept-Language; a request that does not match the schema, in Chinese too
    r = client.post(
        "/api/v1/scenarios",
        params={"lang": "en"},
        files=_bad_upload(),
        headers=auth | {"Accept-Language": "zh-CN"},
    )
    assert r.json()["title"] == "Invalid scenario"
    r = client.post("/api/v1/scenarios/demo", json={"seed": -1}, headers=auth | {"Accept-Language": "zh"})
    assert r.status_code == 422 and r.json()["title"] == "请求有误"
    assert r.json()["errors"][0]["fix"] == "参见 /openapi.json 的 OpenAPI 接口定义"


# -- the what-if change and the compare map --------------------------------------------------


def test_the_what_if_change_in_both_languages() -> None:
    c = ScenarioChange(closed_edges=tuple(range(10)), stations_out=("FS3",))
    assert describe_change(c, "en") == c.describe()  # the English as planning writes it
    assert describe_change(c, "zh") == "封闭路段 0、1、2、3、4、5、6、7 ……（共10个）；停用消防站 FS3"
    assert describe_change(ScenarioChange(), "en") == "no change"


def test_the_compare_map_in_chinese() -> None:
    units = gpd.GeoDataFrame(
        {
            "change": ["worse", "better"],
            "level_steps": [1, 0],
            "score_change": [0.2, -0.1],
            "level_before": ["orange", "yellow"],
            "level_after": ["red", "yellow"],
            "reasons": ["hazard H1 added", ""],
        },
        geometry=[shapely.box(112.55, 37.85, 112.56, 37.86), shapely.box(112.56, 37.85, 112.57, 37.86)],
        crs=4326,
    )
    page = compare_map(units).get_root().render()  # in China: Chinese by the place
    spec = read_map_layers(page)["change"]
    fields = [f[1] for f in spec["tooltip"]["fields"]]
    assert fields == [
        "风险值变化",
        "变化前风险等级",
        "变化后风险等级",
        "响应时间变化（秒）",
        "覆盖居民变化（人）",
        "原因",
    ]
    assert {f["properties"]["l1"] for f in spec["data"]["features"]} == {"重大风险", "一般风险"}
    for words in ("前后对比", "变差，风险等级升高", "无变化"):
        assert words in page
    for english in ("Before and after", "Worse, up a level", "Score change", "Level before"):
        assert english not in page
    page = compare_map(units, lang="en").get_root().render()
    assert "Before and after" in page and "Worse, up a level" in page and "前后对比" not in page
