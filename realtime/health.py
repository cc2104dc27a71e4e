"""What a relay says about itself at ``GET /health``: filled in by the listener,
the catch-up and the emission, read by the health route."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class Health:
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

    def report(self, queued: int) -> dict:
        now = time.monotonic()

        def ago(t: float | None) -> float | None:
            return None if t is None else round(now - t, 3)

        return {
            "listening": self.listening,
            "listening_for": ago(self.listening_since),
            # To find the LISTEN session in pg_stat_activity.
            "listen_backend_pid": self.backend_pid if self.listening else None,
            "last_notification_ago": ago(self.last_notification),
            "reconnects": self.reconnects,
            "catch_ups": self.catch_ups,
            "caught_up_samples": self.caught_up_samples,
            "caught_up_alerts": self.caught_up_alerts,
            "events_emitted": self.emitted,
            "queued": queued,
            "last_error": self.last_error,
        }
