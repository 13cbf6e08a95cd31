"""An exclusive lock on a folder, held while a process uses it (a data folder, a NATS store).

`flock` on a file in the folder: the kernel releases it when the holder exits however it exits
(even `kill -9`), so a stale lock file never blocks the next start. The holder's pid is written
into the file to name it in the refusal.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

LOCK_FILE = ".lock"


class FolderInUseError(RuntimeError):
    pass


@dataclass
class FolderLock:
    path: Path
    fd: int

    @classmethod
    def acquire(cls, folder: Path, holder: str) -> FolderLock:
        """Lock `folder` for `holder` (what this process is, for the message), or refuse clearly."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise FolderInUseError(
                f"{folder} is in use by another process (pid {other}): refusing to start "
                f"{holder} on it. Stop the other one first, or choose another folder "
                "(ADVOCACY_DATA_DIR)."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        return cls(path, fd)

    def release(self) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
