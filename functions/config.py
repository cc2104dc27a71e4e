"""Settings, read from the environment once per application."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from urllib.parse import urlsplit


class ConfigError(ValueError):
    """A setting has a value Vigie cannot use; the message names it."""


def env_float(
    env: Mapping[str, str], name: str, default: float, low: float, high: float = math.inf
) -> float:
    """A number setting within [low, high]; unset or empty gives the default."""
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:  # also refuses nan
        if high == math.inf:
            raise ConfigError(f"{name} must be at least {low:g}, got {raw}")
        raise ConfigError(f"{name} must be between {low:g} and {high:g}, got {raw}")
    return value


def _switch(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    if raw.strip().lower() in ("1", "on", "true", "yes"):
        return True
    if raw.strip().lower() in ("0", "off", "false", "no"):
        return False
    raise ConfigError(f"{name} must be on or off, got {raw!r}")


def env_int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


DURATION_UNITS = {"h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def parse_duration(name: str, raw: str) -> timedelta | None:
    """'36h', '7d', '12w', '2y' (a year is 365 days), or 'forever' (None)."""
    text = raw.strip().lower()
    if text == "forever":
        return None
    match = re.fullmatch(r"(\d+)\s*([hdwy])", text)
    if match is None or int(match[1]) == 0:
        raise ConfigError(
            f"{name} must be a duration such as 36h, 7d, 12w or 2y, or 'forever'; got {raw!r}"
        )
    return timedelta(seconds=int(match[1]) * DURATION_UNITS[match[2]])


def _duration(env: Mapping[str, str], name: str, default: timedelta | None) -> timedelta | None:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    return parse_duration(name, raw)


@dataclass(frozen=True)
class Settings:
    # Empty means: the embedded PostgreSQL of this checkout.
    database_url: str = ""
    # "pool" for a long-running process, "single" for a function host that reuses
    # one connection between invocations; "auto" picks by the environment.
    db_mode: str = "auto"
    db_pool_size: int = 10
    # Seconds a request waits for a connection before answering 503.
    db_connect_timeout: int = 5
    # Server-side prepared statements break behind a transaction pooler (PgBouncer,
    # Supabase port 6543). "auto" turns them off for port 6543.
    db_prepared_statements: str = "auto"
    enroll_token: str = field(default="", repr=False)
    dashboard_token: str = field(default="", repr=False)
    max_body_bytes: int = 1024 * 1024
    max_batch: int = 1000
    # How far in the future a client's recorded_at may be (clock skew), seconds.
    max_clock_skew: int = 300
    # The most points a history request may return when it names an interval.
    max_history_points: int = 10_000
    # Changing alert rules needs this token; unset, the rules cannot be changed.
    admin_token: str = field(default="", repr=False)
    # Default alert rules: thresholds in percent, how many consecutive samples at or
    # over the threshold fire, and how far below it a value must drop to resolve.
    alert_cpu: float = 90
    alert_ram: float = 90
    alert_disk: float = 90
    alert_for_samples: int = 3
    alert_clear_margin: float = 5
    # History reads rollup tiers where they serve the request; off reads raw
    # samples only (to compare the two).
    history_rollups: bool = True
    # How long raw samples and each rollup tier are kept (None: forever).
    retention_raw: timedelta | None = timedelta(days=7)
    retention_minute: timedelta | None = timedelta(days=90)
    retention_5min: timedelta | None = timedelta(days=180)
    retention_hour: timedelta | None = timedelta(days=730)
    # How often each relay offers to run history maintenance (retention, partitions),
    # seconds; 0 leaves it to `vigie maintain` or pg_cron.
    maintenance_seconds: int = 60

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        settings = cls(
            database_url=env.get("DATABASE_URL", ""),
            db_mode=env.get("VIGIE_DB_MODE", "auto"),
            db_pool_size=env_int(env, "VIGIE_DB_POOL_SIZE", 10),
            db_connect_timeout=env_int(env, "VIGIE_DB_TIMEOUT", 5),
            db_prepared_statements=env.get("VIGIE_DB_PREPARED_STATEMENTS", "auto"),
            enroll_token=env.get("VIGIE_ENROLL_TOKEN", ""),
            dashboard_token=env.get("VIGIE_DASHBOARD_TOKEN", ""),
            max_body_bytes=env_int(env, "VIGIE_MAX_BODY_BYTES", 1024 * 1024, minimum=1024),
            max_batch=env_int(env, "VIGIE_MAX_BATCH", 1000),
            max_clock_skew=env_int(env, "VIGIE_MAX_CLOCK_SKEW", 300, minimum=0),
            max_history_points=env_int(env, "VIGIE_MAX_HISTORY_POINTS", 10_000, minimum=100),
            admin_token=env.get("VIGIE_ADMIN_TOKEN", ""),
            alert_cpu=env_float(env, "VIGIE_ALERT_CPU", 90, 1, 100),
            alert_ram=env_float(env, "VIGIE_ALERT_RAM", 90, 1, 100),
            alert_disk=env_float(env, "VIGIE_ALERT_DISK", 90, 1, 100),
            alert_for_samples=env_int(env, "VIGIE_ALERT_FOR_SAMPLES", 3),
            alert_clear_margin=env_float(env, "VIGIE_ALERT_CLEAR_MARGIN", 5, 0, 99),
            history_rollups=_switch(env, "VIGIE_HISTORY_ROLLUPS", True),
            retention_raw=_duration(env, "VIGIE_RETENTION_RAW", timedelta(days=7)),
            retention_minute=_duration(env, "VIGIE_RETENTION_1M", timedelta(days=90)),
            retention_5min=_duration(env, "VIGIE_RETENTION_5M", timedelta(days=180)),
            retention_hour=_duration(env, "VIGIE_RETENTION_1H", timedelta(days=730)),
            maintenance_seconds=env_int(env, "VIGIE_MAINTENANCE_SECONDS", 60, minimum=0),
        )
        settings.check()
        return settings

    def replace(self, **changes: object) -> Settings:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        settings = Settings(**values)  # type: ignore[arg-type]
        settings.check()
        return settings

    def check(self) -> None:
        keeps = {
            "VIGIE_RETENTION_RAW": self.retention_raw,
            "VIGIE_RETENTION_1M": self.retention_minute,
            "VIGIE_RETENTION_5M": self.retention_5min,
            "VIGIE_RETENTION_1H": self.retention_hour,
        }
        if self.retention_raw is not None and self.retention_raw < timedelta(hours=1):
            raise ConfigError("VIGIE_RETENTION_RAW must be at least 1h")
        # Rollups are recomputed from the finer tier, which must still hold them.
        names = list(keeps)
        for finer, coarser in zip(names, names[1:], strict=False):
            forever = timedelta.max
            if (keeps[finer] or forever) > (keeps[coarser] or forever):
                raise ConfigError(f"{finer} must not be longer than {coarser}")
        if self.db_mode not in ("auto", "pool", "single"):
            raise ConfigError(f"VIGIE_DB_MODE must be auto, pool or single, got {self.db_mode!r}")
        if self.db_prepared_statements not in ("auto", "on", "off"):
            raise ConfigError(
                "VIGIE_DB_PREPARED_STATEMENTS must be auto, on or off, "
                f"got {self.db_prepared_statements!r}"
            )
        if self.alert_for_samples > 1000:
            raise ConfigError(
                f"VIGIE_ALERT_FOR_SAMPLES must be at most 1000, got {self.alert_for_samples}"
            )
        lowest = min(self.alert_cpu, self.alert_ram, self.alert_disk)
        if self.alert_clear_margin >= lowest:
            raise ConfigError(
                f"VIGIE_ALERT_CLEAR_MARGIN ({self.alert_clear_margin:g}) must be smaller than "
                f"every default threshold (the lowest is {lowest:g})"
            )

    @property
    def alert_defaults(self) -> dict[str, float | int]:
        """The default rules, as the database's evaluation reads them."""
        return {
            "cpu": self.alert_cpu,
            "ram": self.alert_ram,
            "disk": self.alert_disk,
            "for_samples": self.alert_for_samples,
            "clear_margin": self.alert_clear_margin,
        }

    @property
    def resolved_db_mode(self) -> str:
        if self.db_mode != "auto":
            return self.db_mode
        serverless = ("AWS_LAMBDA_FUNCTION_NAME", "VERCEL", "NETLIFY")
        return "single" if any(os.environ.get(k) for k in serverless) else "pool"

    @property
    def prepared_statements(self) -> bool:
        if self.db_prepared_statements != "auto":
            return self.db_prepared_statements == "on"
        try:
            port = urlsplit(self.database_url).port
        except ValueError:
            port = None
        return port != 6543
