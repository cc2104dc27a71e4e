"""What the collector costs a monitored host: the wide collector beside the
seed-only collector it grew from, measured in one run.

    .venv/bin/python bench/collector_cost.py [--seconds 180] [--interval 5]
        [--cycles 2000] [--seed-rev d5e0243^] [--wide-rev REV] [--callgrind [N]]

The seed-only collector is the collector of ``--seed-rev`` (the commit before the
wide sample), taken from git into a scratch folder and run from there; the wide
one is this checkout's (or ``--wide-rev``'s). Both run against one API
(gunicorn, on the embedded PostgreSQL unless DATABASE_URL is set). Three
measures, each printed with the ratio wide / seed:

1. **Cycles** (the precise one). A fresh process per agent repeats one tick's
   whole work back to back: a sample, its backlog write, the send to the API
   and the backlog delete, as ``vigie-collector run`` does every interval. Its
   clock (``time.monotonic``) is moved on one interval per cycle, so what the
   collector does on a schedule (the process scan once a minute, the mount
   table, the sensors) comes at the rate it would. It measures the process's
   CPU time (user + system) over ``--cycles`` cycles, in alternating rounds so
   the two agents share the machine's conditions, and the CPU and wall time of
   each sample alone (median, p95). Warm caches make it a floor of the live
   figure, not the live figure.
2. **Live**. Both agents as ``vigie-collector run``, started together, sending
   every ``--interval`` s for ``--seconds`` s, beside a minimal psutil +
   requests loop: CPU seconds from the scheduler's nanosecond counters
   (``/proc/<pid>/task/*/schedstat``; the kernel's 10 ms ticks elsewhere),
   RSS (peak and end) and USS.
3. **Instructions** (``--callgrind [N]``, N = 24 by default: keep it a multiple
   of 12, so the once-a-minute scan comes at its rate): the user-space
   instructions of one cycle under valgrind's callgrind (a run of N cycles
   minus a run of none), which a busy machine does not disturb; the kernel's
   share (reading /proc, most of the process scan) is not in it. About four
   minutes for N = 24.

CPU figures are per process, so other work on the machine changes them little,
but the machine should be quiet for the wall times (bench lock, see the README).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import create_database, drop_database  # noqa: E402
from tests.helpers import free_port, gunicorn_api  # noqa: E402
from vigie import embedded  # noqa: E402
from vigie.migrate import migrate  # noqa: E402

ENROLL = "bench-enroll-token"
# The last commit whose collector sent only the seed's nine fields.
SEED_REV = "d5e0243^"

# One agent's cycles, in a process of its own: argv = api_url, enroll token,
# state dir, hostname, interval, cycles. Prints one JSON object.
CYCLES = r"""
import json, sys, time

api_url, enroll, state_dir, hostname = sys.argv[1:5]
interval, cycles = float(sys.argv[5]), int(sys.argv[6])

# The collector's clock moves on one interval per cycle (and with real time in
# between), so its schedule (process scan, mount table, sensors) runs at the rate
# it has at that interval. Set before the collector is imported, which binds it.
_monotonic, _ahead = time.monotonic, [0.0]
time.monotonic = lambda: _monotonic() + _ahead[0]

from pathlib import Path
from vigie_collector.agent import Agent, Settings

settings = Settings(
    api_url=api_url, state_dir=Path(state_dir), enroll_token=enroll,
    hostname=hostname, interval=interval,
)
agent = Agent(settings)
sampler_sample = agent.sampler.sample
cpu, wall, kept = [], [], []

def timed():
    w, c = time.perf_counter(), time.thread_time()
    sample = sampler_sample()
    cpu.append(time.thread_time() - c)
    wall.append(time.perf_counter() - w)
    kept.append(sample)  # measured after the loop, not inside it
    return sample

def cycle():
    _ahead[0] += interval
    agent.take_sample()
    result = agent.drain()
    if result.error or not result.done:
        raise SystemExit(f"the send failed: {result.error}")

for _ in range(13):  # registration, the first scan, connections: not counted
    cycle()
agent.sampler.sample = timed
started = time.process_time()
for _ in range(cycles):
    cycle()
total = time.process_time() - started
agent.close()
size = [len(json.dumps(sample)) for sample in kept]
print(json.dumps({"cpu": total, "cycles": cycles, "sample_cpu": cpu,
                  "sample_wall": wall, "size": size}))
"""

MINIMAL_LOOP = r"""
import sys, time
import psutil, requests

url, token, server_id, interval = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
session = requests.Session()
session.headers["Authorization"] = "Bearer " + token
psutil.cpu_percent(interval=None)
start = time.monotonic()
n = 0
while True:
    n += 1
    time.sleep(max(0.0, start + n * interval - time.monotonic()))
    vm = psutil.virtual_memory()
    disk = psutil.disk_usage("/")
    net = psutil.net_io_counters()
    sample = {
        "server_id": server_id,
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z",
        "cpu_percent": psutil.cpu_percent(interval=None),
        "ram_percent": vm.percent,
        "ram_used_mb": (vm.total - vm.available) / 2**20,
        "ram_total_mb": vm.total / 2**20,
        "disk_percent": disk.percent,
        "disk_used_gb": disk.used / 2**30,
        "disk_total_gb": disk.total / 2**30,
        "network_sent_mb": net.bytes_sent / 2**20,
        "network_recv_mb": net.bytes_recv / 2**20,
    }
    try:
        session.post(url + "/api/metrics", json=sample, timeout=10)
    except requests.RequestException:
        pass
"""


def collector_at(rev: str, into: Path) -> Path:
    """The collector package of git revision ``rev``, extracted under ``into``:
    the folder to put on PYTHONPATH."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "collector/vigie_collector"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "collector"


def agent_env(pythonpath: Path | None, **extra: str) -> dict[str, str]:
    env = {**os.environ, **extra}
    env.pop("PYTHONPATH", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return env


def register(api_url: str, hostname: str) -> tuple[int, str]:
    response = requests.post(
        f"{api_url}/api/servers/register",
        json={"hostname": hostname, "machine_id": hostname},
        headers={"Authorization": f"Bearer {ENROLL}"},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["id"], response.json()["ingest_token"]


def rows(url: str, hostname: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT count(*) FROM metrics m JOIN servers s ON s.id = m.server_id "
            "WHERE s.hostname = %s",
            [hostname],
        ).fetchone()[0]


def wait_first_sample(url: str, hostnames: list[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(rows(url, h) > 0 for h in hostnames):
            return
        time.sleep(0.2)
    raise SystemExit("the agents did not deliver a first sample in time")


def cpu_seconds(pid: int) -> float:
    """User + system seconds of a process: the scheduler's nanosecond count summed
    over its threads where there is one (Linux), else psutil's (10 ms ticks)."""
    try:
        total = 0
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        return total / 1e9
    except (OSError, ValueError, IndexError):
        times = psutil.Process(pid).cpu_times()
        return times.user + times.system


def run_cycles(
    agents: dict[str, Path | None], api_url: str, tmp: Path, interval: float, cycles: int
) -> dict[str, dict]:
    """Each agent's cycles, in four rounds taking turns; totals over the rounds."""
    results: dict[str, dict] = {
        name: {"cpu": 0.0, "cycles": 0, "sample_cpu": [], "sample_wall": [], "size": []}
        for name in agents
    }
    rounds = 4
    for n in range(rounds):
        for name, path in agents.items():
            state = tmp / f"cycles-{name}"
            state.mkdir(exist_ok=True)
            out = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    CYCLES,
                    api_url,
                    ENROLL,
                    str(state),
                    f"bench-cycles-{name}",
                    str(interval),
                    str(cycles // rounds + (n < cycles % rounds)),
                ],
                env=agent_env(path),
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            got = json.loads(out)
            for key, value in got.items():
                results[name][key] += value
    return results


def callgrind_cycles(
    agents: dict[str, Path | None], api_url: str, tmp: Path, interval: float, cycles: int
) -> dict[str, float]:
    """Instructions (user space) per cycle: a run of ``cycles`` cycles minus a
    run of none, both under callgrind."""

    def instructions(name: str, path: Path | None, count: int) -> int:
        state = tmp / f"callgrind-{name}"
        state.mkdir(exist_ok=True)
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--callgrind-out-file=/dev/null",
                sys.executable,
                "-c",
                CYCLES,
                api_url,
                ENROLL,
                str(state),
                f"bench-callgrind-{name}",
                str(interval),
                str(count),
            ],
            env=agent_env(path),
            check=True,
            capture_output=True,
            text=True,
        )
        match = re.search(r"Collected\s*:\s*(\d+)", done.stderr)
        if not match:
            raise SystemExit(f"callgrind printed no count:\n{done.stderr[-2000:]}")
        return int(match.group(1))

    return {
        name: (instructions(name, path, cycles) - instructions(name, path, 0)) / cycles
        for name, path in agents.items()
    }


def run_live(
    agents: dict[str, Path | None],
    api_url: str,
    url: str,
    tmp: Path,
    seconds: float,
    interval: float,
) -> dict[str, dict]:
    """Each agent as ``vigie-collector run``, and the minimal loop, for ``seconds``."""
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    server_id, token = register(api_url, "bench-live-minimal")
    procs: dict[str, subprocess.Popen] = {}
    hostnames = {name: f"bench-live-{name}" for name in [*agents, "minimal"]}
    try:
        for name, path in agents.items():
            state = tmp / f"live-{name}"
            state.mkdir()
            (state / "machine-id").write_text(f"bench-live-{name}\n")
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", "vigie_collector", "run"],
                env=agent_env(
                    path,
                    VIGIE_API_URL=api_url,
                    VIGIE_ENROLL_TOKEN=ENROLL,
                    VIGIE_STATE_DIR=str(state),
                    VIGIE_HOSTNAME=hostnames[name],
                    VIGIE_INTERVAL=str(interval),
                ),
                **quiet,
            )
        procs["minimal"] = subprocess.Popen(
            [sys.executable, "-c", MINIMAL_LOOP, api_url, token, str(server_id), str(interval)],
            **quiet,
        )
        wait_first_sample(url, list(hostnames.values()))
        watched = {name: psutil.Process(p.pid) for name, p in procs.items()}
        before = {name: cpu_seconds(p.pid) for name, p in procs.items()}
        counted = {name: rows(url, h) for name, h in hostnames.items()}
        peak = dict.fromkeys(procs, 0)
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            for name, proc in watched.items():
                peak[name] = max(peak[name], proc.memory_info().rss)
            time.sleep(1)
        elapsed = time.monotonic() - started
        results = {}
        for name, proc in watched.items():
            memory = proc.memory_full_info()
            results[name] = {
                "cpu": cpu_seconds(proc.pid) - before[name],
                "elapsed": elapsed,
                "rss": memory.rss,
                "rss_peak": max(peak[name], memory.rss),
                "uss": memory.uss,
                "sent": rows(url, hostnames[name]) - counted[name],
            }
        return results
    finally:
        for proc in procs.values():
            proc.terminate()
            proc.wait(30)


def ms(values: list[float], q: int) -> float:
    if q == 50:
        return statistics.median(values) * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


def print_cycles(results: dict[str, dict], interval: float) -> None:
    header = (
        f"{'agent':<6} {'CPU/cycle':>10} {'% core':>8} {'sample CPU p50':>15} {'p95':>7} "
        f"{'sample wall p50':>16} {'p95':>7} {'JSON':>7}"
    )
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        per_cycle = r["cpu"] / r["cycles"]
        print(
            f"{name:<6} {per_cycle * 1000:>8.3f}ms {per_cycle / interval * 100:>7.4f}% "
            f"{ms(r['sample_cpu'], 50):>13.3f}ms {ms(r['sample_cpu'], 95):>5.3f}ms "
            f"{ms(r['sample_wall'], 50):>14.3f}ms {ms(r['sample_wall'], 95):>5.3f}ms "
            f"{statistics.mean(r['size']):>6.0f}B"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=180, help="live run (0: none)")
    parser.add_argument("--interval", type=float, default=5)
    parser.add_argument("--cycles", type=int, default=2000, help="per agent (0: none)")
    parser.add_argument("--seed-rev", default=SEED_REV)
    parser.add_argument("--wide-rev", default=None, help="default: this checkout")
    parser.add_argument("--callgrind", type=int, nargs="?", const=24, default=0, metavar="N")
    args = parser.parse_args()

    server = os.environ.get("DATABASE_URL") or embedded.start("bench-pgdata", stop_when_unused=True)
    dbname = f"vigie_bench_collector_{os.getpid()}"
    url = create_database(server, dbname)
    migrate(url)
    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    try:
        with (
            gunicorn_api(url, port, {"VIGIE_ENROLL_TOKEN": ENROLL}),
            tempfile.TemporaryDirectory() as scratch,
        ):
            tmp = Path(scratch)
            agents = {
                "seed": collector_at(args.seed_rev, tmp / "seed"),
                "wide": collector_at(args.wide_rev, tmp / "wide") if args.wide_rev else None,
            }
            cycles = run_cycles(agents, api_url, tmp, args.interval, args.cycles)
            counts = (
                callgrind_cycles(agents, api_url, tmp, args.interval, args.callgrind)
                if args.callgrind
                else None
            )
            live = (
                run_live(agents, api_url, url, tmp, args.seconds, args.interval)
                if args.seconds > 0
                else None
            )
    finally:
        drop_database(server, dbname)

    wide = args.wide_rev or "this checkout"
    print(
        f"\nseed: the collector of {args.seed_rev}; wide: {wide}. {psutil.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f} at the end.\n"
    )
    if args.cycles:
        print(
            f"Cycles: {args.cycles} per agent, one tick's work each (sample, backlog write, "
            f"send, backlog delete), the clock moved {args.interval:g} s per cycle"
        )
        print_cycles(cycles, args.interval)
        ratio = (cycles["wide"]["cpu"] / cycles["wide"]["cycles"]) / (
            cycles["seed"]["cpu"] / cycles["seed"]["cycles"]
        )
        print(f"CPU per cycle, wide / seed: {ratio:.3f}\n")
    if counts:
        print(f"Instructions per cycle (callgrind, user space, {args.callgrind} cycles):")
        for name, value in counts.items():
            print(f"  {name:<6} {value / 1e6:8.3f} M")
        print(f"  wide / seed: {counts['wide'] / counts['seed']:.3f}\n")
    if live:
        print(
            f"Live: {args.seconds:g} s of `vigie-collector run` at a {args.interval:g} s "
            "interval, all sending to the local API"
        )
        header = (
            f"{'agent':<8} {'RSS end':>9} {'RSS peak':>9} {'USS':>8} {'CPU s':>8} "
            f"{'% core':>8} {'sent':>5}"
        )
        print(header)
        print("-" * len(header))
        for name, r in live.items():
            print(
                f"{name:<8} {r['rss'] / 2**20:>7.1f}Mi {r['rss_peak'] / 2**20:>7.1f}Mi "
                f"{r['uss'] / 2**20:>6.1f}Mi {r['cpu']:>8.3f} "
                f"{r['cpu'] / r['elapsed'] * 100:>7.4f}% {r['sent']:>5}"
            )
        print(f"CPU, wide / seed: {live['wide']['cpu'] / live['seed']['cpu']:.3f}")


if __name__ == "__main__":
    main()
