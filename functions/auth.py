"""Tokens: enrollment (register), per-server ingest, optional dashboard reads.

Tokens travel as ``Authorization: Bearer <token>``. Ingest tokens are random,
shown once at registration and stored as their SHA-256; every comparison is
constant-time.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, request

from vigie.settings import Settings
from vigie.tokens import same_token

from .errors import ApiError

INGEST_PREFIX = "vgi_"


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
    "admin": ("admin_token", "the admin token", "admin_disabled", "changing alert rules",
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
    """Changing alert rules needs VIGIE_ADMIN_TOKEN (and is off when it is unset)."""
    require_token("admin")


def dashboard_read(view: Callable[..., Any]) -> Callable[..., Any]:
    """Reads need the dashboard token when VIGIE_DASHBOARD_TOKEN is set."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        expected = settings().api.dashboard_token
        if expected:
            given = require_bearer("the dashboard token")
            # The admin token reads too: whoever may change the rules may see them.
            admin = settings().api.admin_token
            if not same_token(given, expected) and not (admin and same_token(given, admin)):
                raise ApiError(403, "invalid_token", "the dashboard token is not valid")
        return view(*args, **kwargs)

    return wrapper
