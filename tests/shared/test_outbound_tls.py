"""Guarded HTTP clients (`outbound.guarded_client`: the OpenID Connect client, webhook delivery)
share the process's one verifying TLS context: loading the CA bundle costs about 16 ms of CPU, and
every gateway and every webhook delivery process makes such clients."""

from __future__ import annotations

import ssl
from typing import Any

import pytest

from advocacy_shared import outbound


async def test_guarded_clients_load_the_ca_bundle_at_most_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loaded: list[Any] = []
    make_context = ssl.create_default_context

    def counted(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        loaded.append(kwargs.get("cafile"))
        return make_context(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counted)
    outbound._verifying_tls.cache_clear()
    try:
        # As the OIDC client makes one, and as webhook delivery does (its transport is None
        # unless a test gives one).
        clients = [outbound.guarded_client(5.0) for _ in range(2)]
        clients += [outbound.guarded_client(5.0, transport=None) for _ in range(2)]
        for client in clients:
            await client.aclose()
    finally:
        outbound._verifying_tls.cache_clear()
    assert len(loaded) == 1
