"""The relay as deployed: its token and origins, the browser's own socket.io
client, the gevent guard, and the local run's single URL."""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import socketio

from .conftest import ENROLL, bearer
from .helpers import BIN, ROOT, free_port, gunicorn_relay, process, sample, wait_for_http
from .socket_client import EventClient

pytestmark = pytest.mark.slow

JS_DIR = ROOT / "tests" / "js"
TOKEN = "dash-secret-token"
ALLOWED = "https://dashboard.example.com"


@pytest.fixture(scope="module")
def guarded_relay(direct_database_url, tmp_path_factory):
    """A relay that needs the dashboard token and allows one other origin."""
    port = free_port()
    env = {"VIGIE_DASHBOARD_TOKEN": TOKEN, "VIGIE_CORS_ORIGINS": f"{ALLOWED}, https://b.example"}
    log = tmp_path_factory.mktemp("guarded") / "relay.log"
    with gunicorn_relay(direct_database_url, port, env, log=log):
        yield f"http://127.0.0.1:{port}"


def refusal(url: str, auth: dict | None) -> dict:
    """What the relay answers a python-socketio client connecting with `auth`."""
    errors: list = []
    client = socketio.Client(reconnection=False)
    client.on("connect_error", lambda data=None: errors.append(data))
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(url, auth=auth, transports=["websocket"], wait_timeout=20)
    client.disconnect()
    [error] = errors
    return error


def test_a_socket_needs_the_dashboard_token_when_it_is_set(guarded_relay, api):
    assert refusal(guarded_relay, None) == {
        "message": "this relay needs the dashboard token: io(url, {auth: {token}})",
        "data": {"error": "missing_token", "status": 401},
    }
    assert refusal(guarded_relay, {"token": "wrong"}) == {
        "message": "the dashboard token is not valid",
        "data": {"error": "invalid_token", "status": 403},
    }
    assert refusal(guarded_relay, {"token": 12})["data"]["error"] == "missing_token"
    sid, token = api.register("web-01")
    client = EventClient(guarded_relay, auth={"token": TOKEN})
    try:
        client.join(sid)
        api.post_sample(sid, token)
        client.wait_for("metrics-update")
    finally:
        client.close()


def handshake(url: str, origin: str | None) -> int:
    """The first request a browser makes (long-polling), with its Origin header."""
    headers = {"Origin": origin} if origin else {}
    response = requests.get(
        f"{url}/socket.io/",
        params={"EIO": "4", "transport": "polling"},
        headers=headers,
        timeout=10,
    )
    if response.status_code == 200 and origin:
        assert response.headers["Access-Control-Allow-Origin"] == origin
    return response.status_code


def test_only_the_configured_origins_may_open_a_socket(guarded_relay, direct_database_url):
    assert handshake(guarded_relay, ALLOWED) == 200
    assert handshake(guarded_relay, "https://b.example") == 200
    assert handshake(guarded_relay, "https://evil.example") == 400
    assert handshake(guarded_relay, None) == 200  # not a browser: no Origin to check
    assert handshake(guarded_relay, guarded_relay) == 200  # the relay's own pages


def test_without_configured_origins_only_the_same_origin_may(relay_for_origins):
    assert handshake(relay_for_origins, relay_for_origins) == 200
    assert handshake(relay_for_origins, "https://evil.example") == 400


@pytest.fixture(scope="module")
def relay_for_origins(direct_database_url, tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("plain") / "relay.log"
    with gunicorn_relay(direct_database_url, port, log=log):
        yield f"http://127.0.0.1:{port}"


# -- the browser's client ---------------------------------------------------------


class NodeClient:
    """tests/js/relay_client.mjs: socket.io-client from npm, under node."""

    def __init__(self, url: str, server_id: int, token: str | None = None) -> None:
        if not (JS_DIR / "node_modules" / "socket.io-client").is_dir():
            pytest.skip("socket.io-client is not installed: make test runs npm ci in tests/js")
        node = shutil.which("node")
        assert node, "node is required (Node.js 20)"
        args = [node, str(JS_DIR / "relay_client.mjs"), url, str(server_id)]
        self.proc = subprocess.Popen(
            args + ([token] if token else []),
            cwd=JS_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, event: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                raise AssertionError(f"no {event!r} from node; it said: {self.seen}")
            try:
                message = json.loads(line)
            except ValueError:
                raise AssertionError(f"node said: {line}") from None
            self.seen.append(message)
            if message["event"] == event:
                return message["data"]

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def test_the_browser_socket_io_client_receives_samples(guarded_relay, api):
    sid, token = api.register("web-01")
    node = NodeClient(guarded_relay, sid, TOKEN)
    try:
        joined = node.wait_for("joined")
        assert joined["ack"]["ok"] is True and joined["ack"]["server_id"] == sid
        assert node.wait_for("followed") == {"ack": {"ok": True}}
        posted = sample(cpu_percent=66.5)
        assert api.post_sample(sid, token, **posted).status_code == 201
        status = node.wait_for("server-status")
        assert status["server_id"] == sid and status["is_active"] is True
        event = node.wait_for("metrics-update")
        assert event["server_id"] == sid and event["cpu_percent"] == 66.5
        # The overview's coalesced update, once per period, with the same values.
        [entry] = [e for e in node.wait_for("fleet-update")["servers"] if e["server_id"] == sid]
        assert entry["is_active"] is True and entry["latest"]["cpu_percent"] == 66.5
        assert entry["latest"]["recorded_at"] == event["recorded_at"]
    finally:
        node.close()


def test_a_large_fleet_update_reaches_a_compressing_browser_client_whole(
    direct_database_url, api, tmp_path
):
    """Browsers offer permessage-deflate; the relay compresses a large event in a
    thread (realtime/deflate.py). The browser's client decompresses it whole."""
    from concurrent.futures import ThreadPoolExecutor

    from realtime.deflate import IN_THREAD_BYTES

    servers = [api.register(f"deflate-{i:03}") for i in range(240)]
    port = free_port()
    # A long period: every server's sample lands in one large fleet-update.
    env = {"VIGIE_FLEET_SECONDS": "4"}
    with gunicorn_relay(direct_database_url, port, env, log=tmp_path / "relay.log"):
        node = NodeClient(f"http://127.0.0.1:{port}", servers[0][0])
        try:
            upgrade = node.wait_for("upgrade")
            assert upgrade["name"] == "websocket"
            assert "permessage-deflate" in upgrade["extensions"]
            assert node.wait_for("followed") == {"ack": {"ok": True}}
            with ThreadPoolExecutor(8) as pool:
                posted = list(
                    pool.map(
                        lambda s: api.post_sample(s[0], s[1], cpu_percent=s[0] % 97).status_code,
                        servers,
                    )
                )
            assert posted == [201] * len(servers)
            want = {sid: float(sid % 97) for sid, _ in servers}
            got: dict[int, float] = {}
            largest = 0
            while set(want) - set(got):
                data = node.wait_for("fleet-update")
                largest = max(largest, len(json.dumps(data)))
                got.update({e["server_id"]: e["latest"]["cpu_percent"] for e in data["servers"]})
            assert {sid: got[sid] for sid in want} == want
            # The event was large enough to be compressed off the event loop.
            assert largest > IN_THREAD_BYTES
        finally:
            node.close()


def test_the_browser_client_is_told_why_it_is_refused(guarded_relay, api):
    sid, _ = api.register("web-01")
    node = NodeClient(guarded_relay, sid, "wrong-token")
    try:
        error = node.wait_for("connect_error")
        assert error == {
            "message": "the dashboard token is not valid",
            "data": {"error": "invalid_token", "status": 403},
        }
    finally:
        node.close()


# -- gevent guard -------------------------------------------------------------------


def test_the_relay_refuses_to_run_with_psycopg_imported_before_gevent_patched():
    code = "import psycopg\nfrom gevent import monkey; monkey.patch_all()\nimport realtime.relay\n"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "psycopg was imported before gevent patched the standard library" in result.stderr


def test_the_relay_refuses_to_run_unpatched_under_preload(direct_database_url, tmp_path):
    log = tmp_path / "relay.log"
    args = [str(BIN / "gunicorn"), "--no-control-socket", "-k", "gevent", "--preload",
            "--bind", f"127.0.0.1:{free_port()}", "realtime.relay:app"]  # fmt: skip
    with process(args, {"DATABASE_URL": direct_database_url}, log=log) as proc:
        assert proc.wait(60) != 0
    assert "the relay needs a gevent-patched process" in log.read_text()


# -- the local run: one URL -----------------------------------------------------------


@pytest.fixture
def built_dashboard(tmp_path) -> Path:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>Vigie dashboard</title>")
    (dist / "assets" / "app.js").write_text("console.log('vigie')")
    return dist


def test_the_local_app_serves_api_relay_and_dashboard_on_one_port(
    database_url, direct_database_url, db, built_dashboard, tmp_path
):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "DATABASE_URL": database_url,
        "REALTIME_DATABASE_URL": direct_database_url,
        "VIGIE_ENROLL_TOKEN": ENROLL,
        "VIGIE_DASHBOARD_DIR": str(built_dashboard),
    }
    with gunicorn_relay(database_url, port, env, tmp_path / "local.log", "vigie.local:app"):
        assert requests.get(f"{base}/api/health", timeout=10).json()["status"] == "ok"
        assert requests.get(f"{base}/health", timeout=10).json()["listening"] is True
        page = requests.get(f"{base}/", timeout=10)
        assert page.status_code == 200 and "Vigie dashboard" in page.text
        assert requests.get(f"{base}/assets/app.js", timeout=10).text == "console.log('vigie')"
        # A route of the single-page app gets the page; a missing file is a 404.
        assert "Vigie dashboard" in requests.get(f"{base}/servers/3", timeout=10).text
        assert requests.get(f"{base}/assets/missing.js", timeout=10).status_code == 404
        missing = requests.get(f"{base}/api/nothing-here", timeout=10)
        assert missing.status_code == 404 and missing.json()["error"]

        # The API and the relay behind the same URL: a sample in, an event out.
        registered = requests.post(
            f"{base}/api/servers/register",
            json={"hostname": "local-01"},
            headers=bearer(ENROLL),
            timeout=10,
        ).json()
        client = EventClient(base)
        try:
            client.join(registered["id"])
            response = requests.post(
                f"{base}/api/metrics",
                json={"server_id": registered["id"], **sample()},
                headers=bearer(registered["ingest_token"]),
                timeout=10,
            )
            assert response.status_code == 201
            [event] = client.wait_for("metrics-update")
            assert event["id"] == response.json()["id"]
        finally:
            client.close()
    env["VIGIE_DASHBOARD_DIR"] = str(tmp_path / "not-built")
    port = free_port()
    with gunicorn_relay(database_url, port, env, tmp_path / "local2.log", "vigie.local:app"):
        page = requests.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert page.status_code == 200 and "npm run build" in page.text


def test_vigie_run_prints_one_url_that_serves_everything(direct_database_url, db, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "VIGIE_HOME": str(tmp_path / "home"),
        "VIGIE_ENROLL_TOKEN": ENROLL,
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "run.log"
    args = [str(BIN / "vigie"), "run", "--database-url", direct_database_url, "--port", str(port)]
    with process(args, env, ready_url=f"{base}/api/health", log=log):
        wait_for_http(f"{base}/health")
        assert requests.get(f"{base}/health", timeout=10).json()["listening"] is True
        assert requests.get(f"{base}/api/servers", timeout=10).status_code == 200
        deadline = time.monotonic() + 30
        while f"Vigie is running: {base}" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert f"Vigie is running: {base}" in log.read_text()
