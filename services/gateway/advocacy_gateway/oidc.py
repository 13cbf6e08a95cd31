"""OpenID Connect single sign-on (authorization code flow with PKCE) against an organisation's
identity provider: discovery, the authorization URL, the code exchange, and ID token checks."""

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

    def __init__(self, http: httpx.AsyncClient, cache_seconds: float = 300.0) -> None:
        self.http = http
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
        response = await self.http.post(
            metadata.token_endpoint,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
            auth=(client_id, client_secret),
        )
        if response.status_code != 200:
            raise OidcError(f"the provider refused the code (HTTP {response.status_code})")
        id_token = response.json().get("id_token")
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
        try:
            response = await self.http.get(url)
        except httpx.HTTPError as exc:
            raise OidcError(f"the provider cannot be reached ({type(exc).__name__})") from exc
        if response.status_code != 200:
            raise OidcError(f"the provider answered HTTP {response.status_code} for {url}")
        document = response.json()
        self._cache[url] = (time.monotonic() + self.cache_seconds, document)
        return document
