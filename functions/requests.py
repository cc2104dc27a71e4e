"""Reading request bodies and query parameters into validated values."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeVar

from flask import request
from pydantic import BaseModel

from .auth import settings
from .errors import invalid, not_found

M = TypeVar("M", bound=BaseModel)
MAX_ID = 2**31 - 1


def check_id(server_id: int) -> None:
    """Ids are 4-byte integers: a larger one names no server (not a database error)."""
    if server_id > MAX_ID:
        raise not_found(f"server {server_id}")


def parse_body(model: type[M]) -> M:
    """Validate the JSON body against ``model``; a bad body raises 400 listing
    every bad field (pydantic's ValidationError is turned into JSON by errors.py).
    Reading the body enforces the size limit (413)."""
    data = request.get_data(cache=True)
    return model.model_validate_json(
        data or b"null", strict=True, context={"max_clock_skew": settings().api.max_clock_skew}
    )


def parse_time(name: str, default: datetime) -> datetime:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    # A '+' in an unencoded query string arrives as a space: "10:00:00 02:00".
    text = raw.strip().replace(" ", "+")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise invalid(name, "must be an ISO-8601 time, e.g. 2025-02-04T10:00:00Z") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value
