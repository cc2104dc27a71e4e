"""Soak: a fleet writing for half an hour through a PostgreSQL restart and a relay
killed with SIGKILL; nothing may be lost and no process may grow.

    .venv/bin/python bench/soak.py [--minutes 30] [--servers 500] [--interval 5]
                                   [--clients 20] [--web-workers 2]

What runs, each as deployed:
  * PostgreSQL: a private embedded server started for the run, under a VIGIE_HOME
    of its own (a temporary folder), so nothing else using an embedded server is
    disturbed; or DATABASE_URL (a scratch database is created on it; the restart
    then needs --pg-restart, a command that restarts a server you own, e.g.
    "pg_ctlcluster 16 main restart", and is skipped without it);
  * the API as the Procfile's `web` line (gunicorn, Vigie's threaded worker,
    --web-workers processes of 4 threads);
  * the relay as the Procfile's `realtime` line (Vigie's gevent worker).

`--servers` servers each send one sample every `--interval` seconds through
POST /api/metrics, as the collector does: a 503 or a connection error keeps the
sample, which is sent again later with the same recorded_at, with backoff; a
backlog goes oldest first through POST /api/metrics/batch (100 at a time). Sample
times are on the interval's grid, so each 5-second history bucket holds one.
`--clients` socket.io clients each join one server's room. A client that loses
its socket joins again on reconnecting and, as the dashboard does, loads its live
chart's window (the last 10 minutes) again from the history API (GET
/api/metrics/history without an interval: 5-second buckets); a sample counts as
delivered when the client saw it either way, and the table says how many came
each way.

At 40 % of the run PostgreSQL is restarted (pg_ctl restart, fast mode); at 60 %
the relay's gunicorn (master and worker) is killed with SIGKILL and started again
on the same port. Then the senders stop, their backlogs are flushed, and the run
checks: samples sent = acknowledged (201, or 200 for a retry already stored) =
stored, and for each joined server stored = delivered to its client; and the RSS
of the API workers and of the relay at the end against after warm-up (within
10 %). The relay's RSS at the end is the restarted one's, compared with the first
one's after warm-up. The machine is shared: other processes' load shows.
"""

from __future__ import annotations

import argparse
import collections
import math
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import psycopg
import requests
import socketio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import SAMPLE, add_servers, create_database, drop_database  # noqa: E402
from tests.helpers import BIN, free_port, wait_for_http  # noqa: E402
from vigie import serve  # noqa: E402
from vigie.migrate import migrate  # noqa: E402

SENDER_THREADS = 20
RETRY_MOST = 30.0  # seconds between a server's retries at most, as the collector
RSS_TOLERANCE = 0.10
# A backlog is sent this many samples at a time: at most what the relay pushes live
# (VIGIE_RELAY_MAX_LIVE), so the clients get every sample as metrics-update.
BATCH = 100
# What the dashboard loads again after a reconnection: its live chart's window.
REALTIME_WINDOW = timedelta(minutes=10)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# -- the database ------------------------------------------------------------------


class Database:
    """The run's PostgreSQL: a private embedded server, or a scratch database on
    DATABASE_URL."""

    def __init__(self, pg_restart: str | None) -> None:
        self.external = os.environ.get("DATABASE_URL", "")
        self.pg_restart = pg_restart
        self.home: Path | None = None
        self.name = f"vigie_soak_{os.getpid()}"
        if self.external:
            self.url = create_database(self.external, self.name)
        else:
            # Before vigie.embedded reads it: the server's data goes there.
            self.home = Path(tempfile.mkdtemp(prefix="vigie-soak-"))
            os.environ["VIGIE_HOME"] = str(self.home)
            from vigie import embedded

            server = embedded.start("pgdata", stop_when_unused=True)
            self.url = create_database(server, self.name)
        migrate(self.url)

    @property
    def where(self) -> str:
        if self.external:
            return f"DATABASE_URL ({self.external.rsplit('@', 1)[-1]})"
        return f"private embedded server in {self.home}"

    def can_restart(self) -> bool:
        return not self.external or bool(self.pg_restart)

    def restart(self) -> None:
        if self.external:
            subprocess.run(shlex.split(self.pg_restart or ""), check=True, timeout=120)
            return
        import pgserver

        from vigie import embedded

        user = "pgserver" if os.geteuid() == 0 else None
        # restart keeps the options it was started with (postmaster.opts).
        pgserver.pg_ctl(
            ["-w", "-m", "fast", "restart"], pgdata=embedded.data_dir(), user=user, timeout=120
        )

    def close(self) -> None:
        if self.external:
            drop_database(self.external, self.name)
            return
        from vigie import embedded

        # pgserver would not stop a server restarted behind its back: stop it here.
        embedded.stop()


# -- processes -----------------------------------------------------------------------


class Gunicorn:
    """One gunicorn as the Procfile starts it, in a process group of its own."""

    def __init__(self, name: str, args: list[str], env: dict, log: Path, ready: str) -> None:
        self.name, self.args, self.env, self.log, self.ready = name, args, env, log, ready
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                self.args,
                env={**os.environ, **self.env},
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for_http(self.ready, timeout=120, proc=self.proc)

    def kill9(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def workers_rss(self) -> list[int]:
        """RSS of each worker (the master's children), bytes."""
        assert self.proc is not None
        try:
            return sorted(c.memory_info().rss for c in psutil.Process(self.proc.pid).children())
        except psutil.Error:
            return []


def web_command(port: int, workers: int) -> list[str]:
    options = [o.replace("${WEB_CONCURRENCY:-2}", str(workers)) for o in serve.WEB_WORKERS]
    return [str(BIN / "gunicorn"), *serve.WEB_OPTIONS, "--bind", f"127.0.0.1:{port}", *options,
            serve.WEB_APP]  # fmt: skip


def relay_command(port: int) -> list[str]:
    return [str(BIN / "gunicorn"), *serve.RELAY_OPTIONS, "--bind", f"127.0.0.1:{port}",
            serve.RELAY_APP]  # fmt: skip


# -- senders ---------------------------------------------------------------------------


@dataclass
class Server:
    id: int
    token: str
    offset: float  # when in the interval it sends, so requests spread evenly
    pending: deque = field(default_factory=deque)
    sent: list = field(default_factory=list)
    acked: set = field(default_factory=set)
    failures: int = 0
    retry_at: float = 0.0


class Counters:
    """What the senders met, counted from their threads: single posts, batches,
    duplicates, 503s, connection errors, refusals (``counters.singles``, …)."""

    def __init__(self) -> None:
        self._counts: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def add(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def __getattr__(self, name: str) -> int:
        return self._counts[name]


class Senders:
    """Threads that each send the samples of their share of the servers."""

    def __init__(self, api: str, servers: list[Server], interval: float, grid0: float) -> None:
        self.api, self.servers, self.interval, self.grid0 = api, servers, interval, grid0
        self.counters = Counters()
        self.generating = True
        self.stopping = False
        self.threads = [
            threading.Thread(target=self._run, args=(servers[i::SENDER_THREADS],), daemon=True)
            for i in range(SENDER_THREADS)
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def backlog(self) -> int:
        return sum(len(s.pending) for s in self.servers)

    def acked(self) -> int:
        return sum(len(s.acked) for s in self.servers)

    def _run(self, mine: list[Server]) -> None:
        session = requests.Session()
        due = {s.id: self.grid0 + s.offset for s in mine}
        n = {s.id: 0 for s in mine}
        while not self.stopping:
            now = time.time()
            for server in mine:
                while self.generating and now >= due[server.id]:
                    # The sample's time: its slot on the grid (sent a little after).
                    moment = datetime.fromtimestamp(self.grid0 + n[server.id] * self.interval, UTC)
                    server.pending.append(iso(moment))
                    server.sent.append(iso(moment))
                    n[server.id] += 1
                    due[server.id] += self.interval
                if server.pending and time.monotonic() >= server.retry_at:
                    self._send_oldest(session, server)
            time.sleep(0.02)

    def _send_oldest(self, session: requests.Session, server: Server) -> None:
        # One sample as it is taken; a backlog oldest first through the batch
        # endpoint, as the collector drains its spool.
        todo = [server.pending[i] for i in range(min(BATCH, len(server.pending)))]
        headers = {"Authorization": f"Bearer {server.token}"}
        if len(todo) == 1:
            url = f"{self.api}/api/metrics"
            body = {"server_id": server.id, **SAMPLE, "recorded_at": todo[0]}
        else:
            url = f"{self.api}/api/metrics/batch"
            samples = [{**SAMPLE, "recorded_at": t} for t in todo]
            body = {"server_id": server.id, "samples": samples}
        try:
            response = session.post(url, json=body, headers=headers, timeout=10)
        except requests.RequestException:
            self.counters.add("connection_errors")
            self._later(server)
            return
        if response.status_code in (200, 201):
            kind = "batches" if len(todo) > 1 else "singles"
            self.counters.add(kind)
            if response.status_code == 200:
                self.counters.add("duplicate")
            for recorded_at in todo:
                server.pending.popleft()
                server.acked.add(recorded_at)
            server.failures = 0
            server.retry_at = 0.0
        elif response.status_code >= 500:
            self.counters.add("unavailable")
            self._later(server)
        else:  # the API refused it: a defect of this run, never retried
            self.counters.add("refused")
            for _ in todo:
                server.pending.popleft()
            print(f"  refused: {response.status_code} {response.text[:200]}", flush=True)

    def _later(self, server: Server) -> None:
        # As the collector: back off, keep the sample, send it again later.
        server.failures += 1
        delay = min(RETRY_MOST, 0.5 * 2 ** (server.failures - 1))
        server.retry_at = time.monotonic() + delay

    def stop(self) -> None:
        self.stopping = True
        for thread in self.threads:
            thread.join(30)


# -- watchers --------------------------------------------------------------------------


class Watcher:
    """A socket.io client in one server's room; on reconnecting it joins again and
    fetches the gap from the history API, as the dashboard does."""

    def __init__(self, relay: str, api: str, server_id: int) -> None:
        self.relay, self.api, self.server_id = relay, api, server_id
        self.live: set[datetime] = set()
        self.live_events = 0
        self.refetched: set[datetime] = set()
        self.reconnects = 0
        self.backfills = 0
        self.refetch_errors = 0
        self.intervals: set[str] = set()
        self._connected_once = False
        self._lost_at: datetime | None = None
        self._lock = threading.Lock()
        self.sio = socketio.Client(
            reconnection=True,
            reconnection_attempts=0,
            reconnection_delay=0.5,
            reconnection_delay_max=5,
        )
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("metrics-update", self._on_sample)
        self.sio.on("resync", lambda data=None: self._refetch_async(None))
        self.sio.on("metrics-backfill", self._on_backfill)

    def connect(self) -> None:
        self.sio.connect(self.relay, transports=["websocket"], wait_timeout=20)

    def delivered(self) -> set[datetime]:
        with self._lock:
            return self.live | self.refetched

    def _on_sample(self, data: dict) -> None:
        if data.get("server_id") == self.server_id:
            with self._lock:
                self.live.add(parse(data["recorded_at"]))
                self.live_events += 1

    def _on_disconnect(self, *reason) -> None:
        if self._lost_at is None:
            self._lost_at = datetime.now(UTC)

    def _on_connect(self) -> None:
        again = self._connected_once
        self._connected_once = True
        lost_at, self._lost_at = self._lost_at, None
        if again:
            self.reconnects += 1
        # Not in the handler: a call waits for an answer this thread reads.
        self.sio.start_background_task(self._join, lost_at if again else None)

    def _join(self, lost_at: datetime | None) -> None:
        try:
            ack = self.sio.call("join-server", {"serverId": self.server_id}, timeout=20)
            assert ack.get("ok"), ack
        except Exception as exc:  # the next reconnection joins again
            print(f"  join of server {self.server_id} failed: {exc}", flush=True)
            return
        if lost_at is not None:
            self._refetch(None)

    def _on_backfill(self, data: dict) -> None:
        if data.get("server_id") == self.server_id:
            self.backfills += 1
            self._refetch_async((parse(data["first"]), parse(data["last"])))

    def _refetch_async(self, span: tuple[datetime, datetime] | None) -> None:
        self.sio.start_background_task(self._refetch, span)

    def _refetch(self, span: tuple[datetime, datetime] | None) -> None:
        """The live chart's window (the last 10 minutes) loaded again, as the
        dashboard does after a reconnection or a resync; or a backfill's range."""
        now = datetime.now(UTC)
        start, end = span or (now - REALTIME_WINDOW, now)
        params = {"from": iso(start), "to": iso(end)}
        for attempt in range(10):
            try:
                response = requests.get(
                    f"{self.api}/api/metrics/history/{self.server_id}", params=params, timeout=20
                )
                if response.status_code == 200:
                    with self._lock:
                        self.intervals.add(response.headers.get("Vigie-Interval", "?"))
                        for row in response.json():
                            if row.get("samples", 1):
                                self.refetched.add(parse(row["recorded_at"]))
                    return
            except requests.RequestException:
                pass
            time.sleep(min(2**attempt, 10))
        self.refetch_errors += 1

    def close(self) -> None:
        self.sio.disconnect()


# -- the run ---------------------------------------------------------------------------


def rss_line(label: str, values: list[int]) -> str:
    return f"{label}: " + ", ".join(f"{v / 2**20:.1f}" for v in values) + " MiB"


def within(before: list[int], after: list[int]) -> tuple[float, bool]:
    b, a = sum(before), sum(after)
    change = (a - b) / b if b else math.inf
    return change, abs(change) <= RSS_TOLERANCE


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30, help="length of the run")
    parser.add_argument("--servers", type=int, default=500, help="servers sending samples")
    parser.add_argument("--interval", type=float, default=5, help="seconds between samples")
    parser.add_argument("--clients", type=int, default=20, help="socket.io clients")
    parser.add_argument("--web-workers", type=int, default=2, help="WEB_CONCURRENCY")
    parser.add_argument(
        "--pg-restart", help="with DATABASE_URL: a command restarting that server (yours)"
    )
    args = parser.parse_args()
    total = args.minutes * 60
    warmup = min(120.0, 0.2 * total)
    at_pg_restart, at_relay_kill = 0.4 * total, 0.6 * total

    started = time.monotonic()
    db = Database(args.pg_restart)
    run_dir = Path(tempfile.mkdtemp(prefix="vigie-soak-logs-"))
    api_port, relay_port = free_port(), free_port()
    api, relay_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{relay_port}"
    env = {"DATABASE_URL": db.url, "REALTIME_DATABASE_URL": "", "PYTHONUNBUFFERED": "1"}
    web = Gunicorn(
        "web", web_command(api_port, args.web_workers), env, run_dir / "web.log",
        f"{api}/api/health",
    )  # fmt: skip
    relay = Gunicorn(
        "realtime", relay_command(relay_port), env, run_dir / "relay.log", f"{relay_url}/health"
    )
    senders: Senders | None = None
    watchers: list[Watcher] = []
    events: list[str] = []
    try:
        web.start()
        relay.start()
        made = add_servers(db.url, 1, args.servers)
        servers = [
            Server(sid, token, offset=(i % 100) * args.interval / 100)
            for i, (sid, token) in enumerate(made)
        ]
        grid0 = math.ceil(time.time() / args.interval + 1) * args.interval
        print(
            f"soak: {args.minutes:g} min, {args.servers} servers every {args.interval:g} s "
            f"({args.servers / args.interval:.0f} samples/s), {args.clients} clients; "
            f"{psutil.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}\n"
            f"  database: {db.where}\n  logs: {run_dir}\n"
            f"  web: {shlex.join(web.args)}\n  realtime: {shlex.join(relay.args)}",
            flush=True,
        )
        for server in servers[: args.clients]:
            watcher = Watcher(relay_url, api, server.id)
            watcher.connect()
            watchers.append(watcher)
        time.sleep(1)  # the joins answered
        senders = Senders(api, servers, args.interval, grid0)
        senders.start()
        t0 = time.monotonic()

        rss: dict[str, list[int]] = {}
        next_report = 30.0
        done_pg = not db.can_restart()
        if done_pg:
            events.append("PostgreSQL restart skipped: DATABASE_URL without --pg-restart")
        done_relay = False
        while (elapsed := time.monotonic() - t0) < total:
            if "web_warm" not in rss and elapsed >= warmup:
                rss["web_warm"], rss["relay_warm"] = web.workers_rss(), relay.workers_rss()
                print(f"  {elapsed:6.0f}s  warm: {rss_line('web workers', rss['web_warm'])}; "
                      f"{rss_line('relay', rss['relay_warm'])}", flush=True)  # fmt: skip
            if not done_pg and elapsed >= at_pg_restart:
                done_pg = True
                t = time.monotonic()
                db.restart()
                events.append(f"{elapsed:.0f}s: PostgreSQL restarted ({time.monotonic() - t:.1f}s)")
                print(f"  {events[-1]}", flush=True)
            if not done_relay and elapsed >= at_relay_kill:
                done_relay = True
                relay.kill9()
                t = time.monotonic()
                relay.start()
                events.append(
                    f"{elapsed:.0f}s: relay killed with SIGKILL, answering again after "
                    f"{time.monotonic() - t:.1f}s"
                )
                print(f"  {events[-1]}", flush=True)
            if "relay_rewarm" not in rss and done_relay and elapsed >= at_relay_kill + warmup:
                rss["relay_rewarm"] = relay.workers_rss()
            if elapsed >= next_report:
                next_report += 30
                c = senders.counters
                status = health_status(relay_url)
                print(
                    f"  {elapsed:6.0f}s  acked {senders.acked():>7}  backlog "
                    f"{senders.backlog():>5}  503 {c.unavailable:>5}  conn-err "
                    f"{c.connection_errors:>5}  relay {status}  load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
            time.sleep(0.5)
        rss["web_end"], rss["relay_end"] = web.workers_rss(), relay.workers_rss()

        # Stop sampling; what is still pending is sent (retried) until none is left.
        senders.generating = False
        deadline = time.monotonic() + 300
        while senders.backlog() and time.monotonic() < deadline:
            time.sleep(0.5)
        senders.stop()
        stored = stored_samples(db.url)
        watched = {w.server_id: w for w in watchers}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and any(
            not stored.get(sid, set()) <= w.delivered() for sid, w in watched.items()
        ):
            time.sleep(0.5)

        ok = summary(args, servers, senders, stored, watchers, rss, events, time.monotonic() - t0)
        print(f"\nwall time {time.monotonic() - started:.0f}s; logs in {run_dir}")
        return 0 if ok else 1
    finally:
        if senders is not None:
            senders.stop()
        for watcher in watchers:
            watcher.close()
        relay.stop()
        web.stop()
        db.close()


def health_status(relay_url: str) -> str:
    try:
        response = requests.get(f"{relay_url}/health", timeout=5)
        return f"{response.status_code}"
    except requests.RequestException:
        return "down"


def stored_samples(url: str) -> dict[int, set[datetime]]:
    found: dict[int, set[datetime]] = {}
    with psycopg.connect(url) as conn:
        for server_id, recorded_at in conn.execute("SELECT server_id, recorded_at FROM metrics"):
            found.setdefault(server_id, set()).add(recorded_at)
    return found


def summary(args, servers, senders, stored, watchers, rss, events, seconds) -> bool:
    c = senders.counters
    sent = sum(len(s.sent) for s in servers)
    acked = sum(len(s.acked) for s in servers)
    stored_total = sum(len(stored.get(s.id, ())) for s in servers)
    mismatched = [
        s.id
        for s in servers
        if not (set(s.sent) == s.acked and len(stored.get(s.id, ())) == len(s.sent))
    ]
    print(f"\n== soak summary: {args.minutes:g} min of load, then its backlog flushed "
          f"({seconds / 60:.1f} min in all) ==")  # fmt: skip
    for event in events:
        print(f"  {event}")
    print("\n  samples                       count")
    print(f"  sent (distinct)          {sent:>10}")
    print(
        f"  acknowledged (distinct)  {acked:>10}   ({c.singles} single posts, {c.batches} "
        f"batches of a backlog; {c.duplicate} answered 200: already stored)"
    )
    print(f"  stored                   {stored_total:>10}")
    print(f"  retried after 503/5xx    {c.unavailable:>10}")
    print(f"  retried after conn. err. {c.connection_errors:>10}")
    print(f"  refused (4xx)            {c.refused:>10}")
    print(f"  servers where sent, acknowledged and stored differ: {len(mismatched)}")  # fmt: skip

    print(
        "\n  joined server   stored   delivered   live   refetched only   missing   dup. live"
        "   reconnects"
    )
    missing_total = 0
    for w in watchers:
        want = stored.get(w.server_id, set())
        got = w.delivered()
        missing = len(want - got)
        missing_total += missing
        only_refetched = len((w.refetched - w.live) & want)
        print(
            f"  {w.server_id:>13}   {len(want):>6}   {len(want & got):>9}   {len(w.live & want):>4}"
            f"   {only_refetched:>14}   {missing:>7}   {w.live_events - len(w.live):>9}"
            f"   {w.reconnects:>10}"
        )
    intervals = sorted(set().union(*(w.intervals for w in watchers)) or {"none"})
    print(f"  (refetch: GET /api/metrics/history, buckets {', '.join(intervals)}; "
          f"failed refetches {sum(w.refetch_errors for w in watchers)}, "
          f"metrics-backfill events {sum(w.backfills for w in watchers)})")  # fmt: skip

    print("\n  RSS                      after warm-up        at the end      change")
    rss_ok = True
    for label, before, after in (
        ("API workers (sum)", rss.get("web_warm", []), rss.get("web_end", [])),
        ("relay worker", rss.get("relay_warm", []), rss.get("relay_end", [])),
    ):
        change, fine = within(before, after)
        rss_ok &= fine
        print(f"  {label:<22} {sum(before) / 2**20:>10.1f} MiB   {sum(after) / 2**20:>10.1f} MiB"
              f"   {change:+7.1%}  {'ok' if fine else 'OVER 10%'}")  # fmt: skip
    print(f"  {rss_line('    API workers after warm-up', rss.get('web_warm', []))}")
    print(f"  {rss_line('    API workers at the end', rss.get('web_end', []))}")
    if "relay_rewarm" in rss:
        print(f"  {rss_line('    restarted relay after its warm-up', rss['relay_rewarm'])}")

    counts_ok = sent == acked == stored_total and not mismatched and c.refused == 0
    delivery_ok = missing_total == 0
    print(f"\n  sent = acknowledged = stored: {'yes' if counts_ok else 'NO'}")
    print(f"  stored = delivered for every joined server: {'yes' if delivery_ok else 'NO'}")
    print(f"  RSS within 10%: {'yes' if rss_ok else 'NO'}")
    return counts_ok and delivery_ok and rss_ok


if __name__ == "__main__":
    sys.exit(main())
