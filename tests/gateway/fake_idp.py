"""A small but honest OpenID Connect provider for single sign-on tests: real HTTP on 127.0.0.1,
discovery, an authorization endpoint that approves at once, a token endpoint that checks the
client and PKCE, and RS256-signed ID tokens."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from advocacy_devtools.embedded_nats import free_port
from tests.loopback import LoopbackServer

CLIENT_ID = "advocacy-platform"
CLIENT_SECRET = "idp-client-secret-0123456789"


@dataclass
class Grant:
    redirect_uri: str
    nonce: str
    challenge: str


@dataclass
class FakeIdp:
    email: str = "ada@acme.test"
    email_verified: bool = True
    nonce_override: str | None = None
    sign_with_unlisted_key: bool = False
    port: int = field(default_factory=free_port)
    grants: dict[str, Grant] = field(default_factory=dict)
    token_requests: int = 0

    def __post_init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._server: LoopbackServer | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _discovery(self, _request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
            }
        )

    async def _authorize(self, request: Request) -> Response:
        params = request.query_params
        assert params["client_id"] == CLIENT_ID
        assert params["code_challenge_method"] == "S256"
        code = secrets.token_urlsafe(16)
        self.grants[code] = Grant(params["redirect_uri"], params["nonce"], params["code_challenge"])
        query = urlencode({"code": code, "state": params["state"]})
        return RedirectResponse(f"{params['redirect_uri']}?{query}", status_code=302)

    async def _token(self, request: Request) -> Response:
        self.token_requests += 1
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = self.grants.pop(form["code"], None)
        verifier = form.get("code_verifier", "")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if grant is None or digest.rstrip(b"=").decode() != grant.challenge:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        if form["redirect_uri"] != grant.redirect_uri:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        return JSONResponse({"id_token": self._id_token(grant.nonce), "token_type": "Bearer"})

    def _id_token(self, nonce: str) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": "idp-user-1",
            "email": self.email,
            "email_verified": self.email_verified,
            "nonce": self.nonce_override or nonce,
            "iat": now,
            "exp": now + 300,
        }
        key = self.other_key if self.sign_with_unlisted_key else self.key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "key-1"})

    async def _jwks(self, _request: Request) -> Response:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return JSONResponse({"keys": [{**jwk, "kid": "key-1", "use": "sig", "alg": "RS256"}]})

    async def start(self) -> FakeIdp:
        app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._discovery),
                Route("/authorize", self._authorize),
                Route("/token", self._token, methods=["POST"]),
                Route("/jwks", self._jwks),
            ]
        )
        self._server = LoopbackServer(app, self.port)
        await self._server.start()
        return self

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()
