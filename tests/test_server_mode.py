"""The compose topology without Docker: one `chroma run` server and two API processes in
server mode (store_mode=http). Ingest through one, ask through both; stop Chroma and get
503s, start it again and get answers, without restarting either API."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, SEEDS
from tests.servers import BIN, START_GUARD, api_server, chroma_server, free_port, wait_until

KEY = "server-mode-test-key"
TRADE = {"question": "How much did China-Russia trade reach in 2023?"}
TRADE_DOC = "004_cb7437eb45da7ccb"


class Topology:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.chroma_port = free_port()
        self.chroma = chroma_server(root / "chroma", self.chroma_port, root / "chroma.log")
        self.env = {**os.environ, "QA_STORE_MODE": "http", "QA_CHROMA_HOST": "127.0.0.1",
                    "QA_CHROMA_PORT": str(self.chroma_port), "QA_COLLECTION": f"t{uuid.uuid4().hex[:8]}",
                    "QA_API_KEY": KEY, "QA_RATE_LIMIT_PER_MINUTE": "0", "HF_HUB_OFFLINE": "1",
                    "QA_MODEL_CACHE_DIR": str(ROOT / "data" / "models")}
        self.apis = []
        for n in (1, 2):  # each replica has its own data_dir: only derived state (the BM25 cache) lives there
            port = free_port()
            env = {**self.env, "QA_DATA_DIR": str(root / f"api{n}")}
            self.apis.append((f"http://127.0.0.1:{port}", api_server(port, env, root / f"api{n}.log")))

    @property
    def urls(self) -> list[str]:
        return [url for url, _ in self.apis]

    def start(self) -> None:
        self.chroma.start()
        for _, server in self.apis:
            server.start()

    def stop(self) -> None:
        for _, server in self.apis:
            server.stop()
        self.chroma.stop()


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    topology = Topology(tmp_path_factory.mktemp("server-mode"))
    try:
        topology.start()
        yield topology
    finally:
        topology.stop()


def upload(url: str, seed: str) -> httpx.Response:
    article = {"filename": f"{seed}.txt", "content": (SEEDS / f"{seed}.txt").read_text()}
    return httpx.post(f"{url}/documents", json=article, headers={"X-API-Key": KEY}, timeout=120)


def answers_trade(url: str) -> bool:
    """The replica answers from the trade article (as a citation, or as related reading
    when the small corpus makes it abstain)."""
    response = httpx.post(f"{url}/ask", json=TRADE, timeout=60)
    if response.status_code != 200:
        return False
    body = response.json()
    return TRADE_DOC in {c["doc_id"] for c in body["citations"]} | {r["doc_id"] for r in body["related"]}


def test_ingest_through_one_api_and_ask_through_both(topology):
    first, second = topology.urls
    assert httpx.get(f"{second}/documents").json()["total"] == 0
    for seed in (TRADE_DOC, "002_06d97b826597458d"):
        response = upload(first, seed)
        assert response.status_code == 200 and response.json()["status"] == "added", response.text
    assert answers_trade(first)
    # The second replica notices the new store generations on its own (checked every 0.25 s;
    # it may see the first upload before the second).
    wait_until(lambda: httpx.get(f"{second}/documents").json()["total"] == 2, "the second API to see both uploads",
               timeout=60)
    assert answers_trade(second)

    # `qa ingest` in server mode writes to the same Chroma; both replicas pick it up.
    cli = subprocess.run([str(BIN / "qa"), "ingest", "--quiet", str(SEEDS / "000_05abd8f469b4269b.txt")],
                         env={**topology.env, "QA_DATA_DIR": str(topology.root / "cli")}, capture_output=True,
                         text=True, timeout=START_GUARD)
    assert cli.returncode == 0, cli.stderr
    for url in topology.urls:
        wait_until(lambda: httpx.get(f"{url}/documents/000_05abd8f469b4269b").status_code == 200,
                   f"{url} to see the CLI ingest", timeout=60)

    # A delete through the second replica disappears from the first.
    assert httpx.delete(f"{second}/documents/000_05abd8f469b4269b", headers={"X-API-Key": KEY}).status_code == 204
    wait_until(lambda: httpx.get(f"{first}/documents/000_05abd8f469b4269b").status_code == 404,
               "the first API to see the delete", timeout=60)
    ready = httpx.get(f"{first}/ready").json()
    assert ready["ready"] and ready["store_mode"] == "http" and ready["documents"] == 2


def test_request_ids_reach_the_server_log(topology):
    first = topology.urls[0]
    response = httpx.get(f"{first}/documents", headers={"X-Request-ID": "trace-server-mode-1"})
    assert response.headers["x-request-id"] == "trace-server-mode-1"
    log = topology.root / "api1.log"
    wait_until(lambda: "[trace-server-mode-1] GET /documents 200" in log.read_text(), "the access log line", timeout=30)


def test_chroma_outage_gives_503_and_answering_resumes_without_restarting(topology):
    if not answers_trade(topology.urls[0]):
        assert upload(topology.urls[0], TRADE_DOC).status_code == 200
    for url in topology.urls:
        wait_until(lambda: answers_trade(url), f"{url} to answer", timeout=60)

    topology.chroma.stop()
    for url in topology.urls:
        # Each API notices the outage at its next store check (every 0.25 s).
        wait_until(lambda: httpx.post(f"{url}/ask", json=TRADE, timeout=60).status_code == 503,
                   f"{url} to report the outage", timeout=15)
        asked = httpx.post(f"{url}/ask", json=TRADE, timeout=60)
        assert asked.status_code == 503, asked.text
        assert "document store is unavailable" in asked.json()["detail"]
        assert httpx.get(f"{url}/search", params={"q": "trade"}, timeout=60).status_code == 503
        # Every read path answers alike: no stale 200s from memory while the store is down.
        documents = httpx.get(f"{url}/documents", timeout=60)
        assert documents.status_code == 503 and "unavailable" in documents.json()["detail"]
        assert httpx.post(f"{url}/citations/lookup", json={"quote": "trade"}, timeout=60).status_code == 503
        ready = httpx.get(f"{url}/ready", timeout=60)
        assert ready.status_code == 503 and ready.json()["ready"] is False
        assert httpx.get(f"{url}/health").status_code == 200  # the process itself is fine
    pids = [server.process.pid for _, server in topology.apis]

    topology.chroma.start()
    for url in topology.urls:
        wait_until(lambda: answers_trade(url), f"{url} to answer again", timeout=120)
        assert httpx.get(f"{url}/ready").json()["ready"] is True
    assert [server.process.pid for _, server in topology.apis] == pids and not any(
        server.exited() for _, server in topology.apis)
