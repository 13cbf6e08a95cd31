"""`python -m advocacy_gateway [serve|migrate]`: the gateway process on its own."""

from __future__ import annotations

import argparse

from advocacy_gateway.app import create_app
from advocacy_gateway.security import configured_hasher, use_password_hasher
from advocacy_gateway.serving import serve
from advocacy_gateway.settings import GatewaySettings
from advocacy_shared import tracing
from advocacy_shared.logs import configure_logging
from advocacy_shared.migrations import upgrade


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m advocacy_gateway")
    parser.add_argument("command", choices=["serve", "migrate"], nargs="?", default="serve")
    parser.add_argument("--no-migrate", action="store_true")
    args = parser.parse_args(argv)
    settings = GatewaySettings()
    configure_logging("gateway", settings.log_level, settings.log_json)
    tracing.configure("gateway")
    if args.command == "migrate" or not args.no_migrate:
        upgrade("advocacy_gateway", settings.effective_database_url(), "gateway")
    if args.command == "serve":
        if settings.admin_api_key is None:
            raise SystemExit("ADVOCACY_ADMIN_API_KEY is not set: start with `advocacy run`")
        use_password_hasher(configured_hasher(settings))
        app = create_app(settings, settings.admin_api_key.get_secret_value())
        serve(app, settings.http_host, settings.http_port)


main()
