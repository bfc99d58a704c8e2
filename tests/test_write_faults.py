"""A full disk and a stuck writer (issue 30, item 1): writes are refused up front with 507, a
write that cannot finish is a bounded wait then a 503, reads answer throughout, SIGTERM ends
the server within seconds, and after a failed write the counts agree. The disk is "full"
through a patched shutil.disk_usage or an enormous reserve, the stuck write through a store
whose write blocks forever; a real small tmpfs is used only where one can be mounted."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import namedtuple
from pathlib import Path

import httpx
import pytest
from chromadb.api.client import SharedSystemClient
from litestar.testing import TestClient

from index import writefaults
from index.store import Store
from qa.api.app import create_app
from qa.service import QAService
from tests.conftest import ROOT, SEEDS, make_settings
from tests.servers import Server, free_port

KEY = "k3y-for-write-fault-tests-0123"
HANG_GUARD = 300  # seconds; only there so that a hang fails instead of blocking the suite
Usage = namedtuple("Usage", "total used free")
ARTICLE = (SEEDS / "002_06d97b826597458d.txt").read_text()


def qa_env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "QA_DATA_DIR": str(data_dir), "QA_MODEL_CACHE_DIR": str(ROOT / "data" / "models"),
            "HF_HUB_OFFLINE": "1", "QA_API_KEY": KEY, "QA_RATE_LIMIT_PER_MINUTE": "0", **extra}


def free_mb(monkeypatch, megabytes: float) -> None:
    """Make the data dir's disk report this much free space."""
    monkeypatch.setattr(writefaults.shutil, "disk_usage",
                        lambda path: Usage(10 * 2**30, 10 * 2**30, int(megabytes * 2**20)))


@pytest.fixture
def writer(tmp_path, embedder):
    settings = make_settings(tmp_path / "data", api_key=KEY, rate_limit_per_minute=0)
    service = QAService(settings, Store.open(settings), embedder)
    service.ingest([SEEDS / "000_05abd8f469b4269b.txt"])
    with TestClient(create_app(settings, service)) as client:
        yield client, service
    service.close()


def post(client: TestClient, name: str, content: str) -> httpx.Response:
    return client.post("/documents", json={"filename": name, "content": content}, headers={"X-API-Key": KEY})


def test_a_write_is_refused_with_507_naming_the_free_space_when_the_disk_is_nearly_full(writer, monkeypatch):
    client, service = writer
    before = service.store.counts()
    free_mb(monkeypatch, 40)  # under the 100 MB reserve
    for response in (post(client, "new.txt", ARTICLE),
                     client.post("/uploads", files={"file": ("up.txt", ARTICLE.encode(), "text/plain")},
                                 headers={"X-API-Key": KEY})):
        assert response.status_code == 507, response.text
        assert response.json()["detail"].startswith(f"disk full: 40.0 MB free under {service.settings.data_dir}, "
                                                    "need 100.0 MB")
    assert client.post("/ask", json={"question": "How much did China-Russia trade reach in 2023?"}).status_code == 200
    assert client.get("/ready").json()["documents"] == 1
    assert service.store.counts() == before  # nothing half written
    assert not service.store.meta.get(where={"kind": "pending"})["ids"]


def test_each_batch_needs_room_for_itself_beyond_the_reserve(writer, monkeypatch):
    client, service = writer
    free_mb(monkeypatch, 101)  # the reserve and a little: a short article fits, 1,000 sentences do not
    assert post(client, "short.txt", "A short article. It has two sentences.").status_code == 200
    many = "\n\n".join(" ".join(f"The river rose {n}." for n in range(p, p + 20)) for p in range(0, 1000, 20))
    response = post(client, "many.txt", many)
    assert response.status_code == 507
    assert "disk full: 101.0 MB free" in response.json()["detail"]
    need = float(response.json()["detail"].split("need ")[1].split(" MB")[0])
    assert need > 110  # the batch's own estimate on top of the reserve
    assert client.get("/documents/many").status_code == 404
    assert client.get("/documents/short").status_code == 200


def test_qa_ingest_refuses_a_nearly_full_disk_with_one_clear_line(tmp_path):
    result = subprocess.run([str(ROOT / ".venv" / "bin" / "qa"), "ingest", "--quiet", str(SEEDS)],
                            env=qa_env(tmp_path / "data", QA_MIN_FREE_MB="1e12"), capture_output=True, text=True,
                            timeout=HANG_GUARD)
    assert result.returncode == 3, result.stderr
    assert "error: disk full:" in result.stderr and "MB free under" in result.stderr
    assert "Traceback" not in result.stderr


# `qa serve` whose store blocks forever in any write of a document named "stuck-*": what a
# write that hangs inside Chroma on a full disk looks like to the rest of the process.
STUCK_SERVER = """
import sys, threading
from index.store import Store
from qa.cli import main

real_write = Store.write_documents
def write_documents(self, batch, *args, **kwargs):
    if any(item.document.id.startswith("stuck-") for item in batch):
        threading.Event().wait()
    return real_write(self, batch, *args, **kwargs)

Store.write_documents = write_documents
sys.exit(main(sys.argv[1:]))
"""


def test_a_stuck_write_gets_503_after_a_bounded_wait_reads_answer_and_sigterm_ends_the_server(tmp_path):
    data_dir = tmp_path / "data"
    env = qa_env(data_dir, QA_WRITE_TIMEOUT_SECONDS="2")
    subprocess.run([str(ROOT / ".venv" / "bin" / "qa"), "ingest", "--quiet", str(SEEDS / "000_05abd8f469b4269b.txt")],
                   env=env, check=True, capture_output=True, timeout=HANG_GUARD)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = Server([sys.executable, "-c", STUCK_SERVER, "serve", "--host", "127.0.0.1", "--port", str(port)],
                    tmp_path / "api.log", f"{url}/health", env).start()
    try:
        with httpx.Client(base_url=url, timeout=60, headers={"X-API-Key": KEY}) as client:
            stuck = client.post("/documents", json={"filename": "stuck-1.txt", "content": ARTICLE})
            assert stuck.status_code == 503 and "has not finished after 2 s" in stuck.json()["detail"], stuck.text
            # The stuck write still holds the writer: the next write waits 2 s for it, then is told so.
            started = time.monotonic()
            busy = client.post("/documents", json={"filename": "other.txt", "content": ARTICLE})
            assert busy.status_code == 503 and "the writer is busy" in busy.json()["detail"], busy.text
            assert time.monotonic() - started < 30
            assert client.get("/health").status_code == 200
            assert client.get("/ready").json()["documents"] == 1
            ask = client.post("/ask", json={"question": "How much did China-Russia trade reach in 2023?"})
            assert ask.status_code == 200 and ask.json()["answered"]
        signalled = time.monotonic()
        os.killpg(server.process.pid, signal.SIGTERM)
        server.process.wait(timeout=HANG_GUARD)
        assert time.monotonic() - signalled < 10, server.log.read_text()[-2000:]
    finally:
        server.stop()


# `qa ingest` whose write fails after its commit markers, before it is announced (the change
# log and generation): a disk that filled between the two.
FAIL_AFTER_COMMIT = """
import sys
from index.store import Store, StoreUnavailable
from qa.cli import main

def bump_generation(self, changed):
    raise StoreUnavailable("Error in compaction: Failed to apply logs to the metadata segment")

Store.bump_generation = bump_generation
sys.exit(main(sys.argv[1:]))
"""


def test_after_a_failed_write_and_a_restart_ready_counts_what_documents_lists(tmp_path):
    data_dir = tmp_path / "data"
    env = qa_env(data_dir)
    qa = str(ROOT / ".venv" / "bin" / "qa")
    subprocess.run([qa, "ingest", "--quiet", str(SEEDS / "000_05abd8f469b4269b.txt")], env=env, check=True,
                   capture_output=True, timeout=HANG_GUARD)
    failed = subprocess.run([sys.executable, "-c", FAIL_AFTER_COMMIT, "ingest", "--quiet",
                             str(SEEDS / "002_06d97b826597458d.txt")], env=env, cwd=ROOT, capture_output=True,
                            text=True, timeout=HANG_GUARD)
    assert failed.returncode == 3, failed.stderr
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = Server([qa, "serve", "--host", "127.0.0.1", "--port", str(port)], tmp_path / "api.log",
                    f"{url}/health", env).start()
    try:
        ready = httpx.get(f"{url}/ready", timeout=60).json()
        listed = httpx.get(f"{url}/documents", timeout=60).json()["documents"]
        assert ready["documents"] == len(listed)
        assert ready["passages"] == sum(d["passages"] for d in listed)
    finally:
        server.stop()
    SharedSystemClient.clear_system_cache()
    store = Store.open(make_settings(data_dir), writer=False)
    assert store.counts()["documents"] == len(listed)


def tmpfs(path: Path, megabytes: int) -> bool:
    """Mount a small tmpfs at `path`, if this machine lets us."""
    path.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def test_on_a_real_20_mb_tmpfs_writes_are_refused_and_reads_answer(tmp_path):
    mount = tmp_path / "tmpfs"
    if not tmpfs(mount, 20):
        pytest.skip("cannot mount a tmpfs here")
    try:
        env = qa_env(mount / "data", QA_MIN_FREE_MB="5")
        qa = str(ROOT / ".venv" / "bin" / "qa")
        subprocess.run([qa, "ingest", "--quiet", str(SEEDS / "000_05abd8f469b4269b.txt")], env=env, check=True,
                       capture_output=True, timeout=HANG_GUARD)
        filler = mount / "filler"
        free = shutil.disk_usage(mount).free
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k", f"count={max(0, free - 300_000) // 65536}"],
                       capture_output=True)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = Server([qa, "serve", "--host", "127.0.0.1", "--port", str(port)], tmp_path / "api.log",
                        f"{url}/health", env).start()
        try:
            with httpx.Client(base_url=url, timeout=60, headers={"X-API-Key": KEY}) as client:
                for n in range(3):
                    response = client.post("/documents", json={"filename": f"more-{n}.txt", "content": ARTICLE})
                    assert response.status_code == 507 and response.json()["detail"].startswith("disk full:")
                assert client.post("/ask", json={"question": "How much did China-Russia trade reach?"}).status_code == 200
            signalled = time.monotonic()
            os.killpg(server.process.pid, signal.SIGTERM)
            server.process.wait(timeout=HANG_GUARD)
            assert time.monotonic() - signalled < 10
        finally:
            server.stop()
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)

