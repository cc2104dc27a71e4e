"""The application factory, and the combined WSGI app for gunicorn.

``create_app(blueprints=...)`` builds an app with only some groups: each function
module (servers, metrics, history) exposes its own ``app`` that way.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, Flask
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
    """Times as ISO-8601 in UTC (Flask's default is an HTTP date), bytes never."""

    sort_keys = False

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, datetime):
            return isoformat(o)
        if isinstance(o, date):
            return o.isoformat()
        return DefaultJSONProvider.default(o)


def all_blueprints() -> list[Blueprint]:
    from . import history, metrics, servers

    return [servers.bp, metrics.bp, history.bp]


def create_app(
    settings: Settings | None = None, blueprints: Iterable[Blueprint] | None = None
) -> Flask:
    from .openapi import bp as meta

    settings = settings or Settings.from_env()
    app = Flask("vigie")
    app.json_provider_class = JSONProvider
    app.json = JSONProvider(app)
    app.config["VIGIE"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.url_map.strict_slashes = False
    db.init_app(app, settings)
    errors.register(app)
    for bp in blueprints if blueprints is not None else all_blueprints():
        app.register_blueprint(bp)
    app.register_blueprint(meta)
    return app


def lazy_app(blueprint: Blueprint) -> Any:
    """A module-level ``__getattr__`` that builds the module's own ``app`` on first
    access, so importing a function module builds nothing."""
    built: dict[str, Flask] = {}

    def __getattr__(name: str) -> Any:
        if name == "app":
            if "app" not in built:
                built["app"] = create_app(blueprints=[blueprint])
            return built["app"]
        raise AttributeError(name)

    return __getattr__


def __getattr__(name: str) -> Any:
    if name == "app":
        global app
        app = create_app()
        return app
    raise AttributeError(name)
