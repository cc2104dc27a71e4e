"""History: one server's samples over a time range, aggregated into buckets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, jsonify, request

from . import auth
from .app import lazy_app
from .db import connection
from .errors import ApiError, invalid, not_found
from .requests import check_id, parse_time

bp = Blueprint("history", __name__, url_prefix="/api/metrics/history")

INTERVALS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600}
# Without an interval, the smallest of these buckets that keeps a chart at or
# under MAX_AUTO_POINTS points.
AUTO_BUCKETS = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
                86400, 604800]  # fmt: skip
MAX_AUTO_POINTS = 1000
DEFAULT_RANGE = timedelta(hours=1)


def bucket_label(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def auto_bucket(span: timedelta) -> int:
    needed = span.total_seconds() / MAX_AUTO_POINTS
    return next((b for b in AUTO_BUCKETS if b >= needed), AUTO_BUCKETS[-1])


# The sample just before `from` is read too, so the first bucket's throughput has
# a previous counter value to subtract from.
HISTORY_QUERY = """
WITH samples AS (
    (SELECT recorded_at, network_sent_mb, network_recv_mb, NULL::real AS cpu_percent,
            NULL::real AS ram_percent, NULL::real AS ram_used_mb, NULL::real AS ram_total_mb,
            NULL::real AS disk_percent, NULL::real AS disk_used_gb, NULL::real AS disk_total_gb,
            false AS in_range
       FROM metrics
      WHERE server_id = %(server_id)s AND recorded_at < %(from)s
      ORDER BY recorded_at DESC LIMIT 1)
    UNION ALL
    (SELECT recorded_at, network_sent_mb, network_recv_mb, cpu_percent, ram_percent,
            ram_used_mb, ram_total_mb, disk_percent, disk_used_gb, disk_total_gb, true
       FROM metrics
      WHERE server_id = %(server_id)s AND recorded_at BETWEEN %(from)s AND %(to)s)
), steps AS (
    SELECT *,
           extract(epoch FROM recorded_at - lag(recorded_at) OVER w)::float8 AS dt,
           network_sent_mb - lag(network_sent_mb) OVER w AS d_sent,
           network_recv_mb - lag(network_recv_mb) OVER w AS d_recv
      FROM samples WINDOW w AS (ORDER BY recorded_at)
), increments AS (
    -- A counter that went down was reset (reboot) and restarted from zero.
    SELECT *,
           CASE WHEN d_sent < 0 THEN network_sent_mb ELSE d_sent END AS inc_sent,
           CASE WHEN d_recv < 0 THEN network_recv_mb ELSE d_recv END AS inc_recv
      FROM steps WHERE in_range
)
SELECT date_bin(%(bucket)s, recorded_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS recorded_at,
       count(*)::int AS samples,
       round(avg(cpu_percent)::numeric, 2)::float8 AS cpu_percent,
       max(cpu_percent)::float8 AS cpu_percent_max,
       round(avg(ram_percent)::numeric, 2)::float8 AS ram_percent,
       max(ram_percent)::float8 AS ram_percent_max,
       round(avg(ram_used_mb)::numeric, 2)::float8 AS ram_used_mb,
       max(ram_total_mb)::float8 AS ram_total_mb,
       round(avg(disk_percent)::numeric, 2)::float8 AS disk_percent,
       max(disk_percent)::float8 AS disk_percent_max,
       round(avg(disk_used_gb)::numeric, 2)::float8 AS disk_used_gb,
       max(disk_total_gb)::float8 AS disk_total_gb,
       max(network_sent_mb) AS network_sent_mb,
       max(network_recv_mb) AS network_recv_mb,
       round((sum(inc_sent) / nullif(sum(dt) FILTER (WHERE inc_sent IS NOT NULL), 0))::numeric,
             6)::float8 AS network_sent_mb_s,
       round((sum(inc_recv) / nullif(sum(dt) FILTER (WHERE inc_recv IS NOT NULL), 0))::numeric,
             6)::float8 AS network_recv_mb_s,
       round(max(inc_sent / nullif(dt, 0))::numeric, 6)::float8 AS network_sent_mb_s_max,
       round(max(inc_recv / nullif(dt, 0))::numeric, 6)::float8 AS network_recv_mb_s_max
  FROM increments
 GROUP BY 1
 ORDER BY 1
"""


@bp.get("/<int:server_id>")
@auth.dashboard_read
def history(server_id: int):
    check_id(server_id)
    now = datetime.now(UTC)
    end = parse_time("to", now)
    start = parse_time("from", end - DEFAULT_RANGE)
    if start > end:
        raise invalid("from", "must not be after to")
    interval = request.args.get("interval")
    if interval:
        if interval not in INTERVALS:
            raise invalid("interval", f"must be one of {', '.join(INTERVALS)}")
        bucket = INTERVALS[interval]
        points = (end - start).total_seconds() / bucket
        limit = auth.settings().max_history_points
        if points > limit:
            raise ApiError(
                400,
                "invalid_request",
                f"interval {interval} over this range gives {int(points)} points, "
                f"more than {limit}: choose a larger interval or a shorter range",
                [{"field": "interval", "reason": f"too small for this range (max {limit} points)"}],
            )
    else:
        bucket = auto_bucket(end - start)

    with connection() as conn:
        if conn.execute("SELECT 1 FROM servers WHERE id = %s", [server_id]).fetchone() is None:
            raise not_found(f"server {server_id}")
        rows = conn.execute(
            HISTORY_QUERY,
            {"server_id": server_id, "from": start, "to": end, "bucket": timedelta(seconds=bucket)},
        ).fetchall()
    response = jsonify(rows)
    response.headers["Vigie-Interval"] = bucket_label(bucket)
    return response


# `functions.history:app` (WSGI) and `functions.history:handler` (Lambda): this group alone.
__getattr__ = lazy_app(bp)
