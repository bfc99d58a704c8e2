"""`qa feeds add|list|remove|poll`: subscriptions and poll rounds from the command line
(cron or CI runs `qa feeds poll`; `qa serve` polls by itself unless feeds_poll=off)."""

from __future__ import annotations

import argparse
import sys

import msgspec

from config import Settings
from qa.feeds import BadSubscription, FeedDesk, FeedView


def _describe(feed: FeedView) -> str:
    lines = [f"{feed.url}  every {feed.every}" + (f", publisher {feed.publisher}" if feed.publisher else "")]
    if feed.resolved_url:
        lines.append(f"  feed found on the page: {feed.resolved_url}")
    if feed.last_poll is None:
        lines.append("  not polled yet")
    else:
        lines.append(f"  last poll {feed.last_poll}: {feed.outcome} (items seen {feed.seen}, added {feed.added}, "
                     f"updated {feed.updated}, failed {feed.failed}; in all added {feed.total_added}, "
                     f"updated {feed.total_updated})")
    if feed.reason:
        lines.append(f"  {feed.reason}")
    lines.append(f"  next poll {feed.next_poll}")
    return "\n".join(lines)


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    try:
        feed, created = FeedDesk(settings).add(args.url, args.every, args.publisher)
    except BadSubscription as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(("subscribed to " if created else "updated ") + _describe(feed))
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    listing = FeedDesk(settings).list()
    if args.json:
        print(msgspec.json.encode(listing).decode())
    elif not listing.feeds:
        print("no feeds: qa feeds add URL")
    else:
        print("\n".join(_describe(feed) for feed in listing.feeds))
    return 0


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    if not FeedDesk(settings).remove(args.url):
        print(f"error: no subscription to {args.url!r}", file=sys.stderr)
        return 1
    print(f"unsubscribed from {args.url} (its stories stay)")
    return 0


def cmd_poll(args: argparse.Namespace, settings: Settings) -> int:
    from index.feeds.lock import PollerBusy, PollerLock
    from index.feeds.state import feeds_dir

    def writer():  # opened at the first new story: a round with nothing new never opens the store
        from qa.service import open_writer

        return open_writer(settings)

    lock = PollerLock(feeds_dir(settings))
    try:
        lock.acquire()
    except PollerBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    try:
        report = FeedDesk(settings).poll(due_only=not args.all, open_writer=writer)
    finally:
        lock.release()
    for url, result in report.results:
        counts = f"seen {result.seen}, added {result.added}, updated {result.updated}, failed {result.failed}"
        print(f"{result.outcome:9} {url} ({counts})" + (f"\n          {result.reason}" if result.reason else ""))
    print(f"{len(report.results)} feed(s) polled in {report.seconds:.1f} s")
    return 1 if any(result.outcome == "failed" for _, result in report.results) else 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The `feeds` command and its subcommands, on the `qa` parser's subcommands."""
    feeds = sub.add_parser("feeds", help="subscribe to news feeds and sitemaps; poll them").add_subparsers(
        dest="feeds_command", required=True)
    p = feeds.add_parser("add", help="subscribe to an RSS/Atom feed, a JSON Feed, a news sitemap or a home page")
    p.add_argument("url")
    p.add_argument("--every", help="how often to poll: 15m, 1h, 1h30m (1m to 7d; default feeds_default_every)")
    p.add_argument("--publisher", help="the outlet's name, over what the feed and pages say")
    p.set_defaults(run=cmd_add)
    p = feeds.add_parser("list", help="the subscriptions with their last poll, its outcome and the next poll")
    p.add_argument("--json", action="store_true", help="print the API's JSON (GET /feeds)")
    p.set_defaults(run=cmd_list)
    p = feeds.add_parser("remove", help="unsubscribe (the stories stay)")
    p.add_argument("url")
    p.set_defaults(run=cmd_remove)
    p = feeds.add_parser("poll", help="one round over the due feeds; exit 1 if a feed failed")
    p.add_argument("--all", action="store_true", help="poll every feed, due or not")
    p.set_defaults(run=cmd_poll)
