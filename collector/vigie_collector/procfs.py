"""Linux's counters read straight from ``/proc``, where psutil's general call
reads more than a sample uses or reads the same file twice: ``/proc/meminfo``
once for both memory and swap (psutil reads it for each), ``/proc/vmstat``'s
two swap counters, ``/proc/diskstats`` without building a tuple per partition.

Each reader gives what psutil gives, in the same units, or None when the file
is missing or says something unexpected: the caller then asks psutil, which
stays the way on other systems.
"""

from __future__ import annotations

import os
from typing import NamedTuple

PROC = "/proc"
# psutil's units: /proc/diskstats counts 512-byte sectors whatever the disk's
# own sector size; /proc/vmstat's pswpin/pswpout count 4 KiB pages.
SECTOR = 512
SWAP_PAGE = 4 * 1024


def read(path: str) -> bytes | None:
    """A whole (small) file, or None if it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


class Meminfo(NamedTuple):
    total: int  # bytes
    available: int
    swap_total: int
    swap_free: int


MEMINFO_KEYS = {
    b"MemTotal": "total",
    b"MemAvailable": "available",
    b"SwapTotal": "swap_total",
    b"SwapFree": "swap_free",
}


def meminfo(proc: str = PROC) -> Meminfo | None:
    """RAM and swap from one read of ``/proc/meminfo``, when it gives them the way
    psutil then uses them (an available figure above zero and not above the total:
    otherwise psutil estimates it, and the caller asks psutil)."""
    text = read(f"{proc}/meminfo")
    if text is None:
        return None
    values: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(b":")
        key = MEMINFO_KEYS.get(name)
        if key is None:
            continue
        try:
            values[key] = int(rest.split()[0]) * 1024  # kB
        except (IndexError, ValueError):
            return None
        if len(values) == len(MEMINFO_KEYS):
            break
    if len(values) != len(MEMINFO_KEYS):
        return None
    info = Meminfo(**values)
    if not 0 < info.available <= info.total:
        return None
    return info


def swap_counters(proc: str = PROC) -> tuple[int, int] | None:
    """Bytes swapped in and out since boot (psutil's ``sin``, ``sout``)."""
    text = read(f"{proc}/vmstat")
    if text is None:
        return None
    counters = []
    for name in (b"\npswpin ", b"\npswpout "):
        start = text.find(name)
        if start < 0:
            return None
        end = text.find(b"\n", start + 1)
        try:
            counters.append(int(text[start + len(name) : end if end > 0 else None]) * SWAP_PAGE)
        except ValueError:
            return None
    return counters[0], counters[1]


class DiskIO(NamedTuple):
    """A disk's counters, named as psutil's ``sdiskio``."""

    read_count: int
    write_count: int
    read_bytes: int
    write_bytes: int
    busy_time: int  # ms


def diskstats(proc: str = PROC) -> dict[str, DiskIO] | None:
    """Each block device's counters, as psutil's ``disk_io_counters(perdisk=True)``
    gives them (a partition line of Linux 2.6 to 4.x has no time fields: 0)."""
    text = read(f"{proc}/diskstats")
    if text is None:
        return None
    counters: dict[str, DiskIO] = {}
    for line in text.decode("utf-8", "replace").splitlines():
        fields = line.split()
        if len(fields) == 14 or len(fields) >= 18:
            reads, rbytes, writes, wbytes, busy = (fields[i] for i in (3, 5, 7, 9, 12))
        elif len(fields) == 7:  # reads, sectors read, writes, sectors written
            reads, rbytes, writes, wbytes, busy = *fields[3:7], "0"
        elif not fields:
            continue
        else:
            return None  # Linux 2.4's layout, or something new: psutil knows
        try:
            counters[fields[2]] = DiskIO(
                int(reads), int(writes), int(rbytes) * SECTOR, int(wbytes) * SECTOR, int(busy)
            )
        except ValueError:
            return None
    return counters
