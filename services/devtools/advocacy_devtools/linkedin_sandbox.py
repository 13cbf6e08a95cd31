"""The LinkedIn sandbox: a local server that behaves as LinkedIn's documented endpoints do, for the
demo, the tests and anyone evaluating without a LinkedIn app. So far its OAuth part:

- `GET /oauth/v2/authorization`: checks client id, redirect URI and scopes (401 otherwise, as
  LinkedIn does), then shows an Allow / Cancel page (or approves at once with `auto_approve`) and
  redirects back with `code` and `state`, or `error=user_cancelled_authorize`;
- `POST /oauth/v2/accessToken`: single-use codes that live 30 minutes, tokens that live
  `token_lifetime_seconds` (60 days by default), LinkedIn's error bodies;
- `POST /oauth/v2/introspectToken`; `GET /v2/userinfo` (Bearer; 401 with LinkedIn's error body on
  an invalid, expired or revoked token; 403 without `openid`);
- sandbox-only `/sandbox/*`: expire or revoke a token, queue faults (429, 5xx, delays, holds) on a
  path;
- the Posts API and the share pages: `advocacy_devtools.linkedin_sandbox_posts` (`mount_posts`);
- member post analytics and company-page statistics, with engagement that grows with a post's
  age and a clock tests fast-forward: `advocacy_devtools.linkedin_sandbox_analytics`.

State lives in memory. Run it with `python -m advocacy_devtools.linkedin_sandbox`.
"""

from __future__ import annotations

import asyncio
import html
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from advocacy_devtools.linkedin_sandbox_analytics import mount_analytics
from advocacy_devtools.linkedin_sandbox_posts import mount_posts
from advocacy_shared.linkedin.settings import MEMBER_SCOPES

CODE_LIFETIME = timedelta(minutes=30)
KNOWN_SCOPES = frozenset(
    {
        *MEMBER_SCOPES,
        "r_member_social",
        "rw_organization_admin",
        "r_organization_social",
        "w_organization_social",
    }
)


class SandboxSettings(BaseSettings):
    """`ADVOCACY_LINKEDIN_SANDBOX_*`: the app the sandbox knows and the member who signs in."""

    model_config = SettingsConfigDict(
        env_prefix="ADVOCACY_LINKEDIN_SANDBOX_", extra="ignore", frozen=True
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8090, ge=1, le=65535)
    client_id: str = "sandbox-client"
    client_secret: str = "sandbox-secret"  # noqa: S105 (the sandbox app, not a secret)
    redirect_uris: tuple[str, ...] = Field(
        default=(), description="Registered redirect URLs; empty accepts any http(s) URL"
    )
    member_sub: str = "782bbtaQ"
    member_name: str = "Sandra Sandbox"
    member_email: str = "sandra.sandbox@example.com"
    token_lifetime_seconds: int = Field(default=5_184_000, ge=1)
    auto_approve: bool = False
    posts_per_member_per_day: int = Field(
        default=150, ge=0, description="Posts API: a 429 past this many posts a member a day"
    )
    duplicate_window_seconds: float = Field(
        default=86_400.0, ge=0, description="Posts API: the same text again within it is a 422"
    )
    analytics_seed: int = Field(
        default=14, description="Analytics: the seed of every post's engagement curve"
    )
    analytics_calls_per_member_per_day: int = Field(
        default=100_000, ge=0, description="Analytics: a 429 past this many calls a member a day"
    )


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    expires_at: datetime


@dataclass
class _Token:
    client_id: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime
    status: str = "active"  # active | revoked


@dataclass
class _Fault:
    status: int | None
    delay_seconds: float
    retry_after: int = 0
    hold: bool = False


HOLD_LIMIT_SECONDS = 60.0
"""A held call answers after this long if nobody releases it: a test that fails before its
release does not leave a client waiting forever."""


@dataclass
class _Holds:
    """Calls held by a `hold` fault, by path, until `POST /sandbox/faults/release`."""

    waiting: dict[str, list[asyncio.Event]] = field(default_factory=dict)

    async def hold(self, path: str) -> None:
        released = asyncio.Event()
        self.waiting.setdefault(path, []).append(released)
        try:
            await asyncio.wait_for(released.wait(), HOLD_LIMIT_SECONDS)
        except TimeoutError:
            pass
        finally:
            self.waiting[path].remove(released)

    def held(self, path: str) -> int:
        return len(self.waiting.get(path, ()))

    def release(self, path: str) -> int:
        events = self.waiting.get(path, [])
        for event in events:
            event.set()
        return len(events)


@dataclass
class SandboxState:
    settings: SandboxSettings
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    codes: dict[str, _Code] = field(default_factory=dict)
    tokens: dict[str, _Token] = field(default_factory=dict)
    faults: dict[str, list[_Fault]] = field(default_factory=dict)
    holds: _Holds = field(default_factory=_Holds)
    calls: dict[str, int] = field(default_factory=dict)

    def issue_token(self, client_id: str, scopes: tuple[str, ...]) -> str:
        token = "AQV" + secrets.token_urlsafe(256)
        now = self.clock()
        self.tokens[token] = _Token(
            client_id=client_id,
            scopes=scopes,
            created_at=now,
            expires_at=now + timedelta(seconds=self.settings.token_lifetime_seconds),
        )
        return token

    def token_status(self, token: str) -> str:
        known = self.tokens.get(token)
        if known is None:
            return "invalid"
        if known.status == "revoked":
            return "revoked"
        return "expired" if self.clock() >= known.expires_at else "active"


class FaultIn(BaseModel):
    path: str = Field(description="e.g. /oauth/v2/accessToken or /v2/userinfo")
    status: int | None = Field(default=503, description="null: answer normally after the delay")
    delay_seconds: float = Field(default=0.0, ge=0, le=60)
    count: int = Field(default=1, ge=1, le=100)
    retry_after_seconds: int = Field(default=0, ge=0, le=86_400, description="A 429's Retry-After")
    hold: bool = Field(
        default=False,
        description="After the delay, wait for POST /sandbox/faults/release of the path "
        f"(at most {HOLD_LIMIT_SECONDS:.0f} s): a call held while a test acts, with no timing",
    )


class PathIn(BaseModel):
    path: str


class HeldOut(BaseModel):
    path: str
    held: int = Field(description="Calls of the path waiting for their release")


class TokenIn(BaseModel):
    access_token: str


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _api_error(status: int, code: str, service_code: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"status": status, "serviceErrorCode": service_code, "code": code, "message": message},
        status_code=status,
    )


async def _form(request: Request) -> dict[str, str]:
    parsed = parse_qs((await request.body()).decode(errors="replace"), keep_blank_values=True)
    return {key: values[0] for key, values in parsed.items()}


def create_sandbox(
    settings: SandboxSettings | None = None, clock: Callable[[], datetime] | None = None
) -> FastAPI:
    state = SandboxState(settings or SandboxSettings())
    if clock is not None:
        state.clock = clock
    app = FastAPI(title="LinkedIn sandbox", version="0.1.0")
    app.state.sandbox = state

    @app.middleware("http")
    async def faults(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        path = request.url.path
        state.calls[path] = state.calls.get(path, 0) + 1
        queued = state.faults.get(path)
        if queued:
            fault = queued.pop(0)
            if fault.delay_seconds:
                await asyncio.sleep(fault.delay_seconds)
            if fault.hold:
                await state.holds.hold(path)
            if fault.status is not None:
                return JSONResponse(
                    {"status": fault.status, "message": "sandbox fault"},
                    status_code=fault.status,
                    headers={"Retry-After": str(fault.retry_after)}
                    if fault.status == 429
                    else None,
                )
        return await call_next(request)

    def _check_authorization(params: dict[str, str]) -> tuple[tuple[str, ...], Response | None]:
        """LinkedIn answers 401 (no redirect) for a wrong client, redirect URI or scope."""
        scopes = tuple(s for s in params.get("scope", "").replace(",", " ").split() if s)
        redirect_uri = params.get("redirect_uri", "")
        if params.get("response_type") != "code":
            return scopes, HTMLResponse("response_type must be code", status_code=400)
        if params.get("client_id") != state.settings.client_id:
            return scopes, HTMLResponse("Client_id doesn't match", status_code=401)
        registered = state.settings.redirect_uris
        if (registered and redirect_uri not in registered) or not redirect_uri.startswith(
            ("http://", "https://")
        ):
            return scopes, HTMLResponse("Redirect_uri doesn't match", status_code=401)
        if not scopes or any(scope not in KNOWN_SCOPES for scope in scopes):
            return scopes, HTMLResponse("Invalid scope", status_code=401)
        return scopes, None

    def _redirect(params: dict[str, str], **answer: str) -> RedirectResponse:
        if params.get("state"):
            answer["state"] = params["state"]
        separator = "&" if "?" in params["redirect_uri"] else "?"
        return RedirectResponse(
            f"{params['redirect_uri']}{separator}{urlencode(answer)}", status_code=302
        )

    def _approve(params: dict[str, str], scopes: tuple[str, ...]) -> RedirectResponse:
        code = "AQT" + secrets.token_urlsafe(48)
        state.codes[code] = _Code(
            client_id=params["client_id"],
            redirect_uri=params["redirect_uri"],
            scopes=scopes,
            expires_at=state.clock() + CODE_LIFETIME,
        )
        return _redirect(params, code=code)

    @app.get("/oauth/v2/authorization", response_model=None)
    async def authorization(request: Request) -> Response:
        params = dict(request.query_params)
        scopes, refusal = _check_authorization(params)
        if refusal is not None:
            return refusal
        if state.settings.auto_approve:
            return _approve(params, scopes)
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
        )
        listed = "".join(f"<li>{html.escape(scope)}</li>" for scope in scopes)
        page = (
            "<!doctype html><html><head><meta charset='utf-8'><title>LinkedIn sandbox</title>"
            "</head><body><h1>LinkedIn sandbox</h1>"
            f"<p>Signed in as <b>{html.escape(state.settings.member_name)}</b>. "
            f"The app <b>{html.escape(params['client_id'])}</b> asks for:</p><ul>{listed}</ul>"
            f'<form method="post" action="/oauth/v2/authorization">{hidden}'
            '<button name="decision" value="allow">Allow</button> '
            '<button name="decision" value="cancel">Cancel</button></form></body></html>'
        )
        return HTMLResponse(page)

    @app.post("/oauth/v2/authorization", response_model=None)
    async def decide(request: Request) -> Response:
        params = await _form(request)
        decision = params.pop("decision", "")
        scopes, refusal = _check_authorization(params)
        if refusal is not None:
            return refusal
        if decision == "allow":
            return _approve(params, scopes)
        return _redirect(
            params,
            error="user_cancelled_authorize",
            error_description="The user cancelled the authorization",
        )

    @app.post("/oauth/v2/accessToken", response_model=None)
    async def access_token(request: Request) -> Response:
        form = await _form(request)
        for name in ("grant_type", "client_id", "client_secret"):
            if not form.get(name):
                return _oauth_error(
                    400, "invalid_request", f'A required parameter "{name}" is missing'
                )
        if form["grant_type"] != "authorization_code":
            return _oauth_error(400, "unsupported_grant_type", "The grant type is not supported")
        if (form["client_id"], form["client_secret"]) != (
            state.settings.client_id,
            state.settings.client_secret,
        ):
            return _oauth_error(401, "invalid_client", "Client authentication failed")
        for name in ("code", "redirect_uri"):
            if not form.get(name):
                return _oauth_error(
                    400, "invalid_request", f'A required parameter "{name}" is missing'
                )
        code = state.codes.pop(form["code"], None)  # single use, whatever happens next
        if (
            code is None
            or code.client_id != form["client_id"]
            or code.redirect_uri != form["redirect_uri"]
            or state.clock() >= code.expires_at
        ):
            return _oauth_error(
                400,
                "invalid_request",
                "Unable to retrieve access token: appid/redirect uri/code verifier does not "
                "match authorization code. Or authorization code expired. Or external member "
                "binding exists",
            )
        token = state.issue_token(code.client_id, code.scopes)
        lifetime = state.settings.token_lifetime_seconds
        return JSONResponse(
            {"access_token": token, "expires_in": lifetime, "scope": ",".join(code.scopes)}
        )

    @app.post("/oauth/v2/introspectToken", response_model=None)
    async def introspect(request: Request) -> Response:
        form = await _form(request)
        if (form.get("client_id"), form.get("client_secret")) != (
            state.settings.client_id,
            state.settings.client_secret,
        ):
            return _oauth_error(401, "invalid_client", "Client authentication failed")
        token = state.tokens.get(form.get("token", ""))
        if token is None:
            return JSONResponse({"active": False})
        status = state.token_status(form["token"])
        return JSONResponse(
            {
                "active": status == "active",
                "client_id": token.client_id,
                "authorized_at": int(token.created_at.timestamp()),
                "created_at": int(token.created_at.timestamp()),
                "status": status,
                "expires_at": int(token.expires_at.timestamp()),
                "scope": ",".join(token.scopes),
                "auth_type": "3L",
            }
        )

    def _bearer(request: Request) -> tuple[str, Response | None]:
        header = request.headers.get("Authorization", "")
        token = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
        status = state.token_status(token)
        if status == "revoked":
            return token, _api_error(
                401,
                "REVOKED_ACCESS_TOKEN",
                65601,
                "The token used in the request has been revoked by the user",
            )
        if status == "expired":
            return token, _api_error(
                401, "EXPIRED_ACCESS_TOKEN", 65602, "The token used in the request has expired"
            )
        if status != "active":
            return token, _api_error(401, "INVALID_ACCESS_TOKEN", 65600, "Invalid access token")
        return token, None

    @app.get("/v2/userinfo", response_model=None)
    async def userinfo(request: Request) -> Response:
        token, refusal = _bearer(request)
        if refusal is not None:
            return refusal
        if "openid" not in state.tokens[token].scopes:
            return _api_error(
                403,
                "ACCESS_DENIED",
                100,
                "Not enough permissions to access: userinfo.GET.NO_VERSION",
            )
        settings = state.settings
        given, _, family = settings.member_name.partition(" ")
        return JSONResponse(
            {
                "sub": settings.member_sub,
                "name": settings.member_name,
                "given_name": given,
                "family_name": family,
                "picture": "https://media.licdn.com/sandbox.png",
                "locale": {"country": "DK", "language": "da"},
                "email": settings.member_email,
                "email_verified": True,
            }
        )

    @app.post("/sandbox/tokens/expire", status_code=204, response_model=None)
    async def expire(body: TokenIn) -> Response:
        """Sandbox only: make a token expired now."""
        token = state.tokens.get(body.access_token)
        if token is None:
            return JSONResponse({"message": "unknown token"}, status_code=404)
        token.expires_at = state.clock()
        return Response(status_code=204)

    @app.post("/sandbox/tokens/revoke", status_code=204, response_model=None)
    async def revoke(body: TokenIn) -> Response:
        """Sandbox only: the member revoked the app."""
        token = state.tokens.get(body.access_token)
        if token is None:
            return JSONResponse({"message": "unknown token"}, status_code=404)
        token.status = "revoked"
        return Response(status_code=204)

    @app.post("/sandbox/faults", status_code=204)
    async def add_fault(body: FaultIn) -> None:
        """Sandbox only: the next `count` calls of `path` fail with `status` after a delay (and,
        with `hold`, once released)."""
        state.faults.setdefault(body.path, []).extend(
            _Fault(body.status, body.delay_seconds, body.retry_after_seconds, body.hold)
            for _ in range(body.count)
        )

    @app.get("/sandbox/faults/held")
    async def held(path: str) -> HeldOut:
        """Sandbox only: how many calls of `path` a `hold` fault keeps waiting now."""
        return HeldOut(path=path, held=state.holds.held(path))

    @app.post("/sandbox/faults/release")
    async def release(body: PathIn) -> HeldOut:
        """Sandbox only: the held calls of `path` go on; the answer says how many there were."""
        return HeldOut(path=body.path, held=state.holds.release(body.path))

    mount_analytics(app, state, mount_posts(app, state))

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok"}

    return app


def main() -> None:
    import uvicorn

    settings = SandboxSettings()
    uvicorn.run(
        create_sandbox(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
