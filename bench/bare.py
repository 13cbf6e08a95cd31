"""The yardstick of `bench/gateway.py`: a bare FastAPI handler answering a fixed body, served
exactly as the gateway serves its application, so that the ratio compares the platform's work with
the server stack's own cost."""

from __future__ import annotations

import argparse
from pathlib import Path

from fastapi import FastAPI, Response

from advocacy_gateway.serving import serve


def bare_app(body: bytes) -> FastAPI:
    app = FastAPI()

    @app.get("/bare")
    async def bare() -> Response:
        return Response(content=body, media_type="application/json")

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response(content=b'{"status":"ok"}', media_type="application/json")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body-file", required=True)
    args = parser.parse_args()
    app = bare_app(Path(args.body_file).read_bytes())
    serve(app, "127.0.0.1", args.port)


if __name__ == "__main__":
    main()
