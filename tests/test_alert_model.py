"""The evaluation in SQL agrees with a plain model of the rules, for any sequence of
values, any rule, any way of cutting the sequence into requests, retries, and
samples sent late."""

from __future__ import annotations

import json
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .helpers import iso, minutes_ago, sample

BASE = minutes_ago(600)
# Values on and around the interesting lines of the rules below.
VALUES = st.sampled_from([0.0, 50.0, 69.9, 70.0, 75.0, 79.9, 80.0, 84.9, 85.0, 89.9, 90.0, 100.0])


def model(
    values: list[float],
    requests: list[list[int]],
    threshold: float,
    for_samples: int,
    margin: float,
) -> list[dict]:
    """The rules as the README states them. `requests` are the indexes of the samples
    each write carries, in the order they were sent."""
    alerts: list[dict] = []
    active: dict | None = None
    over = 0
    stored: set[int] = set()
    newest = -1
    for request in requests:
        new = sorted(set(request) - stored)  # a retried sample is stored once
        stored.update(new)
        # Only samples newer than everything stored before count; older ones arrived late.
        evaluated = [i for i in new if i > newest]
        newest = max([newest, *new])
        for i in evaluated:
            value = values[i]
            if active is not None:
                if value < threshold - margin:
                    active.update(resolved=i, resolved_value=value)
                    active = None
                else:
                    active["peak"] = max(active["peak"], value)
            elif value >= threshold:
                over += 1
                if over >= for_samples:
                    active = {"started": i, "value": value, "peak": value, "resolved": None,
                              "resolved_value": None}  # fmt: skip
                    alerts.append(active)
                    over = 0
            else:
                over = 0
    return alerts


@st.composite
def scenarios(draw):
    values = draw(st.lists(VALUES, min_size=1, max_size=40))
    threshold = draw(st.sampled_from([70.0, 80.0, 90.0]))
    for_samples = draw(st.integers(1, 4))
    margin = draw(st.sampled_from([0.0, 5.0, 10.0]))
    # Mostly in time order, as collectors send; some samples are sent late.
    order = list(range(len(values)))
    for _ in range(draw(st.integers(0, 3))):
        late = order.pop(draw(st.integers(0, len(order) - 1)))
        order.insert(draw(st.integers(0, len(order))), late)
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(values) - 1)), max_size=6)))
    bounds = [0, *[c for c in cuts if c < len(values)], len(values)]
    requests = [order[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if a < b]
    # Some requests are sent twice (a collector retrying after a lost answer).
    sent = []
    for request in requests:
        sent.append(request)
        if draw(st.booleans()):
            sent.append(request)
    return values, (threshold, for_samples, margin), sent


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(scenario=scenarios())
def test_sql_evaluation_matches_the_model(db, scenario):
    values, (threshold, for_samples, margin), requests = scenario
    sid = db.execute(
        "INSERT INTO servers (name, hostname, token_hash) "
        "VALUES ('m', 'model-' || gen_random_uuid(), sha256('x')) RETURNING id"
    ).fetchone()["id"]
    defaults = json.dumps({"cpu": threshold, "for_samples": for_samples, "clear_margin": margin})
    times = [BASE + timedelta(seconds=5 * i) for i in range(len(values))]
    for indexes in requests:
        body = [sample(recorded_at=iso(times[i]), cpu_percent=values[i]) for i in indexes]
        with db.transaction():
            # What the API's ingest does: the configured defaults, then the samples.
            db.execute("SELECT set_config('vigie.alert_defaults', %s, true)", [defaults])
            db.execute("SELECT * FROM vigie_ingest(%s, %s)", [sid, json.dumps(body)])

    stored = db.execute(
        "SELECT * FROM alerts WHERE server_id = %s AND type = 'cpu' ORDER BY id", [sid]
    ).fetchall()
    index = {t: i for i, t in enumerate(times)}
    got = [
        {
            "started": index[a["started_at"]],
            "value": a["value"],
            "peak": a["peak"],
            "resolved": None if a["resolved_at"] is None else index[a["resolved_at"]],
            "resolved_value": a["resolved_value"],
        }
        for a in stored
    ]
    assert got == model(values, requests, threshold, for_samples, margin)
