"""Citation ids and what a citation resolves to.

An id names a span of a document *version*, not of a file: `{hash16}-{start}-{end}`, the
first 16 hex characters of the sha256 of the stored text and the character offsets. It
stays valid across restarts, re-ingest of the same text and even renamed files, and it
stops resolving (404) when the text it quoted is no longer in the corpus."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence

import msgspec

from index.documents import Document, Span
from qa.corpus import Corpus
from qa.doc_index import HASH_PREFIX, document_index
from qa.schemas import CitationDetail, ParagraphContext

_ID = re.compile(rf"([0-9a-f]{{{HASH_PREFIX}}})-(\d{{1,9}})-(\d{{1,9}})", re.ASCII)


class CitationRef(msgspec.Struct, frozen=True):
    hash_prefix: str
    start: int
    end: int


class CitationNotFound(Exception):
    """The id is malformed, or names a span that is not in the current corpus."""


def citation_id(content_hash: str, start: int, end: int) -> str:
    return f"{content_hash[:HASH_PREFIX]}-{start}-{end}"


def parse_citation_id(value: str) -> CitationRef | None:
    match = _ID.fullmatch(value)
    if match is None:
        return None
    ref = CitationRef(match[1], int(match[2]), int(match[3]))
    return ref if ref.start < ref.end else None


def _covering_paragraph(text: str, start: int, end: int) -> Span:
    """The paragraph holding the span; all the paragraphs it touches when it runs across several.

    Stored paragraphs are separated by exactly one blank line ("\\n\\n", see
    `index.splitting.paragraph_spans`); searching outwards from the span costs only the
    paragraph's length, however long the document."""
    before = text.rfind("\n\n", 0, start)
    after = text.find("\n\n", end)
    first, last = (before + 2 if before >= 0 else 0), (after if after >= 0 else len(text))
    while first < start and text[first].isspace():
        first += 1
    while last > end and text[last - 1].isspace():
        last -= 1
    return Span(first, last)


def citation_detail(document: Document, sentences: Sequence[Span], start: int, end: int) -> CitationDetail:
    """Everything a reader needs to check a quote: the exact text, the paragraph it sits in
    with its position there, and the sentences just before and after it.

    `sentences` are the document's sentence spans in order. A quote that starts or ends
    inside a sentence gets the sentence before (after) that one as its neighbour."""
    text = document.text
    paragraph = _covering_paragraph(text, start, end)
    before = bisect_right([s.end for s in sentences], start) - 1
    after = bisect_left([s.start for s in sentences], end)
    previous = sentences[before] if before >= 0 else None
    following = sentences[after] if after < len(sentences) else None
    return CitationDetail(
        id=citation_id(document.content_hash, start, end), doc_id=document.id, title=document.title,
        start=start, end=end, quote=text[start:end],
        paragraph=ParagraphContext(start=paragraph.start, end=paragraph.end,
                                   text=text[paragraph.start : paragraph.end]),
        quote_start_in_paragraph=start - paragraph.start, quote_end_in_paragraph=end - paragraph.start,
        previous_sentence=text[previous.start : previous.end] if previous else None,
        next_sentence=text[following.start : following.end] if following else None,
        document_url=f"/documents/{document.id}?highlight={start}-{end}",
        metadata={**document.metadata, "source": document.source, "content_hash": document.content_hash},
    )


def detail_in_corpus(corpus: Corpus, document: Document, start: int, end: int) -> CitationDetail:
    return citation_detail(document, document_index(corpus).sentences(document.id), start, end)


def resolve(corpus: Corpus, value: str) -> CitationDetail:
    """The citation an id names in this corpus; CitationNotFound says why there is none."""
    ref = parse_citation_id(value)
    if ref is None:
        raise CitationNotFound(f"{value!r} is not a citation id (expected <16 hex digits>-<start>-<end>, start < end)")
    document = document_index(corpus).document_by_hash(ref.hash_prefix)
    if document is None:
        raise CitationNotFound(f"citation {value!r} names a document version that is not in the corpus "
                               "(the article was changed or deleted)")
    if ref.end > len(document.text):
        raise CitationNotFound(f"citation {value!r} runs past the end of document {document.id!r} "
                               f"({len(document.text)} characters)")
    return detail_in_corpus(corpus, document, ref.start, ref.end)
