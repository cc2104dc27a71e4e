"""A WSGI app as a Lambda-style ``handler(event, context)`` for AWS Lambda behind
API Gateway or an ALB."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def lambda_handler(app: Any) -> LambdaHandler:
    """apig-wsgi turns the event into a WSGI request and the response back into the
    dict API Gateway expects, for both payload versions (1.0 and 2.0)."""
    from apig_wsgi import make_lambda_handler  # only a function host needs it

    wsgi_handler = make_lambda_handler(app)

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return wsgi_handler(without_stage(event), context)

    return handler


def without_stage(event: dict[str, Any]) -> dict[str, Any]:
    """An HTTP API (payload 2.0) on a named stage puts the stage in ``rawPath``
    (``/prod/api/servers``), where the routes are ``/api/...``; the default stage
    and REST APIs (payload 1.0, whose ``path`` has no stage) need nothing."""
    if event.get("version") != "2.0":
        return event
    stage = (event.get("requestContext") or {}).get("stage") or "$default"
    prefix = f"/{stage}/"
    raw_path = event.get("rawPath", "")
    if stage == "$default" or not raw_path.startswith(prefix):
        return event
    return {**event, "rawPath": raw_path[len(prefix) - 1 :]}
