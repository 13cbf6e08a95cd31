"""Secrets: password hashes (Argon2id), API keys and session tokens (stored as SHA-256 hashes).

Argon2 costs about 0.4 s of CPU by design. Run on the event loop, a handful of bogus logins would
stall every tenant's requests, so the gateway hashes and verifies only through the `*_off_loop`
functions: a small, bounded pool of threads (argon2-cffi releases the GIL), behind which logins
queue while everything else keeps flowing.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from advocacy_gateway.settings import (
    OWASP_MINIMUM_MEMORY_KIB,
    OWASP_MINIMUM_TIME_COST,
    GatewaySettings,
)

log = logging.getLogger(__name__)

_hasher = PasswordHasher()
_dummy_hash: str | None = None


def _dummy() -> str:
    """A hash of a password nobody has: verifying against it keeps the time of a login for an
    unknown user close to that of a known one. Made on first use, not at import (it costs a
    whole hash in every process that imports this module)."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
    return _dummy_hash


def use_password_hasher(hasher: PasswordHasher) -> PasswordHasher:
    """Hash new passwords with `hasher` from now on; returns the one it replaces. A hash records
    its own parameters, so verification follows whichever hasher made it. The gateway process
    sets it once from its settings (`configured_hasher`); tests set the cheapest, since hashing
    at production cost is the slowest step of many of them."""
    global _hasher, _dummy_hash
    previous, _hasher, _dummy_hash = _hasher, hasher, None
    return previous


def configured_hasher(settings: GatewaySettings) -> PasswordHasher:
    """The hasher of the gateway's `password_hash_*` settings, with a warning when it is weaker
    than OWASP's least (which production refuses): the platforms the test suite starts use the
    cheapest, on purpose."""
    if settings.weak_password_hashing:
        log.warning(
            "password hashes are weaker than OWASP's minimum "
            f"({OWASP_MINIMUM_MEMORY_KIB} KiB, {OWASP_MINIMUM_TIME_COST} iterations): "
            "for tests and development only",
            extra={
                "memory_kib": settings.password_hash_memory_kib,
                "time_cost": settings.password_hash_time_cost,
            },
        )
    return PasswordHasher(
        time_cost=settings.password_hash_time_cost,
        memory_cost=settings.password_hash_memory_kib,
        parallelism=settings.password_hash_parallelism,
    )


API_KEY_PREFIX = "adv"
_API_KEY = re.compile(rf"^{API_KEY_PREFIX}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{43}})$")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    """Whether a hash was made with other Argon2 parameters than the current ones (the
    `password_hash_*` settings changed since)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return False


_ARGON2_WORKERS = 2
_argon2_pool = ThreadPoolExecutor(max_workers=_ARGON2_WORKERS, thread_name_prefix="argon2")


async def hash_password_off_loop(password: str) -> str:
    """`hash_password` in the bounded Argon2 pool."""
    return await asyncio.get_running_loop().run_in_executor(_argon2_pool, hash_password, password)


async def verify_password_off_loop(password_hash: str | None, password: str) -> bool:
    """`verify_password` in the bounded Argon2 pool."""
    return await asyncio.get_running_loop().run_in_executor(
        _argon2_pool, verify_password, password_hash, password
    )


def hash_secret(secret: str) -> str:
    """API keys and session tokens carry 256 random bits: a plain SHA-256 cannot be reversed."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same_secret(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def new_api_key() -> tuple[str, str]:
    """A new key as (lookup prefix, the whole key to hand out once)."""
    prefix = secrets.token_hex(6)
    return prefix, f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"


def parse_api_key(token: str) -> str | None:
    """The lookup prefix of a well-formed key, else None."""
    match = _API_KEY.match(token)
    return match.group(1) if match else None


def new_token() -> str:
    return secrets.token_urlsafe(32)
