"""Every error is JSON: {"error": code, "message": sentence, "details": [...]}.

Never an HTML page, never a stack trace. Validation errors carry one entry per
bad field: {"field": "samples[3].cpu_percent", "reason": "..."}.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from flask import Flask, Response, jsonify, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

log = logging.getLogger("vigie.functions")


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


def invalid(field: str, reason: str) -> ApiError:
    return ApiError(
        400, "invalid_request", f"{field}: {reason}", [{"field": field, "reason": reason}]
    )


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} does not exist")


def field_path(loc: tuple[int | str, ...]) -> str:
    """('samples', 3, 'cpu_percent') -> 'samples[3].cpu_percent'."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def from_validation(exc: ValidationError) -> ApiError:
    details = []
    for err in exc.errors(include_url=False, include_input=False):
        if err["type"] == "json_invalid":
            details.append({"field": "body", "reason": "is not valid JSON"})
            continue
        reason = err["msg"]
        if err["type"] == "value_error":
            # Our own validators' sentences, without pydantic's "Value error, ".
            reason = str(err["ctx"]["error"]) if "ctx" in err else reason
        if err["type"] == "missing":
            reason = "is required"
        elif err["type"] == "extra_forbidden":
            reason = "is not a known field"
        details.append({"field": field_path(err["loc"]), "reason": reason})
    if len(details) == 1:
        message = f"{details[0]['field']}: {details[0]['reason']}"
    else:
        message = f"{len(details)} fields are invalid"
    return ApiError(400, "invalid_request", message, details)


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def refused_field(err: psycopg.Error) -> str:
    """The field a database error names: its column, or the column in the name of
    its constraint (servers_name_check: name), else the body as a whole."""
    diag = err.diag
    if diag.column_name:
        return diag.column_name
    name, table = diag.constraint_name or "", diag.table_name or ""
    if table and name.startswith(table + "_"):
        for suffix in ("_check", "_key", "_fkey"):
            if name.endswith(suffix) and len(name) > len(table) + 1 + len(suffix):
                return name[len(table) + 1 : -len(suffix)]
    return "body"


def _body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict:
    body: dict[str, Any] = {"error": code, "message": message}
    if details is not None:
        body["details"] = details
    return body


def error_response(err: ApiError) -> Response:
    response = jsonify(_body(err.code, err.message, err.details))
    response.status_code = err.status
    response.headers.update(err.headers)
    return response


HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(err: ApiError) -> Response:
        return error_response(err)

    @app.errorhandler(ValidationError)
    def _validation(err: ValidationError) -> Response:
        return error_response(from_validation(err))

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException) -> Response:
        status = err.code or 500
        if status == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            message = f"request body is larger than the limit of {limit} bytes"
        elif status == 404:
            message = "no such endpoint"
        else:
            message = (err.description or err.name).rstrip(".")
        response = jsonify(_body(HTTP_CODES.get(status, "http_error"), message))
        response.status_code = status
        if status == 405 and err.get_response().headers.get("Allow"):
            response.headers["Allow"] = err.get_response().headers["Allow"]
        return response

    @app.errorhandler(psycopg.OperationalError)
    def _database_down(err: psycopg.OperationalError) -> Response:
        # Connection refused, timed out or lost: the caller should retry later
        # (the collector keeps the sample in its backlog).
        log.warning("database unavailable: %s", type(err).__name__)
        return error_response(
            ApiError(
                503,
                "database_unavailable",
                "the database is unreachable; retry later",
                headers={"Retry-After": "5"},
            )
        )

    @app.errorhandler(psycopg.IntegrityError)
    @app.errorhandler(psycopg.DataError)
    def _refused(err: psycopg.Error) -> Response:
        if request.method in SAFE_METHODS:
            # Reading what is stored failed: not the caller's fault.
            log.error("the database could not give back stored data: %s", err)
            return error_response(ApiError(500, "internal_error", "an unexpected error occurred"))
        # Validation should have refused this first; the database's constraint did.
        constraint = getattr(err.diag, "constraint_name", None) or "a constraint"
        field = refused_field(err)
        reason = f"refused by the database ({constraint})"
        return error_response(
            ApiError(
                400,
                "invalid_request",
                f"the database refused the data ({constraint})",
                [{"field": field, "reason": reason}],
            )
        )

    @app.after_request
    def _options(response: Response) -> Response:
        # Flask answers OPTIONS itself with an empty text/html page: an empty 204
        # with its Allow header says the same without HTML.
        if request.method == "OPTIONS" and response.status_code == 200:
            response.status_code = 204
            response.set_data(b"")
            del response.headers["Content-Type"]
            del response.headers["Content-Length"]
        return response

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(ApiError(500, "internal_error", "an unexpected error occurred"))
