"""How the gateway's HTTP server runs, in production and in `make bench`'s yardstick alike.

`uvicorn.Server.run()` sets up its own event loop (uvloop when installed, which the gateway's
dependencies ensure on Linux) and picks httptools over h11; `asyncio.run(server.serve())` would
skip the loop set-up and leave the asyncio loop, about a third of the throughput on this stack
(docs/performance.md).
"""

from __future__ import annotations

import uvicorn
from starlette.types import ASGIApp


def serve(app: ASGIApp, host: str, port: int) -> None:
    """Serve `app` until SIGINT or SIGTERM (uvicorn's own handlers), without access logs."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="auto",
        http="auto",
        log_config=None,
        access_log=False,
        # The source address is the gateway's to work out, from ADVOCACY_TRUSTED_PROXIES
        # (advocacy_gateway.ratelimit): uvicorn would otherwise trust X-Forwarded-For from
        # 127.0.0.1 (or FORWARDED_ALLOW_IPS), a second, silent list.
        proxy_headers=False,
    )
    uvicorn.Server(config).run()
