"""Alerts: the rules of a server (read, change) and its alerts (active, resolved).

Alerts fire and resolve in the write path (sql/routines/alerts.sql, in the ingest transaction); this
group only reads them, and changes the rules they follow.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, jsonify
from psycopg.types.json import Jsonb

from . import auth
from .db import connection
from .errors import invalid, not_found
from .requests import check_id, parse_body, query_arg
from .schemas import ALERT_STATES as STATES
from .schemas import DEFAULT_ALERT_LIMIT as DEFAULT_LIMIT
from .schemas import MAX_ALERT_LIMIT as MAX_LIMIT
from .schemas import AlertRulesUpdate

bp = Blueprint("alerts", __name__, url_prefix="/api")

METRIC_TYPES = ("cpu", "ram", "disk")

ALERT_COLUMNS = """
    a.id, a.server_id, s.name AS server_name, s.hostname, a.type,
    CASE WHEN a.resolved_at IS NULL THEN 'firing' ELSE 'resolved' END AS state,
    a.value, a.threshold, a.peak, a.started_at, a.resolved_at, a.resolved_value
"""
STATE_FILTERS = {
    "active": "a.resolved_at IS NULL",
    "resolved": "a.resolved_at IS NOT NULL",
    "all": "true",
}


def alerts_query(where: str, state: str) -> str:
    # Active first (newest first), then resolved ones, most recently resolved first.
    return f"""
        SELECT {ALERT_COLUMNS}
          FROM alerts a JOIN servers s ON s.id = a.server_id
         WHERE {where} AND {STATE_FILTERS[state]}
         ORDER BY a.resolved_at IS NULL DESC, coalesce(a.resolved_at, a.started_at) DESC, a.id DESC
         LIMIT %(limit)s
    """  # noqa: S608 - fixed fragments, no user input


def list_params(default_state: str) -> tuple[str, int]:
    state = query_arg("state") or default_state
    if state not in STATES:
        raise invalid("state", f"must be one of {', '.join(STATES)}")
    raw = (query_arg("limit") or str(DEFAULT_LIMIT)).strip()
    # ASCII digits only: int() also reads "1_0" and Arabic-Indic digits.
    if not re.fullmatch(r"[+-]?[0-9]+", raw):
        raise invalid("limit", "must be a whole number")
    limit = int(raw)
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid("limit", f"must be between 1 and {MAX_LIMIT}")
    return state, limit


@bp.get("/alerts")
@auth.dashboard_read
def all_alerts():
    state, limit = list_params("active")
    # A share link's request: the alerts of the servers it covers.
    shared = auth.shared_ids()
    where = "true" if shared is None else "a.server_id = ANY (%(shared)s::integer[])"
    with connection() as conn:
        rows = conn.execute(
            alerts_query(where, state), {"limit": limit, "shared": shared}
        ).fetchall()
    return jsonify(rows)


@bp.get("/alerts/<int:server_id>")
@auth.dashboard_read
def server_alerts(server_id: int):
    check_id(server_id)
    state, limit = list_params("all")
    with connection() as conn:
        if conn.execute("SELECT 1 FROM servers WHERE id = %s", [server_id]).fetchone() is None:
            raise not_found(f"server {server_id}")
        rows = conn.execute(
            alerts_query("a.server_id = %(server_id)s", state),
            {"server_id": server_id, "limit": limit},
        ).fetchall()
    return jsonify(rows)


def read_rules(conn: Any, server_id: int) -> dict:
    """The rules in force (overrides over the configured defaults), computed by the
    same SQL function the evaluation uses, and the overrides as PUT takes them."""
    effective = conn.execute(
        "SELECT * FROM vigie_alert_rules(%s, %s)",
        [server_id, Jsonb(auth.settings().alerts.defaults)],
    ).fetchall()
    stored = conn.execute(
        """SELECT type, threshold, for_samples, clear_margin, enabled
             FROM alert_rules WHERE server_id = %s ORDER BY type""",
        [server_id],
    ).fetchall()
    body: dict[str, Any] = {"server_id": server_id}
    for rule in effective:
        if rule["type"] == "offline":
            body["offline"] = {"enabled": rule["enabled"]}
            continue
        body[rule["type"]] = {
            "threshold": rule["threshold"],
            "for_samples": rule["for_samples"],
            "clear_margin": rule["clear_margin"],
            "clear_level": round(rule["threshold"] - rule["clear_margin"], 4),
            "enabled": rule["enabled"],
        }
    body["overrides"] = {
        row["type"]: {k: v for k, v in row.items() if k != "type" and v is not None}
        for row in stored
    }
    return body


def lock_server(conn: Any, server_id: int) -> None:
    # The same row lock the ingest takes first: a rule change and a write of this
    # server's samples never interleave.
    found = conn.execute(
        "SELECT 1 FROM servers WHERE id = %s FOR NO KEY UPDATE", [server_id]
    ).fetchone()
    if found is None:
        raise not_found(f"server {server_id}")


@bp.get("/servers/<int:server_id>/alert-rules")
@auth.dashboard_read
def get_rules(server_id: int):
    check_id(server_id)
    with connection() as conn:
        if conn.execute("SELECT 1 FROM servers WHERE id = %s", [server_id]).fetchone() is None:
            raise not_found(f"server {server_id}")
        return jsonify(read_rules(conn, server_id))


def check_levels(update: AlertRulesUpdate) -> None:
    """A clear level must stay above zero, or a firing alert could never resolve."""
    defaults = auth.settings().alerts.defaults
    for kind in METRIC_TYPES:
        rule = getattr(update, kind)
        if rule is None:
            continue
        threshold = rule.threshold if rule.threshold is not None else defaults[kind]
        margin = rule.clear_margin if rule.clear_margin is not None else defaults["clear_margin"]
        if margin >= threshold:
            field = f"{kind}.clear_margin" if rule.clear_margin is not None else f"{kind}.threshold"
            raise invalid(
                field,
                f"the clear margin ({margin:g}) must be smaller than the threshold ({threshold:g})",
            )


@bp.put("/servers/<int:server_id>/alert-rules")
def put_rules(server_id: int):
    auth.require_admin()
    check_id(server_id)
    update = parse_body(AlertRulesUpdate)
    check_levels(update)
    rows = []
    for kind in (*METRIC_TYPES, "offline"):
        rule = getattr(update, kind)
        if rule is not None:
            rows.append({"server_id": server_id, "type": kind, **rule.model_dump()})
    with connection() as conn:
        lock_server(conn, server_id)
        conn.execute("DELETE FROM alert_rules WHERE server_id = %s", [server_id])
        if rows:
            with conn.cursor() as cur:
                cur.executemany(
                    """INSERT INTO alert_rules
                           (server_id, type, threshold, for_samples, clear_margin, enabled)
                       VALUES (%(server_id)s, %(type)s, %(threshold)s, %(for_samples)s,
                               %(clear_margin)s, %(enabled)s)""",
                    [
                        {"threshold": None, "for_samples": None, "clear_margin": None, **row}
                        for row in rows
                    ],
                )
        conn.execute("SELECT vigie_alerts_rules_changed(%s)", [server_id])
        return jsonify(read_rules(conn, server_id))
