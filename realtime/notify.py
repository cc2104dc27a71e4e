"""Where alert notifications go: the webhook (realtime/webhooks.py) and every
Apprise URL of VIGIE_NOTIFY_URLS (ntfy, Telegram, email, Gotify, Matrix, …).

Each is a ``Target`` with a stable key (a digest of its URL, never the URL: it
holds secrets), so the outbox records which targets got a row and a retry after a
partial failure sends only what is missing. Logs name a target by its kind and
place only (``notify URL 2 (tgram://)``): an Apprise URL's host is often a token.
Apprise's own log lines, and the request paths of the HTTP client under it, quote
the URLs: the first are turned off, the second have their paths hidden.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from vigie.settings import ConfigError, WebhookSettings
from vigie.settings import redact_url as redact

log = logging.getLogger("vigie.webhooks")

METRIC_NAMES = {"cpu": "CPU", "ram": "RAM", "disk": "Disk", "offline": "Offline"}


@dataclass
class Result:
    ok: bool
    retry: bool = False
    error: str = ""


@dataclass
class Target:
    key: str
    label: str
    send: Callable[[Mapping[str, Any]], Result]


def target_key(kind: str, url: str) -> str:
    return f"{kind}:{hashlib.sha256(url.encode()).hexdigest()[:16]}"


def link(alert: Mapping[str, Any], public_url: str) -> str | None:
    """The server's page on the dashboard, when VIGIE_PUBLIC_URL says where it is."""
    if not public_url:
        return None
    return f"{public_url.rstrip('/')}/servers/{alert['server_id']}"


def title(alert: Mapping[str, Any]) -> str:
    name = alert.get("server_name") or alert.get("hostname") or f"server {alert['server_id']}"
    what = METRIC_NAMES.get(alert["type"], str(alert["type"]))
    if alert["state"] == "firing":
        return f"🔴 {name}: {what} alert"
    return f"✅ {name}: {what} resolved"


# --- Apprise -------------------------------------------------------------------


class HidePaths(logging.Filter):
    """The HTTP client logs each request's path at DEBUG level; behind an Apprise
    URL that path often holds a token (api.telegram.org/bot<token>/…)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(_hidden(arg) for arg in record.args)
        elif isinstance(record.msg, str):
            # Already formatted (by another filter): the request line's path goes.
            record.msg = REQUEST_LINE.sub(r'"\1 /… ', record.msg)
        return True


REQUEST_LINE = re.compile(r'"([A-Z]+) \S+ ')


def _hidden(arg: object) -> object:
    if isinstance(arg, str):
        if "://" in arg:
            return redact(arg)
        if arg.startswith("/") and len(arg) > 1:
            return "/…"
    return arg


_quiet = False


def quiet_apprise() -> None:
    """Apprise logs the URLs it sends to (partly masked, not enough): off. Vigie
    logs each send itself, naming the target by its kind and place."""
    global _quiet
    if _quiet:
        return
    _quiet = True
    apprise_log = logging.getLogger("apprise")
    apprise_log.disabled = True
    apprise_log.propagate = False
    hide = HidePaths()
    for name in ("urllib3.connectionpool", "urllib3.connection", "urllib3.poolmanager"):
        logging.getLogger(name).addFilter(hide)


def apprise_text(alert: Mapping[str, Any], public_url: str, message: str) -> str:
    """The body: the alert's line, then the server page's link."""
    url = link(alert, public_url)
    return f"{message}\n{url}" if url else message


# One Apprise object per URL for the process: building one loads its plugin.
@lru_cache(maxsize=64)
def apprise_target(
    url: str, place: int, public_url: str, message: Callable[[Mapping[str, Any]], str]
) -> Target:
    """A Target for one Apprise URL (refused with ConfigError when Apprise cannot
    read it; the error names its place, not the URL)."""
    import apprise

    quiet_apprise()
    scheme = urlsplit(url).scheme or "?"
    label = f"notify URL {place} ({scheme}://)"
    service = apprise.Apprise()
    if not service.add(url):
        raise ConfigError(
            f"VIGIE_NOTIFY_URLS: Apprise cannot use URL {place} ({scheme}://…); see "
            "https://github.com/caronc/apprise/wiki for the form of each service's URL"
        )

    def send(alert: Mapping[str, Any]) -> Result:
        kind = (
            apprise.NotifyType.FAILURE
            if alert["state"] == "firing"
            else (apprise.NotifyType.SUCCESS)
        )
        try:
            result = service.notify(
                body=apprise_text(alert, public_url, message(alert)),
                title=title(alert),
                notify_type=kind,
            )
        except Exception as exc:  # a plugin's failure: its text may quote the URL
            return Result(False, True, f"Apprise failed ({type(exc).__name__})")
        if result:
            return Result(True)
        if getattr(result, "status", None) == apprise.AppriseResultStatus.TIMEOUT:
            return Result(False, True, "no answer in time")
        return Result(False, True, "not delivered (Apprise reported a failure)")

    return Target(target_key("apprise", url), label, send)


def targets(
    settings: WebhookSettings,
    webhook: Callable[[Mapping[str, Any]], Result] | None,
    message: Callable[[Mapping[str, Any]], str],
) -> list[Target]:
    """The webhook (when set), then each Apprise URL, in the order configured."""
    found: list[Target] = []
    if settings.url and webhook is not None:
        found.append(Target(target_key("webhook", settings.url), f"webhook {redact(settings.url)}",
                            webhook))  # fmt: skip
    for place, url in enumerate(settings.notify_urls, start=1):
        found.append(apprise_target(url, place, settings.public_url, message))
    return found
