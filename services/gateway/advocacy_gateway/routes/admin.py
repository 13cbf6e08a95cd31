"""The admin web UI under `/admin`: one HTML page, plain ES modules and one style sheet.

The UI is a client of the public API like any other (session cookie plus CSRF header); this
module only hands out its files. They are read once, from a fixed list built at import (no path
from the request ever reaches the file system), and served with a Content-Security-Policy that
allows scripts, styles and requests from this origin only: no inline script or style, no other
origin, no framing.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from advocacy_gateway.problems import ProblemError

PREFIX = "/admin"
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    # Revalidate on every load: an upgraded gateway never runs last version's modules.
    "Cache-Control": "no-cache",
}


def _assets(folder: Traversable, prefix: str = "") -> dict[str, tuple[bytes, str]]:
    found: dict[str, tuple[bytes, str]] = {}
    for entry in folder.iterdir():
        name = f"{prefix}{entry.name}"
        if entry.is_dir():
            found |= _assets(entry, f"{name}/")
        elif (suffix := entry.name[entry.name.rfind(".") :]) in CONTENT_TYPES:
            found[name] = (entry.read_bytes(), CONTENT_TYPES[suffix])
    return found


ASSETS = _assets(files("advocacy_gateway").joinpath("admin"))

router = APIRouter(include_in_schema=False)


def _serve(name: str) -> Response:
    asset = ASSETS.get(name)
    if asset is None:
        raise ProblemError(404, "not-found", "no such file in the admin UI")
    body, content_type = asset
    return Response(body, media_type=content_type, headers=SECURITY_HEADERS)


@router.get(PREFIX)
async def admin_root() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/", status_code=308)


@router.get(PREFIX + "/")
async def admin_page() -> Response:
    """The single page; the part after `#` picks the view, so every view reloads here."""
    return _serve("index.html")


@router.get(PREFIX + "/{name:path}")
async def admin_asset(name: str) -> Response:
    return _serve(name)
