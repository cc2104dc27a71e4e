"""Rules the collector shares with Vigie's server, checked against the same case
files (tests/cases/): how a duration is written, which HTTP statuses are retried."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from vigie_collector.cli import cli
from vigie_collector.client import ApiError, is_retryable
from vigie_collector.durations import (
    UNITS,
    DurationError,
    format_duration,
    parse_duration,
)

CASES = Path(__file__).parent / "cases"
DURATIONS = json.loads((CASES / "durations.json").read_text())
STATUSES = json.loads((CASES / "retryable_statuses.json").read_text())


def test_the_duration_cases_cover_the_grammar():
    """A thin case file would make the shared test pass vacuously."""
    texts = [c["text"] for c in DURATIONS]
    assert len(texts) == len(set(texts))
    for case in DURATIONS:
        assert set(case) in ({"text", "seconds"}, {"text", "error"}), case
        assert case.get("error", True) is True
    units = {c["text"].strip()[-1].lower() for c in DURATIONS if c.get("seconds")}
    assert set(UNITS) <= units
    assert {"forever", "", "0", "-5m"} <= set(texts)


@pytest.mark.parametrize("case", DURATIONS, ids=lambda c: repr(c["text"])[:40])
def test_durations_parse_as_the_shared_cases_say(case):
    text = case["text"]
    if case.get("error"):
        for allow_forever in (False, True):
            with pytest.raises(DurationError) as raised:
                parse_duration(text, allow_forever=allow_forever)
            assert "e.g. 90s, 15m, 12h, 7d, 2w" in str(raised.value)
    elif case["seconds"] is None:
        assert parse_duration(text, allow_forever=True) is None
        with pytest.raises(DurationError, match="this setting needs a limit"):
            parse_duration(text)
    else:
        for allow_forever in (False, True):
            assert parse_duration(text, allow_forever=allow_forever) == pytest.approx(
                case["seconds"], rel=1e-12
            )


@given(
    st.integers(min_value=1, max_value=10**6),
    st.sampled_from(sorted(UNITS)),
    st.text(" ", max_size=2),
    st.text(" ", max_size=2),
    st.booleans(),
)
def test_any_positive_number_with_any_unit_parses(number, unit, before, between, upper):
    unit_text = unit.upper() if upper else unit
    assert parse_duration(f"{before}{number}{between}{unit_text}") == number * UNITS[unit]


@given(st.floats(min_value=1e-3, max_value=1e9))
def test_a_number_from_a_config_file_is_seconds(seconds):
    assert parse_duration(seconds) == seconds


@pytest.mark.parametrize("value", [0, -1, 0.0, math.inf, math.nan, True])
def test_a_number_that_is_no_duration_is_refused(value):
    with pytest.raises(DurationError):
        parse_duration(value)


@given(st.integers(min_value=1, max_value=10**9))
def test_a_formatted_duration_reads_back_the_same(seconds):
    assert parse_duration(format_duration(seconds)) == seconds


@given(st.floats(min_value=1e-3, max_value=1e9))
def test_a_formatted_fraction_reads_back_to_the_microsecond(seconds):
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds, abs=1e-6)


def test_the_collector_takes_every_unit_and_forever_only_for_the_backlog_age(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("VIGIE_"):
            monkeypatch.delenv(name)
    runner = CliRunner()

    def status(*args: str):
        return runner.invoke(
            cli, ["status", "--state-dir", str(tmp_path), "--api-url", "http://127.0.0.1:9", *args]
        )

    shown = status("--backlog-max-age", "2W", "--retry-max", " 1.5 m")
    assert shown.exit_code == 0, shown.output
    assert "100000 samples, 14d" in shown.output
    shown = status("--backlog-max-age", "forever")
    assert shown.exit_code == 0, shown.output
    assert "100000 samples, forever" in shown.output
    refused = status("--retry-max", "forever")
    assert refused.exit_code == 2
    assert "this setting needs a limit (e.g. 90s, 15m, 12h, 7d, 2w)" in refused.output


def test_the_status_cases_are_disjoint():
    assert STATUSES["retryable"] and STATUSES["final"]
    assert not set(STATUSES["retryable"]) & set(STATUSES["final"])


@pytest.mark.parametrize("status", STATUSES["retryable"])
def test_a_retryable_status_is_retried(status):
    assert is_retryable(status)
    assert ApiError(status, "", "busy").retryable


@pytest.mark.parametrize("status", STATUSES["final"])
def test_a_final_status_is_not_retried(status):
    assert not is_retryable(status)
    assert not ApiError(status, "", "refused").retryable
