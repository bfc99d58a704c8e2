"""HTTP fetching done right for feeds and article pages (httpx): conditional requests (a 304
costs no body), connect/read timeouts and a deadline per response, a byte cap (the body is
streamed and dropped past it), at most MAX_REDIRECTS redirects with loops named as such,
retries with backoff on 5xx, 429 and dropped connections honouring a bounded Retry-After,
robots.txt obeyed, one request at a time per host, and a User-Agent naming the project.

Every failure is a FetchFailed with a `kind` (for metrics and status) and a reason a person
can act on."""

from __future__ import annotations

import email.utils
import time
from urllib.parse import urljoin, urlsplit

import httpx
import msgspec

from config import Settings
from index.feeds import metrics
from index.feeds.politeness import HostGate, RobotsCache

MAX_REDIRECTS = 5
ROBOTS_MAX_BYTES = 512 * 1024
PRODUCT = "news-qa"  # the robots.txt token this client obeys, and its User-Agent's product
_REDIRECTS = {301, 302, 303, 307, 308}


class FetchFailed(Exception):
    """A fetch that gave nothing usable: `kind` is one of timeout, connection, too_large,
    redirects, http_status, rate_limited, robots."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind, self.reason = kind, reason


class Fetched(msgspec.Struct):
    """A response: 200 with its body, or 304 (not modified, no body)."""

    url: str  # after redirects
    status: int
    content: bytes
    content_type: str
    etag: str | None
    last_modified: str | None
    location: str | None = None  # a redirect's target
    retry_after: str | None = None

    def media_type(self) -> str:
        return self.content_type.split(";")[0].strip().lower()

    def charset(self) -> str | None:
        for part in self.content_type.split(";")[1:]:
            name, _, value = part.partition("=")
            if name.strip().lower() == "charset" and value.strip():
                return value.strip().strip("\"'")
        return None


def user_agent(settings: Settings) -> str:
    contact = f"; +{settings.feeds_contact_url}" if settings.feeds_contact_url else ""
    return f"{PRODUCT}/0.1 (feed poller of a citation-first news QA service{contact})"


def _retry_after(value: str | None) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class Fetcher:
    """One HTTP client with its politeness state, shared by a poll round's threads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.agent = user_agent(settings)
        self.gate = HostGate(settings.feeds_host_interval)
        self.robots = RobotsCache()
        timeout = httpx.Timeout(connect=settings.feeds_connect_timeout, read=settings.feeds_read_timeout,
                                write=settings.feeds_read_timeout, pool=settings.feeds_connect_timeout)
        # trust_env=False: no proxy or netrc from the environment decides where a feed goes.
        self.client = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False,
                                   headers={"User-Agent": self.agent, "Accept-Encoding": "gzip, deflate"},
                                   limits=httpx.Limits(max_connections=32, max_keepalive_connections=16))

    def close(self) -> None:
        self.client.close()

    def get(self, url: str, purpose: str, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        """GET `url` (a `feed` or a `page`, for the metrics), following at most MAX_REDIRECTS
        redirects, each hop checked against robots.txt; 200 or 304, else FetchFailed."""
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        hops = [url]
        try:
            while True:
                self._check_robots(hops[-1])
                response = self._with_retries(hops[-1], headers, purpose)
                if response.status not in _REDIRECTS:
                    break
                location = response.location
                if not location:
                    raise FetchFailed("http_status", f"HTTP {response.status} without a Location from {hops[-1]}")
                target = urljoin(hops[-1], location)
                if target in hops:
                    raise FetchFailed("redirects", "a redirect loop: " + " -> ".join([*hops, target]))
                if len(hops) > MAX_REDIRECTS:
                    raise FetchFailed("redirects", f"more than {MAX_REDIRECTS} redirects from {url}")
                if urlsplit(target).scheme not in ("http", "https"):
                    raise FetchFailed("redirects", f"a redirect to a non-HTTP address: {target}")
                hops.append(target)
        except FetchFailed as failure:
            metrics.FAILURES.labels(failure.kind).inc()
            raise
        if response.status == 304:
            metrics.NOT_MODIFIED.inc()
        return response

    # ---- robots.txt ---------------------------------------------------------------
    def _check_robots(self, url: str) -> None:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        known, rules = self.robots.get(origin)
        if not known:
            rules = self.robots.put(origin, self._robots_text(origin))
            if rules is not None and (delay := rules.crawl_delay(PRODUCT)):
                self.gate.set_delay(parts.netloc, float(delay))
        if rules is not None and not rules.can_fetch(url, PRODUCT):
            raise FetchFailed("robots", f"robots.txt of {origin} forbids {url}")

    def _robots_text(self, origin: str) -> str | None:
        """The origin's robots.txt; None when it has none (a 4xx: everything is allowed).
        Unreachable or a 5xx: FetchFailed, and nothing is fetched from there this time
        (RFC 9309 treats an unreachable robots.txt as a full disallow)."""
        url = origin + "/robots.txt"
        for _ in range(MAX_REDIRECTS + 1):
            response = self._once(url, {}, "robots", ROBOTS_MAX_BYTES)
            if response.status in _REDIRECTS and (location := response.location):
                url = urljoin(url, location)
                continue
            if response.status == 200:
                return response.content.decode("utf-8", errors="replace")
            if 400 <= response.status < 500:
                return None
            raise FetchFailed("robots", f"robots.txt of {origin} is unavailable (HTTP {response.status}); "
                                        "nothing is fetched from there until it answers")
        return None

    # ---- one request --------------------------------------------------------------
    def _with_retries(self, url: str, headers: dict[str, str], purpose: str) -> Fetched:
        settings = self.settings
        for attempt in range(settings.feeds_retries + 1):
            last = attempt == settings.feeds_retries
            try:
                response = self._once(url, headers, purpose, settings.feeds_max_bytes)
            except FetchFailed as failure:
                if failure.kind != "connection" or last:
                    raise
                time.sleep(settings.feeds_retry_backoff * 2**attempt)
                continue
            if response.status != 429 and response.status < 500:
                if response.status not in (200, 304, *_REDIRECTS):
                    raise FetchFailed("http_status", f"HTTP {response.status} from {url}")
                return response
            kind = "rate_limited" if response.status == 429 else "http_status"
            if last:
                raise FetchFailed(kind, f"HTTP {response.status} from {url} after {attempt + 1} attempts")
            asked = _retry_after(response.retry_after)
            if asked is not None and asked > settings.feeds_retry_after_max:
                raise FetchFailed(kind, f"HTTP {response.status} from {url}, asking to retry after {asked:.0f} s "
                                        f"(more than the {settings.feeds_retry_after_max:.0f} s waited at most)")
            time.sleep(asked if asked is not None else settings.feeds_retry_backoff * 2**attempt)
        raise AssertionError("unreachable")

    def _once(self, url: str, headers: dict[str, str], purpose: str, max_bytes: int) -> Fetched:
        """One request, its body read (only for a 200) up to `max_bytes` and the deadline."""
        deadline = time.monotonic() + self.settings.feeds_response_seconds
        with self.gate.turn(urlsplit(url).netloc):
            metrics.FETCHES.labels(purpose).inc()
            try:
                with self.client.stream("GET", url, headers=headers) as response:
                    body = b""
                    if response.status_code == 200:
                        body = self._body(response, url, max_bytes, deadline)
                    got = response.headers
                    return Fetched(url=url, status=response.status_code, content=body,
                                   content_type=got.get("content-type", ""), etag=got.get("etag"),
                                   last_modified=got.get("last-modified"), location=got.get("location"),
                                   retry_after=got.get("retry-after"))
            except httpx.TimeoutException as exc:
                raise FetchFailed("timeout", f"{url} did not answer in time ({type(exc).__name__})") from exc
            except httpx.TransportError as exc:
                raise FetchFailed("connection", f"{url}: {type(exc).__name__}: {exc}") from exc
            except httpx.InvalidURL as exc:
                raise FetchFailed("connection", f"{url}: invalid address ({exc})") from exc

    def _body(self, response: httpx.Response, url: str, max_bytes: int, deadline: float) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise FetchFailed("too_large", f"{url} is {int(declared):,} bytes, over the {max_bytes:,}-byte cap")
        chunks, size = [], 0
        for chunk in response.iter_bytes():  # decoded: a gzip bomb is capped by what it inflates to
            size += len(chunk)
            if size > max_bytes:
                raise FetchFailed("too_large", f"{url} sent over the {max_bytes:,}-byte cap; the rest was not read")
            if time.monotonic() > deadline:
                raise FetchFailed("timeout", f"{url} took over {self.settings.feeds_response_seconds:.0f} s to send")
            chunks.append(chunk)
        return b"".join(chunks)

