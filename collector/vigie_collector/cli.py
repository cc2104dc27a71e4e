"""The ``vigie-collector`` command.

Every setting comes from, in order of precedence: a command-line option, an
environment variable, the config file (``--config``, JSON or YAML), the default.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from . import __version__
from .agent import Agent, Fatal, NotConfigured, Settings
from .backlog import Backlog
from .client import ApiError, Client, Unreachable
from .durations import DurationError, format_duration, parse_duration
from .sampler import Sampler
from .state import StateDir, StateError

log = logging.getLogger("vigie_collector")

# Exit status when only a person can fix things (refused token, wrong URL): the
# systemd unit does not restart on it (RestartPreventExitStatus=3).
EXIT_FATAL = 3


def default_state_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/vigie-collector")
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "vigie-collector"


class ApiUrl(click.ParamType):
    name = "url"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip().rstrip("/")
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.fail(f"{value!r} is not an http:// or https:// URL", param, ctx)
        return text


class Duration(click.ParamType):
    """Seconds, or a number with a unit (s, m, h, d, w, y): 90s, 15m, 12h, 7d, 2w;
    and ``forever`` where the setting allows no limit (then None)."""

    name = "duration"

    def __init__(self, allow_forever: bool = False) -> None:
        self.allow_forever = allow_forever

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float | None:
        if value is None:
            return None
        try:
            return parse_duration(value, self.allow_forever)
        except DurationError as exc:
            self.fail(str(exc), param, ctx)


class Text(click.ParamType):
    """A non-empty text of at most ``max_length`` characters (the API's limit)."""

    name = "text"

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip()
        if not text:
            self.fail("must not be empty", param, ctx)
        if len(text) > self.max_length:
            self.fail(
                f"{len(text)} characters, more than the API's {self.max_length}: "
                f"choose a shorter one",
                param,
                ctx,
            )
        return text


def _load_file(path: Path) -> Any:
    try:
        text = path.read_text()
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror}") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml  # only when a YAML file is used

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or "syntax error"
            raise click.BadParameter(f"{path} is not valid YAML: {problem}{where}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno} (name it .yaml for YAML)"
        ) from None


def load_config(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Put the file's settings in the context's default_map: click then uses them
    below options and environment variables, and above the defaults."""
    if value is None:
        return None
    data = _load_file(value)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise click.BadParameter(
            f'{value} must hold settings by name, e.g. {{"api_url": "https://vigie.example.com"}}'
        )
    own = {p.name: p for p in ctx.command.params if isinstance(p, click.Option)}
    defaults: dict[str, Any] = {}
    for key, raw in data.items():
        name = str(key).replace("-", "_")
        if name not in CONFIG_KEYS:
            known = ", ".join(sorted(CONFIG_KEYS))
            raise click.BadParameter(f"{value}: unknown setting {key!r} (known: {known})")
        option = own.get(name)
        if option is None:  # a setting for another command
            continue
        if raw is None:
            continue
        try:
            defaults[name] = option.type.convert(raw, option, ctx)
        except click.BadParameter as exc:
            raise click.BadParameter(f"{value}: {key}: {exc.message}") from None
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return value


# Every option's name is also a setting of the config file.
CONFIG_KEYS: set[str] = set()


def _option(*names: str, **kwargs: Any) -> Callable:
    CONFIG_KEYS.add(names[0].lstrip("-").replace("-", "_"))
    kwargs.setdefault("show_envvar", True)
    return click.option(*names, **kwargs)


CONFIG = _option(
    "--config",
    envvar="VIGIE_CONFIG",
    type=click.Path(dir_okay=False, path_type=Path),
    is_eager=True,
    expose_value=False,
    callback=load_config,
    help="Config file, JSON or YAML (.yaml/.yml), with settings named as the options "
    "(api_url, interval, …).",
)
LOG_LEVEL = _option(
    "--log-level",
    envvar="VIGIE_LOG_LEVEL",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    default="info",
    show_default=True,
)
CONNECTION = [
    _option(
        "--api-url",
        envvar="VIGIE_API_URL",
        type=ApiUrl(),
        default="http://127.0.0.1:8000",
        show_default=True,
        help="The Vigie API to send to.",
    ),
    _option(
        "--enroll-token",
        envvar="VIGIE_ENROLL_TOKEN",
        help="The API's enrollment token, to register this host (only needed until it "
        "is registered, and to register again if its token is refused).",
    ),
    _option(
        "--state-dir",
        envvar="VIGIE_STATE_DIR",
        type=click.Path(file_okay=False, path_type=Path),
        default=default_state_dir,
        show_default="/var/lib/vigie-collector as root, else ~/.local/state/vigie-collector",
        help="Where the registration and the backlog are kept.",
    ),
    _option(
        "--name",
        envvar="VIGIE_NAME",
        type=Text(max_length=100),
        show_default="the hostname, cut to 100 characters by the API",
        help="Name shown on the dashboard, up to 100 characters.",
    ),
    _option(
        "--hostname",
        envvar="VIGIE_HOSTNAME",
        type=Text(max_length=255),
        default=socket.gethostname,
        show_default="this host's name",
        help="Hostname to register as (with the machine id, it identifies this host).",
    ),
    _option(
        "--interval",
        envvar="VIGIE_INTERVAL",
        type=click.FloatRange(min=0.1, max=3600),
        default=5.0,
        show_default=True,
        help="Seconds between samples.",
    ),
    _option(
        "--timeout",
        envvar="VIGIE_TIMEOUT",
        type=click.FloatRange(min=0.1, max=300),
        default=10.0,
        show_default=True,
        help="Seconds to wait for the API's answer.",
    ),
]
SAMPLING = [
    _option(
        "--disk-path",
        envvar="VIGIE_DISK_PATH",
        type=click.Path(exists=True),
        default="/",
        show_default=True,
        help="Report the filesystem holding this path.",
    ),
]
SENDING = [
    _option(
        "--backlog-max-samples",
        envvar="VIGIE_BACKLOG_MAX_SAMPLES",
        type=click.IntRange(min=1),
        default=100_000,
        show_default=True,
        help="Most samples kept while the API is unreachable (the oldest are dropped).",
    ),
    _option(
        "--backlog-max-age",
        envvar="VIGIE_BACKLOG_MAX_AGE",
        type=Duration(allow_forever=True),
        default="7d",
        show_default=True,
        help="Oldest sample kept while the API is unreachable (e.g. 3600, 12h, 7d, 2w; "
        "forever: only --backlog-max-samples bounds the backlog).",
    ),
    _option(
        "--batch-size",
        envvar="VIGIE_BATCH_SIZE",
        type=click.IntRange(min=1, max=1000),
        default=500,
        show_default=True,
        help="Most samples per request when sending the backlog.",
    ),
    _option(
        "--retry-max",
        envvar="VIGIE_RETRY_MAX",
        type=Duration(),
        default="60s",
        show_default=True,
        help="Longest wait between two tries while the API fails (e.g. 30s, 5m; the "
        "wait doubles from 1 s up to this, with jitter).",
    ),
]
CONFIG_KEYS.discard("config")


def options(*groups: list[Callable]) -> Callable:
    def decorate(func: Callable) -> Callable:
        for group in reversed(groups):
            for deco in reversed(group):
                func = deco(func)
        return CONFIG(func)

    return decorate


def settings_from(params: dict[str, Any]) -> Settings:
    keys = Settings.__dataclass_fields__
    return Settings(**{k: v for k, v in params.items() if k in keys})


def setup_logging(level: str) -> None:
    """Our log lines on stderr (the journal adds its own timestamps under systemd,
    a terminal or cron mail gets them from us). Only the collector's logger: a
    library's debug output is not ours to print."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s vigie-collector %(levelname)s %(message)s"))
    log.handlers = [handler]
    log.setLevel(level.upper())
    log.propagate = False


class Failure(click.ClickException):
    """Shown as one sentence; exit status 3 (see EXIT_FATAL)."""

    exit_code = EXIT_FATAL


@contextmanager
def collector(params: dict[str, Any]) -> Iterator[Agent]:
    """The agent for a command that samples or registers, holding the state
    directory (one collector per backlog); its failures become one sentence."""
    lock = StateDir(params["state_dir"]).lock()
    try:
        lock.acquire()
    except (StateError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        agent = Agent(settings_from(params))
        try:
            yield agent
        finally:
            agent.close()
    except NotConfigured as exc:
        raise click.UsageError(str(exc)) from None
    except Fatal as exc:
        raise Failure(str(exc)) from None
    except StateError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        lock.release()


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="vigie-collector")
def cli() -> None:
    """The Vigie collector: samples this host's CPU, memory, disk and network and
    sends them to a Vigie API. Samples are kept in a local backlog until the API
    has acknowledged them, so an outage loses nothing.

    \b
    First run (registers this host, then samples every 5 s):
      vigie-collector run --api-url https://vigie.example.com --enroll-token TOKEN
    Every setting also comes from VIGIE_* environment variables or a config file
    (--config); see each command's --help.
    """


@cli.command()
@options([LOG_LEVEL], CONNECTION, SAMPLING, SENDING)
def run(log_level: str, **params: Any) -> None:
    """Sample every --interval seconds and send, until stopped (SIGTERM, Ctrl-C).

    Registers this host on first use. While the API is unreachable, samples wait
    in the backlog and are sent, oldest first, when it answers again."""
    setup_logging(log_level)
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    with collector(params) as agent:
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        log.info(
            "vigie-collector %s: sampling every %g s, sending to %s (state in %s, %d sample(s) "
            "in the backlog)",
            __version__,
            agent.settings.interval,
            agent.settings.api_url,
            agent.settings.state_dir,
            agent.backlog.count(),
        )
        try:
            agent.run(stop)
        finally:
            log.info("stopped; %d sample(s) wait in the backlog", agent.backlog.count())


@cli.command()
@options([LOG_LEVEL], CONNECTION, SAMPLING, SENDING)
def once(log_level: str, **params: Any) -> None:
    """Take one sample and send it with whatever waits in the backlog (for cron).

    CPU is measured since the previous run of `once` (or over half a second the
    first time), the top processes' CPU over half a second. If the API cannot be
    reached the sample is kept for the next run and the command still succeeds."""
    setup_logging(log_level)
    with collector(params) as agent:
        if not agent.sampler.load_cpu(agent.state.cpu_file):
            agent.sampler.wait_for_cpu_window(0.5)
        agent.sampler.wait_for_process_window(0.5)
        agent.take_sample()
        agent.sampler.save_cpu(agent.state.cpu_file)
        result = agent.drain()
        waiting = agent.backlog.count()
    creds = agent.credentials
    if result.done and creds is not None:
        click.echo(f"sent {result.sent} sample(s) to {creds.api_url} as server {creds.server_id}")
    else:
        click.echo(
            f"not sent ({result.error}); {waiting} sample(s) wait in the backlog for the next run",
            err=True,
        )


@cli.command()
@options([LOG_LEVEL], CONNECTION)
def register(log_level: str, **params: Any) -> None:
    """Register this host with the API and keep its server id and ingest token in
    the state directory (mode 0600). Registering again keeps the same server
    and replaces its token."""
    setup_logging(log_level)
    if not params["enroll_token"]:
        raise click.UsageError(
            "registering needs the API's enrollment token: pass --enroll-token or set "
            "VIGIE_ENROLL_TOKEN"
        )
    with collector(params) as agent:
        try:
            creds = agent.register()
        except (Unreachable, ApiError) as exc:
            raise click.ClickException(f"cannot register now: {exc}; try again later") from None
    click.echo(
        f"registered with {creds.api_url} as server {creds.server_id} ({creds.name}); "
        f"credentials in {agent.state.credentials_file}"
    )


@cli.command()
@options(SAMPLING)
def sample(disk_path: str) -> None:
    """Print one sample of this host as JSON; send nothing (CPU and the top
    processes measured over half a second)."""
    sampler = Sampler(disk_path)
    sampler.wait_for_cpu_window(0.5)
    sampler.wait_for_process_window(0.5)
    click.echo(json.dumps(sampler.sample(), indent=2))


@cli.command()
@options(CONNECTION, SAMPLING, SENDING)
def status(**params: Any) -> None:
    """Show where samples go, this host's server id, and the backlog."""
    settings = settings_from(params)
    state = StateDir(settings.state_dir)
    try:
        creds = state.load_credentials()
    except StateError as exc:
        raise click.ClickException(str(exc)) from None
    waiting, oldest = 0, None
    if state.backlog_file.exists():
        backlog = Backlog(state.backlog_file)
        waiting, oldest = backlog.count(), backlog.oldest_recorded_at()
        backlog.close()
    client = Client(settings.api_url, min(settings.timeout, 5.0))
    health = client.health()
    client.close()
    if creds is None:
        server = "not registered (run, once or register will register it)"
    else:
        server = f"{creds.server_id} ({creds.name}, hostname {creds.hostname})"
        if creds.api_url.rstrip("/") != settings.api_url:
            server += f" — registered with another API: {creds.api_url}"
    lines = [
        ("API", f"{settings.api_url} — {health}"),
        ("server", server),
        ("backlog", f"{waiting} sample(s) waiting" + (f", oldest from {oldest}" if oldest else "")),
        ("state dir", str(settings.state_dir)),
        ("interval", f"{settings.interval:g} s"),
        ("name", settings.name or (creds.name if creds else settings.hostname)),
        ("disk path", settings.disk_path),
        (
            "backlog limits",
            f"{settings.backlog_max_samples} samples, {format_duration(settings.backlog_max_age)}",
        ),
    ]
    for label, value in lines:
        click.echo(f"{label + ':':<16}{value}")


def main() -> None:
    cli(prog_name="vigie-collector")


if __name__ == "__main__":
    main()
