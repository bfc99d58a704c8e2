"""The records ingestion produces and the service reads: documents, passages, sentences.

All offsets are character offsets into `Document.text`, the cleaned text that is stored
and served, so that `document.text[start:end]` is always the quoted string."""

from __future__ import annotations

import hashlib

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


def span_id(document: Document, start: int, end: int) -> str:
    """Store id of a span of one document version: the same document and text give the same
    id (re-ingest is idempotent); two documents with identical text never collide."""
    return hashlib.sha256(f"{document.id}:{document.content_hash}:{start}:{end}".encode()).hexdigest()[:20]
