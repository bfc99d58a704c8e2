"""Metadata filters: which documents a request may draw on ("what did the minister say about
X in 2023?"), by id, publication date range, publisher and author.

The metadata is read into columns once per corpus (`qa.doc_index.MetadataColumns`), so a
filter is a few vectorised comparisons, not a scan of every document's metadata per request.
A document without a readable date is "undated": a date filter leaves it out unless
`undated="include"`, and says how many it left out."""

from __future__ import annotations

from datetime import date

import numpy as np

from qa.corpus import Corpus
from qa.doc_index import UNDATED, document_index
from qa.schemas import Filters


class UnknownDocuments(LookupError):
    """A filter names documents the corpus does not hold, or matches none (404)."""


def _some(ids: list[str], shown: int = 5) -> str:
    """The first few ids and how many in all: a message never lists thousands of them."""
    named = ", ".join(map(repr, ids[:shown]))
    return f"{named} and {len(ids) - shown:,} more ({len(ids):,} ids in all)" if len(ids) > shown else named


class Selection:
    """The documents a filter keeps, and how many dated-filter misses were undated."""

    def __init__(self, doc_ids: list[str] | None, undated_excluded: int = 0) -> None:
        self.doc_ids = doc_ids  # None: no filter, every document
        self.undated_excluded = undated_excluded


def select(corpus: Corpus, filters: Filters | None) -> Selection:
    """The documents matching `filters`. Ids the corpus does not hold raise UnknownDocuments:
    a filter on a typo would otherwise quietly search nothing."""
    if filters is None or filters.is_empty():
        return Selection(None)
    if unknown := [d for d in filters.doc_ids or [] if d not in corpus.documents]:
        raise UnknownDocuments(f"no document with id {_some(unknown)} (see GET /documents)")
    columns = document_index(corpus).metadata
    keep = ~corpus.columns.removed  # the columns are by document code, removed documents' too
    if filters.doc_ids:
        named = np.zeros(len(columns.doc_ids), dtype=bool)
        named[[corpus.doc_code[d] for d in filters.doc_ids]] = True
        keep &= named
    undated_excluded = 0
    if filters.published_from or filters.published_to:
        low = filters.published_from.toordinal() if filters.published_from else 1
        high = filters.published_to.toordinal() if filters.published_to else date.max.toordinal()
        undated = columns.published == UNDATED
        if filters.undated == "exclude":
            undated_excluded = int((keep & undated).sum())
        keep &= ((columns.published >= low) & (columns.published <= high)) | (undated & (filters.undated == "include"))
    if filters.publisher:
        keep &= columns.publishers == filters.publisher.strip().casefold()
    if filters.author:
        wanted = filters.author.strip().casefold()
        keep &= np.fromiter((wanted in names for names in columns.authors), dtype=bool, count=len(columns.authors))
    return Selection(columns.doc_ids[keep].tolist(), undated_excluded)


def describe(filters: Filters) -> str:
    """The filter in words, for the message when it matches nothing."""
    parts = []
    if filters.doc_ids:
        parts.append(f"ids {_some(filters.doc_ids)}")
    if filters.published_from or filters.published_to:
        parts.append(f"published {filters.published_from or '…'} to {filters.published_to or '…'}")
    if filters.publisher:
        parts.append(f"publisher {filters.publisher!r}")
    if filters.author:
        parts.append(f"author {filters.author!r}")
    return "; ".join(parts)


def latest_first(corpus: Corpus, ids: list[str]) -> list[str]:
    """`ids` newest first: by publication date, then (same day, or undated, which come last)
    the one added to the archive later first (a later document code)."""
    published = document_index(corpus).metadata.published
    codes = np.array([corpus.doc_code[i] for i in ids], dtype=np.int64)
    order = np.lexsort((-codes, -published[codes].astype(np.int64))) if len(ids) else []
    return [ids[k] for k in order]
