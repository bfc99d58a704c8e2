"""What a feed URL answered, read into entries: RSS 0.9x-2.0 and Atom (feedparser), JSON Feed
(its JSON), news sitemaps (`<urlset>` with `<news:news>`, read with lxml's XML parser, entities
and network off, and sitemap indexes listing them), and a site's home page, from which feed links are discovered
(trafilatura.feeds.determine_feed: `<link rel=alternate>`, then feed-like links)."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from urllib.parse import urlsplit

import msgspec

MAX_ENTRIES = 1000  # entries read from one feed; a sitemap of the whole site is cut here
MAX_SITEMAPS = 10  # child sitemaps of a sitemap index followed per poll: the most recently modified
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_JSON_TYPES = ("application/feed+json", "application/json")
_SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
_NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"


class MalformedFeed(Exception):
    """The response is not a feed that can be read (broken XML or JSON, or no feed at all)."""


class Entry(msgspec.Struct, kw_only=True):
    """One item of a feed, with what the feed says about it (each field may be missing)."""

    link: str | None
    guid: str | None = None
    title: str | None = None
    author: str | None = None
    published: str | None = None  # ISO 8601 where the feed's date could be read
    updated: str | None = None
    publisher: str | None = None
    summary: str | None = None
    content_html: str | None = None  # the item's own content when the feed carries one (maybe the full text)
    content_text: str | None = None

    def fingerprint(self) -> str:
        """Changes when the feed changes what it says about the item: a repeat costs nothing,
        an edit (a new `updated`, a changed title or text) is fetched again."""
        fields = (self.guid, self.title, self.author, self.published, self.updated, self.summary,
                  self.content_html, self.content_text)
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:32]


class ParsedFeed(msgspec.Struct, kw_only=True):
    kind: str  # rss | atom | json | sitemap | sitemapindex | html
    title: str | None = None
    entries: list[Entry] = []
    feed_links: list[str] = []  # for a home page: the feeds it links to; for a sitemap index: its sitemaps
    note: str | None = None  # a problem that did not stop the reading (recovered XML)


def parse_feed(content: bytes, media_type: str, url: str) -> ParsedFeed:
    """Read a response of `media_type` fetched from `url`; MalformedFeed when it cannot be."""
    head = content[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if media_type in _JSON_TYPES or head.startswith(b"{"):
        return _json_feed(content)
    if media_type in _HTML_TYPES or head.startswith((b"<!doctype html", b"<html")):
        return _home_page(content, url)
    if b"<urlset" in head or b"<sitemapindex" in head:
        return _sitemap(content)
    return _xml_feed(content)


def _iso(parsed: time.struct_time | None) -> str | None:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", parsed) if parsed else None


def _xml_feed(content: bytes) -> ParsedFeed:
    import feedparser

    parsed = feedparser.parse(content)
    problem = f"{type(parsed.bozo_exception).__name__}: {parsed.bozo_exception}" if parsed.bozo else None
    if not parsed.entries:
        if problem:
            raise MalformedFeed(f"malformed feed XML ({problem})")
        if not parsed.version:
            raise MalformedFeed("not a feed: neither RSS, Atom, JSON Feed nor a sitemap")
    entries: list[Entry] = []
    for item in parsed.entries[:MAX_ENTRIES]:
        content_html = next((c.get("value") for c in item.get("content", []) if c.get("value")), None)
        entries.append(Entry(
            link=item.get("link"), guid=item.get("id"), title=item.get("title"), author=item.get("author"),
            published=_iso(item.get("published_parsed")), updated=_iso(item.get("updated_parsed")),
            summary=item.get("summary"), content_html=content_html))
    if problem and not any(entry.link for entry in entries):  # what was recovered is no story
        raise MalformedFeed(f"malformed feed XML ({problem})")
    kind = "atom" if parsed.version.startswith("atom") else "rss"
    note = f"recovered {len(entries)} items from malformed XML ({problem})" if problem and entries else None
    return ParsedFeed(kind=kind, title=parsed.feed.get("title"), entries=entries, note=note)


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _json_feed(content: bytes) -> ParsedFeed:
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedFeed(f"malformed JSON ({exc})") from None
    if not isinstance(data, dict) or "jsonfeed.org" not in str(data.get("version", "")) \
            or not isinstance(data.get("items"), list):
        raise MalformedFeed("JSON that is not a JSON Feed (no jsonfeed.org version or no items list)")
    entries = []
    for item in data["items"][:MAX_ENTRIES]:
        if not isinstance(item, dict):
            continue
        authors = item.get("authors") or ([item["author"]] if isinstance(item.get("author"), dict) else [])
        names = [a["name"] for a in authors if isinstance(a, dict) and _text(a.get("name"))]
        entries.append(Entry(
            link=_text(item.get("url")) or _text(item.get("external_url")), guid=_text(str(item.get("id", ""))),
            title=_text(item.get("title")), author="; ".join(names) or None,
            published=_text(item.get("date_published")), updated=_text(item.get("date_modified")),
            summary=_text(item.get("summary")), content_html=_text(item.get("content_html")),
            content_text=_text(item.get("content_text"))))
    return ParsedFeed(kind="json", title=_text(data.get("title")), entries=entries)


def _sitemap(content: bytes) -> ParsedFeed:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False)
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as exc:
        raise MalformedFeed(f"malformed sitemap XML ({exc})") from None
    if root.tag == f"{_SITEMAP}sitemapindex":
        return _sitemap_index(root)
    entries = []
    for url in root.iter(f"{_SITEMAP}url"):
        def text(path: str, node=url) -> str | None:
            found = node.find(path)
            return found.text.strip() or None if found is not None and found.text else None

        entries.append(Entry(
            link=text(f"{_SITEMAP}loc"), title=text(f"{_NEWS}news/{_NEWS}title"),
            published=text(f"{_NEWS}news/{_NEWS}publication_date"), updated=text(f"{_SITEMAP}lastmod"),
            publisher=text(f"{_NEWS}news/{_NEWS}publication/{_NEWS}name")))
        if len(entries) >= MAX_ENTRIES:
            break
    return ParsedFeed(kind="sitemap", entries=entries)


def _sitemap_index(root) -> ParsedFeed:
    """A sitemap index: its sitemaps, the most recently modified first (those without a
    `<lastmod>` last, in the index's order), for the poller to follow (MAX_SITEMAPS of them)."""
    children: list[tuple[str, str]] = []
    for node in root.iter(f"{_SITEMAP}sitemap"):
        loc, lastmod = node.find(f"{_SITEMAP}loc"), node.find(f"{_SITEMAP}lastmod")
        if loc is not None and loc.text and loc.text.strip():
            children.append((loc.text.strip(), (lastmod.text or "").strip() if lastmod is not None else ""))
    if not children:
        raise MalformedFeed("a sitemap index that lists no sitemap")
    # ISO 8601 dates of one site sort as text; a stable sort keeps the index's order among equals.
    children.sort(key=lambda child: child[1], reverse=True)
    return ParsedFeed(kind="sitemapindex", feed_links=list(dict.fromkeys(loc for loc, _ in children)))


def _home_page(content: bytes, url: str) -> ParsedFeed:
    from trafilatura.feeds import FeedParameters, determine_feed
    from trafilatura.utils import decode_file

    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)  # a broken page is the outcome, not a log line
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    links = determine_feed(decode_file(content), FeedParameters(base, parts.hostname or "", url))
    return ParsedFeed(kind="html", feed_links=links)
