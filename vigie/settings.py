"""Every setting of Vigie, read from the environment, in sections.

``Settings.from_env()`` is built once per process; each section is parsed (and
checked) the first time it is used, so an app validates only what it uses: a bad
``VIGIE_ALERT_CPU`` stops the functions, which evaluate alerts, not the relay.

| section     | used by                     | variables                                   |
|-------------|-----------------------------|---------------------------------------------|
| database    | functions, ``vigie`` CLI    | DATABASE_URL, VIGIE_DB_*                    |
| api         | functions                   | tokens, limits, VIGIE_HISTORY_*, _PUBLIC_URL |
| alerts      | functions                   | VIGIE_ALERT_CPU/RAM/DISK/FOR_SAMPLES/…      |
| retention   | relay, ``vigie maintain``   | VIGIE_RETENTION_*, VIGIE_MAINTENANCE_*      |
| relay       | relay                       | REALTIME_DATABASE_URL, VIGIE_RELAY_*, …     |
| webhooks    | relay                       | VIGIE_ALERT_WEBHOOK_*, VIGIE_NOTIFY_URLS    |
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Generic, TypeVar, overload
from urllib.parse import urlsplit

S = TypeVar("S")


class ConfigError(ValueError):
    """A setting has a value Vigie cannot use; the message names it."""


# --- parsing one value -----------------------------------------------------------


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


def env_switch(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    if raw.strip().lower() in ("1", "on", "true", "yes"):
        return True
    if raw.strip().lower() in ("0", "off", "false", "no"):
        return False
    raise ConfigError(f"{name} must be on or off, got {raw!r}")


# The duration grammar of every Vigie setting, and of the collector's options
# (which has its own copy, as it installs alone; tests/cases/durations.json feeds
# both): a positive number, an optional unit, case and spaces ignored.
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdwy]?)\s*", re.IGNORECASE | re.ASCII)
DURATION_EXAMPLES = "90s, 15m, 36h, 7d, 12w or 2y"


def parse_duration(name: str, raw: str, allow_forever: bool = True) -> timedelta | None:
    """'90s', '15m', '36h', '7d', '12w', '2y' (a year is 365 days), a bare number of
    seconds, or 'forever' (None) where the setting allows it."""
    if allow_forever and raw.strip().lower() == "forever":
        return None
    match = DURATION.fullmatch(raw)
    seconds = float(match[1]) * DURATION_UNITS[match[2].lower() or "s"] if match else 0.0
    if not 0 < seconds < math.inf:
        forever = ", or 'forever'" if allow_forever else ""
        raise ConfigError(
            f"{name} must be a duration such as {DURATION_EXAMPLES}{forever}; got {raw!r}"
        )
    return timedelta(seconds=seconds)


def env_duration(env: Mapping[str, str], name: str, default: timedelta | None) -> timedelta | None:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    return parse_duration(name, raw)


def redact_url(url: str) -> str:
    """The URL without what may be secret: no user, path or query."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(invalid URL)"
    hidden = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{host}{port}{hidden}"


def public_url(env: Mapping[str, str]) -> str:
    """VIGIE_PUBLIC_URL without a trailing slash."""
    return env.get("VIGIE_PUBLIC_URL", "").strip().rstrip("/")


def check_public_url(url: str) -> None:
    if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname):
        raise ConfigError(f"VIGIE_PUBLIC_URL must be an http(s) URL, got {url!r}")


def split_urls(raw: str) -> tuple[str, ...]:
    """URLs separated by spaces or commas (an Apprise URL holds neither unescaped)."""
    return tuple(part for part in re.split(r"[\s,]+", raw.strip()) if part)


# --- the sections ----------------------------------------------------------------


@dataclass(frozen=True)
class DatabaseSettings:
    # Empty means: the embedded PostgreSQL of this checkout.
    url: str = ""
    # "pool" for a long-running process, "single" for a function host that reuses
    # one connection between invocations; "auto" picks by the environment.
    mode: str = "auto"
    pool_size: int = 10
    # Seconds a request waits for a connection before answering 503.
    connect_timeout: int = 5
    # Server-side prepared statements break behind a transaction pooler (PgBouncer,
    # Supabase port 6543). "auto" turns them off for port 6543.
    prepared_statements: str = "auto"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DatabaseSettings:
        return cls(
            url=env.get("DATABASE_URL", ""),
            mode=env.get("VIGIE_DB_MODE", "auto"),
            pool_size=env_int(env, "VIGIE_DB_POOL_SIZE", 10),
            connect_timeout=env_int(env, "VIGIE_DB_TIMEOUT", 5),
            prepared_statements=env.get("VIGIE_DB_PREPARED_STATEMENTS", "auto"),
        )

    def check(self) -> None:
        if self.mode not in ("auto", "pool", "single"):
            raise ConfigError(f"VIGIE_DB_MODE must be auto, pool or single, got {self.mode!r}")
        if self.prepared_statements not in ("auto", "on", "off"):
            raise ConfigError(
                "VIGIE_DB_PREPARED_STATEMENTS must be auto, on or off, "
                f"got {self.prepared_statements!r}"
            )

    @property
    def resolved_mode(self) -> str:
        if self.mode != "auto":
            return self.mode
        serverless = ("AWS_LAMBDA_FUNCTION_NAME", "VERCEL", "NETLIFY")
        return "single" if any(os.environ.get(k) for k in serverless) else "pool"

    @property
    def prepare(self) -> bool:
        if self.prepared_statements != "auto":
            return self.prepared_statements == "on"
        try:
            port = urlsplit(self.url).port
        except ValueError:
            port = None
        return port != 6543


@dataclass(frozen=True)
class ApiSettings:
    enroll_token: str = field(default="", repr=False)
    dashboard_token: str = field(default="", repr=False)
    # Changing alert rules needs this token; unset, the rules cannot be changed.
    admin_token: str = field(default="", repr=False)
    max_body_bytes: int = 1024 * 1024
    max_batch: int = 1000
    # The most single-sample writes committed together (functions/grouping.py);
    # 1: each alone.
    ingest_group: int = 64
    # A request that waited longer than this for one of the web worker's threads is
    # answered 503 with Retry-After at once (vigie/workers.py); 0: never.
    max_queue_seconds: float = 2.0
    # How far in the future a client's recorded_at may be (clock skew), seconds.
    max_clock_skew: int = 300
    # The most points a history request may return when it names an interval.
    max_history_points: int = 10_000
    # History reads rollup tiers where they serve the request; off reads raw
    # samples only (to compare the two).
    history_rollups: bool = True
    # Where the dashboard is served (share links are made from it); empty: the
    # origin of the request that creates the link.
    public_url: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ApiSettings:
        return cls(
            enroll_token=env.get("VIGIE_ENROLL_TOKEN", ""),
            dashboard_token=env.get("VIGIE_DASHBOARD_TOKEN", ""),
            admin_token=env.get("VIGIE_ADMIN_TOKEN", ""),
            max_body_bytes=env_int(env, "VIGIE_MAX_BODY_BYTES", 1024 * 1024, minimum=1024),
            max_batch=env_int(env, "VIGIE_MAX_BATCH", 1000),
            ingest_group=env_int(env, "VIGIE_INGEST_GROUP", 64, minimum=1),
            max_queue_seconds=env_float(env, "VIGIE_MAX_QUEUE_SECONDS", 2.0, 0.0, 3600),
            max_clock_skew=env_int(env, "VIGIE_MAX_CLOCK_SKEW", 300, minimum=0),
            max_history_points=env_int(env, "VIGIE_MAX_HISTORY_POINTS", 10_000, minimum=100),
            history_rollups=env_switch(env, "VIGIE_HISTORY_ROLLUPS", True),
            public_url=public_url(env),
        )

    def check(self) -> None:
        check_public_url(self.public_url)


@dataclass(frozen=True)
class AlertSettings:
    """Default alert rules: thresholds in percent, how many consecutive samples at
    or over the threshold fire, and how far below it a value must drop to resolve."""

    cpu: float = 90
    ram: float = 90
    disk: float = 90
    for_samples: int = 3
    clear_margin: float = 5

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AlertSettings:
        return cls(
            cpu=env_float(env, "VIGIE_ALERT_CPU", 90, 1, 100),
            ram=env_float(env, "VIGIE_ALERT_RAM", 90, 1, 100),
            disk=env_float(env, "VIGIE_ALERT_DISK", 90, 1, 100),
            for_samples=env_int(env, "VIGIE_ALERT_FOR_SAMPLES", 3),
            clear_margin=env_float(env, "VIGIE_ALERT_CLEAR_MARGIN", 5, 0, 99),
        )

    def check(self) -> None:
        if self.for_samples > 1000:
            raise ConfigError(
                f"VIGIE_ALERT_FOR_SAMPLES must be at most 1000, got {self.for_samples}"
            )
        lowest = min(self.cpu, self.ram, self.disk)
        if self.clear_margin >= lowest:
            raise ConfigError(
                f"VIGIE_ALERT_CLEAR_MARGIN ({self.clear_margin:g}) must be smaller than "
                f"every default threshold (the lowest is {lowest:g})"
            )

    @property
    def defaults(self) -> dict[str, float | int]:
        """The default rules, as the database's evaluation reads them."""
        return {
            "cpu": self.cpu,
            "ram": self.ram,
            "disk": self.disk,
            "for_samples": self.for_samples,
            "clear_margin": self.clear_margin,
        }


@dataclass(frozen=True)
class RetentionSettings:
    # How long raw samples and each rollup tier are kept (None: forever).
    raw: timedelta | None = timedelta(days=7)
    minute: timedelta | None = timedelta(days=90)
    five_minutes: timedelta | None = timedelta(days=180)
    hour: timedelta | None = timedelta(days=730)
    # How often each relay offers to run history maintenance (retention, partitions),
    # seconds; 0 leaves it to `vigie maintain` or pg_cron.
    maintenance_seconds: int = 60
    # How often each relay brings the rollups up to date with what was written,
    # seconds (one relay at a time does it); 0 leaves it to maintenance. History is
    # exact either way: what is not rolled up yet is read from the raw samples.
    rollup_seconds: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RetentionSettings:
        return cls(
            raw=env_duration(env, "VIGIE_RETENTION_RAW", timedelta(days=7)),
            minute=env_duration(env, "VIGIE_RETENTION_1M", timedelta(days=90)),
            five_minutes=env_duration(env, "VIGIE_RETENTION_5M", timedelta(days=180)),
            hour=env_duration(env, "VIGIE_RETENTION_1H", timedelta(days=730)),
            maintenance_seconds=env_int(env, "VIGIE_MAINTENANCE_SECONDS", 60, minimum=0),
            rollup_seconds=env_float(env, "VIGIE_ROLLUP_SECONDS", 10.0, 0.0, 3600),
        )

    def check(self) -> None:
        keeps = {
            "VIGIE_RETENTION_RAW": self.raw,
            "VIGIE_RETENTION_1M": self.minute,
            "VIGIE_RETENTION_5M": self.five_minutes,
            "VIGIE_RETENTION_1H": self.hour,
        }
        if self.raw is not None and self.raw < timedelta(hours=1):
            raise ConfigError("VIGIE_RETENTION_RAW must be at least 1h")
        # Rollups are recomputed from the finer tier, which must still hold them.
        names = list(keeps)
        forever = timedelta.max
        for finer, coarser in zip(names, names[1:], strict=False):
            if (keeps[finer] or forever) > (keeps[coarser] or forever):
                raise ConfigError(f"{finer} must not be longer than {coarser}")


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
    # The overview (join-all) gets at most one `fleet-update` per this many
    # seconds: the latest state of each server that changed, not every sample.
    fleet_seconds: float = 1.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RelaySettings:
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
            fleet_seconds=env_float(env, "VIGIE_FLEET_SECONDS", 1.0, 0.05, 60),
        )

    def check(self) -> None:
        pass


WEBHOOK_FORMATS = ("auto", "slack", "discord", "json")


@dataclass(frozen=True)
class WebhookSettings:
    url: str = field(default="", repr=False)
    # auto: Slack or Discord by the URL's host, else the generic JSON body.
    format: str = "auto"
    # Seconds to connect, and to wait for each read of the answer.
    timeout: float = 5.0
    # Sends per notification before giving up, and the first retry's delay (seconds),
    # doubled for each further retry up to max_backoff: 10 attempts span ~14 minutes.
    attempts: int = 10
    backoff: float = 2.0
    max_backoff: float = 300.0
    # Apprise URLs (ntfy://, tgram://, mailto://, json://, …) that get every alert
    # too, with the same outbox, retries and order as the webhook. They hold secrets.
    notify_urls: tuple[str, ...] = field(default=(), repr=False)
    # Where the dashboard is served: messages link to the server's page there.
    public_url: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WebhookSettings:
        return cls(
            url=env.get("VIGIE_ALERT_WEBHOOK_URL", "").strip(),
            format=env.get("VIGIE_ALERT_WEBHOOK_FORMAT", "auto").strip().lower() or "auto",
            timeout=env_float(env, "VIGIE_ALERT_WEBHOOK_TIMEOUT", 5.0, 0.1, 300),
            attempts=env_int(env, "VIGIE_ALERT_WEBHOOK_ATTEMPTS", 10),
            backoff=env_float(env, "VIGIE_ALERT_WEBHOOK_BACKOFF", 2.0, 0.01, 3600),
            notify_urls=split_urls(env.get("VIGIE_NOTIFY_URLS", "")),
            public_url=public_url(env),
        )

    def check(self) -> None:
        if self.format not in WEBHOOK_FORMATS:
            raise ConfigError(
                f"VIGIE_ALERT_WEBHOOK_FORMAT must be one of {', '.join(WEBHOOK_FORMATS)}, "
                f"got {self.format!r}"
            )
        if self.url and urlsplit(self.url).scheme not in ("http", "https"):
            raise ConfigError(
                f"VIGIE_ALERT_WEBHOOK_URL must be an http(s) URL, got {redact_url(self.url)}"
            )
        for url in self.notify_urls:
            if "://" not in url:
                raise ConfigError(
                    "VIGIE_NOTIFY_URLS must hold Apprise URLs (scheme://…), separated by "
                    f"spaces or commas; got one without a scheme ({len(url)} characters)"
                )
        check_public_url(self.public_url)

    @property
    def targets(self) -> bool:
        """Is there anywhere to send notifications?"""
        return bool(self.url or self.notify_urls)

    @property
    def resolved_format(self) -> str:
        if self.format != "auto":
            return self.format
        parts = urlsplit(self.url)
        host = (parts.hostname or "").lower()
        if host == "hooks.slack.com":
            return "slack"
        if host.endswith(("discord.com", "discordapp.com")) and "/api/webhooks/" in parts.path:
            return "discord"
        return "json"

    def delay(self, attempts: int) -> float:
        """Seconds before the next try, after `attempts` failed ones."""
        return min(self.backoff * 2 ** (attempts - 1), self.max_backoff)


class Section(Generic[S]):
    """A section of ``Settings``: parsed from its environment and checked on first
    use, then kept (in the instance, where a section given to it already is)."""

    def __init__(self, kind: type[S]) -> None:
        self.kind = kind

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, settings: None, owner: type) -> Section[S]: ...
    @overload
    def __get__(self, settings: Settings, owner: type) -> S: ...
    def __get__(self, settings: Settings | None, owner: type) -> S | Section[S]:
        if settings is None:
            return self
        value = self.kind.from_env(settings._env)
        value.check()
        settings.__dict__[self.name] = value
        return value


class Settings:
    """Every section; a section not given is parsed from ``env`` on first use.

    ``Settings()`` has every default; ``Settings.from_env()`` reads the process's
    environment; ``Settings(api=ApiSettings(enroll_token="…"))`` sets one section
    (tests). Sections given are checked at once, the others when first used."""

    database = Section(DatabaseSettings)
    api = Section(ApiSettings)
    alerts = Section(AlertSettings)
    retention = Section(RetentionSettings)
    relay = Section(RelaySettings)
    webhooks = Section(WebhookSettings)

    def __init__(self, env: Mapping[str, str] | None = None, **sections: Any) -> None:
        unknown = set(sections) - set(SECTIONS)
        if unknown:
            raise TypeError(f"unknown settings section(s): {', '.join(sorted(unknown))}")
        self._env: Mapping[str, str] = {} if env is None else env
        for name, value in sections.items():
            value.check()
            self.__dict__[name] = value  # where Section looks first

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        return cls(dict(os.environ if env is None else env))

    def replace(self, **sections: Any) -> Settings:
        """The same settings with some sections replaced."""
        current = {name: getattr(self, name) for name in SECTIONS if name in self.__dict__}
        return Settings(self._env, **{**current, **sections})


SECTIONS: dict[str, Any] = {
    name: section.kind for name, section in vars(Settings).items() if isinstance(section, Section)
}
