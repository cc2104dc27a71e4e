"""Bytes per sample on disk: the seed-only sample beside the wide one.

    .venv/bin/python bench/wide_size.py [--servers 4] [--hours 12]

Stores the same hours of samples, at 5 s, through vigie_ingest (as the API writes
them: one batch per server and hour), once seed-only and once wide (a host with 4
filesystems, 2 disks, 3 interfaces, 6 sensors, the top processes on every 6th
sample), rolls them up, and prints per sample the bytes of the raw samples (table,
indexes and TOAST) and of each rollup tier, and the rollup rows' own size.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import SAMPLE, add_servers, bench_database, options  # noqa: E402
from tests.helpers import wide_fields  # noqa: E402

# Recent enough to be within the raw retention (older ones are late backfills).
ORIGIN = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
PER_HOUR = 720
RELATIONS = {"raw": "metrics", "1m": "metrics_1m", "5m": "metrics_5m", "1h": "metrics_1h"}


def hour_of_samples(hour: int, wide: bool) -> list[dict]:
    out = []
    for k in range(PER_HOUR):
        step = hour * PER_HOUR + k
        at = ORIGIN + timedelta(seconds=5 * step)
        body = {**SAMPLE, "recorded_at": at.isoformat(),
                "cpu_percent": round(20 + (step * 7919 % 6000) / 100, 2),
                "network_sent_mb": SAMPLE["network_sent_mb"] + step * 0.37,
                "network_recv_mb": SAMPLE["network_recv_mb"] + step * 1.21}  # fmt: skip
        if wide:
            fields = wide_fields(step, top=step % 6 == 0)
            for i, fs in enumerate(fields["filesystems"]):
                fs["percent"] = round(fs["percent"] + (step * (i + 3) % 700) / 100, 2)
            for i, sensor in enumerate(fields["temperatures"]):
                sensor["celsius"] = round(sensor["celsius"] + (step * (i + 5) % 900) / 100, 2)
            body.update(fields)
        out.append(body)
    return out


def bytes_of(conn: psycopg.Connection, relation: str) -> int:
    return conn.execute(
        "SELECT coalesce(sum(pg_total_relation_size(relid)), 0) FROM pg_partition_tree(%s)",
        [relation],
    ).fetchone()[0]


def measure(url: str, servers: list[tuple[int, str]], hours: int, wide: bool) -> dict:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE metrics, metrics_rollup")
        conn.execute("UPDATE servers SET rollup_from = NULL, latest_at = NULL")
        for hour in range(hours):
            batch = json.dumps(hour_of_samples(hour, wide))
            for sid, _token in servers:
                conn.execute("SELECT * FROM vigie_ingest(%s, %s::jsonb)", [sid, batch])
        while conn.execute("SELECT vigie_rollup_pending()").fetchone()[0]:
            pass
        conn.execute("VACUUM ANALYZE metrics")
        conn.execute("VACUUM ANALYZE metrics_rollup")
        samples = conn.execute("SELECT count(*) FROM metrics").fetchone()[0]
        sizes = {tier: bytes_of(conn, rel) / samples for tier, rel in RELATIONS.items()}
        rows = {
            tier: conn.execute(f"SELECT count(*) FROM {rel}").fetchone()[0]  # noqa: S608
            for tier, rel in RELATIONS.items()
        }
        row_bytes = {
            tier: conn.execute(
                f"SELECT avg(pg_column_size(r.*)) FROM {rel} r"  # noqa: S608 - constants
            ).fetchone()[0]
            for tier, rel in RELATIONS.items()
        }
    return {"samples": samples, "bytes": sizes, "rows": rows, "row_bytes": row_bytes}


def main() -> None:
    args = options(__doc__, servers=4, hours=12)
    url = bench_database("vigie_bench_wide_size")
    servers = add_servers(url, 1, args.servers)
    results = {kind: measure(url, servers, args.hours, kind == "wide") for kind in ("seed", "wide")}
    print(f"{args.servers} servers x {args.hours} h at 5 s, on disk per sample stored "
          "(table + indexes + TOAST), and the average row:")  # fmt: skip
    print(f"  {'sample':<8}{'samples':>9}" + "".join(f"{t + ' B':>9}" for t in RELATIONS)
          + f"{'all B':>9}" + "".join(f"{t + ' row B':>11}" for t in RELATIONS))  # fmt: skip
    for kind, r in results.items():
        total = sum(r["bytes"].values())
        print(f"  {kind:<8}{r['samples']:>9,}"
              + "".join(f"{r['bytes'][t]:>9.1f}" for t in RELATIONS) + f"{total:>9.1f}"
              + "".join(f"{float(r['row_bytes'][t] or 0):>11.0f}" for t in RELATIONS))  # fmt: skip
    seed, wide = (sum(results[k]["bytes"].values()) for k in ("seed", "wide"))
    print(f"  the wide sample: {wide - seed:.0f} bytes more per sample, {wide / seed:.2f}x")


if __name__ == "__main__":
    main()
