"""The state directory: this host's registration (server id and ingest token,
mode 0600), its machine id, the backlog, and a lock so two collectors never
share one backlog."""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

MACHINE_ID_FILES = (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id"))


@dataclass
class Credentials:
    api_url: str
    server_id: int
    ingest_token: str
    name: str
    hostname: str
    machine_id: str


class StateDir:
    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def credentials_file(self) -> Path:
        return self.path / "credentials.json"

    @property
    def backlog_file(self) -> Path:
        return self.path / "backlog.sqlite3"

    @property
    def cpu_file(self) -> Path:
        return self.path / "cpu-times.json"

    def create(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)

    def load_credentials(self) -> Credentials | None:
        try:
            data = json.loads(self.credentials_file.read_text())
            return Credentials(**data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as exc:
            raise StateError(
                f"cannot read {self.credentials_file} ({exc}): delete it and register again"
            ) from None

    def save_credentials(self, credentials: Credentials) -> None:
        """Written to a new file created 0600 and renamed over the old one, so the
        token is never readable by others, not even for a moment, and a crash
        leaves either the old file or the new one."""
        self.create()
        tmp = self.credentials_file.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(asdict(credentials), out, indent=2)
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(self.credentials_file)

    def machine_id(self) -> str:
        """The host's systemd machine id; where there is none (some containers,
        macOS), a random id generated once and kept in the state directory. A
        ``machine-id`` file in the state directory wins over both."""
        own = self.path / "machine-id"
        for path in (own, *MACHINE_ID_FILES):
            try:
                value = path.read_text().strip()
            except OSError:
                continue
            if value:
                return value[:64]
        self.create()
        value = uuid.uuid4().hex
        own.write_text(value + "\n")
        return value

    def lock(self) -> Lock:
        self.create()
        return Lock(self.path / "lock")


class StateError(Exception):
    pass


class Lock:
    """An exclusive flock on the state directory, released by the kernel when the
    process dies however it dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def __enter__(self) -> Lock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> Lock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise StateError(
                f"another vigie-collector (pid {holder}) is using {self.path.parent}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
