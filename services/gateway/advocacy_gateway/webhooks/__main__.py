"""`python -m advocacy_gateway.webhooks [serve|migrate]`: the webhook delivery process."""

from __future__ import annotations

import argparse

from advocacy_gateway.webhooks.process import NAME, WebhooksProcess, WebhooksSettings
from advocacy_shared import tracing
from advocacy_shared.logs import configure_logging
from advocacy_shared.migrations import upgrade
from advocacy_shared.runtime import serve_until_signalled
from advocacy_shared.service_main import run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m advocacy_gateway.webhooks")
    parser.add_argument("command", choices=["serve", "migrate"], nargs="?", default="serve")
    parser.add_argument(
        "--no-migrate", action="store_true", help="serve without upgrading the database first"
    )
    args = parser.parse_args(argv)
    settings = WebhooksSettings()
    configure_logging(NAME, settings.log_level, settings.log_json)
    tracing.configure(NAME)
    if args.command == "migrate" or not args.no_migrate:
        upgrade("advocacy_gateway", settings.effective_database_url(), "gateway")
    if args.command == "serve":
        run(serve_until_signalled(WebhooksProcess(settings)))  # on uvloop, as the services


main()
