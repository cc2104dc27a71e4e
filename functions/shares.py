"""Share links: read-only access to one server (or the servers with a tag) until
an expiry, for whoever has the link, without any other token. The link's secret
is shown once and stored as its SHA-256; a revoked or expired link stops at once
(the relay disconnects its sockets, told by NOTIFY)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from flask import Blueprint, jsonify, request

from vigie.tokens import hash_token

from . import auth
from .db import connection
from .errors import invalid, not_found
from .requests import check_row_id, exactly_one, parse_body, parse_end
from .schemas import ShareCreate

bp = Blueprint("shares", __name__, url_prefix="/api/shares")

COLUMNS = "id, server_id, tag, label, expires_at, created_at"


def share_base() -> str:
    """Where the dashboard is: VIGIE_PUBLIC_URL, else the origin the request came
    from (the dashboard's page), else the API's own."""
    configured = auth.settings().api.public_url
    if configured:
        return configured
    origin = request.headers.get("Origin", "").strip()
    if origin.startswith(("http://", "https://")):
        return origin.rstrip("/")
    return request.host_url.rstrip("/")


@bp.post("")
def create_share():
    auth.require_admin()
    body = parse_body(ShareCreate)
    exactly_one("server_id", body.server_id, "tag", body.tag)
    now = datetime.now(UTC)
    expires_at = parse_end(now, "expires_in", body.expires_in, "expires_at", body.expires_at)
    label = body.label.strip() if body.label is not None else None
    token = auth.new_share_token()
    with connection() as conn:
        if body.server_id is not None and (
            conn.execute("SELECT 1 FROM servers WHERE id = %s", [body.server_id]).fetchone() is None
        ):
            raise invalid("server_id", f"no server has the id {body.server_id}")
        row = conn.execute(
            f"""INSERT INTO shares (server_id, tag, label, token_hash, expires_at, created_at)
                VALUES (%s, %s, %s, %s, %s, %s) RETURNING {COLUMNS}""",  # noqa: S608 - constant
            [body.server_id, body.tag, label or None, hash_token(token), expires_at, now],
        ).fetchone()
    return jsonify({**row, "token": token, "url": f"{share_base()}/share/{token}"}), 201


@bp.get("")
def list_shares():
    auth.require_admin()
    with connection() as conn:
        rows = conn.execute(
            f"""SELECT {COLUMNS} FROM shares
                 WHERE revoked_at IS NULL AND expires_at > now() ORDER BY id"""  # noqa: S608
        ).fetchall()
    return jsonify(rows)


@bp.delete("/<int:share_id>")
def revoke_share(share_id: int):
    auth.require_admin()
    check_row_id(share_id, "share link")
    with connection() as conn:
        row = conn.execute(
            "UPDATE shares SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL"
            " RETURNING id",
            [share_id],
        ).fetchone()
        if row is None:
            raise not_found(f"share link {share_id}")
        # Its sockets are disconnected by every relay once this commits.
        payload = {"kind": "share", "id": share_id, "event": "revoked"}
        conn.execute("SELECT pg_notify('vigie_events', %s)", [json.dumps(payload)])
    return "", 204
