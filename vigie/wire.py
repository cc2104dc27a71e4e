"""The wire format the functions and the relay share: a sample's fields, and how
times are written.

A field is named once here for both sides: the API validates and answers with
these fields, and the relay's ``metrics-update`` carries the same ones.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

# The values of a sample, in the seed's names, with their kind: "percent" (0-100),
# "size" (MiB or GiB, binary units) and "counter" (cumulative MiB since the host
# booted, as psutil reports them; throughput is derived from consecutive samples).
SAMPLE_FIELDS: dict[str, str] = {
    "cpu_percent": "percent",
    "ram_percent": "percent",
    "ram_used_mb": "size",
    "ram_total_mb": "size",
    "disk_percent": "percent",
    "disk_used_gb": "size",
    "disk_total_gb": "size",
    "network_sent_mb": "counter",
    "network_recv_mb": "counter",
}
COUNTERS = tuple(name for name, kind in SAMPLE_FIELDS.items() if kind == "counter")


def isoformat(value: datetime) -> str:
    """ISO-8601 in UTC with the shortest exact fraction: ...:05Z, ...:05.678Z."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    if value.microsecond % 1000:
        timespec = "microseconds"
    elif value.microsecond:
        timespec = "milliseconds"
    else:
        timespec = "seconds"
    return value.isoformat(timespec=timespec).replace("+00:00", "Z")


# A time with its UTC offset, as PostgreSQL's JSON writes timestamptz values (in
# the writer's session time zone: +00:00, +02:00...) and as Python writes them.
TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}(:\d{2}){0,2})")


def wire(value: Any) -> Any:
    """A payload with every time as the API writes it: UTC, ending in Z, with the
    shortest exact fraction. Payloads built in SQL (alerts) carry PostgreSQL's
    format; every realtime event goes through this, so a new field or event cannot
    miss it."""
    if isinstance(value, dict):
        return {k: wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [wire(v) for v in value]
    if isinstance(value, datetime) and value.tzinfo is not None:
        return isoformat(value)
    if isinstance(value, str) and TIME.fullmatch(value):
        try:
            return isoformat(datetime.fromisoformat(value))
        except ValueError:
            return value
    return value
