"""Metrics: ingest one sample or a batch (collector), latest sample (dashboard)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from flask import Blueprint, jsonify
from psycopg.types.json import Jsonb

from vigie.tokens import matches_hash
from vigie.wire import SAMPLE_FIELDS

from . import auth
from .db import connection
from .errors import ApiError, invalid, not_found
from .requests import check_id, parse_body
from .schemas import MetricBatch, MetricSample

bp = Blueprint("metrics", __name__, url_prefix="/api/metrics")

# Compared with the token of a request for a server that does not exist; no token
# hashes to it.
UNKNOWN_SERVER_HASH = bytes(32)


def alert_defaults_json() -> str:
    return json.dumps(auth.settings().alerts.defaults)


def store(server_id: int, samples: list[dict]) -> dict:
    """Store samples for a server whose ingest token the request carries.

    One transaction: the token check, the rows, the server's last_seen and a single
    NOTIFY (in vigie_ingest), and the alert evaluation of the new samples (a trigger
    on metrics, sql/routines/alerts.sql). Returns vigie_ingest's row."""
    token = auth.require_bearer("the server's ingest token")
    with connection() as conn:
        # The token check also hands the alert defaults of this configuration to the
        # evaluation trigger, for this transaction only: no extra round trip.
        row = conn.execute(
            "SELECT token_hash, set_config('vigie.alert_defaults', %s, true) "
            "FROM servers WHERE id = %s",
            [alert_defaults_json(), server_id],
        ).fetchone()
        # An unknown server and a wrong token get the same answer, after the same
        # work: a caller without the token cannot tell which ids exist.
        stored_hash = row["token_hash"] if row is not None else UNKNOWN_SERVER_HASH
        if not matches_hash(token, stored_hash) or row is None:
            raise ApiError(
                403, "invalid_token", f"this token is not the ingest token of server {server_id}"
            )
        return conn.execute(
            "SELECT * FROM vigie_ingest(%s, %s)", [server_id, Jsonb(samples)]
        ).fetchone()


@bp.post("")
def ingest():
    auth.require_bearer("the server's ingest token")
    sample = parse_body(MetricSample)
    if sample.recorded_at is None:
        sample.recorded_at = datetime.now(UTC)
    result = store(sample.server_id, [sample.model_dump(mode="json", exclude={"server_id"})])
    duplicate = result["inserted"] == 0
    body = {"id": result["ids"][0], "recorded_at": sample.recorded_at, "duplicate": duplicate}
    return jsonify(body), 200 if duplicate else 201


@bp.post("/batch")
def ingest_batch():
    auth.require_bearer("the server's ingest token")
    batch = parse_body(MetricBatch)
    limit = auth.settings().api.max_batch
    if len(batch.samples) > limit:
        raise invalid("samples", f"at most {limit} samples per batch, got {len(batch.samples)}")
    samples = [s.model_dump(mode="json") for s in batch.samples]
    result = store(batch.server_id, samples)
    body = {
        "accepted": len(samples),
        "inserted": result["inserted"],
        "duplicates": result["duplicates"],
    }
    return jsonify(body), 201 if result["inserted"] else 200


# The latest sample, and the throughput since the one before it (the counter rule
# is the database's: vigie_counter_rate, sql/routines/rollups.sql).
CURRENT = f"""
SELECT m.id, m.recorded_at, {", ".join("m." + c for c in SAMPLE_FIELDS)},
       vigie_counter_rate(m.network_sent_mb, p.network_sent_mb, p.seconds) AS network_sent_mb_s,
       vigie_counter_rate(m.network_recv_mb, p.network_recv_mb, p.seconds) AS network_recv_mb_s
  FROM (SELECT * FROM metrics WHERE server_id = %s ORDER BY recorded_at DESC LIMIT 1) m
  LEFT JOIN LATERAL (
        SELECT p.network_sent_mb, p.network_recv_mb,
               extract(epoch FROM m.recorded_at - p.recorded_at)::float8 AS seconds
          FROM metrics p
         WHERE p.server_id = m.server_id AND p.recorded_at < m.recorded_at
         ORDER BY p.recorded_at DESC LIMIT 1) p ON true
"""  # noqa: S608 - column names are constants


@bp.get("/current/<int:server_id>")
@auth.dashboard_read
def current(server_id: int):
    check_id(server_id)
    with connection() as conn:
        row = conn.execute(CURRENT, [server_id]).fetchone()
        if row is None:
            exists = conn.execute("SELECT 1 FROM servers WHERE id = %s", [server_id]).fetchone()
            if exists is None:
                raise not_found(f"server {server_id}")
            raise ApiError(404, "no_metrics", f"server {server_id} has sent no metrics yet")
    return jsonify({"server_id": server_id, **row})
