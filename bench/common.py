"""What the benchmarks share: a sample, scratch databases, servers, client threads."""

from __future__ import annotations

import argparse
import os
import statistics
import threading

import psycopg

from tests.helpers import admin_connect, sample, with_dbname
from vigie.tokens import hash_token

# One sample's measured values, as the collector sends them (the tests' sample).
SAMPLE = {k: v for k, v in sample().items() if k != "recorded_at"}


def create_database(server: str, name: str) -> str:
    """A new, empty database on ``server`` (replacing one of that name); its URL."""
    with admin_connect(server) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_dbname(server, name)


def options(doc: str, **defaults: int) -> argparse.Namespace:
    """A benchmark's command-line options: --name N for each default given."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    for name, default in defaults.items():
        parser.add_argument(f"--{name}", type=type(default), default=default)
    return parser.parse_args()


def bench_database(name: str, embedded_name: str = "bench-pgdata") -> str:
    """A new database, migrated, for one benchmark: on DATABASE_URL's server if set,
    else on a private embedded PostgreSQL (.vigie/<embedded_name>); its URL."""
    from vigie import embedded
    from vigie.migrate import migrate

    server = os.environ.get("DATABASE_URL") or embedded.start(embedded_name)
    url = create_database(server, name)
    migrate(url)
    return url


def drop_database(server: str, name: str) -> None:
    with admin_connect(server) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def add_servers(url: str, first: int, count: int) -> list[tuple[int, str]]:
    """Servers bench-<first>… with known ingest tokens: [(id, token)]."""
    made = []
    with psycopg.connect(url, autocommit=True) as conn:
        for i in range(first, first + count):
            token = f"vgi_bench_{i}"
            row = conn.execute(
                "INSERT INTO servers (name, hostname, token_hash) VALUES (%s, %s, %s) RETURNING id",
                [f"bench-{i}", f"bench-{i}", hash_token(token)],
            ).fetchone()
            made.append((row[0], token))
    return made


def run_threads(n: int, target, *args) -> list:
    """target(i, *args) in n threads at once; their results in order of i."""
    results: list = [None] * n
    threads = [
        threading.Thread(target=lambda i=i: results.__setitem__(i, target(i, *args)))
        for i in range(n)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def quantiles(values: list[float]) -> tuple[float, float, float]:
    """p50, p95, p99 of durations in seconds, in milliseconds."""
    q = statistics.quantiles(values, n=100, method="inclusive")
    return q[49] * 1000, q[94] * 1000, q[98] * 1000
