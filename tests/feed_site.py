"""A news site on 127.0.0.1 for the feed tests: pages, feeds and robots.txt served from a
dict the test changes as it goes, ETag/Last-Modified answered with 304, and misbehaviours
on demand (slow answers, endless bodies, redirect loops, dropped connections). Never an
outside address: everything the poller fetches in the tests is here."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

Handler = Callable[[BaseHTTPRequestHandler], None]
LAST_MODIFIED = "Mon, 01 Jan 2024 00:00:00 GMT"


class Page:
    def __init__(self, body: bytes, content_type: str, status: int = 200, headers: dict[str, str] | None = None):
        self.body, self.content_type, self.status, self.headers = body, content_type, status, headers or {}


class FeedSite:
    """`site.page(path, body, type)` serves a resource; `site.handle(path, fn)` answers with
    `fn(request_handler)`. `site.hits[path]` counts requests, `site.agents` the User-Agents."""

    def __init__(self) -> None:
        self.routes: dict[str, Page | Handler] = {}
        self.hits: Counter[str] = Counter()
        self.agents: set[str] = set()
        self.active = 0
        self.most_active = 0  # the most requests in flight at once
        site = self

        class Request(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: with Nagle's algorithm the body waited for
            # the client's delayed ACK, 40 ms per 200 response (most of a round of 100 feeds).
            disable_nagle_algorithm = True

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                site.hits[self.path] += 1
                site.agents.add(self.headers.get("User-Agent", ""))
                with site._guard:
                    site.active += 1
                    site.most_active = max(site.most_active, site.active)
                try:
                    site._answer(self)
                finally:
                    with site._guard:
                        site.active -= 1

        self._guard = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Request)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FeedSite":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str) -> str:
        return self.base + path

    def page(self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8", status: int = 200,
             headers: dict[str, str] | None = None) -> None:
        self.routes[path] = Page(body.encode() if isinstance(body, str) else body, content_type, status, headers)

    def handle(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler

    def _answer(self, request: BaseHTTPRequestHandler) -> None:
        route = self.routes.get(request.path)
        if route is None:
            send(request, 404, b"not found", "text/plain")
            return
        if callable(route):
            route(request)
            return
        etag = '"' + hashlib.sha256(route.body).hexdigest()[:16] + '"'
        if route.status == 200 and request.headers.get("If-None-Match") == etag:
            request.send_response(304)
            request.send_header("ETag", etag)
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        send(request, route.status, route.body, route.content_type,
             {"ETag": etag, "Last-Modified": LAST_MODIFIED, **route.headers})


def send(request: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str,
         headers: dict[str, str] | None = None) -> None:
    request.send_response(status)
    request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        request.send_header(name, value)
    request.end_headers()
    request.wfile.write(body)


def slow(seconds: float, then: Page) -> Handler:
    """Answers after `seconds` (the poller's read timeout should give up first)."""
    def answer(request: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        try:
            send(request, then.status, then.body, then.content_type)
        except OSError:
            pass
    return answer


def endless(total: int, content_type: str = "application/rss+xml") -> Handler:
    """A body of `total` bytes, streamed without a Content-Length (the cap must cut it)."""
    def answer(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", content_type)
        request.send_header("Connection", "close")
        request.end_headers()
        chunk = b"<!-- padding -->" * 4096
        sent = 0
        try:
            while sent < total:
                request.wfile.write(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the poller hung up: the point
        request.close_connection = True
    return answer


def redirect(to: str) -> Handler:
    def answer(request: BaseHTTPRequestHandler) -> None:
        send(request, 302, b"", "text/plain", {"Location": to})
    return answer


def hang_up(request: BaseHTTPRequestHandler) -> None:
    """The server going away mid-answer: headers promise a body that never comes."""
    request.send_response(200)
    request.send_header("Content-Type", "text/html")
    request.send_header("Content-Length", "100000")
    request.end_headers()
    request.wfile.write(b"<html><body><p>The start of")
    request.wfile.flush()
    request.connection.shutdown(2)
    request.close_connection = True


def rss(items: list[dict[str, str]], title: str = "Test News") -> str:
    """An RSS 2.0 feed of `items` (link, title, guid, pubDate, description, content, author)."""
    out = []
    for item in items:
        parts = [f"<{tag}>{escape(item[tag])}</{tag}>" for tag in ("title", "link", "pubDate", "description")
                 if tag in item]
        if "guid" in item:
            parts.append(f'<guid isPermaLink="false">{item["guid"]}</guid>')
        if "author" in item:
            parts.append(f"<dc:creator>{item['author']}</dc:creator>")
        if "content" in item:
            parts.append(f"<content:encoded><![CDATA[{item['content']}]]></content:encoded>")
        out.append("<item>" + "".join(parts) + "</item>")
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<channel><title>{title}</title><link>http://127.0.0.1/</link>{''.join(out)}</channel></rss>")


def article(title: str, paragraphs: list[str], author: str | None = None) -> str:
    """A news page: site chrome around an article with its headline and paragraphs."""
    byline = f'<meta name="author" content="{author}">' if author else ""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<!doctype html><html><head><title>{title} | Test News</title>{byline}"
            f'<meta property="og:site_name" content="Test News Site"></head><body>'
            f"<nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
            f"<article><h1>{title}</h1>{body}</article><footer>Copyright Test News</footer></body></html>")
