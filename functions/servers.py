"""Servers: register (collector), list and detail (dashboard), rename, tag and
remove (admin)."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, jsonify

from vigie.tokens import hash_token
from vigie.wire import isoformat

from . import auth
from .db import connection
from .errors import invalid, not_found
from .requests import check_id, parse_body, query_arg
from .schemas import TAG_PATTERN, TAG_RULE, RegisterRequest, ServerUpdate

bp = Blueprint("servers", __name__, url_prefix="/api/servers")

SERVER_COLUMNS = """
    s.id, s.name, s.hostname, s.machine_id, s.ip_address, s.os_type, s.created_at,
    s.last_seen, s.is_active, s.interval_seconds,
    s.latest_cpu AS cpu_percent, s.latest_ram AS ram_percent, s.latest_disk AS disk_percent,
    s.latest_at, s.latest_load, s.fs_names[s.latest_fs_id] AS fs_mount, s.latest_fs_percent,
    s.tags,
    x.id AS silence_id, x.ends_at AS silence_ends_at, x.reason AS silence_reason,
    x.tag AS silence_tag
"""
# The latest sample of each server is kept in its row by the write path
# (sql/routines/ingest.sql): the list reads one row per server. Over daily
# partitions, "the newest sample of every server" would probe each partition's
# index once per server. The silence shown is the active one that ends last.
#
# One server: its silence looked up beside it.
SERVER_QUERY = f"""
SELECT {SERVER_COLUMNS}
  FROM servers s
  LEFT JOIN LATERAL (
        SELECT x.id, x.ends_at, x.reason, x.tag FROM silences x
         WHERE (x.server_id = s.id OR x.tag = ANY (s.tags))
           AND x.starts_at <= now() AND x.ends_at > now()
         ORDER BY x.ends_at DESC, x.id DESC LIMIT 1) x ON true
"""  # noqa: S608 - constant text, no user input
# The list: the active silences are read once, matched to servers by id and by
# tag in two hash joins, and the last-ending one kept per server; a lookup per
# server would scan the silences 5,000 times (bench/operations.py).
LIST_QUERY = f"""
WITH active AS MATERIALIZED (
        SELECT a.id, a.server_id, a.tag, a.ends_at, a.reason FROM silences a
         WHERE a.starts_at <= now() AND a.ends_at > now()),
     covering AS (
        SELECT DISTINCT ON (c.server_id) c.server_id, c.id, c.ends_at, c.reason, c.tag
          FROM (SELECT a.server_id, a.id, a.ends_at, a.reason, a.tag
                  FROM active a WHERE a.server_id IS NOT NULL
                UNION ALL
                SELECT t.id, a.id, a.ends_at, a.reason, a.tag
                  FROM active a
                  JOIN (SELECT st.id, unnest(st.tags) AS tag FROM servers st) t
                    ON t.tag = a.tag) c
         ORDER BY c.server_id, c.ends_at DESC, c.id DESC)
SELECT {SERVER_COLUMNS}
  FROM servers s
  LEFT JOIN covering x ON x.server_id = s.id
"""  # noqa: S608 - constant text, no user input


def fullest(mount: str | None, percent: float | None) -> dict | None:
    """The fullest filesystem of the newest sample that reported filesystems."""
    return None if mount is None else {"mount": mount, "percent": percent}


def server_json(row: dict) -> dict:
    latest = None
    if row["latest_at"] is not None:
        latest = {
            "cpu_percent": row["cpu_percent"],
            "ram_percent": row["ram_percent"],
            "disk_percent": row["disk_percent"],
            "recorded_at": row["latest_at"],
            "load_per_core": row["latest_load"],
            "fs_fullest": fullest(row["fs_mount"], row["latest_fs_percent"]),
        }
    silence = None
    if row["silence_id"] is not None:
        silence = {
            "id": row["silence_id"],
            "ends_at": row["silence_ends_at"],
            "reason": row["silence_reason"],
            "tag": row["silence_tag"],
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
    return {**{k: row[k] for k in keys}, "latest": latest, "tags": row["tags"], "silence": silence}


def read_server(conn: Any, server_id: int) -> dict:
    row = conn.execute(SERVER_QUERY + " WHERE s.id = %s", [server_id]).fetchone()
    if row is None:
        raise not_found(f"server {server_id}")
    return server_json(row)


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
    where, params = [], {}
    tag = query_arg("tag")
    if tag is not None:
        if not re.fullmatch(TAG_PATTERN, tag):
            raise invalid("tag", TAG_RULE)
        where.append("%(tag)s::text = ANY (s.tags)")
        params["tag"] = tag
    shared = auth.shared_ids()
    if shared is not None:
        where.append("s.id = ANY (%(shared)s::integer[])")
        params["shared"] = shared
    sql = LIST_QUERY + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY s.id"
    with connection() as conn:
        rows = conn.execute(sql, params).fetchall()
    return jsonify([server_json(r) for r in rows])


@bp.get("/<int:server_id>")
@auth.dashboard_read
def get_server(server_id: int):
    check_id(server_id)
    with connection() as conn:
        return jsonify(read_server(conn, server_id))


@bp.patch("/<int:server_id>")
def update_server(server_id: int):
    auth.require_admin()
    check_id(server_id)
    body = parse_body(ServerUpdate)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    with connection() as conn:
        row = conn.execute(
            """UPDATE servers SET name = coalesce(%(name)s, name),
                                  tags = coalesce(%(tags)s::text[], tags)
                WHERE id = %(id)s
            RETURNING id, name, tags, is_active, last_seen""",
            {"id": server_id, "name": changes.get("name"), "tags": changes.get("tags")},
        ).fetchone()
        if row is None:
            raise not_found(f"server {server_id}")
        # Announced with what the dashboards show of it, once committed.
        event = {
            "kind": "server",
            "server_id": server_id,
            "event": "updated",
            "name": row["name"],
            "tags": row["tags"],
            "is_active": row["is_active"],
            "last_seen": isoformat(row["last_seen"]) if row["last_seen"] else None,
        }
        conn.execute("SELECT pg_notify('vigie_events', %s)", [json.dumps(event)])
        return jsonify(read_server(conn, server_id))


@bp.delete("/<int:server_id>")
def delete_server(server_id: int):
    auth.require_admin()
    check_id(server_id)
    with connection() as conn:
        found = conn.execute("SELECT vigie_delete_server(%s) AS found", [server_id]).fetchone()
    if not found["found"]:
        raise not_found(f"server {server_id}")
    return "", 204
