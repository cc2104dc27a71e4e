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
* ``network_*_mb``: the host's cumulative counters since boot, summed over the
  *counted* interfaces: the physical ones (see ``devices``), so traffic through a
  bridge, a veth pair, a bond or a tunnel is not counted twice.

Beyond those nine, every field is optional on the wire and reported where the
host has it: load and CPU count, the CPU split, swap, uptime and process count,
each real filesystem, each physical disk's I/O counters, each interface's
counters, temperatures (rules in ``devices``) and, once a minute, the top
processes (``processes``).
"""

from __future__ import annotations

import json
import os
import select
import time
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

from . import devices, procfs
from .processes import ProcessWatch

MIB = 1024**2
GIB = 1024**3
CGROUP_ROOT = Path("/sys/fs/cgroup")
# cgroup v1 reports "no limit" as a huge number near 2**63.
NO_LIMIT = 2**60
# How often the process table is scanned for the top processes (it costs more
# than the rest of a sample, see the README), the mount table read again where
# the system cannot say when it changes, and a host without sensors looked at.
TOP_PROCESSES_SECONDS = 60.0
MOUNTS_SECONDS = 60.0
SENSORS_SECONDS = 600.0
MOUNTS_FILE = "/proc/self/mounts"


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


def cpu_split(before: tuple[float, ...], after: tuple[float, ...], fields: tuple) -> dict:
    """User, system, iowait and steal time between two ``psutil.cpu_times()``
    readings, as percents of all CPUs. User includes nice; system includes the
    time serving interrupts (irq, softirq); guest time is inside user already."""
    # Raw differences, as cpu_busy_percent takes them (iowait may go backwards on
    # Linux), so that user + system + steal is cpu_percent.
    delta = {name: a - b for name, a, b in zip(fields, after, before, strict=True)}
    total = sum(delta.values()) - delta.get("guest", 0.0) - delta.get("guest_nice", 0.0)
    parts = {
        "cpu_user_percent": delta.get("user", 0.0) + delta.get("nice", 0.0),
        "cpu_system_percent": delta.get("system", 0.0)
        + delta.get("irq", 0.0)
        + delta.get("softirq", 0.0)
        + delta.get("interrupt", 0.0)
        + delta.get("dpc", 0.0),
        "cpu_iowait_percent": delta.get("iowait", 0.0),
        "cpu_steal_percent": delta.get("steal", 0.0),
    }
    if total <= 0:
        return dict.fromkeys(parts, 0.0)
    return {
        name: round(min(100.0, max(0.0, value / total * 100)), 2) for name, value in parts.items()
    }


@dataclass
class Memory:
    total: int
    used: int
    percent: float
    source: str  # "host", "cgroup v2" or "cgroup v1"


def _read_int(path: str) -> int | None:
    text = procfs.read(path)
    if text is None or text.strip() == b"max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _stat_value(path: str, key: str) -> int:
    text = procfs.read(path)
    if text is None:
        return 0
    wanted = key.encode()
    try:
        for line in text.splitlines():
            name, _, value = line.partition(b" ")
            if name == wanted:
                return int(value)
    except ValueError:
        pass
    return 0


def cgroup_memory(root: Path, host_total: int) -> tuple[int, int, str] | None:
    """(limit, used, version) when this process is confined by a cgroup memory limit
    smaller than the host's memory, else None.

    Seen from inside a container, /sys/fs/cgroup is the container's own cgroup;
    on a host the root cgroup has no limit, so the host's figures are used."""
    # Plain strings and os.open: read at every sample, pathlib's cost showed.
    v2 = os.fspath(root)
    v2_limit = _read_int(f"{v2}/memory.max")
    if v2_limit is not None and 0 < v2_limit < host_total:
        current = _read_int(f"{v2}/memory.current") or 0
        used = current - _stat_value(f"{v2}/memory.stat", "inactive_file")
        return v2_limit, max(used, 0), "cgroup v2"
    v1 = f"{v2}/memory"
    v1_limit = _read_int(f"{v1}/memory.limit_in_bytes")
    if v1_limit is not None and 0 < v1_limit < min(host_total, NO_LIMIT):
        current = _read_int(f"{v1}/memory.usage_in_bytes") or 0
        used = current - _stat_value(f"{v1}/memory.stat", "total_inactive_file")
        return v1_limit, max(used, 0), "cgroup v1"
    return None


def host_memory(info: procfs.Meminfo | None) -> tuple[int, int]:
    """(total, available) bytes: from ``/proc/meminfo`` read once per sample on
    Linux, else (or when it is not plain) psutil's figures."""
    if info is not None:
        return info.total, info.available
    vm = psutil.virtual_memory()
    return vm.total, vm.available


def memory(cgroup_root: Path = CGROUP_ROOT, info: procfs.Meminfo | None = None) -> Memory:
    total, available = host_memory(info if info is not None else procfs.meminfo())
    confined = cgroup_memory(cgroup_root, total)
    if confined is not None:
        limit, used, source = confined
        return Memory(limit, used, round(min(used / limit * 100, 100.0), 2), source)
    used = total - available
    return Memory(total, used, round(used / total * 100, 2), "host")


def network_bytes() -> tuple[int, int]:
    """(sent, received) bytes since boot over the counted interfaces."""
    counters = psutil.net_io_counters(pernic=True)
    return devices.host_totals(counters, devices.counted_interfaces(counters))


class MountWatch:
    """Says when the mount table is worth reading again.

    On Linux, poll() on ``/proc/self/mounts`` reports any mount or unmount in
    this mount namespace (as POLLPRI, once per change): one system call per
    sample, and the table (psutil's ``disk_partitions``, then the rules of
    ``devices``) is read only after a change, at once rather than up to a
    minute later. Elsewhere it is read again every ``every`` seconds."""

    def __init__(self, path: str = MOUNTS_FILE, every: float = MOUNTS_SECONDS) -> None:
        self.every = every
        self._read_at = float("-inf")
        self._poll = None
        if not hasattr(select, "poll"):
            return  # Windows
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return  # not Linux
        # A change since this open is what the first poll reports.
        weakref.finalize(self, os.close, fd)
        self._poll = select.poll()
        self._poll.register(fd, select.POLLPRI)

    @property
    def polled(self) -> bool:
        """Whether changes are reported (else the table is read on a timer)."""
        return self._poll is not None

    def due(self) -> bool:
        if self._read_at == float("-inf"):
            return True
        if self._poll is None:
            return time.monotonic() - self._read_at >= self.every
        return bool(self._poll.poll(0))

    def read(self) -> None:
        """The table is being read now (after a change, or a filesystem gone)."""
        if self._poll is not None:
            self._poll.poll(0)  # a change reported meanwhile is in what is read
        self._read_at = time.monotonic()


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class Sampler:
    """Takes samples; remembers the CPU times of the previous one so each
    ``cpu_percent`` covers the time since then.

    What rarely changes is cached: the mount table is read again when it
    changes (see ``MountWatch``; each filesystem's usage is read at every
    sample), an interface's or a disk's kind once per set of names, the swap
    counters while there is no swap. The top processes come every
    ``top_every`` seconds (``None``: never)."""

    def __init__(
        self,
        disk_path: str = "/",
        cgroup_root: Path = CGROUP_ROOT,
        top_every: float | None = TOP_PROCESSES_SECONDS,
    ) -> None:
        self.disk_path = disk_path
        self.cgroup_root = cgroup_root
        self.top_every = top_every
        self._fields = psutil.cpu_times()._fields
        self._cpu = tuple(psutil.cpu_times())
        self._cpu_at = time.monotonic()
        self.cpu_count = psutil.cpu_count() or 1
        self._boot_time = psutil.boot_time()
        self._sensors_at = float("-inf")
        self._has_sensors = True
        self._mounts: list[devices.Mount] = []
        self._mount_watch = MountWatch()
        self._swap_total: int | None = None
        self._swapped = (0, 0)
        self._interfaces: tuple[frozenset[str], dict[str, bool]] = (frozenset(), {})
        self._disks: tuple[frozenset[str], list[str]] = (frozenset(), [])
        self.processes = ProcessWatch(self.cpu_count) if top_every is not None else None
        self._top_taken = False

    def wait_for_process_window(self, seconds: float) -> None:
        """Make sure the next top processes' CPU covers at least ``seconds``."""
        if self.processes is not None and self.processes.age < seconds:
            time.sleep(seconds - self.processes.age)

    def wait_for_cpu_window(self, seconds: float) -> None:
        """Make sure the next cpu_percent covers at least ``seconds`` (one-shot use)."""
        remaining = self._cpu_at + seconds - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)

    def sample(self) -> dict:
        recorded_at = utc_now_iso()
        cpu = tuple(psutil.cpu_times())
        cpu_percent = cpu_busy_percent(self._cpu, cpu, self._fields)
        split = cpu_split(self._cpu, cpu, self._fields)
        self._cpu, self._cpu_at = cpu, time.monotonic()
        info = procfs.meminfo()
        mem = memory(self.cgroup_root, info)
        disk = psutil.disk_usage(self.disk_path)
        nics = psutil.net_io_counters(pernic=True)
        counted = self._counted(nics)
        sent, received = devices.host_totals(nics, counted)
        sample = {
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
        sample.update(self._host(info))
        sample.update(split)
        lists = {
            "filesystems": self._filesystems(),
            "disks": self._disk_io(),
            "interfaces": devices.interface_entries(nics, counted),
            "temperatures": self._temperatures(),
        }
        # A host without sensors (most VMs) sends no list rather than an empty one.
        sample.update((name, items) for name, items in lists.items() if items)
        if self.processes is not None and (
            not self._top_taken or self.processes.age >= self.top_every
        ):
            sample["top_processes"], sample["process_count"] = self.processes.top()
            self._top_taken = True
        return sample

    def _host(self, info: procfs.Meminfo | None) -> dict:
        values: dict = {}
        try:
            load = os.getloadavg() if hasattr(os, "getloadavg") else psutil.getloadavg()
            values.update(
                load_1=round(load[0], 2), load_5=round(load[1], 2), load_15=round(load[2], 2)
            )
        except OSError:
            pass
        values["cpu_count"] = self.cpu_count
        total, used, percent, swapped_in, swapped_out = self._swap(info)
        values.update(
            swap_used_mb=round(used / MIB, 3),
            swap_total_mb=round(total / MIB, 3),
            swap_percent=round(min(100.0, percent), 2),
            swap_in_mb=round(swapped_in / MIB, 6),
            swap_out_mb=round(swapped_out / MIB, 6),
        )
        values["uptime_seconds"] = round(max(0.0, self._uptime()), 1)
        if self.processes is None:
            # Otherwise counted by the process scan, once a minute.
            values["process_count"] = len(psutil.pids())
        return values

    def _swap(self, info: procfs.Meminfo | None) -> tuple[int, int, float, int, int]:
        """Total, used, percent, swapped in and out: psutil's ``swap_memory()``
        figures, on Linux from the ``/proc/meminfo`` the sample read already."""
        if info is None:
            swap = psutil.swap_memory()
            return swap.total, swap.used, swap.percent, swap.sin, swap.sout
        total = info.swap_total
        used = total - info.swap_free
        percent = round(used / total * 100, 1) if total > 0 else 0.0
        # /proc/vmstat is the dearest file of a sample, and its two swap counters
        # move only while there is swap: without any (most VMs and containers),
        # it is read once, and once more after a swapoff.
        if total > 0 or self._swap_total != 0:
            self._swapped = procfs.swap_counters() or (0, 0)
        self._swap_total = total
        return total, used, percent, *self._swapped

    def _uptime(self) -> float:
        # The kernel's own clock since boot where there is one (Linux): a step of
        # the wall clock does not move it.
        boot_clock = getattr(time, "CLOCK_BOOTTIME", None)
        if boot_clock is not None:
            return time.clock_gettime(boot_clock)
        return time.time() - self._boot_time

    def _counted(self, nics: dict) -> dict[str, bool]:
        names = frozenset(nics)
        if names != self._interfaces[0]:
            self._interfaces = (names, devices.counted_interfaces(names))
        return self._interfaces[1]

    def _filesystems(self) -> list[dict]:
        if self._mount_watch.due():
            self._read_mounts()
        entries = [devices.filesystem_usage(m) for m in self._mounts]
        if None in entries:
            # Unmounted since the table was read: read it again now.
            self._read_mounts()
            entries = [devices.filesystem_usage(m) for m in self._mounts]
        return [e for e in entries if e is not None]

    def _read_mounts(self) -> None:
        self._mount_watch.read()
        mounts = [
            devices.Mount(p.device, p.mountpoint, p.fstype, p.opts)
            for p in psutil.disk_partitions(all=True)
        ]
        self._mounts = devices.real_filesystems(mounts)

    def _disk_io(self) -> list[dict]:
        # The kernel's disk counters are 64-bit; a reset (a reboot) the API handles.
        counters = procfs.diskstats()
        if counters is None:
            try:
                counters = psutil.disk_io_counters(perdisk=True, nowrap=False) or {}
            except OSError:  # no /proc/diskstats (some containers)
                return []
        names = frozenset(counters)
        if names != self._disks[0]:
            self._disks = (names, devices.physical_disks(names))
        return [devices.disk_entry(name, counters[name]) for name in self._disks[1]]

    def _temperatures(self) -> list[dict]:
        read = getattr(psutil, "sensors_temperatures", None)
        if read is None:
            return []  # not on this OS (Windows, macOS)
        # Most VMs have no sensor: looking for one costs as much as the rest of
        # a sample, so a host without any is looked at again every 10 minutes.
        if not self._has_sensors and time.monotonic() - self._sensors_at < SENSORS_SECONDS:
            return []
        try:
            readings = read()
        except (OSError, RuntimeError):
            readings = {}
        self._has_sensors, self._sensors_at = bool(readings), time.monotonic()
        return devices.temperature_entries(readings)

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
