"""The rules written in more than one place are fed the same cases: the duration
grammar (the core's settings and the collector), the retryable HTTP statuses (the
relay's webhooks and the collector), and the counter-reset rule (the database's
vigie_counter_rate and the dashboard's counterRate)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from realtime.webhooks import retryable_status
from vigie.settings import ConfigError, parse_duration

from .helpers import ROOT

CASES = ROOT / "tests" / "cases"
DURATIONS = json.loads((CASES / "durations.json").read_text())
STATUSES = json.loads((CASES / "retryable_statuses.json").read_text())
COUNTERS = json.loads((ROOT / "frontend" / "src" / "utils" / "counterCases.json").read_text())


@pytest.mark.parametrize("case", DURATIONS, ids=[repr(c["text"]) for c in DURATIONS])
def test_the_settings_read_durations_as_the_collector_does(case):
    if case.get("error"):
        with pytest.raises(ConfigError, match="VIGIE_X must be a duration such as"):
            parse_duration("VIGIE_X", case["text"])
    elif case["seconds"] is None:
        assert parse_duration("VIGIE_X", case["text"]) is None
        with pytest.raises(ConfigError):
            parse_duration("VIGIE_X", case["text"], allow_forever=False)
    else:
        assert parse_duration("VIGIE_X", case["text"]) == timedelta(seconds=case["seconds"])


def test_the_duration_cases_cover_every_kind():
    kinds = {"error" if c.get("error") else "forever" if c["seconds"] is None else "ok"
             for c in DURATIONS}  # fmt: skip
    assert kinds == {"error", "forever", "ok"}


@pytest.mark.parametrize("status", STATUSES["retryable"])
def test_webhooks_retry_what_the_collector_retries(status):
    assert retryable_status(status)


@pytest.mark.parametrize("status", STATUSES["final"])
def test_webhooks_give_up_on_what_the_collector_gives_up_on(status):
    assert not retryable_status(status)


def test_the_database_rates_counters_as_the_dashboard_does(db):
    assert len(COUNTERS) >= 5
    for case in COUNTERS:
        prev, curr = case["prev"], case["curr"]
        row = db.execute(
            "SELECT vigie_counter_rate(%s, %s, %s) AS rate",
            [curr[1], prev[1] if prev else None, curr[0] - prev[0] if prev else None],
        ).fetchone()
        assert row["rate"] == case["rate"], case
