"""`python -m advocacy_gateway [serve|migrate]`: the gateway process on its own."""

from __future__ import annotations

import argparse
import asyncio

import uvicorn

from advocacy_gateway.app import create_app
from advocacy_gateway.settings import GatewaySettings
from advocacy_shared.logs import configure_logging
from advocacy_shared.migrations import upgrade


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m advocacy_gateway")
    parser.add_argument("command", choices=["serve", "migrate"], nargs="?", default="serve")
    parser.add_argument("--no-migrate", action="store_true")
    args = parser.parse_args(argv)
    settings = GatewaySettings()
    configure_logging("gateway", settings.log_level, settings.log_json)
    if args.command == "migrate" or not args.no_migrate:
        upgrade("advocacy_gateway", settings.effective_database_url(), "gateway")
    if args.command == "serve":
        if settings.admin_api_key is None:
            raise SystemExit("ADVOCACY_ADMIN_API_KEY is not set: start with `advocacy run`")
        app = create_app(settings, settings.admin_api_key.get_secret_value())
        config = uvicorn.Config(
            app,
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
            # The source address is the gateway's to work out, from ADVOCACY_TRUSTED_PROXIES
            # (advocacy_gateway.ratelimit): uvicorn would otherwise trust X-Forwarded-For from
            # 127.0.0.1 (or FORWARDED_ALLOW_IPS), a second, silent list.
            proxy_headers=False,
        )
        asyncio.run(uvicorn.Server(config).serve())


main()
