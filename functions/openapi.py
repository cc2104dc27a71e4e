"""The OpenAPI 3.1 document of the whole API, served at /api/openapi.json.

Schemas come from the same pydantic models that validate requests, and the tests
check every response the app gives against this document."""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import Blueprint, jsonify
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from . import auth
from . import schemas as s
from .db import connection
from .schemas import ALERT_STATES as STATES
from .schemas import FLEET_INTERVALS, INTERVALS, MAX_FLEET_IDS
from .schemas import MAX_ALERT_LIMIT as MAX_LIMIT

bp = Blueprint("meta", __name__, url_prefix="/api")

REQUESTS: list[type[BaseModel]] = [
    s.RegisterRequest, s.MetricSample, s.MetricBatch, s.AlertRulesUpdate, s.ServerUpdate,
    s.SilenceCreate, s.ShareCreate,
]  # fmt: skip
RESPONSES: list[type[BaseModel]] = [
    s.Error, s.Registered, s.Server, s.Stored, s.BatchStored, s.CurrentMetrics, s.HistoryPoint,
    s.Health, s.AlertRules, s.Alert, s.HistoryStats, s.FleetHistory, s.Silence, s.Share,
    s.ShareCreated,
]  # fmt: skip
ERRORS = {
    400: "Malformed input: one entry in `details` per bad field",
    401: "The token is missing",
    403: "The token is not valid for this request",
    404: "No such server (or no metrics yet: error `no_metrics`)",
    413: "The body is larger than the configured limit",
    415: "The body is not sent as JSON (`Content-Type: application/json`)",
    503: "The database is unreachable; retry later",
}
# Any operation may fail in a way nobody foresaw: the answer is still a JSON error
# (the details are in the log, never in the body).
UNEXPECTED = "An unexpected error; logged on the server"


def ref(model: type[BaseModel] | str) -> dict[str, str]:
    name = model if isinstance(model, str) else model.__name__
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def operation(
    summary: str,
    ok: dict[int, tuple[str, dict[str, Any] | None]],
    errors: tuple[int, ...],
    *,
    security: str | None = None,
    body: type[BaseModel] | None = None,
    parameters: list[dict[str, Any]] | None = None,
    description: str = "",
) -> dict[str, Any]:
    # A schema of None: an answer without a body (204).
    responses: dict[str, Any] = {
        str(code): {"description": text, **(json_content(schema) if schema else {})}
        for code, (text, schema) in ok.items()
    }
    for code in errors:
        responses[str(code)] = {"description": ERRORS[code], **json_content(ref(s.Error))}
    responses["500"] = {"description": UNEXPECTED, **json_content(ref(s.Error))}
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if description:
        op["description"] = description
    if security:
        op["security"] = [{security: []}]
    if body is not None:
        op["requestBody"] = {"required": True, **json_content(ref(body))}
    if parameters:
        op["parameters"] = parameters
    return op


def server_id_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1}}  # fmt: skip


def id_param() -> dict[str, Any]:
    return {"name": "id", "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1}}  # fmt: skip


WRITE_ERRORS = (400, 401, 403, 413, 415, 503)
ADMIN_ERRORS = (401, 403, 503)
SHARED = " A share link's token (`vgs_…`) reads this for the servers it covers only."


READ_ERRORS = (401, 403, 503)


@cache
def build_spec() -> dict[str, Any]:
    _, defs = models_json_schema(
        [(m, "validation") for m in REQUESTS] + [(m, "serialization") for m in RESPONSES],
        ref_template="#/components/schemas/{model}",
    )
    time_param = {"type": "string", "format": "date-time"}

    def state_param(default: str) -> dict[str, Any]:
        return {"name": "state", "in": "query",
                "schema": {"type": "string", "enum": list(STATES), "default": default},
                "description": "`active`: firing now; `resolved`; `all`"}  # fmt: skip

    limit_param = {"name": "limit", "in": "query",
                   "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                              "default": 50}}  # fmt: skip
    paths: dict[str, Any] = {
        "/api/servers/register": {
            "post": operation(
                "Register a host (idempotent per hostname and machine id)",
                {
                    201: ("Registered", ref(s.Registered)),
                    200: ("Already registered: same server, new ingest token", ref(s.Registered)),
                },
                (400, 401, 403, 413, 415, 503),
                security="enrollment",
                body=s.RegisterRequest,
            )  # fmt: skip
        },
        "/api/servers": {
            "get": operation(
                "List servers with their status and latest values",
                {200: ("Servers", {"type": "array", "items": ref(s.Server)})},
                (400, *READ_ERRORS),
                security="dashboard",
                parameters=[
                    {
                        "name": "tag",
                        "in": "query",
                        "schema": {"type": "string", "pattern": s.TAG_PATTERN},
                        "description": "Only the servers with this tag",
                    },
                ],
                description="A share link's token lists the servers it covers.",
            )  # fmt: skip
        },
        "/api/servers/{id}": {
            "get": operation(
                "One server",
                {200: ("The server", ref(s.Server))},
                (*READ_ERRORS, 404),
                security="dashboard",
                parameters=[server_id_param("id")],
                description=SHARED.strip(),
            ),
            "patch": operation(
                "Rename a server, or replace its tags",
                {200: ("The server", ref(s.Server))},
                (*WRITE_ERRORS, 404),
                security="admin",
                body=s.ServerUpdate,
                parameters=[server_id_param("id")],
                description="A field left out is left as it is. Tags: at most "
                f"{s.MAX_TAGS}, each {s.TAG_RULE}, none twice. The relay announces the "
                "change (`server-status` and `server-update` carry the name and tags).",
            ),
            "delete": operation(
                "Remove a server and everything stored about it",
                {204: ("Removed", None)},
                (*ADMIN_ERRORS, 404),
                security="admin",
                parameters=[server_id_param("id")],
                description="Its samples, rollups, alerts, rule overrides, silences and "
                "share links, in one transaction; the relay sends `server-removed` to its "
                "room and the overview. Its collector is refused from then on (403), "
                "until it registers again with the enrollment token.",
            ),
        },
        "/api/metrics": {
            "post": operation(
                "Store one sample",
                {
                    201: ("Stored", ref(s.Stored)),
                    200: ("Already stored (a retry): nothing new", ref(s.Stored)),
                },
                (400, 401, 403, 413, 415, 503),
                security="ingest",
                body=s.MetricSample,
                description="A sample whose (server_id, recorded_at) is already stored is "
                "not stored again. recorded_at may be at most VIGIE_MAX_CLOCK_SKEW seconds "
                "in the future, and not before 2000-01-01T00:00:00Z. A token that is not "
                "this server's, and a server that does not exist, both get 403.",
            )  # fmt: skip
        },
        "/api/metrics/batch": {
            "post": operation(
                "Store many samples in one transaction (all or nothing)",
                {
                    201: ("Stored", ref(s.BatchStored)),
                    200: ("Every sample was already stored", ref(s.BatchStored)),
                },
                (400, 401, 403, 413, 415, 503),
                security="ingest",
                body=s.MetricBatch,
                description="At most VIGIE_MAX_BATCH (default 1000) samples. One bad sample "
                "rejects the batch, and `details` names it: `samples[3].cpu_percent`. "
                "The same rules as POST /api/metrics.",
            )  # fmt: skip
        },
        "/api/metrics/current/{serverId}": {
            "get": operation(
                "Latest sample of a server, with network throughput",
                {200: ("Latest sample", ref(s.CurrentMetrics))},
                (*READ_ERRORS, 404),
                security="dashboard",
                parameters=[server_id_param("serverId")],
            )  # fmt: skip
        },
        "/api/metrics/history/{serverId}": {
            "get": operation(
                "Samples over a time range, aggregated into buckets",
                {
                    200: (
                        "Buckets in time order (averages, peaks, throughput)",
                        {"type": "array", "items": ref(s.HistoryPoint)},
                    )
                },
                (400, *READ_ERRORS, 404),
                security="dashboard",
                description="Without `interval`, the bucket is chosen so that the response "
                "has at most 500 points; the `Vigie-Interval` header names it. Any range "
                "is read where samples can be (from 2000-01-01 to now); a parameter sent "
                "empty (`to=`) is refused.",
                parameters=[
                    server_id_param("serverId"),
                    {
                        "name": "from",
                        "in": "query",
                        "schema": time_param,
                        "description": "Start (ISO-8601). Default: one hour before `to`.",
                    },
                    {
                        "name": "to",
                        "in": "query",
                        "schema": time_param,
                        "description": "End, inclusive (ISO-8601). Default: now.",
                    },
                    {
                        "name": "interval",
                        "in": "query",
                        "schema": {"type": "string", "enum": list(INTERVALS)},
                    },
                ],
            )  # fmt: skip
        },
        "/api/metrics/fleet-history": {
            "get": operation(
                "Many servers' CPU, RAM and disk over a time range, in buckets",
                {
                    200: (
                        "One entry per known server of `ids`, in id order; unknown ids "
                        "are left out",
                        {"type": "array", "items": ref(s.FleetHistory)},
                    )
                },
                (400, *READ_ERRORS),
                security="dashboard",
                description=f"The overview's trends: bucket averages, as GET "
                f"/api/metrics/history gives them, for up to {MAX_FLEET_IDS} servers in "
                "one request. The current bucket is included. The range spans at most 6 h "
                "at interval 1m, 24 h at 5m; a parameter sent empty is refused.",
                parameters=[
                    {
                        "name": "ids",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "pattern": r"^[0-9]+(,[0-9]+)*$"},
                        "description": f"Server ids, comma-separated (at most {MAX_FLEET_IDS})",
                    },
                    {
                        "name": "from",
                        "in": "query",
                        "schema": time_param,
                        "description": "Start (ISO-8601). Default: 30 minutes before `to`.",
                    },
                    {
                        "name": "to",
                        "in": "query",
                        "schema": time_param,
                        "description": "End, inclusive (ISO-8601). Default: now.",
                    },
                    {
                        "name": "interval",
                        "in": "query",
                        "schema": {
                            "type": "string",
                            "enum": list(FLEET_INTERVALS),
                            "default": "1m",
                        },
                    },
                ],
            )  # fmt: skip
        },
        "/api/servers/{id}/alert-rules": {
            "get": operation(
                "The alert rules in force for a server, and its own overrides",
                {200: ("Rules", ref(s.AlertRules))},
                (*READ_ERRORS, 404),
                security="dashboard",
                parameters=[server_id_param("id")],
                description="Readable with the dashboard token (when set) or the admin token.",
            ),
            "put": operation(
                "Replace a server's overrides of the default alert rules",
                {200: ("The rules now in force", ref(s.AlertRules))},
                (400, 401, 403, 404, 413, 415, 503),
                security="admin",
                body=s.AlertRulesUpdate,
                parameters=[server_id_param("id")],
                description="A type or field left out follows the defaults (VIGIE_ALERT_*). "
                "Counting restarts for the server, and an alert whose rule is disabled "
                "resolves at once. 403 `admin_disabled` when VIGIE_ADMIN_TOKEN is unset.",
            ),
        },
        "/api/alerts": {
            "get": operation(
                "Alerts across all servers (active ones by default)",
                {200: ("Alerts, active first", {"type": "array", "items": ref(s.Alert)})},
                (400, *READ_ERRORS),
                security="dashboard",
                parameters=[state_param("active"), limit_param],
            )  # fmt: skip
        },
        "/api/alerts/{serverId}": {
            "get": operation(
                "A server's alerts: active first, then the most recently resolved",
                {200: ("Alerts, active first", {"type": "array", "items": ref(s.Alert)})},
                (400, *READ_ERRORS, 404),
                security="dashboard",
                parameters=[server_id_param("serverId"), state_param("all"), limit_param],
            )  # fmt: skip
        },
        "/api/stats": {
            "get": operation(
                "What history costs: rows and bytes per tier",
                {200: ("Raw samples and each rollup tier", ref(s.HistoryStats))},
                READ_ERRORS,
                security="dashboard",
                description="Raw samples are kept VIGIE_RETENTION_RAW, minute rollups "
                "VIGIE_RETENTION_1M and hour rollups VIGIE_RETENTION_1H.",
            )  # fmt: skip
        },
        "/api/silences": {
            "get": operation(
                "The silences in force now",
                {
                    200: (
                        "Active silences, the one ending first first",
                        {"type": "array", "items": ref(s.Silence)},
                    )
                },
                READ_ERRORS,
                security="dashboard",
            ),
            "post": operation(
                "Hold the notifications of a server, or of every server with a tag",
                {201: ("The silence", ref(s.Silence))},
                WRITE_ERRORS,
                security="admin",
                body=s.SilenceCreate,
                description="Exactly one of `server_id` and `tag`, and one of `duration` "
                "(90m, 2h, 7d) and `until`. Alerts are still evaluated, stored and sent to "
                "dashboards; only notifications (webhook, VIGIE_NOTIFY_URLS) are held. An "
                "alert still firing when the silence ends is notified then; one that fired "
                "and resolved inside it is not.",
            ),
        },
        "/api/silences/{id}": {
            "delete": operation(
                "End a silence now",
                {204: ("Ended", None)},
                (*ADMIN_ERRORS, 404),
                security="admin",
                parameters=[id_param()],
            ),
        },
        "/api/shares": {
            "get": operation(
                "The share links that work (not revoked, not expired), without their tokens",
                {200: ("Share links", {"type": "array", "items": ref(s.Share)})},
                ADMIN_ERRORS,
                security="admin",
            ),
            "post": operation(
                "Make a read-only link to a server's page, or to the servers with a tag",
                {201: ("The link; its token is shown only now", ref(s.ShareCreated))},
                WRITE_ERRORS,
                security="admin",
                body=s.ShareCreate,
                description="Exactly one of `server_id` and `tag`, and one of `expires_in` "
                "(1h, 7d) and `expires_at`. The token, as a bearer token or as the socket's "
                "`auth: {token}`, reads only those servers: their list, detail, current "
                "sample, history, fleet history and alerts, and their relay rooms.",
            ),
        },
        "/api/shares/{id}": {
            "delete": operation(
                "Revoke a share link, at once (its open sockets are disconnected)",
                {204: ("Revoked", None)},
                (*ADMIN_ERRORS, 404),
                security="admin",
                parameters=[id_param()],
            ),
        },
        "/api/admin": {
            "get": operation(
                "Is this the admin token? (the dashboard's admin sign-in)",
                {204: ("It is", None)},
                ADMIN_ERRORS,
                security="admin",
                description="403 `admin_disabled` when VIGIE_ADMIN_TOKEN is unset.",
            ),
        },
        "/api/health": {
            "get": operation(
                "Is the API up, and can it reach its database?",
                {200: ("Healthy", ref(s.Health))},
                (503,),
            )  # fmt: skip
        },
        "/api/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {
                    "200": {"description": "OpenAPI document", **json_content({"type": "object"})}
                },
            }  # fmt: skip
        },
    }
    for path in paths.values():
        for op in path.values():
            op.setdefault("responses", {})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Vigie API",
            "version": "1",
            "description": "Real-time server monitoring. Errors are JSON: "
            '`{"error": code, "message": sentence, "details": [{"field", "reason"}]}`.',
        },
        "paths": paths,
        "components": {
            "schemas": defs["$defs"],
            "securitySchemes": {
                "enrollment": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "VIGIE_ENROLL_TOKEN",
                },
                "ingest": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The server's ingest token, from registration",
                },
                "dashboard": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "VIGIE_DASHBOARD_TOKEN, when it is set (the admin token "
                    "reads too)",
                },
                "admin": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "VIGIE_ADMIN_TOKEN: changes servers, alert rules, "
                    "silences and share links",
                },
            },
        },  # fmt: skip
    }


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(build_spec())


@bp.get("/admin")
def admin_check():
    auth.require_admin()
    return "", 204


@bp.get("/health")
def health():
    with connection() as conn:
        conn.execute("SELECT 1")
    return jsonify({"status": "ok", "database": "ok"})
