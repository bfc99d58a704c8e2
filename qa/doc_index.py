"""Views of a corpus that citation lookups and filters need: a document by its content hash,
a document's sentences in text order, the lexical index's vocabulary, and the
metadata that filters compare, as columns.

Built once per corpus (the corpus is immutable and replaced as a whole on reload), so a
lookup never scans all passages."""

from __future__ import annotations

import threading
import weakref
from datetime import date

import numpy as np

from index.bylines import parse_date
from index.documents import Document, Span
from qa.corpus import Corpus

HASH_PREFIX = 16  # hex characters of the content hash that name a document version
UNDATED = 0  # the date column of documents without a (readable) date; real dates are ordinals >= 1


class MetadataColumns:
    """Per-document columns of the metadata that filters compare, indexed by the corpus's
    document codes (`Corpus.doc_code`)."""

    def __init__(self, corpus: Corpus) -> None:
        documents = [corpus.documents[doc_id] for doc_id in corpus.doc_code]
        self.doc_ids = np.array(list(corpus.doc_code), dtype=object)
        self.published = np.array([_ordinal(d.metadata.get("date")) for d in documents], dtype=np.int32)
        self.publishers = np.array([d.metadata.get("publisher", "").strip().casefold() for d in documents], dtype=object)
        self.authors = [d.metadata.get("author", "").casefold() for d in documents]


def _ordinal(value: str | None) -> int:
    iso = parse_date(value) if value else None
    return date.fromisoformat(iso).toordinal() if iso else UNDATED


class DocumentIndex:
    def __init__(self, corpus: Corpus) -> None:
        self.by_hash: dict[str, str] = {}
        for doc_id in sorted(corpus.documents):  # identical texts: the smallest id answers, always the same one
            self.by_hash.setdefault(corpus.documents[doc_id].content_hash[:HASH_PREFIX], doc_id)
        vocabulary = corpus.lexical.vocabulary()
        self.known_terms = frozenset(vocabulary)
        self.terms_by_length: dict[int, list[str]] = {}  # a word n edits away is at most n letters longer or shorter
        for term in vocabulary:
            self.terms_by_length.setdefault(len(term), []).append(term)
        self.metadata = MetadataColumns(corpus)
        self._corpus = weakref.ref(corpus)

    def document_by_hash(self, prefix: str) -> Document | None:
        corpus = self._corpus()
        doc_id = self.by_hash.get(prefix)
        return corpus.documents[doc_id] if corpus is not None and doc_id is not None else None

    def sentences(self, doc_id: str) -> list[Span]:
        """The document's sentence spans in text order (as ingestion split them)."""
        corpus = self._corpus()
        if corpus is None or not (rows := corpus.doc_passages(doc_id)):
            return []
        first, last = corpus.sentence_bounds[rows.start], corpus.sentence_bounds[rows.stop]
        return [Span(a, b) for a, b in corpus.sentence_columns[first:last].tolist()]


_lock = threading.Lock()
_cached: tuple[weakref.ref, DocumentIndex] | None = None


def document_index(corpus: Corpus) -> DocumentIndex:
    """The index of this corpus, built on first use. Only the latest corpus is kept: the
    service serves one at a time, and an old one must not stay alive through the cache."""
    global _cached
    with _lock:
        if _cached is None or _cached[0]() is not corpus:
            _cached = (weakref.ref(corpus), DocumentIndex(corpus))
        return _cached[1]
