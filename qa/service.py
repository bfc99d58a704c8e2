"""The service object: one store, one embedder and the in-memory corpus, with the
operations the API, the CLI and the evaluation all call (ask, search, citations, writes):
every read goes through `corpus`, so every read path sees the same outage check, and every
write through the store's one writer (index/writer.py)."""

from __future__ import annotations

import functools
import logging
import threading
import time
from pathlib import Path

import msgspec

from config import Settings
from index.documents import Document
from index.embedding import Embedder, load_embedder
from index.loading import UnsupportedFile
from index.pipeline import IngestReport
from index.readmodel.format import Manifest, files
from index.store import Store, StoreUnavailable
from index.writer import Writer
from qa import peer
from qa.answer import Composer, Composition, answer_text
from qa.answer_models import AnswerModels
from qa.citations import CitationNotFound
from qa.citations import resolve as resolve_citation
from qa.confidence import LinearModel
from qa.conversation import Conversations, Turn, resolve
from qa.corpus import Corpus
from qa.doc_index import document_index
from qa.feeds import FeedDesk
from qa.filters import UnknownDocuments, describe, latest_first, select
from qa.lookup import lookup
from qa.question import analyse
from qa.references import Style, render
from qa.retrieval import Hit, Retriever
from qa.schemas import (AskResponse, CitationDetail, Filters, LookupResponse, SearchHit, SearchResponse,
                        VerifyResponse)
from qa.superseded import replaced_citation
from qa.verify import verify

log = logging.getLogger(__name__)
REFRESH_SECONDS = 0.25  # how often a replica checks whether the store has changed (one small read)


def open_writer(settings: Settings, store: Store | None = None, embed_threads: int | None = None) -> Writer:
    """The store's one writer, publishing with this deployment's read-model peer: what a
    QAService writes through, and what `qa ingest` and `qa delete` use without opening a corpus
    (embedding on every core unless `embed_threads`)."""
    return Writer(store or Store.open(settings), settings, peer.configured(settings), embed_threads)


class QAService:
    def __init__(self, settings: Settings, store: Store, embedder: Embedder, watch: bool = True,
                 models: AnswerModels | None = None) -> None:
        """`watch=False` for one-shot commands: no thread checks the store for others' writes
        (a daemon thread inside a Chroma call when the interpreter exits can crash it).
        `models`: the shipped ones unless given (the calibration script gives its own)."""
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.models = models or AnswerModels.shipped(settings)
        self.ranker = LinearModel.load("ranker")
        self._answering: tuple[Corpus, Retriever, Composer] | None = None  # built once per corpus version
        self._lock = threading.Lock()  # guards the swap of the read model
        # Uploads embed on the reads' thread budget, not every core: /ask kept its latency only
        # with a core left to it while a large upload was embedded (issue 30).
        self._writer = open_writer(settings, store, embed_threads=settings.threads)
        self._versions = self._writer.versions  # what the writer publishes, and the watcher follows
        self.outage: str | None = None  # set by the watcher while the store does not answer
        self._corpus = Corpus(self._versions.current())
        self.conversations = Conversations(settings.conversation_limit, settings.conversation_ttl_seconds,
                                           per_client=settings.conversations_per_client)
        # Requests never wait on the check: a background thread swaps in a new corpus.
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="corpus-watcher", daemon=True)
        if watch:
            self._watcher.start()

    @classmethod
    def open(cls, settings: Settings, prefix: str | None = None, writer: bool = True,
             watch: bool = True) -> "QAService":
        return cls(settings, Store.open(settings, prefix, writer=writer), load_embedder(settings), watch)

    @property
    def corpus(self) -> Corpus:
        """The current corpus, replaced when another process (or replica) changes the store.
        Every read goes through here, so every read path refuses alike while the store is
        down (StoreUnavailable, a 503 over HTTP): the corpus could still answer from memory,
        but it may be stale (a delete we cannot see), and the store is the truth."""
        if self.outage is not None:
            raise StoreUnavailable(self.outage)
        return self._corpus

    def _watch(self) -> None:
        indexed: Corpus | None = None
        while not self._stop.wait(REFRESH_SECONDS):
            try:
                self.refresh()
                self.outage = None
                corpus = self._corpus
                if corpus is not indexed:
                    # Built here, once per start or change, not by the first filtered request or
                    # citation lookup (115 ms at 200k passages).
                    document_index(corpus)
                    indexed = corpus
            except StoreUnavailable as exc:
                if self.outage is None:
                    log.warning("store unavailable: %s", exc)
                self.outage = str(exc)
            except Exception:
                log.exception("corpus check failed")

    def close(self) -> None:
        """Stop the watcher and wait for it: it must not be inside a store call at exit."""
        self._stop.set()
        if self._watcher.is_alive():
            self._watcher.join(timeout=10)

    def refresh(self) -> None:
        """Open the version of the store's current generation in place of the one held, when
        another process (or this one's writer) changed the store."""
        with self._lock:
            version = self._versions.current()
            if version is not self._corpus.version:
                self._corpus = Corpus(version, previous=self._corpus)
                log.info("corpus reloaded: %d passages", len(self._corpus.passages))

    def ingest(self, paths: list[Path], progress: bool = False, follow_links: bool = False,
               replace: bool = False) -> IngestReport:
        """Add or replace the articles of these files and folders (one whose id another file's
        document holds only with `replace`)."""
        report = self._writer.ingest_files(paths, follow_links, progress, replace)
        self.refresh()
        return report

    def upload(self, filename: str, content: bytes, metadata: dict[str, str] | None = None,
               replace: bool = False) -> IngestReport:
        """Add or replace one uploaded article, read as a file of that name would be
        (UnsupportedFile for a type that is never read; reported `taken` when another file's
        document holds its id, unless `replace`)."""
        report = self._writer.upload(filename, content, metadata, replace)
        self.refresh()
        return report

    def delete(self, doc_id: str) -> bool:
        existed = self._writer.delete(doc_id)
        self.refresh()
        return existed

    def read_model(self) -> Manifest:
        """The read-model version this replica has open, for another replica to copy."""
        return Manifest.of(self.corpus.version.folder, self.store.prefix)

    def read_model_file(self, generation: str, name: str) -> Path | None:
        """One file of the open version, None unless `generation` is that version and `name`
        one of its files (nothing else under the data dir is ever served)."""
        folder = self.corpus.version.folder
        if generation != folder.name or name not in {n for n, _ in files(folder)}:
            return None
        return folder / name

    def citation(self, citation_id: str) -> CitationDetail:
        """A cited quote with its paragraph and neighbouring sentences (CitationNotFound, or
        CitationGone for one into a version that a newer one replaced)."""
        corpus = self.corpus
        try:
            return resolve_citation(corpus, citation_id)
        except CitationNotFound:
            if (gone := replaced_citation(corpus, citation_id, self.settings.data_dir)) is not None:
                raise gone from None
            raise

    @functools.cached_property
    def feeds(self) -> FeedDesk:
        """The feed subscriptions of this data dir, polled through this service's writer."""
        return FeedDesk(self.settings, self._writer)

    def lookup(self, quote: str, limit: int, min_similarity: float) -> LookupResponse:
        """Where a quote occurs: exact matches, then close ones."""
        return lookup(self.corpus, quote, limit, min_similarity)

    def verify(self, text: str, mode: str) -> VerifyResponse:
        """Every quotation (or sentence) of a text checked against the corpus (TooMuchToVerify)."""
        return verify(self.corpus, text, mode)

    def reference(self, doc_id: str, style: Style) -> str | None:
        """A reference to the document in `style`; None for an id the corpus does not hold."""
        document = self.corpus.documents.get(doc_id)
        return render(document, style) if document is not None else None

    def documents(self, filters: Filters | None, sort: str = "id", limit: int | None = None
                  ) -> tuple[list[tuple[Document, int]], int, int]:
        """The documents matching the filters (all without), each with its passage count, in id
        order (`sort="latest"`: newest first, see qa.filters.latest_first), the first `limit`
        of them; how many match in all; how many undated ones a date filter left out."""
        corpus = self.corpus
        selection = select(corpus, filters)
        ids = sorted(corpus.documents if selection.doc_ids is None else selection.doc_ids)
        if sort == "latest":
            ids = latest_first(corpus, ids)
        total = len(ids)
        ids = ids if limit is None else ids[:limit]
        return [(corpus.documents[i], corpus.passage_count(i)) for i in ids], total, selection.undated_excluded

    def document(self, doc_id: str) -> tuple[Document, int] | None:
        """The document with its passage count; None for an id the corpus does not hold."""
        corpus = self.corpus
        document = corpus.documents.get(doc_id)
        return (document, corpus.passage_count(doc_id)) if document is not None else None

    def _scope(self, filters: Filters | None) -> tuple[Corpus, list[str] | None]:
        """The corpus and the ids of the documents a request may draw on (None: all). A filter
        that matches nothing is refused, not answered with an abstention from no articles."""
        corpus = self.corpus
        selection = select(corpus, filters)
        if selection.doc_ids is not None and not selection.doc_ids:
            undated = f" ({selection.undated_excluded} undated left out; undated=include keeps them)" \
                if selection.undated_excluded else ""
            raise UnknownDocuments(f"no document matches the filters: {describe(filters)}{undated}")
        return corpus, selection.doc_ids

    def answering(self, corpus: Corpus) -> tuple[Retriever, Composer]:
        """The retriever and the composer of this corpus version, made once per version."""
        built = self._answering
        if built is None or built[0] is not corpus:
            settings = self.settings
            built = (corpus, Retriever(corpus, self.store, self.ranker),
                     Composer(corpus, self.models, min_confidence=settings.min_confidence,
                              passages=settings.answer_passages, reader_candidates=settings.reader_candidates))
            self._answering = built
        return built[1], built[2]

    def ask(self, question: str, top_k: int | None = None, filters: Filters | None = None) -> AskResponse:
        return self.run(question, top_k, filters)[0]

    def converse(self, question: str, top_k: int | None = None, filters: Filters | None = None,
                 conversation_id: str | None = None, client: str = "") -> AskResponse:
        """ask() as one turn of a conversation: a follow-up is resolved against the previous
        turn. Ids are issued here, unguessable: a request without one, or with one this
        process does not know, starts a new conversation under a new id, so that no client
        can pick an id and read another's topic. `client`: the asker's address (one client
        keeps at most `conversations_per_client`; in-process callers are one client)."""
        previous = self.conversations.last_turn(conversation_id) if conversation_id else None
        if previous is None:
            conversation_id = self.conversations.new_id()
        resolved = resolve(question, previous)
        response = self.ask(resolved, top_k, filters)
        answer_span = response.citations[0].answer_text if response.answered and response.citations else None
        self.conversations.remember(conversation_id, Turn(resolved, answer_span), client)
        return msgspec.structs.replace(response, conversation_id=conversation_id, resolved_question=resolved)

    def run(self, question: str, top_k: int | None = None,
            filters: Filters | None = None) -> tuple[AskResponse, Composition, list[Hit]]:
        """Answer a question; also return the retrieval hits and the composition internals
        (the evaluation reads them, so it measures exactly what the API serves)."""
        started = time.perf_counter()
        corpus, doc_ids = self._scope(filters)
        analysed = analyse(question, self.embedder.embed([question])[0], corpus.lexical.idf)
        k = max(top_k or self.settings.default_top_k, self.settings.answer_passages)
        retriever, composer = self.answering(corpus)
        hits = retriever.retrieve(analysed, k, doc_ids)
        composition = composer.compose(analysed, hits)
        response = AskResponse(answered=composition.answered, answer=answer_text(composition),
                               sentences=composition.sentences, citations=composition.citations,
                               confidence=composition.confidence, related=composition.related,
                               took_ms=round((time.perf_counter() - started) * 1000, 2))
        return response, composition, hits

    def search(self, query: str, k: int, filters: Filters | None = None) -> SearchResponse:
        started = time.perf_counter()
        corpus, doc_ids = self._scope(filters)
        analysed = analyse(query, self.embedder.embed([query])[0], corpus.lexical.idf)
        hits = self.answering(corpus)[0].retrieve(analysed, k, doc_ids)
        out = []
        for rank, hit in enumerate(hits, start=1):
            passage = corpus.passages[hit.passage]
            out.append(SearchHit(rank=rank, doc_id=passage.doc_id, title=corpus.documents[passage.doc_id].title,
                                 passage_id=passage.id, start=passage.start, end=passage.end,
                                 text=corpus.passage_text(hit.passage), score=round(hit.score, 5),
                                 lexical_score=round(hit.lexical, 4), dense_score=round(hit.dense, 4)))
        return SearchResponse(query=query, hits=out, took_ms=round((time.perf_counter() - started) * 1000, 2))


__all__ = ["QAService", "StoreUnavailable", "UnsupportedFile", "open_writer"]
