"""The busiest processes: the top 5 by CPU and by memory.

CPU is each process's CPU time between two scans of the process table, as a
percent of all CPUs (what the host's ``cpu_percent`` is a percent of). A scan
reads every process, so it is the dearest part of a sample: the collector scans
once a minute (see ``Sampler``), not at every sample. On Linux a scan reads one
file per process (``/proc/<pid>/stat``: name, CPU time, RSS), five times cheaper
than asking psutil for the same three figures; elsewhere it asks psutil.
"""

from __future__ import annotations

import heapq
import os
import pwd
import time
from pathlib import Path
from typing import NamedTuple

import psutil

MIB = 1024**2
TOP = 5
PROC = Path("/proc")


class Reading(NamedTuple):
    pid: int
    started: float  # with pid, tells a process from a later one given the same pid
    name: str
    cpu_seconds: float  # user + system since it started
    rss: int  # bytes


def _linux_scan(proc: Path) -> list[Reading]:
    # The hot loop of a scan: plain strings and os.open rather than pathlib and
    # open(), a third of the time.
    tick = os.sysconf("SC_CLK_TCK")
    page = os.sysconf("SC_PAGE_SIZE")
    root = str(proc)
    readings = []
    for entry in os.listdir(root):
        if not entry.isdigit():
            continue
        try:
            fd = os.open(f"{root}/{entry}/stat", os.O_RDONLY)
            try:
                text = os.read(fd, 4096).decode("utf-8", "replace")
            finally:
                os.close(fd)
        except OSError:
            continue  # it ended meanwhile
        # "pid (name) state ...": the name may hold spaces and parentheses.
        left, right = text.find("("), text.rfind(")")
        fields = text[right + 2 :].split(" ", 22)
        if left < 0 or len(fields) < 22:
            continue
        readings.append(
            Reading(
                int(entry),
                float(fields[19]),
                text[left + 1 : right],
                (int(fields[11]) + int(fields[12])) / tick,
                int(fields[21]) * page,
            )
        )
    return readings


def _psutil_scan() -> list[Reading]:
    readings = []
    for p in psutil.process_iter(["name", "cpu_times", "memory_info", "create_time"]):
        info = p.info
        if info["cpu_times"] is None or info["memory_info"] is None:
            continue  # access denied (another user's process on macOS)
        readings.append(
            Reading(
                pid=p.pid,
                started=info["create_time"] or 0.0,
                name=info["name"] or "",
                cpu_seconds=info["cpu_times"].user + info["cpu_times"].system,
                rss=info["memory_info"].rss,
            )
        )
    return readings


def scan(proc: Path = PROC) -> list[Reading]:
    """Every process of the host, now."""
    if _has_proc(proc):
        return _linux_scan(proc)
    return _psutil_scan()


def top_processes(
    previous: dict[tuple[int, float], float],
    readings: list[Reading],
    elapsed: float,
    cpu_count: int,
    user_of=None,
    top: int = TOP,
) -> dict:
    """The ``top`` processes by CPU since the ``previous`` scan (CPU seconds by
    (pid, started)) over ``elapsed`` seconds, and by RSS. A process that started
    since then counts all its CPU time."""
    user_of = user_of or process_user
    busy = []
    for r in readings:
        before = previous.get((r.pid, r.started), 0.0)
        share = max(0.0, r.cpu_seconds - before) / elapsed / cpu_count * 100 if elapsed > 0 else 0
        busy.append((min(100.0, share), r))

    def entry(r: Reading, cpu: float) -> dict:
        return {
            "pid": r.pid,
            "name": r.name[:128],
            "user": user_of(r.pid),
            "cpu_percent": round(cpu, 2),
            "rss_mb": round(r.rss / MIB, 3),
        }

    by_cpu = heapq.nsmallest(top, busy, key=lambda x: (-x[0], x[1].pid))
    by_memory = heapq.nsmallest(top, busy, key=lambda x: (-x[1].rss, x[1].pid))
    return {
        "cpu": [entry(r, cpu) for cpu, r in by_cpu],
        "memory": [entry(r, cpu) for cpu, r in by_memory],
    }


_users: dict[int, str | None] = {}


def _user_name(uid: int) -> str | None:
    if uid not in _users:
        try:
            _users[uid] = pwd.getpwuid(uid).pw_name[:64]
        except KeyError:
            _users[uid] = str(uid)  # a uid without a name (a container's user)
    return _users[uid]


def process_user(pid: int, proc: Path = PROC) -> str | None:
    """The name of the user a process runs as, or None if it is gone."""
    if _has_proc(proc):
        # /proc/<pid> belongs to the process's user: one stat, no psutil.
        try:
            return _user_name(os.stat(f"{proc}/{pid}").st_uid)
        except OSError:
            return None
    try:
        return psutil.Process(pid).username()[:64]
    except psutil.Error:
        return None


_procfs: dict[Path, bool] = {}


def _has_proc(proc: Path) -> bool:
    if proc not in _procfs:
        _procfs[proc] = (proc / "self" / "stat").exists()
    return _procfs[proc]


class ProcessWatch:
    """Scans the process table and remembers each process's CPU time, so the next
    scan's CPU figures cover the time between the two."""

    def __init__(self, cpu_count: int, proc: Path = PROC) -> None:
        self.cpu_count = cpu_count
        self.proc = proc
        self._cpu: dict[tuple[int, float], float] = {}
        self._at = float("-inf")
        self.prime()

    def prime(self) -> None:
        self._remember(scan(self.proc))

    def _remember(self, readings: list[Reading]) -> None:
        self._cpu = {(r.pid, r.started): r.cpu_seconds for r in readings}
        self._at = time.monotonic()

    @property
    def age(self) -> float:
        """Seconds since the last scan."""
        return time.monotonic() - self._at

    def top(self) -> tuple[dict, int]:
        """The top processes since the last scan, and how many processes there are."""
        readings = scan(self.proc)
        elapsed = self.age
        result = top_processes(self._cpu, readings, elapsed, self.cpu_count)
        self._remember(readings)
        return result, len(readings)
