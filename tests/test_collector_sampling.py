"""A sample of this host: every field, in range, in the documented units."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest
from vigie_collector.sampler import (
    CGROUP_ROOT,
    GIB,
    MIB,
    Sampler,
    cgroup_memory,
    cpu_busy_percent,
    network_bytes,
)

from .collector_helpers import FIELDS, parse_time

PERCENTS = ["cpu_percent", "ram_percent", "disk_percent"]


def test_every_field_is_there_in_range_and_in_binary_units():
    sampler = Sampler()
    sent_before, recv_before = network_bytes()
    before = datetime.now(UTC)
    sample = sampler.sample()
    after = datetime.now(UTC)
    sent_after, recv_after = network_bytes()

    # The seed's fields, always; the wider ones are checked in test_collector_wide.py.
    assert {*FIELDS, "recorded_at"} <= set(sample)
    for name in FIELDS:
        assert isinstance(sample[name], float), name
        assert sample[name] >= 0, name
    for name in PERCENTS:
        assert 0 <= sample[name] <= 100, name
    # recorded_at is the moment of sampling, in UTC.
    assert sample["recorded_at"].endswith("Z")
    assert before <= parse_time(sample["recorded_at"]) <= after

    # MiB and GiB, from the same figures psutil gives.
    if cgroup_memory(CGROUP_ROOT, psutil.virtual_memory().total) is None:
        assert sample["ram_total_mb"] == pytest.approx(psutil.virtual_memory().total / MIB)
    assert sample["ram_used_mb"] <= sample["ram_total_mb"]
    assert sample["ram_percent"] == pytest.approx(
        sample["ram_used_mb"] / sample["ram_total_mb"] * 100, abs=0.01
    )
    disk = psutil.disk_usage("/")
    assert sample["disk_total_gb"] == pytest.approx(disk.total / GIB, abs=1e-4)
    assert sample["disk_used_gb"] <= sample["disk_total_gb"]
    # Cumulative counters: between readings taken just before and just after.
    assert sent_before / MIB - 1e-6 <= sample["network_sent_mb"] <= sent_after / MIB + 1e-6
    assert recv_before / MIB - 1e-6 <= sample["network_recv_mb"] <= recv_after / MIB + 1e-6


def test_network_counters_leave_out_loopback():
    """Summed over the physical interfaces (test_collector_wide.py has the rule's
    cases); loopback is never among them."""
    counters = psutil.net_io_counters(pernic=True)
    physical = [name for name in counters if Path(f"/sys/class/net/{name}/device").exists()] or [
        name for name in counters if name != "lo"
    ]
    expected = sum(counters[name].bytes_sent for name in physical)
    sent, _ = network_bytes()
    assert sent >= expected
    if "lo" in counters and counters["lo"].bytes_sent > 0:
        everything = sum(c.bytes_sent for c in psutil.net_io_counters(pernic=True).values())
        assert sent < everything


def test_network_counters_only_grow_between_samples():
    sampler = Sampler()
    first = sampler.sample()
    second = sampler.sample()
    assert second["network_sent_mb"] >= first["network_sent_mb"]
    assert second["network_recv_mb"] >= first["network_recv_mb"]
    assert parse_time(second["recorded_at"]) > parse_time(first["recorded_at"])


def test_disk_path_is_configurable(tmp_path):
    sample = Sampler(disk_path=str(tmp_path)).sample()
    disk = psutil.disk_usage(str(tmp_path))
    assert sample["disk_total_gb"] == pytest.approx(disk.total / GIB, abs=1e-4)
    assert sample["disk_percent"] == pytest.approx(disk.percent, abs=0.5)


def test_cpu_percent_covers_the_time_since_the_previous_sample():
    """Busy work between two samples shows; nothing blocks inside sample()."""
    sampler = Sampler()
    stop = time.monotonic() + 0.5

    def spin() -> None:
        while time.monotonic() < stop:
            pass

    worker = threading.Thread(target=spin)
    worker.start()
    worker.join()
    # One core of this machine's few was busy for the whole window.
    assert sampler.sample()["cpu_percent"] > 100 / psutil.cpu_count() / 4


FIELDS_LINUX = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest")


def times(**values: float) -> tuple[float, ...]:
    return tuple(values.get(name, 0.0) for name in FIELDS_LINUX)


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (times(user=10, idle=90), times(user=30, idle=110), 50.0),
        (times(user=10, idle=90), times(user=10, idle=190), 0.0),
        (times(system=5, idle=5), times(system=105, idle=5), 100.0),
        # iowait is idle time, as psutil counts it.
        (times(idle=0), times(user=25, iowait=25, idle=50), 25.0),
        # guest time is already inside user time on Linux: not counted twice.
        (times(user=10, guest=10, idle=0), times(user=60, guest=60, idle=50), 50.0),
        # No time passed (or the counters went back): 0, never a division by zero.
        (times(user=10, idle=10), times(user=10, idle=10), 0.0),
        (times(user=10, idle=10), times(user=5, idle=5), 0.0),
    ],
)
def test_cpu_percent_arithmetic(before, after, expected):
    assert cpu_busy_percent(before, after, FIELDS_LINUX) == expected


def write(path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_inside_a_cgroup_v2_container_memory_is_the_containers(tmp_path):
    write(tmp_path / "memory.max", f"{512 * MIB}\n")
    write(tmp_path / "memory.current", f"{300 * MIB}\n")
    write(tmp_path / "memory.stat", f"anon {150 * MIB}\ninactive_file {100 * MIB}\nactive_file 0\n")
    sample = Sampler(cgroup_root=tmp_path).sample()
    assert sample["ram_total_mb"] == 512
    assert sample["ram_used_mb"] == 200  # the inactive page cache can be reclaimed
    assert sample["ram_percent"] == pytest.approx(200 / 512 * 100, abs=0.01)


def test_inside_a_cgroup_v1_container_memory_is_the_containers(tmp_path):
    write(tmp_path / "memory" / "memory.limit_in_bytes", f"{1024 * MIB}\n")
    write(tmp_path / "memory" / "memory.usage_in_bytes", f"{600 * MIB}\n")
    write(tmp_path / "memory" / "memory.stat", f"cache 1\ntotal_inactive_file {100 * MIB}\n")
    sample = Sampler(cgroup_root=tmp_path).sample()
    assert sample["ram_total_mb"] == 1024
    assert sample["ram_used_mb"] == 500


@pytest.mark.parametrize(
    "files",
    [
        {"memory.max": "max\n", "memory.current": "1000\n"},  # v2, no limit
        {"memory/memory.limit_in_bytes": "9223372036854771712\n"},  # v1, no limit
        {"memory.max": f"{2**50}\n", "memory.current": "1000\n"},  # limit above the host's RAM
        {},  # no cgroup files at all (another OS, a masked /sys)
    ],
)
def test_without_a_memory_limit_memory_is_the_hosts(tmp_path, files):
    for name, text in files.items():
        write(tmp_path / name, text)
    assert cgroup_memory(tmp_path, psutil.virtual_memory().total) is None
    sample = Sampler(cgroup_root=tmp_path).sample()
    assert sample["ram_total_mb"] == pytest.approx(psutil.virtual_memory().total / MIB)


def test_cpu_times_carry_over_between_one_shot_runs(tmp_path):
    """`once` from cron measures CPU since the previous run, not over a blocking wait."""
    first = Sampler()
    first.sample()
    first.save_cpu(tmp_path / "cpu.json")
    second = Sampler()
    assert second.load_cpu(tmp_path / "cpu.json")
    # A file from another boot, or unreadable, is ignored.
    (tmp_path / "bad.json").write_text('{"boot_time": 1, "fields": [], "times": []}')
    assert not Sampler().load_cpu(tmp_path / "bad.json")
    assert not Sampler().load_cpu(tmp_path / "missing.json")
