"""Fleet history: the CPU, RAM and disk of many servers over a time range, in one
request and one query (the overview's trends, up to 500 servers at a time).

The buckets are those of the history endpoint (functions/history.py), read the
same way: rollup rows where they cover whole buckets, raw samples for the parts
of the range no whole row covers (the current minute, so a trend shows it), and
the same averages. Only for every server at once: each source is read for the
whole set of ids, never server by server.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, jsonify

from . import auth
from .db import connection
from .errors import invalid
from .history import ORIGIN, TICK, piece_queries, plan, tiers_for
from .requests import MAX_ID, parse_time, query_arg, shifted
from .schemas import FLEET_INTERVALS
from .schemas import MAX_FLEET_IDS as MAX_IDS

bp = Blueprint("fleet", __name__, url_prefix="/api/metrics/fleet-history")

DEFAULT_RANGE = timedelta(minutes=30)
# Trends, not charts: a range that keeps the answer for 500 servers a few hundred
# points each.
MAX_RANGE = {"1m": timedelta(hours=6), "5m": timedelta(hours=24)}
# More digits than any id can have is not an id (and int() of a huge string is slow).
MAX_DIGITS = 20

# A server's rollups may be behind from its `rollup_from` on (they are brought up
# to date off the write path): a rollup row is used only when it ends before that
# minute, and the raw samples of the rows left out stand in for them.
TIER_PIECE = """
SELECT r.server_id, r.bucket, r.samples, r.cpu_percent_sum, r.ram_percent_sum,
       r.disk_percent_sum
  FROM {table} r JOIN servers s ON s.id = r.server_id
 WHERE r.server_id = ANY(%(ids)s::integer[]) AND r.seconds = {seconds}
   AND r.bucket >= %({start})s AND r.bucket < %({end})s
   AND r.bucket + interval '{seconds} seconds'
       <= coalesce(vigie_bucket(60, s.rollup_from), 'infinity')"""
NOT_ROLLED = """
SELECT m.server_id, m.recorded_at, 1, m.cpu_percent::float8, m.ram_percent::float8,
       m.disk_percent::float8
  FROM servers s
 CROSS JOIN LATERAL (
       SELECT * FROM metrics m
        WHERE m.server_id = s.id AND m.recorded_at < %({end})s
          AND m.recorded_at >= greatest(%({start})s,
                                        vigie_bucket({seconds}, vigie_bucket(60, s.rollup_from)))
       OFFSET 0) m
 WHERE s.id = ANY(%(ids)s::integer[]) AND s.rollup_from IS NOT NULL"""

RAW_PIECE = """
SELECT server_id, recorded_at, 1, cpu_percent::float8, ram_percent::float8,
       disk_percent::float8
  FROM metrics
 WHERE server_id = ANY(%(ids)s::integer[])
   AND recorded_at >= %({start})s AND recorded_at < %({end})s"""

# The averages as history.BUCKETS computes them, for the same values to the digit.
# Every known server gets a row, with no bucket when it has no samples in range.
FLEET = """
SELECT s.id AS server_id, b.recorded_at, b.cpu_percent, b.ram_percent, b.disk_percent
  FROM servers s
  LEFT JOIN (
        SELECT server_id,
               date_bin(%(bucket)s, t, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS recorded_at,
               round(sum(cpu_percent_sum) / sum(samples) * 100) / 100 AS cpu_percent,
               round(sum(ram_percent_sum) / sum(samples) * 100) / 100 AS ram_percent,
               round(sum(disk_percent_sum) / sum(samples) * 100) / 100 AS disk_percent
          FROM ({pieces}) AS partials (server_id, t, samples, cpu_percent_sum,
                                       ram_percent_sum, disk_percent_sum)
         GROUP BY 1, 2
  ) b ON b.server_id = s.id
 WHERE s.id = ANY(%(ids)s::integer[])
 ORDER BY s.id, b.recorded_at"""


def parse_ids() -> list[int]:
    """``ids=1,2,3``: at most MAX_IDS distinct positive ids, in the order given.
    An id no server can have (beyond 4 bytes) names no server: it is left out."""
    raw = query_arg("ids")
    if raw is None:
        raise invalid("ids", "required: the servers' ids, comma-separated (ids=1,2,3)")
    ids: dict[int, None] = {}
    for part in raw.split(","):
        text = part.strip()
        if not (text.isascii() and text.isdigit() and len(text) <= MAX_DIGITS):
            raise invalid("ids", "must be server ids separated by commas, e.g. ids=1,2,3")
        value = int(text)
        if value < 1:
            raise invalid("ids", "ids are positive integers")
        ids[value] = None
        if len(ids) > MAX_IDS:
            raise invalid("ids", f"at most {MAX_IDS} servers per request")
    return [i for i in ids if i <= MAX_ID]


def fleet_query(ids: list[int], start: datetime, end: datetime, bucket: int) -> tuple[str, dict]:
    """The SQL and parameters for the buckets of these servers' samples recorded
    in [start, end] (both included)."""
    pieces = plan(start, end + TICK, tiers_for(bucket))
    params: dict[str, Any] = {"ids": ids, "bucket": timedelta(seconds=bucket)}

    def tier(table: str, seconds: int, names: dict[str, str]) -> list[str]:
        return [TIER_PIECE.format(table=table, seconds=seconds, **names),
                NOT_ROLLED.format(seconds=seconds, **names)]  # fmt: skip

    parts = piece_queries(pieces, params, lambda names: [RAW_PIECE.format(**names)], tier)
    if not parts:  # an empty range: every known server, without buckets
        parts.append(RAW_PIECE.format(start="start_none", end="start_none"))
        params["start_none"] = start
    pieces_sql = "\nUNION ALL\n".join(f"({p})" for p in parts)
    return FLEET.format(pieces=pieces_sql), params


@bp.get("")
@auth.dashboard_read
def fleet_history():
    ids = parse_ids()
    now = datetime.now(UTC)
    end = parse_time("to", now)
    start = parse_time("from", shifted(end, -DEFAULT_RANGE))
    interval = query_arg("interval") or "1m"
    if interval not in FLEET_INTERVALS:
        raise invalid("interval", f"must be one of {', '.join(FLEET_INTERVALS)}")
    if start > end:
        raise invalid("from", "must not be after to")
    longest = MAX_RANGE[interval]
    if shifted(start, longest) < end:
        hours = int(longest.total_seconds() // 3600)
        raise invalid("from", f"the range may span at most {hours} h at interval {interval}")
    # Samples are neither older than the buckets' origin nor newer than the clock
    # skew ingest allows (as for history).
    start = max(start, ORIGIN)
    end = min(end, shifted(now, timedelta(seconds=auth.settings().api.max_clock_skew)))

    answer: list[dict] = []
    # A share link's request: of these, the servers it covers.
    ids = auth.shared_ids(ids) or []
    if not ids:
        return jsonify(answer)
    sql, params = fleet_query(ids, start, end, FLEET_INTERVALS[interval])
    with connection() as conn:
        rows = conn.execute(sql, params).fetchall()
    points: list[dict] | None = None
    current = None
    for row in rows:
        if row["server_id"] != current:
            current = row["server_id"]
            points = []
            answer.append({"server_id": current, "points": points})
        if row["recorded_at"] is not None:
            del row["server_id"]
            points.append(row)
    return jsonify(answer)
