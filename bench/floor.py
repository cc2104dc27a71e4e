"""The stack's floor: the least a sample can cost through Flask, pydantic and
psycopg_pool, to measure Vigie against (bench/write_path.py, bench/fleet.py).

One route, ``POST /api/metrics``: the seed's body validated by pydantic, one
INSERT into a plain table with the seed's columns and a (server_id, recorded_at)
primary key, one ``pg_notify``, in one transaction, through a psycopg_pool pool.
No token, no alert, no rollup, no history: what any write-and-notify service pays.

    FLOOR_DATABASE_URL=postgresql://… gunicorn … bench.floor:app
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from flask import Flask, jsonify, request
from psycopg_pool import ConnectionPool
from pydantic import AwareDatetime, ConfigDict, create_model

from vigie.wire import SAMPLE_FIELDS

TABLE = """
CREATE TABLE IF NOT EXISTS floor_metrics (
    server_id        integer NOT NULL,
    recorded_at      timestamptz NOT NULL,
    cpu_percent      real NOT NULL,
    ram_percent      real NOT NULL,
    ram_used_mb      real NOT NULL,
    ram_total_mb     real NOT NULL,
    disk_percent     real NOT NULL,
    disk_used_gb     real NOT NULL,
    disk_total_gb    real NOT NULL,
    network_sent_mb  double precision NOT NULL,
    network_recv_mb  double precision NOT NULL,
    PRIMARY KEY (server_id, recorded_at)
)"""

INSERT = """
INSERT INTO floor_metrics (server_id, recorded_at, cpu_percent, ram_percent, ram_used_mb,
    ram_total_mb, disk_percent, disk_used_gb, disk_total_gb, network_sent_mb, network_recv_mb)
VALUES (%(server_id)s, %(recorded_at)s, %(cpu_percent)s, %(ram_percent)s, %(ram_used_mb)s,
    %(ram_total_mb)s, %(disk_percent)s, %(disk_used_gb)s, %(disk_total_gb)s,
    %(network_sent_mb)s, %(network_recv_mb)s)
ON CONFLICT DO NOTHING"""


# The seed's body: the sample's fields (vigie/wire.py) as plain numbers, none of
# Vigie's bounds.
Sample = create_model(
    "Sample",
    __config__=ConfigDict(extra="forbid"),
    server_id=(int, ...),
    recorded_at=(AwareDatetime | None, None),
    **{name: (float, ...) for name in SAMPLE_FIELDS},
)


def create_floor_app(database_url: str, pool_size: int = 10) -> Flask:
    pool = ConnectionPool(database_url, min_size=1, max_size=pool_size, open=True)
    with pool.connection() as conn:
        conn.execute(TABLE)
    app = Flask("floor")

    @app.post("/api/metrics")
    def ingest():
        sample = Sample.model_validate_json(request.get_data())
        values = sample.model_dump()
        values["recorded_at"] = values["recorded_at"] or datetime.now(UTC)
        with pool.connection() as conn:
            conn.execute(INSERT, values)
            conn.execute("SELECT pg_notify('floor', %s)", [str(sample.server_id)])
        return jsonify({"recorded_at": values["recorded_at"].isoformat()}), 201

    app.extensions["floor_pool"] = pool
    return app


def __getattr__(name: str):
    if name == "app":
        global app
        app = create_floor_app(os.environ["FLOOR_DATABASE_URL"])
        return app
    raise AttributeError(name)
