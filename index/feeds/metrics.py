"""Prometheus counters of the feed poller, in the process's default registry, so that the
API's /metrics exposes them beside the request metrics."""

from __future__ import annotations

from prometheus_client import Counter

FETCHES = Counter("qa_feed_fetches_total", "HTTP requests made by the feed poller, by what was fetched",
                  ["purpose"])
NOT_MODIFIED = Counter("qa_feed_not_modified_total", "Feed requests answered 304 Not Modified")
SAME_BODY = Counter("qa_feed_same_body_total", "Feed requests answered 200 with the body read last time "
                   "(not parsed again)")
FAILURES = Counter("qa_feed_failures_total", "Feed poller failures by kind", ["kind"])
STORIES = Counter("qa_feed_stories_total", "Stories written from feeds: new or updated", ["outcome"])

for _purpose in ("feed", "page", "robots"):
    FETCHES.labels(_purpose)
for _kind in ("timeout", "connection", "too_large", "redirects", "http_status", "rate_limited", "robots",
              "malformed", "not_html", "no_text", "write"):
    FAILURES.labels(_kind)
for _outcome in ("new", "updated"):
    STORIES.labels(_outcome)
