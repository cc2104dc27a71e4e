"""Which filesystems, disks, network interfaces and sensors a sample reports, and
how: the rules are plain functions of what psutil (or ``/proc``, ``/sys``) lists,
so they can be checked on a fixture of any machine.

* **Filesystems**: every mounted filesystem that stores data on this host. Left
  out: pseudo and memory filesystems (``proc``, ``sysfs``, ``cgroup``, ``tmpfs``,
  ``devtmpfs``…), read-only images (``squashfs`` snaps, ``iso9660``, ``overlay``
  layers, any read-only loop device), network filesystems (``nfs``, ``cifs``,
  ``fuse.sshfs``…: a ``statvfs`` on an unreachable server hangs the agent) and
  FUSE filesystems other than ``fuseblk`` (NTFS, exFAT). A device mounted several
  times (bind mounts, btrfs subvolumes) is reported once, at its shortest mount
  point: it is one pool of space.
* **Disks**: physical disks only, so the host's I/O is counted once. On Linux a
  disk is physical when ``/sys/block/<name>/device`` exists; that leaves out loop,
  ram and zram devices, device-mapper (``dm-*``: LVM, LUKS) and software RAID
  (``md*``), whose I/O is already counted on the disks beneath them, and
  partitions (not in ``/sys/block``). Elsewhere, by name: the same families left
  out, and a partition when its whole disk is listed.
* **Interfaces**: all reported; ``counted`` (added into the host's
  ``network_*`` totals) only for physical ones. On Linux an interface is physical
  when ``/sys/class/net/<name>/device`` exists. Loopback, bridges, veth pairs,
  docker/virtual/ifb ones, tunnels and VPNs (``tun``, ``wg``), bonds and VLANs have
  none: their traffic also crosses a physical interface (a bond's on its slaves, a
  VLAN's on its parent, a tunnel's encapsulated on the uplink), so counting them
  would count it twice. A host with no physical interface at all (a container,
  whose ``eth0`` is one end of a veth pair) counts every interface but loopback.
  Without ``/sys`` (macOS, Windows), by name.
* **Temperatures**: every sensor psutil reads, named ``chip/label``; a reading
  outside -40..150 °C (or not a number) is a broken or absent sensor, dropped.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

MIB = 1024**2
GIB = 1024**3
MAX_ITEMS = 64  # per list, as the API takes them
SYS_BLOCK = Path("/sys/block")
SYS_CLASS_NET = Path("/sys/class/net")

# --- filesystems ------------------------------------------------------------

PSEUDO_FSTYPES = frozenset(
    {
        "autofs",
        "binfmt_misc",
        "bpf",
        "cgroup",
        "cgroup2",
        "configfs",
        "debugfs",
        "devfs",
        "devpts",
        "devtmpfs",
        "efivarfs",
        "fusectl",
        "hugetlbfs",
        "mqueue",
        "nsfs",
        "proc",
        "pstore",
        "ramfs",
        "rpc_pipefs",
        "securityfs",
        "selinuxfs",
        "sysfs",
        "tmpfs",
        "tracefs",
        "zram",
        # read-only images and layers
        "squashfs",
        "iso9660",
        "udf",
        "overlay",
        "aufs",
        "erofs",
        # network filesystems
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "9p",
        "afs",
        "ceph",
        "glusterfs",
        "lustre",
    }
)
MAX_MOUNT = 255
MAX_DEVICE = 255
MAX_FSTYPE = 32


@dataclass(frozen=True)
class Mount:
    """One line of ``/proc/mounts`` (psutil's ``disk_partitions`` entry)."""

    device: str
    mountpoint: str
    fstype: str
    opts: str = "rw"


def real_filesystems(mounts: Iterable[Mount]) -> list[Mount]:
    """The mounts worth reporting, each device once (at its shortest mount point),
    in mount-point order."""
    chosen: dict[str, Mount] = {}
    for mount in mounts:
        fstype = mount.fstype
        if fstype in PSEUDO_FSTYPES or (fstype.startswith("fuse") and fstype != "fuseblk"):
            continue
        if not mount.device or mount.device == "none" or not mount.mountpoint.startswith("/"):
            continue
        options = set(mount.opts.split(","))
        if "ro" in options and os.path.basename(mount.device).startswith("loop"):
            continue  # a read-only image (a snap, an appliance's disk image)
        if (
            len(mount.mountpoint) > MAX_MOUNT
            or len(mount.device) > MAX_DEVICE
            or len(fstype) > MAX_FSTYPE
        ):
            continue
        seen = chosen.get(mount.device)
        if seen is None or (len(mount.mountpoint), mount.mountpoint) < (
            len(seen.mountpoint),
            seen.mountpoint,
        ):
            chosen[mount.device] = mount
    return sorted(chosen.values(), key=lambda m: m.mountpoint)[:MAX_ITEMS]


def filesystem_usage(mount: Mount) -> dict | None:
    """Space and inodes of one mounted filesystem, as ``df`` and ``df -i`` show
    them (blocks reserved for root are not free); None if it cannot be read."""
    try:
        st = os.statvfs(mount.mountpoint)
    except OSError:
        return None
    total = st.f_blocks * st.f_frsize
    if total <= 0:
        return None
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    available = st.f_bavail * st.f_frsize
    percent = used / (used + available) * 100 if used + available > 0 else 0.0
    inodes = None
    if st.f_files > 0:  # btrfs and some others have no fixed inode table
        inodes = round(min(100.0, (st.f_files - st.f_ffree) / st.f_files * 100), 2)
    return {
        "mount": mount.mountpoint,
        "device": mount.device,
        "fstype": mount.fstype,
        "used_gb": round(used / GIB, 4),
        "total_gb": round(total / GIB, 4),
        "percent": round(min(100.0, max(0.0, percent)), 2),
        "inodes_percent": inodes,
    }


# --- disks ------------------------------------------------------------------

# Families of block devices that are not a physical disk of their own.
VIRTUAL_DISK = re.compile(r"^(loop|ram|zram|dm-|md|nbd|sr|fd)\d*")
# A partition's name is its disk's name plus a number ("sda1", "vdb2"), or plus
# "p" and a number when the disk's name ends in a digit ("nvme0n1p1",
# "mmcblk0p2"), or "s" and a number on BSD and macOS ("disk0s1").
PARTITION = re.compile(r"^(?P<disk>.*?\d)(p|s)\d+$|^(?P<plain>.*[a-z])\d+$")


def physical_disks(names: Iterable[str], sys_block: Path | None = SYS_BLOCK) -> list[str]:
    """The disks whose I/O is the host's: physical disks, no partitions, no
    devices mapped onto other disks (see the module's doc)."""
    names = list(names)
    if sys_block is not None and sys_block.is_dir():
        chosen = [n for n in names if (sys_block / n / "device").exists()]
    else:
        listed = set(names)
        chosen = []
        for name in names:
            if VIRTUAL_DISK.match(name):
                continue
            match = PARTITION.match(name)
            if match and (match.group("disk") or match.group("plain")) in listed:
                continue
            chosen.append(name)
    return sorted(n for n in chosen if len(n) <= 64)[:MAX_ITEMS]


def disk_entry(name: str, counters) -> dict:
    """One disk's cumulative counters (psutil's ``sdiskio``)."""
    busy = getattr(counters, "busy_time", None)
    return {
        "name": name,
        "read_mb": round(counters.read_bytes / MIB, 6),
        "write_mb": round(counters.write_bytes / MIB, 6),
        "reads": int(counters.read_count),
        "writes": int(counters.write_count),
        "busy_ms": int(busy) if busy is not None else None,
    }


# --- network interfaces -----------------------------------------------------

# Without /sys: interfaces that are loopback, virtual or layered on another one.
VIRTUAL_INTERFACE = re.compile(
    r"^(lo\d*$|lo:|veth|docker|br-|br\d|bridge|virbr|vnet|vmnet|vboxnet|tun|tap|utun|wg|"
    r"ifb|dummy|bond|team|gif|stf|awdl|llw|anpi|ap\d|cni|flannel|cali|kube|vxlan|"
    r"tailscale|zt|ppp|isatap|Teredo|vEthernet|Loopback|.*\.\d+$)"
)
LOOPBACK = re.compile(r"^(lo\d*|lo:.*|Loopback.*)$")


def counted_interfaces(
    names: Iterable[str], sys_class_net: Path | None = SYS_CLASS_NET
) -> dict[str, bool]:
    """Each interface's name, and whether its traffic goes into the host's total
    (see the module's doc)."""
    names = list(names)
    if sys_class_net is not None and sys_class_net.is_dir():
        physical = {n: (sys_class_net / n / "device").exists() for n in names}
    else:
        physical = {n: not VIRTUAL_INTERFACE.match(n) for n in names}
    if not any(physical.values()):
        # A container (its eth0 is a veth) or a VM without a device link: what it
        # has is its network.
        physical = {n: not LOOPBACK.match(n) for n in names}
    return physical


def interface_entries(counters: Mapping[str, object], counted: Mapping[str, bool]) -> list[dict]:
    """Each interface's cumulative MiB (psutil's ``snetio``), with ``counted``."""
    entries = [
        {
            "name": name,
            "sent_mb": round(c.bytes_sent / MIB, 6),
            "recv_mb": round(c.bytes_recv / MIB, 6),
            "counted": bool(counted.get(name, False)),
        }
        for name, c in sorted(counters.items())
        if len(name) <= 64
    ]
    # Over the API's limit, keep the counted ones first: they make the totals.
    entries.sort(key=lambda e: not e["counted"])
    return sorted(entries[:MAX_ITEMS], key=lambda e: e["name"])


def host_totals(counters: Mapping[str, object], counted: Mapping[str, bool]) -> tuple[int, int]:
    """(sent, received) bytes summed over the counted interfaces."""
    sent = received = 0
    for name, c in counters.items():
        if counted.get(name):
            sent += c.bytes_sent
            received += c.bytes_recv
    return sent, received


# --- temperatures -----------------------------------------------------------

COLDEST, HOTTEST = -40.0, 150.0
MAX_SENSOR = 128


def temperature_entries(readings: Mapping[str, Iterable[object]]) -> list[dict]:
    """psutil's ``sensors_temperatures()`` as ``chip/label`` readings; implausible
    ones dropped, names made unique (two NVMe drives both say "nvme/Composite")."""
    entries: list[dict] = []
    seen: set[str] = set()
    for chip, sensors in sorted(readings.items()):
        for index, sensor in enumerate(sensors):
            value = getattr(sensor, "current", None)
            if not isinstance(value, int | float) or not math.isfinite(value):
                continue
            if not COLDEST <= value <= HOTTEST:
                continue
            label = getattr(sensor, "label", "") or str(index + 1)
            base = f"{chip}/{label}"[:MAX_SENSOR]
            name, n = base, 1
            while name in seen:
                n += 1
                suffix = f" #{n}"
                name = base[: MAX_SENSOR - len(suffix)] + suffix
            seen.add(name)
            entries.append({"sensor": name, "celsius": round(float(value), 1)})
    return entries[:MAX_ITEMS]
