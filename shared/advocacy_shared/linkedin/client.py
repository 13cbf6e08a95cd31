"""The one place that talks to LinkedIn, through the official `linkedin-api-client`.

The client is synchronous, sets no timeout and never raises on an HTTP error, so this adapter:
runs it off the event loop (`asyncio.to_thread`), mounts an `HTTPAdapter` with a default timeout
on its sessions, checks every status code, retries 429 and 5xx (and transport errors) with bounded
exponential backoff, and turns failures into typed errors whose messages never carry a token, a
code or the client secret.

The client keeps LinkedIn's base URLs as module constants (and `clients/auth/utils/oauth.py` keeps
its own copy of the OAuth one): `install_base_urls` patches them from settings. Module globals are
process-wide, so every client of one process must agree on them; one process talks to one
LinkedIn (the real one, or the sandbox).

Room is left for posts and analytics (`_restli`, `_call`), not built yet.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import linkedin_api.clients.auth.utils.oauth as oauth_module
import linkedin_api.common.constants as constants
import requests
from linkedin_api.clients.auth.client import AuthClient
from linkedin_api.clients.restli.client import RestliClient
from linkedin_api.common.errors import ResponseFormattingError
from requests.adapters import HTTPAdapter

from advocacy_shared import outbound
from advocacy_shared.linkedin.settings import LinkedInSettings
from advocacy_shared.outbound import FetchPolicy
from advocacy_shared.telemetry import LINKEDIN_CALLS

log = logging.getLogger(__name__)

T = TypeVar("T")


class LinkedInError(Exception):
    """Base of every LinkedIn failure. Messages name the call and the status, never a secret."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class LinkedInNotConfigured(LinkedInError):
    """No LinkedIn app (client id, secret, redirect URL) is configured."""


class LinkedInUnavailable(LinkedInError):
    """LinkedIn could not be reached, timed out, throttled (429) or failed (5xx), retries spent."""


class LinkedInRejected(LinkedInError):
    """LinkedIn refused the request (4xx): a bad or expired code, a missing scope, a bad request."""


class LinkedInTokenRejected(LinkedInRejected):
    """A 401 on an API call: the member's token is invalid, expired or revoked: reconnect."""


@dataclass(frozen=True)
class TokenGrant:
    access_token: str = field(repr=False)
    expires_in: int
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class LinkedInMember:
    sub: str
    name: str | None = None
    email: str | None = None

    @property
    def urn(self) -> str:
        return f"urn:li:person:{self.sub}"


_installed: tuple[str, str, str] | None = None
_install_lock = threading.Lock()


def install_base_urls(settings: LinkedInSettings) -> None:
    """Point the official client at `settings`' base URLs (process-wide module constants)."""
    global _installed
    wanted = (
        settings.oauth_base_url.rstrip("/"),
        settings.rest_base_url.rstrip("/"),
        settings.v2_base_url.rstrip("/"),
    )
    with _install_lock:
        if _installed is not None and _installed != wanted:
            log.warning("LinkedIn base URLs changed in a running process", extra={"to": wanted[0]})
        constants.OAUTH_BASE_URL, constants.VERSIONED_BASE_URL = wanted[0], wanted[1]
        constants.NON_VERSIONED_BASE_URL = wanted[2]
        oauth_module.OAUTH_BASE_URL = wanted[0]  # its own `from ... import` copy
        _installed = wanted


@dataclass
class _Outcome(Generic[T]):
    result: T | None
    status: int | None
    retry_after: str | None


class _LastResponse(threading.local):
    status: int | None = None
    retry_after: str | None = None


class _TimeoutAdapter(HTTPAdapter):
    """Applies a default timeout when the caller (the client) gives none, notes each response's
    status (the client's formatters raise on non-JSON bodies and lose it), and passes every
    request through the platform's fetch guard (`advocacy_shared.outbound`): the host must resolve
    to addresses the policy allows, and the connection goes to the address that was checked
    (the name kept in `Host`, SNI and the certificate check)."""

    def __init__(
        self, timeout: tuple[float, float], seen: _LastResponse, policy: FetchPolicy
    ) -> None:
        super().__init__(max_retries=0)  # the adapter retries, with backoff, above this
        self.timeout = timeout
        self.seen = seen
        self.policy = policy

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        kwargs["proxies"] = {}  # we connect to the checked address, never through a proxy
        target = _checked(str(request.url), self.policy)
        request.url = str(target.pinned_url(target.addresses[0]))
        request.headers["Host"] = target.host_header
        _PINNED.name = target.url.host
        try:
            response = super().send(request, **kwargs)
        finally:
            _PINNED.name = None
        self.seen.status = response.status_code
        self.seen.retry_after = response.headers.get("Retry-After")
        return response

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """TLS to a pinned address still checks (and sends as SNI) the name asked for."""
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        if _PINNED.name is not None and host_params.get("scheme") == "https":
            pool_kwargs["server_hostname"] = _PINNED.name
            pool_kwargs["assert_hostname"] = _PINNED.name
        return host_params, pool_kwargs


class _Pinned(threading.local):
    name: str | None = None


_PINNED = _Pinned()


def _checked(url: str, policy: FetchPolicy) -> outbound.Target:
    try:
        return outbound.check_sync(url, policy)
    except outbound.FetchRefused as exc:
        raise requests.ConnectionError(f"the fetch guard refused the URL ({exc.reason})") from exc


def _prepare(session: requests.Session, settings: LinkedInSettings, seen: _LastResponse) -> None:
    session.trust_env = False
    policy = FetchPolicy(allowed_networks=tuple(settings.allowed_networks))
    adapter = _TimeoutAdapter(
        (settings.connect_timeout_seconds, settings.read_timeout_seconds), seen, policy
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)


def _retryable(status: int | None) -> bool:
    return status is not None and (status == 429 or status >= 500)


class LinkedInClient:
    """Async face of the official client, for one LinkedIn app."""

    def __init__(
        self,
        settings: LinkedInSettings,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        install_base_urls(settings)
        self._seen = _LastResponse()
        self._auth: Any = None
        if settings.configured:
            assert settings.client_id
            assert settings.client_secret
            self._auth = AuthClient(
                settings.client_id,
                settings.client_secret.get_secret_value(),
                settings.redirect_url,
            )
            _prepare(self._auth.session, settings, self._seen)
        self._restli: Any = RestliClient()
        _prepare(self._restli.session, settings, self._seen)

    @property
    def configured(self) -> bool:
        return self._auth is not None

    def close(self) -> None:
        if self._auth is not None:
            self._auth.session.close()
        self._restli.session.close()

    def authorization_url(self, state: str, scopes: tuple[str, ...] | None = None) -> str:
        """Where to send the member. `state` is appended unencoded: it must be URL-safe."""
        if not state or not all(c.isalnum() or c in "-_" for c in state):
            raise ValueError("the state must be a non-empty URL-safe string")
        url: str = self._auth_client().generate_member_auth_url(
            scopes=list(scopes or self.settings.scopes), state=state
        )
        return url

    async def exchange_code(self, code: str) -> TokenGrant:
        """The authorization code for the member's access token (single use, 30 minutes)."""
        auth = self._auth_client()
        response = await self._call(
            "token exchange", lambda: auth.exchange_auth_code_for_access_token(code)
        )
        if response.status_code != 200 or not response.access_token:
            raise _rejection("token exchange", response.status_code, _oauth_error(response))
        scopes = tuple(s for s in (response.scope or "").replace(",", " ").split() if s)
        return TokenGrant(
            access_token=response.access_token,
            expires_in=int(response.expires_in or 0),
            scopes=scopes,
        )

    async def userinfo(self, access_token: str) -> LinkedInMember:
        """`GET /v2/userinfo` (OpenID Connect): the member's id (`sub`), name and email."""
        response = await self._call(
            "userinfo",
            lambda: self._restli.get(resource_path="/userinfo", access_token=access_token),
        )
        entity = response.entity if isinstance(response.entity, dict) else {}
        if response.status_code != 200:
            raise _rejection("userinfo", response.status_code, _api_error(entity))
        sub = entity.get("sub")
        if not isinstance(sub, str) or not sub:
            raise LinkedInRejected("LinkedIn's userinfo named no member", status=200)
        return LinkedInMember(sub=sub, name=entity.get("name"), email=entity.get("email"))

    def _auth_client(self) -> Any:
        if self._auth is None:
            raise LinkedInNotConfigured("no LinkedIn app is configured (ADVOCACY_LINKEDIN_*)")
        return self._auth

    async def _call(self, what: str, call: Callable[[], T]) -> T:
        """Run one client call off the loop; retry 429, 5xx and transport errors with backoff."""
        attempts = self.settings.max_attempts
        for attempt in range(1, attempts + 1):
            outcome: _Outcome[T] | None = None
            try:
                outcome = await asyncio.to_thread(self._observed, call)
            except requests.RequestException as exc:
                failure: LinkedInError = LinkedInUnavailable(
                    f"LinkedIn's {what} could not be reached ({type(exc).__name__})"
                )
            else:
                status = outcome.status
                if outcome.result is not None and not _retryable(status):
                    LINKEDIN_CALLS.labels(what, "ok").inc()
                    return outcome.result
                if outcome.result is None and status is not None and not _retryable(status):
                    LINKEDIN_CALLS.labels(what, "failed").inc()
                    raise _rejection(what, status, None)  # an unreadable 4xx body
                failure = LinkedInUnavailable(
                    f"LinkedIn's {what} answered {status or 'an unreadable response'}",
                    status=status,
                )
            if attempt == attempts:
                LINKEDIN_CALLS.labels(what, "failed").inc()
                raise failure
            LINKEDIN_CALLS.labels(what, "retried").inc()
            delay = self._delay(attempt, outcome.retry_after if outcome else None)
            log.warning(
                "LinkedIn call failed; retrying",
                extra={"call": what, "status": failure.status, "attempt": attempt, "s": delay},
            )
            await self._sleep(delay)
        raise AssertionError("unreachable")

    def _observed(self, call: Callable[[], T]) -> _Outcome[T]:
        """In the worker thread: the call's result (None when unreadable) and the status seen."""
        self._seen.status = self._seen.retry_after = None
        try:
            result: T | None = call()
        except ResponseFormattingError:
            result = None  # a body that is not JSON (a proxy's error page): the status tells
        return _Outcome(result, self._seen.status, self._seen.retry_after)

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        delay = self.settings.backoff_initial_seconds * 2 ** (attempt - 1)
        if retry_after is not None and retry_after.isdigit():
            delay = max(delay, float(retry_after))
        return float(min(delay, self.settings.backoff_max_seconds))


def _oauth_error(response: Any) -> str | None:
    """The OAuth error code (`invalid_request`, ...) of a failed token response, if any."""
    raw = getattr(response, "response", None)
    try:
        body = raw.json() if raw is not None else None
    except ValueError:
        return None
    code = body.get("error") if isinstance(body, dict) else None
    return str(code) if code else None


def _api_error(entity: dict[str, Any]) -> str | None:
    code = entity.get("code") or entity.get("serviceErrorCode")
    return str(code) if code is not None else None


def _rejection(what: str, status: int, code: str | None) -> LinkedInError:
    if _retryable(status):
        return LinkedInUnavailable(f"LinkedIn's {what} answered {status}", status=status)
    message = f"LinkedIn refused the {what} ({status}{f' {code}' if code else ''})"
    if status == 401 and what != "token exchange":
        return LinkedInTokenRejected(message, status=status, code=code)
    return LinkedInRejected(message, status=status, code=code)
