"""The wide sample: optional host values, per-device lists and top processes,
stored, validated, returned by current and history."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from .conftest import bearer
from .helpers import iso, roll_up, sample, wide_fields

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def wide(step: int = 0, at: datetime | None = None, top: bool = True, **overrides) -> dict:
    body = sample(**wide_fields(step, top))
    body["recorded_at"] = iso(at or T0 + timedelta(seconds=5 * step))
    body.update(overrides)
    return body


def post(api, sid, token, body):
    return api.client.post("/api/metrics", json={"server_id": sid, **body}, headers=bearer(token))


def test_the_seed_payload_is_still_stored(api, client):
    sid, token = api.register()
    response = api.post_sample(sid, token)
    assert response.status_code == 201
    current = client.get(f"/api/metrics/current/{sid}").json
    assert current["cpu_percent"] == 45.2
    assert current["load_1"] is None
    assert current["filesystems"] is None
    assert current["top_processes"] is None


def test_a_wide_sample_is_stored_and_current_returns_it_with_rates(api, client, db):
    sid, token = api.register()
    assert post(api, sid, token, wide(0)).status_code == 201
    assert post(api, sid, token, wide(1, top=False)).status_code == 201
    current = client.get(f"/api/metrics/current/{sid}").json
    assert current["load_1"] == 1.5
    assert current["cpu_count"] == 4
    assert current["process_count"] == 312
    assert current["swap_in_mb"] == 11.0
    assert current["swap_in_mb_s"] == pytest.approx(1 / 5)
    assert current["swap_out_mb_s"] == pytest.approx(2 / 5)
    mounts = [f["mount"] for f in current["filesystems"]]
    assert mounts == ["/", "/home", "/var", "/srv"]
    var = current["filesystems"][2]
    assert var == {
        "mount": "/var", "device": "/dev/sdb1", "fstype": "ext4", "percent": 70.0,
        "used_gb": 70.0, "total_gb": 100.0, "inodes_percent": None,
    }  # fmt: skip
    sdb = current["disks"][1]
    assert sdb["name"] == "sdb"
    assert sdb["read_mb_s"] == pytest.approx(2 / 5)
    assert sdb["writes_s"] == pytest.approx(20 / 5)
    # 100 ms busy in 5 s: 2 % of the time.
    assert sdb["busy_percent"] == pytest.approx(2.0)
    docker = current["interfaces"][2]
    assert docker["counted"] is False
    assert docker["sent_mb_s"] == pytest.approx(3 / 5)
    assert [t["sensor"] for t in current["temperatures"]][-1] == "acpitz/temp1"
    # The newest sample had no top processes: the latest ones seen, with their time.
    assert current["top_processes"]["cpu"][0]["name"] == "worker0"
    assert current["top_processes_at"] == iso(T0)
    # One dictionary entry per device, the values in the sample's row.
    row = db.execute("SELECT fs_names, if_names FROM servers WHERE id = %s", [sid]).fetchone()
    assert row["fs_names"] == ["/", "/home", "/var", "/srv"]
    assert row["if_names"] == ["eth0", "eth1", "docker0"]


def test_a_device_seen_later_gets_the_next_number_and_names_stay_right(api, client, db):
    sid, token = api.register()
    first = wide(0)
    first["filesystems"] = first["filesystems"][:1]
    assert post(api, sid, token, first).status_code == 201
    later = wide(1)
    later["filesystems"] = list(reversed(later["filesystems"]))
    assert post(api, sid, token, later).status_code == 201
    current = client.get(f"/api/metrics/current/{sid}").json
    assert [f["mount"] for f in current["filesystems"]] == ["/srv", "/var", "/home", "/"]
    assert current["filesystems"][0]["percent"] == 80.0
    names = db.execute("SELECT fs_names FROM servers WHERE id = %s", [sid]).fetchone()
    assert names["fs_names"] == ["/", "/srv", "/var", "/home"]


def test_a_retried_wide_sample_is_stored_once(api, db):
    sid, token = api.register()
    assert post(api, sid, token, wide(0)).status_code == 201
    assert post(api, sid, token, wide(0)).status_code == 200
    batch = api.post_batch(sid, token, [wide(0), wide(1)])
    assert batch.json["inserted"] == 1 and batch.json["duplicates"] == 1
    rows = db.execute("SELECT count(*) AS n FROM metrics WHERE server_id = %s", [sid]).fetchone()
    assert rows["n"] == 2


def test_a_batch_mixes_seed_and_wide_samples(api, client):
    sid, token = api.register()
    seed_only = sample(recorded_at=iso(T0))
    response = api.post_batch(sid, token, [seed_only, wide(1), wide(2, top=False)])
    assert response.status_code == 201, response.json
    assert response.json["inserted"] == 3
    current = client.get(f"/api/metrics/current/{sid}").json
    assert current["disks"][0]["read_mb_s"] == pytest.approx(1 / 5)
    assert current["top_processes_at"] == iso(T0 + timedelta(seconds=5))


# Each new field made invalid: the path the 400 names, and the change.
INVALID = [
    ("load_1", lambda b: b.update(load_1=-1)),
    ("load_15", lambda b: b.update(load_15="high")),
    ("cpu_count", lambda b: b.update(cpu_count=0)),
    ("cpu_user_percent", lambda b: b.update(cpu_user_percent=101)),
    ("cpu_steal_percent", lambda b: b.update(cpu_steal_percent=-0.5)),
    ("swap_used_mb", lambda b: b.update(swap_used_mb=-1)),
    ("swap_percent", lambda b: b.update(swap_percent=100.5)),
    ("swap_in_mb", lambda b: b.update(swap_in_mb=-3)),
    ("uptime_seconds", lambda b: b.update(uptime_seconds=-1)),
    ("process_count", lambda b: b.update(process_count=1.5)),
    ("filesystems[2].percent", lambda b: b["filesystems"][2].update(percent=120)),
    ("filesystems[1].inodes_percent", lambda b: b["filesystems"][1].update(inodes_percent=-1)),
    ("filesystems[0].mount", lambda b: b["filesystems"][0].update(mount="x" * 256)),
    ("filesystems[3].fstype", lambda b: b["filesystems"][3].update(fstype="y" * 33)),
    ("filesystems[0].device", lambda b: b["filesystems"][0].update(device="a\x00b")),
    ("filesystems[1].total_gb", lambda b: b["filesystems"][1].pop("total_gb")),
    ("filesystems[3].mount", lambda b: b["filesystems"][3].update(mount="/")),
    ("filesystems", lambda b: b.update(filesystems=b["filesystems"] * 17)),
    ("disks[1].read_mb", lambda b: b["disks"][1].update(read_mb=-1)),
    ("disks[0].busy_ms", lambda b: b["disks"][0].update(busy_ms="x")),
    ("disks[1].name", lambda b: b["disks"][1].update(name="sda")),
    ("interfaces[2].counted", lambda b: b["interfaces"][2].update(counted="yes")),
    ("interfaces[0].recv_mb", lambda b: b["interfaces"][0].update(recv_mb=float("inf"))),
    ("interfaces[1].name", lambda b: b["interfaces"][1].update(name="")),
    ("temperatures[5].celsius", lambda b: b["temperatures"][5].update(celsius=151)),
    ("temperatures[0].celsius", lambda b: b["temperatures"][0].update(celsius=-41)),
    ("temperatures[4].sensor", lambda b: b["temperatures"][4].update(sensor="s" * 129)),
    ("top_processes.cpu[1].pid", lambda b: b["top_processes"]["cpu"][1].update(pid=-1)),
    ("top_processes.memory[0].rss_mb", lambda b: b["top_processes"]["memory"][0].pop("rss_mb")),
    ("top_processes.cpu", lambda b: b["top_processes"].update(cpu=b["top_processes"]["cpu"] * 3)),
    ("top_processes.cpu[0].extra", lambda b: b["top_processes"]["cpu"][0].update(extra=1)),
    ("filesystems[0].size", lambda b: b["filesystems"][0].update(size=1)),
]


@pytest.mark.parametrize(("field", "spoil"), INVALID, ids=[f for f, _ in INVALID])
def test_an_invalid_wide_field_is_refused_naming_it(api, db, field, spoil):
    sid, token = api.register()
    body = wide(0)
    spoil(body)
    response = post(api, sid, token, body)
    assert response.status_code == 400, response.json
    assert field in [d["field"] for d in response.json["details"]]
    batch_body = [wide(1), copy.deepcopy(body)]
    response = api.post_batch(sid, token, batch_body)
    assert response.status_code == 400
    assert f"samples[1].{field}" in [d["field"] for d in response.json["details"]]
    stored = db.execute("SELECT count(*) AS n FROM metrics WHERE server_id = %s", [sid]).fetchone()
    assert stored["n"] == 0


def history(client, sid, metrics, interval="1m", start=T0, end=None):
    end = end or start + timedelta(minutes=10)
    response = client.get(
        f"/api/metrics/history/{sid}",
        query_string={"from": iso(start), "to": iso(end), "interval": interval, "metrics": metrics},
    )
    assert response.status_code == 200, response.json
    return response.json


def test_history_serves_the_groups_asked_for(api, client, db):
    sid, token = api.register()
    samples = []
    for step in range(24):  # two minutes at 5 s
        body = wide(step)
        body["filesystems"][0]["percent"] = 40.0 + step
        samples.append(body)
    assert api.post_batch(sid, token, samples).status_code == 201
    # Without `metrics`, today's answer.
    plain = history(client, sid, None)
    assert "load_1" not in plain[0] and "filesystems" not in plain[0]
    assert plain[0]["cpu_percent"] == 45.2
    for rolled in (False, True):
        if rolled:
            roll_up(db)
        points = history(client, sid, "load,filesystems,disks,interfaces,temperatures,swap,cpu")
        assert [p["samples"] for p in points] == [12, 12]
        first = points[0]
        assert "cpu_percent" not in first
        assert first["load_1"] == 1.5 and first["load_1_max"] == 1.5
        assert first["cpu_user_percent"] == 30.5
        root = next(f for f in first["filesystems"] if f["mount"] == "/")
        assert root["percent"] == pytest.approx(sum(40.0 + s for s in range(12)) / 12)
        assert root["percent_max"] == 51.0
        var = next(f for f in first["filesystems"] if f["mount"] == "/var")
        assert var["inodes_percent"] is None
        sdb = next(d for d in first["disks"] if d["name"] == "sdb")
        # The first sample has no sample before it: 11 steps of 5 s.
        assert sdb["read_mb_s"] == pytest.approx(2 / 5)
        assert sdb["busy_percent"] == pytest.approx(2.0)
        eth1 = next(i for i in points[1]["interfaces"] if i["name"] == "eth1")
        assert eth1["sent_mb_s"] == pytest.approx(2 / 5)
        assert first["swap_in_mb_s"] == pytest.approx(1 / 5)
        assert len(first["temperatures"]) == 6
        both = history(client, sid, "core,load")
        assert both[0]["cpu_percent"] == 45.2 and both[0]["load_5"] == 1.25


def test_history_refuses_an_unknown_group(api, client):
    sid, _ = api.register()
    response = client.get(f"/api/metrics/history/{sid}", query_string={"metrics": "core,gpu"})
    assert response.status_code == 400
    assert response.json["details"][0]["field"] == "metrics"


def test_a_counter_reset_on_a_device_is_an_increment_from_zero(api, client, db):
    sid, token = api.register()
    bodies = [wide(0), wide(1), wide(2)]
    # The host rebooted between the second and third samples: counters restart.
    for disk in bodies[2]["disks"]:
        disk["read_mb"] = 0.5
    assert api.post_batch(sid, token, bodies).status_code == 201
    current = client.get(f"/api/metrics/current/{sid}").json
    assert current["disks"][0]["read_mb_s"] == pytest.approx(0.5 / 5)
    points = history(client, sid, "disks")
    sda = next(d for d in points[0]["disks"] if d["name"] == "sda")
    assert sda["read_mb_s"] == pytest.approx((1 + 0.5) / 10)
