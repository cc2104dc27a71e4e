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

# The wide sample's host values, all optional, with their kind: as above, plus
# "load" (a load average, >= 0), "integer" and "seconds" (>= 0). Each is a column
# of `metrics` of the same name.
HOST_FIELDS: dict[str, str] = {
    "load_1": "load",
    "load_5": "load",
    "load_15": "load",
    "cpu_count": "integer",
    "cpu_user_percent": "percent",
    "cpu_system_percent": "percent",
    "cpu_iowait_percent": "percent",
    "cpu_steal_percent": "percent",
    "swap_used_mb": "size",
    "swap_total_mb": "size",
    "swap_percent": "percent",
    "swap_in_mb": "counter",
    "swap_out_mb": "counter",
    "uptime_seconds": "seconds",
    "process_count": "integer",
}
HOST_COUNTERS = tuple(name for name, kind in HOST_FIELDS.items() if kind == "counter")

# The per-device lists: the field naming a device, then its values with their kind,
# in the order `metrics` stores them (sql/102_wide_sample.sql). A counter's rate is
# derived like the network's, as `<field>_s` (MiB/s; operations/s; busy_ms gives
# busy_percent instead).
DEVICE_LISTS: dict[str, tuple[str, dict[str, str]]] = {
    "filesystems": (
        "mount",
        {"percent": "percent", "used_gb": "size", "total_gb": "size", "inodes_percent": "percent"},
    ),
    "disks": (
        "name",
        {
            "read_mb": "counter",
            "write_mb": "counter",
            "reads": "counter",
            "writes": "counter",
            "busy_ms": "counter",
        },
    ),
    "interfaces": ("name", {"sent_mb": "counter", "recv_mb": "counter"}),
    "temperatures": ("sensor", {"celsius": "celsius"}),
}
# The wide fields a sample carries besides its values (lists and the top processes).
WIDE_FIELDS = (*HOST_FIELDS, *DEVICE_LISTS, "top_processes")


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


# How the database keys a series value (vigie_series_key, sql/routines/rollups.sql):
# kind * 2**27 + device * 32 + field, the field counted from 1 in the order above.
KINDS = ("host", *DEVICE_LISTS)
KIND_BITS, DEVICE_BITS = 2**27, 32
# Where each kind's values and device numbers are stored, and its dictionary.
DEVICE_COLUMNS = {
    "filesystems": ("fs_ids", "fs_values", "fs_names"),
    "disks": ("disk_ids", "disk_values", "disk_names"),
    "interfaces": ("if_ids", "if_values", "if_names"),
    "temperatures": ("temp_ids", "temp_values", "temp_names"),
}
# The columns a stored sample's wide part is read from (with vigie_series_rates'
# rate_keys and rates, and the server's dictionary).
WIDE_COLUMNS = (
    *HOST_FIELDS,
    *(c for ids, values, _names in DEVICE_COLUMNS.values() for c in (ids, values)),
)
DICTIONARY_COLUMNS = (
    *(names for _ids, _values, names in DEVICE_COLUMNS.values()),
    "fs_devices",
    "fs_types",
)


def series_key(kind: str, device: int, field: int) -> int:
    return KINDS.index(kind) * KIND_BITS + device * DEVICE_BITS + field


def rate_name(field: str) -> str:
    """A counter's rate in the API: busy_ms gives busy_percent, the others per second."""
    return "busy_percent" if field == "busy_ms" else f"{field}_s"


def rate_value(field: str, per_second: float | None) -> float | None:
    if per_second is None or field != "busy_ms":
        return per_second
    # ms busy per second of wall time: a tenth of it is the percent of time busy.
    return round(min(per_second / 10, 100.0), 4)


def wide_sample(row: dict) -> dict:
    """The wide part of a stored sample, as `current` and `metrics-update` give it:
    the host values, each device list (None when the sample has none) with the
    rates of its counters since the sample before (None when it has none)."""
    rates = dict(zip(row.get("rate_keys") or (), row.get("rates") or (), strict=True))
    data: dict[str, Any] = {}
    for i, (name, kind) in enumerate(HOST_FIELDS.items(), start=1):
        value = row[name]
        data[name] = int(value) if kind == "integer" and value is not None else value
        if kind == "counter":
            data[rate_name(name)] = rates.get(series_key("host", 0, i))
    for kind, (key, fields) in DEVICE_LISTS.items():
        ids_column, values_column, names_column = DEVICE_COLUMNS[kind]
        ids, values, names = row[ids_column], row[values_column], row[names_column]
        if ids is None:
            data[kind] = None
            continue
        entries = []
        for device, vals in zip(ids, values, strict=True):
            vals = vals if isinstance(vals, list) else [vals]
            entry: dict[str, Any] = {key: names[device - 1]}
            if kind == "filesystems":
                entry["device"] = row["fs_devices"][device - 1]
                entry["fstype"] = row["fs_types"][device - 1]
            for j, (field, field_kind) in enumerate(fields.items(), start=1):
                entry[field] = vals[j - 1]
                if field_kind == "counter":
                    per_second = rates.get(series_key(kind, device, j))
                    entry[rate_name(field)] = rate_value(field, per_second)
            if kind == "interfaces":
                entry["counted"] = bool(vals[2])
            entries.append(entry)
        data[kind] = entries
    return data
