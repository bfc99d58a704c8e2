"""Publishing the read model: the one entry point (`publish`) that leaves the version of the
store's current generation committed on disk and returns it opened, and which process writes
it. A version is written once per generation: by the first process that needs it, which
claims the folder first (`claimed`), while a process sharing the data dir that needs the same
one waits for it (`wait_for_writer`); a whole-store read of a large store runs in a child
process (`rebuild_in_child`); and a replica with no usable version copies the one a peer has
open (`copy_version`) instead of reading every record from the store, which over Chroma's
HTTP API costs about 170 µs per sentence (half a minute at 50k passages).

`Versions` follows one store for one process: what the writer (index/writer.py) publishes
after each write, and what a reader (qa/service.py) opens when another process changed the
store."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

import msgspec

from config import Settings
from index.readmodel import writing
from index.readmodel.format import (COMMITTED, FORMAT, Manifest, State, Version, folder_for, is_committed, latest,
                                    read, temporary)
from index.store import Store, StoreUnavailable

log = logging.getLogger(__name__)
# Above this many sentences a whole-store rebuild runs in a child process: the snapshot's
# Python objects would otherwise stay in the server's memory (the allocator keeps it).
IN_PROCESS_REBUILD_MAX = 20_000
# How long a reader waits for another process (a replica sharing the data dir) that is writing
# the same version, rather than writing it too; the reader's current version serves meanwhile.
WRITER_WAIT_SECONDS = 30.0
PEER_ATTEMPTS = 2  # the peer may replace its version between the manifest and the files: read it again


def wait_for_writer(folder: Path, timeout: float, stale_after: float = 30.0) -> bool:
    """Whether `folder` is committed, waiting up to `timeout` seconds while another process
    (a replica sharing the data dir) is writing it: a temporary folder of that generation
    that files were added to in the last `stale_after` seconds (a crashed writer's is older).
    Readers of a shared volume open one version instead of each writing their own."""
    deadline = time.monotonic() + timeout
    while not is_committed(folder):
        writers = [t for t in folder.parent.glob(temporary(folder, "*").name) if _age(t) < stale_after]
        if not writers or time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


@contextlib.contextmanager
def claimed(folder: Path) -> Iterator[None]:
    """Mark `folder` as being written by this process before reading what goes into it, so
    that a reader sharing the data dir waits for it (`wait_for_writer`) from the moment the
    generation changes rather than writing it too. The mark is this process's temporary folder:
    writing.write() renames it into place; whatever is left of it afterwards (a failed write, or
    one done by a child process under its own name) is removed. Without a writable data dir,
    nothing is marked."""
    mark = temporary(folder, os.getpid())
    try:
        mark.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass  # a read-only data dir: the caller writes elsewhere, nobody else can wait here
    try:
        yield
    finally:
        shutil.rmtree(mark, ignore_errors=True)


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:  # renamed into place or removed meanwhile
        return 0.0


def rebuild_in_child(settings: Settings, prefix: str, folder: Path) -> None:
    """writing.rebuild() in a child process, so that none of the whole store's transient objects
    stay in this one's memory. Raises what the child met: OSError, or StoreUnavailable."""
    done = subprocess.run([sys.executable, "-m", "index.readmodel", str(folder), prefix],
                          input=msgspec.json.encode(settings), capture_output=True)
    if done.returncode == _UNWRITABLE:
        raise OSError(f"cannot write the read model into {folder}")
    if done.returncode < 0:  # SIGKILL: most often the kernel's out-of-memory killer
        raise StoreUnavailable(f"reading the store for the read model failed: the child process was killed "
                               f"by signal {-done.returncode}")
    if done.returncode:
        raise StoreUnavailable(f"reading the store for the read model failed: {done.stderr.decode()[-500:]}")


_UNWRITABLE = 3


def rebuild_child() -> int:
    """The child of `rebuild_in_child`: `python -m index.readmodel FOLDER PREFIX`, the settings
    as JSON on stdin."""
    settings = msgspec.json.decode(sys.stdin.buffer.read(), type=Settings)
    try:
        writing.rebuild(Store.open(settings, sys.argv[2], writer=False), Path(sys.argv[1]))
    except OSError:
        return _UNWRITABLE
    return 0


class Peer(Protocol):
    """Another replica that serves the version it has open (`read_model_peer`; qa/peer.py
    reaches one over HTTP). Both methods raise OSError when the peer cannot be read, and
    ValueError when what it sends is not what was asked for."""

    def manifest(self) -> Manifest:
        """The version the peer has open."""
        ...

    def file(self, generation: str, name: str) -> AbstractContextManager[Iterator[bytes]]:
        """One file of the peer's open version `generation`, in chunks."""
        ...


def copy_version(peer: Peer, parent: Path, prefix: str) -> Path | None:
    """The folder under `parent` of the peer's version, copied; None when the peer has no
    version of this corpus (`prefix`) in this code's format, or cannot be read (logged).
    A copy is staged in a temporary folder and renamed into place complete (COMMITTED last),
    so a failed or interrupted copy leaves nothing to open."""
    for _ in range(PEER_ATTEMPTS):
        try:
            manifest = peer.manifest()
            if manifest.prefix != prefix or manifest.format != FORMAT:
                log.warning("read-model peer serves %s in %r, not %s in %r: reading the store instead",
                            manifest.prefix, manifest.format, prefix, FORMAT)
                return None
            return _copy(peer, manifest, parent)
        except (OSError, ValueError) as exc:
            log.warning("could not copy the read model from the peer: %s", exc)
    return None


def _copy(peer: Peer, manifest: Manifest, parent: Path) -> Path:
    names = [name for name, _ in manifest.files]
    if not names or names[-1] != COMMITTED or not all(map(_plain, names)):
        raise ValueError(f"not a read-model version's files: {names[:5]}")
    if not _plain(manifest.generation):
        raise ValueError(f"not a generation: {manifest.generation!r}")
    folder = parent / manifest.generation
    if is_committed(folder):
        return folder
    tmp = writing.staging(folder)
    try:
        for name, size in manifest.files:
            with peer.file(manifest.generation, name) as chunks, (tmp / name).open("wb") as out:
                for chunk in chunks:
                    out.write(chunk)
            if (tmp / name).stat().st_size != size:
                raise ValueError(f"{name}: {(tmp / name).stat().st_size} bytes, the peer listed {size}")
        if not is_committed(tmp):
            raise ValueError("the copied version is not committed in this code's format")
        writing.commit(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _plain(name: str) -> bool:
    """A name that stays inside the folder it is joined to (what a peer sends is not trusted)."""
    return Path(name).name == name and not name.startswith(".")


def publish(store: Store, settings: Settings, previous: Version | None = None, peer: Peer | None = None) -> Version:
    """The version of the store's current generation, committed on disk and opened: as a
    writer left it, or written now from the version before (`previous`, else the latest on
    disk, else a copy of the `peer`'s) and the documents the store's change log names, or from
    the whole store when there is no usable version before. When another process sharing the
    data dir is writing that version, waits for it instead (WRITER_WAIT_SECONDS at most). Into
    a temporary folder if the data dir is read-only. What `previous` (the version the caller
    holds) already decoded is taken from it."""
    folder = folder_for(settings.data_dir, store.prefix, store.generation())
    for _ in range(2):  # a concurrent writer of a newer generation may remove this one as we open it
        if not wait_for_writer(folder, WRITER_WAIT_SECONDS):
            try:
                with claimed(folder):
                    _write_next(store, settings, folder, previous or _opened(latest(folder.parent)), peer)
            except OSError:
                folder = Path(tempfile.mkdtemp(prefix="qa-readmodel-")) / folder.name
                _write_next(store, settings, folder, previous, peer)
            writing.release_memory()
        try:
            return read(folder, previous)
        except FileNotFoundError:
            continue
    return read(folder, previous)


def _opened(folder: Path | None) -> Version | None:
    try:
        return read(folder) if folder else None
    except (OSError, ValueError, msgspec.DecodeError):
        return None  # damaged: the whole store is read instead


def _write_next(store: Store, settings: Settings, folder: Path, previous: Version | None, peer: Peer | None) -> None:
    if previous is None and peer is not None:
        copied = copy_version(peer, folder.parent, store.prefix)
        if copied == folder:  # the peer's version is this generation's: publish() opens it
            return
        previous = _opened(copied)
    state = previous.state if previous is not None else None
    changes = store.changes_since(state.changes_until, frozenset(state.applied)) if state is not None else None
    if previous is not None and changes is not None:
        writing.write(folder, writing.apply(previous.columns, changes.doc_ids, store.snapshot(sorted(changes.doc_ids))),
                      State(folder.name, changes.until, changes.records))
    elif store.counts()["sentences"] > IN_PROCESS_REBUILD_MAX:
        rebuild_in_child(settings, store.prefix, folder)
    else:
        writing.rebuild(store, folder)


class Versions:
    """The read model of one store as one process follows it: `current()` is the version of
    the store's current generation, the one held while the generation is unchanged, else
    published from it. One thread at a time: a version is claimed in the process's name
    (`claimed`), so two threads of one process must never write the same one."""

    def __init__(self, store: Store, settings: Settings, peer: Peer | None = None) -> None:
        self.store, self.settings, self.peer = store, settings, peer
        self.version: Version | None = None
        self._lock = threading.Lock()

    def current(self) -> Version:
        """The version of the store's current generation (one small read when it is unchanged)."""
        with self._lock:
            held = self.version
            if held is None or self.store.generation() != held.state.generation:
                self.version = publish(self.store, self.settings, held, self.peer)
            return self.version
