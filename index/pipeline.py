"""Ingestion end to end: documents (read from files, or an upload's, by index/loading.py) ->
cleaned documents -> passages and sentences -> vectors -> Chroma. Re-running is safe:
unchanged documents are skipped, changed ones replaced, and a run killed midway is completed
by the next one. What publishes the read model after a write is index/writer.py."""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from datetime import datetime, timezone
from pathlib import Path

import msgspec
import numpy as np

from config import Settings
from index import splitting
from index.bylines import find_byline, metadata_date
from index.cleaning import clean
from index.documents import Document, Passage, content_hash, span_ids
from index.embedding import Embedder
from index.loading import METADATA_LIMITS, ArticleFiles, RawDocument, Skipped, clipped, same_file
from index.store import DocumentRecords, Store, StoreUnavailable, sentence_records
from index.superseded import record_superseded
from index.writefaults import WriterBusy, check_free_space, needed_bytes

log = logging.getLogger(__name__)
WRITE_BATCH_PASSAGES = 256  # documents are written to Chroma in batches of about this many passages
TITLE_MAX = METADATA_LIMITS["title"]  # every GET /documents serves every title


class Taken(msgspec.Struct):
    """A document that was not written (it is among the skipped too): its id is held by a
    stored document read from another file, `holder` its source."""

    doc_id: str
    source: str
    holder: str


class IngestReport(msgspec.Struct):
    added: list[str] = []
    replaced: list[str] = []
    unchanged: list[str] = []
    skipped: list[tuple[str, str]] = []
    taken: list[Taken] = []
    passages: int = 0
    sentences: int = 0
    seconds: float = 0.0


def _title(paragraphs: list[str], metadata: dict[str, str]) -> tuple[str, str]:
    """The given title, else a short first line, else the opening words of the text (at most
    TITLE_MAX characters: one 2 MB "word" too); the second value ("metadata", "heading" or
    "opening-words") says which, so that a reference never presents opening words as a headline."""
    if metadata.get("title"):
        return metadata["title"], "metadata"
    first = paragraphs[0].split("\n")[0].strip()
    if len(first) <= 150 and not re.search(r"[.!?]\s+\S", first):
        return first.rstrip("."), "heading"
    words = first[: TITLE_MAX * 2].split()  # a bounded slice: splitting megabytes for 12 words is waste
    opening = " ".join(words[:12])
    return clipped(opening + ("…" if len(words) > 12 else ""), TITLE_MAX), "opening-words"


def prepare(raw: RawDocument) -> Document | None:
    """Clean a loaded article into the document that is stored, or None if nothing is left."""
    cleaned = clean(raw.paragraphs)
    if not cleaned.paragraphs:
        return None
    metadata = {name: clipped(value, METADATA_LIMITS.get(name, len(value))) for name, value in raw.metadata.items()}
    # The file's own date as an ISO date; an unreadable one is dropped (the article is undated), not stored raw.
    if (date := metadata_date(metadata.pop("date", ""))) is not None:
        metadata["date"] = date
    byline = find_byline(cleaned.paragraphs)
    for name, value in (("author", cleaned.author or byline.author), ("date", byline.date)):
        if value and name not in metadata:  # the file's own metadata and the sidecar win
            metadata[name] = value
    title, metadata["title_source"] = _title(cleaned.paragraphs, metadata)
    metadata["sentence_splitter"] = splitting.VERSION
    text = "\n\n".join(cleaned.paragraphs)
    return Document(id=raw.doc_id, title=title, text=text, source=raw.source,
                    content_hash=content_hash(text), metadata=metadata)


def chunk(document: Document, embedder: Embedder, settings: Settings) -> list[Passage]:
    groups = splitting.split_passages(document.text, embedder.count_tokens, settings.max_passage_tokens,
                                      settings.min_passage_tokens)
    ids = span_ids(document, [(group[0].start, group[-1].end) for group in groups])
    return [
        Passage(id=passage_id, doc_id=document.id, ordinal=n, start=group[0].start, end=group[-1].end, sentences=group)
        for n, (passage_id, group) in enumerate(zip(ids, groups))
    ]


def records(document: Document, embedder: Embedder, settings: Settings) -> DocumentRecords:
    """Split and embed a document: everything the store needs, nothing written yet."""
    passages = chunk(document, embedder, settings)
    sentences = sentence_records(document, passages)
    sentence_vectors = embedder.embed([document.text[s.start : s.end] for s in sentences])
    return DocumentRecords(document=document, passages=passages, passage_vectors=passage_centroids(passages, sentence_vectors),
                           sentences=sentences, sentence_vectors=sentence_vectors)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def passage_centroids(passages: list[Passage], sentence_vectors: np.ndarray) -> np.ndarray:
    """A passage's vector is the normalised mean of its sentences' vectors: retrieval scores
    passages by their best sentence, so a second, slower model pass over whole passages
    would buy nothing (and could never truncate)."""
    bounds = np.cumsum([0] + [len(p.sentences) for p in passages])
    means = np.stack([sentence_vectors[a:b].mean(axis=0) for a, b in zip(bounds[:-1], bounds[1:])])
    return means / np.linalg.norm(means, axis=1, keepdims=True)


class BatchWriter:
    """Writes batches of documents to the store in order, each on a background thread, so that
    the next batch is split and embedded while this one is written: a Chroma server writes in
    its own process, on its own share of the cores. At most one batch is in flight; `submit`
    first waits for the previous one, `close` for the last, and both raise a failed write's
    error. `written` is called in the submitting thread with each batch once it is stored.

    Each batch is refused (DiskFull) unless the data dir's disk has room for it plus the
    reserve, and is waited for at most `write_timeout_seconds` (WriterBusy): a write stuck
    inside the store must not hold its caller, nor, on a daemon thread, the process's exit."""

    def __init__(self, store: Store, lock: contextlib.AbstractContextManager, settings: Settings,
                 written: Callable[[list[DocumentRecords]], None] = lambda batch: None) -> None:
        self._store, self._lock, self._settings, self._written = store, lock, settings, written
        self._in_flight: tuple[Future[None], list[DocumentRecords]] | None = None

    def _write(self, batch: list[DocumentRecords]) -> None:
        settings = self._settings
        need = needed_bytes(sum(len(item.sentences) for item in batch),
                            sum(len(item.document.text.encode()) for item in batch))
        check_free_space(settings.data_dir, settings.min_free_mb, need)
        with self._lock:  # held for one batch: other writers of the process wait for it alone
            try:
                self._store.write_documents(batch, ingested_at=_now())
            except StoreUnavailable:
                check_free_space(settings.data_dir, settings.min_free_mb, need)  # say so when the disk filled
                raise

    def _run(self, future: Future[None], batch: list[DocumentRecords]) -> None:
        try:
            self._write(batch)
        except BaseException as exc:  # handed to the waiting caller
            future.set_exception(exc)
        else:
            future.set_result(None)

    def _settle(self) -> None:
        if self._in_flight is not None:
            future, batch = self._in_flight
            self._in_flight = None
            try:
                future.result(timeout=self._settings.write_timeout_seconds)
            except TimeoutError:
                raise WriterBusy(f"a write to the store has not finished after {self._settings.write_timeout_seconds:g} s "
                                 "(write_timeout_seconds); it may still complete: send it again later (an unchanged "
                                 "article is reported as such)") from None
            self._written(batch)

    def submit(self, batch: list[DocumentRecords]) -> None:
        self._settle()
        batch = list(batch)  # the caller may clear its list
        future: Future[None] = Future()
        threading.Thread(target=self._run, args=(future, batch), name="ingest-writer", daemon=True).start()
        self._in_flight = (future, batch)

    def close(self) -> None:
        """Wait for the batch in flight (bounded, as `submit`); after an error elsewhere, too."""
        self._settle()


def ingest(paths: Iterable[Path], store: Store, embedder: Embedder, settings: Settings, progress: bool = True,
           follow_links: bool = False, write_lock: contextlib.AbstractContextManager | None = None,
           replace: bool = False) -> IngestReport:
    """`ingest_documents` of the article files under `paths`; `follow_links` also ingests links
    that point out of the folders given."""
    return ingest_documents(ArticleFiles(list(paths), follow_links), store, embedder, settings, progress, write_lock,
                            replace)


def ingest_documents(documents: Iterable[RawDocument | Skipped], store: Store, embedder: Embedder,
                     settings: Settings, progress: bool = True,
                     write_lock: contextlib.AbstractContextManager | None = None,
                     replace: bool = False) -> IngestReport:
    """Write these documents to the store: each cleaned, split and embedded, then written in
    batches; a document the store already holds as it is stays unchanged, and what was not
    read is reported as skipped. A stored document is replaced by a new version of its own
    file (the same name, index.loading.same_file); one of another name whose id is the same
    is skipped and reported as `taken` unless `replace`. `write_lock` is held around each
    batch write and the orphan sweep only, not while embedding: other writers of the process
    wait for one batch, not for a whole large upload."""
    from time import perf_counter

    from tqdm import tqdm

    started = perf_counter()
    report = IngestReport()
    bar = tqdm(documents, unit="document", desc="ingest", disable=not progress)
    pending: list[DocumentRecords] = []
    replaces: set[str] = set()  # ids of the pending documents that replace a stored version

    lock = write_lock or contextlib.nullcontext()

    def skip(name: str, reason: str) -> None:
        # INFO: the report carries it to whoever asked (qa ingest prints it, an upload gets a 4xx).
        log.info("skipped %s: %s", name, reason)
        report.skipped.append((name, reason))

    def written(batch: list[DocumentRecords]) -> None:
        for item in batch:
            (report.replaced if item.document.id in replaces else report.added).append(item.document.id)
            report.passages += len(item.passages)
            report.sentences += len(item.sentences)
        bar.set_postfix(passages=report.passages, passages_per_s=round(report.passages / (perf_counter() - started)))

    writer = BatchWriter(store, lock, settings, written)
    try:
        for raw in bar:
            if isinstance(raw, Skipped):
                skip(raw.name, raw.reason)
                continue
            stored = store.get_document(raw.doc_id)
            if stored is not None and not replace and not same_file(stored.source, raw.source, raw.doc_id):
                report.taken.append(Taken(raw.doc_id, raw.source, stored.source))
                skip(raw.source, f"same document id {raw.doc_id!r} as {stored.source}, already stored: "
                                 "rename one of them, or ask to replace it")
                continue
            document = prepare(raw)
            if document is None:
                skip(raw.source, "no text left after cleaning")
                continue
            if stored is not None and stored.content_hash == document.content_hash and stored.title == document.title \
                    and {k: v for k, v in stored.metadata.items() if k != "ingested_at"} == document.metadata:
                report.unchanged.append(document.id)
                continue
            if stored is not None:
                replaces.add(document.id)
                if stored.content_hash != document.content_hash:  # before the write: citations into the old text get a 410
                    record_superseded(settings.data_dir, stored.content_hash, document.id)
            pending.append(records(document, embedder, settings))
            if sum(len(item.passages) for item in pending) >= WRITE_BATCH_PASSAGES:
                writer.submit(pending)
                pending.clear()
        if pending:
            writer.submit(pending)
            pending.clear()
    finally:
        writer.close()
    if settings.store_mode == "embedded":  # the only writer (lock file): no one else's write is in flight
        with lock:
            if orphans := store.remove_orphans():
                log.warning("removed %d records left by an interrupted ingest", orphans)
    report.seconds = perf_counter() - started
    return report
