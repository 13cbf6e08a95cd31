"""The command line of every domain service: `python -m advocacy_<service> [serve|migrate]`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from advocacy_shared import tracing
from advocacy_shared.logs import configure_logging
from advocacy_shared.migrations import upgrade
from advocacy_shared.runtime import ProcessFailed, ServiceRuntime
from advocacy_shared.settings import ServiceSettings


def service_main(
    package: str,
    settings_type: type[ServiceSettings],
    create_runtime: Callable[[ServiceSettings], ServiceRuntime],
    argv: list[str] | None = None,
) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {package}")
    parser.add_argument("command", choices=["serve", "migrate"], nargs="?", default="serve")
    parser.add_argument(
        "--no-migrate", action="store_true", help="serve without upgrading the database first"
    )
    args = parser.parse_args(argv)
    settings = settings_type()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    tracing.configure(settings.service_name)
    if args.command == "migrate" or not args.no_migrate:
        upgrade(package, settings.effective_database_url(), settings.service_name)
    if args.command == "serve":
        run(create_runtime(settings).serve_until_signalled())


def run(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop where it is installed (Linux, macOS): the request-reply path and the
    database driver spend a good share of their time in the event loop (docs/performance.md).
    A process that stopped because a task it needs ended exits with status 1."""
    try:
        _run_on_fastest_loop(main)
    except ProcessFailed:
        sys.exit(1)


def _run_on_fastest_loop(main: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)
