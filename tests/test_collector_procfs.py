"""What the collector reads straight from /proc gives psutil's figures, and the
mount table is read again when it changes.

Against this machine's own files (psutil is the reference), on fixtures of the
layouts other kernels write, and, for mounts, in a private mount namespace of
its own (``unshare``: root, Linux)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import psutil
import pytest
from vigie_collector import procfs
from vigie_collector.sampler import MountWatch

linux = pytest.mark.skipif(not psutil.LINUX, reason="/proc is Linux's")


def write(folder, name: str, text: str) -> str:
    (folder / name).write_text(textwrap.dedent(text).lstrip())
    return str(folder)


# --- this machine ---------------------------------------------------------------


@linux
def test_meminfo_gives_psutils_memory_and_swap():
    info = procfs.meminfo()
    vm, swap = psutil.virtual_memory(), psutil.swap_memory()
    assert info is not None
    assert info.total == vm.total
    assert info.available == pytest.approx(vm.available, rel=0.05)
    assert info.swap_total == swap.total
    assert info.swap_total - info.swap_free == pytest.approx(swap.used, abs=64 * 2**20)


@linux
def test_swap_counters_are_psutils():
    counters = procfs.swap_counters()
    swap = psutil.swap_memory()
    assert counters is not None
    assert counters[0] <= swap.sin <= procfs.swap_counters()[0]
    assert counters[1] <= swap.sout <= procfs.swap_counters()[1]


@linux
def test_diskstats_are_psutils_per_disk_counters():
    ours = procfs.diskstats()
    theirs = psutil.disk_io_counters(perdisk=True, nowrap=False)
    again = procfs.diskstats()
    assert ours is not None and set(ours) == set(theirs)
    for name, counters in theirs.items():
        for field in ("read_count", "write_count", "read_bytes", "write_bytes", "busy_time"):
            assert (
                getattr(ours[name], field)
                <= getattr(counters, field)
                <= getattr(again[name], field)
            ), (name, field)


# --- other kernels' layouts -------------------------------------------------------


def test_meminfo_in_bytes_from_kib(tmp_path):
    proc = write(
        tmp_path,
        "meminfo",
        """
        MemTotal:        2048 kB
        MemFree:          512 kB
        MemAvailable:    1024 kB
        SwapTotal:        100 kB
        SwapFree:          40 kB
        """,
    )
    assert procfs.meminfo(proc) == procfs.Meminfo(2048 * 1024, 1024 * 1024, 102400, 40960)


@pytest.mark.parametrize(
    "available",
    [
        "",  # before Linux 3.14: psutil estimates it
        "MemAvailable: 0 kB\n",  # a kernel bug psutil works around
        "MemAvailable: 4096 kB\n",  # more than the total (an LXC container)
    ],
)
def test_meminfo_leaves_psutil_what_it_estimates(tmp_path, available):
    text = f"MemTotal: 2048 kB\n{available}SwapTotal: 0 kB\nSwapFree: 0 kB\n"
    (tmp_path / "meminfo").write_text(text)
    assert procfs.meminfo(str(tmp_path)) is None


def test_no_proc_means_psutil(tmp_path):
    assert procfs.meminfo(str(tmp_path)) is None
    assert procfs.swap_counters(str(tmp_path)) is None
    assert procfs.diskstats(str(tmp_path)) is None


def test_swap_counters_in_bytes_from_pages(tmp_path):
    proc = write(tmp_path, "vmstat", "nr_free_pages 12\npswpin 3\npswpout 5\npgfault 9")
    assert procfs.swap_counters(proc) == (3 * 4096, 5 * 4096)
    (tmp_path / "vmstat").write_text("nr_free_pages 12\npswpin 3")
    assert procfs.swap_counters(str(tmp_path)) is None


def test_diskstats_of_every_layout(tmp_path):
    proc = write(
        tmp_path,
        "diskstats",
        """
           8       0 sda 10 1 80 5 20 2 160 7 0 9 12
           8       1 sda1 4 32 6 48
         259       0 nvme0n1 30 0 240 1 40 0 320 2 0 11 3 0 0 0 0
         253       0 dm-0 50 0 400 1 60 0 480 2 0 13 3 0 0 0 0 7 1
        """,
    )
    assert procfs.diskstats(proc) == {
        "sda": procfs.DiskIO(10, 20, 80 * 512, 160 * 512, 9),
        "sda1": procfs.DiskIO(4, 6, 32 * 512, 48 * 512, 0),
        "nvme0n1": procfs.DiskIO(30, 40, 240 * 512, 320 * 512, 11),
        "dm-0": procfs.DiskIO(50, 60, 400 * 512, 480 * 512, 13),
    }


def test_diskstats_in_an_unknown_layout_are_left_to_psutil(tmp_path):
    # Linux 2.4 put the name fourth, in 15 fields.
    proc = write(tmp_path, "diskstats", "3 0 8 hda 8 8 8 8 8 8 8 8 8 8 8\n")
    assert procfs.diskstats(proc) is None


# --- mounts -----------------------------------------------------------------------


def test_without_change_notices_the_mount_table_is_read_on_a_timer(tmp_path):
    watch = MountWatch(str(tmp_path / "no-such-file"), every=3600)
    assert not watch.polled
    assert watch.due()  # never read yet
    watch.read()
    assert not watch.due()
    assert MountWatch(str(tmp_path / "no-such-file"), every=0).due()


@linux
def test_the_mount_table_is_not_read_again_while_nothing_is_mounted():
    watch = MountWatch()
    assert watch.polled
    watch.read()
    assert not watch.due()
    assert not watch.due()


# Run in a mount namespace of its own, so the machine's mounts are untouched: a
# filesystem mounted after a sample is in the next one, and gone after unmounting.
IN_A_NAMESPACE = r"""
import json, subprocess, sys
from vigie_collector.sampler import Sampler

image, point = sys.argv[1], sys.argv[2]
sampler = Sampler(top_every=None)
mounts = lambda: [fs["mount"] for fs in sampler.sample()["filesystems"]]
before = mounts()
subprocess.run(["mount", "-o", "loop", image, point], check=True)
during = mounts()
subprocess.run(["umount", point], check=True)
print(json.dumps([before, during, mounts()]))
"""


def test_a_filesystem_mounted_or_unmounted_shows_at_the_next_sample(tmp_path):
    if not (psutil.LINUX and shutil.which("unshare") and shutil.which("mkfs.ext4")):
        pytest.skip("needs Linux, unshare and mkfs.ext4")
    image, point = tmp_path / "disk.img", tmp_path / "mnt"
    point.mkdir()
    subprocess.run(["truncate", "-s", "8M", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, capture_output=True)
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"], capture_output=True
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot make a mount namespace here: {probe.stderr.decode().strip()}")
    done = subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            sys.executable,
            "-c",
            IN_A_NAMESPACE,
            str(image),
            str(point),
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0 and "mount" in done.stderr and "loop" in done.stderr:
        pytest.skip(f"no loop device here: {done.stderr.strip()[-200:]}")
    assert done.returncode == 0, done.stderr
    before, during, after = json.loads(done.stdout)
    assert str(point) not in before
    assert str(point) in during
    assert after == before
