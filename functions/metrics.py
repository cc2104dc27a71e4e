"""Metrics: ingest one sample or a batch (collector), latest sample (dashboard)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from flask import Blueprint, jsonify
from psycopg.types.json import Jsonb

from . import auth
from .app import lazy_app
from .db import connection
from .errors import ApiError, invalid, not_found
from .requests import check_id, parse_body
from .schemas import MetricBatch, MetricSample, MetricValues

bp = Blueprint("metrics", __name__, url_prefix="/api/metrics")

SAMPLE_FIELDS = list(MetricValues.model_fields)
# Compared with the token of a request for a server that does not exist; no token
# hashes to it.
UNKNOWN_SERVER_HASH = bytes(32)


def alert_defaults_json() -> str:
    return json.dumps(auth.settings().alert_defaults)


def store(server_id: int, samples: list[dict]) -> dict:
    """Store samples for a server whose ingest token the request carries.

    One transaction: the token check, the rows, the server's last_seen and a single
    NOTIFY (in vigie_ingest), and the alert evaluation of the new samples (a trigger
    on metrics, sql/021). Returns vigie_ingest's row."""
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
        if not auth.matches_hash(token, stored_hash) or row is None:
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
    limit = auth.settings().max_batch
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


def rate_mb_s(current: dict, previous: dict | None, counter: str) -> float | None:
    """MiB/s between two samples of a cumulative counter. A counter that went
    down was reset (host reboot, interface reset) and restarted from zero."""
    if previous is None:
        return None
    seconds = (current["recorded_at"] - previous["recorded_at"]).total_seconds()
    if seconds <= 0:
        return None
    delta = current[counter] - previous[counter]
    if delta < 0:
        delta = current[counter]
    return round(delta / seconds, 6)


@bp.get("/current/<int:server_id>")
@auth.dashboard_read
def current(server_id: int):
    check_id(server_id)
    with connection() as conn:
        rows = conn.execute(
            f"""SELECT id, recorded_at, {", ".join(SAMPLE_FIELDS)} FROM metrics
                 WHERE server_id = %s ORDER BY recorded_at DESC LIMIT 2""",  # noqa: S608
            [server_id],
        ).fetchall()
        if not rows:
            exists = conn.execute("SELECT 1 FROM servers WHERE id = %s", [server_id]).fetchone()
            if exists is None:
                raise not_found(f"server {server_id}")
            raise ApiError(404, "no_metrics", f"server {server_id} has sent no metrics yet")
    latest, previous = rows[0], rows[1] if len(rows) > 1 else None
    return jsonify(
        {
            "server_id": server_id,
            **latest,
            "network_sent_mb_s": rate_mb_s(latest, previous, "network_sent_mb"),
            "network_recv_mb_s": rate_mb_s(latest, previous, "network_recv_mb"),
        }
    )


# `functions.metrics:app` (WSGI) and `functions.metrics:handler` (Lambda): this group alone.
__getattr__ = lazy_app(bp)
