"""The API's JSON: orjson, and times as ISO-8601 in UTC (vigie.wire.isoformat)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import orjson
from flask import Response
from flask.json.provider import DefaultJSONProvider

from vigie.wire import isoformat


class JSONProvider(DefaultJSONProvider):
    """JSON through orjson (a history answer of 500 points encodes several
    times faster than with the standard library), times as ISO-8601 in UTC (Flask's
    default is an HTTP date), and whatever orjson does not know as Flask's default
    encodes it."""

    sort_keys = False
    OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, datetime):
            return isoformat(o)
        if isinstance(o, date):
            return o.isoformat()
        return DefaultJSONProvider.default(o)

    def encode(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(obj, default=self.default, option=self.OPTIONS)
        except TypeError:
            # An integer beyond 64 bits (a client may send one; an error echoes it):
            # the standard library writes it.
            return super().dumps(obj).encode()

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return self.encode(obj).decode()

    def response(self, *args: Any, **kwargs: Any) -> Response:
        body = self.encode(self._prepare_response_obj(args, kwargs))
        return self._app.response_class(body, mimetype=self.mimetype)
