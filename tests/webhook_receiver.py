"""A local HTTP server standing in for Slack, Discord or any webhook receiver."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """Records every POST; answers with the next scripted status (200 when none is
    left); while `holding` is set, keeps each request waiting until `release()`."""

    def __init__(self, delay: float = 0.0) -> None:
        self.received: list[dict[str, Any]] = []
        self.statuses: deque[int] = deque()
        self.holding = threading.Event()
        self.held = threading.Event()  # a request is being held right now
        self._release = threading.Event()
        self._lock = threading.Lock()
        self.delay = delay
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"null")
                with receiver._lock:
                    receiver.received.append({"path": self.path, "body": body})
                    status = receiver.statuses.popleft() if receiver.statuses else 200
                if receiver.holding.is_set():
                    receiver.held.set()
                    receiver._release.wait(120)
                if receiver.delay:
                    time.sleep(receiver.delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the client gave up waiting (a timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Receiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()

    def release(self) -> None:
        self.holding.clear()
        self._release.set()

    @property
    def bodies(self) -> list[Any]:
        with self._lock:
            return [r["body"] for r in self.received]

    def wait_for(
        self, count: int, where: Callable[[Any], bool] = lambda b: True, timeout: float = 60
    ) -> list[Any]:
        """The bodies received that match `where`, once there are `count` of them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [b for b in self.bodies if where(b)]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise TimeoutError(f"expected {count} webhook calls, got {self.bodies}")
