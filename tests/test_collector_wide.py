"""The wide sample: load, CPU split, swap, every filesystem, disk I/O, each
interface, temperatures, uptime, processes and the top processes.

Against this machine's own readings (psutil's figures are the reference), and
the filtering rules on fixtures of what other machines list: /proc/mounts files,
/sys trees, interface and disk names."""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections import namedtuple
from pathlib import Path

import psutil
import pytest
from vigie_collector import devices
from vigie_collector.cli import cli
from vigie_collector.devices import (
    Mount,
    counted_interfaces,
    host_totals,
    interface_entries,
    physical_disks,
    real_filesystems,
    temperature_entries,
)
from vigie_collector.processes import Reading, scan, top_processes
from vigie_collector.sampler import GIB, MIB, Sampler, cpu_busy_percent, cpu_split

FIXTURES = Path(__file__).parent / "fixtures" / "collector"
NetIO = namedtuple("NetIO", "bytes_sent bytes_recv")
Temp = namedtuple("Temp", "label current high critical")


def percent(value) -> bool:
    return isinstance(value, int | float) and 0 <= value <= 100


# --- this machine, as psutil sees it ------------------------------------------


@pytest.fixture(scope="module")
def pair():
    """Two samples of this host, a quarter of a second apart."""
    sampler = Sampler()
    first = sampler.sample()
    time.sleep(0.25)
    return first, sampler.sample()


def test_host_scalars_are_there_and_in_range(pair):
    sample = pair[1]
    load_before = os.getloadavg()
    for name in ("load_1", "load_5", "load_15"):
        assert sample[name] >= 0, name
    assert sample["load_1"] == pytest.approx(load_before[0], abs=max(1.0, load_before[0] / 2))
    assert sample["cpu_count"] == psutil.cpu_count()
    swap = psutil.swap_memory()
    assert sample["swap_total_mb"] == pytest.approx(swap.total / MIB)
    assert 0 <= sample["swap_used_mb"] <= sample["swap_total_mb"]
    assert percent(sample["swap_percent"])
    assert 0 <= sample["swap_in_mb"] <= psutil.swap_memory().sin / MIB + 1e-6
    assert 0 <= sample["swap_out_mb"] <= psutil.swap_memory().sout / MIB + 1e-6
    assert sample["uptime_seconds"] == pytest.approx(time.time() - psutil.boot_time(), abs=5)
    assert isinstance(sample["cpu_count"], int)
    # Counted by the process scan, so it comes with the top processes.
    assert "process_count" not in sample
    count = pair[0]["process_count"]
    assert isinstance(count, int) and count == pytest.approx(len(psutil.pids()), abs=50)


def test_the_cpu_split_adds_up_to_the_busy_percent(pair):
    sample = pair[1]
    parts = ["cpu_user_percent", "cpu_system_percent", "cpu_iowait_percent", "cpu_steal_percent"]
    for name in parts:
        assert percent(sample[name]), name
    assert sum(sample[name] for name in parts) <= 100.05
    # Busy time is user + system + steal (iowait is idle time, as psutil counts it).
    busy = sample["cpu_user_percent"] + sample["cpu_system_percent"] + sample["cpu_steal_percent"]
    assert busy == pytest.approx(sample["cpu_percent"], abs=0.05)


def test_every_real_filesystem_is_there_with_dfs_figures(pair):
    sample = pair[1]
    listed = {p.mountpoint: p for p in psutil.disk_partitions(all=True)}
    filesystems = sample["filesystems"]
    mounts = [fs["mount"] for fs in filesystems]
    assert len(mounts) == len(set(mounts)) and len(filesystems) <= 64
    assert len({fs["device"] for fs in filesystems}) == len(filesystems)
    for fs in filesystems:
        assert fs["mount"] in listed
        assert fs["fstype"] == listed[fs["mount"]].fstype
        assert fs["fstype"] not in devices.PSEUDO_FSTYPES
        usage = psutil.disk_usage(fs["mount"])
        assert fs["total_gb"] == pytest.approx(usage.total / GIB, abs=1e-4)
        assert fs["used_gb"] == pytest.approx(usage.used / GIB, abs=0.05)
        assert fs["percent"] == pytest.approx(usage.percent, abs=0.5)
        assert percent(fs["percent"])
        assert fs["inodes_percent"] is None or percent(fs["inodes_percent"])
    root = listed.get("/")
    if root is not None and root.fstype not in devices.PSEUDO_FSTYPES:
        assert "/" in mounts
        # The seed's disk_* is the same filesystem (--disk-path is / by default).
        fs = filesystems[mounts.index("/")]
        assert fs["total_gb"] == sample["disk_total_gb"]


def test_physical_disks_carry_their_io_counters(pair):
    first, second = pair
    counters = psutil.disk_io_counters(perdisk=True) or {}
    names = [d["name"] for d in second.get("disks", [])]
    assert set(names) <= set(counters)
    for name in counters:
        if Path(f"/sys/block/{name}/device").exists():
            assert name in names, name  # every physical disk of this host
    for name in names:
        assert not name.startswith(("loop", "ram", "zram", "dm-"))
    before = {d["name"]: d for d in first.get("disks", [])}
    for disk in second.get("disks", []):
        for field in ("read_mb", "write_mb", "reads", "writes"):
            assert disk[field] >= before[disk["name"]][field] >= 0, field
        assert isinstance(disk["reads"], int) and isinstance(disk["writes"], int)
        if psutil.LINUX:
            assert isinstance(disk["busy_ms"], int) and disk["busy_ms"] >= 0
        assert disk["read_mb"] <= counters[disk["name"]].read_bytes / MIB + 1e-6


def test_every_interface_is_reported_and_the_total_is_the_counted_ones(pair):
    sample = pair[1]
    interfaces = {i["name"]: i for i in sample["interfaces"]}
    assert set(interfaces) == set(psutil.net_io_counters(pernic=True))
    if "lo" in interfaces:
        assert interfaces["lo"]["counted"] is False
    for name, entry in interfaces.items():
        if Path(f"/sys/class/net/{name}/device").exists():
            assert entry["counted"] is True, name
    counted = [i for i in interfaces.values() if i["counted"]]
    assert counted, "a host has at least one interface to the network"
    assert sample["network_sent_mb"] == pytest.approx(sum(i["sent_mb"] for i in counted), abs=1e-5)
    assert sample["network_recv_mb"] == pytest.approx(sum(i["recv_mb"] for i in counted), abs=1e-5)


def test_temperatures_are_there_when_this_machine_has_sensors(pair):
    sample = pair[1]
    readings = psutil.sensors_temperatures() if hasattr(psutil, "sensors_temperatures") else {}
    plausible = [
        s for sensors in readings.values() for s in sensors if -40 <= (s.current or -99) <= 150
    ]
    if not plausible:
        assert "temperatures" not in sample
        return
    names = [t["sensor"] for t in sample["temperatures"]]
    assert len(names) == len(set(names)) == len(plausible)
    for entry in sample["temperatures"]:
        assert -40 <= entry["celsius"] <= 150


def test_top_processes_on_the_first_sample_then_once_a_minute(pair):
    first, second = pair
    top = first["top_processes"]
    assert "top_processes" not in second  # 0.25 s later: not yet
    assert 1 <= len(top["cpu"]) <= 5 and 1 <= len(top["memory"]) <= 5
    rss = [p["rss_mb"] for p in top["memory"]]
    assert rss == sorted(rss, reverse=True)
    cpu = [p["cpu_percent"] for p in top["cpu"]]
    assert cpu == sorted(cpu, reverse=True)
    for process in top["cpu"] + top["memory"]:
        assert process["pid"] >= 0 and percent(process["cpu_percent"])
        assert process["rss_mb"] >= 0 and len(process["name"]) <= 128
        assert process["user"] is None or len(process["user"]) <= 64
    # The biggest process is the biggest psutil sees (RSS moves a little meanwhile).
    biggest = max(
        (p for p in psutil.process_iter(["memory_info"]) if p.info["memory_info"]),
        key=lambda p: p.info["memory_info"].rss,
    )
    assert biggest.info["memory_info"].rss / MIB == pytest.approx(rss[0], rel=0.2)


def test_a_busy_process_tops_the_cpu_list():
    me = psutil.Process()
    sampler = Sampler(top_every=0)
    cpu_before, wall_before = sum(me.cpu_times()[:2]), time.monotonic()
    sampler.sample()
    stop = time.monotonic() + 0.6

    def spin() -> None:
        while time.monotonic() < stop:
            pass

    worker = threading.Thread(target=spin)
    worker.start()
    worker.join()
    top = {p["pid"]: p for p in sampler.sample()["top_processes"]["cpu"]}
    # What psutil saw this process take over (about) the same window, in percent
    # of all CPUs: whatever share a shared machine gave it.
    taken = (sum(me.cpu_times()[:2]) - cpu_before) / (time.monotonic() - wall_before)
    expected = taken / psutil.cpu_count() * 100
    assert expected > 5  # it did spin
    assert os.getpid() in top, top  # among the five busiest
    assert top[os.getpid()]["cpu_percent"] == pytest.approx(expected, abs=5)
    assert top[os.getpid()]["user"] == me.username()


def test_the_proc_scan_reads_what_psutil_reads():
    """The Linux scan reads /proc/<pid>/stat itself: its figures are psutil's."""
    if not psutil.LINUX:
        pytest.skip("the /proc scan is Linux's")
    me = psutil.Process()
    readings = {r.pid: r for r in scan()}
    mine = readings[os.getpid()]
    assert mine.name == me.name()[:15]
    assert mine.rss == pytest.approx(me.memory_info().rss, rel=0.05)
    times = me.cpu_times()
    assert mine.cpu_seconds == pytest.approx(times.user + times.system, abs=0.05)
    assert len(readings) == pytest.approx(len(psutil.pids()), abs=20)


def test_the_sample_fits_the_apis_limits(pair):
    sample = {**pair[1], "top_processes": pair[0]["top_processes"]}
    for name in ("filesystems", "disks", "interfaces", "temperatures"):
        assert len(sample.get(name, [])) <= 64, name
    for fs in sample["filesystems"]:
        assert len(fs["mount"]) <= 255 and len(fs["device"]) <= 255 and len(fs["fstype"]) <= 32
    assert all(len(i["name"]) <= 64 for i in sample["interfaces"] + sample.get("disks", []))
    assert all(len(t["sensor"]) <= 128 for t in sample.get("temperatures", []))
    assert "\x00" not in json.dumps(sample)
    assert len(json.dumps(sample)) < 64 * 1024


def test_the_cli_prints_the_wide_sample(runner):
    result = runner.invoke(cli, ["sample"])
    assert result.exit_code == 0, result.output
    sample = json.loads(result.output)
    for name in ("load_1", "cpu_count", "cpu_user_percent", "swap_total_mb", "uptime_seconds"):
        assert name in sample, name
    assert sample["filesystems"] and sample["interfaces"] and sample["top_processes"]["cpu"]


# --- the CPU split's arithmetic -----------------------------------------------

FIELDS_LINUX = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest")


def times(**values: float) -> tuple[float, ...]:
    return tuple(values.get(name, 0.0) for name in FIELDS_LINUX)


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (times(), times(user=30, nice=10, idle=60), (40, 0, 0, 0)),
        (times(), times(system=10, irq=5, softirq=5, idle=80), (0, 20, 0, 0)),
        (times(), times(iowait=25, steal=25, idle=50), (0, 0, 25, 25)),
        # guest time is inside user time already: not counted twice.
        (times(), times(user=50, guest=50, idle=50), (50, 0, 0, 0)),
        (times(user=5), times(user=5), (0, 0, 0, 0)),
    ],
)
def test_cpu_split_arithmetic(before, after, expected):
    split = cpu_split(before, after, FIELDS_LINUX)
    assert tuple(split.values()) == pytest.approx(expected)
    busy = cpu_busy_percent(before, after, FIELDS_LINUX)
    assert busy == pytest.approx(expected[0] + expected[1] + expected[3])


# --- filesystems: fixtures of /proc/mounts --------------------------------------


def read_mounts(name: str) -> list[Mount]:
    """A /proc/mounts file as psutil's disk_partitions gives it (octal escapes decoded)."""
    mounts = []
    for line in (FIXTURES / name).read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        device, mountpoint, fstype, opts, *_ = line.split()
        decode = lambda text: text.encode().decode("unicode_escape")  # noqa: E731
        mounts.append(Mount(decode(device), decode(mountpoint), fstype, opts))
    return mounts


def test_a_docker_host_reports_its_real_filesystems_each_device_once():
    chosen = real_filesystems(read_mounts("mounts_docker_host.txt"))
    assert [(m.mountpoint, m.device, m.fstype) for m in chosen] == [
        ("/", "/dev/sda2", "ext4"),
        ("/boot/efi", "/dev/sda1", "vfat"),
        # btrfs subvolumes of one disk: one pool of space, at its shortest mount point
        ("/home", "/dev/sdc", "btrfs"),
        ("/media/usb disk", "/dev/sdd1", "fuseblk"),
        # bind-mounted into a container too: counted once
        ("/srv/data", "/dev/sdb1", "xfs"),
        ("/tank", "rpool/ROOT/ubuntu", "zfs"),
        ("/var/log", "/dev/mapper/vg0-logs", "ext4"),
    ]
    # Left out: proc, sysfs, tmpfs…, the snaps (squashfs on loop devices), a
    # read-only loop image, the overlay, NFS, CIFS, sshfs, lxcfs.


def test_inside_a_container_the_host_disk_is_reported_once():
    chosen = real_filesystems(read_mounts("mounts_container.txt"))
    assert [(m.mountpoint, m.device) for m in chosen] == [("/data", "/dev/nvme0n1p2")]


def test_mounts_too_long_for_the_api_are_left_out():
    mounts = [
        Mount("/dev/sda1", "/", "ext4"),
        Mount("/dev/sdb1", "/" + "x" * 300, "ext4"),
        Mount("/dev/sdc1", "/odd", "f" * 40),
    ] + [Mount(f"/dev/sd{i}", f"/m{i:03}", "ext4") for i in range(100)]
    chosen = real_filesystems(mounts)
    assert len(chosen) == 64
    assert all(len(m.mountpoint) <= 255 and len(m.fstype) <= 32 for m in chosen)


# --- disks ----------------------------------------------------------------------

DISK_NAMES = [
    "loop0",
    "loop1",
    "ram0",
    "zram0",
    "sda",
    "sda1",
    "sda2",
    "sdb",
    "nvme0n1",
    "nvme0n1p1",
    "nvme0n1p2",
    "mmcblk0",
    "mmcblk0p1",
    "dm-0",
    "dm-1",
    "md0",
    "sr0",
]
PHYSICAL = ["mmcblk0", "nvme0n1", "sda", "sdb"]


def test_physical_disks_by_sysfs(tmp_path):
    """Linux: a disk is physical when /sys/block/<name>/device exists (partitions
    are not in /sys/block at all)."""
    for name in ["loop0", "loop1", "ram0", "zram0", "dm-0", "dm-1", "md0", *PHYSICAL]:
        (tmp_path / name).mkdir()
    for name in PHYSICAL:
        (tmp_path / name / "device").mkdir()
    assert physical_disks(DISK_NAMES, tmp_path) == PHYSICAL


def test_physical_disks_by_name_without_sysfs():
    assert physical_disks(DISK_NAMES, None) == PHYSICAL
    # A partition whose disk is not listed stays (it is all there is of it).
    assert physical_disks(["xvda1"], None) == ["xvda1"]
    assert physical_disks(["disk0", "disk0s1", "disk0s2", "disk1"], None) == ["disk0", "disk1"]


# --- interfaces -----------------------------------------------------------------


def sys_class_net(root: Path, physical: list[str], virtual: dict[str, str | None]) -> Path:
    """A /sys/class/net tree: physical interfaces have a device link; bridges a
    bridge/ folder, bonds a bonding/ folder; veth, tunnels and loopback nothing."""
    for name in physical:
        (root / name / "device").mkdir(parents=True)
    for name, marker in virtual.items():
        (root / name).mkdir(parents=True)
        if marker:
            (root / name / marker).mkdir()
    return root


def test_a_bridge_and_a_veth_over_one_physical_interface_count_once(tmp_path):
    # A container's traffic crosses its veth, the docker0 bridge, then eth0.
    counters = {
        "lo": NetIO(500 * MIB, 500 * MIB),
        "eth0": NetIO(100 * MIB, 300 * MIB),
        "docker0": NetIO(100 * MIB, 300 * MIB),
        "veth1a2b3c": NetIO(100 * MIB, 300 * MIB),
    }
    root = sys_class_net(tmp_path, ["eth0"], {"lo": None, "docker0": "bridge", "veth1a2b3c": None})
    for sys_net in (root, None):  # the same answer from /sys and by name
        counted = counted_interfaces(counters, sys_net)
        assert counted == {"lo": False, "eth0": True, "docker0": False, "veth1a2b3c": False}
        assert host_totals(counters, counted) == (100 * MIB, 300 * MIB)
        entries = interface_entries(counters, counted)
        assert [e["name"] for e in entries] == ["docker0", "eth0", "lo", "veth1a2b3c"]
        assert [e["sent_mb"] for e in entries] == [100, 100, 500, 100]


def test_bonds_vlans_and_tunnels_are_reported_not_counted(tmp_path):
    names = ["lo", "eth0", "eth1", "bond0", "bond0.100", "wg0", "tun0", "br0", "virbr0"]
    root = sys_class_net(
        tmp_path,
        ["eth0", "eth1"],
        {
            "lo": None,
            "bond0": "bonding",
            "bond0.100": None,
            "wg0": None,
            "tun0": None,
            "br0": "bridge",
            "virbr0": "bridge",
        },
    )
    for sys_net in (root, None):
        counted = counted_interfaces(names, sys_net)
        assert sorted(n for n, c in counted.items() if c) == ["eth0", "eth1"]


def test_a_container_counts_its_veth_when_it_has_nothing_else(tmp_path):
    root = sys_class_net(tmp_path, [], {"lo": None, "eth0": None})
    for sys_net in (root, None):
        assert counted_interfaces(["lo", "eth0"], sys_net) == {"lo": False, "eth0": True}


def test_macos_and_windows_names(tmp_path):
    names = ["lo0", "en0", "en1", "utun0", "awdl0", "bridge0", "Ethernet", "Loopback Pseudo"]
    counted = counted_interfaces(names, None)
    assert sorted(n for n, c in counted.items() if c) == ["Ethernet", "en0", "en1"]


# --- temperatures -----------------------------------------------------------------


def test_implausible_temperatures_are_dropped_and_names_are_unique():
    readings = {
        "coretemp": [
            Temp("Package id 0", 52.0, 80, 100),
            Temp("Core 0", 49.5, 80, 100),
            Temp("Core 1", 255.0, 80, 100),  # a stuck register
        ],
        "nvme": [Temp("Composite", 38.85, 80, 85), Temp("Composite", 41.0, 80, 85)],
        "acpitz": [Temp("", -273.0, None, None), Temp("", 27.8, None, None)],
        "broken": [Temp("x", math.nan, None, None), Temp("y", None, None, None)],
    }
    assert temperature_entries(readings) == [
        {"sensor": "acpitz/2", "celsius": 27.8},
        {"sensor": "coretemp/Package id 0", "celsius": 52.0},
        {"sensor": "coretemp/Core 0", "celsius": 49.5},
        {"sensor": "nvme/Composite", "celsius": 38.9},
        {"sensor": "nvme/Composite #2", "celsius": 41.0},
    ]
    assert temperature_entries({}) == []


# --- the top processes' arithmetic ----------------------------------------------


def test_top_processes_cpu_is_the_time_between_two_scans_of_all_cpus():
    previous = {(1, 10.0): 100.0, (2, 20.0): 5.0, (3, 30.0): 50.0}
    readings = [
        Reading(1, 10.0, "idle-daemon", 100.0, 10 * MIB),
        Reading(2, 20.0, "busy", 13.0, 30 * MIB),  # 8 s of CPU over 10 s, 2 CPUs: 40 %
        Reading(3, 99.0, "new-same-pid", 2.0, 200 * MIB),  # pid 3 reused: all its time
        Reading(4, 40.0, "new", 1.0, 1 * MIB),
    ]
    top = top_processes(previous, readings, 10.0, 2, user_of=lambda pid: "root", top=2)
    assert [(p["pid"], p["cpu_percent"]) for p in top["cpu"]] == [(2, 40.0), (3, 10.0)]
    assert [(p["pid"], p["rss_mb"]) for p in top["memory"]] == [(3, 200.0), (2, 30.0)]
    assert top["memory"][0] == {
        "pid": 3,
        "name": "new-same-pid",
        "user": "root",
        "cpu_percent": 10.0,
        "rss_mb": 200.0,
    }


# --- an API older than the collector ----------------------------------------------


class NewerSampler(Sampler):
    """A sample with a field no Vigie API knows yet, as a collector newer than its
    API sends."""

    def sample(self) -> dict:
        return {**super().sample(), "zz_future_percent": 1.0}


@pytest.mark.slow
def test_fields_an_older_api_does_not_know_are_left_out_and_the_sample_stored(
    api_process, db, state, runner, caplog
):
    from vigie_collector.agent import Agent, Settings

    from .collector_helpers import stored
    from .conftest import ENROLL

    settings = Settings(api_url=api_process.url, state_dir=state, enroll_token=ENROLL)
    agent = Agent(settings, sampler=NewerSampler())
    try:
        taken = [agent.take_sample() for _ in range(3)]
        result = agent.drain()
        assert result.done and result.sent == 3
        assert "zz_future_percent" in agent.unknown_fields
        assert "does not take" in caplog.text and "zz_future_percent" in caplog.text
        rows = stored(db, agent.credentials.server_id)
        assert [r["cpu_percent"] for r in rows] == [s["cpu_percent"] for s in taken]
        # Later samples go without it straight away.
        agent.take_sample()
        assert agent.drain().sent == 1
    finally:
        agent.close()


@pytest.mark.slow
def test_a_bad_sample_among_unknown_fields_drops_only_itself(api_process, db, state, runner):
    """The API names the unknown fields of every sample and the bad value of one:
    only that one is dropped, once the fields are left out."""
    from vigie_collector.agent import Agent, Settings

    from .collector_helpers import stored
    from .conftest import ENROLL

    settings = Settings(api_url=api_process.url, state_dir=state, enroll_token=ENROLL)
    agent = Agent(settings, sampler=NewerSampler())
    try:
        taken = [agent.take_sample() for _ in range(3)]
        agent.backlog.add({**taken[0], "recorded_at": "2020-01-01T00:00:00Z", "cpu_percent": 150.0})
        result = agent.drain()
        assert result.done and result.sent == 3
        rows = stored(db, agent.credentials.server_id)
        assert [r["cpu_percent"] for r in rows] == [s["cpu_percent"] for s in taken]
        assert agent.backlog.count() == 0
    finally:
        agent.close()
