"""The realtime relay: Flask-SocketIO under gunicorn's gevent worker.

    gunicorn -k gevent -w 1 realtime.relay:app        # the relay (Procfile `realtime`)
    gunicorn -k gevent -w 1 realtime.relay:local_app  # `vigie run`: relay, API, dashboard

Clients send ``join-server {serverId}`` / ``leave-server {serverId}`` for one
server's room and ``join-all`` / ``leave-all`` for the overview; every one is
acknowledged with ``{"ok": true, ...}`` or ``{"ok": false, "error", "message"}``.
The relay emits ``metrics-update``, ``metrics-backfill``, ``server-status``,
``server-update``, ``alert`` and ``resync`` (see README, "Realtime events").

One worker per process: socket.io keeps each connection's state in the process
that accepted it. Scale out with more relay processes, each with its own LISTEN.
"""

from __future__ import annotations

from .green import require_gevent

# Before anything below imports psycopg: see realtime/green.py.
require_gevent()

import logging  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from flask import Flask, abort, jsonify, send_from_directory  # noqa: E402
from flask_socketio import SocketIO, join_room, leave_room, rooms  # noqa: E402
from socketio.exceptions import ConnectionRefusedError  # noqa: E402
from werkzeug.security import safe_join  # noqa: E402

from functions.app import isoformat  # noqa: E402
from functions.auth import same_token  # noqa: E402
from functions.config import Settings as FunctionSettings  # noqa: E402
from functions.embedded import ROOT  # noqa: E402
from functions.maintenance import run_forever as run_maintenance  # noqa: E402

from .config import RelaySettings  # noqa: E402
from .feed import ALL, Feed, server_room  # noqa: E402
from .webhooks import Drainer, WebhookSettings  # noqa: E402

log = logging.getLogger("vigie.relay")

MAX_SERVER_ID = 2**31 - 1


def error(code: str, message: str, **extra: Any) -> dict:
    return {"ok": False, "error": code, "message": message, **extra}


def parse_server_id(data: Any) -> tuple[int | None, dict | None]:
    """``{serverId}`` (the seed's shape) or ``{server_id}``: a positive integer,
    or its decimal string. Returns (id, None) or (None, error ack)."""
    value = None
    if isinstance(data, dict):
        value = data.get("serverId", data.get("server_id"))
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SERVER_ID:
        return None, error(
            "invalid", "send {serverId: <server id>}, a positive integer", field="serverId"
        )
    return value, None


def origin_check(configured: str | list[str] | None) -> Any:
    """Which browser origins may open a socket: the relay's own (the page it
    serves in the local run, or a proxy in front of it), plus VIGIE_CORS_ORIGINS."""
    if configured == "*":
        return "*"
    extra = set(configured or [])

    def allowed(origin: str | None, environ: dict) -> bool:
        if origin is None:
            return True  # not a browser
        origin = origin.rstrip("/")
        if origin in extra:
            return True
        host = environ.get("HTTP_HOST", "")
        own = {f"{environ.get('wsgi.url_scheme', 'http')}://{host}"}
        forwarded_proto = environ.get("HTTP_X_FORWARDED_PROTO")
        forwarded_host = environ.get("HTTP_X_FORWARDED_HOST")
        if forwarded_proto or forwarded_host:
            scheme = (forwarded_proto or environ.get("wsgi.url_scheme", "http")).split(",")[0]
            own.add(f"{scheme.strip()}://{(forwarded_host or host).split(',')[0].strip()}")
        return origin in own

    return allowed


def create_relay(settings: RelaySettings | None = None) -> tuple[Flask, SocketIO, Feed]:
    settings = settings or RelaySettings.from_env()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    database_url = settings.database_url
    if not database_url:
        from functions import embedded

        database_url = embedded.start(stop_when_unused=False)

    app = Flask("vigie-relay")
    socketio = SocketIO(
        app,
        async_mode="gevent",
        cors_allowed_origins=origin_check(settings.cors_origins),
        # Clients only send small room requests.
        max_http_buffer_size=64 * 1024,
        manage_session=False,
        logger=False,
        engineio_logger=False,
    )

    # Alert webhooks are sent from the outbox by a background task, woken by every
    # alert this relay emits (see realtime/webhooks.py).
    drainer = Drainer(database_url, WebhookSettings.from_env())

    def emit(event: str, data: dict, to: list[str] | None) -> None:
        # A client in several of these rooms gets the event once.
        socketio.emit(event, data, to=to)
        if event == "alert":
            drainer.wake()

    feed = Feed(settings, emit, database_url)

    @socketio.on("connect")
    def connect(auth: Any = None) -> None:
        expected = settings.dashboard_token
        if not expected:
            return
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str) or not token:
            raise ConnectionRefusedError(
                "this relay needs the dashboard token: io(url, {auth: {token}})",
                {"error": "missing_token", "status": 401},
            )
        if not same_token(token, expected):
            raise ConnectionRefusedError(
                "the dashboard token is not valid", {"error": "invalid_token", "status": 403}
            )

    @socketio.on("join-server")
    def join_server(data: Any = None) -> dict:
        server_id, problem = parse_server_id(data)
        if problem:
            return problem
        try:
            row = feed.server_state(server_id)
        except Exception as exc:  # the database is away: say so, the client retries
            log.warning("join-server %s: %s", server_id, exc)
            return error("unavailable", "the database is unreachable; retry later")
        if row is None:
            return error("not_found", f"server {server_id} does not exist")
        join_room(server_room(server_id))
        return {
            "ok": True,
            "server_id": server_id,
            "is_active": row["is_active"],
            "last_seen": isoformat(row["last_seen"]) if row["last_seen"] else None,
        }

    @socketio.on("leave-server")
    def leave_server(data: Any = None) -> dict:
        server_id, problem = parse_server_id(data)
        if problem:
            return problem
        room = server_room(server_id)
        if room not in rooms():
            return error("not_joined", f"this connection has not joined server {server_id}")
        leave_room(room)
        return {"ok": True, "server_id": server_id}

    @socketio.on("join-all")
    def join_all(data: Any = None) -> dict:
        join_room(ALL)
        return {"ok": True}

    @socketio.on("leave-all")
    def leave_all(data: Any = None) -> dict:
        leave_room(ALL)
        return {"ok": True}

    @app.get("/health")
    def health():
        status = feed.status()
        return jsonify({"status": "ok" if status["listening"] else "degraded", **status}), (
            200 if status["listening"] else 503
        )

    feed.start(socketio.start_background_task)
    socketio.start_background_task(drainer.run)
    # History retention and partitions: every relay offers, one at a time runs it.
    history = FunctionSettings.from_env()
    if history.maintenance_seconds:
        socketio.start_background_task(run_maintenance, database_url, history)
    app.extensions["vigie_feed"] = feed
    return app, socketio, feed


# -- the local run: one port for everything -------------------------------------

NOT_BUILT = """<!doctype html>
<html lang="en"><meta charset="utf-8"><title>Vigie</title>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto">
<h1>Vigie is running</h1>
<p>The API answers at <a href="/api/servers">/api/servers</a> and the realtime relay at
<code>/socket.io</code>, but the dashboard is not built yet. Build it once with:</p>
<pre>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</pre>
<p>then reload this page.</p>
</body></html>
"""


class ApiDispatcher:
    """``/api/*`` to the functions app, everything else to the relay app. The
    functions' routes include their ``/api`` prefix, so the path is passed as is
    (werkzeug's DispatcherMiddleware would strip it)."""

    def __init__(self, relay: Any, api: Any) -> None:
        self.relay = relay
        self.api = api

    def __call__(self, environ: dict, start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path == "/api" or path.startswith("/api/"):
            return self.api(environ, start_response)
        return self.relay(environ, start_response)


def dashboard_dir() -> Path:
    import os

    return Path(os.environ.get("VIGIE_DASHBOARD_DIR") or ROOT / "frontend" / "dist")


def create_local(settings: RelaySettings | None = None) -> Flask:
    from functions.app import create_app

    app, _, _ = create_relay(settings)
    api = create_app()

    @app.get("/", defaults={"path": ""})
    @app.get("/<path:path>")
    def dashboard(path: str):
        dist = dashboard_dir()
        if not (dist / "index.html").is_file():
            return NOT_BUILT, 200, {"Content-Type": "text/html; charset=utf-8"}
        target = safe_join(str(dist), path) if path else None
        if target and Path(target).is_file():
            return send_from_directory(dist, path)
        if Path(path).suffix:
            abort(404)  # a missing asset (app.js) is a 404, not the page
        # Any other path is a route of the single-page app.
        return send_from_directory(dist, "index.html")

    app.wsgi_app = ApiDispatcher(app.wsgi_app, api)  # type: ignore[method-assign]
    return app


def __getattr__(name: str) -> Any:
    # Built on first access, so importing this module starts nothing and each
    # gunicorn entry point builds only what it serves.
    if name == "app":
        global app
        app = create_relay()[0]
        return app
    if name == "local_app":
        global local_app
        local_app = create_local()
        return local_app
    raise AttributeError(name)
