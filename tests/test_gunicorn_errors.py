"""Every API error is JSON under the README's gunicorn command (issue 23, item 11), also the
ones gunicorn answers itself: a request line or header past its limits (414, 431) and a
malformed request line (400). URLs gunicorn's default would refuse reach the app."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not GUNICORN.exists():
        pytest.skip("gunicorn is not installed in this environment")
    tmp = tmp_path_factory.mktemp("gunicorn")
    port = free_port()
    env = {**os.environ, "INSTANCE_PATH": str(tmp), "SECRET_KEY": "test",
           "DATABASE_URL": f"sqlite:///{tmp / 'tracker.db'}"}
    process = subprocess.Popen(  # noqa: S603 — our own gunicorn, the README's command
        [str(GUNICORN), "-c", "gunicorn.conf.py", "-w", "1", "-b", f"127.0.0.1:{port}",
         "app:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 200:
                break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("gunicorn did not start: " + process.stderr.read().decode()[-2000:])
    yield port
    process.terminate()
    process.wait(timeout=30)


def raw(port: int, request: bytes) -> tuple[int, dict, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            headers = dict(line.split(": ", 1) for line in head.decode("latin-1")
                           .split("\r\n")[1:] if ": " in line)
            if "Content-Length" in headers and len(body) >= int(headers["Content-Length"]):
                break
    status = int(head.split()[1])
    return status, headers, body


def get(port, path: str, headers: str = "") -> tuple[int, dict, bytes]:
    return raw(port, f"GET {path} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n"
               .encode())


def error_of(headers, body) -> dict:
    assert headers["Content-Type"].startswith("application/json"), body[:200]
    return json.loads(body)["error"]


def test_a_request_line_past_the_limit_is_a_json_414(server):
    status, headers, body = get(server, "/api/v1/audits?q=" + "a" * 9000)
    assert status == 414
    error = error_of(headers, body)
    assert error["code"] == "uri_too_long" and "request body" in error["message"]


def test_a_header_past_the_limit_is_a_json_431(server):
    status, headers, body = get(server, "/api/v1/me", f"X-Long: {'b' * 9000}\r\n")
    assert status == 431
    assert error_of(headers, body)["code"] == "header_too_large"


def test_a_malformed_request_line_is_json(server):
    status, headers, body = raw(server, b"GET /api/v1/me HTTP/1.1 extra\r\nHost: x\r\n\r\n")
    assert status == 400
    assert error_of(headers, body)["code"] == "bad_request"


def test_long_urls_within_the_limit_reach_the_app(server):
    """5,000 characters: past gunicorn's default 4,094, answered by the API itself."""
    status, headers, body = get(server, "/api/v1/audits?q=" + "a" * 5000)
    assert status == 401
    assert error_of(headers, body)["code"] == "unauthorized"
