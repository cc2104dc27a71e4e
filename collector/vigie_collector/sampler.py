"""One sample of this host: the fields of Vigie's ``metrics`` table, from psutil.

Units (as the Vigie API documents them): MB and GB are binary (MiB, GiB).

* ``cpu_percent``: share of all CPUs busy since the previous sample (the same
  arithmetic as ``psutil.cpu_percent``), so a 5 s interval gives the average over
  those 5 s rather than a blocking 1 s measurement.
* ``ram_*``: used = total - available (what ``psutil.virtual_memory().percent`` is
  computed from). Inside a container with a memory limit, the cgroup's limit and
  usage instead (usage without the inactive page cache, as ``docker stats`` does).
* ``disk_*``: the filesystem holding ``disk_path`` (``/`` by default); percent as
  ``df`` shows it (blocks reserved for root are not counted as free).
* ``network_*_mb``: the host's cumulative counters since boot, summed over every
  interface except loopback (traffic to itself is not network traffic).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

MIB = 1024**2
GIB = 1024**3
CGROUP_ROOT = Path("/sys/fs/cgroup")
# cgroup v1 reports "no limit" as a huge number near 2**63.
NO_LIMIT = 2**60


def cpu_busy_percent(before: tuple[float, ...], after: tuple[float, ...], fields: tuple) -> float:
    """Percent of CPU time spent busy between two ``psutil.cpu_times()`` readings.

    Mirrors psutil's own arithmetic: idle and iowait are idle; guest time is
    already counted in user time on Linux, so it is not added twice."""

    def split(times: tuple[float, ...]) -> tuple[float, float]:
        named = dict(zip(fields, times, strict=True))
        total = sum(times) - named.get("guest", 0.0) - named.get("guest_nice", 0.0)
        busy = total - named.get("idle", 0.0) - named.get("iowait", 0.0)
        return total, busy

    total_before, busy_before = split(before)
    total_after, busy_after = split(after)
    elapsed = total_after - total_before
    if elapsed <= 0:
        return 0.0
    return round(min(100.0, max(0.0, (busy_after - busy_before) / elapsed * 100)), 2)


@dataclass
class Memory:
    total: int
    used: int
    percent: float
    source: str  # "host", "cgroup v2" or "cgroup v1"


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if text == "max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _stat_value(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def cgroup_memory(root: Path, host_total: int) -> tuple[int, int, str] | None:
    """(limit, used, version) when this process is confined by a cgroup memory limit
    smaller than the host's memory, else None.

    Seen from inside a container, /sys/fs/cgroup is the container's own cgroup;
    on a host the root cgroup has no limit, so the host's figures are used."""
    v2_limit = _read_int(root / "memory.max")
    if v2_limit is not None and 0 < v2_limit < host_total:
        current = _read_int(root / "memory.current") or 0
        used = current - _stat_value(root / "memory.stat", "inactive_file")
        return v2_limit, max(used, 0), "cgroup v2"
    v1 = root / "memory"
    v1_limit = _read_int(v1 / "memory.limit_in_bytes")
    if v1_limit is not None and 0 < v1_limit < min(host_total, NO_LIMIT):
        current = _read_int(v1 / "memory.usage_in_bytes") or 0
        used = current - _stat_value(v1 / "memory.stat", "total_inactive_file")
        return v1_limit, max(used, 0), "cgroup v1"
    return None


def memory(cgroup_root: Path = CGROUP_ROOT) -> Memory:
    vm = psutil.virtual_memory()
    confined = cgroup_memory(cgroup_root, vm.total)
    if confined is not None:
        limit, used, source = confined
        return Memory(limit, used, round(min(used / limit * 100, 100.0), 2), source)
    used = vm.total - vm.available
    return Memory(vm.total, used, round(used / vm.total * 100, 2), "host")


def network_bytes() -> tuple[int, int]:
    """(sent, received) bytes since boot over every interface but loopback."""
    sent = received = 0
    for name, counters in psutil.net_io_counters(pernic=True).items():
        if name == "lo" or name.startswith("lo:"):
            continue
        sent += counters.bytes_sent
        received += counters.bytes_recv
    return sent, received


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class Sampler:
    """Takes samples; remembers the CPU times of the previous one so each
    ``cpu_percent`` covers the time since then."""

    def __init__(self, disk_path: str = "/", cgroup_root: Path = CGROUP_ROOT) -> None:
        self.disk_path = disk_path
        self.cgroup_root = cgroup_root
        self._fields = psutil.cpu_times()._fields
        self._cpu = tuple(psutil.cpu_times())
        self._cpu_at = time.monotonic()

    def wait_for_cpu_window(self, seconds: float) -> None:
        """Make sure the next cpu_percent covers at least ``seconds`` (one-shot use)."""
        remaining = self._cpu_at + seconds - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)

    def sample(self) -> dict:
        recorded_at = utc_now_iso()
        cpu = tuple(psutil.cpu_times())
        cpu_percent = cpu_busy_percent(self._cpu, cpu, self._fields)
        self._cpu, self._cpu_at = cpu, time.monotonic()
        mem = memory(self.cgroup_root)
        disk = psutil.disk_usage(self.disk_path)
        sent, received = network_bytes()
        return {
            "cpu_percent": cpu_percent,
            "ram_percent": mem.percent,
            "ram_used_mb": round(mem.used / MIB, 3),
            "ram_total_mb": round(mem.total / MIB, 3),
            "disk_percent": round(disk.percent, 2),
            "disk_used_gb": round(disk.used / GIB, 4),
            "disk_total_gb": round(disk.total / GIB, 4),
            "network_sent_mb": round(sent / MIB, 6),
            "network_recv_mb": round(received / MIB, 6),
            "recorded_at": recorded_at,
        }

    # A one-shot run from cron measures CPU since the previous run: the CPU times
    # are kept in the state directory between runs (same boot only).

    def load_cpu(self, path: Path) -> bool:
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError):
            return False
        if (
            not isinstance(saved, dict)
            or saved.get("boot_time") != psutil.boot_time()
            or saved.get("fields") != list(self._fields)
        ):
            return False
        times = tuple(float(x) for x in saved.get("times", []))
        if len(times) != len(self._fields) or sum(times) > sum(self._cpu):
            return False
        self._cpu, self._cpu_at = times, float("-inf")
        return True

    def save_cpu(self, path: Path) -> None:
        state = {"boot_time": psutil.boot_time(), "fields": self._fields, "times": self._cpu}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(path)
