"""The realtime relay: Flask-SocketIO under gunicorn's gevent worker.

    gunicorn -k gevent -w 1 realtime.relay:app        # the relay (Procfile `realtime`)

The relay emits ``metrics-update``, ``metrics-backfill``, ``fleet-update``,
``server-status``, ``server-update``, ``alert`` and ``resync`` (see README, "The
realtime relay");
what clients send is handled in realtime/handlers.py, the feed from PostgreSQL in
realtime/feed.py and the parts it drives.

One worker per process: socket.io keeps each connection's state in the process
that accepted it. Scale out with more relay processes, each with its own LISTEN.
"""

from __future__ import annotations

from .green import require_gevent

# Before anything below imports psycopg: see realtime/green.py.
require_gevent()

import logging  # noqa: E402
from typing import Any  # noqa: E402

import orjson  # noqa: E402
from flask import Flask, jsonify  # noqa: E402
from flask_socketio import SocketIO  # noqa: E402

from vigie.db import resolve_url  # noqa: E402
from vigie.settings import Settings  # noqa: E402

from . import deflate  # noqa: E402
from .feed import Feed  # noqa: E402
from .handlers import RelayNamespace, ShareLinks  # noqa: E402
from .webhooks import Drainer  # noqa: E402

log = logging.getLogger("vigie.relay")

# A large event is compressed once for every browser, off the event loop (realtime/deflate.py).
deflate.install()


class PacketJSON:
    """How socket.io packets are encoded: orjson, several times faster than the
    standard library's json. Each event is encoded once for all its recipients,
    on the relay's one event loop: a period's fleet-update for thousands of
    servers is a large document, and every room's samples wait while it is
    written."""

    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj).decode()

    @staticmethod
    def loads(text: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(text)


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


def create_relay(settings: Settings | None = None) -> tuple[Flask, SocketIO, Feed]:
    """The relay app; it reads only the relay's, the webhooks' and the retention's
    settings."""
    settings = settings or Settings.from_env()
    relay = settings.relay
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    database_url = resolve_url(relay.database_url)

    app = Flask("vigie-relay")
    socketio = SocketIO(
        app,
        async_mode="gevent",
        cors_allowed_origins=origin_check(relay.cors_origins),
        # Clients only send small room requests.
        max_http_buffer_size=64 * 1024,
        manage_session=False,
        json=PacketJSON,
        logger=False,
        engineio_logger=False,
    )

    # Alert webhooks are sent from the outbox by a background task, woken by every
    # alert this relay emits (see realtime/webhooks.py).
    drainer = Drainer(database_url, settings.webhooks)
    drainer.check()

    def emit(event: str, data: dict, to: list[str] | None) -> None:
        # A client in several of these rooms gets the event once.
        socketio.emit(event, data, to=to)
        if event == "alert":
            drainer.wake()

    def watched(room: str) -> bool:
        # Members in this process (rooms are per process: one worker per relay).
        return next(iter(socketio.server.manager.get_participants("/", room)), None) is not None

    feed = Feed(relay, emit, database_url, watched)
    namespace = RelayNamespace(
        relay.dashboard_token, feed.server_state, ShareLinks(feed.pool), feed.emission.scoped
    )
    socketio.on_namespace(namespace)

    def on_event(payload: dict) -> None:
        # A silence created or ended may release held notifications; a revoked
        # share link's sockets go at once.
        if payload.get("kind") == "silence":
            drainer.wake()
        namespace.on_share_event(payload)

    feed.on_event = on_event

    @app.get("/health")
    def health():
        # 503 while the relay does not listen or a catch-up it owes keeps failing;
        # "reason" says which (realtime/health.py).
        status = feed.status()
        well = status["reason"] is None
        return jsonify({"status": "ok" if well else "degraded", **status}), 200 if well else 503

    feed.start(socketio.start_background_task)
    socketio.start_background_task(drainer.run)
    socketio.start_background_task(namespace.watch_shares)
    retention = settings.retention
    if retention.rollup_seconds:
        socketio.start_background_task(feed.upkeep.roll_up_forever, retention.rollup_seconds)
    if retention.maintenance_seconds:
        socketio.start_background_task(feed.upkeep.maintain_forever, database_url, retention)
    app.extensions["vigie_feed"] = feed
    return app, socketio, feed


def __getattr__(name: str) -> Any:
    # Built on first access, so importing this module starts nothing.
    if name == "app":
        global app
        app = create_relay()[0]
        return app
    raise AttributeError(name)
