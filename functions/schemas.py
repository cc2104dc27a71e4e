"""Request and response shapes. Requests are validated with these models; the
OpenAPI document's schemas are generated from the same models."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    create_model,
    field_validator,
)


def _rounded(digits: int) -> AfterValidator:
    # Far below any meaningful precision, and it keeps out values so small that the
    # database's floats would underflow (1e-50 % is 0 %).
    return AfterValidator(lambda value: round(value, digits))


Percent = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False), _rounded(4)]
# Sizes in binary units (MiB, GiB). The upper bound only keeps out absurd values
# that would overflow the database's 4-byte floats.
Size = Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False), _rounded(4)]
# Cumulative counters in MiB since the host booted, as psutil reports them.
Counter = Annotated[float, Field(ge=0, le=1e15, allow_inf_nan=False), _rounded(6)]
# A load average (runnable tasks, averaged): no upper bound but the float's.
Load = Annotated[float, Field(ge=0, le=1e6, allow_inf_nan=False), _rounded(4)]
Seconds = Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False), _rounded(3)]
# A sensor reading; the collector drops implausible ones, the API refuses them.
Celsius = Annotated[float, Field(ge=-40, le=150, allow_inf_nan=False), _rounded(2)]


def _whole_number(value: object) -> object:
    # JSON Schema (and so the OpenAPI document) counts 1.0 as an integer: so do we.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Integer = Annotated[int, BeforeValidator(_whole_number)]
ServerId = Annotated[Integer, Field(gt=0, le=2**31 - 1)]


def _storable_text(value: str) -> str:
    # PostgreSQL's text cannot hold NUL; any other character JSON can carry, it can.
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


# Every string of a request; the document says what the validator enforces.
Text = Annotated[
    str, Field(json_schema_extra={"pattern": "^[^\\x00]*$"}), AfterValidator(_storable_text)
]


# Samples older than this are a clock that was never set (a host at 1970), not
# history: buckets and rollups count from it, and every stored time stays one
# the database's clients can read back.
EARLIEST_SAMPLE = datetime(2000, 1, 1, tzinfo=UTC)


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# The lengths of the servers table's columns (sql/001).
NAME_LENGTH = 100
IP_LENGTH = 45


class RegisterRequest(Request):
    name: Annotated[Text, Field(min_length=1, max_length=NAME_LENGTH)] | None = None
    hostname: Annotated[Text, Field(min_length=1, max_length=255)]
    machine_id: Annotated[Text, Field(max_length=64)] = ""
    ip_address: Annotated[Text, Field(max_length=IP_LENGTH)] | None = None
    os_type: Annotated[Text, Field(max_length=50)] | None = None
    # Stored as a 4-byte float: 0.1 s is far below any useful interval, and keeps
    # out values that would underflow it (1e-50).
    interval_seconds: Annotated[float, Field(ge=0.1, le=3600, allow_inf_nan=False)] = 5

    @property
    def display_name(self) -> str:
        """The name, or the hostname cut to the length of a name."""
        return self.name or self.hostname[:NAME_LENGTH].rstrip()

    @field_validator("name", "hostname")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value.strip() if value is not None else None

    @field_validator("ip_address")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        try:
            address = str(ip_address(value))
        except ValueError:
            raise ValueError("must be an IPv4 or IPv6 address") from None
        if len(address) > IP_LENGTH:
            raise ValueError(f"must be at most {IP_LENGTH} characters written out")
        return address


def _text(length: int, minimum: int = 0) -> type:
    return Annotated[Text, Field(min_length=minimum, max_length=length)]


# Per-device lists: at most this many entries each.
MAX_DEVICES = 64
MAX_TOP = 10


class Filesystem(Request):
    mount: _text(255, 1)
    device: _text(255)
    fstype: _text(32)
    used_gb: Size
    total_gb: Size
    percent: Percent
    inodes_percent: Percent | None = None


class Disk(Request):
    name: _text(64, 1)
    read_mb: Counter
    write_mb: Counter
    reads: Counter = Field(description="read operations since boot")
    writes: Counter = Field(description="write operations since boot")
    busy_ms: Counter | None = Field(None, description="ms spent busy since boot")


class Interface(Request):
    name: _text(64, 1)
    sent_mb: Counter
    recv_mb: Counter
    counted: bool = Field(description="included in the host's network_sent_mb/recv_mb")


class Temperature(Request):
    sensor: _text(128, 1)
    celsius: Celsius


class Process(Request):
    pid: Annotated[Integer, Field(ge=0, le=2**31 - 1)]
    name: _text(128)
    user: _text(64) | None = None
    cpu_percent: Percent = Field(description="percent of all CPUs")
    rss_mb: Size


class TopProcesses(Request):
    cpu: Annotated[list[Process], Field(max_length=MAX_TOP)] = []
    memory: Annotated[list[Process], Field(max_length=MAX_TOP)] = []


def _devices(model: type) -> object:
    return Annotated[list[model], Field(max_length=MAX_DEVICES)] | None


TAG_PATTERN = "^[a-z0-9._-]{1,32}$"
MAX_TAGS = 16
TAG_RULE = "must be 1 to 32 characters of a-z, 0-9, '.', '_' or '-' (lowercase)"


def _tag(value: str) -> str:
    if not re.fullmatch(TAG_PATTERN, value):
        raise ValueError(TAG_RULE)
    return value


# A server's label; silences and share links may name one.
Tag = Annotated[str, Field(json_schema_extra={"pattern": TAG_PATTERN}), AfterValidator(_tag)]


class ServerUpdate(Request):
    """PATCH /api/servers/:id: a field left out is left as it is."""

    name: Annotated[Text, Field(min_length=1, max_length=NAME_LENGTH)] | None = None
    tags: Annotated[list[Tag], Field(max_length=MAX_TAGS)] | None = Field(
        None, description="Replaces the server's tags; [] removes them"
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value.strip() if value is not None else None

    @field_validator("tags")
    @classmethod
    def _distinct(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            twice = sorted({t for t in value if value.count(t) > 1})
            raise ValueError(f"must not name a tag twice ({', '.join(twice)})")
        return value


Reason = Annotated[Text, Field(min_length=1, max_length=500)]
Label = Annotated[Text, Field(max_length=100)]


class SilenceCreate(Request):
    """Exactly one of server_id and tag, and exactly one of duration and until."""

    server_id: ServerId | None = None
    tag: Tag | None = None
    duration: Text | None = Field(None, description="How long, from now: 90m, 2h, 7d")
    until: AwareDatetime | None = Field(None, description="When it ends (ISO-8601)")
    reason: Reason


class ShareCreate(Request):
    """Exactly one of server_id and tag, and exactly one of expires_in and expires_at."""

    server_id: ServerId | None = None
    tag: Tag | None = None
    expires_in: Text | None = Field(None, description="How long the link works: 1h, 7d")
    expires_at: AwareDatetime | None = Field(None, description="When it stops (ISO-8601)")
    label: Label | None = None


class MetricValues(Request):
    cpu_percent: Percent
    ram_percent: Percent
    ram_used_mb: Size
    ram_total_mb: Size
    disk_percent: Percent
    disk_used_gb: Size
    disk_total_gb: Size
    network_sent_mb: Counter
    network_recv_mb: Counter
    # The wide sample (vigie.wire.HOST_FIELDS, DEVICE_LISTS): all optional.
    load_1: Load | None = None
    load_5: Load | None = None
    load_15: Load | None = None
    cpu_count: Annotated[Integer, Field(ge=1, le=32767)] | None = None
    cpu_user_percent: Percent | None = None
    cpu_system_percent: Percent | None = None
    cpu_iowait_percent: Percent | None = None
    cpu_steal_percent: Percent | None = None
    swap_used_mb: Size | None = None
    swap_total_mb: Size | None = None
    swap_percent: Percent | None = None
    swap_in_mb: Counter | None = None
    swap_out_mb: Counter | None = None
    uptime_seconds: Seconds | None = None
    process_count: Annotated[Integer, Field(ge=0, le=2**31 - 1)] | None = None
    filesystems: _devices(Filesystem) = None
    disks: _devices(Disk) = None
    interfaces: _devices(Interface) = None
    temperatures: _devices(Temperature) = None
    top_processes: TopProcesses | None = None

    @field_validator("recorded_at", check_fields=False)
    @classmethod
    def _plausible_time(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        if value is None:
            return None
        skew = (info.context or {}).get("max_clock_skew", 300)
        # Compared before any conversion: 0001-01-01T00:30:00+01:00 is a valid time
        # that has no UTC form in Python (nor, read back, in the database driver).
        if value < EARLIEST_SAMPLE:
            raise ValueError("is before 2000-01-01; check the clock of the sending host")
        if value > datetime.now(UTC) + timedelta(seconds=skew):
            raise ValueError(
                f"is more than {skew} s in the future; check the clock of the sending host"
            )
        return value.astimezone(UTC)


class MetricSample(MetricValues):
    """One sample, as POST /api/metrics takes it (the seed's shape)."""

    server_id: ServerId
    # When the sample was taken. Optional, but a collector should always send it:
    # it is what makes a retried sample a no-op.
    recorded_at: AwareDatetime | None = None


class BatchSample(MetricValues):
    recorded_at: AwareDatetime


class MetricBatch(Request):
    server_id: ServerId
    samples: Annotated[list[BatchSample], Field(min_length=1)]


class RuleOverride(Request):
    """A server's own values for one metric's rule; a field left out (or null)
    follows the default."""

    threshold: Annotated[float, Field(ge=1, le=100, allow_inf_nan=False), _rounded(4)] | None = (
        Field(None, description="Fire at or over this percentage")
    )
    for_samples: Annotated[Integer, Field(ge=1, le=1000)] | None = Field(
        None, description="Fire after this many consecutive samples at or over the threshold"
    )
    clear_margin: Annotated[float, Field(ge=0, lt=100, allow_inf_nan=False), _rounded(4)] | None = (
        Field(None, description="Resolve on a sample below threshold - clear_margin (hysteresis)")
    )
    enabled: bool = True


class LoadRuleOverride(RuleOverride):
    """Load per core: load_1 / cpu_count."""

    threshold: Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False), _rounded(4)] | None = (
        Field(None, description="Fire at or over this load per core")
    )
    clear_margin: (
        Annotated[float, Field(ge=0, lt=1000, allow_inf_nan=False), _rounded(4)] | None
    ) = None


class TemperatureRuleOverride(RuleOverride):
    threshold: Annotated[float, Field(ge=-40, le=150, allow_inf_nan=False), _rounded(4)] | None = (
        Field(None, description="Fire at or over this temperature (°C), per sensor")
    )
    clear_margin: Annotated[float, Field(ge=0, lt=190, allow_inf_nan=False), _rounded(4)] | None = (
        None
    )


class OfflineRuleOverride(Request):
    enabled: bool = True


class AlertRulesUpdate(Request):
    """PUT /api/servers/:id/alert-rules replaces the server's overrides: a type left
    out (or null) follows the defaults again."""

    cpu: RuleOverride | None = None
    ram: RuleOverride | None = None
    disk: RuleOverride | None = None
    offline: OfflineRuleOverride | None = None
    load: LoadRuleOverride | None = None
    swap: RuleOverride | None = None
    filesystem: RuleOverride | None = Field(None, description="each mount point's percent used")
    inodes: RuleOverride | None = Field(None, description="each mount point's inodes used")
    temperature: TemperatureRuleOverride | None = None


# --- responses (documented in the OpenAPI document, checked by the tests) ---


class Error(BaseModel):
    class FieldError(BaseModel):
        field: str
        reason: str

    error: str
    message: str
    details: list[FieldError] | None = None


class Registered(BaseModel):
    id: int
    name: str
    created_at: datetime
    hostname: str
    machine_id: str
    interval_seconds: float
    created: bool = Field(description="false when this host was already registered")
    ingest_token: str = Field(
        description="The server's own token for POST /api/metrics. Shown once, stored hashed; "
        "registering again replaces it."
    )


class FullestFilesystem(BaseModel):
    mount: str
    percent: float


class LatestMetrics(BaseModel):
    cpu_percent: float
    ram_percent: float
    disk_percent: float
    recorded_at: datetime
    load_per_core: float | None = Field(
        description="The 1-minute load average per logical CPU (above 1: more runnable work "
        "than CPUs); null when the newest sample reported no load"
    )
    fs_fullest: FullestFilesystem | None = Field(
        description="The most used filesystem of the newest sample that reported filesystems"
    )


class ActiveSilence(BaseModel):
    id: int
    ends_at: datetime
    reason: str
    tag: str | None = Field(description="The tag it silences; null: this server itself")


class Server(BaseModel):
    id: int
    name: str
    hostname: str
    machine_id: str
    ip_address: str | None
    os_type: str | None
    created_at: datetime
    last_seen: datetime | None
    is_active: bool
    interval_seconds: float
    latest: LatestMetrics | None
    tags: list[str]
    silence: ActiveSilence | None = Field(
        description="The active silence covering it (its own or one of its tags'), the one "
        "that ends last; null: notifications are sent"
    )


class Silence(BaseModel):
    id: int
    server_id: int | None
    tag: str | None
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_at: datetime


class Share(BaseModel):
    id: int
    server_id: int | None
    tag: str | None
    label: str | None
    expires_at: datetime
    created_at: datetime


class ShareCreated(Share):
    token: str = Field(description="The link's secret, shown once (stored as its SHA-256)")
    url: str = Field(description="The share page: <VIGIE_PUBLIC_URL or the origin>/share/<token>")


class Stored(BaseModel):
    id: int
    recorded_at: datetime
    duplicate: bool = Field(description="true when this sample was already stored")


class BatchStored(BaseModel):
    accepted: int
    inserted: int
    duplicates: int


class CurrentFilesystem(BaseModel):
    mount: str
    device: str
    fstype: str
    percent: float
    used_gb: float
    total_gb: float
    inodes_percent: float | None


class CurrentDisk(BaseModel):
    name: str
    read_mb: float
    write_mb: float
    reads: float
    writes: float
    busy_ms: float | None
    read_mb_s: float | None = Field(description="since the previous sample")
    write_mb_s: float | None
    reads_s: float | None = Field(description="operations per second")
    writes_s: float | None
    busy_percent: float | None = Field(description="share of the time busy")


class CurrentInterface(BaseModel):
    name: str
    sent_mb: float
    recv_mb: float
    counted: bool
    sent_mb_s: float | None
    recv_mb_s: float | None


class CurrentTemperature(BaseModel):
    sensor: str
    celsius: float


class ProcessOut(BaseModel):
    pid: int
    name: str
    user: str | None = None
    cpu_percent: float
    rss_mb: float


class TopProcessesOut(BaseModel):
    cpu: list[ProcessOut] = []
    memory: list[ProcessOut] = []


class WideCurrent(BaseModel):
    """The wide sample's fields: null when the sample did not carry them."""

    load_1: float | None
    load_5: float | None
    load_15: float | None
    cpu_count: int | None
    cpu_user_percent: float | None
    cpu_system_percent: float | None
    cpu_iowait_percent: float | None
    cpu_steal_percent: float | None
    swap_used_mb: float | None
    swap_total_mb: float | None
    swap_percent: float | None
    swap_in_mb: float | None
    swap_out_mb: float | None
    swap_in_mb_s: float | None = Field(description="MiB/s since the previous sample")
    swap_out_mb_s: float | None
    uptime_seconds: float | None
    process_count: int | None
    filesystems: list[CurrentFilesystem] | None
    disks: list[CurrentDisk] | None
    interfaces: list[CurrentInterface] | None
    temperatures: list[CurrentTemperature] | None
    top_processes: TopProcessesOut | None = Field(
        description="The latest top processes the server sent (not every sample has them)"
    )
    top_processes_at: datetime | None = Field(description="when they were sampled")


class CurrentMetrics(WideCurrent):
    server_id: int
    id: int
    recorded_at: datetime
    cpu_percent: float
    ram_percent: float
    ram_used_mb: float
    ram_total_mb: float
    disk_percent: float
    disk_used_gb: float
    disk_total_gb: float
    network_sent_mb: float
    network_recv_mb: float
    network_sent_mb_s: float | None = Field(description="MiB/s since the previous sample")
    network_recv_mb_s: float | None


class CoreHistoryPoint(BaseModel):
    recorded_at: datetime = Field(description="start of the bucket")
    samples: int
    cpu_percent: float
    cpu_percent_max: float
    ram_percent: float
    ram_percent_max: float
    ram_used_mb: float
    ram_total_mb: float
    disk_percent: float
    disk_percent_max: float
    disk_used_gb: float
    disk_total_gb: float
    network_sent_mb: float = Field(description="cumulative counter at the end of the bucket")
    network_recv_mb: float
    network_sent_mb_s: float | None = Field(description="average MiB/s over the bucket")
    network_recv_mb_s: float | None
    network_sent_mb_s_max: float | None
    network_recv_mb_s_max: float | None


def _optional(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: (kind | None, Field(None)) for name, kind in fields.items()}


def _with_peaks(names: tuple[str, ...]) -> dict[str, Any]:
    return _optional({n: float for name in names for n in (name, f"{name}_max")})


HistoryFilesystem = create_model(
    "HistoryFilesystem",
    mount=(str, ...),
    **_with_peaks(("percent", "used_gb", "total_gb", "inodes_percent")),
)
HistoryDisk = create_model(
    "HistoryDisk",
    name=(str, ...),
    **_with_peaks(("read_mb_s", "write_mb_s", "reads_s", "writes_s", "busy_percent")),
)
HistoryInterface = create_model(
    "HistoryInterface", name=(str, ...), **_with_peaks(("sent_mb_s", "recv_mb_s"))
)
HistoryTemperature = create_model(
    "HistoryTemperature", sensor=(str, ...), **_with_peaks(("celsius",))
)
# A history point: the seed's fields (group `core`), and those of the other groups
# asked for (`metrics`); a host value with its peak, a device list per group.
HistoryPoint = create_model(
    "HistoryPoint",
    recorded_at=(datetime, Field(description="start of the bucket")),
    samples=(int, ...),
    **_optional(
        {
            name: info.annotation
            for name, info in CoreHistoryPoint.model_fields.items()
            if name not in ("recorded_at", "samples")
        }
    ),
    **_with_peaks(
        (
            "load_1",
            "load_5",
            "load_15",
            "cpu_count",
            "cpu_user_percent",
            "cpu_system_percent",
            "cpu_iowait_percent",
            "cpu_steal_percent",
            "swap_used_mb",
            "swap_total_mb",
            "swap_percent",
            "swap_in_mb_s",
            "swap_out_mb_s",
        )
    ),  # fmt: skip
    filesystems=(list[HistoryFilesystem] | None, Field(None)),
    disks=(list[HistoryDisk] | None, Field(None)),
    interfaces=(list[HistoryInterface] | None, Field(None)),
    temperatures=(list[HistoryTemperature] | None, Field(None)),
)


class FleetPoint(BaseModel):
    recorded_at: datetime = Field(description="start of the bucket")
    cpu_percent: float = Field(description="average over the bucket")
    ram_percent: float
    disk_percent: float


class FleetHistory(BaseModel):
    server_id: int
    points: list[FleetPoint] = Field(description="buckets in time order; empty: no samples")


class TierStats(BaseModel):
    tier: str = Field(description="raw, 1m or 1h")
    bucket_seconds: int | None = Field(description="width of a rollup row; null for raw samples")
    retention_seconds: int | None = Field(description="how long this tier is kept; null: forever")
    expired_before: datetime | None = Field(
        description="data older than this has been removed; null: nothing expired yet"
    )
    partitions: int
    rows: int = Field(description="estimated by PostgreSQL's statistics (exact after ANALYZE)")
    bytes: int = Field(description="on disk: table, indexes and TOAST")
    bytes_per_row: float | None


class HistoryStats(BaseModel):
    tiers: list[TierStats]
    total_bytes: int
    maintained_at: datetime | None = Field(
        description="when retention last ran; null: never (see the README's maintenance section)"
    )


class Health(BaseModel):
    status: str
    database: str


class AlertRule(BaseModel):
    threshold: float
    for_samples: int
    clear_margin: float
    clear_level: float = Field(description="threshold - clear_margin: a firing alert resolves "
                               "on the first sample below it")  # fmt: skip
    enabled: bool


class OfflineRule(BaseModel):
    enabled: bool


class AlertRules(BaseModel):
    server_id: int
    cpu: AlertRule
    ram: AlertRule
    disk: AlertRule
    offline: OfflineRule
    load: AlertRule = Field(description="load_1 per logical CPU")
    swap: AlertRule
    filesystem: AlertRule = Field(description="each mount point its own alert")
    inodes: AlertRule
    temperature: AlertRule = Field(description="°C, each sensor its own alert")
    overrides: dict[str, dict[str, float | int | bool]] = Field(
        description="What this server sets itself, in the shape PUT takes; the rest "
        "follows the defaults (VIGIE_ALERT_*)"
    )


AlertType = Literal[
    "cpu", "ram", "disk", "offline", "load", "swap", "filesystem", "inodes", "temperature"
]


class AlertTopProcesses(TopProcessesOut):
    recorded_at: datetime = Field(description="when the collector sampled them")


class Alert(BaseModel):
    id: int
    server_id: int
    server_name: str
    hostname: str
    type: AlertType
    state: Literal["firing", "resolved"]
    value: float = Field(
        description="The value that fired it (percent); offline: seconds since the last sample"
    )
    threshold: float | None = Field(description="The threshold in force; null for offline")
    peak: float | None = Field(description="The highest value while firing; null for offline")
    started_at: datetime = Field(
        description="Time of the sample that fired it; offline: when the silence was noticed"
    )
    resolved_at: datetime | None
    resolved_value: float | None = Field(
        description="The value that resolved it; null for offline or a disabled rule"
    )
    device: str | None = Field(
        None, description="The mount point (filesystem, inodes) or sensor (temperature)"
    )
    top_processes: AlertTopProcesses | None = Field(
        None, description="The top processes when it fired (kept after the samples expire)"
    )


# --- query parameters ---

# What a history request may ask for (`metrics`): the seed's fields, and the wide
# sample's groups.
HISTORY_GROUPS = ("core", "load", "cpu", "swap", "filesystems", "disks", "interfaces",
                  "temperatures")  # fmt: skip
# History buckets a request may name (`interval`), in seconds.
INTERVALS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600}
# Fleet history (trends of many servers): its buckets, and servers per request.
FLEET_INTERVALS = {"1m": 60, "5m": 300}
MAX_FLEET_IDS = 500
ALERT_STATES = ("active", "resolved", "all")
DEFAULT_ALERT_LIMIT = 50
MAX_ALERT_LIMIT = 500
