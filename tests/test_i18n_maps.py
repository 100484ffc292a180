"""Chinese and English in the map, the report and the figures (issue 20).

Every key the code of ``maps`` passes to ``maps.words.tr`` is collected from its source (not a
hand list) and must be in the glossary in both languages; a map and a report in Chinese carry
the Chinese terms and none of the English headings, and in English the reverse; a Chinese
figure draws without missing glyphs where a CJK font is installed; ``--lang`` on the CLI; the
division codes (区划代码) checked and shown; the report in Chinese in a real browser.
"""

from __future__ import annotations

import argparse
import ast
import logging
import re
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest

import maps
from gis import RoadsSource, Scenario, demo_city, graph_from_lines
from gis.errors import InputError
from gis.i18n import LANGS, load_glossary, scenario_lang
from maps import read_map_layers, report_html, response_time_figure, risk_map, tradeoff_figure
from maps.fonts import cjk_font

MAPS_DIR = Path(maps.__file__).parent
CJK = re.compile(r"[\u4e00-\u9fff]")
# English headings and labels that must not appear in a Chinese output (and the Chinese ones
# that must not appear in an English output).
EN_HEADINGS = ("Legend", "Risk level", "Hazard sources", "Fire stations", "Key figures", "Interactive map")
ZH_TERMS = ("图例", "风险等级", "消防站辖区", "重大风险", "较大风险", "一般风险", "低风险", "响应时间")
TRADEOFF = pd.DataFrame(
    {"n_new": [0, 1, 2], "coverage_share": [0.5, 0.7, 0.8], "mean_response_s": [420, 360, 330]}
)


def _used_keys() -> dict[str, set[str]]:
    """Every literal key passed to ``tr`` in maps/*.py, by file; a non-literal key fails."""
    used: dict[str, set[str]] = {}
    for path in sorted(MAPS_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", "")) == "tr"
            ):
                arg = node.args[0] if node.args else None
                if path.name == "words.py" and isinstance(arg, ast.Name) and arg.id == "key":
                    continue  # term_label passing its own key on
                assert isinstance(arg, ast.Constant) and isinstance(arg.value, str), (
                    f"{path.name}:{node.lineno}: tr() takes a literal key, so this test can find it"
                )
                used.setdefault(path.name, set()).add(arg.value)
    return used


def test_every_key_the_map_report_and_figures_use_is_in_both_languages():
    used = _used_keys()
    # the modules that draw the map, the report and the figures all speak through tr
    assert {
        "interactive.py",
        "_legend.py",
        "_layers.py",
        "report.py",
        "figures.py",
        "words.py",
        "compare_map.py",
    } <= set(used)
    g = load_glossary()
    missing = []
    for module, keys in used.items():
        for key in sorted(keys):
            entry = g.texts.get(key) or g.terms.get(key)
            if entry is None:
                missing.append(f"{module}: {key} (no entry)")
                continue
            missing += [f"{module}: {key} ({lang})" for lang in LANGS if not entry.get(lang, "").strip()]
    assert missing == []
    assert sum(len(k) for k in used.values()) > 150


@pytest.fixture(scope="module")
def city():
    from planning.coverage import analyse_coverage
    from risk_models import score_scenario

    layers = dict(demo_city(n_road_nodes=2000))
    com = layers["communities"].copy()
    com["street"] = "迎泽街道"
    com["division_code"] = [f"140106{i // 20 + 1:03d}{i % 20 + 1:03d}" for i in range(len(com))]
    layers["communities"] = com
    sc = Scenario("Demo City", layers, layers["roads"].crs, RoadsSource("layer"), synthetic=True)
    cov = analyse_coverage(sc, graph_from_lines(layers["roads"]), breaks_s=[300])
    risk = score_scenario(sc, learn=False, response_time_s=cov.communities["response_time_s"])
    return sc, risk, cov


def _map_words(page: str) -> str:
    """The words a person reads on a map page: title, legend, layer names, tooltip labels."""
    specs = read_map_layers(page)
    labels = [
        str(x)
        for s in specs.values()
        for x in [s.get("name", ""), *(f[1] for f in (s.get("tooltip") or {}).get("fields", []))]
    ]
    words = re.search(r"riskplan\.setWords\((.*?)\);", page).group(1)
    controls = re.findall(r"riskplan\.control\([^,]+, '[a-z]+', 'rp-[a-z]+', (.*?)\);\n", page)
    return "\n".join([*labels, words, *controls])


def test_map_in_chinese_and_in_english(city):
    sc, risk, cov = city
    zh = _map_words(risk_map(sc, risk=risk, coverage=cov, tiles=None).get_root().render())  # by place
    en = _map_words(risk_map(sc, risk=risk, coverage=cov, tiles=None, lang="en").get_root().render())
    for term in ZH_TERMS[:5]:
        assert term in zh, term
    assert "全屏" in zh and "不可达" in zh  # the page script's own words
    assert [h for h in EN_HEADINGS[:4] if h in zh] == []
    assert CJK.search(en.replace("迎泽街道", "")) is None  # only the data's own names
    for heading in EN_HEADINGS[:4]:
        assert heading in en


def test_a_map_style_label_override_shows_in_the_legend_and_tooltip(city, tmp_path: Path):
    """A user's label beats the glossary: a plain `label` in both languages, `label_zh` in one."""
    sc, risk, cov = city
    style = tmp_path / "bureau_style.toml"
    style.write_text(
        '[risk_levels.red]\nlabel = "红色管控区 Red zone"\n'
        '[risk_levels.orange]\nlabel_zh = "橙色管控区"\nlabel_en = "Orange control zone"\n'
        '[hazard_categories.hazardous_chemicals]\nlabel_zh = "危化品企业"\n',
        encoding="utf-8",
    )
    for lang, orange, chemicals in (("zh", "橙色管控区", "危化品企业"), ("en", "Orange control zone", None)):
        page = risk_map(sc, risk=risk, coverage=cov, tiles=None, lang=lang, map_style=str(style))
        html = page.get_root().render()
        legend = re.search(r"riskplan\.control\(.*?'rp-legend', (.*?)\);\n", html) or re.search(
            r"<details open><summary>(?:图例|Legend).*?</details>", html, re.S
        )
        assert legend is not None
        shown = legend.group(0)
        assert "红色管控区 Red zone" in shown and orange in shown, lang  # the legend
        specs = read_map_layers(html)
        features = specs["units"]["data"]["features"]
        by_level = {f["properties"]["lv"]: f["properties"]["level"] for f in features}
        assert by_level.get("red") == "红色管控区 Red zone" and by_level.get("orange") == orange  # tooltip
        assert by_level.get("blue") == ("低风险" if lang == "zh" else "Low risk")  # the glossary's
        cats = {f["properties"].get("c") for f in specs["hazards"]["data"]["features"]}
        if chemicals:
            assert chemicals in cats and chemicals in shown
        else:
            assert "危化品企业" not in html and "Hazardous chemicals" in cats
    with pytest.raises(InputError, match=r"`risk_levels.red.label_en` is 3\. Fix: give the label as text"):
        risk_map(sc, risk=risk, tiles=None, map_style={"risk_levels": {"red": {"label_en": 3}}})


@pytest.fixture(scope="module")
def zh_report(city) -> str:
    sc, risk, cov = city
    return report_html(sc, risk=risk, coverage=cov, map_options={"tiles": None})  # by place: Chinese


def test_report_in_chinese_and_in_english(city, zh_report):
    sc, risk, cov = city
    zh = zh_report
    en = report_html(sc, risk=risk, coverage=cov, map_options={"tiles": None}, lang="en")

    def headings(page: str) -> list[str]:
        before = page.split('<iframe class="map"', maxsplit=1)[0]
        body = before + page.rsplit("</iframe>", maxsplit=1)[-1]  # not the map's own
        return re.findall(r"<(?:h1|h2|h3|th|title)[^>]*>(.*?)</", body)

    zh_h, en_h = headings(zh), headings(en)
    assert zh.startswith('<!DOCTYPE html><html lang="zh-CN">')
    assert all(CJK.search(h) for h in zh_h if not h.startswith(("GB", "NFPA"))), zh_h
    assert [h for h in zh_h if h in EN_HEADINGS] == []
    assert "主要指标" in zh_h and "交互式地图" in zh_h and "统计用区划代码" in zh_h
    assert [h for h in en_h if CJK.search(h.replace("Demo City", ""))] == []
    assert "Key figures" in en_h and "Statistical division code" in en_h
    # the map inside speaks the report's language
    assert "图例" in zh and "Legend" in en


def test_division_codes_shown_and_checked(city):
    sc, _, cov = city
    specs = read_map_layers(risk_map(sc, coverage=cov, tiles=None, lang="zh").get_root().render())
    first = specs["communities"]["data"]["features"][0]["properties"]
    assert re.fullmatch(r"140106\d{6}", first["dc"]) and first["sd"] == "迎泽街道"
    assert ["dc", "统计用区划代码", ""] in specs["communities"]["tooltip"]["fields"]
    layers = dict(sc.layers)
    bad = layers["communities"].copy()
    bad["division_code"] = bad["division_code"].astype(object)
    bad.iloc[[1, 4], bad.columns.get_loc("division_code")] = ["1401", "990106001001"]
    layers["communities"] = bad
    with pytest.raises(InputError, match=r"rows .*\(`1401`\).*\(`990106001001`\).*Fix:"):
        risk_map(layers, tiles=None)


def test_figure_in_chinese_draws_every_glyph(city, caplog):
    if cjk_font() is None:
        pytest.skip("no CJK font installed: install Debian's fonts-noto-cjk (CI does)")
    _, _, cov = city
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" would raise
        fig = tradeoff_figure(TRADEOFF, required_share=0.8, lang="zh")
        maps.figure_png(fig)
        fig = response_time_figure(cov, lang="zh")
        maps.figure_png(fig)
    assert fig.axes[0].get_xlabel() == "首车响应时间\uff08分钟\uff09"  # full-width brackets
    assert fig.axes[0].xaxis.label.get_fontfamily()[0] == cjk_font()


def test_figure_falls_back_to_english_without_a_cjk_font(monkeypatch, caplog):
    import maps.fonts

    monkeypatch.setattr(maps.fonts, "cjk_font", lambda: None)
    with caplog.at_level(logging.WARNING, logger="maps.fonts"):
        fig = tradeoff_figure(TRADEOFF, lang="zh")
    assert fig.axes[0].get_xlabel() == "New fire stations"
    assert "fonts-noto-cjk" in caplog.text


def test_lang_option_on_map_report_and_run():
    from service.cli import map as map_cmd
    from service.cli import report as report_cmd
    from service.cli import run as run_cmd

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    for command in (map_cmd, report_cmd, run_cmd):
        command.register(sub)
    assert parser.parse_args(["map", "s.gpkg", "--lang", "zh"]).lang == "zh"
    assert parser.parse_args(["report", "s.gpkg", "--lang", "en"]).lang == "en"
    assert parser.parse_args(["run", "s.toml", "--out", "o", "--lang", "zh"]).lang == "zh"
    assert parser.parse_args(["map", "s.gpkg"]).lang is None  # by the scenario's place
    with pytest.raises(SystemExit):
        parser.parse_args(["report", "s.gpkg", "--lang", "fr"])


def test_lang_in_a_scenario_toml(tmp_path: Path):
    from types import SimpleNamespace

    toml = tmp_path / "s.toml"
    toml.write_text('[scenario]\nname = "x"\nlang = "zh"\n', encoding="utf-8")
    assert scenario_lang(SimpleNamespace(source=toml)) == "zh"
    toml.write_text('[scenario]\nname = "x"\nlang = "fr"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"s\.toml.*`lang = 'fr'`.*Fix: `lang = \"zh\"`"):
        scenario_lang(SimpleNamespace(source=toml))


def test_report_in_chinese_in_a_browser(browser, zh_report, tmp_path: Path):
    out = tmp_path / "report.html"
    out.write_text(zh_report, encoding="utf-8")
    browser.get(out.as_uri())  # the one page load
    assert "风险与应急覆盖报告" in browser.title
    headings = browser.execute_script(
        "return Array.from(document.querySelectorAll('h1, h2')).map(function (h) { return h.innerText; })"
    )
    assert "主要指标" in headings and all(CJK.search(h) for h in headings)
    frame = browser.find_element("id", "rp-map")
    browser.switch_to.frame(frame)
    for _ in range(200):
        if browser.execute_script("return window.riskplanReady === true"):
            break
        time.sleep(0.05)
    legend = browser.execute_script("return document.querySelector('.rp-legend').innerText")
    control = browser.execute_script("return document.querySelector('.leaflet-control-layers').innerText")
    assert "图例" in legend and "重大风险\uff08红\uff09" in legend and "消防站辖区" in control
    assert "Legend" not in legend
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_register_and_community_sections_in_chinese(city):
    from types import SimpleNamespace

    from gis.demo import synthetic_survey
    from maps._community_report import community_section
    from maps._register_report import register_section
    from maps.words import speaking
    from risk_models.community_safety import score_communities
    from risk_models.register import register_month, synthetic_register

    sc = city[0]
    reg = synthetic_register(sc.layers, seed=1, n_items=60)
    month = register_month(reg.items, reg.events, label=reg.label, synthetic=True, by=["district"])
    safety = score_communities(synthetic_survey(sc["communities"], seed=1))
    survey = SimpleNamespace(
        standard=safety.standard, safety=safety, budget=None, plan=None, after=None, demonstration=None
    )
    with speaking("zh"):
        page = register_section(month) + community_section(survey)
    headings = re.findall(r"<(?:h2|h3|th)[^>]*>(.*?)</", page)
    assert headings and [h for h in headings if not CJK.search(h)] == []
    y, m = month.month.split("-")
    assert f"{int(y)}年{int(m)}月" in page  # the month as 2026年12月
    assert "社区安全评估" in page and "按期整改率" in page
