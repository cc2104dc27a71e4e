"""The ``vigie`` command: migrations, history upkeep, the embedded database, and the
local run. Each command parses its options, calls a plain function of this package,
and prints."""

from __future__ import annotations

import os
import secrets
import sys
import threading
import time
from pathlib import Path

import click

from . import embedded, serve
from .db import resolve_url


def resolve_database_url(explicit: str | None) -> str:
    """DATABASE_URL if given, else the embedded server of this checkout."""
    return resolve_url(explicit or "")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Vigie: real-time server monitoring.

    With no DATABASE_URL, every command uses the embedded PostgreSQL kept in
    .vigie/ of this checkout.
    """


db_option = click.option(
    "--database-url",
    envvar="DATABASE_URL",
    help="PostgreSQL URL. Default: the embedded server of this checkout.",
)


@cli.command()
@db_option
def migrate(database_url: str | None) -> None:
    """Apply the pending migrations of sql/ (safe to run again)."""
    from .migrate import migrate as run_migrations

    url = resolve_database_url(database_url)
    try:
        applied = run_migrations(url)
    except Exception as exc:  # a clear sentence, not a traceback
        raise click.ClickException(f"migration failed: {exc}") from exc
    if applied:
        click.echo(f"applied {len(applied)} migration(s): {', '.join(applied)}")
    else:
        click.echo("database is up to date")


@cli.command()
@db_option
@click.option(
    "--every",
    type=click.IntRange(min=1),
    help="Keep running, once every this many seconds. Default: run once and exit.",
)
def maintain(database_url: str | None, every: int | None) -> None:
    """Apply history retention (VIGIE_RETENTION_*) and create the coming partitions.

    The relay does this every minute; run it yourself (or from cron) when no relay
    runs. Runs are claimed in the database, so any number may be scheduled.
    """
    from datetime import timedelta

    from .maintenance import maintain as run_maintenance
    from .settings import ConfigError, Settings

    url = resolve_database_url(database_url)
    try:
        retention = Settings.from_env().retention
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    while True:
        try:
            # Run now, whenever the previous run was: this is the operator asking.
            report = run_maintenance(url, retention, min_interval=timedelta(0))
        except Exception as exc:  # a clear sentence, not a traceback
            raise click.ClickException(f"maintenance failed: {exc}") from exc
        if not report.get("ran"):
            click.echo("another process is running maintenance right now")
        else:
            for tier in sorted(report["tiers"], key=["raw", "1m", "5m", "1h"].index):
                done = report["tiers"][tier]
                click.echo(
                    f"{tier}: kept from {done['cutoff']}, {done['partitions_dropped']} "
                    f"partition(s) dropped, {done['rows_deleted']} row(s) deleted"
                )
            if not report["tiers"]:
                click.echo("nothing to expire: every tier is kept forever")
        if every is None:
            return
        time.sleep(every)


@cli.group()
def db() -> None:
    """The embedded PostgreSQL (used when DATABASE_URL is not set)."""


@db.command("start")
def db_start() -> None:
    """Start the embedded server (it keeps running) and print its URL."""
    click.echo(embedded.start(stop_when_unused=False))


@db.command("url")
def db_url() -> None:
    """Print the embedded server's URL if it is running."""
    url = embedded.url_if_running()
    if url is None:
        raise click.ClickException("the embedded server is not running: vigie db start")
    click.echo(url)


@db.command("stop")
def db_stop() -> None:
    """Stop the embedded server."""
    click.echo("stopped" if embedded.stop() else "the embedded server was not running")


def local_tokens() -> dict[str, str]:
    """The local run's tokens, generated once and kept in .vigie/local.env (0600),
    so a local run needs no configuration. The environment overrides them."""
    path = embedded.home() / "local.env"
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key.strip()] = value.strip()
    missing = {"VIGIE_ENROLL_TOKEN": "enr_", "VIGIE_ADMIN_TOKEN": "adm_"}.items()
    if any(key not in values for key, _ in missing):
        for key, prefix in missing:
            values.setdefault(key, prefix + secrets.token_urlsafe(24))
        path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        path.chmod(0o600)
    for key in list(values):
        if os.environ.get(key):
            values[key] = os.environ[key]
    return values


def wait_until_healthy(url: str, timeout: float = 60) -> bool:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - local URL
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


@cli.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, envvar="VIGIE_HOST")
@click.option("--port", default=8000, show_default=True, envvar="VIGIE_PORT", type=int)
def run(database_url: str | None, host: str, port: int) -> None:
    """Run Vigie locally: database, migrations, then the API, the realtime relay and
    the dashboard on one port. Prints the URL to open."""
    from honcho.manager import Manager

    from .migrate import migrate as run_migrations

    if database_url:
        url = database_url
    else:
        click.echo("starting the embedded PostgreSQL (data in .vigie/pgdata)…")
        url = embedded.start(stop_when_unused=True)
    applied = run_migrations(url)
    if applied:
        click.echo(f"applied migrations: {', '.join(applied)}")
    env = {**os.environ, **local_tokens(), "DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}
    bin_dir = Path(sys.executable).parent
    manager = Manager()
    # One process serves /api (the functions), /socket.io (the relay) and the
    # dashboard: one URL, no proxy. In production they are separate (Procfile).
    manager.add_process("vigie", serve.local_command(bin_dir, host, port), env=env)
    # A collector for this machine, so the dashboard has live data at once. It
    # registers itself with the local enrollment token on first use.
    api_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    manager.add_process(
        "collector",
        f"{bin_dir / 'vigie-collector'} run",
        env={
            **env,
            "VIGIE_API_URL": f"http://{api_host}:{port}",
            "VIGIE_STATE_DIR": str(embedded.home() / "collector"),
        },
    )
    base = f"http://{host}:{port}"

    def announce() -> None:
        if wait_until_healthy(f"{base}/api/health"):
            click.secho(f"\n  Vigie is running: {base}", fg="green", bold=True)
            click.echo(f"  API: {base}/api/servers   OpenAPI: {base}/api/openapi.json")
            click.echo(f"  Realtime: {base}/socket.io   relay health: {base}/health")
            click.echo(f"  Enrollment token: {env['VIGIE_ENROLL_TOKEN']}")
            click.echo(f"  Admin token (alert rules): {env['VIGIE_ADMIN_TOKEN']}\n")

    threading.Thread(target=announce, daemon=True).start()
    manager.loop()
    sys.exit(manager.returncode)


def main() -> None:
    cli(prog_name="vigie")


if __name__ == "__main__":
    main()
