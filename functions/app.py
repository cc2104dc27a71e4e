"""The application factory, and the entry points the hosts load.

``create_app(blueprints=...)`` builds an app with only some groups. Every function
module (servers, metrics, history, alerts) exposes, built on first access:

- ``app``: that group alone as a WSGI app (gunicorn, Vercel, any WSGI host);
- ``handler``: the same app as a Lambda-style ``handler(event, context)`` for API
  Gateway (REST API v1 and HTTP API v2 payloads) or an ALB.

``functions.app:app`` and ``functions.app:handler`` serve every group at once.
Importing any of these modules builds nothing and connects to nothing: a cold
start pays for an app only when the host asks for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any

import orjson
from flask import Blueprint, Flask, Response
from flask.json.provider import DefaultJSONProvider

from . import db, errors
from .config import Settings


def isoformat(value: datetime) -> str:
    """ISO-8601 in UTC with the shortest exact fraction: ...:05Z, ...:05.678Z."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    if value.microsecond % 1000:
        timespec = "microseconds"
    elif value.microsecond:
        timespec = "milliseconds"
    else:
        timespec = "seconds"
    return value.isoformat(timespec=timespec).replace("+00:00", "Z")


class JSONProvider(DefaultJSONProvider):
    """JSON through orjson (a history answer of 500 points encodes several
    times faster than with the standard library), times as ISO-8601 in UTC (Flask's default is an
    HTTP date), and whatever orjson does not know as Flask's default encodes it."""

    sort_keys = False
    OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, datetime):
            return isoformat(o)
        if isinstance(o, date):
            return o.isoformat()
        return DefaultJSONProvider.default(o)

    def encode(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(obj, default=self.default, option=self.OPTIONS)
        except TypeError:
            # An integer beyond 64 bits (a client may send one; an error echoes it):
            # the standard library writes it.
            return super().dumps(obj).encode()

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return self.encode(obj).decode()

    def response(self, *args: Any, **kwargs: Any) -> Response:
        body = self.encode(self._prepare_response_obj(args, kwargs))
        return self._app.response_class(body, mimetype=self.mimetype)


def all_blueprints() -> list[Blueprint]:
    from . import alerts, history, metrics, servers, stats

    return [servers.bp, metrics.bp, history.bp, alerts.bp, stats.bp]


def create_app(
    settings: Settings | None = None, blueprints: Iterable[Blueprint] | None = None
) -> Flask:
    from .openapi import bp as meta
    from .requests import IdConverter

    settings = settings or Settings.from_env()
    app = Flask("vigie")
    app.json_provider_class = JSONProvider
    app.json = JSONProvider(app)
    app.config["VIGIE"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.url_map.strict_slashes = False
    # Before any route is added: ids in paths are ASCII digits.
    app.url_map.converters["int"] = IdConverter
    db.init_app(app, settings)
    errors.register(app)
    for bp in blueprints if blueprints is not None else all_blueprints():
        app.register_blueprint(bp)
    app.register_blueprint(meta)
    return app


class EntryPoints:
    """A module-level ``__getattr__`` giving the module its ``app`` and ``handler``.

    Both are built on first access, once per process: a function host keeps them
    (and the app's one database connection) between invocations."""

    def __init__(self, blueprints: list[Blueprint] | None) -> None:
        self.blueprints = blueprints
        self.built: dict[str, Any] = {}

    def __call__(self, name: str) -> Any:
        if name == "app":
            if "app" not in self.built:
                self.built["app"] = create_app(blueprints=self.blueprints)
            return self.built["app"]
        if name == "handler":
            if "handler" not in self.built:
                self.built["handler"] = lambda_handler(self("app"))
            return self.built["handler"]
        raise AttributeError(name)

    def reset(self) -> None:
        """Forget what was built (closing its database connections): the next
        access reads the environment again."""
        app = self.built.pop("app", None)
        self.built.clear()
        if app is not None:
            app.extensions["vigie_db"].close()


def lazy_app(blueprint: Blueprint) -> EntryPoints:
    """The ``__getattr__`` of a function module serving ``blueprint`` alone."""
    return EntryPoints([blueprint])


LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def lambda_handler(app: Flask) -> LambdaHandler:
    """``handler(event, context)`` for AWS Lambda behind API Gateway or an ALB.

    apig-wsgi turns the event into a WSGI request and the response back into the
    dict API Gateway expects, for both payload versions (1.0 and 2.0)."""
    from apig_wsgi import make_lambda_handler

    wsgi_handler = make_lambda_handler(app)

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return wsgi_handler(without_stage(event), context)

    return handler


def without_stage(event: dict[str, Any]) -> dict[str, Any]:
    """An HTTP API (payload 2.0) on a named stage puts the stage in ``rawPath``
    (``/prod/api/servers``), where the routes are ``/api/...``; the default stage
    and REST APIs (payload 1.0, whose ``path`` has no stage) need nothing."""
    if event.get("version") != "2.0":
        return event
    stage = (event.get("requestContext") or {}).get("stage") or "$default"
    prefix = f"/{stage}/"
    raw_path = event.get("rawPath", "")
    if stage == "$default" or not raw_path.startswith(prefix):
        return event
    return {**event, "rawPath": raw_path[len(prefix) - 1 :]}


# `functions.app:app` and `functions.app:handler` serve every group.
__getattr__ = EntryPoints(None)
