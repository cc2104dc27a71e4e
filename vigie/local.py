"""The local run: one process serves the dashboard, the API under ``/api`` and the
relay under ``/socket.io``, on one URL, with no proxy (``vigie run``; in production
they are separate processes, see the Procfile).

The two apps are composed by name, as gunicorn loads an app: this package imports
neither, and the relay is built first, so gevent's check (realtime/green.py) runs
before anything imports psycopg.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask, abort, send_from_directory
from werkzeug.security import safe_join
from werkzeug.utils import import_string

from .embedded import ROOT

RELAY = "realtime.relay:create_relay"
API = "functions.factory:create_app"

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
    return Path(os.environ.get("VIGIE_DASHBOARD_DIR") or ROOT / "frontend" / "dist")


def create_local() -> Flask:
    app, _, _ = import_string(RELAY)()
    api = import_string(API)()

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
    # Built when gunicorn asks for it, in the worker: importing this module builds
    # nothing.
    if name == "app":
        global app
        app = create_local()
        return app
    raise AttributeError(name)
