"""The application factory: ``create_app(settings, groups)`` builds the API, or
only some of its groups, and registers their blueprints.

Each group is a blueprint module (servers, metrics, history, fleet, alerts, stats,
silences, shares) that
imports only what it needs (``db``, ``auth``, ``requests``, ``schemas``,
``errors``); this module imports them, never the reverse. Every app also serves
``/api/health``, ``/api/admin`` and ``/api/openapi.json`` (``openapi``). Building an app connects to
nothing: the database is reached on the first request that needs it.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Blueprint, Flask

from vigie.settings import Settings

from . import alerts, db, errors, fleet, history, metrics, openapi, servers, shares, silences, stats
from .encoding import JSONProvider
from .requests import IdConverter

GROUPS: dict[str, Blueprint] = {
    "servers": servers.bp,
    "metrics": metrics.bp,
    "history": history.bp,
    "fleet": fleet.bp,
    "alerts": alerts.bp,
    "stats": stats.bp,
    "silences": silences.bp,
    "shares": shares.bp,
}


def create_app(settings: Settings | None = None, groups: Iterable[str] | None = None) -> Flask:
    """The API with every group, or only ``groups`` (names of GROUPS)."""
    settings = settings or Settings.from_env()
    chosen = list(GROUPS) if groups is None else list(groups)
    unknown = set(chosen) - set(GROUPS)
    if unknown:
        raise ValueError(f"unknown function group(s): {', '.join(sorted(unknown))}")
    app = Flask("vigie")
    app.json_provider_class = JSONProvider
    app.json = JSONProvider(app)
    app.config["VIGIE"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.api.max_body_bytes
    app.url_map.strict_slashes = False
    # Before any route is added: ids in paths are ASCII digits.
    app.url_map.converters["int"] = IdConverter
    db.init_app(app, settings)
    errors.register(app)
    for name in chosen:
        app.register_blueprint(GROUPS[name])
    app.register_blueprint(openapi.bp)
    return app
