"""Why a write is refused before or while it runs, so that a full disk or a stuck write never
freezes the process: `check_free_space` refuses a batch up front when the data dir's file
system has less room than the batch needs plus a reserve (`min_free_mb`), and `BoundedLock`
waits for the process's writer for at most `write_timeout_seconds`.

An embedded Chroma store that runs out of room mid-write fails with errors that do not say so
("Error in compaction"), and a later write can block inside Chroma for good, holding the
writer: hence refusing before the disk is full rather than recovering after."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

# What one stored sentence costs on disk, all told: its float32 vector in Chroma's log, the
# HNSW index and SQLite (about 3x 1.5 KB), its row in the read model (float16, offsets), and
# the passage records it shares. Measured on the seeds: about 6 KB; doubled for safety.
BYTES_PER_SENTENCE = 12_000
BYTES_PER_TEXT_BYTE = 4  # a document's text: in Chroma, its full-text index, and the read model


class DiskFull(Exception):
    """The data dir's file system has too little room for a write (HTTP 507)."""


class WriterBusy(Exception):
    """A previous write has not finished within the bounded wait (HTTP 503)."""


def needed_bytes(sentences: int, text_bytes: int) -> int:
    """A generous estimate of the room a write of this many sentences and text takes."""
    return sentences * BYTES_PER_SENTENCE + text_bytes * BYTES_PER_TEXT_BYTE


def check_free_space(data_dir: str | Path, min_free_mb: float, need_bytes: int = 0) -> None:
    """Raise DiskFull unless the file system under `data_dir` has `need_bytes` plus the reserve free."""
    path = Path(data_dir)
    while not path.exists() and path != path.parent:  # a data dir not yet made: its nearest parent's file system
        path = path.parent
    free = shutil.disk_usage(path).free
    need = need_bytes + min_free_mb * 2**20
    if free < need:
        raise DiskFull(f"disk full: {free / 2**20:.1f} MB free under {data_dir}, need {need / 2**20:.1f} MB "
                       f"(a reserve of {min_free_mb:g} MB, min_free_mb, is kept for the store's own upkeep); "
                       "free some space or move QA_DATA_DIR")


class BoundedLock:
    """The process's writer lock: whoever wants it waits at most `seconds` (WriterBusy after
    that), so that a write stuck inside the store holds up the next writes for a bounded time
    only, each answered 503, never a request thread for good. Reusable, not reentrant."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        if not self._lock.acquire(timeout=self.seconds):
            raise WriterBusy(f"the writer is busy: a previous write has not finished after {self.seconds:g} s "
                             "(write_timeout_seconds); reads still answer, try the write again later")

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
