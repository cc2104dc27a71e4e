"""What clients send the relay: the socket.io handlers, in one Namespace.

Clients send ``join-server {serverId}`` / ``leave-server {serverId}`` for one
server's room and ``join-all`` / ``leave-all`` for the overview; every one is
acknowledged with ``{"ok": true, ...}`` or ``{"ok": false, "error", "message"}``.

A client connected with a share link's token (``auth: {token: "vgs_…"}``) may
join only the rooms of the servers the link covers, and its overview is a room of
the link's own, which gets the overview's events of those servers only. When the
link is revoked (a NOTIFY tells every relay) or expires, its sockets are
disconnected at once; ``watch_shares`` also checks the links in use every few
seconds, so a notification missed while the relay was reconnecting changes
nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import request
from flask_socketio import Namespace, join_room, leave_room, rooms
from socketio.exceptions import ConnectionRefusedError

from vigie.tokens import hash_token, same_token
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


SHARE_PREFIX = "vgs_"


@dataclass(frozen=True)
class Share:
    id: int
    server_id: int | None
    tag: str | None
    expires_at: datetime

    @property
    def room(self) -> str:
        """The overview of this link: the overview's events of its servers."""
        return f"share:{self.id}"


class ShareLinks:
    """What the relay reads about share links, on its pool."""

    COVERS = "(s.id = %(server_id)s OR %(tag)s::text = ANY (s.tags))"

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    def find(self, token: str) -> Share | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                """SELECT id, server_id, tag, expires_at FROM shares
                    WHERE token_hash = %s AND revoked_at IS NULL AND expires_at > now()""",
                [hash_token(token)],
            ).fetchone()
        return Share(**row) if row else None

    def servers(self, share: Share) -> frozenset[int]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT s.id FROM servers s WHERE {self.COVERS}",  # noqa: S608 - constant
                {"server_id": share.server_id, "tag": share.tag},
            ).fetchall()
        return frozenset(r["id"] for r in rows)

    def working(self, ids: list[int]) -> set[int]:
        """Of these links, those that still work."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                """SELECT id FROM shares WHERE id = ANY (%s::bigint[])
                      AND revoked_at IS NULL AND expires_at > now()""",
                [ids],
            ).fetchall()
        return {r["id"] for r in rows}


class RelayNamespace(Namespace):
    """The default namespace: who may connect, and the rooms they follow."""

    def __init__(
        self,
        dashboard_token: str,
        server_state: Callable[[int], dict | None],
        links: ShareLinks | None = None,
        scoped: dict[str, frozenset[int]] | None = None,
    ) -> None:
        super().__init__("/")
        self.dashboard_token = dashboard_token
        self.server_state = server_state
        self.links = links
        # The share links' overviews and the servers each sees (Emission.scoped).
        self.scoped = scoped if scoped is not None else {}
        # The sockets connected with a share link, and the link.
        self.shared: dict[str, Share] = {}

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
        token = auth.get("token") if isinstance(auth, dict) else None
        if isinstance(token, str) and token.startswith(SHARE_PREFIX) and self.links is not None:
            try:
                share = self.links.find(token)
            except Exception as exc:  # refused, never let in unchecked
                log.warning("a share link's connection: %s", type(exc).__name__)
                raise ConnectionRefusedError(
                    "the database is unreachable; retry later",
                    {"error": "unavailable", "status": 503},
                ) from None
            if share is None:
                raise ConnectionRefusedError(
                    "this share link is not valid (revoked or expired)",
                    {"error": "invalid_token", "status": 403},
                )
            self.shared[request.sid] = share
            return
        expected = self.dashboard_token
        if not expected:
            return
        if not isinstance(token, str) or not token:
            raise ConnectionRefusedError(
                "this relay needs the dashboard token: io(url, {auth: {token}})",
                {"error": "missing_token", "status": 401},
            )
        if not same_token(token, expected):
            raise ConnectionRefusedError(
                "the dashboard token is not valid", {"error": "invalid_token", "status": 403}
            )

    def on_disconnect(self, *args: Any) -> None:
        share = self.shared.pop(request.sid, None)
        if share is not None:
            self._forget_room(share)

    def _forget_room(self, share: Share) -> None:
        if not any(s.id == share.id for s in self.shared.values()):
            self.scoped.pop(share.room, None)

    def on_join_server(self, data: Any = None) -> dict:
        server_id, problem = parse_server_id(data)
        if problem:
            return problem
        share = self.shared.get(request.sid)
        if share is not None and self.links is not None:
            try:
                covered = server_id in self.links.servers(share)
            except Exception as exc:
                log.warning("join-server %s: %s", server_id, type(exc).__name__)
                return error("unavailable", "the database is unreachable; retry later")
            if not covered:
                return error("forbidden", f"this share link does not cover server {server_id}")
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
        share = self.shared.get(request.sid)
        if share is not None and self.links is not None:
            # The link's own overview: the overview's events of its servers only.
            try:
                self.scoped[share.room] = self.links.servers(share)
            except Exception as exc:
                log.warning("join-all: %s", type(exc).__name__)
                return error("unavailable", "the database is unreachable; retry later")
            join_room(share.room)
            return {"ok": True, "server_ids": sorted(self.scoped[share.room])}
        join_room(ALL)
        return {"ok": True}

    def on_leave_all(self, data: Any = None) -> dict:
        share = self.shared.get(request.sid)
        leave_room(share.room if share is not None else ALL)
        return {"ok": True}

    # -- share links that stop working ------------------------------------------

    def end_shares(self, ids: set[int]) -> int:
        """Disconnect the sockets of these links; how many."""
        ended = [sid for sid, share in self.shared.items() if share.id in ids]
        for sid in ended:
            share = self.shared.pop(sid, None)
            self.socketio.server.disconnect(sid, namespace="/")
            if share is not None:
                self._forget_room(share)
        if ended:
            log.info("disconnected %d socket(s) of a share link that stopped working", len(ended))
        return len(ended)

    def on_share_event(self, payload: dict) -> None:
        """A share link notification: {"kind": "share", "id", "event": "revoked"}."""
        if payload.get("kind") == "share" and payload.get("event") == "revoked":
            share_id = payload.get("id")
            if isinstance(share_id, int):
                self.end_shares({share_id})

    def watch_shares(self, check_seconds: float = 5.0, tick: float = 0.5) -> None:
        """Forever: disconnect the sockets of links that expire (at their time), and
        check the links in use against the database every ``check_seconds`` (a
        revocation whose notification this relay missed)."""
        last_check = time.monotonic()
        while True:
            time.sleep(tick)
            try:
                now = datetime.now(UTC)
                expired = {s.id for s in self.shared.values() if s.expires_at <= now}
                if expired:
                    self.end_shares(expired)
                if self.links is not None and time.monotonic() - last_check >= check_seconds:
                    last_check = time.monotonic()
                    in_use = sorted({s.id for s in self.shared.values()})
                    if in_use:
                        self.end_shares(set(in_use) - self.links.working(in_use))
            except Exception as exc:  # never let the loop die: links would outlive themselves
                log.warning("checking share links failed: %s", type(exc).__name__)
