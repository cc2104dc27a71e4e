"""The server page's wide sample in a real headless Chromium, against the real
stack (PostgreSQL, the API under gunicorn, the relay serving the dashboard): a
bar per filesystem, the top processes (their names whole), load against the CPU
count, and nothing of it for a server whose collector sends only the seed's
fields. And the dashboard's unit tests read a real current sample: this checks
it is still what the API answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import requests
from playwright.sync_api import Page, expect

from .helpers import ROOT, iso
from .test_dashboard_e2e import (  # noqa: F401 (fixtures)
    Stack,
    pytestmark,
    screenshot,
    stack,
    wait_live,
)

FILESYSTEMS = [
    {
        "mount": "/",
        "device": "/dev/sda2",
        "fstype": "ext4",
        "used_gb": 40.0,
        "total_gb": 100.0,
        "percent": 40.0,
        "inodes_percent": 3.5,
    },
    {
        "mount": "/srv/data",
        "device": "/dev/sdb1",
        "fstype": "xfs",
        "used_gb": 1900.0,
        "total_gb": 2000.0,
        "percent": 95.0,
        "inodes_percent": 1.0,
    },
    {
        "mount": "/boot/efi",
        "device": "/dev/sda1",
        "fstype": "vfat",
        "used_gb": 0.1,
        "total_gb": 0.5,
        "percent": 20.0,
        "inodes_percent": None,
    },
]
TOP = {
    "cpu": [
        {"pid": 812, "name": "postgres", "user": "postgres", "cpu_percent": 61.5, "rss_mb": 310.0},
        {"pid": 4242, "name": "backup.sh", "user": "root", "cpu_percent": 12.0, "rss_mb": 8.0},
    ],
    "memory": [
        {"pid": 700, "name": "java", "user": "app", "cpu_percent": 1.0, "rss_mb": 4096.0},
        {"pid": 812, "name": "postgres", "user": "postgres", "cpu_percent": 61.5, "rss_mb": 310.0},
    ],
}


def wide(**extra) -> dict:
    return {
        "load_1": 3.2,
        "load_5": 2.0,
        "load_15": 1.1,
        "cpu_count": 4,
        "cpu_user_percent": 30.0,
        "cpu_system_percent": 10.0,
        "cpu_iowait_percent": 5.0,
        "cpu_steal_percent": 0.0,
        "swap_used_mb": 512.0,
        "swap_total_mb": 2048.0,
        "swap_percent": 25.0,
        "swap_in_mb": 10.0,
        "swap_out_mb": 20.0,
        "uptime_seconds": 3 * 86400 + 7200,
        "process_count": 212,
        "filesystems": FILESYSTEMS,
        "interfaces": [
            {"name": "eth0", "sent_mb": 100.0, "recv_mb": 300.0, "counted": True},
            {"name": "docker0", "sent_mb": 50.0, "recv_mb": 50.0, "counted": False},
        ],
        "disks": [
            {
                "name": "sda",
                "read_mb": 1000.0,
                "write_mb": 2000.0,
                "reads": 10,
                "writes": 20,
                "busy_ms": 1000,
            }
        ],
        **extra,
    }


def assert_names_whole(page: Page, names: list[str]) -> None:
    """Each process name is shown whole, not cut to fit: its cell is as wide as
    what it holds (a cell squeezed to its padding showed "p" for "postgres")."""
    cells = page.get_by_test_id("process-name")
    expect(cells).to_have_count(len(names))
    shown = cells.evaluate_all(
        """cells => cells.map(c => ({
            text: c.firstChild.innerText, fits: c.scrollWidth <= c.clientWidth }))"""
    )
    assert [c["text"] for c in shown] == names
    assert all(c["fits"] for c in shown), shown


def test_the_server_page_shows_a_bar_per_filesystem_and_the_top_processes(
    stack: Stack,  # noqa: F811 (the fixtures imported above)
    page: Page,  # noqa: F811
) -> None:
    server, token = stack.register("e2e-wide-01")
    stack.post(
        server,
        token,
        recorded_at=iso(datetime.now(UTC) - timedelta(seconds=10)),
        **wide(top_processes=TOP),
    )

    page.goto(f"{stack.url}/servers/{server}")
    wait_live(page)
    bars = page.get_by_test_id("filesystem-bar")
    expect(bars).to_have_count(3)
    # Fullest first, each with its own level.
    assert bars.evaluate_all("bars => bars.map(b => b.dataset.mount)") == [
        "/srv/data",
        "/",
        "/boot/efi",
    ]
    expect(bars.first).to_have_attribute("data-level", "critical")
    expect(bars.first).to_contain_text("95.0%")
    top = page.get_by_test_id("top-processes")
    expect(top.get_by_test_id("top-process").first).to_contain_text("postgres")
    expect(top).to_contain_text("backup.sh")
    expect(top).to_contain_text("java")
    assert_names_whole(page, ["postgres", "backup.sh", "java", "postgres"])
    load = page.get_by_role("region", name="Load")
    expect(load.get_by_test_id("metric-value")).to_have_text("3.2")
    expect(load).to_contain_text("on 4 CPUs")

    # A live sample without top processes (the collector sends them once a
    # minute): the filesystems move, the top processes seen before stay.
    moved = [{**fs, "percent": 50.0} if fs["mount"] == "/" else fs for fs in FILESYSTEMS]
    stack.post(server, token, **wide(filesystems=moved))
    expect(page.locator('[data-testid="filesystem-bar"][data-mount="/"]')).to_contain_text("50.0%")
    expect(top).to_contain_text("backup.sh")
    screenshot(page, "server-wide.png")
    # On a phone too, where the user column is left out.
    page.set_viewport_size({"width": 390, "height": 844})
    assert_names_whole(page, ["postgres", "backup.sh", "java", "postgres"])


def test_a_server_with_only_the_seeds_fields_shows_none_of_it(
    stack: Stack,  # noqa: F811
    page: Page,  # noqa: F811
) -> None:
    server, token = stack.register("e2e-seed-only-01")
    stack.post(server, token, cpu_percent=33.0)

    page.goto(f"{stack.url}/servers/{server}")
    wait_live(page)
    expect(page.get_by_role("region", name="CPU").get_by_test_id("metric-value")).to_have_text(
        "33.0%"
    )
    expect(page.get_by_test_id("filesystem-bar")).to_have_count(0)
    expect(page.get_by_test_id("top-processes")).to_have_count(0)
    expect(page.get_by_role("region", name="Load")).to_have_count(0)


CURRENT_FIXTURE = ROOT / "frontend" / "src" / "components" / "currentMetrics.fixture.json"


def test_the_dashboards_current_sample_fixture_is_what_the_api_answers(
    stack: Stack,  # noqa: F811
) -> None:
    # The two samples the fixture was taken from, 5 s apart (the rates need one
    # before): the same answer but for the ids and the times.
    server, token = stack.register("e2e-fixture-01")
    fixture = json.loads(CURRENT_FIXTURE.read_text())
    at = (datetime.now(UTC) - timedelta(seconds=30)).replace(microsecond=0)
    stack.post(server, token, recorded_at=iso(at - timedelta(seconds=5)), **wide())
    top = fixture["top_processes"]
    stack.post(
        server,
        token,
        recorded_at=iso(at),
        **wide(
            top_processes=top,
            load_1=0.84,
            swap_in_mb=10.5,
            disks=[
                {
                    "name": "sda",
                    "read_mb": 1010.0,
                    "write_mb": 2025.0,
                    "reads": 30,
                    "writes": 60,
                    "busy_ms": 1500,
                }
            ],
            interfaces=[
                {"name": "eth0", "sent_mb": 101.0, "recv_mb": 305.0, "counted": True},
                {"name": "docker0", "sent_mb": 50.0, "recv_mb": 50.0, "counted": False},
            ],
        ),
    )
    response = requests.get(f"{stack.api}/api/metrics/current/{server}", timeout=10)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["recorded_at"] == answer["top_processes_at"] == iso(at)
    # A list of objects each, name and user whole: what TopProcesses is given.
    assert answer["top_processes"]["cpu"][0] == {
        "pid": 1312,
        "name": "gunicorn",
        "user": "root",
        "cpu_percent": 41.5,
        "rss_mb": 182.4,
    }
    moving = ("server_id", "id", "recorded_at", "top_processes_at")
    assert {k: v for k, v in answer.items() if k not in moving} == {
        k: v for k, v in fixture.items() if k not in moving
    }
