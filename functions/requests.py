"""Reading request bodies, query parameters and path ids into validated values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypeVar

from flask import request
from pydantic import BaseModel
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

from vigie.settings import ConfigError, parse_duration

from .auth import settings
from .errors import ApiError, invalid, not_found

M = TypeVar("M", bound=BaseModel)
MAX_ID = 2**31 - 1
EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


class IdConverter(IntegerConverter):
    """``<int:…>`` in a path: ASCII digits only. Werkzeug's own matches any Unicode
    digit (``/api/servers/١٢`` would be server 12)."""

    regex = r"[0-9]+"


MAX_ROW_ID = 2**63 - 1


def check_row_id(row_id: int, what: str) -> None:
    """Silences and share links have 8-byte ids: a larger one names none."""
    if row_id > MAX_ROW_ID:
        raise not_found(f"{what} {row_id}")


def check_id(server_id: int) -> None:
    """Ids are 4-byte integers: a larger one names no server (not a database error)."""
    if server_id > MAX_ID:
        raise not_found(f"server {server_id}")


def read_body() -> bytes:
    """The request body, at most the configured limit whatever its framing: a
    chunked body (no Content-Length) over it is refused (413), not cut short."""
    limit = request.max_content_length
    if request.content_length is None and limit is not None:
        # Werkzeug stops a streamed body at the limit without a word: read one
        # byte more to know whether there was more.
        request.max_content_length = limit + 1
        data = request.get_data(cache=True)
        request.max_content_length = limit
        if len(data) > limit:
            raise RequestEntityTooLarge()
        return data
    return request.get_data(cache=True)


def parse_body(model: type[M]) -> M:
    """Validate the JSON body against ``model``; a bad body raises 400 listing
    every bad field (pydantic's ValidationError is turned into JSON by errors.py).
    The body must say it is JSON (415), and reading it enforces the size limit (413)."""
    if not request.is_json:
        raise ApiError(
            415,
            "unsupported_media_type",
            "the body must be JSON, sent with 'Content-Type: application/json'",
            [{"field": "Content-Type", "reason": "must be application/json"}],
        )
    return model.model_validate_json(
        read_body() or b"null",
        strict=True,
        context={"max_clock_skew": settings().api.max_clock_skew},
    )


def query_arg(name: str) -> str | None:
    """A query parameter; None when absent. Present, it must say something:
    ``?to=`` is a mistake, not a request for the default."""
    raw = request.args.get(name)
    if raw is None:
        return None
    if raw.strip() == "":
        raise invalid(name, "must not be empty (leave the parameter out for its default)")
    if "\x00" in raw:
        raise invalid(name, "must not contain a NUL character")
    return raw


def parse_time(name: str, default: datetime) -> datetime:
    """An ISO-8601 time (UTC when it has no offset), in UTC. A time before year 1
    or after 9999 once in UTC (0001-01-01T00:30:00+01:00) is the earliest or the
    latest time there is: no data is that old or that new."""
    raw = query_arg(name)
    if raw is None:
        return default
    # A '+' in an unencoded query string arrives as a space: "10:00:00 02:00".
    text = raw.strip().replace(" ", "+")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise invalid(name, "must be an ISO-8601 time, e.g. 2025-02-04T10:00:00Z") from None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return EARLIEST if value.year == 1 else LATEST


def shifted(moment: datetime, delta: timedelta) -> datetime:
    """``moment + delta``, held at the earliest or latest time there is."""
    try:
        return moment + delta
    except OverflowError:
        return EARLIEST if delta < timedelta(0) else LATEST


# The longest a silence or a share link may last.
MAX_SPAN = timedelta(days=3650)


def parse_end(
    now: datetime, span_field: str, span: str | None, at_field: str, at: datetime | None
) -> datetime:
    """When something given as a duration from now (``span``, Vigie's duration
    grammar: 90m, 2h, 7d) or as a time (``at``) ends: exactly one of the two, in
    the future, at most MAX_SPAN ahead."""
    if (span is None) == (at is None):
        field = at_field if span is not None else span_field
        raise invalid(field, f"give exactly one of {span_field} and {at_field}")
    if span is not None:
        try:
            length = parse_duration(span_field, span, allow_forever=False)
        except ConfigError:
            raise invalid(
                span_field, "must be a duration such as 90s, 15m, 36h, 7d, 12w or 2y"
            ) from None
        assert length is not None
        if length > MAX_SPAN:
            raise invalid(span_field, "must be at most 3650 days")
        return now + length
    assert at is not None
    if at <= now:
        raise invalid(at_field, "must be in the future")
    if at - now > MAX_SPAN:
        raise invalid(at_field, "must be at most 3650 days ahead")
    return at.astimezone(UTC)


def exactly_one(first: str, first_value: object, second: str, second_value: object) -> None:
    """Exactly one of two fields is given (a 400 naming the one to change otherwise)."""
    if (first_value is None) == (second_value is None):
        field = second if first_value is not None else first
        raise invalid(field, f"give exactly one of {first} and {second}")
