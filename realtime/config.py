"""The relay's settings, read from the environment once per process."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from functions.config import env_float, env_int


def _origins(raw: str | None) -> str | list[str] | None:
    """None: same origin only (socket.io's default). "*": any. Else a list."""
    if raw is None or not raw.strip():
        return None
    if raw.strip() == "*":
        return "*"
    return [o.strip().rstrip("/") for o in raw.split(",") if o.strip()]


@dataclass(frozen=True)
class RelaySettings:
    # LISTEN needs a session: a direct connection or a session-mode pooler, never a
    # transaction pooler (Supabase's port 6543). Empty means the embedded server.
    database_url: str = ""
    # When set, a socket connection must carry it: io(url, {auth: {token}}).
    dashboard_token: str = field(default="", repr=False)
    # Browser origins allowed to open a socket besides the relay's own; "*": any.
    cors_origins: str | list[str] | None = None
    # A server is offline after this many of its own intervals without a sample.
    offline_after: float = 3.0
    # How often each relay instance looks for servers gone silent, seconds.
    sweep_seconds: float = 5.0
    # Samples of one write pushed live; a larger batch (a collector flushing its
    # spool) pushes its newest ones plus one `metrics-backfill` event.
    max_live_samples: int = 100
    # How long the catch-up log keeps writes, seconds: a relay that stays
    # disconnected longer than this tells its clients to refetch (`resync`).
    log_retention: int = 3600
    # How often the relay proves its LISTEN connection delivers (a NOTIFY to
    # itself), and how long it waits for it before reconnecting, seconds.
    check_seconds: float = 2.0
    listen_timeout: float = 15.0
    pool_size: int = 4

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RelaySettings:
        env = os.environ if env is None else env
        return cls(
            database_url=env.get("REALTIME_DATABASE_URL") or env.get("DATABASE_URL", ""),
            dashboard_token=env.get("VIGIE_DASHBOARD_TOKEN", ""),
            cors_origins=_origins(env.get("VIGIE_CORS_ORIGINS")),
            offline_after=env_float(env, "VIGIE_OFFLINE_AFTER", 3.0, 1.0),
            sweep_seconds=env_float(env, "VIGIE_SWEEP_SECONDS", 5.0, 0.1),
            max_live_samples=env_int(env, "VIGIE_RELAY_MAX_LIVE", 100),
            log_retention=env_int(env, "VIGIE_RELAY_LOG_RETENTION", 3600, minimum=1),
            check_seconds=env_float(env, "VIGIE_RELAY_CHECK_SECONDS", 2.0, 0.1),
            listen_timeout=env_float(env, "VIGIE_RELAY_LISTEN_TIMEOUT", 15.0, 1.0),
            pool_size=env_int(env, "VIGIE_RELAY_POOL_SIZE", 4, minimum=2),
        )
