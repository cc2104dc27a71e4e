"""A python-socketio client that records every event, for the relay tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import socketio


class EventClient:
    """Connects to a relay, records what it receives, waits for events."""

    def __init__(self, url: str, auth: dict | None = None, headers: dict | None = None) -> None:
        self.url = url
        self.events: list[tuple[str, Any]] = []
        self._changed = threading.Condition()
        self.sio = socketio.Client(reconnection=True, reconnection_delay=0.2)
        self.sio.on("*", self._record)
        self.sio.connect(
            url, auth=auth, headers=headers or {}, transports=["websocket"], wait_timeout=20
        )

    def _record(self, event: str, data: Any = None) -> None:
        with self._changed:
            self.events.append((event, data))
            self._changed.notify_all()

    def call(self, event: str, data: Any = None) -> Any:
        return self.sio.call(event, data, timeout=20)

    def join(self, server_id: int) -> dict:
        ack = self.call("join-server", {"serverId": server_id})
        assert ack["ok"], ack
        return ack

    def of(self, event: str, where: Callable[[Any], bool] = lambda d: True) -> list[Any]:
        with self._changed:
            return [d for e, d in self.events if e == event and where(d)]

    def wait_for(
        self,
        event: str,
        where: Callable[[Any], bool] = lambda d: True,
        count: int = 1,
        timeout: float = 30,
    ) -> list[Any]:
        """The first `count` matching events, waiting for them (generously)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [d for e, d in self.events if e == event and where(d)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"got {len(found)} of {count} {event!r} events in {timeout}s; "
                        f"events: {self.events[-12:]}"
                    )
                self._changed.wait(left)

    def close(self) -> None:
        self.sio.disconnect()

    def __enter__(self) -> EventClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
