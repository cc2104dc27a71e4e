"""Requests gunicorn refuses before any app sees them (a request line over its
limit, too many or too large header fields, a request line that is not HTTP) get
Vigie's JSON error, not gunicorn's HTML page: from the API, the relay and the local
run's one process, each under the worker class the Procfile and `vigie run` use."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from honcho.environ import parse_procfile

from vigie import serve

from .helpers import ROOT, free_port, gunicorn_api, gunicorn_relay

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["api", "relay", "local"])
def base(request, database_url, direct_database_url, tmp_path_factory):
    """host:port of a real gunicorn serving one of Vigie's apps."""
    port = free_port()
    log = tmp_path_factory.mktemp(request.param) / "gunicorn.log"
    if request.param == "api":
        running = gunicorn_api(database_url, port, log=log)
    elif request.param == "relay":
        running = gunicorn_relay(direct_database_url, port, log=log)
    else:
        env = {"REALTIME_DATABASE_URL": direct_database_url}
        running = gunicorn_relay(database_url, port, env, log=log, entry=serve.LOCAL_APP)
    with running:
        yield ("127.0.0.1", port)


def exchange(address: tuple[str, int], raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read the answer to the end (gunicorn closes after an error).
    The answer must come whole: the worker reads what it refused before closing,
    so the connection is not reset under the client."""
    with socket.create_connection(address, timeout=20) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def json_error(address: tuple[str, int], raw: bytes, status: int, code: str) -> dict:
    got, headers, body = exchange(address, raw)
    assert got == status, body[:300]
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(body)
    error = json.loads(body)
    assert set(error) == {"error", "message"}
    assert error["error"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert b"<html" not in body.lower()
    return error


def request(target: str = "/health", headers: list[str] = ()) -> bytes:
    lines = [f"GET {target} HTTP/1.1", "Host: vigie.test", *headers, "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def test_a_10_kb_url_gets_a_json_414(base):
    error = json_error(base, request("/api/servers?q=" + "a" * 10_240), 414, "uri_too_long")
    assert "4094 bytes" in error["message"]


def test_200_header_lines_get_a_json_431(base):
    headers = [f"X-Filler-{i}: {i}" for i in range(200)]
    error = json_error(base, request(headers=headers), 431, "request_header_fields_too_large")
    assert "100 header fields" in error["message"]


def test_one_20_kb_header_gets_a_json_431(base):
    raw = request(headers=["X-Big: " + "b" * 20_480])
    error = json_error(base, raw, 431, "request_header_fields_too_large")
    assert "8190 bytes" in error["message"]


def test_a_garbage_request_line_gets_a_json_400(base):
    error = json_error(base, b"\x16\x03 not http at all\r\n\r\n", 400, "bad_request")
    assert error["message"].startswith("the request is not valid HTTP")


def test_a_long_bad_request_line_is_not_echoed_whole(base):
    error = json_error(base, b"not http " + b"z" * 3000 + b"\r\n\r\n", 400, "bad_request")
    assert len(error["message"]) < 200


def test_after_a_refused_request_the_worker_still_answers(base):
    json_error(base, request("/" + "a" * 10_240), 414, "uri_too_long")
    status, headers, _ = exchange(base, request("/health"))
    # The relay and the local run serve /health; the API answers 404 there, in JSON.
    assert status in (200, 404)
    assert headers["content-type"].startswith("application/json")


def test_the_procfile_and_the_local_run_use_these_workers(tmp_path: Path):
    procs = parse_procfile((ROOT / "Procfile").read_text()).processes
    assert f" -k {serve.WEB_WORKER} " in procs["web"]
    assert f" -k {serve.RELAY_WORKER} " in procs["realtime"]
    for option in serve.RELAY_OPTIONS:
        assert option in procs["realtime"].split()
    local = serve.local_command(tmp_path, "127.0.0.1", 8000).split()
    assert local[local.index("-k") + 1] == serve.RELAY_WORKER
