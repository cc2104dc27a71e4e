"""The relay's metrics-update carries the wide sample as current gives it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from .conftest import bearer
from .helpers import iso, running_relay, sample, wide_fields
from .relay_helpers import FAST

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def relay_url(direct_database_url, tmp_path_factory):
    log = tmp_path_factory.mktemp("relay") / "relay.log"
    with running_relay(direct_database_url, FAST, log=log) as url:
        yield url


def test_metrics_update_carries_the_wide_fields_like_current(api, client, connect):
    sid, token = api.register("wide-01")
    watcher = connect()
    watcher.join(sid)
    at = datetime.now(UTC) - timedelta(seconds=10)
    for step in range(2):
        body = {"server_id": sid, **sample(**wide_fields(step, top=step == 1)),
                "recorded_at": iso(at + timedelta(seconds=5 * step))}  # fmt: skip
        response = api.client.post("/api/metrics", json=body, headers=bearer(token))
        assert response.status_code == 201
    first, second = watcher.wait_for("metrics-update", count=2)
    current = client.get(f"/api/metrics/current/{sid}").json
    assert second == current
    assert second["filesystems"][3]["mount"] == "/srv"
    assert second["disks"][0]["read_mb_s"] == pytest.approx(1 / 5)
    assert second["top_processes"]["cpu"][0]["pid"] == 100
    assert first["disks"][0]["read_mb_s"] is None
    # The first sample had no top processes of its own.
    assert first["top_processes"] is None
