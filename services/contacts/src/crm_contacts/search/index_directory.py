"""Bookkeeping beside an embedded search index, in files next to it:

    <name>.lock    held (flock) by the one process that owns the index; the OS drops it on a crash
    <name>.open    present while that process has it open: still there at start = not closed cleanly
    <name>.source  which database the index was built from

A DATA_DIR shared by mistake (a test run and `make run` from one checkout both default to var/)
must neither let two processes swap generations under each other nor leave one database's
customers in an index another database's service answers from."""
from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path


def database_identity(url: str) -> str:
    """Stable across restarts, free of credentials."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


class IndexDirectory:
    def __init__(self, directory: Path, name: str) -> None:
        self.lock_path = directory / f"{name}.lock"
        self.open_path = directory / f"{name}.open"
        self.source_path = directory / f"{name}.source"
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Own the index; False when another process does."""
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def left_open(self) -> bool:
        return self.open_path.exists()

    def built_from(self) -> str:
        try:
            return self.source_path.read_text().strip()
        except OSError:
            return ""

    def opened(self, source: str) -> None:
        self.open_path.touch()
        if self.built_from() != source:
            self.source_path.write_text(source)

    def closed_cleanly(self) -> None:
        self.open_path.unlink(missing_ok=True)
