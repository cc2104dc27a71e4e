"""What a relay says about itself at ``GET /health``: filled in by the listener,
the catch-up and the emission, read by the health route.

A relay is unwell (503, with the reason) while it does not listen, or while a
catch-up it owes keeps failing: then it is not emitting what it missed, and a load
balancer or a person should know, even though live events may still flow."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar


@dataclass
class Health:
    # A catch-up failing for this many of the relay's check periods makes it unwell.
    FAILING_CHECKS: ClassVar[int] = 3

    listening: bool = False
    listening_since: float | None = None
    last_notification: float | None = None
    reconnects: int = 0
    catch_ups: int = 0
    caught_up_samples: int = 0
    caught_up_alerts: int = 0
    emitted: int = 0
    backend_pid: int | None = None
    last_error: str | None = None
    # Since when the catch-up owed keeps failing (None: it is not failing), and why.
    catch_up_failing_since: float | None = None
    catch_up_error: str | None = None
    catch_up_failures: int = 0
    # Rows of the logs or samples the driver could not convert: left out, each once.
    skipped_rows: int = 0
    # Seconds of failing catch-up before the relay says it is unwell (the catch-up
    # sets it from the relay's check period).
    unwell_after: float = 6.0

    def catch_up_failed(self, error: str) -> None:
        if self.catch_up_failing_since is None:
            self.catch_up_failing_since = time.monotonic()
        self.catch_up_failures += 1
        self.catch_up_error = error
        self.last_error = f"catch-up: {error}"

    def catch_up_succeeded(self) -> None:
        self.catch_up_failing_since = None
        self.catch_up_error = None

    def problem(self, now: float | None = None) -> str | None:
        """Why the relay is unwell, or None when it is not."""
        now = time.monotonic() if now is None else now
        if not self.listening:
            why = f" ({self.last_error})" if self.last_error else ""
            return f"not listening for database notifications{why}"
        since = self.catch_up_failing_since
        if since is not None and now - since > self.unwell_after:
            return (
                f"catching up on missed events has failed for {now - since:.0f}s "
                f"({self.catch_up_error})"
            )
        return None

    def report(self, queued: int) -> dict:
        now = time.monotonic()

        def ago(t: float | None) -> float | None:
            return None if t is None else round(now - t, 3)

        return {
            "reason": self.problem(now),
            "listening": self.listening,
            "listening_for": ago(self.listening_since),
            # To find the LISTEN session in pg_stat_activity.
            "listen_backend_pid": self.backend_pid if self.listening else None,
            "last_notification_ago": ago(self.last_notification),
            "reconnects": self.reconnects,
            "catch_ups": self.catch_ups,
            "caught_up_samples": self.caught_up_samples,
            "caught_up_alerts": self.caught_up_alerts,
            "catch_up_failing_for": ago(self.catch_up_failing_since),
            "catch_up_failures": self.catch_up_failures,
            "skipped_rows": self.skipped_rows,
            "events_emitted": self.emitted,
            "queued": queued,
            "last_error": self.last_error,
        }
