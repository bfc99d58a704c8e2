"""Which document versions were replaced by a newer version of the same story, so that a
citation into replaced text can say "gone, here is the current version" (410) instead of
"never existed" (404). Written by index/ before the replacing write (harmless if that write
never commits: a citation into a version still stored resolves before this map is read), read
by qa/. An append-only JSON-lines file, `<data_dir>/feeds/superseded.jsonl`: one line per
replacement, `{"hash": <old content hash>, "doc_id": ...}`; a torn last line is ignored."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

FILE = "superseded.jsonl"


def superseded_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / "feeds" / FILE


def record_superseded(data_dir: str | Path, old_hash: str, doc_id: str) -> None:
    """Note that the version of `doc_id` whose text hashes to `old_hash` is being replaced."""
    path = superseded_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"hash": old_hash, "doc_id": doc_id}) + "\n"
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":  # a line torn by a kill: never glue onto it
            line = "\n" + line
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read_superseded(data_dir: str | Path) -> dict[str, str]:
    """Old content hash -> the id of the document that replaced it (the last word wins)."""
    path = superseded_path(data_dir)
    try:
        text = path.read_text("utf-8", errors="replace")
    except FileNotFoundError:
        return {}
    out = {}
    for line in text.splitlines():
        try:
            entry = json.loads(line)
            out[str(entry["hash"])] = str(entry["doc_id"])
        except (ValueError, KeyError, TypeError):
            continue
    return out
