"""Relay latency: from a sample's commit to its `metrics-update` at a socket.io client.

    .venv/bin/python bench/relay_latency.py [--seconds 30] [--clients 100] [--servers 1000]
                                            [--rate 200] [--overview 0]
    .venv/bin/python bench/relay_latency.py --fleet [--seconds 60] [--servers 5000]
                                            [--rate 600] [--clients 100]

Two scenarios against one real relay (gunicorn, gevent worker) on one PostgreSQL
(the embedded one unless DATABASE_URL is set):
  * low load: one client in one server's room, 5 samples/s;
  * load: `--clients` python-socketio clients, each in the rooms of its share of
    `--servers` servers (every server watched by one client), and `--rate`
    samples/s spread over all the servers; `--overview` more clients follow
    every server (join-all).
Samples are written as the API writes them (vigie_ingest, one transaction per
sample) by writer threads in a process of their own; the clients live in other
processes, so that neither side's GIL delays the other. For each sample the
latency is counted from the COMMIT being acknowledged to the writer (a lower
bound: PostgreSQL signals listeners just before) and from COMMIT being sent
(an upper bound). Prints p50/p99/max, samples delivered, and the relay's CPU.
The machine is shared: other processes' load shows in the figures, so each
scenario also says what the machine alone costs: how far behind their schedule
the writers started samples, when a bare LISTEN connection in a process of its
own heard of each measured commit (the floor no relay can beat), what the relay
and socket add beyond that NOTIFY for the same samples, and how long the relay
took to answer `GET /health` (polled every 0.2 s: whatever holds its event loop
delays the answer).

`--fleet` runs the fleet-scale scenario instead: `--servers` registered servers
(5,000, online: a running fleet; `--cold`: never heard of, so every first sample
brings one online), `--rate` samples/s (600) spread over all of them, `--clients` clients
(100): half follow the fleet (join-all) with the dashboard's own socket.io client
under node (bench/fleet_watchers.mjs; `make test` installs it in tests/js),
half join one written server each, in python processes of their own. It
prints commit -> `metrics-update` at the joined clients (p50/p99), the samples
each joined server was sent and its client received (dropped: the difference),
the `fleet-update` events per second each fleet client got (and any
`metrics-update` they got, which should be none), and the relay's CPU-seconds
(from /proc, utime + stime of the worker).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import SAMPLE, create_database, drop_database  # noqa: E402
from tests.helpers import free_port, gunicorn_relay  # noqa: E402
from vigie import embedded  # noqa: E402
from vigie.migrate import migrate  # noqa: E402
from vigie.tokens import hash_token  # noqa: E402
from vigie.wire import SAMPLE_FIELDS  # noqa: E402

FIELDS = SAMPLE
WARMUP = 2.0  # seconds of each scenario left out of the figures


def key(server_id: int, recorded_at: str) -> tuple[int, float]:
    return server_id, datetime.fromisoformat(recorded_at).timestamp()


# -- clients: a process holding many socket.io clients ---------------------------


def run_clients(
    url: str, rooms: list[list[int]], overview: int, ready, stop, results
) -> None:  # pragma: no cover - runs in a child process
    import socketio

    received: dict[tuple[int, float], float] = {}
    # Per overview client: [metrics-update events, fleet-update events, their entries].
    overview_seen: list[list[int]] = []
    lock = threading.Lock()
    clients = []

    def on_sample(data: dict) -> None:
        now = time.time()
        with lock:
            received.setdefault(key(data["server_id"], data["recorded_at"]), now)

    def overview_handlers(counts: list[int]):
        def on_overview(data: dict) -> None:
            with lock:
                counts[0] += 1

        def on_fleet(data: dict) -> None:
            with lock:
                counts[1] += 1
                counts[2] += len(data.get("servers", []))

        return on_overview, on_fleet

    for servers in rooms:
        client = socketio.Client(reconnection=False)
        client.on("metrics-update", on_sample)
        client.connect(url, transports=["websocket"], wait_timeout=30)
        for server_id in servers:
            assert client.call("join-server", {"serverId": server_id}, timeout=30)["ok"]
        clients.append(client)
    for _ in range(overview):
        client = socketio.Client(reconnection=False)
        counts = [0, 0, 0]
        overview_seen.append(counts)
        on_overview, on_fleet = overview_handlers(counts)
        client.on("metrics-update", on_overview)
        client.on("fleet-update", on_fleet)
        client.connect(url, transports=["websocket"], wait_timeout=30)
        client.call("join-all", timeout=30)
        clients.append(client)
    ready.set()
    stop.wait()
    for client in clients:
        client.disconnect()
    results.put((received, overview_seen))


def start_watchers(url: str, count: int, compress: bool = True) -> subprocess.Popen:
    """``count`` fleet watchers in one node process (bench/fleet_watchers.mjs)."""
    node = shutil.which("node")
    if not node:
        raise SystemExit("--fleet needs node (Node.js 20) for its fleet watchers")
    if not (ROOT / "tests" / "js" / "node_modules" / "socket.io-client").is_dir():
        raise SystemExit(
            "--fleet needs socket.io-client in tests/js: "
            "npm ci --prefix tests/js (make test runs it)"
        )
    return subprocess.Popen(
        [
            node,
            str(ROOT / "bench" / "fleet_watchers.mjs"),
            url,
            str(count),
            "deflate" if compress else "plain",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


# -- writers: vigie_ingest at a steady rate --------------------------------------


def run_writers(
    db_url: str, servers: list[int], rate: float, seconds: float, threads: int, results
) -> None:  # pragma: no cover - runs in a child process
    sent: dict[tuple[int, float], tuple[float, float]] = {}
    # How late each sample was started against its schedule, seconds: a writer
    # behind time sends in bursts, which the relay then sees.
    late: list[float] = []
    lock = threading.Lock()
    start = time.monotonic() + 0.5
    base = datetime.now(UTC) - timedelta(minutes=10)

    from functions.metrics import INGEST_LIVE, defaults_json
    from vigie.settings import AlertSettings

    defaults = defaults_json(AlertSettings())
    values = [FIELDS[name] for name in SAMPLE_FIELDS]

    def writer(index: int) -> None:
        with psycopg.connect(db_url, application_name="vigie-bench-writer") as conn:
            n = index
            while True:
                due = start + n / rate
                if due - start > seconds:
                    return
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                started = time.monotonic() - due
                server_id = servers[n % len(servers)]
                recorded_at = (base + timedelta(milliseconds=n)).isoformat()
                # The API's own statement for one live sample (functions/metrics.py),
                # with no token to check.
                conn.execute(INGEST_LIVE, [server_id, None, defaults, recorded_at, *values])
                before = time.time()
                conn.commit()
                after = time.time()
                with lock:
                    sent[key(server_id, recorded_at)] = (before, after)
                    late.append(started)
                n += threads

    pool = [threading.Thread(target=writer, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    results.put((sent, late))


# -- probe: a bare LISTEN connection, the floor under the relay ----------------------


def run_probe(
    db_url: str, servers: list[int], ready, stop, results
) -> None:  # pragma: no cover - runs in a child process
    """When each sample of these servers is announced to a listener that does
    nothing else: commit -> NOTIFY at a process of this machine. What the relay
    adds is what its clients see beyond that."""

    watched = set(servers)
    heard: dict[tuple[int, float], float] = {}
    with psycopg.connect(db_url, autocommit=True, application_name="vigie-bench-probe") as conn:
        conn.execute("LISTEN vigie_events")
        ready.set()
        while not stop.is_set():
            for notify in conn.notifies(timeout=0.5):
                now = time.time()
                payload = json.loads(notify.payload)
                ours = payload.get("kind") == "metrics" and payload.get("server_id") in watched
                if ours and payload.get("count") == 1:
                    heard.setdefault(key(payload["server_id"], payload["last"]), now)
    results.put(heard)


# -- one scenario -------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def scenario(
    name: str,
    relay_url: str,
    relay_pid: int,
    db_url: str,
    servers: list[int],
    clients: int,
    rate: float,
    seconds: float,
    overview: int = 0,
    client_processes: int = 4,
    rooms: list[list[int]] | None = None,
    overview_node: bool = False,
    compress: bool = True,
) -> dict:
    ctx = mp.get_context("spawn")
    per_client = rooms if rooms is not None else [servers[i::clients] for i in range(clients)]
    watchers = None
    if overview_node:
        # The overview's clients under node (bench/fleet_watchers.mjs), the
        # browser's own client: decoding their large fleet-updates in python-socketio
        # took more than a core, which starved the relay and the measured clients.
        half = max(1, client_processes // 2)
        groups = [per_client[i::half] for i in range(half)]
        extra = [0] * half
        watchers = start_watchers(relay_url, overview, compress)
    else:
        groups = [per_client[i::client_processes] for i in range(client_processes)]
        groups = [g for g in groups if g] or [[] for _ in range(client_processes)]
        extra = [overview // len(groups) + (1 if i < overview % len(groups) else 0)
                 for i in range(len(groups))]  # fmt: skip
    stop = ctx.Event()
    results = ctx.Queue()
    readies, procs = [], []
    for rooms, n_overview in zip(groups, extra, strict=True):
        ready = ctx.Event()
        proc = ctx.Process(
            target=run_clients, args=(relay_url, rooms, n_overview, ready, stop, results)
        )
        proc.start()
        readies.append(ready)
        procs.append(proc)
    probe_ready = ctx.Event()
    probe_results = ctx.Queue()
    watched = sorted({sid for room in per_client for sid in room})
    probe = ctx.Process(target=run_probe, args=(db_url, watched, probe_ready, stop, probe_results))
    probe.start()
    readies.append(probe_ready)
    for ready in readies:
        if not ready.wait(300):
            raise SystemExit("the clients did not connect within 300 s")
    if watchers is not None:
        said = watchers.stdout.readline().strip()
        if said != "ready":
            raise SystemExit(f"the node fleet watchers did not connect: {said or 'no answer'}")

    relay = psutil.Process(relay_pid)
    backlog = {"max": 0}
    answers: list[float] = []
    polling = threading.Event()

    def poll_backlog() -> None:
        # How many notifications wait in the relay's queue: is the relay keeping up?
        # And how long it takes to answer: a request waits for whatever holds the
        # relay's event loop.
        while not polling.is_set():
            try:
                asked = time.monotonic()
                queued = requests.get(f"{relay_url}/health", timeout=5).json()["queued"]
                answers.append(time.monotonic() - asked)
                backlog["max"] = max(backlog["max"], queued)
            except (requests.RequestException, ValueError, KeyError):
                pass
            polling.wait(0.2)

    threading.Thread(target=poll_backlog, daemon=True).start()
    with psycopg.connect(db_url, autocommit=True) as conn:
        # Heard of just now, as a running fleet: the sweep finds none silent
        # however long the clients took to connect (an online one stays online).
        conn.execute("UPDATE servers SET last_seen = now() WHERE is_active")
    cpu_before = relay.cpu_times()
    wall_before = time.monotonic()
    writers = ctx.Queue()
    # Each write waits for its commit (a flush to disk): enough writers that the
    # schedule is kept on a loaded machine (one per 25 samples/s).
    writer_threads = max(1, min(16, int(rate // 50) + 1))
    wproc = ctx.Process(
        target=run_writers, args=(db_url, servers, rate, seconds, writer_threads, writers)
    )
    wproc.start()
    sent, late = writers.get()
    wproc.join()
    time.sleep(3)  # the last events in flight
    cpu_after = relay.cpu_times()
    polling.set()
    wall = time.monotonic() - wall_before
    stop.set()
    received: dict = {}
    overview_seen: list[list[int]] = []
    for _ in procs:
        got, seen = results.get()
        received.update(got)
        overview_seen += seen
    heard = probe_results.get()
    for proc in [*procs, probe]:
        proc.join()
    if watchers is not None:
        out, _ = watchers.communicate(timeout=60)
        overview_seen += json.loads(out.strip().splitlines()[-1])

    first = min(before for before, _ in sent.values())
    lower, upper, floor, beyond = [], [], [], []
    for k, (before, after) in sent.items():
        if before - first < WARMUP:
            continue
        if k in heard:
            floor.append((heard[k] - after) * 1000)
        if k not in received:
            continue
        lower.append((received[k] - after) * 1000)
        upper.append((received[k] - before) * 1000)
        if k in heard:
            beyond.append((received[k] - heard[k]) * 1000)
    measured = [k for k, (before, _) in sent.items() if before - first >= WARMUP]
    cpu = (cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system) / wall
    span = max(a for _, a in sent.values()) - first
    return {
        "name": name,
        "clients": clients + overview,
        "servers": len(servers),
        "rate": len(sent) / span if span > 0 else 0.0,
        "delivered": sum(1 for k in measured if k in received),
        "measured": len(measured),
        "p50": statistics.median(lower) if lower else float("nan"),
        "p99": percentile(lower, 99) if lower else float("nan"),
        "max": max(lower) if lower else float("nan"),
        "p50_upper": statistics.median(upper) if upper else float("nan"),
        "p99_upper": percentile(upper, 99) if upper else float("nan"),
        "relay_cpu": cpu * 100,
        "relay_cpu_seconds": cpu * wall,
        "wall": wall,
        "span": span,
        "overview_events": sum(c[0] for c in overview_seen),
        "overview": overview_seen,
        "sent": sent,
        "received": received,
        "backlog": backlog["max"],
        "late": [t * 1000 for t in late],
        "floor": floor,
        "beyond": beyond,
        "answers": [t * 1000 for t in answers],
    }


def spread(values: list[float]) -> str:
    """p50 / p99 / max of durations in ms."""
    if not values:
        return "n/a"
    return (
        f"p50 {statistics.median(values):.1f}, p99 {percentile(values, 99):.1f}, "
        f"max {max(values):.1f} ms"
    )


def machine_report(r: dict) -> None:
    """What the machine, not the relay, adds: the bench's own lateness, and how
    soon a bare listener hears of a commit."""
    print(f"  writers behind their schedule when starting a sample: {spread(r['late'])}")
    print(
        f"  commit -> NOTIFY at a bare listener (the floor, {len(r['floor'])} samples): "
        f"{spread(r['floor'])}"
    )
    print(f"  that NOTIFY -> metrics-update at the client (relay + socket): {spread(r['beyond'])}")
    print(f"  relay answering GET /health (its loop's wait): {spread(r['answers'])}")


def report(r: dict) -> None:
    print(
        f"  {r['name']:<28} {r['clients']:>7} {r['servers']:>7} {r['rate']:>9.1f} "
        f"{r['delivered']:>6}/{r['measured']:<6} {r['p50']:>7.1f} {r['p99']:>7.1f} "
        f"{r['max']:>7.1f}   ({r['p50_upper']:.1f} / {r['p99_upper']:.1f})  "
        f"{r['relay_cpu']:>5.0f}%  queue<={r['backlog']}"
    )


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fleet_scenario(url: str, worker: int, db_url: str, ids: list[int], args) -> None:
    """5,000 servers written at 600 samples/s; half the clients follow the fleet,
    half watch one written server each."""
    fleet_clients = args.clients // 2
    watched = ids[:: max(1, len(ids) // (args.clients - fleet_clients))][
        : args.clients - fleet_clients
    ]
    rooms = [[sid] for sid in watched]
    cpu_before = proc_cpu_seconds(worker)
    # Every server is written; the watched ones are among them.
    r = scenario(
        f"fleet: {args.clients} clients, {len(ids)} servers",
        url,
        worker,
        db_url,
        ids,
        len(rooms),
        args.rate,
        args.seconds,
        overview=fleet_clients,
        rooms=rooms,
        overview_node=True,
        compress=not args.no_compression,
    )
    cpu = proc_cpu_seconds(worker) - cpu_before
    sent, received = r["sent"], r["received"]
    per_server = {sid: [0, 0] for sid in watched}
    for k in sent:
        if k[0] in per_server:
            per_server[k[0]][0] += 1
            per_server[k[0]][1] += k in received
    expected = sum(e for e, _ in per_server.values())
    got = sum(g for _, g in per_server.values())
    short = {sid: e - g for sid, (e, g) in per_server.items() if e != g}
    print(
        f"  writes: {len(sent)} samples in {r['span']:.1f}s ({r['rate']:.0f}/s) "
        f"over {len(ids)} servers"
    )
    print(
        f"  joined clients ({len(rooms)}, one server each): commit -> metrics-update "
        f"p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms, max {r['max']:.1f} ms "
        f"(commit sent: {r['p50_upper']:.1f} / {r['p99_upper']:.1f}; "
        f"{r['delivered']} samples measured)"
    )
    print(
        f"  dropped: {expected - got} of {expected} samples of the joined servers "
        f"(per server: {min(e for e, _ in per_server.values())}-"
        f"{max(e for e, _ in per_server.values())} sent)" + (f"; short: {short}" if short else "")
    )
    listened = r["wall"]
    rates = sorted(c[1] / r["span"] for c in r["overview"])
    entries = sum(c[2] for c in r["overview"]) / max(1, sum(c[1] for c in r["overview"]))
    print(
        f"  fleet clients ({len(r['overview'])}): fleet-update {rates[0]:.2f}-{rates[-1]:.2f}"
        f" events/s each, {entries:.0f} servers per event on average; "
        f"metrics-update received: {r['overview_events']}"
    )
    print(
        f"  relay CPU: {cpu:.1f} CPU-seconds over {listened:.1f}s "
        f"({cpu / listened * 100:.0f}% of a core); queue <= {r['backlog']}"
    )
    machine_report(r)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200, help="samples per second")
    parser.add_argument("--overview", type=int, default=0, help="clients following all servers")
    parser.add_argument("--low-rate", type=float, default=5)
    parser.add_argument("--fleet", action="store_true", help="the fleet-scale scenario (see above)")
    parser.add_argument(
        "--cold",
        action="store_true",
        help="servers never heard of: every first sample brings one online (a status storm)",
    )
    parser.add_argument(
        "--no-compression",
        action="store_true",
        help="--fleet: the fleet clients do not offer permessage-deflate (browsers do)",
    )
    args = parser.parse_args()
    if args.fleet:
        # Its own defaults, unless given.
        given = set(sys.argv)
        args.seconds = args.seconds if "--seconds" in given else 60
        args.servers = args.servers if "--servers" in given else 5000
        args.rate = args.rate if "--rate" in given else 600

    server = os.environ.get("DATABASE_URL") or embedded.start("bench-pgdata")
    name = f"vigie_bench_relay_{os.getpid()}"
    db_url = create_database(server, name)
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    try:
        migrate(db_url)
        # Each server reports as often as the rate spread over them makes it (with
        # room for writers running late), so the offline sweep finds none silent.
        interval = max(5.0, 2 * args.servers / args.rate)
        # A running fleet: every server online, heard of just before the writes
        # start (scenario). With --cold, never heard of: each one's first sample
        # brings it online, a server-status to every overview client.
        with psycopg.connect(db_url, autocommit=True) as conn:
            ids = [
                row[0]
                for row in conn.execute(
                    """INSERT INTO servers (name, hostname, token_hash, interval_seconds,
                                            is_active, last_seen)
                       SELECT 'bench-' || i, 'bench-' || i, %s, %s,
                              %s, CASE WHEN %s THEN now() END
                         FROM generate_series(1, %s) AS i RETURNING id""",
                    [hash_token("unused"), interval, not args.cold, not args.cold,
                     max(args.servers, 1)],
                ).fetchall()
            ]  # fmt: skip
        port = free_port()
        log = results_dir / "relay_latency.log"
        with gunicorn_relay(db_url, port, {}, log=log) as proc:
            worker = psutil.Process(proc.pid).children()[0].pid
            url = f"http://127.0.0.1:{port}"
            print(
                f"PostgreSQL: {server.split('@')[-1]}  relay: gunicorn -k gevent -w 1, pid {worker}"
            )
            print(f"{os.cpu_count()} cores, shared with whatever else runs on this machine\n")
            if args.fleet:
                fleet_scenario(url, worker, db_url, ids, args)
                return
            print(
                "commit acknowledged -> metrics-update at the client, ms (commit sent: p50 / p99)"
            )
            header = ["scenario".ljust(28), "clients".rjust(7), "servers".rjust(7),
                      "samples/s".rjust(9), "delivered".rjust(13), "p50".rjust(7),
                      "p99".rjust(7), "max".rjust(7), " " * 19, "relay CPU"]  # fmt: skip
            print("  " + " ".join(header))
            low = scenario("low load", url, worker, db_url, ids[:1], 1, args.low_rate, args.seconds)
            report(low)
            loaded = scenario(
                f"{args.clients} clients, {args.servers} servers",
                url,
                worker,
                db_url,
                ids,
                args.clients,
                args.rate,
                args.seconds,
                overview=args.overview,
            )
            report(loaded)
            for r in (low, loaded):
                print(f"\n{r['name']}:")
                machine_report(r)
    finally:
        drop_database(server, name)


if __name__ == "__main__":
    main()
