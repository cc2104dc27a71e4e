"""The collector installs and runs on a monitored host alone: none of the API's
stack, one command to send this host's metrics."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import venv

import psutil
import pytest

from .collector_helpers import ApiProcess, give_machine_id, stored
from .conftest import ENROLL
from .helpers import ROOT

SERVER_STACK = {"flask", "werkzeug", "psycopg", "psycopg-binary", "psycopg-pool", "gevent"}


def test_importing_the_collector_loads_nothing_of_the_api():
    code = (
        "import json, sys, vigie_collector.cli, vigie_collector.agent; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(done.stdout)
    assert not {"flask", "werkzeug", "psycopg", "gevent", "functions", "pydantic"} & set(loaded)
    # YAML is loaded only when a YAML config file is read.
    assert "yaml" not in loaded


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_pip_install_alone_in_a_fresh_venv_then_once_sends_this_hosts_metrics(
    database_url, db, tmp_path
):
    source = tmp_path / "src"
    shutil.copytree(
        ROOT / "collector",
        source,
        ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__"),
    )
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-c",
            ROOT / "constraints.txt",
            source,
        ],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr
    listed = subprocess.run(
        [python, "-m", "pip", "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    installed = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert "vigie-collector" in installed
    assert {"psutil", "requests", "click", "pyyaml"} <= installed
    assert not SERVER_STACK & installed

    api = ApiProcess(database_url, tmp_path / "api.log")
    api.start()
    try:
        state = tmp_path / "state"
        give_machine_id(state, "install-test-machine")
        result = subprocess.run(
            [
                env_dir / "bin" / "vigie-collector",
                "once",
                "--api-url",
                api.url,
                "--enroll-token",
                ENROLL,
                "--state-dir",
                state,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        api.stop()
    assert result.returncode == 0, result.stderr
    assert "sent 1 sample(s)" in result.stdout
    server = db.execute("SELECT * FROM servers").fetchone()
    assert server["hostname"] == socket.gethostname()
    assert server["os_type"] == "Linux"
    rows = stored(db, server["id"])
    assert len(rows) == 1
    assert rows[0]["ram_total_mb"] == pytest.approx(psutil.virtual_memory().total / 2**20)
