"""Secrets at rest (OAuth tokens, client secrets): sealed with Fernet (AES-128-CBC + HMAC-SHA256).

Several keys may be configured, comma-separated: the first seals, every one opens, so a key can
be rotated by putting the new one first and dropping the old one once everything is resealed.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretUnreadable(Exception):
    """A sealed value that none of the configured keys opens (wrong key, or tampered)."""


class SecretBox:
    def __init__(self, keys: str) -> None:
        parsed = [Fernet(key.strip().encode()) for key in keys.split(",") if key.strip()]
        if not parsed:
            raise ValueError("no encryption key given")
        self._fernet = MultiFernet(parsed)

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            raise SecretUnreadable("the sealed value cannot be opened with the keys given") from exc


def new_key() -> str:
    return Fernet.generate_key().decode()


def development_key(data_dir: Path) -> str:
    """The embedded run's key: made once, kept in the data folder, readable by its owner only."""
    path = data_dir / "encryption.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(new_key())
    return path.read_text().strip()
