"""The evaluation in SQL agrees with a plain model of the rules, for any sequence of
values, any rule, and any way of cutting the sequence into requests (retries too)."""

from __future__ import annotations

import json
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .helpers import iso, minutes_ago, sample

BASE = minutes_ago(600)
# Values on and around the interesting lines of the rules below.
VALUES = st.sampled_from([0.0, 50.0, 69.9, 70.0, 75.0, 79.9, 80.0, 84.9, 85.0, 89.9, 90.0, 100.0])


def model(values: list[float], threshold: float, for_samples: int, margin: float) -> list[dict]:
    """The rules as the README states them."""
    alerts: list[dict] = []
    active: dict | None = None
    over = 0
    for i, value in enumerate(values):
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
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(values) - 1)), max_size=6)))
    bounds = [0, *[c for c in cuts if c < len(values)], len(values)]
    requests = [list(range(a, b)) for a, b in zip(bounds, bounds[1:], strict=False) if a < b]
    # Some requests are sent twice (a collector retrying after a lost answer).
    retried = draw(st.lists(st.booleans(), min_size=len(requests), max_size=len(requests)))
    shuffle = draw(st.randoms())
    return values, (threshold, for_samples, margin), requests, retried, shuffle


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(scenario=scenarios())
def test_sql_evaluation_matches_the_model(db, scenario):
    values, (threshold, for_samples, margin), requests, retried, shuffle = scenario
    sid = db.execute(
        "INSERT INTO servers (name, hostname, token_hash) "
        "VALUES ('m', 'model-' || gen_random_uuid(), sha256('x')) RETURNING id"
    ).fetchone()["id"]
    defaults = json.dumps({"cpu": threshold, "for_samples": for_samples, "clear_margin": margin})
    times = [BASE + timedelta(seconds=5 * i) for i in range(len(values))]
    for indexes, again in zip(requests, retried, strict=True):
        body = [sample(recorded_at=iso(times[i]), cpu_percent=values[i]) for i in indexes]
        shuffle.shuffle(body)  # the order inside a batch does not matter
        for _ in range(2 if again else 1):
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
    assert got == model(values, threshold, for_samples, margin)
