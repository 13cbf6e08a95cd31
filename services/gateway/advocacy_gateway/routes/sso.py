"""Single sign-on with the organisation's OpenID Connect provider."""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Cookie, Query, Response
from fastapi.responses import RedirectResponse
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from advocacy_gateway import service
from advocacy_gateway.auth import SESSION_COOKIE, SsoManager
from advocacy_gateway.models import OidcProvider
from advocacy_gateway.problems import Problem, ProblemError
from advocacy_gateway.repository import OidcRepository
from advocacy_gateway.routes.common import COMMON_PROBLEMS, State
from advocacy_gateway.state import GatewayState

router = APIRouter(prefix="/api/v1", tags=["single sign-on"], responses=COMMON_PROBLEMS)

CALLBACK_PATH = "/api/v1/auth/oidc/callback"
STATE_COOKIE = "advocacy_oidc_state"
ATTEMPT_LIFETIME = timedelta(minutes=10)


class OidcConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    issuer: AnyHttpUrl = Field(examples=["https://login.microsoftonline.com/<tenant>/v2.0"])
    client_id: str = Field(min_length=1, max_length=200)
    client_secret: str = Field(min_length=1, max_length=500)
    email_domains: list[str] = Field(
        default_factory=list,
        description="When given, only addresses at these domains may sign in",
        examples=[["acme.dk"]],
    )


class OidcConfigOut(BaseModel):
    issuer: str
    client_id: str
    email_domains: list[str]
    redirect_uri: str = Field(description="Register this URL at the identity provider")

    @classmethod
    def of(cls, provider: OidcProvider, redirect_uri: str) -> OidcConfigOut:
        return cls(
            issuer=provider.issuer,
            client_id=provider.client_id,
            email_domains=provider.email_domains,
            redirect_uri=redirect_uri,
        )


def callback_url(state: GatewayState) -> str:
    return f"{state.settings.public_url.rstrip('/')}{CALLBACK_PATH}"


@router.put("/orgs/{org_id}/sso/oidc", summary="Set up single sign-on (the secret is sealed)")
async def configure(body: OidcConfig, access: SsoManager, state: State) -> OidcConfigOut:
    async with state.transaction() as session:
        provider = await service.configure_sso(
            session,
            state.oidc,
            state.secrets,
            access.organisation.id,
            access.principal.actor,
            str(body.issuer).rstrip("/"),
            body.client_id,
            body.client_secret,
            body.email_domains,
        )
    return OidcConfigOut.of(provider, callback_url(state))


@router.get("/orgs/{org_id}/sso/oidc", summary="The single sign-on set-up (never the secret)")
async def read_configuration(access: SsoManager, state: State) -> OidcConfigOut:
    async with state.sessions() as session:
        provider = await OidcRepository(session).provider(access.organisation.id)
    if provider is None:
        raise ProblemError(404, "not-found", "single sign-on is not configured")
    return OidcConfigOut.of(provider, callback_url(state))


@router.delete("/orgs/{org_id}/sso/oidc", status_code=204, summary="Turn single sign-on off")
async def remove(access: SsoManager, state: State) -> Response:
    async with state.transaction() as session:
        await service.remove_sso(session, access.organisation.id, access.principal.actor)
    return Response(status_code=204)


@router.get(
    "/auth/oidc/{org_slug}/login",
    status_code=302,
    response_class=RedirectResponse,
    summary="Start single sign-on: redirects the browser to the organisation's provider",
    responses={
        502: {"model": Problem, "description": "The provider cannot be reached"},
        503: {"model": Problem, "description": "Too many sign-ins under way"},
    },
)
async def start(
    org_slug: str,
    state: State,
    return_to: Annotated[
        str, Query(max_length=500, pattern=r"^/([^/\\].*)?$", description="A path on this site")
    ] = "/",
) -> RedirectResponse:
    async with state.transaction() as session:
        try:
            begun = await service.start_sso(
                session,
                state.oidc,
                state.secrets,
                org_slug,
                callback_url(state),
                return_to,
                ATTEMPT_LIFETIME,
                state.settings.sso_max_pending_attempts,
            )
        except service.SsoFailed as exc:
            raise ProblemError(502, "sso-provider", str(exc)) from exc
        except service.SsoBusy as exc:
            raise ProblemError(503, "sso-busy", str(exc), headers={"Retry-After": "60"}) from exc
    response = RedirectResponse(begun.redirect_to, status_code=302)
    # Binds the attempt to this browser, so nobody can complete a sign-in someone else began.
    response.set_cookie(
        STATE_COOKIE,
        begun.state,
        max_age=int(ATTEMPT_LIFETIME.total_seconds()),
        httponly=True,
        secure=state.settings.secure_cookies,
        samesite="lax",
        path=CALLBACK_PATH,
    )
    return response


@router.get(
    "/auth/oidc/callback",
    status_code=302,
    response_class=RedirectResponse,
    summary="Where the provider sends the browser back; opens the session",
)
async def callback(
    state: State,
    code: Annotated[str, Query(min_length=1, max_length=2000)],
    state_param: Annotated[str, Query(alias="state", min_length=1, max_length=200)],
    browser_state: Annotated[str | None, Cookie(alias=STATE_COOKIE)] = None,
) -> RedirectResponse:
    lifetime = timedelta(hours=state.settings.session_hours)
    if browser_state is None or not hmac.compare_digest(
        browser_state.encode(), state_param.encode()
    ):
        raise ProblemError(401, "sso-failed", "this sign-in was not started in this browser")
    try:
        async with state.transaction() as session:
            attempt = await service.claim_sso_attempt(session, state_param)
        async with state.transaction() as session:
            token, _ = await service.finish_sso(
                session, state.oidc, state.secrets, attempt, code, callback_url(state), lifetime
            )
    except service.SsoFailed as exc:
        raise ProblemError(401, "sso-failed", str(exc)) from exc
    response = RedirectResponse(attempt.return_to, status_code=302)
    response.delete_cookie(STATE_COOKIE, path=CALLBACK_PATH)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        secure=state.settings.secure_cookies,
        samesite="lax",  # the provider's redirect is a cross-site navigation
        path="/",
    )
    return response
