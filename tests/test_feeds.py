"""Feeds and sitemaps: subscriptions (CLI, API, state that survives restarts), polling
against a local site (tests/feed_site.py, 127.0.0.1 only), duplicates and updates in place,
and every kind of bad source recorded on its own feed without stopping the others."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from litestar.testing import TestClient

from index.feeds.formats import parse_feed
from index.feeds.intervals import BadInterval, format_interval, parse_interval
from index.feeds.items import canonical_url, story_id
from index.feeds.polling import Poller
from index.feeds.state import FeedState
from index.store import Store
from index.writer import Writer
from qa.api.app import create_app
from qa.cli import main
from qa.service import QAService
from tests.conftest import make_settings
from tests.feed_site import FeedSite, article, endless, hang_up, redirect, rss, send, slow

KEY = "feeds-key"


def fast_settings(data_dir, **overrides):
    """Timeouts and retries short enough for tests; no spacing between requests to 127.0.0.1."""
    values = dict(feeds_host_interval=0.0, feeds_connect_timeout=1.0, feeds_read_timeout=0.5,
                  feeds_response_seconds=3.0, feeds_retries=1, feeds_retry_backoff=0.01, feeds_max_bytes=2_000_000,
                  feeds_full_text_chars=400, feeds_poll="off", api_key=KEY, rate_limit_per_minute=0)
    return make_settings(data_dir, **{**values, **overrides})


def story(n: int, edition: str = "") -> list[str]:
    return [f"The harbour town of Port {n} voted on Tuesday to rebuild its sea wall after the storms of last winter "
            f"destroyed {n + 2} houses{edition}.",
            f"Mayor Ada Quill {n} said the work would begin in the spring and cost about {n + 4} million euros, paid "
            "by the region and the state.",
            "Residents welcomed the decision but warned that the old wall had failed twice before."]


def publish(site: FeedSite, path: str, numbers: range, prefix: str = "/story/", **extra) -> list[dict[str, str]]:
    """Article pages for `numbers` and an RSS feed at `path` listing them (tracking parameters in the links)."""
    items = []
    for n in numbers:
        site.page(f"{prefix}{n}", article(f"Page headline {n}", story(n)))
        items.append({"title": f"Sea wall vote {n}", "link": site.url(f"{prefix}{n}?utm_source=rss&utm_medium=feed"),
                      "guid": f"story-{n}", "pubDate": "Mon, 01 Jan 2024 10:00:00 GMT", "author": "Ann Reporter",
                      **extra})
    site.page(path, rss(items), "application/rss+xml")
    return items


@pytest.fixture
def site():
    with FeedSite() as running:
        yield running


@pytest.fixture
def writer(tmp_path, embedder):
    settings = fast_settings(tmp_path / "data")
    made = Writer(Store.open(settings), settings)
    made.embedder = embedder
    return made


def poll(writer: Writer, due_only: bool = False):
    return dict(Poller(writer, writer.settings).poll(due_only).results)


def stored(writer: Writer) -> dict[str, object]:
    return {doc_id: writer.store.get_document(doc_id) for doc_id in writer.store.document_ids()}


# ---- subscriptions -----------------------------------------------------------------
def test_intervals_read_as_people_write_them_within_bounds():
    assert parse_interval("15m") == 900 and parse_interval("1h30m") == 5400 and parse_interval("120") == 120
    assert format_interval(5400) == "1h30m"
    for bad in ("5s", "8d", "15 minutes", "m", ""):
        with pytest.raises(BadInterval):
            parse_interval(bad)


def test_subscriptions_survive_a_restart_and_can_be_changed_and_removed(tmp_path):
    state = FeedState(tmp_path / "feeds")
    feed, created = state.subscribe("https://example.org/rss", 900, "Example")
    assert created and feed.next_poll <= time.time()
    again = FeedState(tmp_path / "feeds")  # a new process opening the same data dir
    assert [f.url for f in again.feeds()] == ["https://example.org/rss"]
    changed, created = again.subscribe("https://example.org/rss", 3600, None)
    assert not created and changed.every == 3600 and changed.publisher is None
    assert again.unsubscribe("https://example.org/rss") and not again.unsubscribe("https://example.org/rss")
    assert FeedState(tmp_path / "feeds").feeds() == []


def test_the_command_line_adds_lists_and_removes_feeds(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path))
    assert main(["feeds", "add", "https://example.org/rss", "--every", "30m", "--publisher", "Example"]) == 0
    assert main(["feeds", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert listed["total"] == 1 and listed["feeds"][0]["every"] == "30m"
    assert listed["feeds"][0]["publisher"] == "Example" and listed["feeds"][0]["outcome"] is None
    assert main(["feeds", "add", "ftp://example.org/rss"]) == 2
    assert main(["feeds", "add", "https://example.org/x", "--every", "10s"]) == 2
    assert main(["feeds", "remove", "https://example.org/rss"]) == 0
    assert main(["feeds", "remove", "https://example.org/rss"]) == 1
    assert main(["feeds", "list"]) == 0
    assert "no feeds" in capsys.readouterr().out


@pytest.fixture
def feed_service(tmp_path, embedder):
    settings = fast_settings(tmp_path / "served")
    service = QAService(settings, Store.open(settings), embedder, watch=False)
    yield service
    service.close()


@pytest.fixture
def feed_client(feed_service):
    with TestClient(create_app(feed_service.settings, feed_service)) as client:
        yield client


def test_the_api_lists_feeds_and_needs_the_key_to_change_them(feed_client):
    body = {"url": "https://example.org/rss", "every": "1h", "publisher": "Example"}
    assert feed_client.post("/feeds", json=body).status_code == 401
    assert feed_client.post("/feeds", json=body, headers={"X-API-Key": "wrong"}).status_code == 401
    created = feed_client.post("/feeds", json=body, headers={"X-API-Key": KEY})
    assert created.status_code == 201 and created.json()["every_seconds"] == 3600
    again = feed_client.post("/feeds", json={**body, "every": "2h"}, headers={"X-API-Key": KEY})
    assert again.status_code == 200 and again.json()["every"] == "2h"
    listed = feed_client.get("/feeds").json()
    assert listed["total"] == 1 and listed["feeds"][0]["url"] == body["url"]
    for bad in ({"url": "ftp://example.org/rss"}, {"url": "https://example.org/rss", "every": "5s"},
                {"url": "https://example.org/rss", "extra": 1}, {"url": "https://exa mple.org/"},
                {"url": "http://xn--/"}, {"url": "http://example.org:99999/"}):
        response = feed_client.post("/feeds", json=bad, headers={"X-API-Key": KEY})
        assert response.status_code == 400, (bad, response.text)
    assert feed_client.delete("/feeds", params={"url": body["url"]}).status_code == 401
    assert feed_client.delete("/feeds", params={"url": body["url"]}, headers={"X-API-Key": KEY}).status_code == 204
    assert feed_client.delete("/feeds", params={"url": body["url"]}, headers={"X-API-Key": KEY}).status_code == 404
    assert feed_client.get("/feeds").json()["total"] == 0


def test_the_latest_stories_are_listed_newest_first_with_their_publisher_and_date(site, feed_service, feed_client):
    dates = ["Mon, 01 Jan 2024 10:00:00 GMT", "Wed, 03 Jan 2024 10:00:00 GMT", "Tue, 02 Jan 2024 10:00:00 GMT"]
    for n, date in enumerate(dates):
        publish(site, f"/feed-{n}.xml", range(n, n + 1), pubDate=date)
        feed_service.feeds.add(site.url(f"/feed-{n}.xml"), publisher=f"Outlet {n}")
    feed_service.feeds.poll(due_only=False)
    feed_service.refresh()
    latest = feed_client.get("/documents", params={"sort": "latest", "limit": 2})
    assert latest.status_code == 200, latest.text
    body = latest.json()
    assert body["total"] == 3 and [d["title"] for d in body["documents"]] == ["Sea wall vote 1", "Sea wall vote 2"]
    assert [(d["metadata"]["publisher"], d["metadata"]["date"]) for d in body["documents"]] == [
        ("Outlet 1", "2024-01-03"), ("Outlet 2", "2024-01-02")]
    assert [d["id"] for d in feed_client.get("/documents").json()["documents"]] == sorted(
        story_id(site.url(f"/story/{n}")) for n in range(3))  # id order stays the default
    for bad in ({"sort": "oldest"}, {"limit": 0}, {"limit": 1001}, {"limit": "many"}):
        response = feed_client.get("/documents", params=bad)
        assert response.status_code == 400, (bad, response.text)
    parameters = {p["name"]: p for p in feed_client.get("/schema/openapi.json").json()["paths"]["/documents"]["get"]
                  ["parameters"]}
    assert parameters["sort"]["schema"]["enum"] == ["id", "latest"] and parameters["limit"]["schema"]["oneOf"]


# ---- formats and keys --------------------------------------------------------------
def test_canonical_urls_drop_tracking_parameters_and_make_stable_document_ids():
    url = canonical_url("/a/story?utm_source=rss&id=3&fbclid=x#top", "http://127.0.0.1:8000/feed.xml")
    assert url == "http://127.0.0.1:8000/a/story?id=3"
    assert story_id(url) == story_id(canonical_url("http://127.0.0.1:8000/a/story?id=3&utm_medium=x", "http://x/"))
    assert canonical_url("mailto:someone@example.org", "http://x/") is None


def test_json_feeds_news_sitemaps_and_home_pages_are_read():
    json_feed = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": [
        {"id": "1", "url": "http://127.0.0.1/a", "title": "T", "date_published": "2024-02-03T10:00:00Z",
         "authors": [{"name": "Bo Writer"}], "content_html": "<p>Text</p>"}]}).encode()
    parsed = parse_feed(json_feed, "application/feed+json", "http://127.0.0.1/feed.json")
    assert parsed.kind == "json" and parsed.entries[0].author == "Bo Writer"
    sitemap = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>http://127.0.0.1/b</loc><news:news><news:publication><news:name>The Paper</news:name></news:publication>
<news:publication_date>2024-03-04</news:publication_date><news:title>Vote held</news:title></news:news></url></urlset>"""
    parsed = parse_feed(sitemap, "application/xml", "http://127.0.0.1/news-sitemap.xml")
    entry = parsed.entries[0]
    assert (parsed.kind, entry.link, entry.title, entry.publisher, entry.published) == \
        ("sitemap", "http://127.0.0.1/b", "Vote held", "The Paper", "2024-03-04")
    home = b'<html><head><link rel="alternate" type="application/rss+xml" href="/rss.xml"></head><body></body></html>'
    assert parse_feed(home, "text/html", "http://127.0.0.1:9/").feed_links == ["http://127.0.0.1:9/rss.xml"]


# ---- polling -----------------------------------------------------------------------
def test_a_poll_stores_new_stories_with_the_feeds_metadata_first_and_the_pages_second(site, writer):
    publish(site, "/feed.xml", range(3))
    FeedState.of(writer.settings).subscribe(site.url("/feed.xml"), 900, "Harbour Times")
    result = poll(writer)[site.url("/feed.xml")]
    assert (result.outcome, result.seen, result.added, result.failed) == ("new", 3, 3, 0)
    documents = stored(writer)
    assert len(documents) == 3
    document = documents[story_id(site.url("/story/0"))]
    assert document.title == "Sea wall vote 0"  # the feed's title, over the page's
    assert document.metadata["author"] == "Ann Reporter" and document.metadata["publisher"] == "Harbour Times"
    assert document.metadata["date"] == "2024-01-01" and document.metadata["guid"] == "story-0"
    assert document.metadata["url"] == site.url("/story/0") and document.source == site.url("/story/0")
    assert "Port 0 voted on Tuesday" in document.text
    assert all(agent.startswith("news-qa/") for agent in site.agents)
    feed = FeedState.of(writer.settings).feed(site.url("/feed.xml"))
    assert feed.outcome == "new" and feed.total_added == 3 and feed.next_poll >= feed.last_poll + 900


def test_a_feed_that_repeats_every_item_costs_no_page_fetch_and_a_304_costs_no_body(site, writer):
    publish(site, "/feed.xml", range(3))
    FeedState.of(writer.settings).subscribe(site.url("/feed.xml"), 900, None)
    poll(writer)
    assert poll(writer)[site.url("/feed.xml")].outcome == "unchanged"  # a 304
    # The same items again, the feed's bytes changed (no 304): still no page is fetched.
    items = publish(site, "/feed.xml", range(3))
    site.page("/feed.xml", rss(items, title="Test News, again"), "application/rss+xml")
    result = poll(writer)[site.url("/feed.xml")]
    assert (result.outcome, result.seen, result.added) == ("unchanged", 3, 0)
    assert all(site.hits[f"/story/{n}"] == 1 for n in range(3))
    assert len(stored(writer)) == 3


def test_the_same_story_in_two_feeds_is_stored_once(site, writer):
    publish(site, "/a.xml", range(3))
    publish(site, "/b.xml", range(1, 4))  # stories 1 and 2 in both feeds
    state = FeedState.of(writer.settings)
    state.subscribe(site.url("/a.xml"), 900, None)
    state.subscribe(site.url("/b.xml"), 900, None)
    results = poll(writer)
    assert results[site.url("/a.xml")].added + results[site.url("/b.xml")].added == 4
    assert len(stored(writer)) == 4
    assert sum(hits for path, hits in site.hits.items() if path.startswith("/story/")) == 4


def test_full_text_carried_by_the_feed_is_used_without_fetching_the_page(site, writer):
    text = "".join(f"<p>{p}</p>" for p in story(7) + story(8))
    publish(site, "/full.xml", range(7, 8), content=text)
    FeedState.of(writer.settings).subscribe(site.url("/full.xml"), 900, None)
    assert poll(writer)[site.url("/full.xml")].added == 1
    assert site.hits["/story/7"] == 0
    assert "Port 8 voted" in next(iter(stored(writer).values())).text


def test_a_home_page_leads_to_its_feed(site, writer):
    publish(site, "/rss.xml", range(2))
    site.page("/", '<html><head><link rel="alternate" type="application/rss+xml" href="/rss.xml"></head>'
                   "<body>Home</body></html>")
    FeedState.of(writer.settings).subscribe(site.url("/"), 900, None)
    result = poll(writer)[site.url("/")]
    assert result.added == 2
    assert FeedState.of(writer.settings).feed(site.url("/")).resolved_url == site.url("/rss.xml")


def test_a_changed_story_replaces_its_old_version_and_citations_into_the_old_text_answer_410(
        site, feed_service, feed_client):
    writer = feed_service._writer
    items = publish(site, "/feed.xml", range(1))
    feed_service.feeds.add(site.url("/feed.xml"))
    feed_service.feeds.poll(due_only=False)
    feed_service.refresh()
    doc_id = story_id(site.url("/story/0"))
    old = feed_service.document(doc_id)[0]
    start = old.text.index("Residents")
    old_citation = f"{old.content_hash[:16]}-{start}-{start + 20}"
    assert feed_client.get(f"/citations/{old_citation}").status_code == 200
    # A correction: new text at the same URL, and the feed says the entry was updated.
    site.page("/story/0", article("Page headline 0", story(0, edition=", not four as first reported")))
    site.page("/feed.xml", rss([{**items[0], "description": "corrected"}]), "application/rss+xml")
    result = feed_service.feeds.poll(due_only=False).results[0][1]
    assert (result.outcome, result.updated, result.added) == ("new", 1, 0)
    feed_service.refresh()
    assert len(stored(writer)) == 1
    current = feed_client.get(f"/documents/{doc_id}").json()
    assert "not four as first reported" in current["text"] and current["metadata"]["updated_at"]
    gone = feed_client.get(f"/citations/{old_citation}")
    assert gone.status_code == 410, gone.text
    assert gone.json()["extra"]["doc_id"] == doc_id
    assert gone.json()["extra"]["current_version"] == current["content_hash"][:16]
    assert feed_client.get("/citations/0123456789abcdef-0-5").status_code == 404  # never existed: still 404
    assert feed_client.get("/feeds").json()["feeds"][0]["total_updated"] == 1


def test_every_bad_source_is_recorded_on_its_feed_and_stops_none_of_the_others(site, writer):
    """Malformed XML and JSON, a 50 MB answer, a redirect loop, a slow server, item pages that
    answer 404 and 500, a page that is not HTML, robots.txt forbidding a path, and a server
    that goes away mid-answer: each on its own feed's status, the good feed stored."""
    publish(site, "/good.xml", range(2))
    site.page("/broken.xml", '<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item><title>cut',
              "application/rss+xml")
    site.page("/broken.json", '{"version": "https://jsonfeed.org/version/1.1", "items": [', "application/feed+json")
    site.handle("/huge.xml", endless(50 * 1024 * 1024))
    site.handle("/loop-a.xml", redirect("/loop-b.xml"))
    site.handle("/loop-b.xml", redirect("/loop-a.xml"))
    site.handle("/slow.xml", slow(5.0, site.routes["/good.xml"]))
    site.page("/robots.txt", "User-agent: *\nDisallow: /private/\n", "text/plain")
    site.page("/private/feed.xml", rss([]), "application/rss+xml")
    bad_items = [{"title": "gone", "link": site.url("/missing")},
                 {"title": "error", "link": site.url("/error")},
                 {"title": "pdf", "link": site.url("/file.pdf")},
                 {"title": "forbidden", "link": site.url("/private/story")},
                 {"title": "cut off", "link": site.url("/cut")},
                 {"title": "fine", "link": site.url("/story/9")}]
    site.page("/story/9", article("Nine", story(9)))
    site.page("/error", "boom", "text/plain", status=500)
    site.page("/file.pdf", b"%PDF-1.4 not a page", "application/pdf")
    site.handle("/cut", hang_up)
    site.page("/mixed.xml", rss(bad_items), "application/rss+xml")
    state = FeedState.of(writer.settings)
    names = ["good", "broken.xml", "broken.json", "huge", "loop", "slow", "private", "mixed"]
    paths = ["/good.xml", "/broken.xml", "/broken.json", "/huge.xml", "/loop-a.xml", "/slow.xml", "/private/feed.xml",
             "/mixed.xml"]
    for path in paths:
        state.subscribe(site.url(path), 900, None)
    started = time.monotonic()
    results = poll(writer)
    assert time.monotonic() - started < 30  # the slow server was given up on, not waited for
    by_name = {name: results[site.url(path)] for name, path in zip(names, paths)}
    print({name: (r.outcome, r.reason) for name, r in by_name.items()})
    assert by_name["good"].outcome == "new" and by_name["good"].added == 2
    assert by_name["broken.xml"].outcome == "failed" and "malformed" in by_name["broken.xml"].reason
    assert by_name["broken.json"].outcome == "failed" and "malformed JSON" in by_name["broken.json"].reason
    assert by_name["huge"].outcome == "failed" and "cap" in by_name["huge"].reason
    assert by_name["loop"].outcome == "failed" and "redirect loop" in by_name["loop"].reason
    assert by_name["slow"].outcome == "failed" and "did not answer in time" in by_name["slow"].reason
    assert by_name["private"].outcome == "failed" and "robots.txt" in by_name["private"].reason
    mixed = by_name["mixed"]
    assert (mixed.outcome, mixed.added, mixed.failed) == ("new", 1, 5), mixed.reason
    for said in ("HTTP 404", "HTTP 500", "not an HTML page", "robots.txt"):
        assert said in mixed.reason or said in " ".join(r.reason or "" for r in results.values()), said
    assert site.hits["/private/story"] == 0 and site.hits["/private/feed.xml"] == 0
    assert len(stored(writer)) == 3
    listed = {feed.url: feed for feed in state.feeds()}
    assert listed[site.url("/huge.xml")].outcome == "failed" and listed[site.url("/huge.xml")].reason
    # The failed items are tried again on the next poll (a bounded number of times), the stored ones are not.
    site.page("/missing", article("Back", story(11)))
    again = poll(writer)
    assert again[site.url("/mixed.xml")].added == 1 and site.hits["/story/9"] == 1


def test_the_server_going_away_mid_poll_is_recorded_and_the_next_poll_completes(writer):
    with FeedSite() as site:
        publish(site, "/feed.xml", range(4))

        def vanish(request):
            hang_up(request)
            site.routes.clear()  # from now on the site answers nothing but 404s
        site.handle("/story/2", vanish)
        FeedState.of(writer.settings).subscribe(site.url("/feed.xml"), 900, None)
        result = poll(writer)[site.url("/feed.xml")]
        assert result.outcome == "new" and result.added == 2 and result.failed == 2, result.reason
        publish(site, "/feed.xml", range(4))  # the site is back
        result = poll(writer)[site.url("/feed.xml")]
        assert result.added == 2, result.reason
    assert len(stored(writer)) == 4


def test_retries_honour_a_short_retry_after_and_refuse_a_long_one(site, writer):
    calls = []

    def busy_then_fine(request):
        calls.append(time.monotonic())
        if len(calls) == 1:
            send(request, 429, b"busy", "text/plain", {"Retry-After": "1"})
        else:
            send(request, 200, rss([]).encode(), "application/rss+xml")
    site.handle("/busy.xml", busy_then_fine)
    site.handle("/later.xml", lambda request: send(request, 503, b"", "text/plain", {"Retry-After": "3600"}))
    state = FeedState.of(writer.settings)
    state.subscribe(site.url("/busy.xml"), 900, None)
    state.subscribe(site.url("/later.xml"), 900, None)
    results = poll(writer)
    assert results[site.url("/busy.xml")].outcome == "unchanged" and len(calls) == 2
    assert calls[1] - calls[0] >= 0.9
    assert results[site.url("/later.xml")].outcome == "failed" and "3600" in results[site.url("/later.xml")].reason
    assert site.hits["/later.xml"] == 1


def test_one_request_at_a_time_per_host_at_the_configured_rate(site, tmp_path, embedder):
    settings = fast_settings(tmp_path / "rate", feeds_host_interval=0.2, feeds_workers=4)
    writer = Writer(Store.open(settings), settings)
    writer.embedder = embedder
    for n in range(4):
        site.page(f"/f{n}.xml", rss([]), "application/rss+xml")
        FeedState.of(settings).subscribe(site.url(f"/f{n}.xml"), 900, None)
    started = time.monotonic()
    poll(writer)
    assert site.most_active == 1
    assert time.monotonic() - started >= 4 * 0.2 - 0.05  # robots.txt and four feeds, 0.2 s apart


def test_feed_metrics_count_fetches_304s_failures_and_new_stories(site, writer):
    from prometheus_client import REGISTRY

    def value(name, **labels):
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = (value("qa_feed_not_modified_total"), value("qa_feed_stories_total", outcome="new"),
              value("qa_feed_failures_total", kind="http_status"), value("qa_feed_fetches_total", purpose="page"))
    publish(site, "/feed.xml", range(2))
    site.page("/gone.xml", "", "text/plain", status=410)
    FeedState.of(writer.settings).subscribe(site.url("/feed.xml"), 900, None)
    FeedState.of(writer.settings).subscribe(site.url("/gone.xml"), 900, None)
    poll(writer)
    poll(writer)
    after = (value("qa_feed_not_modified_total"), value("qa_feed_stories_total", outcome="new"),
             value("qa_feed_failures_total", kind="http_status"), value("qa_feed_fetches_total", purpose="page"))
    assert [b - a for a, b in zip(before, after)] == [1, 2, 2, 2]


# ---- background polling --------------------------------------------------------------
def test_one_background_poller_per_data_dir_polls_and_another_takes_over_when_it_stops(site, writer, monkeypatch):
    import sqlite3

    from qa import feeds as feeds_module
    from qa.feeds import BackgroundPoller, FeedDesk

    monkeypatch.setattr(feeds_module, "CHECK_SECONDS", 0.05)
    refreshed = []
    replicas = [BackgroundPoller(FeedDesk(writer.settings, writer), lambda: refreshed.append(1)) for _ in range(2)]
    for replica in replicas:
        replica.start()
    try:
        time.sleep(0.3)
        assert not any(replica.lock.held for replica in replicas)  # no feeds: no poller
        publish(site, "/feed.xml", range(2))
        state = FeedState.of(writer.settings)
        state.subscribe(site.url("/feed.xml"), 60, None)
        deadline = time.monotonic() + 60
        while state.feed(site.url("/feed.xml")).outcome is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        assert [replica.lock.held for replica in replicas].count(True) == 1
        assert site.hits["/feed.xml"] == 1 and refreshed == [1]  # polled once, by one replica
        assert len(stored(writer)) == 2
        holder = next(replica for replica in replicas if replica.lock.held)
        holder.stop()
        with sqlite3.connect(state.path) as db:
            db.execute("UPDATE feeds SET next_poll = 0")  # due again
        while site.hits["/feed.xml"] < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert site.hits["/feed.xml"] == 2
        assert next(replica for replica in replicas if replica is not holder).lock.held
    finally:
        for replica in replicas:
            replica.stop()


def test_qa_feeds_poll_refuses_while_another_process_polls(tmp_path, monkeypatch, capsys):
    from index.feeds.lock import PollerLock
    from index.feeds.state import feeds_dir

    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path))
    held = PollerLock(feeds_dir(make_settings(tmp_path)))
    assert held.try_acquire()
    try:
        assert main(["feeds", "poll"]) == 3
        assert "another process" in capsys.readouterr().err
    finally:
        held.release()


def test_a_round_with_nothing_new_opens_no_store_so_a_server_holding_it_does_not_refuse_qa_feeds_poll(site, writer):
    from tests.test_faults import HANG_GUARD, QA, qa_env

    publish(site, "/feed.xml", range(3))
    url = site.url("/feed.xml")
    FeedState.of(writer.settings).subscribe(url, 900, None)
    assert poll(writer)[url].added == 3  # this process holds the embedded store's writer, as `qa serve` does

    def opened():
        raise AssertionError("the store was opened for a round with nothing new")

    quiet = Poller(None, writer.settings, open_writer=opened)
    assert dict(quiet.poll(due_only=False).results)[url].outcome == "unchanged" and not quiet.writer_opened

    env = qa_env(writer.settings.data_dir, QA_FEEDS_HOST_INTERVAL="0", QA_FEEDS_RETRIES="0")
    done = subprocess.run([QA, "feeds", "poll", "--all"], env=env, capture_output=True, text=True, timeout=HANG_GUARD)
    assert done.returncode == 0 and done.stdout.startswith("unchanged"), done.stdout + done.stderr
    # A new story needs the writer, which the server holds: this feed's poll fails, nothing is
    # recorded, and the story comes in with the next poll that can write.
    publish(site, "/feed.xml", range(4))
    done = subprocess.run([QA, "feeds", "poll", "--all"], env=env, capture_output=True, text=True, timeout=HANG_GUARD)
    assert done.returncode == 1 and "the write failed" in done.stdout, done.stdout + done.stderr
    assert FeedState.of(writer.settings).item(canonical_url(site.url("/story/3"), url)) is None
    result = poll(writer)[url]
    assert (result.outcome, result.added) == ("new", 1) and len(stored(writer)) == 4


def test_a_feed_answering_200_with_the_body_it_sent_last_time_is_not_parsed_again(site, writer, monkeypatch):
    import index.feeds.polling as polling

    parsed = []
    real_parse = polling.parse_feed
    monkeypatch.setattr(polling, "parse_feed", lambda *args: parsed.append(args[2]) or real_parse(*args))
    url = site.url("/feed.xml")

    def serve(numbers: range, missing: int | None = None) -> None:
        """The feed without ETag or Last-Modified (a server that sends no validators)."""
        publish(site, "/feed.xml", numbers)
        if missing is not None:
            site.page(f"/story/{missing}", "gone", status=404)
        body = site.routes["/feed.xml"].body
        site.handle("/feed.xml", lambda request: send(request, 200, body, "application/rss+xml"))

    serve(range(3), missing=2)
    FeedState.of(writer.settings).subscribe(url, 900, None)
    first, second = poll(writer)[url], poll(writer)[url]
    assert (first.added, first.failed, second.added, second.failed) == (2, 1, 0, 1)
    assert len(parsed) == 2  # a body with an item not yet in is read again: its item is tried again
    serve(range(3))
    assert poll(writer)[url].added == 1 and len(parsed) == 3
    again = poll(writer)[url]  # the same body: nothing parsed, no page fetched
    assert (again.outcome, again.seen, again.added, len(parsed)) == ("unchanged", 3, 0, 3)
    assert site.hits["/story/0"] == 1
    serve(range(4))
    assert poll(writer)[url].added == 1 and len(parsed) == 4


def news_sitemap(site: FeedSite, numbers: range) -> str:
    urls = "".join(
        f"<url><loc>{site.url(f'/story/{n}')}</loc><news:news><news:publication><news:name>The Paper</news:name>"
        f"</news:publication><news:publication_date>2024-03-0{n % 9 + 1}</news:publication_date>"
        f"<news:title>Sitemap story {n}</news:title></news:news></url>" for n in numbers)
    return ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{urls}</urlset>')


def test_a_sitemap_index_is_followed_to_its_most_recent_sitemaps_within_a_bound(site, writer, monkeypatch):
    import index.feeds.polling as polling

    monkeypatch.setattr(polling, "MAX_SITEMAPS", 3)
    for n in range(5):
        site.page(f"/story/{n}", article(f"Page headline {n}", story(n)))
    site.page("/news-1.xml", news_sitemap(site, range(0, 2)), "application/xml")
    site.page("/news-2.xml", news_sitemap(site, range(2, 3)), "application/xml")
    site.page("/old.xml", news_sitemap(site, range(3, 5)), "application/xml")
    site.page("/broken.xml", "<urlset><url><loc>", "application/xml")
    children = [("/old.xml", "2023-01-01"), ("/news-1.xml", "2024-03-02"), ("/broken.xml", "2024-03-01"),
                ("/news-2.xml", "2024-03-03")]
    index = ('<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
             + "".join(f"<sitemap><loc>{site.url(path)}</loc><lastmod>{day}</lastmod></sitemap>"
                       for path, day in children) + "</sitemapindex>")
    site.page("/sitemap-index.xml", index, "application/xml")
    url = site.url("/sitemap-index.xml")
    FeedState.of(writer.settings).subscribe(url, 900, None)
    result = poll(writer)[url]
    assert (result.outcome, result.seen, result.added) == ("new", 3, 3), result
    assert "1 of the index's sitemaps not read" in result.reason and "/broken.xml" in result.reason
    assert "the 3 most recent of 4 sitemaps followed" in result.reason
    assert site.hits["/old.xml"] == 0  # beyond the bound: the oldest is not fetched
    documents = stored(writer)
    assert documents[story_id(site.url("/story/2"))].metadata["publisher"] == "The Paper"
    # The index keeps no validators (its sitemaps change under it): the next poll reads them again.
    site.page("/news-2.xml", news_sitemap(site, range(2, 4)), "application/xml")
    again = poll(writer)[url]
    assert (again.outcome, again.added, site.hits["/sitemap-index.xml"]) == ("new", 1, 2)
    site.page("/news-1.xml", "<urlset>", "application/xml")
    site.page("/news-2.xml", "<urlset>", "application/xml")
    failed = poll(writer)[url]
    assert failed.outcome == "failed" and "sitemaps could not be read" in failed.reason


def test_replacing_a_document_from_its_file_makes_citations_into_the_old_text_answer_410(
        tmp_path, feed_service, feed_client):
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "harbour.txt").write_text("Sea wall vote\n\n" + "\n\n".join(story(7)))
    feed_service.ingest([folder])
    doc_id = feed_service.documents(None)[0][0][0].id
    old = feed_service.document(doc_id)[0]
    start = old.text.index("Residents")
    old_citation = f"{old.content_hash[:16]}-{start}-{start + 20}"
    assert feed_client.get(f"/citations/{old_citation}").status_code == 200
    (folder / "harbour.txt").write_text("Sea wall vote\n\n" + "\n\n".join(story(7, edition=", not four")))
    assert feed_service.ingest([folder]).replaced == [doc_id]
    current = feed_client.get(f"/documents/{doc_id}").json()
    gone = feed_client.get(f"/citations/{old_citation}")
    assert gone.status_code == 410, gone.text
    extra = gone.json()["extra"]
    assert (extra["doc_id"], extra["current_version"]) == (doc_id, current["content_hash"][:16])
