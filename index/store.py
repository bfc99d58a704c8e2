"""The Chroma store: three collections per corpus, one small class for both modes.

`<prefix>-documents`: one record per article (full cleaned text, title, metadata).
`<prefix>-passages`: passages with their embedding, offsets and sentence spans (no text: the
document has it).
`<prefix>-sentences`: one embedding per sentence, with its document's id (its passage and
offsets are in the passage record; its id is the hash of its document's id and its text).
`<prefix>-meta`: the generation marker that tells readers the corpus changed.
Embedded mode (PersistentClient under data_dir) and server mode (HttpClient) differ only
in how the client is made: `store_mode` in the settings. An embedded store has one
writing process at a time (a lock file enforces it): two writers corrupt a PersistentClient. Collections are created with
`embedding_function=None`; vectors always come from our embedder."""

from __future__ import annotations

import fcntl
import functools
import hashlib
import itertools
import json
import logging
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import msgspec
import numpy as np

from config import Settings
from index.documents import Document, Passage, Span, span_ids


class StoreUnavailable(Exception):
    """The Chroma store cannot be reached or opened."""


LOCK_WAIT_SECONDS = 10.0  # how long opening waits for another process's write lock
logging.getLogger("httpx").setLevel(logging.WARNING)  # chromadb's HTTP client logs every request at INFO


@functools.cache
def _outages() -> tuple[type[Exception], ...]:
    """What a Chroma call raises when the server is down or restarting (httpx), reports an
    internal failure, or its files cannot be used; anything else is a bug, not an outage."""
    from chromadb.errors import InternalError

    return httpx.TransportError, InternalError, OSError, sqlite3.Error


class _Guarded:
    """A Chroma collection whose outage errors surface as StoreUnavailable, so that callers
    (the API's 503 mapping, /ready) need to know one exception, not chromadb's transport."""

    def __init__(self, collection: Any) -> None:
        self._collection = collection

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._collection, name)
        if not callable(attribute):
            return attribute

        @functools.wraps(attribute)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return attribute(*args, **kwargs)
            except _outages() as exc:
                raise StoreUnavailable(f"the Chroma store did not answer ({type(exc).__name__}: {exc})") from exc

        return call


def _check_embedded(path: Path) -> None:
    """Fail fast on a damaged or locked embedded store: Chroma itself waits forever for a
    lock held by another process and reports some damage only at the first query."""
    database = path / "chroma.sqlite3"
    if not database.is_file():
        return
    try:
        connection = sqlite3.connect(database, timeout=LOCK_WAIT_SECONDS, isolation_level=None)
        try:
            verdict = connection.execute("PRAGMA quick_check").fetchone()[0]
            connection.execute("BEGIN IMMEDIATE")  # is another process holding the write lock?
            connection.execute("ROLLBACK")
        finally:
            connection.close()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc):
            raise StoreUnavailable(f"{database} is locked by another process for over {LOCK_WAIT_SECONDS:.0f} s; in "
                                   "embedded mode only one process may write a store (use store_mode=http to share "
                                   "one)") from exc
        raise StoreUnavailable(f"{database} cannot be read: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        raise StoreUnavailable(f"{database} is not a usable database: {exc}") from exc
    if verdict != "ok":
        raise StoreUnavailable(f"{database} is damaged ({verdict}); restore a backup or re-ingest into a new data_dir")


class SentenceRecord(msgspec.Struct, frozen=True):
    id: str
    passage_id: str
    doc_id: str
    start: int
    end: int


def sentence_records(document: Document, passages: list[Passage]) -> list[SentenceRecord]:
    """The records of the sentences of a document's passages (all of them, in order) in text
    order; a sentence's id is the hash of its document's id and its text (index.documents.span_ids),
    so ingest and a snapshot make the same ones."""
    spans = [(p, s) for p in passages for s in p.sentences]
    ids = span_ids(document, [(s.start, s.end) for _, s in spans])
    return [SentenceRecord(id=i, passage_id=p.id, doc_id=document.id, start=s.start, end=s.end)
            for i, (p, s) in zip(ids, spans)]


def legacy_span_id(document: Document, start: int, end: int) -> str:
    """The id a store written before span ids were their text's gave a span: the hash of its
    document version and offsets (such rows are read as they are; a replacement rewrites them)."""
    return hashlib.sha256(f"{document.id}:{document.content_hash}:{start}:{end}".encode()).hexdigest()[:20]


class Changes(msgspec.Struct):
    """What the change log says since a reader's version."""

    doc_ids: set[str]  # documents to read again
    until: int  # ask from here next time
    records: list[str]  # the change records this covers (the next ask finds them again)


class DocumentRecords(msgspec.Struct):
    """A document ready to store: its passages and sentences with their vectors."""

    document: Document
    passages: list[Passage]
    passage_vectors: np.ndarray
    sentences: list[SentenceRecord]
    sentence_vectors: np.ndarray


class Snapshot(msgspec.Struct):
    """Everything the service keeps in memory, read in one pass."""

    documents: dict[str, Document]
    passages: list[Passage]
    sentences: list[SentenceRecord]
    sentence_vectors: np.ndarray


_WRITER_LOCKS: dict[Path, int] = {}  # embedded stores this process writes, with the lock's descriptor


def _hold_writer_lock(path: Path) -> None:
    """Take the embedded store's writer lock for the life of this process, or fail at once."""
    path = path.resolve()
    if path in _WRITER_LOCKS:
        return
    fd = os.open(path / "qa-writer.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 16).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise StoreUnavailable(
            f"the embedded store {path} is in use by another process (pid {holder}); only one process may write it: "
            "stop that process, send writes to its API (POST /documents), or run a Chroma server (QA_STORE_MODE=http)"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    _WRITER_LOCKS[path] = fd


def _client(settings: Settings, writer: bool):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    try:
        if settings.store_mode == "http":
            return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
        path = Path(settings.data_dir) / "chroma"
        path.mkdir(parents=True, exist_ok=True)
        _check_embedded(path)
        if writer:
            _hold_writer_lock(path)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except StoreUnavailable:
        raise
    except Exception as exc:  # chromadb raises bare ValueError/Exception for unreachable servers
        where = f"{settings.chroma_host}:{settings.chroma_port}" if settings.store_mode == "http" else settings.data_dir
        raise StoreUnavailable(f"cannot open the Chroma store ({settings.store_mode}, {where}): {exc}") from exc


_GENERATION = "generation"
_CHANGE = "change-"  # change log records: which documents a write changed, and when
_PENDING = "pending-"  # intent records: which documents a write in progress touches
CHANGE_LOG_NS = 24 * 3600 * 10**9  # how long the change log reaches back; an older reader re-reads everything
CLOCK_SKEW_NS = 60 * 10**9  # how far writers' and readers' clocks may disagree
# Reading a whole collection: its ids in pages (a page re-scans its offset, so few large
# ones), then the records by id in chunks, two requests at a time. By offset, records with
# their vectors came slower the further a page was (a 2,000-row page at offset 100k took twice
# as long as the first); by id, 40k sentences of 205k came in 4.7 s instead of 10 s.
_READ_PAGE = 20_000
_FETCH_CHUNK = 2_000
_FETCH_REQUESTS = 2
# An embedded Chroma's Rust bindings hold the GIL for a whole add(): 2,000 sentences held it
# for about 1 s in which no request of the process ran (/ask peaked at 1.5-2.5 s during a large
# upload). So a write to one goes in calls of as many rows as it writes in about this long,
# measured as it goes, letting the readers in between; a Chroma server's calls stay large.
WRITE_CALL_SECONDS = 0.03
_WRITE_ROWS_MIN, _WRITE_ROWS_FIRST = 8, 32
VECTOR_DIM = 384  # MiniLM's
_MARKER_VECTOR = [1.0] + [0.0] * (VECTOR_DIM - 1)  # Chroma stores vectors only: the marker needs one


def _chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


class Store:
    def __init__(self, client: Any, prefix: str, in_process: bool = False) -> None:
        """`in_process`: the client is an embedded Chroma, whose writes run in this process."""
        self._client = client
        self.prefix = prefix
        get = lambda kind: _Guarded(client.get_or_create_collection(  # noqa: E731
            f"{prefix}-{kind}", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        ))
        try:
            self._batch = min(client.get_max_batch_size(), 2000)
            self._in_process, self._rows_per_call = in_process, _WRITE_ROWS_FIRST
            self.documents, self.passages, self.sentences = get("documents"), get("passages"), get("sentences")
            self.meta = get("meta")
        except Exception as exc:
            raise StoreUnavailable(f"cannot open collections {prefix}-*: {exc}") from exc

    @classmethod
    def open(cls, settings: Settings, prefix: str | None = None, writer: bool = True) -> "Store":
        """`writer=False` opens an embedded store for reading beside the process that writes it."""
        return cls(_client(settings, writer), prefix or settings.collection, in_process=settings.store_mode == "embedded")

    def drop(self) -> None:
        """Delete this prefix's collections and all they hold (a benchmark's scratch store on
        a shared Chroma server); the Store is unusable afterwards."""
        for kind in ("documents", "passages", "sentences", "meta"):
            self._client.delete_collection(f"{self.prefix}-{kind}")

    def counts(self) -> dict[str, int]:
        return {"documents": self.documents.count(), "passages": self.passages.count(), "sentences": self.sentences.count()}

    # ---- writes -------------------------------------------------------------------
    def delete_document(self, doc_id: str) -> bool:
        """Remove a document; its record goes first so that readers stop seeing it at once."""
        existed = bool(self.documents.get(ids=[doc_id], include=[])["ids"])
        intent = self._intend([doc_id])
        if existed:
            self.documents.delete(ids=[doc_id])
        self._discard_records([doc_id])
        if existed:
            self.bump_generation([doc_id])
        self.meta.delete(ids=[intent])  # last: until the change is announced, recovery finds it (remove_orphans)
        return existed

    def _intend(self, doc_ids: list[str]) -> str:
        """Record that these documents are about to be written or deleted; the record is
        removed when that is done, so one left behind names what an interrupted write may
        have left half done (`remove_orphans`) without a scan of the whole store."""
        intent = f"{_PENDING}{uuid.uuid4().hex}"
        self.meta.add(ids=[intent], embeddings=[_MARKER_VECTOR],
                      metadatas=[{"kind": "pending", "doc_ids": json.dumps(doc_ids)}])
        return intent

    def _discard_records(self, doc_ids: list[str]) -> None:
        """Delete the documents' passages and sentences, if they have any (a delete that finds
        nothing still costs Chroma tens of milliseconds at scale, a lookup does not)."""
        where = {"doc_id": {"$in": doc_ids}}
        for collection in (self.sentences, self.passages):
            if collection.get(where=where, limit=1, include=[])["ids"]:
                collection.delete(where=where)

    def write_documents(self, batch: list[DocumentRecords], ingested_at: str) -> None:
        """Replace documents, several per Chroma call, writing only the passages and sentences
        that changed (a stored one of the same id is kept). Document records are written after the
        passages and sentences: they are the commit markers, so a crash mid-write leaves only
        orphans that readers ignore and the next ingest (or `qa serve`) removes; the intent
        record written first names them, and is removed only once the write is announced, so
        that a write that failed after its commit markers is announced by that recovery."""
        doc_ids = [item.document.id for item in batch]
        intent = self._intend(doc_ids)
        if existing := self.documents.get(ids=doc_ids, include=[])["ids"]:
            self.documents.delete(ids=existing)
        # A new version keeps the stored rows of the spans it did not change (their ids are their
        # text's, index.documents.span_id): only the others are deleted and written. An embedded
        # Chroma's HNSW index never reuses a deleted row's slot (chroma-core/chroma#2594), so
        # deleting and adding every row of each replaced article grew it, in memory and on disk,
        # by the whole article each time.
        where = {"doc_id": {"$in": doc_ids}}
        stored = set(self._all(self.sentences, [], where=where)["ids"])
        sentences = [(s, v) for item in batch for s, v in zip(item.sentences, item.sentence_vectors)]
        self._delete(self.sentences, stored - {s.id for s, _ in sentences})
        sentences = [(s, v) for s, v in sentences if s.id not in stored]
        for part in self._paced(len(sentences)):
            rows = sentences[part]
            # The document id alone: deletes and filtered searches select by it, and the rest
            # (passage, offsets, id) follows from the passage's sentence spans. Each further
            # key cost Chroma a metadata row per sentence (a fifth of the write time).
            self.sentences.add(ids=[s.id for s, _ in rows], embeddings=np.stack([v for _, v in rows]),
                               metadatas=[{"doc_id": s.doc_id} for s, _ in rows])
        # No passage text: readers cut it from the document's, and indexing it for Chroma's
        # full-text search took over half of the passage write time.
        passages = [(p, v, {"doc_id": p.doc_id, "ordinal": p.ordinal, "start": p.start, "end": p.end,
                            "sentences": json.dumps([[s.start, s.end] for s in p.sentences])})
                    for item in batch for p, v in zip(item.passages, item.passage_vectors)]
        found = self._all(self.passages, ["metadatas"], where=where)
        stored_passages = dict(zip(found["ids"], found["metadatas"]))
        self._delete(self.passages, set(stored_passages) - {p.id for p, _, _ in passages})
        # A kept passage is written again only when its ordinal or offsets moved: an upsert,
        # and updating a row reuses its slot.
        passages = [(p, v, m) for p, v, m in passages if stored_passages.get(p.id) != m]
        for part in self._paced(len(passages)):
            rows = passages[part]
            self.passages.upsert(ids=[p.id for p, _, _ in rows], embeddings=np.stack([v for _, v, _ in rows]),
                                 metadatas=[m for _, _, m in rows])
        centroids = [item.passage_vectors.mean(axis=0) for item in batch]
        self.documents.add(
            ids=doc_ids,
            embeddings=[c / np.linalg.norm(c) for c in centroids],
            documents=[item.document.text for item in batch],
            metadatas=[{"title": d.title, "source": d.source, "content_hash": d.content_hash, "ingested_at": ingested_at,
                        "passage_count": len(item.passages), "metadata": json.dumps(d.metadata)}
                       for item in batch for d in [item.document]],
        )
        self.bump_generation(doc_ids)
        self.meta.delete(ids=[intent])  # last: until the write is announced, recovery finds it (remove_orphans)

    def _delete(self, collection: Any, ids: set[str]) -> None:
        ordered = sorted(ids)
        for part in _chunks(len(ordered), self._batch):
            collection.delete(ids=ordered[part])

    def _paced(self, n: int) -> Iterator[slice]:
        """The slices of n rows to write one add() each: to a Chroma server as large as it takes;
        to an embedded one, sized from how long the previous call took (WRITE_CALL_SECONDS)."""
        if not self._in_process:
            yield from _chunks(n, self._batch)
            return
        start = 0
        while start < n:
            rows, began = self._rows_per_call, time.perf_counter()
            yield slice(start, min(start + rows, n))
            took = max(time.perf_counter() - began, 1e-4)
            if start + rows < n or took > WRITE_CALL_SECONDS:  # a short last call says little
                fit = rows * WRITE_CALL_SECONDS / took
                self._rows_per_call = int(min(self._batch, max(_WRITE_ROWS_MIN, (rows + fit) / 2)))
            start += rows

    def bump_generation(self, changed: list[str]) -> None:
        """Mark the corpus as changed; every reader (process or replica) notices on its next
        check and re-reads only the `changed` documents, which the change log records first."""
        now = time.time_ns()
        self.meta.add(ids=[f"{_CHANGE}{now}-{uuid.uuid4().hex[:8]}"], embeddings=[_MARKER_VECTOR],
                      metadatas=[{"at": now, "doc_ids": json.dumps(changed)}])
        self.meta.delete(where={"at": {"$lt": now - CHANGE_LOG_NS}})
        self.meta.upsert(ids=[_GENERATION], embeddings=[_MARKER_VECTOR], metadatas=[{"token": uuid.uuid4().hex}])

    def changes_since(self, since: int, applied: frozenset[str] = frozenset()) -> Changes | None:
        """The documents changed from `since` (ns, by the writers' clocks) on, by change records
        other than the `applied` ones; None when the log no longer reaches back that far.
        Asking overlaps by CLOCK_SKEW_NS, so that no change is missed; the records the
        overlap finds again are the applied ones, and are skipped."""
        now = time.time_ns()
        if since < now - CHANGE_LOG_NS + CLOCK_SKEW_NS:
            return None
        found = self.meta.get(where={"at": {"$gte": since - CLOCK_SKEW_NS}}, include=["metadatas"])
        changed = {d for i, m in zip(found["ids"], found["metadatas"]) if i not in applied
                   for d in json.loads(m["doc_ids"])}
        return Changes(doc_ids=changed, until=now, records=sorted(found["ids"]))

    def remove_orphans(self) -> int:
        """Settle interrupted writes: delete the passages and sentences of the documents that
        intent records left behind name and that have no document record, and announce every
        document they name in the change log, so that readers re-read them (a write that failed
        after its commit markers, before its announcement, would otherwise be stored but never
        served, and counted differently from what is listed). Only for the one writer of an
        embedded store: elsewhere another writer's intent may be in flight."""
        left = self.meta.get(where={"kind": "pending"}, include=["metadatas"])
        named = sorted({d for m in left["metadatas"] for d in json.loads(m["doc_ids"])})
        committed = set(self.documents.get(ids=named, include=[])["ids"]) if named else set()
        removed = 0
        if orphaned := [d for d in named if d not in committed]:
            where = {"doc_id": {"$in": orphaned}}
            for collection in (self.sentences, self.passages):
                if found := collection.get(where=where, include=[])["ids"]:
                    collection.delete(ids=found)
                    removed += len(found)
        if left["ids"]:
            self.bump_generation(named)
            self.meta.delete(ids=left["ids"])
        return removed

    # ---- reads --------------------------------------------------------------------
    def _all(self, collection: Any, include: list[str], where: dict | None = None) -> dict[str, Any]:
        """Every record of a collection, or those matching `where` (Chroma caps one response):
        one request when they fit in a chunk (a write's few documents), else the rest's ids in
        pages and their records by id. Embeddings come back as one float32 matrix: kept as
        the client's float64 rows, half a million passages' sentences outgrew 24 GB."""
        out: dict[str, Any] = {key: [] for key in ("ids", *include)}

        def keep(found: dict[str, Any]) -> None:
            for key, values in out.items():
                if key == "embeddings":
                    values.append(np.asarray(found[key], dtype=np.float32).reshape(-1, VECTOR_DIM))
                else:
                    values.extend(found[key])

        keep(first := collection.get(where=where, include=include, limit=_FETCH_CHUNK))
        if len(first["ids"]) == _FETCH_CHUNK:
            ids: list[str] = []
            while page := collection.get(where=where, include=[], limit=_READ_PAGE,
                                         offset=_FETCH_CHUNK + len(ids))["ids"]:
                ids.extend(page)
                if len(page) < _READ_PAGE:
                    break
            with ThreadPoolExecutor(_FETCH_REQUESTS) as requests:
                for found in requests.map(lambda part: collection.get(ids=ids[part], include=include),
                                          _chunks(len(ids), _FETCH_CHUNK)):
                    keep(found)
        if "embeddings" in out:
            out["embeddings"] = np.concatenate(out["embeddings"])
        return out

    @staticmethod
    def _document(doc_id: str, text: str, meta: dict[str, Any]) -> Document:
        return Document(id=doc_id, title=meta["title"], text=text, source=meta["source"],
                        content_hash=meta["content_hash"],
                        metadata=json.loads(meta.get("metadata") or "{}") | {"ingested_at": meta["ingested_at"]})

    def get_document(self, doc_id: str) -> Document | None:
        found = self.documents.get(ids=[doc_id], include=["documents", "metadatas"])
        if not found["ids"]:
            return None
        return self._document(doc_id, found["documents"][0], found["metadatas"][0])

    def generation(self) -> str:
        """A token that changes whenever a document is written or deleted: one small read,
        cheap enough to poll."""
        found = self.meta.get(ids=[_GENERATION], include=["metadatas"])
        if not found["ids"]:
            self.bump_generation([])
            found = self.meta.get(ids=[_GENERATION], include=["metadatas"])
        return found["metadatas"][0]["token"]

    def document_ids(self) -> list[str]:
        """The ids of every stored document (committed ones: a document record is written last)."""
        return self._all(self.documents, [])["ids"]

    def snapshot(self, doc_ids: list[str] | None = None) -> Snapshot:
        """Every committed document with its passages and sentences, or only those of `doc_ids`
        (the ones of them that are committed)."""
        # The whole store is read document by document too: Chroma pages a collection with
        # LIMIT/OFFSET, each page scanning past every row before it (4.1M sentence ids slowed
        # to 13 s a page); the documents are the fewest rows to page through.
        wanted = self.document_ids() if doc_ids is None else doc_ids

        def part(collection: Any, include: list[str], ids: list[str]) -> dict[str, Any]:
            if collection is self.documents:
                return collection.get(ids=ids, include=include)
            return self._all(collection, include, where={"doc_id": {"$in": ids}})

        def read(collection: Any, include: list[str]) -> dict[str, Any]:
            parts = [wanted[p] for p in _chunks(len(wanted), 500)]  # SQLite caps the parameters of one query
            with ThreadPoolExecutor(_FETCH_REQUESTS) as requests:
                pages = list(requests.map(lambda ids: part(collection, include, ids), parts))
            return {key: np.concatenate([page[key] for page in pages] or [np.zeros((0, VECTOR_DIM), np.float32)])
                    if key == "embeddings" else [value for page in pages for value in page[key]]
                    for key in ("ids", *include)}

        docs = read(self.documents, ["documents", "metadatas"])
        documents = {i: self._document(i, t, m) for i, t, m in zip(docs["ids"], docs["documents"], docs["metadatas"])}
        raw = read(self.passages, ["metadatas"])
        passages = [
            Passage(id=i, doc_id=m["doc_id"], ordinal=m["ordinal"], start=m["start"], end=m["end"],
                    sentences=[Span(a, b) for a, b in json.loads(m["sentences"])])
            for i, m in zip(raw["ids"], raw["metadatas"]) if m["doc_id"] in documents
        ]
        passages.sort(key=lambda p: (p.doc_id, p.ordinal))
        raw = read(self.sentences, ["embeddings"])
        row_of = {sentence_id: row for row, sentence_id in enumerate(raw["ids"])}
        # A committed document's sentences were all written before it (the commit order).
        sentences = []
        for doc_id, of_document in itertools.groupby(passages, key=lambda p: p.doc_id):
            document = documents[doc_id]
            for s in sentence_records(document, list(of_document)):
                if s.id not in row_of:  # a store written before span ids were their text's
                    s = msgspec.structs.replace(s, id=legacy_span_id(document, s.start, s.end))
                if s.id in row_of:
                    sentences.append(s)
        vectors = raw["embeddings"][[row_of[s.id] for s in sentences]].reshape(len(sentences), VECTOR_DIM)
        return Snapshot(documents=documents, passages=passages, sentences=sentences, sentence_vectors=vectors)

    def query_sentences(self, vector: np.ndarray, n: int,
                        doc_ids: list[str] | None = None) -> tuple[list[str], list[float]]:
        """Ids and cosine similarities of the n sentences nearest to the query vector; n must
        not exceed the collection size (the caller knows it: a count() here costs milliseconds).
        Only distances come back: metadata would cost several times the search."""
        if n <= 0:
            return [], []
        where = {"doc_id": {"$in": doc_ids}} if doc_ids else None
        found = self.sentences.query(query_embeddings=[vector], n_results=n, where=where, include=["distances"])
        return found["ids"][0], [1.0 - d for d in found["distances"][0]]
