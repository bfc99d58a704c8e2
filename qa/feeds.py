"""Feeds as the API and the command line see them: subscriptions validated, their status as
one view, a poll round, and the background poller of `qa serve`.

The background poller holds the deployment's poller lock (index/feeds/lock.py) while it
polls, so that of several replicas sharing a data dir exactly one polls; the others try to
take it now and then, in case the holder went away. With `feeds_poll = "auto"` it polls only
while there are subscriptions; `"off"` leaves polling to `qa feeds poll`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Annotated

import httpx
import msgspec
from msgspec import Meta

from config import Settings
from index.feeds.intervals import BadInterval, format_interval, parse_interval
from index.feeds.lock import PollerLock
from index.feeds.polling import Poller, RoundReport
from index.feeds.state import Feed, FeedState, feeds_dir

if TYPE_CHECKING:
    from index.writer import Writer

log = logging.getLogger(__name__)
MAX_URL = 2000
CHECK_SECONDS = 5.0  # how often the background poller looks for due feeds (and new subscriptions)

FeedUrl = Annotated[str, Meta(min_length=8, max_length=MAX_URL, pattern=r"^https?://\S+$",
                              description="An RSS/Atom feed, a JSON Feed, a news sitemap, or a site's home page "
                                          "(its feed is discovered).")]
Every = Annotated[str, Meta(max_length=20, pattern=r"^[0-9dhms]+$",
                            description="How often to poll: `15m`, `1h`, `1h30m` (1m to 7d).")]
Publisher = Annotated[str, Meta(min_length=1, max_length=300, pattern=r"\S",
                                description="The outlet's name, over what the feed and pages say.")]


class BadSubscription(ValueError):
    """A subscription that cannot be made as asked (a bad URL or interval)."""


class FeedRequest(msgspec.Struct, forbid_unknown_fields=True):
    url: FeedUrl
    every: Every | None = None
    publisher: Publisher | None = None


class FeedView(msgspec.Struct):
    """A subscription and its last poll: `outcome` is new, unchanged or failed (null: not
    polled yet), `reason` why it failed or which of its items were not stored."""

    url: str
    every: str
    every_seconds: int
    publisher: str | None
    added_at: str
    resolved_url: str | None
    last_poll: str | None
    outcome: str | None
    reason: str | None
    seen: int
    added: int
    updated: int
    failed: int
    total_added: int
    total_updated: int
    next_poll: str


class FeedList(msgspec.Struct):
    feeds: list[FeedView]
    total: int


def _iso(at: float | None) -> str | None:
    return datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="seconds") if at is not None else None


def view(feed: Feed) -> FeedView:
    return FeedView(url=feed.url, every=format_interval(feed.every), every_seconds=feed.every,
                    publisher=feed.publisher, added_at=_iso(feed.added_at) or "", resolved_url=feed.resolved_url,
                    last_poll=_iso(feed.last_poll), outcome=feed.outcome, reason=feed.reason, seen=feed.seen,
                    added=feed.added, updated=feed.updated, failed=feed.failed, total_added=feed.total_added,
                    total_updated=feed.total_updated, next_poll=_iso(feed.next_poll) or "")


def subscription_url(url: str) -> str:
    """The URL as subscribed: an absolute http(s) address with a host."""
    url = url.strip()
    try:
        parsed = httpx.URL(url)
        scheme, host, port, userinfo = parsed.scheme, parsed.host, parsed.port, parsed.userinfo
    except (httpx.InvalidURL, TypeError, ValueError) as exc:  # IDNA errors are ValueErrors
        raise BadSubscription(f"invalid feed URL {url!r}: {exc}") from None
    if scheme not in ("http", "https") or not host or len(url) > MAX_URL or any(c.isspace() for c in url) \
            or (port is not None and not 0 < port < 65536):
        raise BadSubscription(f"invalid feed URL {url!r}: an http:// or https:// address with a host is needed")
    if userinfo:
        raise BadSubscription(f"invalid feed URL {url!r}: no user name or password in the address")
    return url


class FeedDesk:
    """Subscriptions, their status and poll rounds, over one data dir's feed state."""

    def __init__(self, settings: Settings, writer: Writer | None = None) -> None:
        self.settings = settings
        self.state = FeedState.of(settings)
        self._writer = writer
        self._pollers: dict[int, Poller] = {}  # one per writer, kept: robots.txt and host spacing carry over
        self._round = threading.Lock()

    def list(self) -> FeedList:
        feeds = [view(feed) for feed in self.state.feeds()]
        return FeedList(feeds=feeds, total=len(feeds))

    def get(self, url: str) -> FeedView | None:
        feed = self.state.feed(url)
        return view(feed) if feed is not None else None

    def add(self, url: str, every: str | None = None, publisher: str | None = None) -> tuple[FeedView, bool]:
        """Subscribe (or change a subscription's interval and publisher); whether it is new."""
        try:
            seconds = parse_interval(every or self.settings.feeds_default_every)
        except BadInterval as exc:
            raise BadSubscription(str(exc)) from None
        feed, created = self.state.subscribe(subscription_url(url), seconds, publisher)
        return view(feed), created

    def remove(self, url: str) -> bool:
        return self.state.unsubscribe(url.strip())

    def poll(self, due_only: bool = True, writer: Writer | None = None,
             open_writer: Callable[[], Writer] | None = None) -> RoundReport:
        """One round through `writer` (the desk's own unless given), or through the writer
        `open_writer` opens at the round's first story (none opened when nothing is new)."""
        chosen = writer or self._writer
        if chosen is None and open_writer is None:
            raise RuntimeError("a poll needs the store's writer")
        with self._round:  # one round at a time per process
            key = id(chosen if chosen is not None else open_writer)
            if (poller := self._pollers.get(key)) is None:
                poller = self._pollers[key] = Poller(chosen, self.settings, self.state, open_writer)
            return poller.poll(due_only)


class BackgroundPoller:
    """The poll loop of a server process: due feeds polled through `desk`, `written` called
    after a round that stored stories (the service refreshes its corpus)."""

    def __init__(self, desk: FeedDesk, written: Callable[[], None]) -> None:
        self.desk, self.written = desk, written
        self.lock = PollerLock(feeds_dir(desk.settings))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feed-poller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self.lock.release()

    def _run(self) -> None:
        while not self._stop.wait(CHECK_SECONDS):
            try:
                if not self.desk.state.count():
                    self.lock.release()  # no feeds: let another replica (or qa feeds poll) have it
                    continue
                was_held = self.lock.held
                if not self.lock.try_acquire():
                    continue  # another replica polls; try again later, in case it goes away
                if not was_held:
                    log.info("this process polls the feeds (lock %s)", self.lock.path)
                report = self.desk.poll()
                if any(result.added or result.updated for _, result in report.results):
                    self.written()
            except Exception:
                log.exception("a background feed poll failed")
