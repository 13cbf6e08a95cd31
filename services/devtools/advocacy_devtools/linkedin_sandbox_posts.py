"""The LinkedIn sandbox's Posts API and share pages (linkedin-api.md sections 1, 4 and 8).

Mounted on the sandbox app by `create_sandbox` (`mount_posts`); kept apart from the OAuth part
and from the analytics endpoints so each grows on its own.

- Every `/rest/posts` call checks, in LinkedIn's order: `LinkedIn-Version` present (400
  `VERSION_MISSING` with `X-Restli-Gateway-Error`), well formed and active (426
  `NONEXISTENT_VERSION` before `OLDEST_VERSION`), `X-Restli-Protocol-Version: 2.0.0` (400), then
  the Bearer token (401 `INVALID_`, `EXPIRED_` or `REVOKED_ACCESS_TOKEN`).
- `POST /rest/posts`: scope `w_member_social` and the token's own member as `author` (403
  `ACCESS_DENIED` otherwise); a missing or wrong field is a 422 in Rest.li's words
  (`ERROR :: /visibility :: field is required but not found and has no default value`), a
  commentary over 3000 characters a 400 with `errorDetails.inputErrors`; the same commentary by
  the same author within `duplicate_window_seconds` a 422 `DUPLICATE_POST` naming the first post;
  past `posts_per_member_per_day` posts (midnight UTC to midnight UTC) a 429. A created post is a
  201 with an empty body and its URN in `x-restli-id`. An unescaped reserved character of the
  little text format still gives a 201, but the text is cut there, as LinkedIn does.
- `GET /rest/posts/{urn}` (percent-encoded; a raw `:` is a 400): the post with `id`, `createdAt`,
  `publishedAt`, `lastModifiedAt` and `lifecycleStateInfo`; 404 for an unknown or deleted one.
  The sandbox lets the author read their own post with `w_member_social` (LinkedIn asks for
  `r_member_social`, which only approved partners get).
- `GET /rest/posts?q=author&author=<urn>&count=N`: the author's posts, newest first (needs
  `r_member_social`: a 403 otherwise, as LinkedIn answers self-serve apps; a company page's
  posts, `author=urn:li:organization:N`, need `r_organization_social` or
  `rw_organization_admin`).
- `DELETE /rest/posts/{urn}`: 204; the post is gone (a second delete is a 404).
- Share pages, as a browser sees them on www.linkedin.com: `/sharing/share-offsite/?url=` and
  `/feed/?shareActive=true&text=` show a composer signed in as the sandbox member; its *Post*
  button publishes (same rules, no token) and redirects to the post's permalink
  `/feed/update/<urn>/`, which shows the post.
- Sandbox only: `GET /sandbox/posts` lists every post (tests and demos count them).
"""

from __future__ import annotations

import html
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, unquote

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from advocacy_shared.linkedin.posts import urn_made_at

if TYPE_CHECKING:
    from advocacy_devtools.linkedin_sandbox import SandboxState

PROTOCOL_VERSION = "2.0.0"
OLDEST_VERSION = "202401"
"""Versions live about a year; the sandbox accepts this one and later."""
MAX_COMMENTARY = 3000
RESERVED = set("|{}@[]()<>#\\*_~")
VISIBILITIES = {"PUBLIC", "CONNECTIONS", "LOGGED_IN", "CONTAINER"}
FEED_DISTRIBUTIONS = {"MAIN_FEED", "NONE"}
LIFECYCLE_STATES = {"PUBLISHED", "DRAFT"}
_VERSION = re.compile(r"^(\d{6})(\.\d{2})?$")
_URN = re.compile(r"^urn:li:(share|ugcPost):\d+$")
ORGANIZATION_READ = ("r_organization_social", "rw_organization_admin")
"""Scopes that read a company page's posts (a page role is assumed in the sandbox)."""


@dataclass
class SandboxPost:
    urn: str
    author: str
    commentary: str
    body: dict[str, Any]
    created_at: datetime
    via: str  # "api" or "share page"


@dataclass
class PostsState:
    """The sandbox's posts and per-member daily counts, in memory."""

    posts: dict[str, SandboxPost] = field(default_factory=dict)
    per_day: dict[tuple[str, str], int] = field(default_factory=dict)
    posts_per_member_per_day: int = 150
    duplicate_window_seconds: float = 24 * 3600.0

    def by_author(self, author: str) -> list[SandboxPost]:
        found = [post for post in self.posts.values() if post.author == author]
        return sorted(found, key=lambda post: post.created_at, reverse=True)


def _error(status: int, message: str, code: str | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"status": status, "message": message}
    if code is not None:
        body["code"] = code
    body.update(extra)
    return JSONResponse(body, status_code=status)


def _input_error(status: int, path: str, message: str, code: str) -> JSONResponse:
    """LinkedIn's validation error shape (errorDetailType plus errorDetails.inputErrors)."""
    return _error(
        status,
        message,
        errorDetailType="com.linkedin.common.error.BadRequest",
        errorDetails={
            "inputErrors": [
                {
                    "description": message,
                    "input": {"inputPath": {"fieldPath": path}},
                    "code": code,
                }
            ]
        },
    )


def cut_at_unescaped(text: str) -> str:
    """What LinkedIn keeps of a commentary: everything before the first unescaped reserved
    character of the little text format (a backslash escapes the next character)."""
    escaped = False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in RESERVED:
            return text[:index]
    return text


def _new_urn(now: datetime) -> str:
    """A share URN whose id carries its creation time, as LinkedIn's do."""
    return urn_made_at(now, secrets.randbits(22))


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def versioned(request: Request) -> tuple[str, Response | None]:
    """The `LinkedIn-Version` (YYYYMM) of a `/rest` call, or LinkedIn's refusal of its headers."""
    version = request.headers.get("LinkedIn-Version")
    if not version:
        response = _error(
            400,
            "A version must be present. Please specify a version by adding the "
            "LinkedIn-Version header.",
            "VERSION_MISSING",
        )
        response.headers["X-Restli-Gateway-Error"] = "true"
        return "", response
    matched = _VERSION.match(version)
    if matched is None or matched.group(1) < OLDEST_VERSION:
        shown = f"{matched.group(1)}01" if matched else version[:20]
        return "", _error(426, f"Requested version {shown} is not active", "NONEXISTENT_VERSION")
    if request.headers.get("X-Restli-Protocol-Version") != PROTOCOL_VERSION:
        return "", _error(
            400,
            "X-Restli-Protocol-Version must be 2.0.0 for this resource",
            "INVALID_PROTOCOL_VERSION",
        )
    return matched.group(1), None


def bearer(state: SandboxState, request: Request) -> tuple[tuple[str, ...], Response | None]:
    """The scopes of the call's Bearer token, or LinkedIn's 401."""
    header = request.headers.get("Authorization", "")
    token = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
    status = state.token_status(token)
    if status == "revoked":
        return (), _error(
            401,
            "The token used in the request has been revoked by the user",
            "REVOKED_ACCESS_TOKEN",
            serviceErrorCode=65601,
        )
    if status == "expired":
        return (), _error(
            401,
            "The token used in the request has expired",
            "EXPIRED_ACCESS_TOKEN",
            serviceErrorCode=65602,
        )
    if status != "active":
        return (), _error(
            401, "Invalid access token", "INVALID_ACCESS_TOKEN", serviceErrorCode=65600
        )
    return state.tokens[token].scopes, None


def mount_posts(app: FastAPI, state: SandboxState) -> PostsState:
    """Add the Posts API, the share pages and `/sandbox/posts` to the sandbox `app`."""
    posts = PostsState(
        posts_per_member_per_day=state.settings.posts_per_member_per_day,
        duplicate_window_seconds=state.settings.duplicate_window_seconds,
    )
    app.state.posts = posts
    member = f"urn:li:person:{state.settings.member_sub}"

    def checked(
        request: Request, method: str, needs: tuple[str, ...]
    ) -> tuple[tuple[str, ...], Response | None]:
        version, refusal = versioned(request)
        if refusal is not None:
            return (), refusal
        scopes, refusal = bearer(state, request)
        if refusal is not None:
            return (), refusal
        if not any(scope in scopes for scope in needs):
            return (), _error(
                403,
                f"Not enough permissions to access: posts.{method}.{version}01",
                "ACCESS_DENIED",
                serviceErrorCode=100,
            )
        return scopes, None

    def publish(body: dict[str, Any], via: str) -> tuple[str | None, Response | None]:
        """The rules of a create, for the API and the share page alike."""
        for name in ("author", "visibility", "distribution", "lifecycleState"):
            if name not in body:
                return None, _error(
                    422,
                    f"ERROR :: /{name} :: field is required but not found and has no default value",
                )
        if body["author"] != member:
            return None, _error(
                403,
                "Not enough permissions to access: the author must be the token's member",
                "ACCESS_DENIED",
                serviceErrorCode=100,
            )
        if body["visibility"] not in VISIBILITIES:
            return None, _error(
                422, f"ERROR :: /visibility :: {str(body['visibility'])[:40]!r} is not an enum"
            )
        distribution = body["distribution"]
        if (
            not isinstance(distribution, dict)
            or distribution.get("feedDistribution") not in FEED_DISTRIBUTIONS
        ):
            return None, _error(
                422, "ERROR :: /distribution/feedDistribution :: field is required or invalid"
            )
        if body["lifecycleState"] not in LIFECYCLE_STATES:
            return None, _error(422, "ERROR :: /lifecycleState :: not an enum symbol")
        commentary = body.get("commentary", "")
        if not isinstance(commentary, str):
            return None, _error(422, "ERROR :: /commentary :: not a string")
        if len(commentary) > MAX_COMMENTARY:
            return None, _input_error(
                400,
                "/commentary",
                f"ShareCommentary text length ({len(commentary)} characters) exceeded the "
                f"maximum allowed ({MAX_COMMENTARY} characters)",
                "MAX_LENGTH_EXCEEDED",
            )
        now = state.clock()
        day = (member, now.astimezone(UTC).date().isoformat())
        if posts.per_day.get(day, 0) >= posts.posts_per_member_per_day:
            return None, _error(429, "Resource level throttle limit for calls to this resource")
        kept = cut_at_unescaped(commentary)
        window = timedelta(seconds=posts.duplicate_window_seconds)
        for earlier in posts.by_author(member):
            if earlier.commentary == kept and now - earlier.created_at < window:
                return None, _error(
                    422,
                    f"Content is a duplicate of {earlier.urn}",
                    "DUPLICATE_POST",
                    serviceErrorCode=409,
                )
        urn = _new_urn(now)
        posts.posts[urn] = SandboxPost(
            urn=urn,
            author=member,
            commentary=kept,
            body={**body, "commentary": kept},
            created_at=now,
            via=via,
        )
        posts.per_day[day] = posts.per_day.get(day, 0) + 1
        return urn, None

    def shown(post: SandboxPost) -> dict[str, Any]:
        at = _epoch_ms(post.created_at)
        return {
            **post.body,
            "id": post.urn,
            "createdAt": at,
            "publishedAt": at,
            "lastModifiedAt": at,
            "lifecycleStateInfo": {"isEditedByAuthor": False},
        }

    def path_urn(request: Request, encoded: str) -> tuple[str, Response | None]:
        raw = request.scope.get("raw_path", b"").decode("latin-1")
        if ":" in raw.rsplit("/", 1)[-1]:
            return "", _error(400, "Syntax exception in path variables", "INVALID_PATH")
        urn = unquote(encoded)
        if not _URN.match(urn):
            return "", _error(400, f"Invalid post id {urn[:60]!r}", "INVALID_PATH")
        return urn, None

    @app.post("/rest/posts", response_model=None, tags=["posts"])
    async def create_post(request: Request) -> Response:
        _, refusal = checked(request, "CREATE", ("w_member_social",))
        if refusal is not None:
            return refusal
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "The request body is not valid JSON")
        if not isinstance(body, dict):
            return _error(422, "ERROR :: / :: the body must be a record")
        urn, refusal = publish(body, "api")
        if refusal is not None:
            return refusal
        assert urn is not None
        return Response(status_code=201, headers={"x-restli-id": urn, "x-linkedin-id": urn})

    @app.get("/rest/posts/{encoded}", response_model=None, tags=["posts"])
    async def get_post(request: Request, encoded: str) -> Response:
        _, refusal = checked(request, "GET", ("w_member_social", "r_member_social"))
        if refusal is not None:
            return refusal
        urn, refusal = path_urn(request, encoded)
        if refusal is not None:
            return refusal
        post = posts.posts.get(urn)
        if post is None or post.author != member:
            return _error(404, f"Post {urn} not found", "NOT_FOUND")
        return JSONResponse(shown(post))

    @app.get("/rest/posts", response_model=None, tags=["posts"])
    async def find_posts(request: Request) -> Response:
        params = request.query_params
        page = unquote(params.get("author", "")).startswith("urn:li:organization:")
        needs = ORGANIZATION_READ if page else ("r_member_social",)
        _, refusal = checked(request, "FINDER-author", needs)
        if refusal is not None:
            return refusal
        if params.get("q") != "author" or not params.get("author"):
            return _error(400, "Finder q=author with an author is required", "INVALID_FINDER")
        count = min(max(int(params.get("count", "10") or 10), 1), 100)
        start = max(int(params.get("start", "0") or 0), 0)
        found = posts.by_author(unquote(params["author"]))
        return JSONResponse(
            {
                "paging": {"start": start, "count": count, "links": [], "total": len(found)},
                "elements": [shown(post) for post in found[start : start + count]],
            }
        )

    @app.delete("/rest/posts/{encoded}", response_model=None, tags=["posts"])
    async def delete_post(request: Request, encoded: str) -> Response:
        _, refusal = checked(request, "DELETE", ("w_member_social",))
        if refusal is not None:
            return refusal
        urn, refusal = path_urn(request, encoded)
        if refusal is not None:
            return refusal
        post = posts.posts.get(urn)
        if post is None or post.author != member:
            return _error(404, f"Post {urn} not found", "NOT_FOUND")
        del posts.posts[urn]
        return Response(status_code=204)

    # --- Share pages (www.linkedin.com) ----------------------------------------------------

    def composer(text: str, url: str) -> HTMLResponse:
        prefilled = "\n\n".join(part for part in (text, url) if part)
        page = (
            "<!doctype html><html><head><meta charset='utf-8'><title>LinkedIn sandbox: share"
            "</title></head><body><h1>Share on LinkedIn (sandbox)</h1>"
            f"<p>Signed in as <b>{html.escape(state.settings.member_name)}</b>.</p>"
            '<form method="post" action="/sandbox/share">'
            f'<textarea name="text" rows="12" cols="80">{html.escape(prefilled)}</textarea>'
            '<br><button type="submit">Post</button></form></body></html>'
        )
        return HTMLResponse(page)

    @app.get("/sharing/share-offsite/", response_model=None, tags=["share pages"])
    async def share_offsite(url: str = "") -> Response:
        return composer("", url[:2000])

    @app.get("/feed/", response_model=None, tags=["share pages"])
    async def feed(shareActive: bool = False, text: str = "") -> Response:
        if not shareActive:
            return HTMLResponse("<!doctype html><p>LinkedIn sandbox feed</p>")
        return composer(text[:MAX_COMMENTARY], "")

    @app.post("/sandbox/share", response_model=None, tags=["share pages"])
    async def share(request: Request) -> Response:
        form = parse_qs((await request.body()).decode(errors="replace"), keep_blank_values=True)
        text = form.get("text", [""])[0]
        escaped = "".join(f"\\{c}" if c in RESERVED else c for c in text)  # the composer does
        urn, refusal = publish(
            {
                "author": member,
                "commentary": escaped,
                "visibility": "PUBLIC",
                "distribution": {"feedDistribution": "MAIN_FEED"},
                "lifecycleState": "PUBLISHED",
            },
            "share page",
        )
        if refusal is not None:
            return refusal
        assert urn is not None
        return RedirectResponse(f"/feed/update/{urn}/", status_code=303)

    @app.get("/feed/update/{urn}/", response_model=None, tags=["share pages"])
    async def permalink(urn: str) -> Response:
        post = posts.posts.get(unquote(urn))
        if post is None:
            return HTMLResponse("<!doctype html><p>This post cannot be displayed</p>", 404)
        return HTMLResponse(
            "<!doctype html><html><head><meta charset='utf-8'><title>LinkedIn sandbox post"
            f"</title></head><body><p>{html.escape(post.commentary)}</p>"
            f"<p><small>{html.escape(post.urn)}</small></p></body></html>"
        )

    @app.get("/sandbox/posts", tags=["sandbox"])
    async def list_posts() -> list[dict[str, Any]]:
        """Sandbox only: every post, newest first."""
        everything = sorted(posts.posts.values(), key=lambda p: p.created_at, reverse=True)
        return [
            {
                "urn": post.urn,
                "author": post.author,
                "commentary": post.commentary,
                "created_at": post.created_at.isoformat(),
                "via": post.via,
                "permalink": f"/feed/update/{quote(post.urn, safe=':')}/",
            }
            for post in everything
        ]

    return posts
