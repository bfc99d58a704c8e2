"""Subscriptions and what polling saw, in one SQLite database under `<data_dir>/feeds/`:
each change is one transaction (atomic, durable, survives restarts and kill -9), and the
CLI, the server and its background poller may use it at once.

- `feeds`: a subscription (URL, interval, publisher) and its last poll's status;
- `items`: every story stored from any feed, keyed by its canonical URL (the feed's guid
  kept), with the document it became: the same story in two feeds is stored once;
- `entries`: which items each feed listed and the entry's fingerprint, so that a feed that
  repeats every item costs no page fetch, and a changed entry is fetched again."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec

from config import Settings

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY, every INTEGER NOT NULL, publisher TEXT, added_at REAL NOT NULL,
    resolved_url TEXT, etag TEXT, last_modified TEXT, body_hash TEXT,
    last_poll REAL, next_poll REAL NOT NULL, outcome TEXT, reason TEXT,
    seen INTEGER NOT NULL DEFAULT 0, added INTEGER NOT NULL DEFAULT 0, updated INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0, total_added INTEGER NOT NULL DEFAULT 0,
    total_updated INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS items (
    url TEXT PRIMARY KEY, guid TEXT, doc_id TEXT NOT NULL, content_hash TEXT NOT NULL,
    first_seen REAL NOT NULL, updated_at REAL);
CREATE TABLE IF NOT EXISTS entries (
    feed TEXT NOT NULL, url TEXT NOT NULL, fingerprint TEXT NOT NULL, failures INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (feed, url));
"""


class Feed(msgspec.Struct, kw_only=True):
    """A subscription and the status of its last poll (`outcome` None: never polled)."""

    url: str
    every: int  # seconds between polls
    publisher: str | None = None
    added_at: float
    resolved_url: str | None = None  # the feed a home page led to (discovery), fetched instead of `url`
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None  # of the last feed body read in full: the same body again is not parsed
    last_poll: float | None = None
    next_poll: float
    outcome: str | None = None  # new | unchanged | failed
    reason: str | None = None  # why it failed, or what went wrong with some of its items
    seen: int = 0  # the last poll's items, added, updated and failed
    added: int = 0
    updated: int = 0
    failed: int = 0
    total_added: int = 0
    total_updated: int = 0


class Item(msgspec.Struct, kw_only=True):
    """A stored story: its canonical URL, the feed's guid and the document it is."""

    url: str
    guid: str | None
    doc_id: str
    content_hash: str
    first_seen: float
    updated_at: float | None = None


class PollResult(msgspec.Struct, kw_only=True):
    """What one poll of a feed did, recorded on its row."""

    outcome: str
    reason: str | None = None
    seen: int = 0
    added: int = 0
    updated: int = 0
    failed: int = 0
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    resolved_url: str | None = None


def feeds_dir(settings: Settings) -> Path:
    return Path(settings.data_dir) / "feeds"


class FeedState:
    """The database of one deployment's feeds. Each method is one transaction on its own
    connection, so that threads need not share one."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "state.sqlite3"
        with self._connection() as db:
            db.executescript(_SCHEMA)
            columns = {row["name"] for row in db.execute("PRAGMA table_info(feeds)")}
            if "body_hash" not in columns:  # a data dir from before the column
                try:
                    db.execute("ALTER TABLE feeds ADD COLUMN body_hash TEXT")
                except sqlite3.OperationalError as exc:  # another process added it first
                    if "duplicate column" not in str(exc):
                        raise

    @classmethod
    def of(cls, settings: Settings) -> "FeedState":
        return cls(feeds_dir(settings))

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # a recorded story stays recorded
            db.row_factory = sqlite3.Row
            yield db
        finally:
            db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # ---- subscriptions ------------------------------------------------------------
    def feeds(self) -> list[Feed]:
        with self._connection() as db:
            return [msgspec.convert(dict(row), Feed) for row in db.execute("SELECT * FROM feeds ORDER BY url")]

    def feed(self, url: str) -> Feed | None:
        with self._connection() as db:
            row = db.execute("SELECT * FROM feeds WHERE url = ?", (url,)).fetchone()
        return msgspec.convert(dict(row), Feed) if row is not None else None

    def count(self) -> int:
        with self._connection() as db:
            return db.execute("SELECT count(*) FROM feeds").fetchone()[0]

    def subscribe(self, url: str, every: int, publisher: str | None) -> tuple[Feed, bool]:
        """Add a subscription, due at once, or change an existing one's interval and publisher;
        the feed, and whether it is new."""
        now = time.time()
        with self._transaction() as db:
            existed = db.execute("SELECT 1 FROM feeds WHERE url = ?", (url,)).fetchone() is not None
            if existed:
                db.execute("UPDATE feeds SET every = ?, publisher = ?, next_poll = min(next_poll, coalesce(last_poll, 0)"
                           " + ?) WHERE url = ?", (every, publisher, every, url))
            else:
                db.execute("INSERT INTO feeds (url, every, publisher, added_at, next_poll) VALUES (?, ?, ?, ?, ?)",
                           (url, every, publisher, now, now))
        feed = self.feed(url)
        assert feed is not None
        return feed, not existed

    def unsubscribe(self, url: str) -> bool:
        """Remove a subscription (the stories it brought stay); whether there was one."""
        with self._transaction() as db:
            removed = db.execute("DELETE FROM feeds WHERE url = ?", (url,)).rowcount > 0
            db.execute("DELETE FROM entries WHERE feed = ?", (url,))
        return removed

    def due(self, now: float | None = None) -> list[Feed]:
        now = time.time() if now is None else now
        return [feed for feed in self.feeds() if feed.next_poll <= now]

    def next_due(self) -> float | None:
        with self._connection() as db:
            return db.execute("SELECT min(next_poll) FROM feeds").fetchone()[0]

    def record_poll(self, url: str, result: PollResult, at: float) -> None:
        """The outcome of a poll; conditional-request validators only change when a response gave them."""
        with self._transaction() as db:
            db.execute(
                "UPDATE feeds SET last_poll = ?, next_poll = ? + every, outcome = ?, reason = ?, seen = ?, added = ?,"
                " updated = ?, failed = ?, total_added = total_added + ?, total_updated = total_updated + ?,"
                " etag = coalesce(?, etag), last_modified = coalesce(?, last_modified),"
                " body_hash = coalesce(?, body_hash), resolved_url = coalesce(?, resolved_url) WHERE url = ?",
                (at, at, result.outcome, result.reason, result.seen, result.added, result.updated, result.failed,
                 result.added, result.updated, result.etag, result.last_modified, result.body_hash,
                 result.resolved_url, url))

    def forget_validators(self, url: str) -> None:
        """Drop a feed's ETag, Last-Modified, body hash and discovered URL (a discovered feed that went
        away is discovered again)."""
        with self._transaction() as db:
            db.execute("UPDATE feeds SET etag = NULL, last_modified = NULL, body_hash = NULL, resolved_url = NULL"
                       " WHERE url = ?", (url,))

    # ---- items --------------------------------------------------------------------
    def item(self, url: str) -> Item | None:
        with self._connection() as db:
            row = db.execute("SELECT * FROM items WHERE url = ?", (url,)).fetchone()
        return msgspec.convert(dict(row), Item) if row is not None else None

    def item_by_guid(self, guid: str) -> Item | None:
        with self._connection() as db:
            row = db.execute("SELECT * FROM items WHERE guid = ? LIMIT 1", (guid,)).fetchone()
        return msgspec.convert(dict(row), Item) if row is not None else None

    def fingerprints(self, feed: str) -> dict[str, tuple[str, int]]:
        """The entries a feed listed before: canonical URL -> (fingerprint, failures)."""
        with self._connection() as db:
            return {row["url"]: (row["fingerprint"], row["failures"])
                    for row in db.execute("SELECT url, fingerprint, failures FROM entries WHERE feed = ?", (feed,))}

    def record_items(self, feed: str, items: list[Item], entries: dict[str, str]) -> None:
        """Stories now stored (only called after their write committed) and the feed's entries
        that need no fetch again (`entries`: canonical URL -> fingerprint), in one transaction."""
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO items (url, guid, doc_id, content_hash, first_seen, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (url) DO UPDATE SET guid = coalesce(excluded.guid, guid), doc_id = excluded.doc_id,"
                " content_hash = excluded.content_hash, updated_at = excluded.updated_at",
                [(i.url, i.guid, i.doc_id, i.content_hash, i.first_seen, i.updated_at) for i in items])
            db.executemany("INSERT INTO entries (feed, url, fingerprint) VALUES (?, ?, ?) ON CONFLICT (feed, url)"
                           " DO UPDATE SET fingerprint = excluded.fingerprint, failures = 0",
                           [(feed, url, fingerprint) for url, fingerprint in entries.items()])

    def record_failures(self, feed: str, failed: dict[str, str]) -> None:
        """Entries whose story could not be fetched or read (`failed`: URL -> fingerprint):
        tried again on later polls, a bounded number of times per fingerprint."""
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO entries (feed, url, fingerprint, failures) VALUES (?, ?, ?, 1) ON CONFLICT (feed, url)"
                " DO UPDATE SET failures = CASE WHEN fingerprint = excluded.fingerprint THEN failures + 1 ELSE 1 END,"
                " fingerprint = excluded.fingerprint",
                [(feed, url, fingerprint) for url, fingerprint in failed.items()])
