"""Cold start of each function entry point, as a Lambda-style host pays it.

For each module, in a fresh interpreter each time: the import, building the app
and its handler, the first request (which opens the database connection) and a
second one (the connection reused). Prints the median and the spread of a few runs;
"import CPU" is the CPU time of the import, less disturbed by a busy machine than
the wall-clock time beside it.

    .venv/bin/python bench/cold_start.py            # embedded PostgreSQL
    DATABASE_URL=postgresql://... .venv/bin/python bench/cold_start.py --runs 9

For where an import spends its time:
    .venv/bin/python -X importtime -c 'import functions.metrics' 2>&1 | sort -t'|' -k2 -n | tail
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The Lambda-style handlers of functions.app: each group alone, and all of them.
HANDLERS = ["servers_handler", "metrics_handler", "history_handler", "alerts_handler",
            "handler"]  # fmt: skip

PROBE = r"""
import json, sys, time
c0, t0 = time.process_time(), time.perf_counter()
import functions.app
c1, t1 = time.process_time(), time.perf_counter()
handler = getattr(functions.app, sys.argv[1])
t2 = time.perf_counter()
event = {"version": "2.0", "rawPath": "/api/health", "rawQueryString": "", "headers": {},
         "requestContext": {"http": {"method": "GET", "protocol": "HTTP/1.1",
                                     "sourceIp": "127.0.0.1"}, "stage": "$default"}}
first = handler(event, None)
t3 = time.perf_counter()
second = handler(event, None)
t4 = time.perf_counter()
assert first["statusCode"] == second["statusCode"] == 200, first
print(json.dumps({"import": t1 - t0, "import_cpu": c1 - c0, "build": t2 - t1,
                  "first": t3 - t2, "second": t4 - t3, "modules": len(sys.modules)}))
"""


def measure(module: str, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, module],
        env=env, cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL")
    if not url:
        from vigie import embedded
        from vigie.migrate import migrate

        url = embedded.start("bench-pgdata")
        migrate(url)
    env = {**os.environ, "DATABASE_URL": url, "AWS_LAMBDA_FUNCTION_NAME": "bench"}

    print(f"python {sys.version.split()[0]}, {args.runs} fresh interpreters per entry point, "
          f"{os.cpu_count()} cores (shared: figures vary with the machine's load)")  # fmt: skip
    print(f"{'entry point':<20}{'import ms':>16}{'import CPU ms':>16}{'app+handler ms':>18}"
          f"{'1st request ms':>18}{'2nd request ms':>18}{'modules':>9}")  # fmt: skip
    for module in HANDLERS:
        runs = [measure(module, env) for _ in range(args.runs)]
        print(f"{module:<20}{cell(runs, 'import', 16)}{cell(runs, 'import_cpu', 16)}"
              f"{cell(runs, 'build', 18)}"
              f"{cell(runs, 'first', 18)}{cell(runs, 'second', 18)}"
              f"{runs[0]['modules']:>9}")  # fmt: skip


def cell(runs: list[dict[str, float]], key: str, width: int) -> str:
    """Median (fastest-slowest) in milliseconds."""
    values = sorted(r[key] * 1000 for r in runs)
    return f"{statistics.median(values):.0f} ({values[0]:.0f}-{values[-1]:.0f})".rjust(width)


if __name__ == "__main__":
    main()
