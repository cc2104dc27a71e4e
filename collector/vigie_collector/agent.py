"""The collector's behaviour, without the CLI: sample, keep, send, retry.

Every sample goes to the backlog first and leaves it only when the API has
acknowledged it. Sending drains the backlog oldest first through the batch
endpoint; because the API stores a repeated (server, recorded_at) once, a crash
between sending and deleting causes no duplicate, only a resend.

The daemon samples and sends on two threads, which share only the backlog: a
request that takes its whole timeout, or a backoff of a minute, never delays a
sample.
"""

from __future__ import annotations

import json
import logging
import platform
import random
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from .backlog import Backlog
from .client import ApiError, Client, Unreachable
from .sampler import Sampler
from .state import Credentials, StateDir

log = logging.getLogger("vigie_collector")

# A re-registration this soon after the previous one means something else keeps
# replacing our token (a cloned machine with the same machine id): stop and say so
# rather than take turns with it forever.
REREGISTER_GUARD_SECONDS = 600
SAMPLE_INDEX = re.compile(r"^samples\[(\d+)\]")
UNKNOWN_FIELD = re.compile(r"^samples\[\d+\]\.([a-z0-9_]+)$")
# The fields every Vigie API takes: never left out for an older API.
SEED_FIELDS = frozenset(
    {
        "cpu_percent",
        "ram_percent",
        "ram_used_mb",
        "ram_total_mb",
        "disk_percent",
        "disk_used_gb",
        "disk_total_gb",
        "network_sent_mb",
        "network_recv_mb",
        "recorded_at",
    }
)
# A batch stays well under the API's default body limit (1 MiB): a host with
# many filesystems and interfaces sends samples of several KiB.
MAX_BATCH_BYTES = 512 * 1024


class Fatal(Exception):
    """Something only a person can fix (a refused token, a wrong URL). The
    message says what to do. Unsent samples stay in the backlog."""


class NotConfigured(Fatal):
    """The settings cannot work (no way to register): a usage error."""


@dataclass
class Settings:
    api_url: str
    state_dir: Path
    enroll_token: str | None = field(default=None, repr=False)
    interval: float = 5.0
    name: str | None = None
    hostname: str = field(default_factory=socket.gethostname)
    disk_path: str = "/"
    backlog_max_samples: int = 100_000
    backlog_max_age: float | None = 7 * 86400  # None: no age limit
    batch_size: int = 500
    timeout: float = 10.0
    retry_max: float = 60.0


class Backoff:
    """Exponential backoff with jitter: the n-th consecutive failure waits between
    half and all of min(cap, initial * 2**n). The ceiling grows then stays at the
    cap; the jitter keeps a fleet of collectors that lost the API at the same
    moment from coming back at the same moment."""

    def __init__(
        self,
        initial: float = 1.0,
        cap: float = 60.0,
        factor: float = 2.0,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.initial, self.cap, self.factor, self.rng = initial, cap, factor, rng
        self.failures = 0

    def ceiling(self) -> float:
        return min(self.cap, self.initial * self.factor ** min(self.failures, 64))

    def next_delay(self, retry_after: float | None = None) -> float:
        delay = self.ceiling() * (0.5 + 0.5 * self.rng())
        if retry_after is not None:
            # The API's own Retry-After is honoured, up to the cap.
            delay = max(delay, min(retry_after, self.cap))
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0


@dataclass
class DrainResult:
    sent: int = 0
    done: bool = False  # the backlog is empty
    error: str | None = None  # why it stopped early (then a retry is scheduled)


def local_ip(api_url: str) -> str | None:
    """The address this host uses to reach the API (no packet is sent: connecting
    a UDP socket only picks the route)."""
    parts = urlsplit(api_url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_DGRAM)
        family, _, _, _, address = infos[0]
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect(address)
            return probe.getsockname()[0]
    except (OSError, ValueError, IndexError):
        return None


def _recorded_at(body: str) -> str | None:
    """A stored sample's recorded_at, for the log."""
    try:
        return json.loads(body).get("recorded_at")
    except (ValueError, AttributeError):
        return None


class Agent:
    def __init__(
        self,
        settings: Settings,
        client: Client | None = None,
        sampler: Sampler | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.state = StateDir(settings.state_dir)
        self.state.create()
        self.client = client or Client(settings.api_url, settings.timeout)
        self.sampler = sampler or Sampler(settings.disk_path)
        self.backlog = Backlog(
            self.state.backlog_file, settings.backlog_max_samples, settings.backlog_max_age
        )
        self.clock = clock
        self.backoff = Backoff(cap=settings.retry_max)
        self.retry_at = float("-inf")
        self.batch_size = settings.batch_size
        self.credentials = self.state.load_credentials()
        self.registered_at = float("-inf")
        self.failing_since: float | None = None
        # Fields the API said it does not know (an API older than this
        # collector): left out of what is sent, kept in the backlog.
        self.unknown_fields: set[str] = set()
        self.check_can_send()

    def close(self) -> None:
        self.backlog.close()
        self.client.close()

    # --- registration ---------------------------------------------------------

    def check_can_send(self) -> None:
        """Refuse at once (not at the first send) a configuration that cannot work."""
        creds = self.credentials
        if self.settings.enroll_token:
            return
        if creds is None:
            raise NotConfigured(
                f"this host is not registered with {self.settings.api_url} and no enrollment "
                "token is configured: pass --enroll-token or set VIGIE_ENROLL_TOKEN"
            )
        if creds.api_url.rstrip("/") != self.settings.api_url.rstrip("/"):
            raise NotConfigured(
                f"this host is registered with {creds.api_url}, not {self.settings.api_url}: "
                "pass the enrollment token of the new API (--enroll-token or "
                "VIGIE_ENROLL_TOKEN) to register there"
            )

    def _usable_credentials(self) -> Credentials | None:
        creds = self.credentials
        if creds is None or creds.api_url.rstrip("/") != self.settings.api_url.rstrip("/"):
            return None
        return creds

    def register(self) -> Credentials:
        """Enroll this host (or get a new token for it: the API keeps one server
        per hostname and machine id). Raises Unreachable/ApiError if retryable,
        Fatal if the API refuses."""
        s = self.settings
        if not s.enroll_token:
            raise Fatal("registering needs the enrollment token: pass --enroll-token")
        machine_id = self.state.machine_id()
        body = {
            "hostname": s.hostname,
            "machine_id": machine_id,
            "ip_address": local_ip(s.api_url),
            "os_type": platform.system() or None,
            "interval_seconds": s.interval,
        }
        if s.name:
            # Otherwise the API names the server after its hostname, shortened to
            # fit its name column: a hostname may be longer than a name may be.
            body["name"] = s.name
        try:
            answer = self.client.register(s.enroll_token, body)
        except ApiError as exc:
            if exc.retryable:
                raise
            if exc.status in (401, 403):
                raise Fatal(
                    f"the API refused the enrollment token: {exc.message}. Check "
                    "--enroll-token / VIGIE_ENROLL_TOKEN against the API's VIGIE_ENROLL_TOKEN"
                ) from None
            raise Fatal(f"the API refused to register this host: {exc.message}") from None
        creds = Credentials(
            api_url=s.api_url,
            server_id=int(answer["id"]),
            ingest_token=answer["ingest_token"],
            name=answer.get("name") or s.name or s.hostname,
            hostname=s.hostname,
            machine_id=machine_id,
        )
        self.state.save_credentials(creds)
        self.credentials = creds
        self.registered_at = self.clock()
        log.info(
            "registered with %s as server %d (%s); credentials in %s",
            s.api_url,
            creds.server_id,
            creds.name,
            self.state.credentials_file,
        )
        return creds

    # --- sampling and sending -------------------------------------------------

    def take_sample(self) -> dict:
        sample = self.sampler.sample()
        self.backlog.add(sample)
        log.debug("sample taken at %s", sample["recorded_at"])
        return sample

    def drain(
        self, deadline: float | None = None, stop: threading.Event | None = None
    ) -> DrainResult:
        """Send the backlog, oldest first, until it is empty, the API fails (a
        retry is then scheduled with backoff), the deadline passes or ``stop`` is
        set (checked between requests: a request under way is let finish)."""
        result = DrainResult()
        if self.clock() < self.retry_at:
            result.error = "waiting before the next try"
            return result
        while (deadline is None or self.clock() < deadline) and not (stop and stop.is_set()):
            rows: list[tuple[int, str]] = []
            try:
                creds = self._usable_credentials() or self.register()
                rows = self._within_bytes(self.backlog.oldest_bodies(self.batch_size))
                if not rows:
                    result.done = True
                    break
                # Sent as the backlog keeps them, JSON: not decoded and encoded again.
                self.client.send_bodies(
                    creds.server_id, creds.ingest_token, [self._compatible(b) for _, b in rows]
                )
            except Unreachable as exc:
                result.error = str(exc)
                self._failed(result.error)
                break
            except ApiError as exc:
                if exc.retryable:
                    result.error = f"the API answered {exc.status}: {exc.message}"
                    self._failed(result.error, exc.retry_after)
                    break
                self._refused(exc, rows)
                continue
            # Only now, acknowledged: forget them.
            self.backlog.remove([row_id for row_id, _ in rows])
            result.sent += len(rows)
            self._recovered(len(rows))
        return result

    def _compatible(self, body: str) -> str:
        """A stored sample as this API takes it (without the fields it does not know)."""
        if not self.unknown_fields:
            return body
        sample = json.loads(body)
        known = {k: v for k, v in sample.items() if k not in self.unknown_fields}
        return json.dumps(known, separators=(",", ":"))

    @staticmethod
    def _within_bytes(rows: list[tuple[int, str]]) -> list[tuple[int, str]]:
        """The oldest rows whose JSON fits in MAX_BATCH_BYTES (at least one)."""
        size = 0
        for index, (_, body) in enumerate(rows):
            size += len(body) + 1
            if size > MAX_BATCH_BYTES and index > 0:
                return rows[:index]
        return rows

    def _older_api(self, exc: ApiError) -> bool:
        """Whether a 400 says the API does not know some of the optional fields
        (an API older than this collector): then they are left out from now on,
        and the same samples sent again. Other errors in the same answer (a bad
        value in one sample) are left for the next answer, which names only
        them: a sample is never dropped for a field it need not have sent."""
        names = set()
        for detail in exc.details:
            match = UNKNOWN_FIELD.match(str(detail.get("field", "")))
            if match and detail.get("reason") == "is not a known field":
                names.add(match.group(1))
        names -= SEED_FIELDS
        if not names or names <= self.unknown_fields:
            return False
        self.unknown_fields |= names
        log.warning(
            "the API at %s does not take %s (it is older than this collector); "
            "sending the samples without them",
            self.settings.api_url,
            ", ".join(sorted(self.unknown_fields)),
        )
        return True

    def _failed(self, reason: str, retry_after: float | None = None) -> None:
        delay = self.backoff.next_delay(retry_after)
        self.retry_at = self.clock() + delay
        waiting = self.backlog.count()
        if self.failing_since is None:
            self.failing_since = self.clock()
            log.warning(
                "cannot send: %s; %d sample(s) kept in the backlog, next try in %.1f s",
                reason,
                waiting,
                delay,
            )
        else:
            log.info(
                "still cannot send: %s; %d sample(s) waiting, next try in %.1f s",
                reason,
                waiting,
                delay,
            )

    def _recovered(self, sent: int) -> None:
        if self.failing_since is not None:
            log.info(
                "the API answers again after %.0f s; sending the backlog (%d sent so far)",
                self.clock() - self.failing_since,
                sent,
            )
            self.failing_since = None
        self.backoff.reset()
        self.retry_at = float("-inf")
        log.debug("sent %d sample(s)", sent)

    def _refused(self, exc: ApiError, rows: list[tuple[int, str]]) -> None:
        """A 4xx other than 429: retrying the same request cannot help."""
        if exc.status in (401, 403, 404):
            self._token_refused(exc)
            return
        if exc.status == 400 and self._older_api(exc):
            return
        if exc.status == 400:
            bad = sorted(
                {
                    int(m.group(1))
                    for d in exc.details
                    if (m := SAMPLE_INDEX.match(str(d.get("field", ""))))
                    and int(m.group(1)) < len(rows)
                }
            )
            if bad:
                for index in bad:
                    log.error(
                        "the API refused the sample taken at %s: %s; it is dropped",
                        _recorded_at(rows[index][1]),
                        exc.message,
                    )
                self.backlog.remove([rows[i][0] for i in bad])
                return
        if exc.status in (400, 413) and rows:
            # The whole batch is refused without naming a sample: too many, too
            # large. Halve it; a single sample still refused is dropped, so one bad
            # sample cannot block the backlog forever.
            if len(rows) > 1:
                self.batch_size = max(1, len(rows) // 2)
                log.warning(
                    "the API refused a batch of %d samples (%s); sending %d at a time",
                    len(rows),
                    exc.message,
                    self.batch_size,
                )
                return
            log.error(
                "the API refused the sample taken at %s: %s; it is dropped",
                _recorded_at(rows[0][1]),
                exc.message,
            )
            self.backlog.remove([rows[0][0]])
            return
        raise Fatal(
            f"the API refused the samples: {exc.message} (HTTP {exc.status}); check the API "
            f"URL ({self.settings.api_url})"
        )

    def _token_refused(self, exc: ApiError) -> None:
        what = "the API refused this server's ingest token"
        if self.credentials is not None:
            server = self.credentials.server_id
            if exc.status == 404:
                what = f"the API does not know server {server}"
            elif exc.status == 403:
                # An API that hides which ids exist answers 403 for both.
                what += f" (a wrong token, or the API no longer knows server {server})"
        if not self.settings.enroll_token:
            raise Fatal(
                f"{what} ({exc.message}). Register again with `vigie-collector register "
                "--enroll-token TOKEN`, or set VIGIE_ENROLL_TOKEN so the collector does it by "
                "itself; unsent samples stay in the backlog"
            )
        if self.clock() - self.registered_at < REREGISTER_GUARD_SECONDS:
            raise Fatal(
                f"{what} ({exc.message}) right after registering again: another collector "
                "probably registers with the same hostname and machine id (a cloned "
                "machine?). Give each host its own machine id (a `machine-id` file in the "
                "state directory); unsent samples stay in the backlog"
            )
        log.warning("%s (%s); registering again with the enrollment token", what, exc.message)
        self.credentials = None

    # --- the daemon -----------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Sample every interval and send, until ``stop`` is set (or a Fatal
        error, which is raised here).

        This thread samples; another sends. Ticks are computed from the start
        (start + n * interval), so the schedule does not drift; a tick missed (a
        suspended host) is skipped, not made up for. Sending never holds up a
        tick: each sample wakes the sender, which drains the backlog whenever it
        is free and its backoff allows. On stop, the sender finishes the request
        under way (at most the timeout) and sends nothing more; what is unsent
        stays in the backlog."""
        interval = self.settings.interval
        wake = threading.Event()  # a sample is waiting, or it is time to stop
        halt = threading.Event()  # this thread is done: the sender stops too
        failure: list[BaseException] = []

        def send() -> None:
            try:
                self._send_loop(stop, halt, wake)
            except BaseException as exc:  # raised again by this thread, below
                failure.append(exc)
                stop.set()

        sender = threading.Thread(target=send, name="vigie-collector sender", daemon=True)
        sender.start()
        start = self.clock()
        next_tick = start + interval  # the first CPU figure then covers one interval
        try:
            while not stop.is_set():
                now = self.clock()
                if now >= next_tick:
                    self.take_sample()
                    wake.set()
                    next_tick = start + (int((now - start) // interval) + 1) * interval
                stop.wait(max(0.0, next_tick - self.clock()))
        finally:
            halt.set()
            wake.set()
            # A request under way ends within the timeout (connect + read); past
            # that, leave it: unacknowledged samples stay in the backlog.
            sender.join(2 * self.settings.timeout + 5)
            if sender.is_alive():
                log.warning("stopping without waiting longer for the API's answer")
        if failure:
            raise failure[0]

    def _send_loop(
        self, stop: threading.Event, halt: threading.Event, wake: threading.Event
    ) -> None:
        pending = self.backlog.count() > 0
        while not (stop.is_set() or halt.is_set()):
            if pending:
                pending = not self.drain(stop=halt).done
            # Wait for the next sample; while samples wait, no longer than the
            # backoff asks.
            timeout = max(0.0, self.retry_at - self.clock()) if pending else None
            if wake.wait(timeout):
                wake.clear()
                pending = True
