"""Every write request sends exactly one NOTIFY, for committed data only."""

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from .helpers import iso, sample


@pytest.fixture
def listener(direct_database_url):
    # LISTEN needs a session: a direct connection even when the functions go
    # through a transaction pooler (VIGIE_TEST_POOLER), as the relay's does.
    with psycopg.connect(direct_database_url, autocommit=True) as conn:
        conn.execute("LISTEN vigie_events")
        yield conn


def received(conn, wait=0.5):
    import json

    return [json.loads(n.payload) for n in conn.notifies(timeout=wait)]


def test_one_notification_per_single_ingest(api, listener):
    sid, token = api.register()
    assert [e["kind"] for e in received(listener)] == ["server"]
    api.post_sample(sid, token, recorded_at="2026-01-01T00:00:00Z")
    [event] = received(listener)
    assert event["kind"] == "metrics"
    assert event["server_id"] == sid
    assert event["count"] == 1
    assert event["first"].startswith("2026-01-01T00:00:00")
    assert event["online"] is True
    api.post_sample(sid, token, recorded_at="2026-01-01T00:00:05Z")
    [event] = received(listener)
    assert event["online"] is False


def test_one_notification_per_batch_whatever_its_size(api, listener):
    sid, token = api.register()
    received(listener)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    samples = [sample(recorded_at=iso(start + timedelta(seconds=5 * i))) for i in range(500)]
    api.post_batch(sid, token, samples)
    [event] = received(listener)
    assert event["count"] == 500
    assert event["first"].startswith("2026-01-01T00:00:00")
    assert event["last"].startswith("2026-01-01T00:41:35")
    assert len(str(event)) < 400


def test_a_refused_request_notifies_nothing(api, listener):
    sid, token = api.register()
    received(listener)
    api.post_sample(sid, token, cpu_percent=500)
    api.post_sample(sid, "vgi_wrong")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    bad = [sample(recorded_at=iso(start + timedelta(seconds=i))) for i in range(3)]
    bad[2]["ram_percent"] = -1
    api.post_batch(sid, token, bad)
    assert received(listener) == []


def test_a_pure_retry_notifies_nothing(api, listener):
    sid, token = api.register()
    api.post_sample(sid, token, recorded_at="2026-01-01T00:00:00Z")
    received(listener)
    api.post_sample(sid, token, recorded_at="2026-01-01T00:00:00Z")
    assert received(listener) == []
