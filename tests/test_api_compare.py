"""``GET /scenarios/{id}/compare/{other}``: two stored scenarios, before and after (issue 19)."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_factory import API, auth, create_demo, demo_client

TOKEN = "t" * 32


def test_compare_of_two_identical_scenarios_reports_no_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.api.routes import compare

    scored: list[str] = []
    real = compare.risk_entry
    monkeypatch.setattr(
        compare, "risk_entry", lambda request, sid, *a: scored.append(sid) or real(request, sid, *a)
    )
    with demo_client(tmp_path, TOKEN) as client:
        a = create_demo(client, TOKEN, seed=3, n_road_nodes=2000)
        b = create_demo(client, TOKEN, seed=3, n_road_nodes=2000)
        # an unknown other scenario is a 404 before anything is scored
        r = client.get(f"{API}/scenarios/{a}/compare/{'0' * 32}", headers=auth(TOKEN))
        assert r.status_code == 404 and "0" * 32 in r.text and scored == []
        assert client.get(f"{API}/scenarios/{a}/compare/nope", headers=auth(TOKEN)).status_code == 404
        r = client.get(f"{API}/scenarios/{a}/compare/{b}", headers=auth(TOKEN))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["counts"]["worse"] == 0 and body["counts"]["better"] == 0 and body["units"] == []
        # the summary in the language asked, and the report section as a page (the scores cached)
        zh = client.get(f"{API}/scenarios/{a}/compare/{b}", params={"lang": "zh"}, headers=auth(TOKEN))
        assert "0个单元变差" in zh.json()["summary"][0]
        page = client.get(
            f"{API}/scenarios/{a}/compare/{b}/report", params={"lang": "zh"}, headers=auth(TOKEN)
        )
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert (
            "实施前后对比" in page.text
            and "没有单元发生变化。" in page.text
            and 'id="compare-map"' in page.text
        )
        assert page.headers["content-language"] == "zh"
