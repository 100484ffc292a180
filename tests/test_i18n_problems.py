"""Every API problem and every job speaks the request's language (issue 20).

The problem answers beyond bad input (404, 401 / 403, 405, 409, 429, 503, 500) in Chinese
(``Accept-Language: zh-CN``) and English, each RFC 9457 document whole, with
``Content-Language`` and ``Vary: Accept-Language``; the service's problem words and the jobs'
notes exist in both languages (a key-collection test); a job takes its request's language.
"""

# ruff: noqa: RUF001 - the Chinese texts under test use Chinese (full-width) punctuation

from __future__ import annotations

import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from scenario_factory import write_gpkg

from gis import InputError
from gis.i18n import LANG_ENV, load_glossary
from risk_models.register.errors import RoleError, TransitionError
from service.api import Settings, create_app
from service.api.budget import AnonymousLimitError
from service.api.problems import AnonymousBodyLimit, install_handlers
from service.jobs import BusyError
from service.store.base import job_note

API = "/api/v1"
TOKEN = "i18n-problems-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-GB,en;q=0.9"}
SERVICE = Path(__file__).resolve().parents[1] / "service"
_HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(autouse=True)
def _no_server_language(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LANG_ENV, raising=False)


# -- the words -----------------------------------------------------------------------------------

# how the service's modules name their glossary keys: an error's key="x" (texts.input_x), the
# problem documents' _say("x") and titles (texts.problem_x), the jobs' job_note("x") / say("x")
_KEYS = (
    (re.compile(r"""\bkey=["']([a-z0-9_]+)["']"""), "input_"),
    (re.compile(r"""["'](unknown_[a-z]+_id)["']"""), "input_"),
    (re.compile(r"""\b_say\(\s*["']([a-z0-9_]+)["']"""), "problem_"),
    (re.compile(r"""\b_say\(\s*["'][a-z0-9_]+["'] if .*? else ["']([a-z0-9_]+)["']"""), "problem_"),
    (re.compile(r"""\bspoken\(\s*request,\s*[\w.]+,\s*["']([a-z0-9_]+)["']"""), "problem_"),
    (re.compile(r"""\btitle = ["']([a-z0-9_]+)["'] if .*? else ["']([a-z0-9_]+)["']"""), "problem_"),
    (re.compile(r"""\bjob_note\(\s*["']([a-z0-9_]+)["']"""), ""),
    (re.compile(r"""\bsay\(\s*["']((?:job|reliability)_[a-z0-9_]+)["']"""), ""),
    (re.compile(r"""\.text\(\s*["']((?:problem|input|job|reliability)_[a-z0-9_]+)["']"""), ""),
)


def service_word_keys(text: str) -> set[str]:
    """The glossary keys (``texts``) a module of the service uses for problems and job notes."""
    keys: set[str] = set()
    for pattern, prefix in _KEYS:
        for found in pattern.findall(text):
            for key in (found,) if isinstance(found, str) else found:
                keys.add(prefix + key)
    return keys


def _modules() -> list[Path]:
    store = SERVICE / "store"
    jobs_tables = ("base.py", "sqlite.py", "_postgres_jobs.py", "_postgres_support.py")
    return [
        *sorted((SERVICE / "api").rglob("*.py")),
        *sorted((SERVICE / "jobs").glob("*.py")),
        *(store / name for name in jobs_tables),
    ]


def test_every_problem_word_and_job_note_of_the_service_is_in_both_languages() -> None:
    g = load_glossary()
    used = {path.name: service_word_keys(path.read_text(encoding="utf-8")) for path in _modules()}
    assert {"problems.py", "runner.py", "kinds.py", "auth.py", "budget.py", "sqlite.py"} <= {
        name for name, keys in used.items() if keys
    }
    missing = sorted(f"{name}: {key}" for name, keys in used.items() for key in keys if key not in g.texts)
    assert missing == [], "add them to gis/data/glossary.toml, in both languages"
    every = set().union(*used.values())
    assert len(every) > 80
    for key in every:  # Chinese words, not the English copied
        assert _HAN.search(g.texts[key]["zh"]), key
        assert not _HAN.search(g.texts[key]["en"]), key
    # the collection itself: a word used but not in the glossary is found
    assert service_word_keys('raise NotFoundError(msg, key="no_such_word")') == {"input_no_such_word"}
    assert service_word_keys('_say("busy", lang) + job_note("job_x", lang)') == {"problem_busy", "job_x"}


def test_a_glossary_entry_without_both_languages_is_refused() -> None:
    with pytest.raises(InputError, match="has no text in zh"):
        load_glossary({"texts": {"problem_busy": {"zh": " ", "en": "Busy"}}})
    with pytest.raises(InputError, match="placeholders"):
        load_glossary({"texts": {"input_unknown_job": {"zh": "未知作业", "en": "Unknown job `{id}`."}}})


def test_the_english_constants_are_the_glossary_s_english() -> None:
    from service.jobs import DEPOSED, INTERRUPTED, SHUT_DOWN

    assert (INTERRUPTED, SHUT_DOWN, DEPOSED) == (
        "interrupted by a server restart",
        "interrupted by a server shutdown",
        "interrupted: this server process lost the job leadership",
    )
    assert job_note("job_interrupted", "zh") == "因服务器重启而中断"


# -- the answers of the real app -------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    folder = tmp_path_factory.mktemp("problems")
    settings = Settings(folder / "data", api_token=TOKEN)
    with TestClient(create_app(settings)) as client:
        gpkg = write_gpkg(folder / "small.gpkg").read_bytes()
        created = client.post(f"{API}/scenarios", files={"file": ("small.gpkg", gpkg)}, headers=AUTH)
        assert created.status_code == 201, created.text
        yield client, str(created.json()["id"])


def _problem(r: Any, status: int, lang: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["content-language"] == lang
    assert "Accept-Language" in r.headers["vary"]
    body: dict[str, Any] = r.json()
    assert {"type", "title", "status", "detail", "instance", "errors"} <= set(body)
    assert body["status"] == status
    han = bool(_HAN.search(body["title"])) and bool(_HAN.search(body["detail"]))
    assert han == (lang == "zh"), body
    if lang == "en":
        assert not _HAN.search(r.text), body
    return body


def test_unknown_ids_layers_paths_and_tiles_are_404_in_the_request_s_language(
    app_client: tuple[TestClient, str],
) -> None:
    client, sid = app_client
    nobody = uuid.uuid4().hex
    cases = [
        (f"{API}/scenarios/{nobody}", "未知情景", f"Unknown scenario `{nobody}`. Fix: list scenarios"),
        (f"{API}/jobs/{nobody}", "未知作业", f"Unknown job `{nobody}`. Fix: list jobs"),
        (f"{API}/jobs/not-an-id", "未知作业", "Unknown job `not-an-id`. Fix: use an id returned by the API."),
        (f"{API}/scenarios/{sid}/layers/nowhere", "没有图层 `nowhere`", "has no layer `nowhere`"),
        (f"{API}/scenarios/{sid}/tiles/nowhere/1/0/0.mvt", "没有切片图层", "No tiled layer `nowhere`"),
        (f"{API}/no/such/route", "没有路径 `/api/v1/no/such/route`", "Not Found"),
    ]
    for url, chinese, english in cases:
        zh = _problem(client.get(url, headers={**AUTH, **ZH}), 404, "zh")
        assert chinese in zh["detail"], zh
        assert zh["title"] == "未找到"
        en = _problem(client.get(url, headers={**AUTH, **EN}), 404, "en")
        assert english in en["detail"] and en["title"] in ("Not found", "Not Found"), en
        assert zh["type"] == en["type"]  # the same problem, only its words differ
    # ?lang= beats Accept-Language, as on every answer
    chosen = client.get(f"{API}/jobs/{nobody}", params={"lang": "zh"}, headers=EN)
    assert (
        _problem(chosen, 404, "zh")["detail"] == f"未知作业 `{nobody}`。修正：用 GET /api/v1/jobs 列出作业。"
    )


def test_tokens_methods_and_job_states_answer_in_the_request_s_language(
    app_client: tuple[TestClient, str],
) -> None:
    client, sid = app_client
    jobs = f"{API}/scenarios/{sid}/jobs"
    # 401: no token on a write; 403: a wrong token
    zh = _problem(client.post(jobs, json={"kind": "network"}, headers=ZH), 401, "zh")
    assert zh["title"] == "需要身份验证" and "需要 API 令牌" in zh["detail"]
    en = _problem(client.post(jobs, json={"kind": "network"}, headers=EN), 401, "en")
    assert (en["title"], en["type"]) == ("Authentication required", zh["type"])
    assert en["detail"].startswith("This endpoint needs an API token.")
    wrong = {"Authorization": "Bearer not-the-token-at-all-0000"}
    zh = _problem(client.post(jobs, json={"kind": "network"}, headers={**wrong, **ZH}), 403, "zh")
    assert zh["title"] == "禁止访问" and "令牌错误" in zh["detail"]
    en = _problem(client.post(jobs, json={"kind": "network"}, headers={**wrong, **EN}), 403, "en")
    assert en["title"] == "Forbidden" and en["detail"].startswith("The API token is wrong.")
    # 401 of the register's routes (an account's token)
    zh = _problem(client.get(f"{API}/register/items", headers=ZH), 401, "zh")
    assert "账号令牌" in zh["detail"]
    # 405, with every method of the path in Allow
    zh = _problem(client.delete(f"{API}/job-kinds", headers=ZH), 405, "zh")
    assert zh["title"] == "不允许的请求方法" and "DELETE" in zh["detail"]
    en = _problem(client.delete(f"{API}/job-kinds", headers=EN), 405, "en")
    assert (
        en["title"] == en["detail"] == "Method Not Allowed"
        and "GET" in client.delete(f"{API}/job-kinds").headers["allow"]
    )
    # 409: the result of a job that has none, a cancel of a finished job
    job = client.post(jobs, json={"kind": "network"}, headers={**AUTH, **EN}).json()
    zh = _problem(client.get(f"{API}/jobs/{job['id']}/result", headers={**AUTH, **ZH}), 409, "zh")
    assert zh["title"] == "状态冲突" and "只有成功完成的作业才有结果" in zh["detail"]
    deadline = time.monotonic() + 120
    while client.get(f"{API}/jobs/{job['id']}").json()["status"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    zh = _problem(client.post(f"{API}/jobs/{job['id']}/cancel", headers={**AUTH, **ZH}), 409, "zh")
    assert "不能取消" in zh["detail"]
    en = _problem(client.post(f"{API}/jobs/{job['id']}/cancel", headers={**AUTH, **EN}), 409, "en")
    assert (en["title"], en["type"]) == ("Conflict", zh["type"]) and "cannot be cancelled" in en["detail"]


def test_a_job_takes_its_request_s_language_and_writes_its_notes_in_it(
    app_client: tuple[TestClient, str],
) -> None:
    client, sid = app_client
    jobs = f"{API}/scenarios/{sid}/jobs"

    def run(headers: dict[str, str], params: dict[str, str] | None = None) -> dict[str, Any]:
        job = client.post(
            jobs,
            json={"kind": "placement", "params": {"n_new": 1}},
            headers={**AUTH, **headers},
            params=params,
        ).json()
        deadline = time.monotonic() + 180
        while (now := client.get(f"{API}/jobs/{job['id']}").json())["status"] not in ("succeeded", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert now["status"] == "succeeded", now
        return {**now, "result": client.get(f"{API}/jobs/{job['id']}/result").json()["data"]}

    zh, en = run(ZH), run(EN)
    assert (zh["lang"], zh["message"]) == ("zh", "已完成")
    assert (en["lang"], en["message"]) == ("en", "done")
    assert zh["result"]["notes"] and all(_HAN.search(n) for n in zh["result"]["notes"]), zh["result"]["notes"]
    assert en["result"]["notes"] and not any(_HAN.search(n) for n in en["result"]["notes"])
    assert len(zh["result"]["notes"]) == len(en["result"]["notes"])  # the same plan, in two languages
    assert run({}, {"lang": "en"})["lang"] == "en"  # ?lang= beats the place
    assert run({})["lang"] == "zh"  # no choice at all: the scenario's place (in China)


# -- the answers no simple request provokes: a small app with the same handlers -------------------


@pytest.fixture(scope="module")
def raising() -> Iterator[TestClient]:
    app = FastAPI()
    install_handlers(app)
    errors: dict[str, Exception] = {
        "waiting": AnonymousLimitError(
            "3 computations for requests without the API token are waiting. Fix: retry in a minute.",
            limit="waiting",
            status=429,
            retry_after_s=60,
            key="anonymous_waiting",
            values={"waiting": 3},
        ),
        "busy": BusyError(
            "100 jobs are already waiting or running. Fix: retry later.",
            key="jobs_too_many",
            values={"waiting": 100},
        ),
        "locked": sqlite3.OperationalError("database is locked"),
        "crash": RuntimeError("secret /srv/riskplan/data path"),
        "role": RoleError("Item `YH1`, event `verify` by `a` (reporter): the role may not verify."),
        "state": TransitionError("Item `YH1`: the item is closed. Fix: reopen it first."),
    }

    @app.get("/raise/{name}")
    def fail(name: str) -> None:
        raise errors[name]

    @app.get("/api/big")
    def big() -> dict[str, str]:
        return {"x": "y" * 5000}

    app.add_middleware(AnonymousBodyLimit, max_bytes=1000)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_limits_a_busy_server_an_unreachable_store_and_the_server_s_failure_in_both_languages(
    raising: TestClient,
) -> None:
    zh = _problem(raising.get("/raise/waiting", headers=ZH), 429, "zh")
    assert zh["title"] == "超出匿名访问限额" and zh["errors"][0]["fix"] == "发送 API 令牌，或提交作业"
    assert raising.get("/raise/waiting", headers=ZH).headers["retry-after"] == "60"
    en = _problem(raising.get("/raise/waiting", headers=EN), 429, "en")
    assert (
        en["detail"].startswith("3 computations")
        and en["errors"][0]["fix"] == "send the API token, or run a job"
    )
    zh = _problem(raising.get("/raise/busy", headers=ZH), 503, "zh")
    assert (zh["title"], zh["detail"]) == ("服务器繁忙", "已有100个作业在排队或运行。修正：稍后重试。")
    assert _problem(raising.get("/raise/busy", headers=EN), 503, "en")["title"] == "Busy"
    zh = _problem(raising.get("/raise/locked", headers=ZH), 503, "zh")
    assert zh["type"].endswith("store-unavailable") and "30秒后重试" in zh["detail"]
    en = _problem(raising.get("/raise/locked", headers=EN), 503, "en")
    assert en["title"] == "Store unavailable" and raising.get("/raise/locked").headers["retry-after"] == "30"
    zh = _problem(raising.get("/raise/crash", headers=ZH), 500, "zh")
    assert (zh["title"], zh["detail"]) == ("服务器内部错误", "服务器出错，详情见服务器日志。")
    en = _problem(raising.get("/raise/crash", headers=EN), 500, "en")
    assert (en["title"], en["detail"]) == ("Internal error", "The server failed; its log has the details.")
    assert "/srv" not in raising.get("/raise/crash", headers=ZH).text
    zh = _problem(raising.get("/api/big", headers=ZH), 403, "zh")
    assert "超过未携带 API 令牌的请求的1,000字节上限" in zh["detail"]
    en = _problem(raising.get("/api/big", headers=EN), 403, "en")
    assert en["detail"].startswith("The answer is 5,") and en["title"] == "Over the anonymous limit"


def test_the_register_workflow_s_own_words_stay_whole_under_a_chinese_title(raising: TestClient) -> None:
    zh = _problem(raising.get("/raise/role", headers=ZH), 403, "zh")
    assert zh["title"] == "隐患登记流程不允许此操作" and zh["detail"].startswith("隐患登记流程不允许此操作：")
    assert zh["errors"][0]["message"].startswith("Item `YH1`, event `verify`")  # nothing lost
    en = _problem(raising.get("/raise/role", headers=EN), 403, "en")
    assert en["detail"].startswith("Item `YH1`, event `verify`") and en["errors"] == []
    zh = _problem(raising.get("/raise/state", headers=ZH), 409, "zh")
    assert zh["title"] == "与隐患登记流程冲突" and zh["type"].endswith("register-state")


def test_the_kinds_progress_texts_are_in_the_language_spoken(tmp_path: Path) -> None:
    from gis import load_scenario, speaking
    from service.jobs import default_registry
    from service.jobs.kinds import check_risk_params

    scenario = load_scenario(write_gpkg(tmp_path / "small.gpkg"))
    kind = default_registry().get("risk")
    said: dict[str, list[str]] = {}
    for lang in ("zh", "en"):
        texts = said.setdefault(lang, [])

        def progress(_fraction: float, message: str = "", texts: list[str] = texts) -> None:
            texts.append(message)

        with speaking(lang):
            kind.func(scenario, check_risk_params({}), progress, threading.Event())
    assert said["zh"][0] == "正在构建道路网络" and all(_HAN.search(t) for t in said["zh"])
    assert said["en"][0] == "building the road network" and not any(_HAN.search(t) for t in said["en"])


def test_the_phone_report_s_answers_speak_the_phone_s_language(app_client: tuple[TestClient, str]) -> None:
    client, _ = app_client
    url = f"{API}/register/items"
    text = {"content-type": "text/plain"}
    zh = _problem(client.post(url, content=b"x", headers={**text, **ZH}), 422, "zh")
    assert zh["detail"] == "报告须为 JSON 或 multipart/form-data。修正：以二者之一发送。"
    en = _problem(client.post(url, content=b"x", headers={**text, **EN}), 422, "en")
    assert en["detail"] == "A report is JSON or multipart/form-data. Fix: send one of them."
    form = {"category": "gas", "lon": "112.5", "lat": "37.8", "description": "smoke"}
    photo = {"photo": ("p.jpg", b"not a picture", "image/jpeg")}
    zh = _problem(client.post(url, data=form, files=photo, headers=ZH), 422, "zh")
    assert zh["detail"] == "`p.jpg` 不是照片（JPEG、PNG 或 WebP）。修正：附上手机拍摄的照片。"
