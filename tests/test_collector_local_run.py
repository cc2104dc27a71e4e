"""`make run` (vigie run) starts a collector for this machine: live data with no
configuration."""

from __future__ import annotations

import pytest
import requests

from .conftest import wait_until
from .helpers import BIN, free_port, process


@pytest.mark.slow
def test_vigie_run_starts_a_collector_that_sends_this_hosts_metrics(database_url, db, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"VIGIE_HOME": str(tmp_path / "home"), "VIGIE_INTERVAL": "1"}
    args = [str(BIN / "vigie"), "run", "--port", str(port), "--database-url", database_url]
    with process(args, env, ready_url=f"{base}/api/health", log=tmp_path / "run.log"):
        servers = wait_until(
            lambda: [
                s for s in requests.get(f"{base}/api/servers", timeout=5).json() if s["latest"]
            ],
            what="a server with live metrics",
        )
    assert len(servers) == 1
    assert servers[0]["is_active"]
    assert (tmp_path / "home" / "collector" / "credentials.json").stat().st_mode & 0o777 == 0o600
