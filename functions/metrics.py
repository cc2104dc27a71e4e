"""Metrics: ingest one sample or a batch (collector), latest sample (dashboard)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import psycopg
from flask import Blueprint, jsonify

from vigie.settings import AlertSettings
from vigie.tokens import hash_token
from vigie.wire import (
    DEVICE_LISTS,
    DICTIONARY_COLUMNS,
    SAMPLE_FIELDS,
    WIDE_COLUMNS,
    WIDE_FIELDS,
    wide_sample,
)

from . import auth
from .db import connection, writer
from .errors import ApiError, invalid, not_found
from .requests import check_id, parse_body
from .schemas import MetricBatch, MetricSample

bp = Blueprint("metrics", __name__, url_prefix="/api/metrics")

# The columns vigie_ingest takes, one array each, in its order (the fields' order,
# tests/test_ingest.py checks), and their types there.
COLUMNS = ("recorded_at", *SAMPLE_FIELDS)
ARRAYS = ["timestamptz[]"] + [
    "double precision[]" if kind == "counter" else "real[]" for kind in SAMPLE_FIELDS.values()
]
# Then the wide fields of the samples, as one JSON array (null for a seed-only
# sample), or NULL when no sample has any; vigie_json_rows (sql/routines/ingest.sql)
# makes it the jsonb[] vigie_ingest takes. (A list of JSON strings adapted as an
# array would have every quote of every sample escaped on the client.)
INGEST = "SELECT * FROM vigie_ingest(%s, %s, %s::jsonb, {}, vigie_json_rows(%s::jsonb))".format(  # noqa: S608 - constants
    ", ".join(f"%s::{t}" for t in ARRAYS)
)
# One sample: its values as plain parameters, made one-element arrays by the
# database (adapting lists costs the client more than the rest of the request).
INGEST_ONE = "SELECT * FROM vigie_ingest(%s, %s, %s::jsonb, {}, vigie_json_rows(%s::jsonb))".format(  # noqa: S608
    ", ".join(f"ARRAY[%s::{t[:-2]}]" for t in ARRAYS)
)
# One sample without wide fields (the live write): vigie_ingest_live, its values as
# plain parameters.
INGEST_LIVE = "SELECT * FROM vigie_ingest_live(%s, %s, %s::jsonb, {})".format(  # noqa: S608
    ", ".join(f"%s::{t[:-2]}" for t in ARRAYS)
)
WIDE = set(WIDE_FIELDS)


def wide_json(sample: Any) -> str | None:
    """A sample's wide fields as vigie_ingest takes them; None when it has none."""
    if all(getattr(sample, name) is None for name in WIDE_FIELDS):
        return None
    return sample.model_dump_json(include=WIDE, exclude_none=True)


def wide_rows(samples: list[Any]) -> str | None:
    """The samples' wide fields as one JSON array, null for a seed-only sample;
    None when no sample has any."""
    wide = [wide_json(s) for s in samples]
    if all(w is None for w in wide):
        return None
    return "[" + ",".join("null" if w is None else w for w in wide) + "]"


def check_devices(sample: Any, prefix: str = "") -> None:
    """Each device list names a device once (the names are its dictionary's keys)."""
    for name, (key, _values) in DEVICE_LISTS.items():
        seen: set[str] = set()
        for i, entry in enumerate(getattr(sample, name) or []):
            value = getattr(entry, key)
            if value in seen:
                raise invalid(f"{prefix}{name}[{i}].{key}", f"repeats {value!r}: names are unique")
            seen.add(value)


@lru_cache(maxsize=8)
def defaults_json(alerts: AlertSettings) -> str:
    """The default alert rules as vigie_ingest takes them, written once per process."""
    return json.dumps(alerts.defaults)


def store(server_id: int, token: str, samples: list[Any]) -> dict:
    """Store samples for a server whose ingest token the request carries.

    One statement, one round trip (vigie_ingest, or vigie_ingest_live for a live
    sample; sql/routines/ingest.sql): the token check, the rows, the server's row,
    the write log, the alert evaluation when a value may change an alert, and one
    NOTIFY. An unknown server and a wrong token get the same answer, after the same
    work: a caller without the token cannot tell which ids exist."""
    head = [server_id, hash_token(token), defaults_json(auth.settings().alerts)]
    wide_values = wide_rows(samples)
    try:
        if len(samples) == 1:
            # A live sample: committed with the ones arriving beside it
            # (functions/grouping.py).
            values = [getattr(samples[0], c) for c in COLUMNS]
            if wide_values is None:
                return writer().execute(INGEST_LIVE, [*head, *values])
            return writer().execute(INGEST_ONE, [*head, *values, wide_values])
        with connection(autocommit=True) as conn:
            values = [[getattr(s, c) for s in samples] for c in COLUMNS]
            return conn.execute(INGEST, [*head, *values, wide_values]).fetchone()
    except psycopg.errors.InvalidAuthorizationSpecification:
        raise ApiError(
            403, "invalid_token", f"this token is not the ingest token of server {server_id}"
        ) from None


@bp.post("")
def ingest():
    token = auth.require_bearer("the server's ingest token")
    sample = parse_body(MetricSample)
    check_devices(sample)
    if sample.recorded_at is None:
        sample.recorded_at = datetime.now(UTC)
    result = store(sample.server_id, token, [sample])
    duplicate = result["inserted"] == 0
    body = {"id": result["ids"][0], "recorded_at": sample.recorded_at, "duplicate": duplicate}
    return jsonify(body), 200 if duplicate else 201


@bp.post("/batch")
def ingest_batch():
    token = auth.require_bearer("the server's ingest token")
    batch = parse_body(MetricBatch)
    limit = auth.settings().api.max_batch
    if len(batch.samples) > limit:
        raise invalid("samples", f"at most {limit} samples per batch, got {len(batch.samples)}")
    for i, sample in enumerate(batch.samples):
        check_devices(sample, f"samples[{i}].")
    result = store(batch.server_id, token, batch.samples)
    body = {
        "accepted": len(batch.samples),
        "inserted": result["inserted"],
        "duplicates": result["duplicates"],
    }
    return jsonify(body), 201 if result["inserted"] else 200


# The latest sample, and the throughput since the one before it (the counter rule
# is the database's: vigie_sample_rates and vigie_series_rates, sql/routines/
# rollups.sql); the server's device dictionary, and the latest top processes.
CURRENT = f"""
SELECT m.id, m.recorded_at, {", ".join("m." + c for c in (*SAMPLE_FIELDS, *WIDE_COLUMNS))},
       r.*, sr.*, {", ".join("s." + c for c in DICTIONARY_COLUMNS)},
       t.top_processes, t.recorded_at AS top_processes_at
  FROM (SELECT * FROM metrics WHERE server_id = %s ORDER BY recorded_at DESC LIMIT 1) m
  JOIN servers s ON s.id = m.server_id
 CROSS JOIN LATERAL vigie_sample_rates(m.server_id, m.recorded_at, m.network_sent_mb,
                                       m.network_recv_mb) r
 CROSS JOIN LATERAL vigie_series_rates(m::metrics) sr
  LEFT JOIN metrics t ON t.server_id = s.id AND t.recorded_at = s.latest_top_at
"""  # noqa: S608 - column names are constants


def current_json(row: dict) -> dict:
    """The seed's fields and rates, then the wide sample's (vigie.wire)."""
    body = {"server_id": row["server_id"], "id": row["id"], "recorded_at": row["recorded_at"]}
    for name in (*SAMPLE_FIELDS, "network_sent_mb_s", "network_recv_mb_s"):
        body[name] = row[name]
    body.update(wide_sample(row))
    body["top_processes"] = row["top_processes"]
    body["top_processes_at"] = row["top_processes_at"]
    return body


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
    return jsonify(current_json({"server_id": server_id, **row}))
