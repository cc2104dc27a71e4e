"""Silences: hold a server's notifications (or those of every server with a tag)
for a while, with a reason. Alerts are still evaluated, stored and shown; the
relay's sender holds their notifications while a silence covers the server
(realtime/webhooks.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from flask import Blueprint, jsonify

from . import auth
from .db import connection
from .errors import invalid, not_found
from .requests import check_row_id, exactly_one, parse_body, parse_end
from .schemas import SilenceCreate

bp = Blueprint("silences", __name__, url_prefix="/api/silences")

COLUMNS = "id, server_id, tag, starts_at, ends_at, reason, created_at"


def announce(conn, silence_id: int, event: str) -> None:
    # The relay's sender wakes up: a silence that ends releases what it held.
    payload = {"kind": "silence", "id": silence_id, "event": event}
    conn.execute("SELECT pg_notify('vigie_events', %s)", [json.dumps(payload)])


@bp.post("")
def create_silence():
    auth.require_admin()
    body = parse_body(SilenceCreate)
    exactly_one("server_id", body.server_id, "tag", body.tag)
    now = datetime.now(UTC)
    ends_at = parse_end(now, "duration", body.duration, "until", body.until)
    if not body.reason.strip():
        raise invalid("reason", "must not be blank")
    with connection() as conn:
        if body.server_id is not None and (
            conn.execute("SELECT 1 FROM servers WHERE id = %s", [body.server_id]).fetchone() is None
        ):
            raise invalid("server_id", f"no server has the id {body.server_id}")
        row = conn.execute(
            f"""INSERT INTO silences (server_id, tag, starts_at, ends_at, reason)
                VALUES (%s, %s, %s, %s, %s) RETURNING {COLUMNS}""",  # noqa: S608 - constant
            [body.server_id, body.tag, now, ends_at, body.reason.strip()],
        ).fetchone()
        announce(conn, row["id"], "created")
    return jsonify(row), 201


@bp.get("")
@auth.dashboard_read
def list_silences():
    with connection() as conn:
        rows = conn.execute(
            f"""SELECT {COLUMNS} FROM silences
                 WHERE starts_at <= now() AND ends_at > now()
                 ORDER BY ends_at, id"""  # noqa: S608 - constant
        ).fetchall()
    return jsonify(rows)


@bp.delete("/<int:silence_id>")
def end_silence(silence_id: int):
    auth.require_admin()
    check_row_id(silence_id, "active silence")
    with connection() as conn:
        row = conn.execute(
            """UPDATE silences SET ends_at = greatest(now(), starts_at)
                WHERE id = %s AND ends_at > now() RETURNING id""",
            [silence_id],
        ).fetchone()
        if row is None:
            raise not_found(f"active silence {silence_id}")
        announce(conn, silence_id, "ended")
    return "", 204
