"""The HTTP server ``riskplan serve`` runs: request heads bounded in size and in time (issue 12).

A real uvicorn server on loopback, for both of uvicorn's HTTP parsers, spoken to over raw
sockets: a 1 MiB header gets a 431 without being read whole, and a client that trickles its
header lines is cut off with a 408 by the header-read timeout.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.api import Settings, create_app
from service.api.server import ServerLimits, server_config

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

LIMITS = ServerLimits(max_header_bytes=16 * 1024, header_timeout_s=0.5, keep_alive_s=5, limit_concurrency=50)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(params=["h11", "httptools"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[int]:
    uvicorn = pytest.importorskip("uvicorn")
    if request.param == "httptools":
        pytest.importorskip("httptools")
    app = create_app(Settings(tmp_path, api_token="server-limits-token-0123456789"))
    port = _free_port()
    config = server_config(
        app, host="127.0.0.1", port=port, http=request.param, limits=LIMITS, log_level="warning"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield port
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or 20 s pass)."""
    sock.settimeout(20)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except (ConnectionResetError, TimeoutError):
        pass
    return b"".join(chunks)


def test_a_normal_request_passes(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server)) as sock:
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 200") and b'"status":"ok"' in answer


def test_an_oversized_header_is_refused_without_being_read(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server)) as sock:
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ")
        sent = 0
        try:
            for _ in range(32):  # up to 32 MiB, as in the audit; the server hangs up long before
                sock.sendall(b"a" * 1024**2)
                sent += 1
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = _read_all(sock)
    assert sent < 32, "the server read a 32 MiB header"
    assert answer.startswith(b"HTTP/1.1 431") or answer.startswith(b"HTTP/1.1 400"), answer[:200]


def test_a_head_that_fits_in_one_read_is_bounded_too(server: int) -> None:
    head = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 40_000 + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server)) as sock:
        sock.sendall(head)
        answer = _read_all(sock)
    assert not answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert answer[9:12] in (b"431", b"400")


def test_a_trickling_client_is_cut_off_by_the_header_timeout(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server)) as sock:
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")
        sock.settimeout(20)
        closed = False
        for i in range(40):  # one header line every 0.25 s would go on for 10 s
            try:
                sock.sendall(f"X-Slow-{i}: 1\r\n".encode())
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            time.sleep(0.25)
            sock.setblocking(False)
            try:
                if sock.recv(1, socket.MSG_PEEK) is not None:
                    closed = True
                    break
            except BlockingIOError:
                pass
            finally:
                sock.setblocking(True)
        answer = _read_all(sock)
    assert closed, "the connection stayed open for 40 header lines"
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]


def test_an_idle_connection_is_timed_out_before_its_first_byte(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server)) as sock:
        answer = _read_all(sock)  # sends nothing
    assert answer.startswith(b"HTTP/1.1 408")


# -- `riskplan serve` warns when reads are public beyond loopback ----------------------------------


@pytest.mark.parametrize(
    ("args", "warned"),
    [
        (["--host", "0.0.0.0"], True),
        (["--host", "192.168.1.20"], True),
        (["--host", "0.0.0.0", "--protect-reads"], False),
        (["--host", "127.0.0.1"], False),
        (["--host", "localhost"], False),
    ],
)
def test_serve_warns_about_public_reads_off_loopback(
    args: list[str],
    warned: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    uvicorn = pytest.importorskip("uvicorn")
    from service.cli import main

    started: list[object] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: started.append(self.config))  # never listens
    monkeypatch.setenv("RISKPLAN_API_TOKEN", "serve-warning-token-0123456789")
    assert main(["serve", "--data-dir", str(tmp_path), "--port", "1", *args]) == 0
    err = capsys.readouterr().err
    assert len(started) == 1
    assert ("reads are public" in err) is warned
    if warned:
        assert "--protect-reads" in err and "every layer" in err and "every job" in err
    config = started[0]
    assert config.timeout_keep_alive == 5 and config.limit_concurrency == 1000  # type: ignore[attr-defined]
    assert config.h11_max_incomplete_event_size == 64 * 1024  # type: ignore[attr-defined]
