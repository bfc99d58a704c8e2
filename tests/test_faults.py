"""Faults with real processes: `qa ingest` killed midway and re-run, and stores that are
damaged or locked. Subprocess timeouts only guard against hangs; nothing asserts speed."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from chromadb.api.client import SharedSystemClient

from index.loading import read_document
from index.pipeline import chunk, prepare
from index.store import Store
from tests.conftest import ROOT, SEEDS, make_settings

QA = str(ROOT / ".venv" / "bin" / "qa")
HANG_GUARD = 300  # seconds; far beyond any normal run on a slow machine


def qa_env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "QA_DATA_DIR": str(data_dir), "QA_MODEL_CACHE_DIR": str(ROOT / "data" / "models"),
            "HF_HUB_OFFLINE": "1", **extra}


def make_corpus(folder: Path, editions: int) -> list[Path]:
    """Distinct articles: each seed, re-issued under a dated first line (so the texts differ)."""
    folder.mkdir()
    files = []
    for n in range(editions):
        for seed in sorted(SEEDS.glob("*.txt")):
            path = folder / f"ed{n}-{seed.name}"
            path.write_text(f"Edition {n} of this report, issued on day {n + 1}.\n\n{seed.read_text()}")
            files.append(path)
    return files


def files_done(stderr: Path) -> int:
    found = re.findall(r"(\d+)/\d+ \[", stderr.read_text(errors="replace"))
    return int(found[-1]) if found else 0


# `qa ingest` in a process that SIGKILLs itself at the worst moment: the third document's
# sentences and passages are written, its commit marker (the document record) is not.
DIE_BEFORE_COMMIT = """
import os, signal, sys
from index.store import Store
from qa.cli import main

class DieOnCommit:
    def __init__(self, inner):
        self._inner = inner
    def __getattr__(self, name):
        return getattr(self._inner, name)
    def add(self, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

real_write = Store.write_documents
def write_documents(self, *args, **kwargs):
    self.documents = DieOnCommit(self.documents)  # dies after the passages, before the commit markers
    return real_write(self, *args, **kwargs)

Store.write_documents = write_documents
sys.exit(main(sys.argv[1:]))
"""


def run_and_kill(command: list[str], env: dict[str, str], log: Path, kill_after_files: int | None) -> int:
    """Run an ingest; SIGKILL it once it reports `kill_after_files` files done (None: it kills itself)."""
    with log.open("w") as err:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
        if kill_after_files is not None:
            deadline = time.monotonic() + HANG_GUARD
            while files_done(log) < kill_after_files and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            process.send_signal(signal.SIGKILL)
        return process.wait(timeout=HANG_GUARD)


def orphans(store: Store) -> int:
    committed = set(store.documents.get(include=[])["ids"])
    return sum(1 for collection in (store.passages, store.sentences)
               for m in collection.get(include=["metadatas"])["metadatas"] if m["doc_id"] not in committed)


@pytest.mark.parametrize("how", ["while embedding", "before the commit marker", "while replacing"])
def test_ingest_killed_midway_then_rerun_gives_exact_counts(tmp_path, embedder, how):
    files = make_corpus(tmp_path / "corpus", editions=2)
    data_dir = tmp_path / "data"
    settings = make_settings(data_dir)
    if how == "while replacing":  # a first full run, then every file changes and the re-ingest is killed
        subprocess.run([QA, "ingest", "--quiet", str(tmp_path / "corpus")], env=qa_env(data_dir), check=True,
                       capture_output=True, timeout=HANG_GUARD)
        for path in files:
            path.write_text(path.read_text().replace("this report", "this revised report"))
    expected = {"documents": len(files), "passages": 0, "sentences": 0}
    for path in files:
        passages = chunk(prepare(read_document(path)), embedder, settings)
        expected["passages"] += len(passages)
        expected["sentences"] += sum(len(p.sentences) for p in passages)

    if how == "while embedding":
        command, kill_after = [QA, "ingest", str(tmp_path / "corpus")], 4
    else:
        command, kill_after = [sys.executable, "-c", DIE_BEFORE_COMMIT, "ingest", str(tmp_path / "corpus")], None
    returncode = run_and_kill(command, qa_env(data_dir), tmp_path / "ingest.err", kill_after)
    assert returncode == -signal.SIGKILL, "ingest finished before it could be killed"

    store = Store.open(settings, writer=False)  # only looks: the qa ingest subprocesses write
    interrupted, left_over = store.counts(), orphans(store)
    print(f"killed {how}: {interrupted}, {left_over} orphan records")
    if how != "while embedding":
        assert left_over > 0  # the kill really fell between the data and its commit marker
    # Let go of the store before another process writes it: an embedded client caches the
    # index in memory and would not see the re-run's changes (one process per path).
    SharedSystemClient.clear_system_cache()

    rerun = subprocess.run([QA, "ingest", "--quiet", str(tmp_path / "corpus")], env=qa_env(data_dir),
                           capture_output=True, text=True, timeout=HANG_GUARD)
    assert rerun.returncode == 0, rerun.stderr
    store = Store.open(settings, writer=False)  # only looks: the qa ingest subprocesses write
    assert store.counts() == expected
    assert orphans(store) == 0
    snapshot = store.snapshot()
    spans = Counter((p.doc_id, p.start, p.end) for p in snapshot.passages)
    assert max(spans.values()) == 1  # no passage twice
    per_doc = Counter(p.doc_id for p in snapshot.passages)
    found = store.documents.get(include=["metadatas"])
    assert per_doc == Counter({i: m["passage_count"] for i, m in zip(found["ids"], found["metadatas"])})
    passage_ids = {p.id for p in snapshot.passages}
    assert all(s.passage_id in passage_ids for s in snapshot.sentences)


def damaged_store(tmp_path: Path) -> Path:
    data_dir = tmp_path / "data"
    (data_dir / "chroma").mkdir(parents=True)
    return data_dir


@pytest.mark.parametrize("damage, message", [
    (lambda db: db.write_bytes(os.urandom(65536)), "is not a usable database"),
    (lambda db: db.write_bytes(b"SQLite format 3\x00" + os.urandom(8192)), "is not a usable database|is damaged"),
    (lambda db: db.mkdir(), "cannot open the Chroma store"),
])
def test_damaged_store_fails_fast_with_a_clear_error(tmp_path, damage, message):
    data_dir = damaged_store(tmp_path)
    damage(data_dir / "chroma" / "chroma.sqlite3")
    for command in (["search", "anything"], ["serve", "--port", "1"]):
        result = subprocess.run([QA, *command], env=qa_env(data_dir), capture_output=True, text=True,
                                timeout=HANG_GUARD)
        assert result.returncode == 3, result.stderr
        assert re.search(message, result.stderr) and "Traceback" not in result.stderr


def test_store_path_that_is_a_file_fails_fast(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "chroma").write_text("not a folder")
    result = subprocess.run([QA, "search", "anything"], env=qa_env(data_dir), capture_output=True, text=True,
                            timeout=HANG_GUARD)
    assert result.returncode == 3 and "cannot open the Chroma store" in result.stderr


def test_store_locked_by_another_process_fails_instead_of_hanging(tmp_path):
    data_dir = tmp_path / "data"
    subprocess.run([QA, "ingest", "--quiet", str(SEEDS / "002_06d97b826597458d.txt")], env=qa_env(data_dir),
                   check=True, capture_output=True, timeout=HANG_GUARD)
    holder = sqlite3.connect(data_dir / "chroma" / "chroma.sqlite3", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # what a stuck second writer looks like
    try:
        result = subprocess.run([QA, "search", "Crimea"], env=qa_env(data_dir), capture_output=True, text=True,
                                timeout=HANG_GUARD)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == 3
    assert "locked by another process" in result.stderr and "store_mode=http" in result.stderr
