"""Nothing lost: the collector against a real API (gunicorn) on a real PostgreSQL,
through outages, crashes, refusals and retries."""

from __future__ import annotations

import json
import re
import signal

import pytest
from click.testing import CliRunner
from vigie_collector.agent import Backoff
from vigie_collector.backlog import Backlog
from vigie_collector.cli import cli
from vigie_collector.sampler import Sampler

from .collector_helpers import (
    COLLECTOR,
    ApiProcess,
    assert_same_samples,
    backlog_samples,
    collector_env,
    credentials,
    parse_time,
    stored,
)
from .conftest import ENROLL, wait_until
from .helpers import free_port, process, with_dbname

pytestmark = pytest.mark.slow


def register(runner: CliRunner, env: dict[str, str]) -> None:
    result = runner.invoke(cli, ["register"], env={**env, "VIGIE_ENROLL_TOKEN": ENROLL})
    assert result.exit_code == 0, result.output
    assert "registered with" in result.output


def fill_backlog(state, count: int) -> list[dict]:
    """Samples of this host, taken and kept by the collector's own code, as during
    an outage."""
    sampler, backlog = Sampler(), Backlog(state / "backlog.sqlite3")
    for _ in range(count):
        backlog.add(sampler.sample())
    backlog.close()
    samples = backlog_samples(state)
    assert len({s["recorded_at"] for s in samples}) == count
    return samples


def test_samples_taken_while_the_api_is_down_arrive_once_each_in_order(
    api_process, db, state, tmp_path, runner
):
    env = collector_env(api_process, state)
    register(runner, env)
    server_id = credentials(state)["server_id"]
    api_process.stop()

    # The daemon samples into its backlog while the API is down (and tries to
    # send), and keeps every sample when stopped.
    log = tmp_path / "collector.log"
    args = [COLLECTOR, "run", "--interval", "0.2", "--retry-max", "0.5", "--log-level", "debug"]
    with process(args, env, log=log) as proc:
        wait_until(lambda: len(backlog_samples(state)) >= 10, what="10 samples in the backlog")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    taken = backlog_samples(state)
    assert [s["recorded_at"] for s in taken] == samples_logged(log)
    assert f"stopped; {len(taken)} sample(s) wait in the backlog" in log.read_text()
    assert stored(db) == []

    # The API is back: the next send delivers every one of them, oldest first,
    # in several batches, then the new sample.
    api_process.start()
    result = runner.invoke(cli, ["once", "--batch-size", "4"], env=env)
    assert result.exit_code == 0, result.output
    assert f"sent {len(taken) + 1} sample(s)" in result.output
    rows = stored(db, server_id)
    assert len(rows) == len(taken) + 1
    assert_same_samples(rows[:-1], taken)
    assert rows[-1]["recorded_at"] > rows[-2]["recorded_at"]
    assert backlog_samples(state) == []


def test_killed_mid_drain_then_restarted_every_sample_arrives_once(
    api_process, db, state, tmp_path, runner
):
    env = collector_env(api_process, state)
    register(runner, env)
    server_id = credentials(state)["server_id"]
    taken = fill_backlog(state, 300)

    # One sample per request, so the drain is long enough to be killed in the middle.
    args = [COLLECTOR, "run", "--batch-size", "1", "--interval", "3600"]
    with process(args, env, log=tmp_path / "collector.log") as proc:
        wait_until(lambda: len(stored(db)) >= 5, what="the drain to start")
        proc.send_signal(signal.SIGKILL)
        proc.wait(60)
    at_kill = len(stored(db))
    left = backlog_samples(state)
    assert 0 < at_kill < len(taken), "the drain was not interrupted"
    # The sample in flight may be both stored and still in the backlog: it will be
    # sent again, and the API will store it once.
    assert at_kill + len(left) in (len(taken), len(taken) + 1)

    result = runner.invoke(cli, ["once"], env=env)
    assert result.exit_code == 0, result.output
    rows = stored(db, server_id)
    assert len(rows) == len(taken) + 1
    assert_same_samples(rows[:-1], taken)
    assert backlog_samples(state) == []


def samples_logged(log) -> list[str]:
    """The recorded_at of every sample the daemon took, from its debug log."""
    return re.findall(r"sample taken at (\S+)", log.read_text())


def test_the_daemon_drains_its_backlog_by_itself_when_the_api_returns(
    api_process, db, state, tmp_path, runner
):
    env = collector_env(api_process, state, VIGIE_ENROLL_TOKEN=ENROLL, VIGIE_RETRY_MAX="1")
    log = tmp_path / "collector.log"
    args = [COLLECTOR, "run", "--interval", "0.2", "--log-level", "debug"]
    with process(args, env, log=log) as proc:
        wait_until(lambda: len(stored(db)) >= 3, what="the first samples (and registration)")
        api_process.stop()
        waiting = wait_until(
            lambda: (samples := backlog_samples(state)) and len(samples) >= 5 and samples,
            what="samples kept during the outage",
        )
        api_process.start()
        wanted = {parse_time(s["recorded_at"]) for s in waiting}
        wait_until(
            lambda: wanted <= {r["recorded_at"] for r in stored(db)},
            what="the backlog to reach the API",
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    # Whatever the daemon had not sent yet goes with the next run: then every
    # sample it took is stored, once, in the order taken.
    assert runner.invoke(cli, ["once"], env=env).exit_code == 0
    times = [r["recorded_at"] for r in stored(db)]
    assert times[:-1] == [parse_time(t) for t in samples_logged(log)]
    assert times == sorted(times)
    text = log.read_text()
    assert "cannot send: " in text and "kept in the backlog" in text
    assert "the API answers again" in text


def test_backoff_delays_grow_and_are_capped():
    highest = Backoff(initial=1, cap=30, rng=lambda: 1.0)
    assert [highest.next_delay() for _ in range(8)] == [1, 2, 4, 8, 16, 30, 30, 30]
    lowest = Backoff(initial=1, cap=30, rng=lambda: 0.0)
    assert [lowest.next_delay() for _ in range(7)] == [0.5, 1, 2, 4, 8, 15, 15]
    # With real jitter, every delay lies between half and all of its ceiling.
    jittered = Backoff(initial=1, cap=30)
    for n in range(40):
        ceiling = min(30, 2**n)
        assert ceiling / 2 <= jittered.next_delay() <= ceiling
    # The API's Retry-After is honoured, but never beyond the cap.
    assert Backoff(cap=30, rng=lambda: 0.0).next_delay(retry_after=20) == 20
    assert Backoff(cap=30, rng=lambda: 0.0).next_delay(retry_after=3600) == 30
    # A success starts again from the first delay.
    highest.reset()
    assert highest.next_delay() == 1


def test_the_daemon_backs_off_while_the_api_is_unreachable(state, tmp_path):
    """Samples keep being taken every interval, but tries are spaced out by the
    backoff, up to its cap."""
    env = collector_env(f"http://127.0.0.1:{free_port()}", state, VIGIE_ENROLL_TOKEN=ENROLL)
    log = tmp_path / "collector.log"
    args = [COLLECTOR, "run", "--interval", "0.1", "--retry-max", "1.6"]
    with process(args, env, log=log) as proc:
        wait_until(lambda: len(re.findall("next try in", log.read_text())) >= 6, what="6 tries")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    delays = [float(d) for d in re.findall(r"next try in ([0-9.]+) s", log.read_text())]
    assert delays[0] <= 1.0
    assert all(d <= 1.6 for d in delays)
    assert max(delays) >= 0.8  # the cap's half: the delays did grow to it
    # Far fewer tries than samples: one try per backoff delay, not one per sample.
    assert len(backlog_samples(state)) > len(delays)


def test_a_database_outage_keeps_the_sample_and_shows_the_apis_message(
    api_process, database_url, db, state, runner
):
    env = collector_env(api_process, state)
    register(runner, env)
    api_process.stop()
    api_process.start(database_url=with_dbname(database_url, "vigie_no_such_database"))
    result = runner.invoke(cli, ["once"], env=env)
    assert result.exit_code == 0, result.output
    assert "the API answered 503: the database is unreachable; retry later" in result.output
    assert "1 sample(s) wait in the backlog for the next run" in result.output
    assert len(backlog_samples(state)) == 1


def spoil_token(state) -> None:
    creds = credentials(state)
    creds["ingest_token"] = "vgi_not-the-right-one"
    path = state / "credentials.json"
    path.write_text(json.dumps(creds))


def test_a_refused_token_without_enrollment_token_stops_with_a_clear_message(
    api_process, db, state, tmp_path, runner
):
    env = collector_env(api_process, state)
    register(runner, env)
    spoil_token(state)

    result = runner.invoke(cli, ["once"], env=env)
    assert result.exit_code == 3, result.output
    assert "the API refused this server's ingest token" in result.output
    assert "vigie-collector register --enroll-token TOKEN" in result.output
    assert "Traceback" not in result.output
    assert len(backlog_samples(state)) == 1  # kept, not dropped

    # The daemon does not retry forever: it stops, saying why, with status 3
    # (which its systemd unit does not restart on).
    log = tmp_path / "collector.log"
    with process([COLLECTOR, "run"], env, log=log) as proc:
        assert proc.wait(60) == 3
    text = log.read_text()
    assert text.count("the API refused this server's ingest token") == 1
    assert stored(db) == []


def test_a_refused_token_with_enrollment_token_registers_again(api_process, db, state, runner):
    env = collector_env(api_process, state)
    register(runner, env)
    before = credentials(state)
    spoil_token(state)

    result = runner.invoke(cli, ["once"], env={**env, "VIGIE_ENROLL_TOKEN": ENROLL})
    assert result.exit_code == 0, result.output
    assert "registering again with the enrollment token" in result.output
    after = credentials(state)
    assert after["server_id"] == before["server_id"]
    assert after["ingest_token"] not in (before["ingest_token"], "vgi_not-the-right-one")
    assert len(stored(db, before["server_id"])) == 1
    assert (state / "credentials.json").stat().st_mode & 0o777 == 0o600


def test_a_wrong_enrollment_token_stops_the_daemon(api_process, db, state, tmp_path):
    env = collector_env(api_process, state, VIGIE_ENROLL_TOKEN="not-the-token")
    log = tmp_path / "collector.log"
    with process([COLLECTOR, "run", "--interval", "0.2"], env, log=log) as proc:
        assert proc.wait(60) == 3
    assert "the API refused the enrollment token: the enrollment token is not valid" in (
        log.read_text()
    )
    assert not (state / "credentials.json").exists()


def test_a_sample_the_api_refuses_is_dropped_with_the_apis_reason(api_process, db, state, runner):
    env = collector_env(api_process, state)
    register(runner, env)
    good = fill_backlog(state, 3)
    backlog = Backlog(state / "backlog.sqlite3")
    backlog.add({**good[0], "recorded_at": "2020-01-01T00:00:00Z", "cpu_percent": 150.0})
    backlog.close()

    result = runner.invoke(cli, ["once"], env=env)
    assert result.exit_code == 0, result.output
    assert "the API refused the sample taken at 2020-01-01T00:00:00Z: samples[3].cpu_percent" in (
        result.output
    )
    rows = stored(db)
    assert len(rows) == 4  # the three good ones and the new one
    assert_same_samples(rows[:3], good)


def test_batches_too_large_for_the_api_are_split(database_url, db, state, tmp_path, runner):
    api = ApiProcess(database_url, tmp_path / "api.log", {"VIGIE_MAX_BODY_BYTES": "3000"})
    api.start()
    try:
        env = collector_env(api, state)
        register(runner, env)
        taken = fill_backlog(state, 40)
        result = runner.invoke(cli, ["once"], env=env)
    finally:
        api.stop()
    assert result.exit_code == 0, result.output
    assert "the API refused a batch of 41 samples (request body is larger than" in result.output
    rows = stored(db)
    assert len(rows) == 41
    assert_same_samples(rows[:40], taken)
