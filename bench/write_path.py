"""What one sample costs, Vigie beside the stack's floor, measured in one run.

1. Database: a single-sample write, one at a time on one connection, as the API
   makes it (vigie_ingest_live), beside a bare ``INSERT … ; SELECT pg_notify(…)``
   transaction on a plain table with the seed's columns (bench/floor.py), and the
   same sample through vigie_ingest, interleaved in rounds so all see the same
   machine. Figures: the backend's CPU per sample (from
   /proc/<pid>/stat of the server process) and the wall time per transaction.
2. Python: the WSGI app of each called in this process, one thread, a few thousand
   requests each (no HTTP server, no test client): process CPU per request.

    .venv/bin/python bench/write_path.py [--samples 3000] [--rounds 5]

With no DATABASE_URL, a private embedded PostgreSQL (.vigie/bench-pgdata) is used.
The ratios are the figures: absolute times drift with the machine's load.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench.common import SAMPLE, add_servers, bench_database, options  # noqa: E402
from bench.floor import INSERT, TABLE, create_floor_app  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a PostgreSQL backend process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def moments(n: int, start: datetime) -> list[str]:
    """Sample times a second apart: a bench's samples stay recent, as live ones are."""
    return [(start + timedelta(seconds=i)).isoformat() for i in range(n)]


# --- 1. the database -------------------------------------------------------------


def bare_round(conn: psycopg.Connection, server_id: int, times: list[str]) -> None:
    for at in times:
        with conn.transaction():
            conn.execute(INSERT, {**SAMPLE, "server_id": server_id, "recorded_at": at})
            conn.execute("SELECT pg_notify('floor', %s)", [str(server_id)])


def vigie_round(app, server_id: int, token: str, times: list[str]) -> None:
    """The API's own write, through its code: the route's function, minus HTTP."""
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for at in times:
        response = client.post(
            "/api/metrics", json={"server_id": server_id, **SAMPLE, "recorded_at": at},
            headers=headers,
        )  # fmt: skip
        assert response.status_code == 201, response.json


def general_round(conn: psycopg.Connection, server_id: int, token: str, times: list[str]) -> None:
    """The same sample through vigie_ingest, the path of batches and wide samples
    (and of the cases the live one hands on), as the API would call it."""
    from functions.metrics import COLUMNS, INGEST_ONE, defaults_json
    from vigie.settings import AlertSettings
    from vigie.tokens import hash_token

    head = [server_id, hash_token(token), defaults_json(AlertSettings())]
    values = [SAMPLE[c] for c in COLUMNS[1:]]
    for at in times:
        conn.execute(INGEST_ONE, [*head, at, *values, None]).fetchone()


def database_cost(url: str, samples: int, rounds: int) -> dict:
    from functions.factory import create_app
    from vigie.settings import DatabaseSettings, Settings

    [(sid, token), (general_sid, general_token)] = add_servers(url, 1, 2)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(TABLE)
    bare = psycopg.connect(url)
    general = psycopg.connect(url, autocommit=True)
    # The API with a pool of one connection, so its backend is the one measured.
    app = create_app(Settings(database=DatabaseSettings(url=url, mode="pool", pool_size=1)))
    db = app.extensions["vigie_db"]
    with app.app_context(), db.connection() as conn:
        vigie_pid = conn.info.backend_pid
    bare_pid = bare.info.backend_pid
    per_round = samples // rounds
    start = datetime.now(UTC) - timedelta(seconds=samples + 60)
    cpu = {"bare": 0.0, "vigie": 0.0, "general": 0.0}
    wall = {"bare": 0.0, "vigie": 0.0, "general": 0.0}
    for r in range(rounds):
        times = moments(per_round, start + timedelta(seconds=per_round * r))
        c0, t0 = backend_cpu(bare_pid), time.perf_counter()
        bare_round(bare, sid, times)
        c1, t1 = backend_cpu(bare_pid), time.perf_counter()
        cpu["bare"] += c1 - c0
        wall["bare"] += t1 - t0
        c0, t0 = backend_cpu(vigie_pid), time.perf_counter()
        vigie_round(app, sid, token, times)
        c1, t1 = backend_cpu(vigie_pid), time.perf_counter()
        cpu["vigie"] += c1 - c0
        wall["vigie"] += t1 - t0
        c0, t0 = backend_cpu(general.info.backend_pid), time.perf_counter()
        general_round(general, general_sid, general_token, times)
        c1, t1 = backend_cpu(general.info.backend_pid), time.perf_counter()
        cpu["general"] += c1 - c0
        wall["general"] += t1 - t0
    bare.close()
    general.close()
    db.close()
    n = per_round * rounds
    return {k: {"cpu_us": cpu[k] / n * 1e6, "wall_us": wall[k] / n * 1e6} for k in cpu}


# --- 2. Python -------------------------------------------------------------------


def environ_for(body: bytes, token: str) -> dict:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/api/metrics",
        "SERVER_NAME": "bench",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_AUTHORIZATION": f"Bearer {token}",
    }


def python_cost(app, server_id: int, token: str, times: list[str]) -> float:
    """Process CPU per request, calling the WSGI app directly."""
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    bodies = [
        json.dumps({"server_id": server_id, **SAMPLE, "recorded_at": at}).encode() for at in times
    ]
    c0 = time.process_time()
    for body in bodies:
        for _ in app(environ_for(body, token), start_response):
            pass
    used = time.process_time() - c0
    assert all(s.startswith("201") for s in statuses), statuses[:3]
    return used / len(times)


def python_costs(url: str, samples: int, rounds: int) -> dict:
    from functions.factory import create_app
    from vigie.settings import DatabaseSettings, Settings

    [(sid, token)] = add_servers(url, 3, 1)
    vigie = create_app(Settings(database=DatabaseSettings(url=url, mode="pool", pool_size=2)))
    floor = create_floor_app(url, pool_size=2)
    start = datetime.now(UTC) - timedelta(seconds=samples + 60)
    per_round = samples // rounds
    cost: dict[str, list[float]] = {"floor": [], "vigie": []}
    # Warm both (imports, plans, pools) before measuring.
    python_cost(floor, 10**6, token, moments(200, start - timedelta(seconds=300)))
    python_cost(vigie, sid, token, moments(200, start - timedelta(seconds=300)))
    for r in range(rounds):
        times = moments(per_round, start + timedelta(seconds=per_round * r))
        cost["floor"].append(python_cost(floor, 10**6 + r, token, times))
        cost["vigie"].append(python_cost(vigie, sid, token, times))
    vigie.extensions["vigie_db"].close()
    floor.extensions["floor_pool"].close()
    return {k: statistics.median(v) * 1e6 for k, v in cost.items()}


def main() -> None:
    args = options(__doc__, samples=3000, rounds=5)
    url = bench_database("vigie_bench_write_path", "bench-pgdata")

    db = database_cost(url, args.samples, args.rounds)
    print(f"database, {args.samples} single-sample transactions each, one at a time:")
    print(f"{'':<28}{'backend CPU µs':>16}{'wall µs':>12}")
    for name, label in (("bare", "bare INSERT + NOTIFY"), ("vigie", "Vigie's ingest")):
        print(f"{label:<28}{db[name]['cpu_us']:>16.0f}{db[name]['wall_us']:>12.0f}")
    print(f"{'ratio (Vigie / bare)':<28}{db['vigie']['cpu_us'] / db['bare']['cpu_us']:>16.2f}"
          f"{db['vigie']['wall_us'] / db['bare']['wall_us']:>12.2f}")  # fmt: skip
    general = db["general"]["cpu_us"]
    print(
        f"(vigie_ingest, the path of batches and of what the live one hands on, for the"
        f" same sample: {general:.0f} µs, {general / db['bare']['cpu_us']:.2f} × bare)"
    )

    py = python_costs(url, args.samples, args.rounds)
    print(f"\nPython, the WSGI app called in process, {args.samples} requests each:")
    print(f"{'floor route (bench/floor.py)':<32}{py['floor']:>8.0f} µs CPU per request")
    print(f"{'Vigie POST /api/metrics':<32}{py['vigie']:>8.0f} µs CPU per request")
    print(f"{'ratio (Vigie / floor)':<32}{py['vigie'] / py['floor']:>8.2f}")


if __name__ == "__main__":
    main()
