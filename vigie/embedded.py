"""The embedded PostgreSQL: a private server from the ``pgserver`` wheel.

With no ``DATABASE_URL``, the local run and the tests use a PostgreSQL 16 server
whose data lives in ``.vigie/`` of the checkout (git-ignored). It is started on
first use, reused while running, and stopped when the last process that asked for
it with ``stop_when_unused=True`` exits.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

# pgserver asks platformdirs for a runtime folder, which warns where
# XDG_RUNTIME_DIR is unset (containers, CI) and then falls back to /tmp: fine.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

ROOT = Path(__file__).resolve().parent.parent


def home() -> Path:
    """Where local state lives: ``VIGIE_HOME``, else ``.vigie`` in the checkout."""
    configured = os.environ.get("VIGIE_HOME")
    path = Path(configured) if configured else ROOT / ".vigie"
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir(name: str = "pgdata") -> Path:
    return home() / name


def _forget_dead_handles(pgdata: Path) -> None:
    # pgserver counts the processes using a server in a file and stops the server
    # when the last one exits. A process killed with SIGKILL never removes itself,
    # which would keep the server running forever: drop pids that no longer exist.
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if _pid_alive(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start(name: str = "pgdata", *, stop_when_unused: bool = True) -> str:
    """Start (or reuse) the embedded server and return its connection URL.

    With ``stop_when_unused``, this process holds a handle on the server and the
    server stops when the last such process exits.
    """
    import pgserver  # imported here: only the local run and tests need it
    from pgserver.postgres_server import PostgresServer

    pgdata = data_dir(name)
    with PostgresServer._lock:
        _forget_dead_handles(pgdata)
    server = pgserver.get_server(pgdata, cleanup_mode="stop" if stop_when_unused else None)
    return server.get_uri()


def url_if_running(name: str = "pgdata") -> str | None:
    """The URL of the embedded server if it is running, without starting it."""
    from pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(data_dir(name))
    if info is None or not info.is_running():
        return None
    return info.get_uri()


def stop(name: str = "pgdata") -> bool:
    """Stop the embedded server now. Returns False if it was not running."""
    import pgserver
    from pgserver.postgres_server import PostgresServer

    pgdata = data_dir(name)
    if url_if_running(name) is None:
        return False
    user = "pgserver" if os.geteuid() == 0 else None
    with PostgresServer._lock:
        pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
        (pgdata / ".handle_pids.json").unlink(missing_ok=True)
    return True
