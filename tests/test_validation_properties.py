"""Property tests of sample validation: whatever the payload, a valid sample is
stored exactly, and an invalid one is refused with its field named and nothing
stored."""

import math
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigie.wire import COUNTERS, SAMPLE_FIELDS

from .conftest import bearer

# The sample's fields by kind, from the one list the API and the relay share.
PERCENTS = [f for f, kind in SAMPLE_FIELDS.items() if kind == "percent"]
SIZES = [f for f, kind in SAMPLE_FIELDS.items() if kind == "size"]

percent = st.floats(0, 100, allow_nan=False)
size = st.floats(0, 1e9, allow_nan=False)
counter = st.floats(0, 1e12, allow_nan=False)
moment = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2026, 1, 1), timezones=st.just(UTC)
)

valid_sample = st.fixed_dictionaries(
    {
        **{f: percent for f in PERCENTS},
        **{f: size for f in SIZES},
        **{f: counter for f in COUNTERS},
        "recorded_at": moment,
    }
)

# For each field, values that must be refused.
not_a_number = st.one_of(st.text(max_size=5), st.booleans(), st.none(), st.lists(st.integers()))
bad_values = {
    **{
        f: st.one_of(not_a_number, st.floats(min_value=100.001), st.floats(max_value=-0.001))
        for f in PERCENTS
    },
    **{
        f: st.one_of(not_a_number, st.floats(max_value=-0.001), st.floats(min_value=1.01e12))
        for f in SIZES
    },
    **{f: st.one_of(not_a_number, st.floats(max_value=-0.001)) for f in COUNTERS},
    "recorded_at": st.one_of(
        st.text(max_size=12),
        st.integers(),
        st.datetimes(min_value=datetime(2000, 1, 1)).map(lambda d: d.isoformat()),  # no zone
        st.timedeltas(timedelta(hours=1), timedelta(days=3650)).map(
            lambda d: (datetime.now(UTC) + d).isoformat()
        ),  # in the future
    ),
}


def payload(values: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items()}


SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(values=valid_sample)
def test_a_valid_sample_is_stored_exactly(api, db, values):
    db.execute("TRUNCATE servers, metrics CASCADE")
    sid, token = api.register()
    response = api.client.post(
        "/api/metrics", json={"server_id": sid, **payload(values)}, headers=bearer(token)
    )
    assert response.status_code == 201, response.json
    row = db.execute("SELECT * FROM metrics").fetchone()
    assert row["recorded_at"] == values["recorded_at"]
    for field in PERCENTS + SIZES:
        # Stored as 4-byte floats: 7 significant digits.
        # (and rounded to 4 decimals, far below any meaningful precision).
        assert math.isclose(row[field], values[field], rel_tol=1e-6, abs_tol=1e-4), field
    for field in COUNTERS:
        assert math.isclose(row[field], values[field], rel_tol=1e-15, abs_tol=1e-6), field


@SETTINGS
@given(values=valid_sample, data=st.data())
def test_an_invalid_field_is_named_and_nothing_is_stored(api, db, values, data):
    db.execute("TRUNCATE servers, metrics CASCADE")
    sid, token = api.register()
    field = data.draw(st.sampled_from(sorted(bad_values)))
    body = {"server_id": sid, **payload(values), field: data.draw(bad_values[field])}
    response = api.client.post("/api/metrics", json=body, headers=bearer(token))
    assert response.status_code == 400
    assert [d["field"] for d in response.json["details"]] == [field]
    assert db.execute("SELECT count(*) AS n FROM metrics").fetchone()["n"] == 0
