"""The entry points that hosts load. Importing this module builds nothing and
connects to nothing: each app is built on its first request, once per process,
and a function host keeps it (and its one database connection) between
invocations.

| entry point                          | serves                                  |
|--------------------------------------|-----------------------------------------|
| ``functions.app:app``                | every group (gunicorn: the Procfile's ``web``; Vercel) |
| ``functions.app.handler``            | every group, as a Lambda-style handler  |
| ``functions.app:servers_app`` / ``functions.app.servers_handler`` | servers: register, list, |
|                                      | detail, rename, tag, remove             |
| ``metrics_app`` / ``metrics_handler``  | ingest (one sample, a batch), latest sample |
| ``history_app`` / ``history_handler``  | history                                 |
| ``fleet_app`` / ``fleet_handler``      | many servers' history at once (the overview's trends) |
| ``alerts_app`` / ``alerts_handler``    | alerts and alert rules                  |
| ``stats_app`` / ``stats_handler``      | what history costs                      |
| ``silences_app`` / ``silences_handler`` | silences (notifications held)          |
| ``shares_app`` / ``shares_handler``    | share links                             |

A handler takes API Gateway events (REST API payload 1.0, HTTP API payload 2.0)
and ALB events.
"""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask

from .factory import create_app
from .lambda_adapter import lambda_handler


class LazyApp:
    """A WSGI app built from the environment on first use (a request, or any
    attribute of the Flask app, such as ``test_client``)."""

    def __init__(self, groups: list[str] | None) -> None:
        self.groups = groups
        self._app: Flask | None = None
        self._lock = threading.Lock()

    def build(self) -> Flask:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    self._app = create_app(groups=self.groups)
        return self._app

    def __call__(self, environ: dict, start_response: Any) -> Any:
        return self.build()(environ, start_response)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.build(), name)

    def reset(self) -> None:
        """Forget the app (closing its connections): the next use reads the
        environment again."""
        app, self._app = self._app, None
        if app is not None:
            app.extensions["vigie_db"].close()


class LazyHandler:
    """A Lambda-style ``handler(event, context)`` around a LazyApp."""

    def __init__(self, app: LazyApp) -> None:
        self.app = app
        self._handler: Any = None
        self._built_for: Flask | None = None

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        flask_app = self.app.build()
        if self._built_for is not flask_app:
            self._handler, self._built_for = lambda_handler(flask_app), flask_app
        return self._handler(event, context)


def entry_points(groups: list[str] | None) -> tuple[LazyApp, LazyHandler]:
    """The WSGI app and the Lambda handler serving these groups (None: all)."""
    wsgi = LazyApp(groups)
    return wsgi, LazyHandler(wsgi)


app, handler = entry_points(None)
servers_app, servers_handler = entry_points(["servers"])
metrics_app, metrics_handler = entry_points(["metrics"])
history_app, history_handler = entry_points(["history"])
fleet_app, fleet_handler = entry_points(["fleet"])
alerts_app, alerts_handler = entry_points(["alerts"])
stats_app, stats_handler = entry_points(["stats"])
silences_app, silences_handler = entry_points(["silences"])
shares_app, shares_handler = entry_points(["shares"])
