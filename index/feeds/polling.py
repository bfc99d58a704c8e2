"""One poll round: each due feed fetched (conditionally), read, and its new or changed items
turned into documents, written through the one writer (index/writer.py), then recorded.

Per feed: a 304 or a feed whose entries are all as before costs one request; an entry not
seen before becomes a story (the feed's own full text when it carries one, else the page,
cleaned by the same loader as files), its metadata from the feed first and the page second.
A story at an already stored URL is stored once, whichever feed lists it; one whose text
changed replaces the old version (`updated_at` in its metadata, the old version noted in the
superseded map). Item state is recorded only after the write committed, so a poll killed at
any point loses no recorded story and, documents being keyed by canonical URL, duplicates
none: the next poll finds the written-but-unrecorded ones unchanged. Every failure is
recorded on its feed's status and stops nothing else."""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from config import Settings
from index.feeds import metrics
from index.feeds.fetching import Fetched, Fetcher, FetchFailed
from index.feeds.formats import MAX_ENTRIES, MAX_SITEMAPS, Entry, MalformedFeed, ParsedFeed, parse_feed
from index.feeds.items import canonical_url, story_id
from index.feeds.state import Feed, FeedState, Item, PollResult
from index.loading import RawDocument, UnreadableFile, parse

if TYPE_CHECKING:  # the writer (and the store) are imported and opened only when a story comes
    from index.writer import Writer

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3  # an item whose page keeps failing is tried this often, then left until its entry changes
_HTML = ("text/html", "application/xhtml+xml")
_REASONS_SHOWN = 3  # item failures named in a feed's status


class ItemFailed(Exception):
    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind, self.reason = kind, reason


class Candidate(msgspec.Struct, kw_only=True):
    """An entry that needs its story read: new to the archive, or changed in its feed."""

    url: str
    entry: Entry
    fingerprint: str
    doc_id: str
    stored: Item | None
    content_hash: str = ""
    updated: bool = False


class RoundReport(msgspec.Struct):
    results: list[tuple[str, PollResult]]
    seconds: float


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _decoded(fetched: Fetched) -> str:
    if charset := fetched.charset():
        try:
            return fetched.content.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    from trafilatura.utils import decode_file

    return decode_file(fetched.content)


def _body_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _text_length(html: str) -> int:
    """About how many characters of text an HTML fragment holds (to tell a full story from a summary)."""
    return len(" ".join(re.sub(r"<[^>]*>", " ", html).split()))


class Poller:
    """Polls the feeds of `state` and writes their stories through `writer`, or through the
    one `open_writer` opens at the first story read (a round with nothing new then never opens
    the store nor takes its writer lock). One per process; `poll` runs one round."""

    def __init__(self, writer: Writer | None, settings: Settings, state: FeedState | None = None,
                 open_writer: Callable[[], Writer] | None = None) -> None:
        if writer is None and open_writer is None:
            raise ValueError("a poller needs a writer or a way to open one")
        self._writer, self._open_writer, self.settings = writer, open_writer, settings
        self._opening = threading.Lock()
        self.state = state or FeedState.of(settings)
        self.fetcher = Fetcher(settings)  # kept across rounds: robots.txt and host spacing carry over
        self._claimed: set[str] = set()
        self._guard = threading.Lock()

    @property
    def writer(self) -> Writer:
        """The store's writer, opened on first use when the poller was given a way to open it."""
        if self._writer is None:
            with self._opening:
                if self._writer is None:
                    self._writer = self._open_writer()
        return self._writer

    @property
    def writer_opened(self) -> bool:
        return self._writer is not None

    def close(self) -> None:
        self.fetcher.close()

    def poll(self, due_only: bool = True) -> RoundReport:
        """One round over the due feeds (all of them unless `due_only`); rounds do not overlap."""
        started = time.perf_counter()
        feeds = self.state.due() if due_only else self.state.feeds()
        self._claimed = set()
        with ThreadPoolExecutor(max(1, self.settings.feeds_workers), thread_name_prefix="feed-poll") as pool:
            results = list(pool.map(lambda feed: (feed.url, self._poll_recorded(feed, self.fetcher)), feeds))
        return RoundReport(results=results, seconds=time.perf_counter() - started)

    def _poll_recorded(self, feed: Feed, fetcher: Fetcher) -> PollResult:
        at = time.time()
        try:
            result = self._poll(feed, fetcher)
        except Exception as exc:  # a bug or an outage must not stop the other feeds; it is on the status
            log.exception("polling %s failed", feed.url)
            result = PollResult(outcome="failed", reason=f"{type(exc).__name__}: {exc}")
        self.state.record_poll(feed.url, result, at)
        return result

    def _poll(self, feed: Feed, fetcher: Fetcher) -> PollResult:
        try:
            fetched = fetcher.get(feed.resolved_url or feed.url, "feed", feed.etag, feed.last_modified)
            if fetched.status == 304:
                return PollResult(outcome="unchanged")
            if feed.body_hash is not None and _body_hash(fetched.content) == feed.body_hash:
                # A server without validators sent what was read in full last time: nothing to parse.
                metrics.SAME_BODY.inc()
                return PollResult(outcome="unchanged", seen=feed.seen, etag=fetched.etag,
                                  last_modified=fetched.last_modified)
            parsed, resolved = parse_feed(fetched.content, fetched.media_type(), fetched.url), None
            if parsed.kind == "html":  # a home page: follow the first feed it links to
                if not parsed.feed_links:
                    raise MalformedFeed(f"{fetched.url} is a web page that links to no feed")
                resolved = parsed.feed_links[0]
                fetched = fetcher.get(resolved, "feed")
                parsed = parse_feed(fetched.content, fetched.media_type(), fetched.url)
                if parsed.kind == "html":
                    raise MalformedFeed(f"the feed {resolved} that {feed.url} links to is a web page")
            index = parsed.kind == "sitemapindex"
            if index:
                parsed = self._sitemaps(parsed, fetcher)
        except FetchFailed as failure:
            if feed.resolved_url:  # the discovered feed may have moved: discover again next time
                self.state.forget_validators(feed.url)
            return PollResult(outcome="failed", reason=failure.reason)
        except MalformedFeed as exc:
            metrics.FAILURES.labels("malformed").inc()
            return PollResult(outcome="failed", reason=str(exc))
        result = self._stories(feed, parsed, fetched.url, fetcher)
        if result.outcome != "failed" and not result.failed and not index:
            # Validators only once every item is in: after a failure the next poll must see the items again.
            # None for a sitemap index: its sitemaps change while it stays the same.
            result.etag, result.last_modified = fetched.etag, fetched.last_modified
            result.body_hash = _body_hash(fetched.content)
        result.resolved_url = resolved
        if parsed.note:
            result.reason = "; ".join(filter(None, [parsed.note, result.reason]))
        return result

    def _sitemaps(self, index: ParsedFeed, fetcher: Fetcher) -> ParsedFeed:
        """The entries of a sitemap index's sitemaps (the MAX_SITEMAPS most recently modified,
        each fetched as politely and within the same byte cap as a feed), as one sitemap;
        a sitemap that cannot be read is named in the note, and fails the poll only when none
        could be."""
        entries: list[Entry] = []
        problems: list[str] = []
        followed = index.feed_links[:MAX_SITEMAPS]
        for child in followed:
            try:
                fetched = fetcher.get(child, "feed")
                parsed = parse_feed(fetched.content, fetched.media_type(), fetched.url)
            except FetchFailed as failure:
                problems.append(f"sitemap {child}: {failure.reason}")
                continue
            except MalformedFeed as exc:
                metrics.FAILURES.labels("malformed").inc()
                problems.append(f"sitemap {child}: {exc}")
                continue
            if parsed.kind != "sitemap":
                problems.append(f"sitemap {child}: a {parsed.kind} (only the sitemaps an index lists are followed)")
                continue
            entries.extend(parsed.entries[: MAX_ENTRIES - len(entries)])
        if not entries and problems:
            raise MalformedFeed(f"a sitemap index whose sitemaps could not be read: {'; '.join(problems[:3])}")
        notes = [f"{len(problems)} of the index's sitemaps not read: {'; '.join(problems[:3])}"] if problems else []
        if len(index.feed_links) > len(followed):
            notes.append(f"the {len(followed)} most recent of {len(index.feed_links)} sitemaps followed")
        return ParsedFeed(kind="sitemap", entries=entries, note="; ".join(notes) or None)

    def _claim(self, url: str) -> bool:
        """Whether this feed takes the item (no other feed of the round has it)."""
        with self._guard:
            if url in self._claimed:
                return False
            self._claimed.add(url)
            return True

    def _candidates(self, feed: Feed, parsed: ParsedFeed, base: str
                    ) -> tuple[list[Candidate], dict[str, str], int, list[str]]:
        """The entries whose story must be read; the entries already stored by another feed
        (URL -> fingerprint, recorded without a fetch); how many items the feed lists; what
        was wrong with entries that cannot be read at all."""
        known = self.state.fingerprints(feed.url)
        candidates, already, problems, listed = [], {}, [], set()
        for entry in parsed.entries:
            url = canonical_url(entry.link, base) if entry.link else None
            if url is None:
                problems.append(f"an item without a usable link ({entry.link or entry.guid or entry.title!r})")
                continue
            if url in listed:
                continue
            listed.add(url)
            fingerprint = entry.fingerprint()
            prior = known.get(url)
            if prior is not None and prior[0] == fingerprint and (prior[1] == 0 or prior[1] >= MAX_ATTEMPTS):
                continue  # as before: stored, or failed too often to try again before it changes
            stored = self.state.item(url)
            if stored is not None and prior is None:
                already[url] = fingerprint  # another feed brought it: stored once
                continue
            if self._claim(url):
                candidates.append(Candidate(url=url, entry=entry, fingerprint=fingerprint, stored=stored,
                                            doc_id=stored.doc_id if stored is not None else story_id(url)))
        return candidates, already, len(listed), problems

    def _stories(self, feed: Feed, parsed: ParsedFeed, base: str, fetcher: Fetcher) -> PollResult:
        candidates, already, seen, problems = self._candidates(feed, parsed, base)
        failed: dict[str, str] = {}  # URL -> fingerprint
        reasons = list(problems)
        unchanged: list[Candidate] = []

        def documents() -> Iterator[RawDocument]:
            for candidate in candidates:
                try:
                    raw = self._story(feed, parsed, candidate, fetcher)
                    if self._changes_store(raw, candidate):
                        yield raw
                    else:
                        unchanged.append(candidate)
                except (FetchFailed, ItemFailed) as failure:
                    if isinstance(failure, ItemFailed):
                        metrics.FAILURES.labels(failure.kind).inc()
                    failed[candidate.url] = candidate.fingerprint
                    reasons.append(failure.reason)

        try:
            # The first story is read before the writer is asked for: a feed whose candidates all
            # fail to fetch opens no store either.
            stories = documents()
            first = next(stories, None)
            report = self.writer.ingest(itertools.chain([first], stories)) if first is not None else None
        except Exception as exc:  # the store or the disk: nothing of this feed is recorded, all is tried again
            metrics.FAILURES.labels("write").inc()
            log.exception("writing the stories of %s failed", feed.url)
            return PollResult(outcome="failed", reason=f"the write failed: {type(exc).__name__}: {exc}", seen=seen)
        by_id = {c.doc_id: c for c in candidates}
        written = [] if report is None else [by_id[i] for i in (*report.added, *report.replaced, *report.unchanged)
                                              if i in by_id]
        for name, reason in [] if report is None else report.skipped:
            if (candidate := next((c for c in candidates if c.url == name), None)) is not None:
                failed[candidate.url] = candidate.fingerprint
            metrics.FAILURES.labels("no_text").inc()
            reasons.append(f"{name}: {reason}")
        stored = written + unchanged
        now = time.time()
        if stored or already:
            self.state.record_items(feed.url, [
                Item(url=c.url, guid=c.entry.guid, doc_id=c.doc_id, content_hash=c.content_hash,
                     first_seen=c.stored.first_seen if c.stored else now,
                     updated_at=now if c.updated else (c.stored.updated_at if c.stored else None))
                for c in stored], {**already, **{c.url: c.fingerprint for c in stored}})
        if failed:
            self.state.record_failures(feed.url, failed)
        added = sum(1 for c in written if c.stored is None and not c.updated)
        updated = sum(1 for c in written if c.updated)
        metrics.STORIES.labels("new").inc(added)
        metrics.STORIES.labels("updated").inc(updated)
        reason = None
        if reasons:
            shown = "; ".join(reasons[:_REASONS_SHOWN])
            more = f" (and {len(reasons) - _REASONS_SHOWN} more)" if len(reasons) > _REASONS_SHOWN else ""
            reason = f"{len(reasons)} item(s) not stored: {shown}{more}"
        return PollResult(outcome="new" if added or updated else "unchanged", reason=reason, seen=seen,
                          added=added, updated=updated, failed=len(reasons))

    def _changes_store(self, raw: RawDocument, candidate: Candidate) -> bool:
        """Whether writing `raw` changes the store (else it is recorded as it is); a new text
        for a stored story is marked `updated_at` and its old version noted as superseded."""
        from index.pipeline import prepare

        stored = self.writer.store.get_document(raw.doc_id)
        if stored is not None and "updated_at" in stored.metadata:
            raw.metadata["updated_at"] = stored.metadata["updated_at"]
        document = prepare(raw)
        if document is None:
            raise ItemFailed("no_text", f"{candidate.url}: no text left after cleaning")
        candidate.content_hash = document.content_hash
        if stored is None:
            return True
        if stored.content_hash != document.content_hash:
            raw.metadata["updated_at"] = _now_iso()  # the write notes the old version as superseded
            candidate.updated = True
            return True
        same = {k: v for k, v in stored.metadata.items() if k != "ingested_at"} == document.metadata
        return not (same and stored.title == document.title)

    def _story(self, feed: Feed, parsed: ParsedFeed, candidate: Candidate, fetcher: Fetcher) -> RawDocument:
        """The story of an entry: the feed's full text when it carries one, else its page;
        the feed's metadata over the page's."""
        entry, url, limit = candidate.entry, candidate.url, self.settings.feeds_full_text_chars
        try:
            if entry.content_html and _text_length(entry.content_html) >= limit:
                html = f"<html><body><article>{entry.content_html}</article></body></html>"
                raw = parse(Path("item.html"), html.encode("utf-8"), candidate.doc_id, url)
                raw.metadata.clear()  # a fragment's "metadata" is trafilatura's guess from the text
            elif entry.content_text and len(entry.content_text) >= limit:
                raw = parse(Path("item.txt"), entry.content_text.encode("utf-8"), candidate.doc_id, url)
            else:
                fetched = fetcher.get(url, "page")
                if fetched.media_type() not in _HTML:
                    raise ItemFailed("not_html", f"{url} is {fetched.media_type() or 'of no declared type'}, "
                                                 "not an HTML page")
                raw = parse(Path("page.html"), _decoded(fetched).encode("utf-8"), candidate.doc_id, url)
        except UnreadableFile as exc:
            raise ItemFailed("not_html", f"{url}: {exc}") from exc
        page = raw.metadata
        from_feed = {"title": entry.title, "author": entry.author, "date": entry.published or entry.updated,
                     "url": url}
        publisher = feed.publisher or entry.publisher or page.get("publisher") or parsed.title
        raw.metadata = {**page, **{k: v for k, v in from_feed.items() if v}, "feed": feed.url}
        if publisher:
            raw.metadata["publisher"] = publisher
        if entry.guid:
            raw.metadata["guid"] = entry.guid
        return raw
