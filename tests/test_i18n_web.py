"""Chinese and English in the service: the pages' keys, the language choice, disclosure, CLI, browser.

Every string the web page and the phone report page show is a glossary key found in the files
themselves (``t("...")`` calls and ``data-i18n*`` attributes), so a new string without a
glossary entry fails here.
"""
# ruff: noqa: RUF001 - the Chinese texts under test use Chinese (full-width) punctuation

from __future__ import annotations

import argparse
import re
import time
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from live_server import live_server, wait_for
from register_factory import build
from scenario_factory import small_layers, write_gpkg

from gis import InputError, Problem, ScenarioError
from gis.i18n import LANGS, load_glossary
from risk_models import LEVELS
from risk_models.register import assess, disclose
from risk_models.register.vocab import CATEGORIES, STATUSES
from service.api import Settings, create_app
from service.api.accounts import create_account
from service.assessment_outputs import assessment_bytes
from service.cli import main
from service.cli._console import cli_lang
from service.register_outputs import disclosure_bytes
from service.store.base import JobStatus

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

STATIC = Path(__file__).resolve().parents[1] / "service" / "static"
PAGES = {
    "web page": (STATIC / "index.html", STATIC / "app.js", STATIC / "whatif.js"),
    "phone report page": (STATIC / "report" / "index.html", STATIC / "report" / "report.js"),
}
# every quoted page key in the scripts (t("web_x"), lists and ternaries of keys, el(..., {"data-i18n":
# "web_x"})) and every data-i18n, data-i18n-placeholder, data-i18n-aria-label attribute of the HTML;
# a prefix the script completes at run time (t("web_job_status_" + status)) ends in "_".
_LITERAL_KEY = re.compile(r"""["'`]((?:web|phone)_[a-z0-9_]*[a-z0-9])["'`]""")
_ATTRIBUTE_KEY = re.compile(r"""data-i18n(?:-[a-z-]+)?=["']([a-z0-9_]+)["']""")


def _page_keys(files: tuple[Path, ...]) -> set[str]:
    keys: set[str] = set()
    for path in files:
        text = path.read_text(encoding="utf-8")
        keys |= set(_LITERAL_KEY.findall(text)) | set(_ATTRIBUTE_KEY.findall(text))
    return keys


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_key_of_the_page_is_in_the_glossary_in_both_languages(page: str) -> None:
    g = load_glossary()
    keys = _page_keys(PAGES[page])
    assert len(keys) > (60 if page == "web page" else 25), sorted(keys)  # the scan finds the keys
    missing = sorted(k for k in keys if k not in g.texts and k not in g.terms)
    assert not missing, f"{page}: add [texts.<key>] to gis/data/glossary.toml for {missing}"
    for key in keys:
        entry = g.texts.get(key) or g.terms[key]
        assert all(entry[lang].strip() for lang in LANGS), key


def test_keys_built_at_run_time_exist_and_no_english_is_left_in_the_scripts() -> None:
    g = load_glossary()
    # app.js: t("web_job_status_" + status), t("level_" + level); report.js: category_ / state_ terms
    for status in typing.get_args(JobStatus):
        assert f"web_job_status_{status}" in g.texts
    assert {f"level_{lv}" for lv in LEVELS} <= set(g.terms)
    assert {f"category_{c}" for c in CATEGORIES} <= set(g.terms)
    assert {f"state_{s}" for s in STATUSES} <= set(g.terms)
    for script in (STATIC / "app.js", STATIC / "report" / "report.js"):
        text = script.read_text(encoding="utf-8")
        # words reach the DOM only through t(): no English literal as text, status or message
        assert not re.findall(r"""(?:text:|status\(|say\(|textContent =)\s*["'`][A-Za-z]""", text), script
        assert not re.search(r"[\u4e00-\u9fff]", text), f"{script}: Chinese belongs in the glossary"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(tmp_path_factory.mktemp("i18n"), api_token="i18n-web-test-token-0123456789")
    with TestClient(create_app(settings)) as c:
        yield c


def test_lang_query_then_accept_language_choose_the_texts(client: TestClient) -> None:
    def lang(params: dict[str, str] | None = None, header: str | None = None) -> str:
        r = client.get("/api/v1/i18n", params=params, headers={"Accept-Language": header} if header else {})
        assert r.status_code == 200, r.text
        assert r.headers["content-language"] == r.json()["lang"]
        return str(r.json()["lang"])

    assert lang() == "en"  # no choice, no browser language, no scenario
    assert lang(header="zh-CN,zh;q=0.9,en;q=0.8") == "zh"
    assert lang(header="fr-FR, en-US;q=0.7") == "en"
    assert lang({"lang": "en"}, header="zh-CN") == "en"  # the switch beats the browser
    assert lang({"lang": "zh"}, header="en-GB") == "zh"
    body = client.get("/api/v1/i18n", params={"lang": "zh"}).json()
    assert (
        body["texts"]["web_legend_title"] == "响应时间（分:秒）" and body["terms"]["cancel_number"] == "销号"
    )
    assert body["langs"] == ["zh", "en"]
    bad = client.get("/api/v1/i18n", params={"lang": "fr"})
    assert bad.status_code == 422 and "zh" in bad.text and "en" in bad.text


def test_the_scenarios_place_is_the_default(client: TestClient, tmp_path: Path) -> None:
    gpkg = write_gpkg(tmp_path / "city.gpkg").read_bytes()  # a small city in Shanxi
    auth = {"Authorization": "Bearer i18n-web-test-token-0123456789"}
    r = client.post(
        "/api/v1/scenarios", files={"file": ("city.gpkg", gpkg)}, data={"name": "S"}, headers=auth
    )
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert client.get("/api/v1/i18n", params={"scenario": sid}).json()["lang"] == "zh"
    chosen = client.get("/api/v1/i18n", params={"scenario": sid}, headers={"Accept-Language": "en"})
    assert chosen.json()["lang"] == "en"  # the browser's language beats the place
    assert client.get("/api/v1/i18n", params={"scenario": "no-such-id"}).status_code == 404


def test_disclosure_in_chinese_by_accept_language_english_unchanged(client: TestClient) -> None:
    register = client.app.state.service.store.register  # type: ignore[attr-defined]
    inspector = create_account(register, role="inspector", unit=None, label="test inspector")[1]
    auth = {"Authorization": f"Bearer {inspector}"}
    body = {"category": "mining", "lon": 112.55, "lat": 37.87, "description": "燃气泄漏"}
    body |= {"source": "government_inspection", "district": "小店区"}
    number = client.post("/api/v1/register/items", json=body, headers=auth).json()["number"]
    verify = {"action": "verify", "data": {"criteria": ["CM-02"]}}  # a major danger: listed
    assert client.post(f"/api/v1/register/items/{number}/moves", json=verify, headers=auth).status_code == 200
    month = time.strftime("%Y-%m")
    year, mon = (int(v) for v in month.split("-"))
    url = f"/api/v1/register/disclosure/{month}"
    english = client.get(url).content
    assert client.get(url, params={"lang": "en"}, headers={"Accept-Language": "zh-CN"}).content == english
    assert b"Hidden-danger disclosure" in english and number.encode() in english
    zh = client.get(url, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert zh.status_code == 200 and zh.headers["content-language"] == "zh"
    page = zh.text
    assert f"<h1>{year}年{mon}月隐患情况公开（三公开）</h1>" in page and number in page
    assert "本月隐患情况" in page and "<th>隐患编号</th>" in page
    csv = client.get(url, params={"format": "csv", "lang": "zh"}).content.decode("utf-8-sig")
    assert csv.splitlines()[0].startswith("隐患编号,")
    a = client.get(
        f"/api/v1/register/assessment/{month}", params={"format": "html", "lang": "zh"}, headers=auth
    )
    assert a.status_code == 200 and f"{year}年{mon}月隐患排查治理考核（按区县）" in a.text
    assert client.get(f"/api/v1/register/assessment/{month}", headers=auth).json()["by"] == "district"


def test_disclosure_page_and_csv_use_the_registers_terms() -> None:
    h = build()
    d = disclose(h.frame, h.events, "2026-03")
    page = disclosure_bytes(d, "html", label="隐患台账", lang="zh").decode("utf-8")
    assert "<title>2026年3月隐患情况公开（三公开）</title>" in page and "状态截至2026年3月31日" in page
    for term in ("隐患编号", "销号", "挂牌督办", "属地政府", "行业主管部门", "重大隐患"):
        assert term in page, term
    header = disclosure_bytes(d, "csv", label="x", lang="zh").decode("utf-8-sig").splitlines()[0].split(",")
    assert header[0] == "隐患编号" and header[-2:] == ["经度", "纬度"] and "整改时限" in header
    # English: the same bytes as without a language
    assert disclosure_bytes(d, "csv", label="x", lang="en") == disclosure_bytes(d, "csv", label="x")
    a = assess(h.frame, h.events, "2026-03", by="district", trend_months=3)
    table = assessment_bytes(a, "csv", "zh").decode("utf-8-sig").splitlines()
    assert table[0].startswith("区县,排查数,") and "考核得分" in table[0]
    assert assessment_bytes(a, "csv", "en").decode("utf-8-sig") == a.table.to_csv()


def test_validation_messages_keep_their_structure_in_chinese() -> None:
    p = Problem(
        "hazards",
        "empty id",
        "give every row an id",
        file="h.csv",
        rows=("H1", "H2"),
        column="id",
        key="empty_id",
    )
    assert (
        str(p) == "`h.csv`, layer `hazards`, rows [H1, H2], column `id`: empty id. Fix: give every row an id"
    )
    assert (
        p.text("zh")
        == "文件 `h.csv`，图层 `hazards`，第[H1, H2]行，列 `id`：编号为空。修正：为每一行填写编号。"
    )
    unkeyed = Problem("roads", "odd", "do this")
    assert (
        unkeyed.text("zh") == "图层 `roads`：odd。修正：do this。"
    )  # the words that exist, the structure kept
    e = ScenarioError.from_problems([p], "s.toml")
    assert e.text("en") == str(e) and e.text("zh").startswith("情景 `s.toml`有1处问题：")
    assert InputError("plain").text("zh") == "plain"


SERVICE = STATIC.parent
# the glossary keys the service's own words use, by how each module names them: say("x") in the
# commands (texts.cli_x), _say("x") in the API's problem documents (texts.problem_x), the
# change's g.text("change_x") / glossary.text("change_x"); print_run's headings (cli_x) too
_SERVICE_KEYS = {
    "cli": (re.compile(r"""\bsay\(\s*["']([a-z0-9_]+)["']"""), "cli_"),
    "print_run": (re.compile(r"""print_run\(\s*\w+,\s*["']([a-z0-9_]+)["']"""), "cli_"),
    "problem": (re.compile(r"""\b_say\(\s*["']([a-z0-9_]+)["']"""), "problem_"),
    "text": (re.compile(r"""\.text\(\s*["']((?:change|cli|problem)_[a-z0-9_]+)["']"""), ""),
}


def test_every_key_of_the_service_s_own_words_is_in_the_glossary() -> None:
    g = load_glossary()
    files = [
        *sorted((SERVICE / "cli").glob("*.py")),
        SERVICE / "api" / "problems.py",
        SERVICE / "change_words.py",
    ]
    used: dict[str, set[str]] = {}
    for path in files:
        text = path.read_text(encoding="utf-8")
        for pattern, prefix in _SERVICE_KEYS.values():
            for key in pattern.findall(text):
                used.setdefault(path.name, set()).add(prefix + key)
        # a conditional key ("a" if n == 1 else "b"): both branches
        for a, b in re.findall(r"""_say\(\s*["']([a-z0-9_]+)["'] if .*? else ["']([a-z0-9_]+)["']""", text):
            used.setdefault(path.name, set()).update({f"problem_{a}", f"problem_{b}"})
    assert {"problems.py", "change_words.py", "tiles.py", "demo.py", "run.py", "validate.py"} <= set(used)
    missing = sorted(f"{name}: {key}" for name, keys in used.items() for key in keys if key not in g.texts)
    assert missing == [], "add them to gis/data/glossary.toml"
    assert sum(len(k) for k in used.values()) > 40


def test_cli_summaries_and_errors_in_chinese(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RISKPLAN_LANG", raising=False)
    ok = write_gpkg(tmp_path / "ok.gpkg")  # a small city in China: Chinese by default
    assert main(["-q", "validate", str(ok)]) == 0
    assert "情景 ok 校验通过" in capsys.readouterr().out
    assert main(["-q", "validate", "--lang", "en", str(ok)]) == 0
    assert "Scenario ok is valid" in capsys.readouterr().out
    layers = small_layers()
    layers["communities"].loc[1, "population"] = -3
    bad = write_gpkg(tmp_path / "bad.gpkg", layers)
    monkeypatch.setenv("RISKPLAN_LANG", "zh")  # no scenario loaded: the environment's language
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("错误：情景 ")
        and "图层 `communities`，第[C2]行，列 `population`：数值为负（须 >= 0）" in err
    )
    assert cli_lang(argparse.Namespace(lang=None)) == "zh"
    assert cli_lang(argparse.Namespace(lang="en")) == "en"  # --lang beats the environment
    monkeypatch.setenv("RISKPLAN_LANG", "fr")
    with pytest.raises(InputError, match=r"\$RISKPLAN_LANG is `fr`. Fix: set it to one of zh, en"):
        cli_lang(argparse.Namespace(lang=None))


# -- the pages in a real browser ----------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """uvicorn in a thread on 127.0.0.1 with an empty store (the pages' words need no scenario)."""
    settings = Settings(tmp_path_factory.mktemp("i18n-web"), api_token="i18n-browser-token-0123456789")
    with live_server(create_app(settings)) as url:
        yield url


def _chinese_browser(browser: Any) -> None:
    """The browser of a user in China: Accept-Language and navigator.language zh-CN."""
    agent = browser.execute_script("return navigator.userAgent")
    browser.execute_cdp_cmd(
        "Emulation.setUserAgentOverride", {"userAgent": agent, "acceptLanguage": "zh-CN,zh"}
    )


def test_page_in_chinese_then_the_switch_to_english(browser: Any, server: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    _chinese_browser(browser)
    browser.get(server + "/")
    wait_for(browser, "return document.body.dataset.lang === 'zh'", "the Chinese texts")
    wait_for(
        browser, "return document.getElementById('status').textContent === '就绪'", "the page to be ready"
    )
    assert browser.title == "riskplan：消防覆盖与响应时间"
    assert "响应时间（分:秒）" in browser.find_element(By.ID, "legend").text
    assert "消防站辖区" in browser.find_element(By.TAG_NAME, "aside").text
    assert browser.find_element(By.ID, "scenario").text.strip() == "选择情景"
    assert browser.execute_script("return document.documentElement.lang") == "zh"
    assert browser.find_element(By.CSS_SELECTOR, "#what-if h2").text == "情景推演"  # whatif.js's panel too
    Select(browser.find_element(By.ID, "lang")).select_by_value("en")
    wait_for(browser, "return document.body.dataset.lang === 'en'", "the English texts")
    assert browser.find_element(By.CSS_SELECTOR, "#what-if h2").text == "What if"
    assert "Response time (min:s)" in browser.find_element(By.ID, "legend").text
    assert "station districts" in browser.find_element(By.TAG_NAME, "aside").text
    assert browser.execute_script("return localStorage.getItem('riskplan.lang')") == "en"


def test_phone_report_page_in_chinese_with_its_switch(browser: Any, server: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    _chinese_browser(browser)
    browser.get(server + "/report")
    wait_for(browser, "return document.body.dataset.ready === 'true'", "the category list")
    assert browser.find_element(By.TAG_NAME, "h1").text == "隐患一键报告"
    assert browser.find_element(By.CSS_SELECTOR, "[data-category='gas']").text == "燃气"
    Select(browser.find_element(By.ID, "lang")).select_by_value("en")
    wait_for(browser, "return document.body.dataset.lang === 'en'", "the English texts")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Report a hidden danger"
    assert browser.find_element(By.CSS_SELECTOR, "[data-category='gas']").text == "gas"
    assert browser.find_element(By.ID, "send").text == "Send"
