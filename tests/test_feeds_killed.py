"""A `qa feeds poll` killed with SIGKILL at any point loses no recorded story and duplicates
none on the next poll: killed while fetching and embedding, and killed after the write
committed but before the items were recorded (the worst moment)."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from chromadb.api.client import SharedSystemClient

from index.feeds.items import story_id
from index.feeds.state import FeedState
from index.store import Store
from tests.conftest import ROOT, make_settings
from tests.feed_site import FeedSite
from tests.test_faults import HANG_GUARD, QA, orphans, qa_env
from tests.test_feeds import publish

STORIES = 12
FAST = {"QA_FEEDS_HOST_INTERVAL": "0", "QA_FEEDS_READ_TIMEOUT": "2", "QA_FEEDS_RETRIES": "0"}

# `qa feeds poll` that SIGKILLs itself once the stories are written, before they are recorded.
DIE_BEFORE_RECORDING = """
import os, signal, sys
from index.feeds.state import FeedState
from qa.cli import main

def record_items(self, *args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

FeedState.record_items = record_items
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("how", ["while fetching and embedding", "after the write, before recording"])
def test_a_poll_killed_at_any_point_loses_no_recorded_story_and_duplicates_none(tmp_path, how):
    data_dir = tmp_path / "data"
    settings = make_settings(data_dir)
    env = qa_env(data_dir, **FAST)
    with FeedSite() as site:
        publish(site, "/feed.xml", range(STORIES))
        FeedState.of(settings).subscribe(site.url("/feed.xml"), 900, None)
        if how == "while fetching and embedding":
            process = subprocess.Popen([QA, "feeds", "poll"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + HANG_GUARD
            while sum(hits for path, hits in site.hits.items() if path.startswith("/story/")) < 4 \
                    and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            process.send_signal(signal.SIGKILL)
        else:
            process = subprocess.Popen([sys.executable, "-c", DIE_BEFORE_RECORDING, "feeds", "poll"], env=env,
                                       cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert process.wait(timeout=HANG_GUARD) == -signal.SIGKILL, "the poll finished before it could be killed"
        recorded = sqlite3.connect(FeedState.of(settings).path).execute("SELECT count(*) FROM items").fetchone()[0]
        store = Store.open(settings, writer=False)
        written = store.counts()["documents"]
        print(f"killed {how}: {written} stories written, {recorded} recorded")
        if how != "while fetching and embedding":
            assert written == STORIES and recorded == 0  # the kill fell between the write and its record
        SharedSystemClient.clear_system_cache()

        # The next poll (the feed is due again: the killed one never recorded its poll).
        rerun = subprocess.run([QA, "feeds", "poll"], env=env, cwd=ROOT, capture_output=True, text=True,
                               timeout=HANG_GUARD)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    store = Store.open(settings, writer=False)
    assert sorted(store.document_ids()) == sorted(story_id(site.url(f"/story/{n}")) for n in range(STORIES))
    assert orphans(store) == 0
    state = FeedState.of(settings)
    assert sqlite3.connect(state.path).execute("SELECT count(*) FROM items").fetchone()[0] == STORIES
    feed = state.feed(site.url("/feed.xml"))
    # Stories written before the kill are found unchanged on the next poll, not written again.
    assert feed.seen == STORIES and feed.added == STORIES - written and feed.failed == 0
    assert feed.outcome == ("new" if written < STORIES else "unchanged")
