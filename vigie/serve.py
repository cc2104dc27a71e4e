"""How Vigie's processes are started: the gunicorn options of each, in one place.

The Procfile's lines carry the same options (tests/test_procfile.py holds them to
these), with the host's ``$PORT``:

- ``web``: the functions, ``functions.app:app``, threaded workers;
- ``realtime``: the relay, ``realtime.relay:app``, one gevent worker (socket.io
  keeps each connection's state in the process that accepted it);
- the local run (``vigie run``): the relay serving the API and the dashboard too,
  ``vigie.local:app``, on one port.

Each runs one of Vigie's worker classes (vigie/workers.py): gunicorn's threaded or
gevent worker, whose own error pages (414, 431, 400) are JSON like every other
error.
"""

from __future__ import annotations

from pathlib import Path

# Never --preload for the relay: gevent must patch the worker before it imports
# psycopg (realtime/green.py).
RELAY_WORKER = "vigie.workers.GeventWorker"
WEB_WORKER = "vigie.workers.ThreadWorker"
RELAY_OPTIONS = (
    "--no-control-socket",
    "-k",
    RELAY_WORKER,
    "-w",
    "1",
    # Open sockets would hold a stop for gunicorn's default 30 s.
    "--graceful-timeout",
    "5",
)
WEB_OPTIONS = ("--no-control-socket", "-k", WEB_WORKER)
WEB_WORKERS = ("--workers", "${WEB_CONCURRENCY:-2}", "--threads", "8")
RELAY_APP = "realtime.relay:app"
WEB_APP = "functions.app:app"
LOCAL_APP = "vigie.local:app"


def local_command(bin_dir: Path, host: str, port: int) -> str:
    """The local run's one process: relay, API and dashboard on one port."""
    options = " ".join(RELAY_OPTIONS)
    return f"{bin_dir / 'gunicorn'} {options} --bind {host}:{port} {LOCAL_APP}"
