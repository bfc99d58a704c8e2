"""Views of a corpus that citation lookups and filters need: a document by its content hash,
a document's sentences in text order, the lexical index's vocabulary, and the
metadata that filters compare, as columns.

Built once per corpus (the corpus is immutable and replaced as a whole on reload), so a
lookup never scans all passages; after an upload, from the index of the version before."""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Sequence
from datetime import date

import numpy as np

from index.bylines import parse_date
from index.documents import Document, Span
from qa.corpus import Corpus

HASH_PREFIX = 16  # hex characters of the content hash that name a document version
UNDATED = 0  # the date column of documents without a (readable) date; real dates are ordinals >= 1


class MetadataColumns:
    """Per-document columns of the metadata that filters compare, indexed by the corpus's
    document codes (`Corpus.doc_code`): those of `previous` (the columns of an earlier version
    that this corpus extends, see `Corpus.extends`), but for the codes `removed` since, which
    are blank as the removed documents now are, then those of the documents added since."""

    def __init__(self, corpus: Corpus, previous: MetadataColumns | None = None, removed: Sequence[int] = ()) -> None:
        first = len(previous.doc_ids) if previous is not None else 0
        documents = corpus.columns.documents[first:]  # by code: removed documents' too (filters leave them out)
        doc_ids = np.array(corpus.doc_ids[first:], dtype=object)
        published = np.array([_ordinal(d.metadata.get("date")) for d in documents], dtype=np.int32)
        publishers = np.array([d.metadata.get("publisher", "").strip().casefold() for d in documents], dtype=object)
        authors = [d.metadata.get("author", "").casefold() for d in documents]
        if previous is not None:
            doc_ids, published, publishers = (np.concatenate([before, after]) for before, after in (
                (previous.doc_ids, doc_ids), (previous.published, published), (previous.publishers, publishers)))
            authors = previous.authors + authors
        for code in removed:
            published[code], publishers[code], authors[code] = UNDATED, "", ""
        self.doc_ids, self.published, self.publishers, self.authors = doc_ids, published, publishers, authors


@functools.lru_cache(maxsize=1 << 16)  # an archive's documents share a few thousand dates
def _ordinal(value: str | None) -> int:
    iso = parse_date(value) if value else None
    return date.fromisoformat(iso).toordinal() if iso else UNDATED


class DocumentIndex:
    """Built for one corpus version; from the index of an earlier version when this one only
    adds documents to it or marks some removed (an upload, a correction, a deletion), so that
    an archive's first filtered request after a write does not wait for every document's
    metadata and every word to be read again."""

    def __init__(self, corpus: Corpus, previous: DocumentIndex | None = None) -> None:
        since = corpus.removed_since(previous.lineage) if previous is not None else None
        if since is None:
            previous = None
        first = len(previous.metadata.doc_ids) if previous is not None else 0
        # Content hash prefix -> the documents with that text (identical texts share one). The
        # previous index's sets are shared, so a set is copied before it is changed.
        self.by_hash: dict[str, set[str]] = dict(previous.by_hash) if previous is not None else {}
        copied: set[str] = set()

        def documents_with(prefix: str) -> set[str]:
            if prefix not in copied:
                self.by_hash[prefix] = set(self.by_hash.get(prefix, ()))
                copied.add(prefix)
            return self.by_hash[prefix]

        for code in since.tolist() if since is not None else []:
            document = corpus.columns.documents[code]
            documents_with(document.content_hash[:HASH_PREFIX]).discard(document.id)
        for code, document in enumerate(corpus.columns.documents[first:], start=first):
            if corpus.doc_code.get(document.id) == code:  # not removed
                documents_with(document.content_hash[:HASH_PREFIX]).add(document.id)
        for prefix in copied:
            if not self.by_hash[prefix]:
                del self.by_hash[prefix]
        # Every word of the vocabulary, by length (a word n edits away is at most n letters longer
        # or shorter); whether the corpus still holds one is the lexical index's to say.
        vocabulary = corpus.columns.vocabulary
        self.vocabulary_size = len(vocabulary)
        seen = previous.vocabulary_size if previous is not None else 0
        self.terms_by_length: dict[int, list[str]] = \
            {length: list(words) for length, words in previous.terms_by_length.items()} if previous is not None else {}
        for term in vocabulary[seen:]:
            self.terms_by_length.setdefault(len(term), []).append(term)
        self.metadata = MetadataColumns(corpus, previous.metadata, since.tolist()) if previous is not None else \
            MetadataColumns(corpus)
        self.lineage = corpus.lineage
        self._corpus = weakref.ref(corpus)

    def knows(self, term: str) -> bool:
        """Whether the corpus holds the word (analysed)."""
        corpus = self._corpus()
        return corpus is not None and corpus.lexical.knows(term)

    def document_by_hash(self, prefix: str) -> Document | None:
        """The document with this content hash prefix (of identical texts, the smallest id,
        always the same one)."""
        corpus = self._corpus()
        doc_ids = self.by_hash.get(prefix)
        return corpus.documents[min(doc_ids)] if corpus is not None and doc_ids else None

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
            _cached = (weakref.ref(corpus), DocumentIndex(corpus, _cached[1] if _cached else None))
        return _cached[1]
