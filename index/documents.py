"""The records ingestion produces and the service reads: documents, passages, sentences.

All offsets are character offsets into `Document.text`, the cleaned text that is stored
and served, so that `document.text[start:end]` is always the quoted string."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable

import msgspec


class Span(msgspec.Struct, frozen=True, array_like=True):
    start: int
    end: int


class Document(msgspec.Struct, kw_only=True):
    id: str
    title: str
    text: str
    source: str
    content_hash: str
    metadata: dict[str, str] = {}


class Passage(msgspec.Struct, kw_only=True):
    id: str
    doc_id: str
    ordinal: int
    start: int
    end: int
    sentences: list[Span]


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def span_id(document: Document, start: int, end: int, repeat: int = 0) -> str:
    """Store id of a span of a document (a passage or a sentence): a hash of the document's id
    and the span's text, so that a new version of the document gives the spans it did not change
    the ids they had, wherever they moved (re-ingest is idempotent, and a replacement writes only
    the rows that changed: Chroma's HNSW index never reuses a deleted row's slot); `repeat`, how
    many spans of the same text came before it in the document (`span_ids`), tells copies apart.
    Two documents with identical text never collide."""
    text = document.text[start:end]
    # The id's length first: no other id and text can make the same string.
    return hashlib.sha256(f"{len(document.id)}:{document.id}:{repeat}:{text}".encode()).hexdigest()[:20]


def span_ids(document: Document, spans: Iterable[tuple[int, int]]) -> list[str]:
    """The ids of a document's passages, or of its sentences, given in text order."""
    seen: Counter[str] = Counter()
    ids = []
    for start, end in spans:
        text = document.text[start:end]
        ids.append(span_id(document, start, end, seen[text]))
        seen[text] += 1
    return ids
