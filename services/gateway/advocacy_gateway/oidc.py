"""OpenID Connect single sign-on (authorization code flow with PKCE) against an organisation's
identity provider: discovery, the authorization URL, the code exchange, and ID token checks.

The issuer is an organisation admin's input, and the discovery document names the other endpoints:
every fetch (discovery, key set, token endpoint) goes through the platform's fetch guard
(`advocacy_shared.outbound`), and errors never echo the provider's status, body or URLs.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from advocacy_shared import outbound
from advocacy_shared.outbound import FetchPolicy


class OidcError(Exception):
    """The provider or its answer cannot be trusted; the message says why (no secrets in it)."""


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


@dataclass(frozen=True)
class Identity:
    subject: str
    email: str


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode())


class OidcClient:
    """Talks to identity providers; discovery documents and key sets are cached for a while."""

    def __init__(
        self, http: httpx.AsyncClient, policy: FetchPolicy, cache_seconds: float = 300.0
    ) -> None:
        self.http = http
        self.policy = policy
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Any]] = {}

    async def metadata(self, issuer: str) -> ProviderMetadata:
        document = await self._get_json(f"{issuer.rstrip('/')}/.well-known/openid-configuration")
        try:
            metadata = ProviderMetadata(
                issuer=document["issuer"],
                authorization_endpoint=document["authorization_endpoint"],
                token_endpoint=document["token_endpoint"],
                jwks_uri=document["jwks_uri"],
            )
        except (KeyError, TypeError) as exc:
            raise OidcError("the provider's discovery document lacks required fields") from exc
        if metadata.issuer.rstrip("/") != issuer.rstrip("/"):
            raise OidcError("the provider's discovery document names another issuer")
        return metadata

    @staticmethod
    def authorization_url(
        metadata: ProviderMetadata,
        client_id: str,
        redirect_uri: str,
        state: str,
        nonce: str,
        pkce: Pkce,
    ) -> str:
        query = urlencode(
            {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": redirect_uri,
                "scope": "openid email profile",
                "state": state,
                "nonce": nonce,
                "code_challenge": pkce.challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{metadata.authorization_endpoint}?{query}"

    async def identity(
        self,
        metadata: ProviderMetadata,
        client_id: str,
        client_secret: str,
        code: str,
        redirect_uri: str,
        verifier: str,
        nonce: str,
    ) -> Identity:
        """Exchange the code for an ID token and check it: signature, issuer, audience, expiry,
        nonce, and a verified email address."""
        response = await self._fetch(
            metadata.token_endpoint,
            "POST",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
            auth=(client_id, client_secret),
        )
        if response.status_code != 200:
            raise OidcError("the provider refused the code")
        answer = _json(response)
        id_token = answer.get("id_token") if isinstance(answer, dict) else None
        if not isinstance(id_token, str):
            raise OidcError("the provider sent no ID token")
        claims = await self._verified_claims(metadata, id_token, client_id)
        if claims.get("nonce") != nonce:
            raise OidcError("the ID token's nonce does not match this sign-in")
        email = claims.get("email")
        if not isinstance(email, str) or claims.get("email_verified") is not True:
            raise OidcError("the provider did not vouch for an email address")
        return Identity(subject=str(claims["sub"]), email=email.lower())

    async def _verified_claims(
        self, metadata: ProviderMetadata, id_token: str, client_id: str
    ) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(id_token)
            keys = jwt.PyJWKSet.from_dict(await self._get_json(metadata.jwks_uri))
            key = next(k for k in keys.keys if k.key_id == header.get("kid"))
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key=key.key,
                algorithms=["RS256", "ES256", "PS256"],
                audience=client_id,
                issuer=metadata.issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
                leeway=30,
            )
        except StopIteration as exc:
            raise OidcError("the ID token is signed with a key the provider does not list") from exc
        except jwt.PyJWTError as exc:
            raise OidcError(f"the ID token is not valid: {exc}") from exc
        return claims

    async def _get_json(self, url: str) -> Any:
        cached = self._cache.get(url)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        response = await self._fetch(url, "GET")
        if response.status_code != 200:
            raise OidcError("the provider did not answer as an OpenID provider does")
        document = _json(response)
        self._cache[url] = (time.monotonic() + self.cache_seconds, document)
        return document

    async def _fetch(self, url: str, method: str, **kwargs: Any) -> outbound.Fetched:
        """One guarded fetch; its failures say nothing of the answer, nor of the address."""
        try:
            return await outbound.fetch(self.http, url, self.policy, method, **kwargs)
        except outbound.FetchRefused as exc:
            raise OidcError("the provider's address is not one this platform may reach") from exc
        except outbound.FetchFailed as exc:
            raise OidcError("the provider cannot be reached") from exc


def _json(response: outbound.Fetched) -> Any:
    try:
        return response.json()
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise OidcError("the provider did not answer as an OpenID provider does") from exc
