"""Being a polite client: at most one request at a time per host, spaced by the configured
interval (or the host's robots.txt Crawl-delay, when longer and bounded), and robots.txt
rules obeyed (protego), cached per origin."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from protego import Protego

ROBOTS_TTL = 3600.0  # seconds a robots.txt is trusted before it is fetched again
MAX_CRAWL_DELAY = 30.0  # a robots.txt Crawl-delay above this is taken as this


class HostGate:
    """One request at a time per host (`host:port`), each starting at least `interval`
    seconds after the previous one to that host ended."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._locks: dict[str, threading.Lock] = {}
        self._last: dict[str, float] = {}
        self._delays: dict[str, float] = {}
        self._guard = threading.Lock()

    def set_delay(self, host: str, seconds: float) -> None:
        """A host's own spacing (robots.txt Crawl-delay), used when longer than ours."""
        self._delays[host] = min(seconds, MAX_CRAWL_DELAY)

    @contextmanager
    def turn(self, host: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(host, threading.Lock())
        with lock:
            spacing = max(self.interval, self._delays.get(host, 0.0))
            if (wait := self._last.get(host, -spacing) + spacing - time.monotonic()) > 0:
                time.sleep(wait)
            try:
                yield
            finally:
                self._last[host] = time.monotonic()


class RobotsCache:
    """Parsed robots.txt per origin, fetched at most once per ROBOTS_TTL."""

    def __init__(self) -> None:
        self._rules: dict[str, tuple[float, Protego | None]] = {}
        self._guard = threading.Lock()

    def get(self, origin: str) -> tuple[bool, Protego | None]:
        """(known, rules): rules None when the origin has no robots.txt (everything allowed)."""
        with self._guard:
            found = self._rules.get(origin)
        if found is None or time.monotonic() - found[0] > ROBOTS_TTL:
            return False, None
        return True, found[1]

    def put(self, origin: str, text: str | None) -> Protego | None:
        rules = Protego.parse(text) if text is not None else None
        with self._guard:
            self._rules[origin] = (time.monotonic(), rules)
        return rules
