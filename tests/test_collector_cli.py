"""The vigie-collector command line: help, where settings come from, bad values."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from vigie_collector.cli import cli

from .helpers import METRIC_FIELDS, free_port

COMMANDS = ["run", "once", "register", "sample", "status"]
# Nothing listens there: status and friends answer without waiting.
DEAD_API = f"http://127.0.0.1:{free_port()}"


@pytest.mark.parametrize("command", [[], *[[c] for c in COMMANDS]])
def test_every_command_has_help(runner, command):
    result = runner.invoke(cli, [*command, "--help"], prog_name="vigie-collector")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: vigie-collector {' '.join(command)}".rstrip())
    if command:
        assert "--config" in result.output
    else:
        for name in COMMANDS:
            assert f"  {name} " in result.output


def test_run_help_names_every_environment_variable(runner):
    text = runner.invoke(cli, ["run", "--help"]).output
    for variable in (
        "VIGIE_API_URL",
        "VIGIE_ENROLL_TOKEN",
        "VIGIE_STATE_DIR",
        "VIGIE_INTERVAL",
        "VIGIE_NAME",
        "VIGIE_CONFIG",
        "VIGIE_DISK_PATH",
        "VIGIE_BACKLOG_MAX_SAMPLES",
        "VIGIE_BACKLOG_MAX_AGE",
    ):
        assert variable in text


def status(runner, args=(), env=None) -> dict[str, str]:
    result = runner.invoke(cli, ["status", *args], env=env)
    assert result.exit_code == 0, result.output
    lines = {}
    for line in result.output.splitlines():
        label, _, value = line.partition(":")
        lines[label.strip()] = value.strip()
    return lines


def write_config(path, data: dict) -> str:
    if path.suffix == ".json":
        path.write_text(json.dumps(data))
    else:
        path.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in data.items()))
    return str(path)


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_flags_beat_environment_beats_file_beats_defaults(runner, tmp_path, suffix):
    config = write_config(
        tmp_path / f"collector{suffix}",
        {
            "api_url": "http://from-file.invalid:1",
            "name": "from-file",
            "interval": 7,
            "backlog-max-age": "12h",
            "state_dir": str(tmp_path / "file-state"),
        },
    )
    env = {"VIGIE_NAME": "from-env", "VIGIE_STATE_DIR": str(tmp_path / "env-state")}
    shown = status(runner, ["--config", config, "--api-url", DEAD_API], env=env)
    assert shown["API"].startswith(DEAD_API)  # flag over file
    assert shown["name"] == "from-env"  # environment over file
    assert shown["state dir"] == str(tmp_path / "env-state")  # environment over file
    assert shown["interval"] == "7 s"  # file over default
    assert shown["backlog limits"] == "100000 samples, 12h"  # file, and a default
    assert shown["disk path"] == "/"  # default

    # The file named by the environment works the same way.
    shown = status(runner, ["--interval", "2.5"], env={**env, "VIGIE_CONFIG": config})
    assert shown["interval"] == "2.5 s"
    assert shown["API"].startswith("http://from-file.invalid:1")


def test_defaults_without_any_configuration(runner, tmp_path):
    shown = status(runner, ["--state-dir", str(tmp_path)])
    assert shown["API"].startswith("http://127.0.0.1:8000")
    assert shown["interval"] == "5 s"
    assert shown["server"].startswith("not registered")
    assert shown["backlog"] == "0 sample(s) waiting"


BAD_VALUES = [
    (["--interval", "fast"], {}, None, "'fast' is not a valid float"),
    (["--interval", "0"], {}, None, "0.1<=x<=3600"),
    ([], {"VIGIE_INTERVAL": "-1"}, None, "VIGIE_INTERVAL"),
    (["--api-url", "ftp://example.com"], {}, None, "is not an http:// or https:// URL"),
    (["--api-url", "example.com"], {}, None, "is not an http:// or https:// URL"),
    (["--backlog-max-age", "3 weeks"], {}, None, "is not a duration (e.g. 90s, 15m, 12h, 7d, 2w"),
    (["--backlog-max-age", "0"], {}, None, "must be more than zero"),
    (["--retry-max", "inf"], {}, None, "'inf' is not a duration (e.g. 90s, 15m"),
    (["--retry-max", "forever"], {}, None, "this setting needs a limit (e.g. 90s"),
    (["--name", "n" * 101], {}, None, "101 characters, more than the API's 100"),
    ([], {"VIGIE_NAME": "n" * 101}, None, "VIGIE_NAME"),
    (["--name", "  "], {}, None, "must not be empty"),
    (["--hostname", "h" * 256], {}, None, "256 characters, more than the API's 255"),
    ([], {}, ("c.yaml", f"name: {'n' * 101}\n"), "name: 101 characters"),
    (["--backlog-max-samples", "-5"], {}, None, "x>=1"),
    (["--batch-size", "5000"], {}, None, "1<=x<=1000"),
    (["--disk-path", "/no/such/place"], {}, None, "does not exist"),
    (["--config", "/no/such/file.json"], {}, None, "cannot read /no/such/file.json"),
    ([], {}, ("c.json", '{"interval": 5,'), "is not valid JSON"),
    ([], {}, ("c.yaml", "interval: [5\n"), "is not valid YAML"),
    ([], {}, ("c.json", '{"intervall": 5}'), "unknown setting 'intervall'"),
    ([], {}, ("c.json", '{"interval": "fast"}'), "interval: 'fast' is not a valid float"),
    ([], {}, ("c.yaml", "- 1\n- 2\n"), "must hold settings by name"),
    ([], {}, ("c.json", '{"api_url": "nope"}'), "api_url: 'nope' is not an http"),
]


@pytest.mark.parametrize(("args", "env", "config", "expected"), BAD_VALUES)
@pytest.mark.parametrize("command", ["run", "once", "status"])
def test_a_bad_value_is_one_sentence_and_exit_2(
    runner, tmp_path, command, args, env, config, expected
):
    if config:
        name, text = config
        (tmp_path / name).write_text(text)
        args = [*args, "--config", str(tmp_path / name)]
    result = runner.invoke(cli, [command, "--state-dir", str(tmp_path / "s"), *args], env=env)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    error = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1, result.output
    assert expected in error[0]
    # Nothing was started: no state was written.
    assert not (tmp_path / "s" / "backlog.sqlite3").exists()


def test_a_bad_value_from_the_real_command_has_no_traceback(tmp_path):
    """The installed entry point, not only click's runner: exit 2, one sentence."""
    result = subprocess.run(
        [sys.executable, "-m", "vigie_collector", "once", "--interval", "soon"],
        capture_output=True,
        text=True,
        env={**os.environ, "VIGIE_STATE_DIR": str(tmp_path)},
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "Error: Invalid value for '--interval'" in result.stderr


def test_sending_without_registration_or_enrollment_token_says_what_to_do(runner, tmp_path):
    for command in ("run", "once"):
        result = runner.invoke(cli, [command, "--state-dir", str(tmp_path), "--api-url", DEAD_API])
        assert result.exit_code == 2, result.output
        assert "not registered" in result.output
        assert "--enroll-token or set VIGIE_ENROLL_TOKEN" in result.output
        assert "Traceback" not in result.output


def test_register_needs_the_enrollment_token(runner, tmp_path):
    result = runner.invoke(cli, ["register", "--state-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "registering needs the API's enrollment token" in result.output


def test_sample_prints_json_and_sends_nothing(runner, tmp_path):
    result = runner.invoke(cli, ["sample", "--disk-path", str(tmp_path)])
    assert result.exit_code == 0, result.output
    sample = json.loads(result.output)
    # The seed's fields, and the wider ones (test_collector_wide.py checks them).
    assert {*METRIC_FIELDS, "recorded_at"} <= set(sample)
    assert {"load_1", "cpu_count", "filesystems", "interfaces", "top_processes"} <= set(sample)


def test_two_collectors_cannot_share_a_state_directory(runner, tmp_path):
    from vigie_collector.state import StateDir

    with StateDir(tmp_path).lock():
        result = runner.invoke(
            cli,
            ["once", "--state-dir", str(tmp_path), "--enroll-token", "x", "--api-url", DEAD_API],
        )
    assert result.exit_code == 1
    assert f"another vigie-collector (pid {os.getpid()}) is using {tmp_path}" in result.output
