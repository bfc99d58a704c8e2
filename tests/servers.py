"""Real processes for the server-mode tests: a Chroma server (`chroma run`) and API
processes (`qa serve`), on free loopback ports, each logging to a file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import ROOT

BIN = ROOT / ".venv" / "bin"
START_GUARD = 300  # seconds; only there so that a broken start fails instead of hanging


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], bool], what: str, timeout: float = START_GUARD) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.2)


def responds(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


class Server:
    """One child process in its own session, stopped (and its children with it) on exit."""

    def __init__(self, command: list[str], log: Path, health_url: str, env: dict[str, str] | None = None) -> None:
        self.command, self.log, self.health_url, self.env = command, log, health_url, env
        self.process: subprocess.Popen | None = None

    def start(self) -> "Server":
        with self.log.open("a") as out:
            self.process = subprocess.Popen(self.command, env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        wait_until(lambda: self.exited() or responds(self.health_url), f"{self.command[:2]} to start")
        assert not self.exited(), f"{self.command} exited:\n{self.log.read_text()[-3000:]}"
        return self

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def stop(self) -> None:
        if self.process is None or self.exited():
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def chroma_server(path: Path, port: int, log: Path) -> Server:
    return Server([str(BIN / "chroma"), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                  log, f"http://127.0.0.1:{port}/api/v2/heartbeat")


def api_server(port: int, env: dict[str, str], log: Path) -> Server:
    return Server([str(BIN / "qa"), "serve", "--host", "127.0.0.1", "--port", str(port)], log,
                  f"http://127.0.0.1:{port}/health", env)
