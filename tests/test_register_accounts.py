"""`riskplan register account` makes tokens the web service accepts; disabling one stops it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.api import Settings, create_app
from service.cli import main

API = "/api/v1/register"


def test_account_cli_makes_a_token_the_service_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["register", "account", "add", "--role", "department", "--unit", "应急管理局",
                 "--data-dir", str(tmp_path)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    token = out.strip().splitlines()[-1]
    account_id = token.split("_")[1]
    assert token.startswith("rpr_") and account_id in out
    assert main(["register", "account", "list", "--data-dir", str(tmp_path)]) == 0
    listed = capsys.readouterr().out
    assert "应急管理局" in listed and token.rsplit("_", 1)[1] not in listed
    with TestClient(create_app(Settings(tmp_path, api_token="admin-token-0123456789abcdef"))) as client:
        auth = {"Authorization": f"Bearer {token}"}
        assert client.get(f"{API}/items", headers=auth).status_code == 200
        assert main(["register", "account", "disable", account_id, "--data-dir", str(tmp_path)]) == 0
        assert client.get(f"{API}/items", headers=auth).status_code == 403


def test_account_cli_refuses_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["register", "account", "add", "--role", "department", "--data-dir", str(tmp_path)]) == 2
    assert "--unit" in capsys.readouterr().err
    assert main(["register", "account", "disable", "0" * 32, "--data-dir", str(tmp_path)]) == 2
    assert main(["register", "account", "list", "--data-dir", str(tmp_path / "nowhere")]) == 2
