"""What clients send the relay: the socket.io handlers, in one Namespace.

Clients send ``join-server {serverId}`` / ``leave-server {serverId}`` for one
server's room and ``join-all`` / ``leave-all`` for the overview; every one is
acknowledged with ``{"ok": true, ...}`` or ``{"ok": false, "error", "message"}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask_socketio import Namespace, join_room, leave_room, rooms
from socketio.exceptions import ConnectionRefusedError

from vigie.tokens import same_token
from vigie.wire import isoformat

from .emission import ALL, server_room

log = logging.getLogger("vigie.relay")

MAX_SERVER_ID = 2**31 - 1


def error(code: str, message: str, **extra: Any) -> dict:
    return {"ok": False, "error": code, "message": message, **extra}


def parse_server_id(data: Any) -> tuple[int | None, dict | None]:
    """``{serverId}`` (the seed's shape) or ``{server_id}``: a positive integer,
    or its decimal string. Returns (id, None) or (None, error ack)."""
    value = None
    if isinstance(data, dict):
        value = data.get("serverId", data.get("server_id"))
    if isinstance(value, str):
        # ASCII digits only (str.isdigit takes "١٢"), and no more than an id can
        # have: int() of a huge string is slow, and refused past 4,300 digits.
        text = value.strip()
        digits = text.isascii() and text.isdigit() and len(text) <= len(str(MAX_SERVER_ID))
        value = int(text) if digits else None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SERVER_ID:
        return None, error(
            "invalid", "send {serverId: <server id>}, a positive integer", field="serverId"
        )
    return value, None


class RelayNamespace(Namespace):
    """The default namespace: who may connect, and the rooms they follow."""

    def __init__(self, dashboard_token: str, server_state: Callable[[int], dict | None]) -> None:
        super().__init__("/")
        self.dashboard_token = dashboard_token
        self.server_state = server_state

    def trigger_event(self, event: str, *args: Any) -> Any:
        """``join-server`` is handled by ``on_join_server``. Whatever a client sends,
        an event is acknowledged: a handler that fails answers an error, logged once
        in a line, never a traceback."""
        name = (event or "").replace("-", "_")
        try:
            return super().trigger_event(name, *args)
        except ConnectionRefusedError:
            raise
        except Exception as exc:
            log.warning("%s from a client failed: %s", event, type(exc).__name__)
            return error("invalid", f"could not handle {event}")

    def on_connect(self, auth: Any = None) -> None:
        expected = self.dashboard_token
        if not expected:
            return
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str) or not token:
            raise ConnectionRefusedError(
                "this relay needs the dashboard token: io(url, {auth: {token}})",
                {"error": "missing_token", "status": 401},
            )
        if not same_token(token, expected):
            raise ConnectionRefusedError(
                "the dashboard token is not valid", {"error": "invalid_token", "status": 403}
            )

    def on_join_server(self, data: Any = None) -> dict:
        server_id, problem = parse_server_id(data)
        if problem:
            return problem
        try:
            row = self.server_state(server_id)
        except Exception as exc:  # the database is away: say so, the client retries
            log.warning("join-server %s: %s", server_id, exc)
            return error("unavailable", "the database is unreachable; retry later")
        if row is None:
            return error("not_found", f"server {server_id} does not exist")
        join_room(server_room(server_id))
        return {
            "ok": True,
            "server_id": server_id,
            "is_active": row["is_active"],
            "last_seen": isoformat(row["last_seen"]) if row["last_seen"] else None,
        }

    def on_leave_server(self, data: Any = None) -> dict:
        server_id, problem = parse_server_id(data)
        if problem:
            return problem
        room = server_room(server_id)
        if room not in rooms():
            return error("not_joined", f"this connection has not joined server {server_id}")
        leave_room(room)
        return {"ok": True, "server_id": server_id}

    def on_join_all(self, data: Any = None) -> dict:
        join_room(ALL)
        return {"ok": True}

    def on_leave_all(self, data: Any = None) -> dict:
        leave_room(ALL)
        return {"ok": True}
