"""What the collector costs a monitored host, beside the least an agent can cost.

    .venv/bin/python bench/collector_cost.py [--seconds 60] [--interval 5]

Starts the API (gunicorn, on the embedded PostgreSQL unless DATABASE_URL is set),
then, at the same moment, two agents sending to it every --interval seconds:

  * ``vigie-collector run`` (backlog, registration, backoff: everything);
  * a minimal loop: psutil + requests, one POST /api/metrics per tick, nothing else.

Once both have delivered their first sample, it measures each process for
--seconds: CPU seconds (user + system) and RSS (sampled every second; peak and
end), and USS (memory that is the process's alone). Prints one table. The
machine may be busy with other work while it runs: compare the two rows, which
shared the same conditions, rather than the absolute figures.
"""

from __future__ import annotations

import argparse
import os
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
from tests.helpers import BIN, free_port, gunicorn_api  # noqa: E402
from vigie import embedded  # noqa: E402
from vigie.migrate import migrate  # noqa: E402

ENROLL = "bench-enroll-token"

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


def sampling_cost(count: int = 200) -> tuple[float, int, int]:
    """The collector's sampling alone, in this process: CPU milliseconds per
    sample (the mean of ``count``, the top-processes scan included at the rate
    the collector runs it), and the JSON bytes of a sample without and with
    the top processes."""
    import json

    from vigie_collector import sampler as sampling

    sampler = sampling.Sampler()
    first = sampler.sample()  # the first carries the top processes, if any
    plain = sampler.sample()
    every = getattr(sampling, "TOP_PROCESSES_SECONDS", None)
    started = time.process_time()
    for n in range(count):
        if every and n % 12 == 11 and sampler.processes is not None:
            sampler.processes.top()  # once a minute at a 5 s interval
        sampler.sample()
    per_sample = (time.process_time() - started) / count * 1000
    return per_sample, len(json.dumps(plain)), len(json.dumps(first))


def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--interval", type=float, default=5)
    args = parser.parse_args()

    server = os.environ.get("DATABASE_URL") or embedded.start("bench-pgdata", stop_when_unused=True)
    dbname = f"vigie_bench_collector_{os.getpid()}"
    url = create_database(server, dbname)
    migrate(url)
    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    agents: dict[str, subprocess.Popen] = {}
    try:
        with (
            gunicorn_api(url, port, {"VIGIE_ENROLL_TOKEN": ENROLL}),
            tempfile.TemporaryDirectory() as tmp,
        ):
            state = Path(tmp) / "state"
            state.mkdir()
            (state / "machine-id").write_text("bench-vigie\n")
            server_id, token = register(api_url, "bench-minimal")
            quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
            agents["vigie-collector run"] = subprocess.Popen(
                [str(BIN / "vigie-collector"), "run"],
                env={
                    **os.environ,
                    "VIGIE_API_URL": api_url,
                    "VIGIE_ENROLL_TOKEN": ENROLL,
                    "VIGIE_STATE_DIR": str(state),
                    "VIGIE_HOSTNAME": "bench-vigie",
                    "VIGIE_INTERVAL": str(args.interval),
                },
                **quiet,
            )
            agents["minimal psutil+requests loop"] = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    MINIMAL_LOOP,
                    api_url,
                    token,
                    str(server_id),
                    str(args.interval),
                ],
                **quiet,
            )
            wait_first_sample(url, ["bench-vigie", "bench-minimal"])
            procs = {name: psutil.Process(p.pid) for name, p in agents.items()}
            before = {name: cpu_seconds(p) for name, p in procs.items()}
            counted = {h: rows(url, h) for h in ("bench-vigie", "bench-minimal")}
            peak = dict.fromkeys(procs, 0)
            started = time.monotonic()
            while time.monotonic() - started < args.seconds:
                for name, proc in procs.items():
                    peak[name] = max(peak[name], proc.memory_info().rss)
                time.sleep(1)
            elapsed = time.monotonic() - started
            after = {name: cpu_seconds(p) for name, p in procs.items()}
            memory = {name: p.memory_full_info() for name, p in procs.items()}
            sent = {
                "vigie-collector run": rows(url, "bench-vigie") - counted["bench-vigie"],
                "minimal psutil+requests loop": rows(url, "bench-minimal")
                - counted["bench-minimal"],
            }
    finally:
        for proc in agents.values():
            proc.terminate()
            proc.wait(30)
        drop_database(server, dbname)

    load = os.getloadavg()
    print(
        f"\n{args.seconds:g} s at a {args.interval:g} s interval, both sending to a local "
        f"API (gunicorn + PostgreSQL on this machine); {psutil.cpu_count()} CPUs, "
        f"load average {load[0]:.2f} at the end (the machine was shared)\n"
    )
    header = (
        f"{'agent':<30} {'RSS end':>9} {'RSS peak':>9} {'USS':>8} {'CPU s':>7} "
        f"{'% core':>7} {'sent':>5}"
    )
    print(header)
    print("-" * len(header))
    for name in procs:
        cpu = after[name] - before[name]
        print(
            f"{name:<30} {memory[name].rss / 2**20:>7.1f}Mi {peak[name] / 2**20:>7.1f}Mi "
            f"{memory[name].uss / 2**20:>6.1f}Mi {cpu:>7.2f} {cpu / elapsed * 100:>6.3f}% "
            f"{sent[name]:>5}"
        )
    print(
        "\nCPU s: user + system over the measured window (after the first sample, so "
        "start-up and imports are left out); % core: CPU s / wall seconds."
    )
    per_sample, plain, first = sampling_cost()
    print(
        f"\nvigie-collector's sampling alone: {per_sample:.3f} ms CPU per sample; "
        f"a sample is {plain} bytes of JSON ({first} with the top processes)"
    )


if __name__ == "__main__":
    main()
