"""Chinese and English in the words made below the outputs: risk reasons, plan notes, violations (issue 20).

Every key ``risk_models`` and ``planning`` pass to :func:`gis.speech.say` is collected from their
source (not a hand list) and must be in the glossary in both languages with the placeholders the
call fills; a risk score, a coverage and a station, depot and demonstration plan made inside
``speaking("zh")`` carry Chinese reasons and notes (no English word left but codes, units and
names), and outside it today's English, byte for byte; ``riskplan run`` in Chinese writes them.
"""

# ruff: noqa: RUF001 - the Chinese texts under test use Chinese (full-width) punctuation
from __future__ import annotations

import ast
import pickle
import re
import string
from pathlib import Path

import pandas as pd
import pytest

import gis.network
import planning
import risk_models
import service._run_outputs
import service.workflow
from gis import RoadsSource, Scenario, demo_city, graph_from_lines, load_scenario
from gis.i18n import LANGS, load_glossary
from gis.speech import current_lang, in_language, say, speak, speaking, speaks, spoken_lang

PACKAGES = (
    Path(risk_models.__file__).parent,
    Path(planning.__file__).parent,
    Path(gis.network.__file__).parent,  # the road network report
)
# the run's summary words (gis.speech.say with the glossary's own keys), outside the packages above
SERVICE_FILES = (Path(service.workflow.__file__), Path(service._run_outputs.__file__))
CJK = re.compile(r"[\u4e00-\u9fff]")
# words that may stay in a Chinese text: standards, models, units, codes of the solver and tables
ALLOWED = {
    "GB", "NFPA", "LEC", "LSCP", "MCLP", "HiGHS", "MILP", "CV", "OSM", "km", "s", "x", "m",
    "NaN", "inf", "True", "I", "II", "III", "IV", "optimal", "time_limit", "feasible", "mclp",
    "lscp", "mexclp", "backup", "p_median", "p_center", "riskplan", "init", "toml", "notebooks",
    "HAZUS", "MH",
}  # fmt: skip


def _say_calls() -> dict[str, list[tuple[str, set[str] | None]]]:
    """Every ``say("key", ...)`` in risk_models/ and planning/: key and the names it fills, by file.

    A call whose key is not a literal fails (this test could not find its words).
    """
    used: dict[str, list[tuple[str, set[str] | None]]] = {}
    files = [(root, path) for root in PACKAGES for path in sorted(root.rglob("*.py"))]
    files += [(path.parent, path) for path in SERVICE_FILES]
    for root, path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "say"):
                continue
            where = f"{path.relative_to(root.parent)}:{node.lineno}"
            arg = node.args[0] if node.args else None
            assert isinstance(arg, ast.Constant) and isinstance(arg.value, str), (
                f"{where}: say() takes a literal key, so this test can find it"
            )
            names = None if any(k.arg is None for k in node.keywords) else {str(k.arg) for k in node.keywords}
            used.setdefault(where, []).append((arg.value, names))
    return used


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_key_risk_models_and_planning_say_is_in_both_languages_with_its_placeholders() -> None:
    used = _say_calls()
    files = {w.split(":")[0] for w in used}
    # the modules that make the words the outputs show all speak through say
    for module in ("risk_models/composite.py", "risk_models/model.py", "planning/stations.py",
                   "planning/coverage.py", "planning/districts.py", "planning/depots.py",
                   "planning/_demonstration.py", "planning/demand.py"):  # fmt: skip
        assert module in files, module
    g = load_glossary()
    wrong = []
    for where, calls in used.items():
        for key, names in calls:
            entry = g.texts.get(key) or g.terms.get(key)
            if entry is None:
                wrong.append(f"{where}: {key} (no entry)")
                continue
            wrong += [f"{where}: {key} ({lang})" for lang in LANGS if not entry.get(lang, "").strip()]
            if names is not None and key in g.texts and _fields(entry["en"]) != names:
                wrong.append(
                    f"{where}: {key} fills {sorted(names)}, the text has {sorted(_fields(entry['en']))}"
                )
    assert wrong == []
    assert sum(len(c) for c in used.values()) > 80


def test_a_computed_key_fails_the_collection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "planning"
    bad.mkdir()
    (bad / "x.py").write_text('from gis.speech import say\nkey = "plan_site"\nsay(key)\n', encoding="utf-8")
    monkeypatch.setattr(f"{__name__}.PACKAGES", (bad,))
    with pytest.raises(AssertionError, match="literal key"):
        _say_calls()


def test_one_language_for_maps_and_the_packages_below() -> None:
    from maps import words

    assert words.current_lang is current_lang  # one language setting: the maps' block sets gis.speech's
    with words.speaking("zh"), speaking("zh"):
        assert words.current_lang() == "zh"
    with words.speaking("zh"):
        assert say("level_red") == "重大风险" and spoken_lang() == "zh"
    assert spoken_lang() is None and current_lang() == "en"

    @speaks
    def run() -> str:
        speak("zh")
        return say("plan_site")

    assert run() == "站址" and spoken_lang() is None
    task = pickle.loads(pickle.dumps(in_language("zh", current_lang)))  # as a Dask worker gets it
    assert task() == "zh" and current_lang() == "en"


def _foreign(text: str, names: tuple[str, ...] = ()) -> list[str]:
    """The English words left in a Chinese text, less codes (`...`, ids), units and ``names``."""
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, " ")
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"(?<![A-Za-z_-])[A-Za-z_-]*\d[A-Za-z0-9_-]*", " ", text)  # ids, codes: H012, FS3, km2
    words = re.findall(r"[A-Za-z][A-Za-z_]+", text)
    return [w for w in words if w not in ALLOWED]


@pytest.fixture(scope="module")
def city():
    from planning.coverage import analyse_coverage
    from risk_models import score_scenario

    layers = dict(demo_city(n_road_nodes=2000))
    sc = Scenario("Demo City", layers, layers["roads"].crs, RoadsSource("layer"), synthetic=True)
    graph = graph_from_lines(layers["roads"])
    words = {}
    for lang in LANGS:
        with speaking(lang):
            cov = analyse_coverage(sc, graph, breaks_s=[300])
            risk = score_scenario(sc, learn=False, response_time_s=cov.communities["response_time_s"])
            words[lang] = (cov, risk)
    return sc, graph, words


def _names(sc: Scenario) -> tuple[str, ...]:
    out: list[str] = []
    for layer in ("hazards", "fire_stations", "candidate_sites", "communities", "depots", "roads"):
        if layer in sc and "name" in sc[layer]:
            out += [str(n) for n in sc[layer]["name"].dropna().unique()]
    return tuple(out)


def test_risk_reasons_and_notes_in_chinese_and_today_s_english(city) -> None:
    sc, _, words = city
    zh, en = words["zh"][1], words["en"][1]
    with speaking("zh"):  # the reasons are worded when the top units are listed (by the map, the report)
        top_zh = zh.top(10)
    top_en = en.top(10)
    assert top_zh.index.tolist() == top_en.index.tolist()  # the same scores, other words
    for text in top_zh["reasons"]:
        assert CJK.search(text) and "危险性" in text and "暴露性" in text, text
        assert _foreign(text, _names(sc)) == [], text
    assert top_en["reasons"].str.match(r"hazard \d+\.\dx median").all()
    assert not top_en["reasons"].str.contains(CJK).any()
    assert [n for n in zh.notes if not CJK.search(n) and n not in sc.notes] == []
    for note in zh.notes:
        if note not in sc.notes:
            assert _foreign(note, _names(sc)) == [], note


def test_reasons_in_english_are_today_s_words_byte_for_byte() -> None:
    from risk_models.composite import reasons

    row = pd.Series(
        {"hazard_vs_median": 8.0, "share_mining": 0.7, "share_fuel_gas": 0.3,
         "exposure_factor_vs_median": 0.5, "vulnerability_factor_vs_median": 1.2,
         "response_factor_vs_median": 1.5, "response_time_s": 410.0, "population": 0.0}
    )  # fmt: skip
    assert reasons(row, top_sources="H1 Plant (GB 18218 grade II)") == (
        "hazard 8.0x median (mining 70%, fuel_gas 30%) from H1 Plant (GB 18218 grade II); "
        "exposure 0.5x (0 people); vulnerability 1.2x; response 1.5x (410 s); "
        "no residents: score 0 though hazard is present"
    )
    with speaking("zh"):
        zh = reasons(row, top_sources="H1 Plant")
    assert zh == (
        "危险性为中位数的8.0倍（矿山70%、燃气30%），主要来自H1 Plant；暴露性0.5倍（0人）；脆弱性1.2倍；"
        "应急响应1.5倍（410秒）；无常住人口：虽有危险源，评分为0"
    )
    none = pd.Series({"exposure_factor_vs_median": 1.0, "vulnerability_factor_vs_median": 1.0,
                      "response_factor_vs_median": 1.0})  # fmt: skip
    assert reasons(none) == "no hazard source nearby (hazard term neutral); exposure 1.0x; vulnerability 1.0x"


def test_coverage_violations_in_chinese(city) -> None:
    sc, _, words = city
    zh, en = words["zh"][0], words["en"][0]
    assert len(zh.violations) == len(en.violations) > 0
    with speaking("zh"):
        summary = zh.report()
    assert summary.startswith("Demo City (synthetic)覆盖分析，按cn-gb51080") and "辖区违规" in summary
    head = "Coverage of Demo City (synthetic) under cn-gb51080 (60 s turnout + 240 s travel"
    assert en.report().startswith(head)
    for text in zh.violations["message"]:
        assert CJK.search(text) and "消防站" in text and _foreign(text, _names(sc)) == [], text
    assert en.violations["message"].str.match(r"station \S+(: enclave of| \(| : farthest|: farthest)").all()


@pytest.fixture(scope="module")
def plans(city):
    from planning.stations import plan_stations

    sc, graph, words = city
    out = {}
    for lang in LANGS:
        with speaking(lang):
            out[lang] = plan_stations(sc, graph, risk=words[lang][1], n_new=2, max_new_curve=2)
    return out


def test_station_plan_in_chinese_and_today_s_english(city, plans) -> None:
    sc = city[0]
    zh, en = plans["zh"], plans["en"]
    assert zh.proposed.index.tolist() == en.proposed.index.tolist()
    for text in [*zh.proposed["reason"], *zh.uncoverable["reason"], *zh.notes]:
        assert CJK.search(text) and _foreign(text, _names(sc)) == [], text
    assert any("首车到达" in r for r in zh.proposed["reason"])
    reason = (
        r"first engine within \d+ min for \d+ communities \([\d,]+ people\) not covered before; "
        r"nearest to \d+ communities; (.+ frontage|site), ([\d,]+ m from the nearest flammable/explosive "
        r"hazard|no flammable or explosive hazard in the scenario)"
    )
    assert en.proposed["reason"].str.fullmatch(reason).all(), en.proposed["reason"].tolist()
    assert "cost: network response time = 60 s turnout + travel" in en.notes
    assert any(re.fullmatch(r"recommended: the last new station adding at least \d+% of demand covered", n)
               for n in en.notes)  # fmt: skip
    assert set(en.uncoverable["reason"]) <= {"off road", "too far", "unreachable"}
    assert not any(CJK.search(n) for n in en.notes)
    with speaking("zh"):  # the summary the CLI prints, in the language it prints
        summary = zh.report()
    assert summary.startswith("消防站规划（mclp，路网距离，cn-gb51080 300秒）") and "人口覆盖率" in summary
    assert "population covered" not in summary and "note:" not in summary
    assert en.report().startswith("Station plan (mclp, network distance, cn-gb51080 300 s): ")
    assert "  population covered " in en.report() and "  note: cost: network response time" in en.report()


def test_depot_plan_in_chinese(city) -> None:
    from planning.depots import plan_depots

    sc, graph, words = city
    with speaking("zh"):
        depots = plan_depots(sc, graph, risk=words["zh"][1], days=7)
        summary = depots.report()
    assert summary.startswith("应急物资储备库规划（路网距离，7天）") and "people" not in summary
    assert depots.notes and all(CJK.search(n) for n in depots.notes)
    for text in [*depots.new_depots.get("reason", []), *depots.notes]:
        assert _foreign(text, _names(sc)) == [], text
    english = plan_depots(sc, graph, risk=words["en"][1], days=7)
    assert english.report().startswith("Depot plan (network distance, 7 days): ")
    from planning.siting import load_norms

    norms = load_norms(None)  # the shipped tables' sources cited as they are written
    assert english.notes[:2] == (norms["relocation"]["source"], norms["depot_tiers"]["source"])


def test_demonstration_reasons_in_chinese() -> None:
    from planning import choose_demonstration

    ids = [f"C{i}" for i in range(6)]
    scores = pd.DataFrame({"score_after": [90.0, 70.0, 86.0, 83.0, 88.0, 60.0]}, index=ids)
    scores.attrs["pass_mark"] = 85.0
    communities = pd.DataFrame(
        {"population": [1000, 900, 800, 600, 500, 400], "district": ["A", "A", "B", "B", "A", "B"]}, index=ids
    )
    with speaking("zh"):
        demo = choose_demonstration(scores, communities, 2)
    for text in [*demo.chosen["reasons"], *demo.chosen["still_needs"]]:
        assert CJK.search(text) and _foreign(text) == [], text
    assert any("合格线85" in t for t in demo.chosen["reasons"])


@pytest.mark.slow
def test_a_run_in_chinese_writes_chinese_reasons_and_notes(tmp_path: Path) -> None:
    import pyogrio
    from scenario_factory import write_toml

    from service.workflow import run_scenario

    toml = write_toml(tmp_path)
    out = tmp_path / "out"
    result = run_scenario(toml, out, cache=False, n_new=1, lang="zh")
    assert spoken_lang() is None  # the run's language ends with the run
    # the run's summary: the road network report, the highest-risk units, the solver's line, the
    # skipped plan and every note, with no English word left but codes, units and names
    summary = "\n".join(result.notes)
    assert "路网：" in summary and "风险最高的社区：" in summary and "说明：" in summary
    assert "应急物资储备库规划未规划：" in summary and "求解器：" in summary
    sc = load_scenario(toml)
    names = (*_names(sc), sc.label)
    converted = [
        line
        for line in summary.splitlines()
        if line.startswith(
            ("路网：", "风险最高", "说明：应急物资储备库规划未规划", "  求解器：", sc.label + "：")
        )
        or re.match(r"\s+\d+\. ", line)
    ]
    assert len(converted) >= 6
    assert [(line, _foreign(line, names)) for line in converted if _foreign(line, names)] == []
    english = run_scenario(toml, tmp_path / "en", cache=False, n_new=1, lang="en").notes
    text = "\n".join(english)
    assert "Road network: " in text and "Highest risk (communities):" in text and "note: " in text
    assert "depots plan skipped: the scenario has no `depots` layer" in text
    top = pyogrio.read_dataframe(out / "risk.gpkg", layer="risk_top", read_geometry=False)
    assert len(top) and top["reasons"].str.contains("危险性|周边无危险源").all()
    notes = pyogrio.read_dataframe(out / "stations.gpkg", layer="notes", read_geometry=False)["note"]
    assert notes.str.contains("推荐").any() and not notes.str.contains("recommended").any()


def test_the_planning_commands_speak_their_language_and_only_while_they_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``riskplan place --lang zh``: the plan's own notes and reasons in Chinese, and no leak after."""
    import pyogrio
    from scenario_factory import write_gpkg

    from service.cli import main

    scenario = write_gpkg(tmp_path / "s.gpkg")
    out = tmp_path / "stations.gpkg"
    assert (
        main(["-q", "place", str(scenario), "--new", "1", "--out", str(out), "--lang", "zh", "--no-cache"])
        == 0
    )
    assert spoken_lang() is None  # the command's language ended with it
    notes = pyogrio.read_dataframe(out, layer="notes", read_geometry=False)["note"]
    assert notes.str.contains("推荐").any() and not notes.str.contains("recommended").any()
    out_en = tmp_path / "stations_en.gpkg"
    assert (
        main(["-q", "place", str(scenario), "--new", "1", "--out", str(out_en), "--lang", "en", "--no-cache"])
        == 0
    )
    notes_en = pyogrio.read_dataframe(out_en, layer="notes", read_geometry=False)["note"]
    assert notes_en.str.contains("recommended").any()


def test_the_depots_command_speaks_the_scenario_s_language_and_english_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``riskplan depots``: Chinese for a scenario in China; ``--lang en``: today's English."""
    import pyogrio

    from gis import write_demo_scenario
    from service.cli import main

    monkeypatch.delenv("RISKPLAN_LANG", raising=False)
    scenario = write_demo_scenario(tmp_path / "demo.gpkg", n_road_nodes=2000)  # lies in Shanxi
    out = tmp_path / "depots.gpkg"
    assert main(["-q", "depots", str(scenario), "--out", str(out), "--no-cache"]) == 0
    assert spoken_lang() is None
    printed = capsys.readouterr().out
    assert "应急物资储备库规划（" in printed and "应急物资储备库规划已写入" in printed
    assert "Depot plan" not in printed and "people" not in printed
    assert "communities" in {str(n) for n, _ in pyogrio.list_layers(out)}
    out_en = tmp_path / "depots_en.gpkg"
    assert main(["-q", "depots", str(scenario), "--out", str(out_en), "--no-cache", "--lang", "en"]) == 0
    printed = capsys.readouterr().out
    assert "Depot plan written to" in printed and "应急" not in printed
