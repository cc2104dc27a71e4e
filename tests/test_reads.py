"""GET current and history: latest sample, buckets, throughput, ranges."""

from datetime import UTC, datetime, timedelta

import pytest

from .helpers import iso, sample

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def seed(api, sid, token, count, step=5, start=T0, **fields):
    samples = []
    for i in range(count):
        values = {k: (v(i) if callable(v) else v) for k, v in fields.items()}
        samples.append(sample(recorded_at=iso(start + timedelta(seconds=step * i)), **values))
    for chunk in range(0, len(samples), 1000):
        assert api.post_batch(sid, token, samples[chunk : chunk + 1000]).status_code == 201


def history(client, sid, **params):
    response = client.get(f"/api/metrics/history/{sid}", query_string=params)
    assert response.status_code == 200, response.json
    return response


def test_current_is_the_latest_sample_with_throughput(api, client):
    sid, token = api.register()
    api.post_sample(sid, token, recorded_at=iso(T0), network_sent_mb=100, network_recv_mb=50)
    api.post_sample(
        sid,
        token,
        recorded_at=iso(T0 + timedelta(seconds=10)),
        cpu_percent=80,
        network_sent_mb=120,
        network_recv_mb=55,
    )
    body = client.get(f"/api/metrics/current/{sid}").json
    assert body["server_id"] == sid
    assert body["cpu_percent"] == 80
    assert body["recorded_at"] == iso(T0 + timedelta(seconds=10))
    assert body["network_sent_mb_s"] == 2.0
    assert body["network_recv_mb_s"] == 0.5


def test_current_of_a_single_sample_has_no_throughput_yet(api, client):
    sid, token = api.register()
    api.post_sample(sid, token)
    body = client.get(f"/api/metrics/current/{sid}").json
    assert body["network_sent_mb_s"] is None


def test_current_after_a_counter_reset_counts_from_zero(api, client):
    sid, token = api.register()
    api.post_sample(sid, token, recorded_at=iso(T0), network_sent_mb=5000)
    api.post_sample(sid, token, recorded_at=iso(T0 + timedelta(seconds=5)), network_sent_mb=10)
    assert client.get(f"/api/metrics/current/{sid}").json["network_sent_mb_s"] == 2.0


def test_current_for_a_server_without_samples_or_unknown(api, client):
    sid, _ = api.register()
    response = client.get(f"/api/metrics/current/{sid}")
    assert response.status_code == 404
    assert response.json["error"] == "no_metrics"
    assert client.get("/api/metrics/current/777").json["error"] == "not_found"


@pytest.mark.parametrize(
    ("interval", "seconds"), [("1m", 60), ("5m", 300), ("15m", 900), ("1h", 3600)]
)
def test_history_aggregates_into_each_interval(api, client, interval, seconds):
    sid, token = api.register()
    # Two hours at 5 s, CPU cycling 0..99 so averages and peaks differ.
    seed(api, sid, token, 1440, cpu_percent=lambda i: i % 100)
    response = history(
        client, sid, **{"from": iso(T0), "to": iso(T0 + timedelta(hours=2)), "interval": interval}
    )
    points = response.json
    assert response.headers["Vigie-Interval"] == interval
    assert len(points) == 7200 // seconds
    per_bucket = seconds // 5
    first = [i % 100 for i in range(per_bucket)]
    assert points[0]["recorded_at"] == iso(T0)
    assert points[0]["samples"] == per_bucket
    assert points[0]["cpu_percent"] == pytest.approx(sum(first) / len(first), abs=0.01)
    assert points[0]["cpu_percent_max"] == max(first)
    assert points[1]["recorded_at"] == iso(T0 + timedelta(seconds=seconds))
    assert sum(p["samples"] for p in points) == 1440


def test_history_without_interval_stays_bounded(api, client):
    sid, token = api.register()
    seed(api, sid, token, 3000, step=60)  # 50 hours at one sample a minute
    response = history(client, sid, **{"from": iso(T0), "to": iso(T0 + timedelta(hours=50))})
    assert len(response.json) <= 500
    assert response.headers["Vigie-Interval"] == "10m"
    short = history(client, sid, **{"from": iso(T0), "to": iso(T0 + timedelta(minutes=10))})
    assert short.headers["Vigie-Interval"] == "5s"
    assert len(short.json) == 11  # one sample a minute, both ends included


def test_history_defaults_to_the_last_hour(api, client):
    sid, token = api.register()
    now = datetime.now(UTC).replace(microsecond=0)
    api.post_sample(sid, token, recorded_at=iso(now - timedelta(minutes=30)), cpu_percent=30)
    api.post_sample(sid, token, recorded_at=iso(now - timedelta(minutes=90)), cpu_percent=90)
    points = history(client, sid).json
    assert [p["cpu_percent"] for p in points] == [30]


def test_history_of_an_empty_range_is_an_empty_list(api, client):
    sid, token = api.register()
    seed(api, sid, token, 10)
    params = {"from": iso(T0 - timedelta(days=2)), "to": iso(T0 - timedelta(days=1))}
    assert history(client, sid, **params).json == []


def test_history_rejects_from_after_to(api, client):
    sid, _ = api.register()
    response = client.get(
        f"/api/metrics/history/{sid}",
        query_string={"from": iso(T0), "to": iso(T0 - timedelta(hours=1))},
    )
    assert response.status_code == 400
    assert response.json["details"] == [{"field": "from", "reason": "must not be after to"}]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "last tuesday"}, "from"),
        ({"to": "2026-13-01T00:00:00Z"}, "to"),
        ({"interval": "2m"}, "interval"),
        (
            {"interval": "1m", "from": "2020-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
            "interval",
        ),
    ],
)
def test_history_rejects_bad_parameters(api, client, params, field):
    sid, _ = api.register()
    response = client.get(f"/api/metrics/history/{sid}", query_string=params)
    assert response.status_code == 400
    assert response.json["details"][0]["field"] == field


def test_history_accepts_an_offset_whose_plus_was_not_encoded(api, client):
    sid, token = api.register()
    seed(api, sid, token, 3)
    response = client.get(
        f"/api/metrics/history/{sid}?from=2026-03-01T13:00:00+01:00&to=2026-03-01T13:01:00+01:00"
    )
    assert response.status_code == 200
    assert sum(p["samples"] for p in response.json) == 3


def test_history_of_an_unknown_server_is_404(client):
    assert client.get("/api/metrics/history/9999").status_code == 404


def test_history_throughput_is_steady_across_a_counter_reset(api, client):
    sid, token = api.register()

    # 1 MiB/s sent, 2 MiB/s received; the host reboots at sample 30 (counters restart).
    def sent(i):
        return 5000 + 5 * i if i < 30 else 5 * (i - 30) + 5

    def recv(i):
        return 9000 + 10 * i if i < 30 else 10 * (i - 30) + 10

    seed(api, sid, token, 60, network_sent_mb=sent, network_recv_mb=recv)
    points = history(
        client, sid, **{"from": iso(T0), "to": iso(T0 + timedelta(minutes=5)), "interval": "1m"}
    ).json
    assert len(points) == 5
    for point in points:
        assert point["network_sent_mb_s"] == pytest.approx(1.0)
        assert point["network_recv_mb_s"] == pytest.approx(2.0)
        assert point["network_sent_mb_s_max"] == pytest.approx(1.0)


def test_history_first_bucket_uses_the_sample_before_the_range(api, client):
    sid, token = api.register()
    seed(api, sid, token, 24, network_sent_mb=lambda i: 100 + 5 * i)
    params = {
        "from": iso(T0 + timedelta(minutes=1)),
        "to": iso(T0 + timedelta(minutes=2)),
        "interval": "1m",
    }
    [point, *_] = history(client, sid, **params).json
    assert point["samples"] == 12
    assert point["network_sent_mb_s"] == pytest.approx(1.0)
