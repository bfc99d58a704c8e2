"""Feed polling speed against a local site (tests/feed_site.py on 127.0.0.1), for issue 31's
targets:

1. a round over 100 subscribed feeds of 50 items each with nothing new: first with every
   feed answering 200 and every item already known (no page fetched), then the steady state,
   every feed answering 304 (target: <= 2 s of wall time), in one process as `qa serve`'s
   background poller runs it (robots.txt already read), and as a `qa feeds poll` process;
   then every feed answering 200 with the body it sent last time (a server without ETag or
   Last-Modified: the body hash matches, nothing is parsed);
2. a round that brings 500 new stories (10 feeds of 50) against `Writer.ingest_files` of the
   same pages saved as .html files, each into a fresh store (target: >= 0.8x the file rate):
   both warmed up by a throwaway ingest first, then run alternately (files, feeds, feeds,
   files); medians, their ratio, and the load average of each run.

Stories are real text: consecutive paragraphs of the squad2-dev and news articles (or the
seeds), five per story, each page an HTML article with site chrome around it.

    flock /tmp/bench.lock .venv/bin/python benchmarks/bench_feeds.py

Writes benchmarks/results/feeds.json."""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reporting import write_report  # noqa: E402  (beside this script)

from config import load_settings  # noqa: E402
from index.embedding import load_embedder  # noqa: E402
from index.feeds import metrics  # noqa: E402
from index.feeds.formats import parse_feed  # noqa: E402
from index.feeds.items import canonical_url, story_id  # noqa: E402
from index.feeds.polling import Poller  # noqa: E402
from index.feeds.state import FeedState, Item  # noqa: E402
from index.loading import split_paragraphs  # noqa: E402
from index.store import Store  # noqa: E402
from index.writer import Writer  # noqa: E402
from tests.feed_site import FeedSite, article, rss, send  # noqa: E402

SHARED = ROOT.parent / "shared" / "eval"
SOURCES = [SHARED / "squad2-dev" / "articles", SHARED / "news-dev" / "articles", ROOT / "seeds"]
FEEDS, ITEMS = 100, 50
NEW_FEEDS = 10  # x ITEMS new stories
PARAGRAPHS = 5


def stories(count: int) -> list[tuple[str, list[str]]]:
    paragraphs = [p for folder in SOURCES if folder.exists() for path in sorted(folder.glob("*.txt"))
                  for p in split_paragraphs(path.read_text("utf-8")) if len(p) > 120]
    out = []
    for n in range(count):
        start = (n * PARAGRAPHS) % max(1, len(paragraphs) - PARAGRAPHS)
        body = [f"Story {n} of the benchmark's wire."] + paragraphs[start : start + PARAGRAPHS]
        out.append((f"Wire story {n}", body))
    return out


def settings_for(data_dir: Path):
    return load_settings(environ={**os.environ, "QA_DATA_DIR": str(data_dir), "QA_FEEDS_HOST_INTERVAL": "0"})


def writer_for(settings, embedder) -> Writer:
    """The one writer of a fresh store, sharing the benchmark's warmed-up embedder."""
    writer = Writer(Store.open(settings), settings)
    writer.embedder = embedder
    return writer


def nothing_new(site: FeedSite, scratch: Path, embedder) -> dict:
    settings = settings_for(scratch / "quiet")
    state = FeedState.of(settings)
    for f in range(FEEDS):
        items = [{"title": f"Item {f}-{i}", "link": site.url(f"/quiet/{f}/{i}?utm_source=rss"), "guid": f"{f}-{i}",
                  "pubDate": "Mon, 01 Jan 2024 10:00:00 GMT", "description": "A summary of the story."}
                 for i in range(ITEMS)]
        body = rss(items)
        site.page(f"/quiet/{f}.xml", body, "application/rss+xml")
        url = site.url(f"/quiet/{f}.xml")
        state.subscribe(url, 900, None)
        # Every item known already (as after earlier polls): its record and this feed's entry.
        entries = parse_feed(body.encode(), "application/rss+xml", url).entries
        known = {canonical_url(e.link, url): e.fingerprint() for e in entries}
        state.record_items(url, [Item(url=u, guid=None, doc_id=story_id(u), content_hash="0" * 64,
                                      first_seen=time.time()) for u in known], known)
    writer = writer_for(settings, embedder)
    poller = Poller(writer, settings, state)
    started = time.perf_counter()
    first = poller.poll(due_only=False)
    known_s = time.perf_counter() - started
    pages = sum(hits for path, hits in site.hits.items() if path.startswith("/quiet/") and "?" not in path
                and not path.endswith(".xml"))
    assert all(r.outcome == "unchanged" and r.seen == ITEMS for _, r in first.results), first.results[:2]
    started = time.perf_counter()
    second = poller.poll(due_only=False)
    not_modified_s = time.perf_counter() - started
    assert all(r.outcome == "unchanged" for _, r in second.results)
    fetcher_robots = poller.fetcher.robots
    poller.close()
    # The same round as a cron job would run it: a `qa feeds poll --all` process (imports,
    # opening the store, robots.txt read again).
    # This process holds the store's writer lock: the process polls a copy of the feed state.
    shutil.copytree(scratch / "quiet" / "feeds", scratch / "quiet-cli" / "feeds")
    started = time.perf_counter()
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "qa"), "feeds", "poll", "--all"], cwd=ROOT,
                          env={**os.environ, "QA_DATA_DIR": str(scratch / "quiet-cli"), "QA_FEEDS_HOST_INTERVAL": "0",
                               "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True)
    process_s = time.perf_counter() - started
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    # The same feeds from a server that sends no validators: 200 with the body of last time.
    for f in range(FEEDS):
        body = site.routes[f"/quiet/{f}.xml"].body
        site.handle(f"/quiet/{f}.xml", lambda request, body=body: send(request, 200, body, "application/rss+xml"))
    poller = Poller(writer, settings, state)
    poller.fetcher.robots = fetcher_robots  # robots.txt already read, as in a running server
    skipped = metrics.SAME_BODY._value.get()
    started = time.perf_counter()
    third = poller.poll(due_only=False)
    same_body_s = time.perf_counter() - started
    assert all(r.outcome == "unchanged" for _, r in third.results), third.results[:2]
    assert metrics.SAME_BODY._value.get() - skipped == FEEDS  # every body recognised, none parsed
    poller.close()
    print(f"nothing new, {FEEDS} feeds x {ITEMS} items: all known (200s, parsed) {known_s:.2f} s, all 304 "
          f"{not_modified_s:.2f} s in process, {process_s:.2f} s as a `qa feeds poll` process, all 200 with the "
          f"same body (not parsed) {same_body_s:.2f} s; pages fetched {pages}")
    return {"feeds": FEEDS, "items_per_feed": ITEMS, "all_known_200_s": round(known_s, 3),
            "all_304_s": round(not_modified_s, 3), "all_304_cli_process_s": round(process_s, 3),
            "all_200_same_body_s": round(same_body_s, 3),
            "pages_fetched": pages, "target_s": 2.0, "met": not_modified_s <= 2.0 and process_s <= 2.0}


ORDER = ("files", "feeds", "feeds", "files")  # alternated: drift in the shared machine's load falls on both
WARM_UP = 20  # stories ingested, by each path, into a throwaway store before anything is timed


def _feed_round(site: FeedSite, data_dir: Path, embedder, feeds: list[int]) -> tuple[float, int]:
    settings = settings_for(data_dir)
    state = FeedState.of(settings)
    for f in feeds:
        state.subscribe(site.url(f"/wire-{f}.xml"), 900, "The Wire")
    writer = writer_for(settings, embedder)
    poller = Poller(writer, settings, state)
    started = time.perf_counter()
    round_ = poller.poll(due_only=False)
    seconds = time.perf_counter() - started
    poller.close()
    assert not any(r.failed for _, r in round_.results), [r for _, r in round_.results if r.failed][:2]
    return seconds, sum(r.added for _, r in round_.results)


def _files_ingest(folder: Path, data_dir: Path, embedder) -> tuple[float, int, int]:
    settings = settings_for(data_dir)
    writer = writer_for(settings, embedder)
    started = time.perf_counter()
    report = writer.ingest_files([folder])
    return time.perf_counter() - started, len(report.added), report.passages


def new_stories(site: FeedSite, scratch: Path, embedder) -> dict:
    """500 new stories from 10 feeds against the same pages as files, each run into a fresh
    store: both paths warmed up first (a throwaway ingest of WARM_UP stories each), then run
    in ORDER; medians and the ratio of the medians, with the load average at each run."""
    texts = stories(NEW_FEEDS * ITEMS + WARM_UP)
    folder, warm_folder = scratch / "files", scratch / "warm-files"
    folder.mkdir()
    warm_folder.mkdir()
    for f in range(NEW_FEEDS + 1):  # the last feed: the warm-up's
        count = ITEMS if f < NEW_FEEDS else WARM_UP
        items = []
        for i in range(count):
            n = f * ITEMS + i
            title, paragraphs = texts[n]
            page = article(title, paragraphs)
            site.page(f"/wire/{n}", page)
            (folder if f < NEW_FEEDS else warm_folder).joinpath(f"story-{n}.html").write_text(page, "utf-8")
            items.append({"title": title, "link": site.url(f"/wire/{n}"), "guid": f"wire-{n}",
                          "pubDate": "Mon, 01 Jan 2024 10:00:00 GMT"})
        site.page(f"/wire-{f}.xml", rss(items), "application/rss+xml")
    _files_ingest(warm_folder, scratch / "warm-files-store", embedder)
    _feed_round(site, scratch / "warm-feed-store", embedder, [NEW_FEEDS])
    expected = NEW_FEEDS * ITEMS
    runs, passages = [], 0
    for n, path in enumerate(ORDER):
        load = os.getloadavg()
        if path == "files":
            seconds, count, passages = _files_ingest(folder, scratch / f"run-{n}-files", embedder)
        else:
            seconds, count = _feed_round(site, scratch / f"run-{n}-feeds", embedder, list(range(NEW_FEEDS)))
        assert count == expected, (path, count)
        runs.append({"path": path, "seconds": round(seconds, 2), "stories_per_s": round(count / seconds, 2),
                     "load_before": [round(x, 2) for x in load],
                     "load_after": [round(x, 2) for x in os.getloadavg()]})
        print(f"run {n}: {path} {count / seconds:.2f} stories/s ({seconds:.1f} s), load {load[0]:.2f}")
    feeds_s = statistics.median(r["seconds"] for r in runs if r["path"] == "feeds")
    files_s = statistics.median(r["seconds"] for r in runs if r["path"] == "files")
    ratio = files_s / feeds_s
    print(f"{expected} new stories, medians: feeds {expected / feeds_s:.2f} stories/s ({feeds_s:.1f} s), "
          f"files {expected / files_s:.2f} stories/s ({files_s:.1f} s): {ratio:.2f}x")
    return {"stories": expected, "passages": passages, "order": list(ORDER), "warm_up_stories": WARM_UP,
            "runs": runs, "feeds_median_s": round(feeds_s, 2), "files_median_s": round(files_s, 2),
            "feeds_stories_per_s": round(expected / feeds_s, 2), "files_stories_per_s": round(expected / files_s, 2),
            "ratio_of_medians": round(ratio, 3), "target_ratio": 0.8, "met": ratio >= 0.8}


def main() -> int:
    started_load = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="bench-feeds-") as scratch, FeedSite() as site:
        embedder = load_embedder(settings_for(Path(scratch) / "x"), threads=os.cpu_count() or 1)
        quiet = nothing_new(site, Path(scratch), embedder)
        new = new_stories(site, Path(scratch), embedder)
    write_report(ROOT / "benchmarks" / "results" / "feeds.json", {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "date": time.strftime("%Y-%m-%d"), "load_average_start": started_load, "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "nothing_new": quiet, "new_stories": new})
    return 0


if __name__ == "__main__":
    sys.exit(main())
