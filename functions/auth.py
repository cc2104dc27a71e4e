"""Tokens: enrollment (register), per-server ingest, optional dashboard reads,
admin (operating Vigie), and share links (reading some servers only).

Tokens travel as ``Authorization: Bearer <token>``. Ingest tokens are random,
shown once at registration and stored as their SHA-256; every comparison is
constant-time.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, g, request

from vigie.settings import Settings
from vigie.tokens import hash_token, same_token

from .db import connection
from .errors import ApiError

INGEST_PREFIX = "vgi_"
SHARE_PREFIX = "vgs_"
MAX_SERVER_ID = 2**31 - 1


def new_ingest_token() -> str:
    return INGEST_PREFIX + secrets.token_urlsafe(32)


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def require_bearer(what: str) -> str:
    token = bearer_token()
    if token is None:
        raise ApiError(
            401,
            "missing_token",
            f"this request needs {what} in an 'Authorization: Bearer <token>' header",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token


def settings() -> Settings:
    return current_app.config["VIGIE"]


# The tokens a request may need beyond reading: the ApiSettings field that holds
# it, how messages name it, and what is off while it is unset (its error code, the
# action, the variable that enables it).
TOKENS = {
    "enrollment": ("enroll_token", "the enrollment token", "registration_disabled",
                   "registration", "VIGIE_ENROLL_TOKEN"),
    "admin": ("admin_token", "the admin token", "admin_disabled",
              "operating Vigie (servers, alert rules, silences, share links)",
              "VIGIE_ADMIN_TOKEN"),
}  # fmt: skip


def require_token(kind: str) -> None:
    """The request carries that token as its bearer token (403 otherwise); while its
    setting is unset, what it allows is off on this server."""
    field, what, code, action, variable = TOKENS[kind]
    expected = getattr(settings().api, field)
    if not expected:
        raise ApiError(
            403, code, f"{action} is disabled on this server: set {variable} to enable it"
        )
    if not same_token(require_bearer(what), expected):
        raise ApiError(403, "invalid_token", f"{what} is not valid")


def require_enrollment() -> None:
    require_token("enrollment")


def require_admin() -> None:
    """Every change (servers, alert rules, silences, share links) needs
    VIGIE_ADMIN_TOKEN, and is off while it is unset."""
    require_token("admin")


def new_share_token() -> str:
    return SHARE_PREFIX + secrets.token_urlsafe(32)


# What a share link reads: these endpoints, for its servers only (a view with a
# `server_id` is refused for any other server; the lists are filtered by
# `shared_ids`). Anything else is refused.
SHARED_ENDPOINTS = frozenset({
    "servers.list_servers", "servers.get_server", "metrics.current", "history.history",
    "fleet.fleet_history", "alerts.all_alerts", "alerts.server_alerts",
})  # fmt: skip

# The servers of a share link: its server, or the servers with its tag.
SHARE_COVERS = "(s.id = %(share_server)s OR %(share_tag)s::text = ANY (s.tags))"


def read_share(token: str) -> dict:
    """The share link whose secret this is, while it works (403 otherwise)."""
    with connection() as conn:
        row = conn.execute(
            """SELECT id, server_id, tag FROM shares
                WHERE token_hash = %s AND revoked_at IS NULL AND expires_at > now()""",
            [hash_token(token)],
        ).fetchone()
    if row is None:
        raise ApiError(403, "invalid_token", "this share link is not valid (revoked or expired)")
    return {"share_id": row["id"], "share_server": row["server_id"], "share_tag": row["tag"]}


def shared_ids(ids: list[int] | None = None) -> list[int] | None:
    """For a request made with a share link: the servers it reads (of ``ids``,
    when given), in id order; None for any other request (no limit)."""
    share = g.get("share")
    if share is None:
        return ids
    with connection() as conn:
        rows = conn.execute(
            f"SELECT s.id FROM servers s WHERE {SHARE_COVERS}"  # noqa: S608 - constant
            " AND (%(ids)s::integer[] IS NULL OR s.id = ANY (%(ids)s::integer[])) ORDER BY s.id",
            {**share, "ids": ids},
        ).fetchall()
    return [r["id"] for r in rows]


def _shared_read(token: str, kwargs: dict[str, Any]) -> None:
    share = read_share(token)
    if request.endpoint not in SHARED_ENDPOINTS:
        raise ApiError(403, "forbidden", "a share link reads only its servers' pages")
    g.share = share
    server_id = kwargs.get("server_id")
    if server_id is not None and (
        server_id > MAX_SERVER_ID or server_id not in (shared_ids([server_id]) or [])
    ):
        raise ApiError(403, "forbidden", "this share link does not cover that server")


def dashboard_read(view: Callable[..., Any]) -> Callable[..., Any]:
    """Reads need the dashboard token when VIGIE_DASHBOARD_TOKEN is set; a share
    link's token reads its servers only, whether it is set or not."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        given = bearer_token()
        if given is not None and given.startswith(SHARE_PREFIX):
            _shared_read(given, kwargs)
            return view(*args, **kwargs)
        expected = settings().api.dashboard_token
        if expected:
            given = require_bearer("the dashboard token")
            # The admin token reads too: whoever may change the rules may see them.
            admin = settings().api.admin_token
            if not same_token(given, expected) and not (admin and same_token(given, admin)):
                raise ApiError(403, "invalid_token", "the dashboard token is not valid")
        return view(*args, **kwargs)

    return wrapper
