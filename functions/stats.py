"""What history costs: rows and bytes per tier (raw samples and each rollup)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from . import auth
from .db import connection

bp = Blueprint("stats", __name__, url_prefix="/api/stats")


@bp.get("")
@auth.dashboard_read
def stats():
    with connection() as conn:
        tiers = conn.execute(
            """SELECT name AS tier, nullif(seconds, 0) AS bucket_seconds,
                      extract(epoch FROM keep)::bigint AS retention_seconds,
                      cutoff AS expired_before, partitions, rows, bytes
                 FROM vigie_history_stats()"""
        ).fetchall()
        maintained = conn.execute("SELECT finished_at FROM metrics_maintenance").fetchone()
    for tier in tiers:
        tier["bytes_per_row"] = round(tier["bytes"] / tier["rows"], 1) if tier["rows"] else None
    return jsonify(
        {
            "tiers": tiers,
            "total_bytes": sum(t["bytes"] for t in tiers),
            "maintained_at": maintained["finished_at"] if maintained else None,
        }
    )
