"""A client that hangs up before its response is complete is logged and counted as 499, not
as a server error; a handler that fails is still a 500 (qa/api/outcomes.py)."""

from __future__ import annotations

import json
import logging
import os
import socket

import anyio
import httpx
from litestar.testing import TestClient
from prometheus_client import REGISTRY

from qa.api.app import create_app
from tests.conftest import SEEDS
from tests.servers import api_server, free_port, wait_until

QUESTION = json.dumps({"question": "How much did China-Russia trade reach in 2023?"}).encode()


def _count(path: str, status: int) -> float:
    """Requests to `path` counted with `status` by this process's metrics."""
    labels = {"app_name": "qa", "method": "POST", "path": path, "status_code": str(status)}
    return REGISTRY.get_sample_value("qa_http_requests_total", labels) or 0.0


def _served(text: str, path: str, status: int | None = None) -> float:
    """The same count from a server's GET /metrics (of every status when None)."""
    code = "" if status is None else f'{status}"'
    series = f'qa_http_requests_total{{app_name="qa",method="POST",path="{path}",status_code="{code}'
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(series))


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _hang_up(port: int, path: str) -> None:
    """Send a request's headers and half of its body, then close the connection."""
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(f"POST {path} HTTP/1.1\r\nHost: qa\r\nContent-Type: application/json\r\n"
                           f"Content-Length: {len(QUESTION)}\r\n\r\n".encode() + QUESTION[: len(QUESTION) // 2])


def test_a_client_that_hangs_up_is_counted_and_logged_as_499_not_500(tmp_path):
    port = free_port()
    env = {**os.environ, "QA_DATA_DIR": str(tmp_path), "QA_MODEL_CACHE_DIR": str(SEEDS.parent / "data" / "models"),
           "QA_RATE_LIMIT_PER_MINUTE": "0"}
    server = api_server(port, env, tmp_path / "api.log").start()
    try:
        for path in ("/ask", "/ask/stream"):
            for _ in range(3):
                _hang_up(port, path)
        metrics = ""

        def all_counted() -> bool:
            nonlocal metrics
            metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
            return all(_served(metrics, path) == 3 for path in ("/ask", "/ask/stream"))

        wait_until(all_counted, "the hang-ups to be counted", timeout=60)
    finally:
        server.stop()
    assert [_served(metrics, path, 499) for path in ("/ask", "/ask/stream")] == [3, 3]
    assert "qa_http_requests_error_total{" not in metrics
    log = (tmp_path / "api.log").read_text()
    assert log.count("POST /ask 499") == log.count("POST /ask/stream 499") == 3
    assert " 500 " not in log and "Traceback" not in log


def test_a_stream_dropped_part_way_is_counted_and_logged_as_499(service):
    """The client of POST /ask/stream hangs up after the first event: the events stop, and
    the request is a 499 although its response started as a 200."""
    app = create_app(service.settings.replace(rate_limit_per_minute=0), service)
    app.state.service = service  # what the lifespan hook does
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/ask/stream", "raw_path": b"/ask/stream", "query_string": b"", "root_path": "",
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {},
             "headers": [(b"host", b"qa"), (b"content-type", b"application/json"),
                         (b"content-length", str(len(QUESTION)).encode())]}
    sent: list[dict] = []

    async def run() -> None:
        body = [{"type": "http.request", "body": QUESTION, "more_body": False}]
        gone = anyio.Event()

        async def receive() -> dict:
            if body:
                return body.pop()
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and message["body"]:
                gone.set()  # the client reads the first event and closes the connection
                await anyio.sleep(5)  # the stream is cancelled meanwhile

        with anyio.fail_after(30):
            await app(scope, receive, send)

    records, before = _Records(), _count("/ask/stream", 499)
    logging.getLogger("qa.access").addHandler(records)
    try:
        anyio.run(run)
    finally:
        logging.getLogger("qa.access").removeHandler(records)
    assert sent[0]["status"] == 200 and len([m for m in sent if m["type"] == "http.response.body"]) == 1
    assert _count("/ask/stream", 499) == before + 1
    assert records.lines[-1].startswith("POST /ask/stream 499")


def test_a_handler_that_fails_is_still_a_500(service, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(service, "converse", broken)
    records, before = _Records(), _count("/ask", 500)
    logging.getLogger("qa.access").addHandler(records)
    try:
        with TestClient(create_app(service.settings.replace(rate_limit_per_minute=0), service)) as client:
            response = client.post("/ask", content=QUESTION, headers={"Content-Type": "application/json"})
    finally:
        logging.getLogger("qa.access").removeHandler(records)
    assert response.status_code == 500 and response.json()["detail"] == "internal error; the incident was logged"
    assert _count("/ask", 500) == before + 1
    assert records.lines[-1].startswith("POST /ask 500")
