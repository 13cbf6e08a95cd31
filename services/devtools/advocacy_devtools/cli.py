"""`advocacy`: run the whole platform on one machine, migrate its databases, import the HR
roster from a CSV file, or import snapshots of post analytics (CSV or JSON)."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from rich.console import Console

from advocacy_devtools import metrics_export
from advocacy_devtools.embedded_nats import EmbeddedNats, EmbeddedNatsError, free_port
from advocacy_devtools.locks import FolderInUseError, FolderLock
from advocacy_devtools.supervisor import ProcessSpec, Supervisor
from advocacy_gateway.settings import LINKEDIN_CALLBACK_PATH, GatewaySettings
from advocacy_shared.contracts.system import SERVICES
from advocacy_shared.deadletter_commands import add_commands as add_deadletter_commands
from advocacy_shared.linkedin.settings import LinkedInSettings
from advocacy_shared.logs import configure_logging

log = logging.getLogger("advocacy")

PACKAGES = {"gateway": "advocacy_gateway", **{name: f"advocacy_{name}" for name in SERVICES}}
"""The processes that own a database; each migrates it."""

WEBHOOKS = "advocacy_gateway.webhooks"
"""The webhook delivery process: on the gateway's database, which the gateway migrates."""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="advocacy", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start every service and the gateway (embedded default)")
    run.add_argument(
        "--demo",
        action="store_true",
        help="once ready, make (or find) a demo organisation with a month of activity",
    )
    commands.add_parser("migrate", help="bring every service's database to the latest schema")
    _add_roster_commands(commands)
    _add_metrics_commands(commands)
    add_deadletter_commands(commands)
    args = parser.parse_args(argv)
    if args.command == "deadletters":
        sys.exit(_deadletters(args))
    if args.command == "roster":
        sys.exit(asyncio.run(roster_import(args.file, args.url, args.key, args.report)))
    if args.command == "metrics" and args.metrics_command == "export":
        sys.exit(
            asyncio.run(metrics_export.export_dataset(args, args.url or default_gateway_url()))
        )
    if args.command == "metrics":
        sys.exit(asyncio.run(metrics_import(args.file, args.org, args.url, args.key, args.report)))
    settings = GatewaySettings()
    configure_logging("supervisor", settings.log_level, settings.log_json)
    if args.command == "migrate":
        migrate_all()
    else:
        sys.exit(asyncio.run(run_platform(settings, demo=args.demo)))


def _deadletters(args: argparse.Namespace) -> int:
    """Imported here, as the demo in `_seed_demo`: with them at the top, importing this module
    took 1.6-1.9 s of CPU (the consumers' machinery, SQLAlchemy, the LinkedIn client), without
    them 0.8-0.9 s, which `advocacy run` (the supervisor of every `make run`) and the other
    commands pay at each start."""
    from advocacy_shared import deadletters

    return deadletters.run_command(args)


def _add_roster_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    roster = commands.add_parser("roster", help="the HR roster")
    roster_commands = roster.add_subparsers(dest="roster_command", required=True)
    importing = roster_commands.add_parser(
        "import",
        help="create or replace employees from a CSV file, through the gateway's SCIM API "
        "(columns: see docs/scim.md)",
    )
    importing.add_argument("file", type=Path)
    importing.add_argument(
        "--url",
        default=None,
        help="the gateway (default: http://127.0.0.1:$ADVOCACY_HTTP_PORT, where `advocacy run` "
        "serves it)",
    )
    importing.add_argument(
        "--key",
        default=os.environ.get("ADVOCACY_HR_KEY"),
        help="an API key with the hr scope (default: $ADVOCACY_HR_KEY)",
    )
    importing.add_argument("--report", type=Path, help="write the failed rows to this CSV file")


def default_gateway_url() -> str:
    """Where `advocacy run` serves the gateway: its host and `ADVOCACY_HTTP_PORT` (else 8000)."""
    settings = GatewaySettings.model_construct()
    host = os.environ.get("ADVOCACY_HTTP_HOST", settings.http_host)
    port = os.environ.get("ADVOCACY_HTTP_PORT", str(settings.http_port))
    return f"http://{host}:{port}"


def _add_metrics_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    metrics = commands.add_parser("metrics", help="post analytics")
    metrics_commands = metrics.add_subparsers(dest="metrics_command", required=True)
    importing = metrics_commands.add_parser(
        "import",
        help="import snapshots from a CSV or JSON file through the gateway "
        "(columns: see docs/metrics.md)",
    )
    importing.add_argument("file", type=Path)
    importing.add_argument("--org", required=True, help="the organisation's id")
    importing.add_argument(
        "--url", help="the gateway (default: where `advocacy run` serves it, ADVOCACY_HTTP_PORT)"
    )
    importing.add_argument(
        "--key",
        default=os.environ.get("ADVOCACY_API_KEY"),
        help="an API key that may manage metrics (default: $ADVOCACY_API_KEY)",
    )
    importing.add_argument("--report", type=Path, help="write the failed rows to this CSV file")
    metrics_export.add_command(metrics_commands)


async def metrics_import(
    file: Path, org: str, url: str | None, key: str | None, report_path: Path | None
) -> int:
    """0 when every row was stored or already was, 1 when some failed, 2 when nothing ran."""
    # Imported here: they load the gateway's routes, which `advocacy run` (the supervisor) never
    # needs; importing them there cost every platform start about 2 s of CPU.
    from advocacy_devtools.metrics_import import ImportRefused, import_metrics
    from advocacy_devtools.metrics_import import print_report as print_metrics_report

    console = Console(stderr=True)
    if not key:
        console.print("an API key is needed: --key or ADVOCACY_API_KEY")
        return 2
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(
        base_url=url or default_gateway_url(), headers=headers, timeout=60.0
    ) as client:
        try:
            report = await import_metrics(file, client, org, console)
        except (
            OSError,
            httpx.TransportError,
            ImportRefused,
            UnicodeDecodeError,
            ValueError,
            csv.Error,
        ) as exc:
            console.print(f"cannot import {file}: {exc}")
            return 2
    print_metrics_report(report, console)
    if report_path is not None:
        report.write_csv(report_path)
    return 1 if report.failures else 0


async def roster_import(
    file: Path, url: str | None, key: str | None, report_path: Path | None
) -> int:
    """0 when every row was imported, 1 when some failed (the rest is kept), 2 when nothing ran:
    no key, no file, unknown columns, the gateway unreachable or the key refused."""
    from advocacy_devtools.roster_import import (  # here, as in `metrics_import`
        RowError,
        check_gateway,
        import_roster,
        print_report,
    )

    console = Console(stderr=True)
    if not key:
        console.print("an API key with the hr scope is needed: --key or ADVOCACY_HR_KEY")
        return 2
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/scim+json"}
    base_url = url or default_gateway_url()
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30.0) as client:
        try:
            await check_gateway(client)
            report = await import_roster(file, client, console)
        except (OSError, RowError, UnicodeDecodeError) as exc:
            console.print(f"cannot import {file}: {exc}")
            return 2
        except httpx.HTTPError as exc:
            console.print(f"cannot reach the gateway at {base_url}: {exc}")
            return 2
    print_report(report, console)
    if report_path is not None:
        report.write_csv(report_path)
    return 1 if report.failures else 0


def migrate_all() -> None:
    """Each service migrates its own database, in its own process, with its own settings."""
    for package in PACKAGES.values():
        subprocess.run([sys.executable, "-m", package, "migrate"], check=True)


async def run_platform(settings: GatewaySettings, demo: bool = False) -> int:
    data_dir = settings.data_dir.resolve()
    try:
        # Two platforms on one data folder would share SQLite files and a JetStream store.
        data_lock = FolderLock.acquire(data_dir, "`advocacy run`")
    except FolderInUseError as exc:
        print(f"advocacy run: {exc}", file=sys.stderr)
        return 1
    env: dict[str, str] = {"ADVOCACY_DATA_DIR": str(data_dir)}
    admin_key = settings.admin_api_key.get_secret_value() if settings.admin_api_key else None
    if admin_key is None:
        admin_key = secrets.token_urlsafe(32)
    env["ADVOCACY_ADMIN_API_KEY"] = admin_key
    nats_server: EmbeddedNats | None = None
    if settings.nats_url is None:
        nats_server = EmbeddedNats(store_dir=data_dir / "nats").start()
        env["NATS_URL"] = nats_server.url
        log.info("embedded nats-server started", extra={"url": nats_server.url})
    specs: list[ProcessSpec] = []
    sandbox_url = _linkedin(settings, env, specs)
    try:
        # Each process migrates its own database as it starts (one replica each here, so no race);
        # a restarted process finds its schema at head and goes straight on.
        specs += [
            ProcessSpec(
                name, [sys.executable, "-m", package, "serve"], env | metrics_port(settings, name)
            )
            for name, package in PACKAGES.items()
        ]
        supervisor = Supervisor(specs)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, supervisor.stop)
        announcer = asyncio.create_task(
            _when_ready(settings, admin_key, sandbox_url, supervisor, env, demo)
        )
        watcher = _supervise_nats(nats_server, supervisor)
        await supervisor.run()
        announcer.cancel()
        failed = await _outcome(watcher)
    finally:
        if nats_server is not None:
            nats_server.release()
        data_lock.release()
    if failed:
        print(f"advocacy platform stopped: {failed}", file=sys.stderr)
        return 1
    print("advocacy platform stopped", file=sys.stderr)
    return 0


METRICS_PORT_ORDER = (*PACKAGES, "webhooks")
"""Under `advocacy run`, process `i` of this list serves /metrics on ADVOCACY_METRICS_PORT + i."""


def metrics_port(settings: GatewaySettings, process: str) -> dict[str, str]:
    """The metrics listener of one process of `advocacy run`: none unless ADVOCACY_METRICS_PORT
    is set, then that port plus the process's place (every process needs its own port); 0 gives
    each a free port of its own."""
    if settings.metrics_port is None:
        return {}
    port = settings.metrics_port and settings.metrics_port + METRICS_PORT_ORDER.index(process)
    host = os.environ.get("ADVOCACY_METRICS_HOST", "127.0.0.1")
    return {"ADVOCACY_METRICS_PORT": str(port), "ADVOCACY_METRICS_HOST": host}


def _supervise_nats(
    nats_server: EmbeddedNats | None, supervisor: Supervisor
) -> asyncio.Task[None] | None:
    """Keep the embedded nats-server running; when it cannot be, stop the whole platform."""
    if nats_server is None:
        return None
    watcher = asyncio.create_task(nats_server.keep_running(supervisor.stopping))

    def on_done(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("nats-server is down for good: stopping the platform")
            supervisor.stop()

    watcher.add_done_callback(on_done)
    return watcher


async def _outcome(watcher: asyncio.Task[None] | None) -> str | None:
    """Why the platform stopped, when it was not asked to."""
    if watcher is None:
        return None
    try:
        await watcher
    except EmbeddedNatsError as exc:
        return str(exc)
    return None


async def _when_ready(
    settings: GatewaySettings,
    admin_key: str,
    sandbox_url: str | None,
    supervisor: Supervisor,
    env: dict[str, str],
    demo: bool = False,
) -> None:
    """Once the gateway answers, it has migrated its database: the webhook delivery process, on
    the same database, starts then; then the demo organisation is made, when asked for."""
    await _announce_when_ready(settings, admin_key, sandbox_url)
    webhooks = [sys.executable, "-m", WEBHOOKS, "serve", "--no-migrate"]
    supervisor.add([ProcessSpec("webhooks", webhooks, env | metrics_port(settings, "webhooks"))])
    if demo:
        await _seed_demo(f"http://{settings.http_host}:{settings.http_port}", admin_key)


async def _seed_demo(base_url: str, admin_key: str) -> None:
    """A refused step is reported and the platform runs on: the demo is a convenience."""
    from advocacy_devtools.demo import DemoError, sign_in_text
    from advocacy_devtools.demo import seed as seed_demo

    started = asyncio.get_running_loop().time()
    try:
        summary = await seed_demo(base_url, admin_key)
    except (DemoError, httpx.HTTPError) as exc:
        print(f"\nthe demo organisation could not be made: {exc}", file=sys.stderr, flush=True)
        return
    took = asyncio.get_running_loop().time() - started
    print(
        f"\nDemo organisation ready in {took:.1f} s: {summary.ambassadors} ambassadors, "
        f"{summary.items} library items, {summary.posts} posts, {summary.snapshots} snapshots\n"
        f"{sign_in_text(base_url)}",
        file=sys.stderr,
        flush=True,
    )


def _linkedin(
    settings: GatewaySettings, env: dict[str, str], specs: list[ProcessSpec]
) -> str | None:
    """Point the services at the LinkedIn app; without one, at a LinkedIn sandbox started here.

    Returns the sandbox's URL when one is started.
    """
    linkedin = LinkedInSettings()
    redirect_url = (
        linkedin.redirect_url or f"{settings.public_url.rstrip('/')}{LINKEDIN_CALLBACK_PATH}"
    )
    env["ADVOCACY_LINKEDIN_REDIRECT_URL"] = redirect_url
    if linkedin.client_id:
        return None
    url = f"http://127.0.0.1:{free_port()}"
    client_secret = secrets.token_urlsafe(24)
    env |= {
        "ADVOCACY_LINKEDIN_CLIENT_ID": "advocacy-sandbox",
        "ADVOCACY_LINKEDIN_CLIENT_SECRET": client_secret,
        "ADVOCACY_LINKEDIN_OAUTH_BASE_URL": f"{url}/oauth/v2",
        "ADVOCACY_LINKEDIN_REST_BASE_URL": f"{url}/rest",
        "ADVOCACY_LINKEDIN_V2_BASE_URL": f"{url}/v2",
        "ADVOCACY_LINKEDIN_WEB_BASE_URL": url,
        "ADVOCACY_LINKEDIN_ALLOWED_NETWORKS": '["127.0.0.1/32"]',  # the sandbox, on loopback
    }
    sandbox_env = {
        **env,
        "ADVOCACY_LINKEDIN_SANDBOX_PORT": url.rsplit(":", 1)[1],
        "ADVOCACY_LINKEDIN_SANDBOX_CLIENT_ID": "advocacy-sandbox",
        "ADVOCACY_LINKEDIN_SANDBOX_CLIENT_SECRET": client_secret,
        "ADVOCACY_LINKEDIN_SANDBOX_REDIRECT_URIS": json.dumps([redirect_url]),
    }
    argv = [sys.executable, "-m", "advocacy_devtools.linkedin_sandbox"]
    specs.append(ProcessSpec("linkedin-sandbox", argv, sandbox_env))
    return url


async def _announce_when_ready(
    settings: GatewaySettings, admin_key: str, sandbox_url: str | None = None
) -> None:
    base = f"http://{settings.http_host}:{settings.http_port}"
    data_dir = await asyncio.to_thread(settings.data_dir.resolve)
    started = asyncio.get_running_loop().time()
    async with httpx.AsyncClient(timeout=2.0) as client:
        while True:
            try:
                if (await client.get(f"{base}/readyz")).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.25)
    took = asyncio.get_running_loop().time() - started
    linkedin = (
        f"  LinkedIn:      the sandbox at {sandbox_url} (no LinkedIn app configured)\n"
        if sandbox_url
        else ""
    )
    print(
        f"\nAdvocacy platform ready in {took:.1f} s at {base}\n"
        f"  API docs:      {base}/docs\n"
        f"  admin API key: {admin_key}\n"
        f"  try:           curl -H 'Authorization: Bearer {admin_key}' {base}/api/v1/orgs\n"
        f"  data folder:   {data_dir}\n"
        f"{linkedin}"
        "Press Ctrl-C to stop.\n",
        file=sys.stderr,
        flush=True,
    )
