"""Schema fuzzing at length: the suite's tests/test_schema_fuzz.py with many more
examples per operation (the suite runs a few, derandomized), on the embedded
PostgreSQL like the tests. Prints how long it took; any failure is pytest's report,
with a curl command that reproduces it.

    .venv/bin/python bench/fuzz.py                 # 500 examples per operation
    .venv/bin/python bench/fuzz.py --examples 2000 -x
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=500, help="examples per operation")
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers")
    args, pytest_args = parser.parse_known_args()
    env = {**os.environ, "VIGIE_FUZZ_EXAMPLES": str(args.examples)}
    command = [
        sys.executable, "-m", "pytest", "tests/test_schema_fuzz.py", "-q",
        "-n", str(args.workers), "-p", "no:cacheprovider",
        # A long run is no hung test.
        "-o", "timeout=0",
        *pytest_args,
    ]  # fmt: skip
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, env=env, check=False)
    elapsed = time.monotonic() - started
    print(
        f"fuzz: {args.examples} examples per operation, {elapsed:.0f} s, exit {result.returncode}"
    )
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
