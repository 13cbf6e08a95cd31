"""`/asyncapi.json`: the AsyncAPI 3.0 document of every event and request (docs/asyncapi.json),
generated from the contracts this gateway was built with, for a communications platform or any
subscriber that consumes the platform's events over NATS. Public, as `/openapi.json` is."""

from __future__ import annotations

from functools import cache

from fastapi import APIRouter, Response

from advocacy_shared.asyncapi import render

router = APIRouter(tags=["health"])


@cache
def _document() -> bytes:
    return render().encode()


@router.get(
    "/asyncapi.json",
    summary="The AsyncAPI 3.0 document of the platform's events and requests",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
async def asyncapi() -> Response:
    return Response(_document(), media_type="application/json")
