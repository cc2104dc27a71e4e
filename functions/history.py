"""History: one server's samples over a time range, aggregated into buckets.

A request is served from the coarsest rollup tier whose rows fit its buckets
(hours for 1h buckets and up, 5 minutes for 5m to 30m, minutes for 1m and 2m),
with finer data only where the range starts or ends inside one of those rows:
the finer tiers, then raw samples, for the partial first and last rows. The
rollups are brought up to date off the write path (vigie_rollup_pending,
sql/routines/rollups.sql); each server's row says from which sample on they may
be behind (`rollup_from`), and that tail, from its minute on, is read from the
raw samples: a chart has no seam and counts every sample once, rolled up yet or
not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from flask import Blueprint, current_app

from vigie.wire import (
    DEVICE_BITS,
    DEVICE_COLUMNS,
    DEVICE_LISTS,
    HOST_FIELDS,
    KIND_BITS,
    KINDS,
    rate_name,
    rate_value,
)

from . import auth
from .db import connection
from .errors import ApiError, invalid, not_found
from .requests import check_id, parse_time, query_arg, shifted
from .schemas import HISTORY_GROUPS, INTERVALS, CoreHistoryPoint

bp = Blueprint("history", __name__, url_prefix="/api/metrics/history")

# Without an interval, the smallest of these buckets that keeps a chart at or
# under MAX_AUTO_POINTS points.
AUTO_BUCKETS = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
                86400, 604800]  # fmt: skip
# 500 points fill a chart as wide as a screen, and a 1h range then reads 10 s
# buckets and a 6h range the minute rollups: every dashboard range stays fast.
MAX_AUTO_POINTS = 500
DEFAULT_RANGE = timedelta(hours=1)
# Buckets and rollup rows share this origin, so a rollup row never straddles a bucket.
ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
# Rollup tiers, coarsest first: bucket width in seconds.
TIERS = (3600, 300, 60)
RAW = 0
# Timestamps are stored to the microsecond: `to` is inclusive, ranges here are not.
TICK = timedelta(microseconds=1)


def bucket_label(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def auto_bucket(span: timedelta, at_least: int = 0) -> int:
    needed = max(span.total_seconds() / MAX_AUTO_POINTS, at_least)
    return next((b for b in AUTO_BUCKETS if b >= needed), AUTO_BUCKETS[-1])


def floor_to(moment: datetime, seconds: int) -> datetime:
    step = timedelta(seconds=seconds)
    return ORIGIN + ((moment - ORIGIN) // step) * step


def ceil_to(moment: datetime, seconds: int) -> datetime:
    start = floor_to(moment, seconds)
    return start if start == moment else start + timedelta(seconds=seconds)


@dataclass(frozen=True)
class Piece:
    """Part of a range read from one source: a rollup tier's rows whose bucket
    starts in [start, end), or raw samples recorded in [start, end)."""

    source: int  # tier width in seconds, or RAW
    start: datetime
    end: datetime


def plan(start: datetime, end: datetime, tiers: tuple[int, ...]) -> list[Piece]:
    """Cover [start, end) with the coarsest tier's whole rows, and the parts at
    either end that no whole row covers with the next finer tier (raw last)."""
    if start >= end:
        return []
    if not tiers:
        return [Piece(RAW, start, end)]
    width, finer = tiers[0], tiers[1:]
    first, last = ceil_to(start, width), floor_to(end, width)
    if first >= last:
        return plan(start, end, finer)
    return [*plan(start, first, finer), Piece(width, first, last), *plan(last, end, finer)]


def tiers_for(bucket: int, rollups: bool = True) -> tuple[int, ...]:
    """The tiers whose rows each fall inside one bucket of this width."""
    return tuple(t for t in TIERS if bucket % t == 0) if rollups else ()


# Every source yields "partial" rows with the same columns; the buckets are their
# sums, peaks and last values. A raw sample is a partial row of one sample.
PARTIAL_COLUMNS = """t, samples, cpu_percent_sum, cpu_percent_max, ram_percent_sum, ram_percent_max,
    ram_used_mb_sum, ram_total_mb_max, disk_percent_sum, disk_percent_max, disk_used_gb_sum,
    disk_total_gb_max, network_seconds, network_sent_mb_inc, network_recv_mb_inc,
    network_sent_mb_s_max, network_recv_mb_s_max, last_at, network_sent_mb_last,
    network_recv_mb_last"""

TIER_PIECE = """
SELECT bucket, samples, cpu_percent_sum, cpu_percent_max, ram_percent_sum, ram_percent_max,
       ram_used_mb_sum, ram_total_mb_max, disk_percent_sum, disk_percent_max, disk_used_gb_sum,
       disk_total_gb_max, network_seconds, network_sent_mb_inc, network_recv_mb_inc,
       network_sent_mb_s_max, network_recv_mb_s_max, last_at, network_sent_mb_last,
       network_recv_mb_last
  FROM {table}
 WHERE server_id = %(server_id)s AND seconds = {seconds}
   AND bucket >= %({start})s AND bucket < %({end})s"""

# The sample before the piece gives its first sample's counter increment. When raw
# samples before it have expired, the last counters of the minute row before it.
PREVIOUS_RAW = """
    (SELECT recorded_at, network_sent_mb, network_recv_mb FROM metrics
      WHERE server_id = %(server_id)s AND recorded_at < %({start})s
      ORDER BY recorded_at DESC LIMIT 1)"""
PREVIOUS_MINUTE = """
    UNION ALL
    (SELECT last_at, network_sent_mb_last, network_recv_mb_last FROM metrics_rollup
      WHERE server_id = %(server_id)s AND seconds = 60
        AND bucket <= %({start})s - interval '1 minute'
      ORDER BY bucket DESC LIMIT 1)"""

RAW_PIECE = """
SELECT recorded_at, 1, cpu_percent::float8, cpu_percent, ram_percent::float8, ram_percent,
       ram_used_mb::float8, ram_total_mb, disk_percent::float8, disk_percent,
       disk_used_gb::float8, disk_total_gb,
       CASE WHEN inc_sent IS NOT NULL THEN dt END, inc_sent, inc_recv,
       inc_sent / dt, inc_recv / dt, recorded_at, network_sent_mb, network_recv_mb
  FROM (
        SELECT *,
               extract(epoch FROM recorded_at - lag(recorded_at) OVER w)::float8 AS dt,
               vigie_counter_increment(network_sent_mb, lag(network_sent_mb) OVER w) AS inc_sent,
               vigie_counter_increment(network_recv_mb, lag(network_recv_mb) OVER w) AS inc_recv
          FROM (
            (SELECT recorded_at, network_sent_mb, network_recv_mb, NULL::real AS cpu_percent,
                    NULL::real AS ram_percent, NULL::real AS ram_used_mb,
                    NULL::real AS ram_total_mb, NULL::real AS disk_percent,
                    NULL::real AS disk_used_gb, NULL::real AS disk_total_gb, false AS in_piece
               FROM ({previous}) p ORDER BY recorded_at DESC LIMIT 1)
            UNION ALL
            (SELECT recorded_at, network_sent_mb, network_recv_mb, cpu_percent, ram_percent,
                    ram_used_mb, ram_total_mb, disk_percent, disk_used_gb, disk_total_gb, true
               FROM metrics
              WHERE server_id = %(server_id)s
                AND recorded_at >= %({start})s AND recorded_at < %({end})s)
          ) samples
        WINDOW w AS (ORDER BY recorded_at)
  ) increments
 WHERE in_piece"""

BUCKETS = """
SELECT date_bin(%(bucket)s, t, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS recorded_at,
       sum(samples)::int AS samples,
       round(sum(cpu_percent_sum) / sum(samples) * 100) / 100 AS cpu_percent,
       max(cpu_percent_max)::float8 AS cpu_percent_max,
       round(sum(ram_percent_sum) / sum(samples) * 100) / 100 AS ram_percent,
       max(ram_percent_max)::float8 AS ram_percent_max,
       round(sum(ram_used_mb_sum) / sum(samples) * 100) / 100 AS ram_used_mb,
       max(ram_total_mb_max)::float8 AS ram_total_mb,
       round(sum(disk_percent_sum) / sum(samples) * 100) / 100 AS disk_percent,
       max(disk_percent_max)::float8 AS disk_percent_max,
       round(sum(disk_used_gb_sum) / sum(samples) * 100) / 100 AS disk_used_gb,
       max(disk_total_gb_max)::float8 AS disk_total_gb,
       -- The counters of the bucket's last partial row: the greatest array of its
       -- time and counters (float8 keeps every microsecond apart), with no sort.
       (max(ARRAY[extract(epoch FROM last_at)::float8, network_sent_mb_last,
                  network_recv_mb_last]))[2] AS network_sent_mb,
       (max(ARRAY[extract(epoch FROM last_at)::float8, network_sent_mb_last,
                  network_recv_mb_last]))[3] AS network_recv_mb,
       round((sum(network_sent_mb_inc) / nullif(sum(network_seconds), 0))::numeric,
             6)::float8 AS network_sent_mb_s,
       round((sum(network_recv_mb_inc) / nullif(sum(network_seconds), 0))::numeric,
             6)::float8 AS network_recv_mb_s,
       round(max(network_sent_mb_s_max)::numeric, 6)::float8 AS network_sent_mb_s_max,
       round(max(network_recv_mb_s_max)::numeric, 6)::float8 AS network_recv_mb_s_max
  FROM ({pieces}) AS partials ({columns})
 GROUP BY 1
 ORDER BY 1"""

TIER_TABLES = {60: "metrics_1m", 300: "metrics_5m", 3600: "metrics_1h"}

# The answer as the database writes it: a chart of hundreds of points goes out with
# no row built in Python. Times as the API writes them (UTC, Z; buckets start on
# whole seconds), numbers as float8's shortest exact text, as the JSON encoder
# writes them.
AS_JSON = (
    "SELECT coalesce(json_agg(j ORDER BY j.recorded_at), '[]')::text AS body"  # noqa: S608 - column names
    " FROM (SELECT to_char(b.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
    " AS recorded_at, "
    + ", ".join(f"b.{name}" for name in CoreHistoryPoint.model_fields if name != "recorded_at")
    + " FROM ({query}) b) j"
)


def pieces_for(
    start: datetime, end: datetime, bucket: int, rollups: bool, rollup_from: datetime | None
) -> list[Piece]:
    """The pieces of [start, end): rollups before the server's first sample not yet
    rolled up (its minute on), raw samples from there."""
    tiers = tiers_for(bucket, rollups)
    if rollup_from is None or not tiers:
        return plan(start, end, tiers)
    cut = min(max(floor_to(rollup_from, TIERS[-1]), start), end)
    return [*plan(start, cut, tiers), *plan(cut, end, ())]


def piece_queries(
    pieces: list[Piece],
    params: dict[str, Any],
    raw: Callable[[dict[str, str]], list[str]],
    tier: Callable[[str, int, dict[str, str]], list[str]],
) -> list[str]:
    """The queries reading each piece, raw samples or a rollup tier's rows, its
    bounds added to the parameters (as %(start<i>)s and %(end<i>)s)."""
    parts = []
    for i, piece in enumerate(pieces):
        names = {"start": f"start{i}", "end": f"end{i}"}
        params[names["start"]], params[names["end"]] = piece.start, piece.end
        if piece.source == RAW:
            parts += raw(names)
        else:
            parts += tier(TIER_TABLES[piece.source], piece.source, names)
    return parts


def history_query(
    server_id: int,
    start: datetime,
    end: datetime,
    bucket: int,
    rollups: bool = True,
    rollup_from: datetime | None = None,
) -> tuple[str, dict[str, Any]]:
    """The SQL (and its parameters) for the buckets of width `bucket` seconds of
    the samples recorded in [start, end] (both included). Samples from
    `rollup_from` on are not all in the rollups yet: they are read raw."""
    pieces = pieces_for(start, end + TICK, bucket, rollups, rollup_from)
    params: dict[str, Any] = {"server_id": server_id, "bucket": timedelta(seconds=bucket)}
    previous = PREVIOUS_RAW + (PREVIOUS_MINUTE if rollups else "")

    def raw(names: dict[str, str]) -> list[str]:
        return [RAW_PIECE.format(previous=previous.format(**names), **names)]

    def tier(table: str, seconds: int, names: dict[str, str]) -> list[str]:
        return [TIER_PIECE.format(table=table, seconds=seconds, **names)]

    parts = piece_queries(pieces, params, raw, tier)
    if not parts:
        return "SELECT NULL WHERE false", params
    pieces_sql = "\nUNION ALL\n".join(f"({p})" for p in parts)
    return BUCKETS.format(pieces=pieces_sql, columns=PARTIAL_COLUMNS), params


# The wide sample's series (vigie_series_partials, sql/routines/rollups.sql): every
# piece gives partial rows per bucket and slot; the buckets are their sums, peaks
# and rates. Which slots: the host fields of the groups asked for, and the kinds
# of the device groups.
SERIES_TIER_PIECE = """
SELECT u.* FROM metrics_rollup r CROSS JOIN LATERAL vigie_series_unpack(r) u
 WHERE r.server_id = %(server_id)s AND r.seconds = {seconds}
   AND r.bucket >= %({start})s AND r.bucket < %({end})s
   AND (r.gauge_keys IS NOT NULL OR r.counter_keys IS NOT NULL)"""
SERIES_RAW_PIECE = """
SELECT * FROM vigie_series_partials(%(server_id)s, %({start})s, %({end})s)"""
SERIES_BUCKETS = """
SELECT date_bin(%(bucket)s, t, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS recorded_at, key,
       round(sum(g_sum) / nullif(sum(g_n), 0) * 100) / 100 AS value,
       max(g_max) AS value_max,
       round((sum(c_inc) / nullif(sum(c_secs), 0))::numeric, 6)::float8 AS rate,
       round(max(c_rmax)::numeric, 6)::float8 AS rate_max
  FROM ({pieces}) AS partials
 WHERE key = ANY(%(host_keys)s) OR key / {kind_bits} = ANY(%(kinds)s)
 GROUP BY 1, 2
 ORDER BY 1, 2"""

HOST_GROUPS = {
    "load": ("load_1", "load_5", "load_15", "cpu_count"),
    "cpu": ("cpu_user_percent", "cpu_system_percent", "cpu_iowait_percent", "cpu_steal_percent"),
    "swap": ("swap_used_mb", "swap_total_mb", "swap_percent", "swap_in_mb", "swap_out_mb"),
}
HOST_INDEX = {name: i for i, name in enumerate(HOST_FIELDS, start=1)}


def point_fields(name: str, kind: str) -> tuple[str, str]:
    """A device field's names in a history point: its average (a counter's rate)
    and its peak."""
    out = rate_name(name) if kind == "counter" else name
    return out, f"{out}_max"


def parse_groups() -> list[str]:
    raw = query_arg("metrics")
    if raw is None:
        return ["core"]
    groups = [g.strip() for g in raw.split(",")]
    for group in groups:
        if group not in HISTORY_GROUPS:
            raise invalid("metrics", f"{group!r} is not one of {', '.join(HISTORY_GROUPS)}")
    return list(dict.fromkeys(groups))


def series_points(conn: Any, pieces_sql: str, params: dict, groups: list[str], names: dict) -> dict:
    """Per bucket start, the fields of the wide groups asked for."""
    host_keys = [HOST_INDEX[f] for g in groups for f in HOST_GROUPS.get(g, ())]
    kinds = [KINDS.index(g) for g in groups if g in DEVICE_LISTS]
    sql = SERIES_BUCKETS.format(pieces=pieces_sql, kind_bits=KIND_BITS)
    rows = conn.execute(sql, {**params, "host_keys": host_keys, "kinds": kinds}).fetchall()
    host_names = list(HOST_FIELDS)
    points: dict[datetime, dict] = {}
    for row in rows:
        point = points.setdefault(row["recorded_at"], {})
        key = row["key"]
        kind, rest = divmod(key, KIND_BITS)
        device, field = divmod(rest, DEVICE_BITS)
        if kind == 0:
            name = host_names[field - 1]
            if HOST_FIELDS[name] == "counter":
                point[rate_name(name)] = row["rate"]
                point[rate_name(name) + "_max"] = row["rate_max"]
            else:
                point[name] = row["value"]
                point[name + "_max"] = row["value_max"]
            continue
        list_name = KINDS[kind]
        label, fields = DEVICE_LISTS[list_name]
        field_name, field_kind = list(fields.items())[field - 1]
        entries = point.setdefault(list_name, {})
        entry = entries.get(device)
        if entry is None:
            entry = entries[device] = {label: names[list_name][device - 1]}
            for name, kind in fields.items():
                for out in point_fields(name, kind):
                    entry[out] = None
        if field_kind == "counter":
            entry[rate_name(field_name)] = rate_value(field_name, row["rate"])
            entry[rate_name(field_name) + "_max"] = rate_value(field_name, row["rate_max"])
        else:
            entry[field_name] = row["value"]
            entry[field_name + "_max"] = row["value_max"]
    for point in points.values():
        for list_name in DEVICE_LISTS:
            if list_name in point:
                point[list_name] = list(point[list_name].values())
    return points


def series_sql(
    server_id: int,
    start: datetime,
    end: datetime,
    bucket: int,
    rollups: bool,
    rollup_from: datetime | None,
) -> tuple[str, dict[str, Any]]:
    pieces = pieces_for(start, end + TICK, bucket, rollups, rollup_from)
    params: dict[str, Any] = {"server_id": server_id, "bucket": timedelta(seconds=bucket)}

    def raw(names: dict[str, str]) -> list[str]:
        return [SERIES_RAW_PIECE.format(**names)]

    def tier(table: str, seconds: int, names: dict[str, str]) -> list[str]:
        return [SERIES_TIER_PIECE.format(table=table, seconds=seconds, **names)]

    parts = piece_queries(pieces, params, raw, tier)
    if not parts:
        parts = [
            "SELECT NULL::timestamptz AS t, NULL::integer AS key, NULL::boolean AS counter,"
            " NULL::float8 AS g_sum,"
            " NULL::integer AS g_n, NULL::float8 AS g_max, NULL::float8 AS c_inc,"
            " NULL::float8 AS c_secs, NULL::float8 AS c_rmax WHERE false"
        ]
    return "\nUNION ALL\n".join(f"({p})" for p in parts), params


CORE_ONLY = set(CoreHistoryPoint.model_fields) - {"recorded_at", "samples"}


@bp.get("/<int:server_id>")
@auth.dashboard_read
def history(server_id: int):
    check_id(server_id)
    now = datetime.now(UTC)
    end = parse_time("to", now)
    start = parse_time("from", shifted(end, -DEFAULT_RANGE))
    if start > end:
        raise invalid("from", "must not be after to")
    groups = parse_groups()
    interval = query_arg("interval")
    if interval is not None and interval not in INTERVALS:
        raise invalid("interval", f"must be one of {', '.join(INTERVALS)}")
    # Only this part of the range can hold samples: none is older than the buckets'
    # origin, none newer than the clock skew ingest allows. Any range asked for
    # becomes one the database can compute with (year 1 and 9999 included).
    start = max(start, ORIGIN)
    end = min(end, shifted(now, timedelta(seconds=auth.settings().api.max_clock_skew)))
    rollups = auth.settings().api.history_rollups
    if interval is not None:
        bucket = INTERVALS[interval]
        points = (end - start).total_seconds() / bucket
        limit = auth.settings().api.max_history_points
        if points > limit:
            raise ApiError(
                400,
                "invalid_request",
                f"interval {interval} over this range gives {int(points)} points, "
                f"more than {limit}: choose a larger interval or a shorter range",
                [{"field": "interval", "reason": f"too small for this range (max {limit} points)"}],
            )

    with connection() as conn:
        # One snapshot for both statements: the rollups the second reads are those
        # that the server's rollup_from, read by the first, describes.
        # Its plan made once per connection (prepared after a few requests of the same
        # shape): planning the pieces costs more than reading them.
        conn.execute(
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ;"
            " SET LOCAL plan_cache_mode = force_generic_plan"
        )
        row = conn.execute(
            """SELECT rollup_from, fs_names, disk_names, if_names, temp_names,
                      (SELECT array_agg(ARRAY[seconds::float8,
                                              extract(epoch FROM vigie_kept_from(seconds, cutoff))]
                                        ORDER BY seconds) FROM metrics_tiers) AS kept
                 FROM servers WHERE id = %s""",
            [server_id],
        ).fetchone()
        if row is None:
            raise not_found(f"server {server_id}")
        if interval is None:
            # A range that starts where finer data has expired gets buckets that the
            # data still kept can fill, rather than an empty chart.
            at_least = 0
            if rollups:
                kept = [(int(s), k) for s, k in row["kept"]]
                at_least = next((s for s, k in kept if k <= start.timestamp()), TIERS[0])
            bucket = auto_bucket(end - start, at_least)
        body = "[]"
        if start <= end:
            sql, params = history_query(server_id, start, end, bucket, rollups, row["rollup_from"])
            body = conn.execute(AS_JSON.format(query=sql), params).fetchone()["body"]
            if groups != ["core"]:
                body = with_groups(conn, body, groups, server_id, start, end, bucket, rollups, row)
    response = current_app.response_class(body, mimetype="application/json")
    response.headers["Vigie-Interval"] = bucket_label(bucket)
    return response


def with_groups(
    conn: Any,
    body: str,
    groups: list[str],
    server_id: int,
    start: datetime,
    end: datetime,
    bucket: int,
    rollups: bool,
    server: dict,
) -> str:
    """The core answer's points with the wide groups' fields (and without the core
    fields when `core` was not asked for)."""
    points = orjson.loads(body)
    names = {kind: server[DEVICE_COLUMNS[kind][2]] for kind in DEVICE_LISTS}
    pieces_sql, params = series_sql(server_id, start, end, bucket, rollups, server["rollup_from"])
    series = series_points(conn, pieces_sql, params, groups, names)
    by_start = {isoformat_z(t): values for t, values in series.items()}
    keep_core = "core" in groups
    for point in points:
        if not keep_core:
            for name in CORE_ONLY:
                point.pop(name, None)
        extra = by_start.get(point["recorded_at"], {})
        for group in groups:
            if group in DEVICE_LISTS:
                point[group] = extra.get(group, [])
            for name in HOST_GROUPS.get(group, ()):
                field = rate_name(name) if HOST_FIELDS[name] == "counter" else name
                point[field] = extra.get(field)
                point[field + "_max"] = extra.get(field + "_max")
    return orjson.dumps(points).decode()


def isoformat_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
