"""gunicorn workers that answer gunicorn's own errors in JSON, as Vigie does.

A request gunicorn cannot parse (a request line over ``limit_request_line``, too
many or too large header fields, a malformed request line) never reaches Flask:
the worker answers it in ``handle_error`` with gunicorn's HTML page, written by
``gunicorn.util.write_error``. These workers write Vigie's error body instead,
``{"error": code, "message": sentence}`` with the same status:

    gunicorn -k vigie.workers.ThreadWorker --threads 8 functions.app:app   # web
    gunicorn -k vigie.workers.GeventWorker -w 1 realtime.relay:app         # realtime

``handle_error`` looks ``util.write_error`` up when it runs, and a worker process
serves only its one worker: replacing it there, once the worker has forked, changes
gunicorn's pages and nothing else. gunicorn still picks the status and logs the bad
request.

The threaded worker also sheds load it cannot carry: a request that waited longer
than ``VIGIE_MAX_QUEUE_SECONDS`` (2 s) for one of its threads is answered ``503``
with ``Retry-After`` at once, before Flask, instead of being served after its
client has given up. Past what the machine carries, the requests that are served
stay on time, and a collector keeps the refused sample and sends it again later,
in a batch (vigie_collector/agent.py). Health checks are never refused.

This module imports neither psycopg nor the apps, and the gevent worker is built
only when asked for: the relay's worker must patch the process with gevent before
anything imports psycopg (realtime/green.py), and the API's never loads gevent.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from typing import Any

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker as GunicornThreadWorker

# After the answer, what the client was still sending is read and dropped, a while:
# closing with unread bytes would reset the connection, and a client still sending
# (a 20 KB header) could lose the answer with it.
LINGER_SECONDS = 1.0
LINGER_BYTES = 256 * 1024

# gunicorn's detail (the bad line, the header's name) is kept for a 400, cut short:
# enough to see what was wrong, never a page of the client's own bytes.
DETAIL_CHARS = 120

CODES = {
    400: "bad_request",
    403: "forbidden",
    414: "uri_too_long",
    417: "expectation_failed",
    431: "request_header_fields_too_large",
    500: "internal_error",
    501: "not_implemented",
}


def error_body(status: int, reason: str, detail: str, cfg: Any) -> dict[str, str]:
    """Vigie's error body for an error gunicorn answers itself."""
    detail = " ".join(detail.split())
    if len(detail) > DETAIL_CHARS:
        detail = detail[: DETAIL_CHARS - 1] + "…"
    if status == 414:
        message = (
            f"the request line is longer than the {cfg.limit_request_line} bytes "
            "accepted; shorten the URL"
        )
    elif status == 431:
        message = (
            f"the request has more than {cfg.limit_request_fields} header fields or a "
            f"field larger than {cfg.limit_request_field_size} bytes"
        )
    elif status == 500:
        message = "an unexpected error occurred"
    else:
        message = "the request is not valid HTTP" if status == 400 else reason.lower()
        if detail:
            message = f"{message} ({detail})"
    return {"error": CODES.get(status, "http_error"), "message": message}


def json_error_writer(cfg: Any):
    """A replacement for ``gunicorn.util.write_error`` writing Vigie's JSON."""

    def write_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
        body = json.dumps(error_body(status_int, reason, mesg, cfg)).encode()
        head = (
            f"HTTP/1.1 {status_int} {reason}\r\n"
            "Connection: close\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            "\r\n"
        ).encode("latin-1")
        util.write_nonblock(sock, head + body)
        drain(sock)

    return write_error


def drain(sock: Any) -> None:
    """Half-close, then read what the client still sends until it closes too."""
    try:
        sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + LINGER_SECONDS
        left = LINGER_BYTES
        while left > 0:
            wait = deadline - time.monotonic()
            if wait <= 0:
                return
            sock.settimeout(wait)
            chunk = sock.recv(min(65536, left))
            if not chunk:
                return
            left -= len(chunk)
    except OSError:
        return  # the client is gone: nothing left to protect


class JsonErrors:
    """Mixin for a gunicorn worker: its own error pages are Vigie's JSON."""

    cfg: Any

    def init_process(self) -> None:
        # In the worker, after the fork; the base class's init_process runs the
        # worker and never returns, so this comes first.
        util.write_error = json_error_writer(self.cfg)
        super().init_process()  # type: ignore[misc]


# Answered whatever the queue: a load balancer must not take an overloaded API
# for a dead one.
NEVER_SHED = frozenset({"/api/health", "/health"})
RETRY_AFTER_SECONDS = 5


def shed_body(waited: float, limit: float) -> bytes:
    return json.dumps({
        "error": "overloaded",
        "message": f"the API is behind: this request waited {waited:.1f} s for a thread "
                   f"(more than VIGIE_MAX_QUEUE_SECONDS, {limit:g} s); send it again in "
                   f"{RETRY_AFTER_SECONDS} s",
    }).encode()  # fmt: skip


class QueueGuard:
    """The worker's WSGI app: the app itself, or a 503 for a request that waited
    in the worker's queue longer than the limit."""

    def __init__(self, app: Any, waits: threading.local, limit: float) -> None:
        self.app = app
        self.waits = waits
        self.limit = limit

    def __call__(self, environ: dict, start_response: Any) -> Any:
        waited = getattr(self.waits, "seconds", 0.0)
        if waited <= self.limit or environ.get("PATH_INFO") in NEVER_SHED:
            return self.app(environ, start_response)
        body = shed_body(waited, self.limit)
        start_response("503 Service Unavailable", [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Retry-After", str(RETRY_AFTER_SECONDS)),
        ])  # fmt: skip
        return [body]


class ThreadWorker(JsonErrors, GunicornThreadWorker):
    """gunicorn's threaded worker (``gthread``), for the API (Procfile ``web``):
    each connection is stamped when it is queued for a thread, and a request that
    waited too long is answered 503 (``QueueGuard``)."""

    def load_wsgi(self) -> None:
        from vigie.settings import ApiSettings

        super().load_wsgi()
        limit = ApiSettings.from_env(os.environ).max_queue_seconds
        self._waits = threading.local()
        if limit > 0:
            self.wsgi = QueueGuard(self.wsgi, self._waits, limit)

    def enqueue_req(self, conn: Any) -> None:
        conn.vigie_queued_at = time.monotonic()
        super().enqueue_req(conn)

    def handle(self, conn: Any) -> Any:
        # Runs in the thread that took the connection: the wait ends here (reading
        # a slow client's request afterwards is not queueing).
        self._waits.seconds = time.monotonic() - getattr(conn, "vigie_queued_at", time.monotonic())
        return super().handle(conn)


def __getattr__(name: str) -> Any:
    # gunicorn loads a worker class with getattr on its module: the gevent one is
    # defined on first access, so the API's processes never import gevent.
    if name == "GeventWorker":
        from gunicorn.workers.ggevent import GeventWorker as GunicornGeventWorker

        class GeventWorker(JsonErrors, GunicornGeventWorker):
            """gunicorn's gevent worker, for the relay (Procfile ``realtime``)."""

        GeventWorker.__module__ = __name__
        globals()["GeventWorker"] = GeventWorker
        return GeventWorker
    raise AttributeError(name)
