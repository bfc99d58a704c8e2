"""Writes must not starve reads (issue 30, item 6): an embedded Chroma holds the GIL for a whole
add(), so a large document goes to it in many small calls, and a server's uploads embed on
the reads' thread budget. The latency itself is measured by benchmarks/bench_write_contention.py,
not here."""

from __future__ import annotations

from index import store as store_module
from index.documents import Document, content_hash
from index.pipeline import records
from index.store import Store
from qa.service import QAService
from tests.conftest import make_settings


def test_an_embedded_store_writes_a_large_document_in_small_calls_that_let_reads_in(tmp_path, embedder):
    settings = make_settings(tmp_path / "data")
    store = Store.open(settings)
    text = "\n\n".join(" ".join(f"The river rose {n}." for n in range(p, p + 20)) for p in range(0, 1500, 20))
    document = Document(id="many", title="Many", text=text, source="many.txt", content_hash=content_hash(text),
                        metadata={})
    batch = [records(document, embedder, settings)]
    calls: list[tuple[int, float]] = []
    real_add = store.sentences._collection.add

    def add(**kwargs):
        started = store_module.time.perf_counter()
        real_add(**kwargs)
        calls.append((len(kwargs["ids"]), store_module.time.perf_counter() - started))

    store.sentences._collection.add = add
    store.write_documents(batch, ingested_at="2026-12-07T00:00:00+00:00")
    assert sum(rows for rows, _ in calls) == len(batch[0].sentences) == 1500
    assert len(calls) >= 5 and calls[0][0] == store_module._WRITE_ROWS_FIRST  # before: one call of 1,500 rows
    assert max(rows for rows, _ in calls) < 1500
    assert store.counts()["sentences"] == 1500


def test_a_servers_uploads_embed_on_the_reads_thread_budget_not_every_core(tmp_path, embedder, monkeypatch):
    from index import writer as writer_module

    settings = make_settings(tmp_path / "data", threads=1)
    seen: list[int] = []
    monkeypatch.setattr(writer_module, "load_embedder", lambda s, threads: seen.append(threads) or embedder)
    monkeypatch.setattr(writer_module.os, "cpu_count", lambda: 8)
    service = QAService(settings, Store.open(settings), embedder, watch=False)
    service.upload("short.txt", b"A short article. It has two sentences.")
    assert seen == [1]
