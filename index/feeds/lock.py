"""One poller per deployment: whoever polls holds an exclusive lock on
`<data_dir>/feeds/poller.lock` (flock, as the store's writer lock: the kernel releases it
when the holder dies, even by kill -9), with its pid written in for the others' messages.
`qa serve` replicas that share the data dir take turns holding it; `qa feeds poll` refuses
while someone holds it."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class PollerBusy(Exception):
    """Another process is polling these feeds."""


class PollerLock:
    def __init__(self, folder: Path) -> None:
        self.path = folder / "poller.lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if no one holds it; whether this process holds it now."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return True

    def acquire(self) -> None:
        """Take the lock or raise PollerBusy naming the holder."""
        if not self.try_acquire():
            raise PollerBusy(f"another process (pid {self.holder()}) is polling the feeds of this data dir "
                             "(qa serve polls them in the background; feeds_poll=off turns that off)")

    def holder(self) -> str:
        try:
            return self.path.read_text().strip() or "?"
        except OSError:
            return "?"

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None
