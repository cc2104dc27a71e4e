"""Servers: register (collector), list and detail (dashboard)."""

from __future__ import annotations

import json

from flask import Blueprint, jsonify

from vigie.tokens import hash_token

from . import auth
from .db import connection
from .errors import not_found
from .requests import check_id, parse_body
from .schemas import RegisterRequest

bp = Blueprint("servers", __name__, url_prefix="/api/servers")

SERVER_COLUMNS = """
    s.id, s.name, s.hostname, s.machine_id, s.ip_address, s.os_type, s.created_at,
    s.last_seen, s.is_active, s.interval_seconds,
    s.latest_cpu AS cpu_percent, s.latest_ram AS ram_percent, s.latest_disk AS disk_percent,
    s.latest_at
"""
# The latest sample of each server is kept in its row by the write path
# (sql/routines/ingest.sql): the list reads one row per server. Over daily
# partitions, "the newest sample of every server" would probe each partition's
# index once per server.
SERVERS_QUERY = f"""
SELECT {SERVER_COLUMNS}
  FROM servers s
"""  # noqa: S608 - constant text, no user input


def server_json(row: dict) -> dict:
    latest = None
    if row["latest_at"] is not None:
        latest = {
            "cpu_percent": row["cpu_percent"],
            "ram_percent": row["ram_percent"],
            "disk_percent": row["disk_percent"],
            "recorded_at": row["latest_at"],
        }
    keys = [
        "id",
        "name",
        "hostname",
        "machine_id",
        "ip_address",
        "os_type",
        "created_at",
        "last_seen",
        "is_active",
        "interval_seconds",
    ]
    return {**{k: row[k] for k in keys}, "latest": latest}


@bp.post("/register")
def register():
    auth.require_enrollment()
    body = parse_body(RegisterRequest)
    token = auth.new_ingest_token()
    with connection() as conn:
        row = conn.execute(
            """
            INSERT INTO servers (name, hostname, machine_id, ip_address, os_type,
                                 interval_seconds, token_hash)
            VALUES (%(name)s, %(hostname)s, %(machine_id)s, %(ip_address)s, %(os_type)s,
                    %(interval_seconds)s, %(token_hash)s)
            ON CONFLICT (hostname, machine_id) DO UPDATE
               SET name = EXCLUDED.name,
                   ip_address = coalesce(EXCLUDED.ip_address, servers.ip_address),
                   os_type = coalesce(EXCLUDED.os_type, servers.os_type),
                   interval_seconds = EXCLUDED.interval_seconds,
                   token_hash = EXCLUDED.token_hash
            RETURNING id, name, created_at, hostname, machine_id, interval_seconds,
                      (xmax = 0) AS created
            """,
            {
                **body.model_dump(),
                "name": body.display_name,
                "token_hash": hash_token(token),
            },
        ).fetchone()
        if row["created"]:
            event = {"kind": "server", "server_id": row["id"], "event": "registered"}
            conn.execute("SELECT pg_notify('vigie_events', %s)", [json.dumps(event)])
    return jsonify({**row, "ingest_token": token}), 201 if row["created"] else 200


@bp.get("")
@auth.dashboard_read
def list_servers():
    with connection() as conn:
        rows = conn.execute(SERVERS_QUERY + " ORDER BY s.id").fetchall()
    return jsonify([server_json(r) for r in rows])


@bp.get("/<int:server_id>")
@auth.dashboard_read
def get_server(server_id: int):
    check_id(server_id)
    with connection() as conn:
        row = conn.execute(SERVERS_QUERY + " WHERE s.id = %s", [server_id]).fetchone()
    if row is None:
        raise not_found(f"server {server_id}")
    return jsonify(server_json(row))
