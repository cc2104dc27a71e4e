"""The collector's HTTP client takes the environment's proxy settings, read once
when it starts (rather than by requests at every request)."""

from __future__ import annotations

import socket
import threading

import pytest
from vigie_collector.client import Client


@pytest.fixture
def proxy():
    """A listener standing for an HTTP proxy: records the first request line it
    gets and answers 502."""
    server = socket.create_server(("127.0.0.1", 0))
    seen: list[str] = []

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            seen.append(conn.recv(65536).decode("latin-1").split("\r\n")[0])
            conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", seen
    server.close()


def test_requests_go_through_the_proxy_the_environment_names(proxy, monkeypatch):
    address, seen = proxy
    monkeypatch.setenv("HTTP_PROXY", address)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = Client("http://vigie.invalid:8000", timeout=5)
    assert "502" in client.health()
    assert seen == ["GET http://vigie.invalid:8000/api/health HTTP/1.1"]


def test_no_proxy_is_honoured(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert Client("http://127.0.0.1:8000").session.proxies == {}
