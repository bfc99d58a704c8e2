"""Request and response shapes of the service (msgspec Structs), shared by the HTTP API,
the CLI and the evaluation so that all three see exactly the same answers."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

QuestionText = Annotated[str, Meta(min_length=1, max_length=1000, pattern=r"\S",
                               description="The question, in plain words. Must contain a non-space character.")]
TopK = Annotated[int, Meta(ge=1, le=50, description="How many passages to retrieve.")]
Offset = Annotated[int, Meta(ge=0, description=(
    "Character offset in the stored document text, counted in Unicode code points (as Python indexes "
    "a str), not UTF-16 code units (JavaScript) or bytes."))]
DocId = Annotated[str, Meta(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._-]+$")]


Name = Annotated[str, Meta(min_length=1, max_length=200, pattern=r"\S")]


class Filters(msgspec.Struct, forbid_unknown_fields=True):
    """Which articles a request draws on: every condition given must hold. Dates are the
    articles' publication dates (front matter, sidecar, HTML meta or a dateline), inclusive."""

    doc_ids: list[DocId] | None = None
    published_from: date | None = None
    published_to: date | None = None
    publisher: Annotated[Name | None, Meta(description="The outlet, as in the articles' metadata (any case).")] = None
    author: Annotated[Name | None, Meta(description="Part of an author's name (any case).")] = None
    undated: Annotated[Literal["exclude", "include"], Meta(description=(
        "Whether a date filter keeps articles without a known date (excluded by default; "
        "responses never drop them silently: see docs/api.md, 'Filters')."))] = "exclude"

    def is_empty(self) -> bool:
        return not (self.doc_ids or self.published_from or self.published_to or self.publisher or self.author)


class AskRequest(msgspec.Struct, forbid_unknown_fields=True):
    question: QuestionText
    top_k: TopK | None = None
    filters: Filters | None = None
    conversation_id: Annotated[str, Meta(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")] | None = None


class Citation(msgspec.Struct):
    n: int
    id: str
    doc_id: str
    title: str
    passage_id: str
    start: Offset
    end: Offset
    quote: str
    score: float
    answer_start: Offset | None = None
    answer_end: Offset | None = None
    answer_text: str | None = None


class AnswerSentence(msgspec.Struct):
    text: str
    citation: int


class PassageHit(msgspec.Struct):
    """A retrieved passage: where it is, its text and its score."""

    doc_id: str
    title: str
    passage_id: str
    start: Offset
    end: Offset
    text: str
    score: float


class RelatedPassage(PassageHit):
    """A passage shown when the service abstains."""

    # The sentence closest to answering, when this passage holds it: offsets inside `text`.
    # It may not answer the question (the service abstained); it is shown, never quoted as an answer.
    closest_start: Offset | None = None
    closest_end: Offset | None = None


class AskResponse(msgspec.Struct):
    answered: bool
    answer: str
    sentences: list[AnswerSentence]
    citations: list[Citation]
    confidence: float
    took_ms: float
    related: list[RelatedPassage] = []
    conversation_id: str | None = None
    resolved_question: str | None = None


class SearchHit(PassageHit):
    rank: int
    lexical_score: float
    dense_score: float


class SearchResponse(msgspec.Struct):
    query: str
    hits: list[SearchHit]
    took_ms: float


class DocumentSummary(msgspec.Struct):
    id: str
    title: str
    source: str
    content_hash: str
    passages: int
    characters: int
    metadata: dict[str, str]


class DocumentDetail(DocumentSummary):
    text: str
    highlights: list[HighlightedRange] = []


class DocumentList(msgspec.Struct):
    documents: list[DocumentSummary]
    total: int  # every document that matches (a `limit` lists fewer)
    undated_excluded: int = 0  # documents a date filter left out for having no known date


class ParagraphContext(msgspec.Struct):
    start: int
    end: int
    text: str


class CitationDetail(msgspec.Struct):
    """What GET /citations/{id} returns: the quote at its offsets, with its context."""

    id: str
    doc_id: str
    title: str
    start: int
    end: int
    quote: str  # always document.text[start:end]
    paragraph: ParagraphContext
    quote_start_in_paragraph: int
    quote_end_in_paragraph: int
    previous_sentence: str | None
    next_sentence: str | None
    document_url: str
    metadata: dict[str, str]


class LookupRequest(msgspec.Struct, forbid_unknown_fields=True):
    quote: Annotated[str, Meta(min_length=1, max_length=2000, pattern=r"\S",
                               description="Text copied from anywhere; quote styles, spacing and case may differ.")]
    limit: Annotated[int, Meta(ge=1, le=50, description="Most matches to return.")] = 5
    min_similarity: Annotated[float, Meta(ge=0.5, le=1.0, description="Lowest similarity of a close match.")] = 0.8


class QuoteMatch(msgspec.Struct):
    kind: str  # "exact" (verbatim), "normalized" (quotes/dashes/spacing/case differ), "fuzzy"
    similarity: float
    citation: CitationDetail


class LookupResponse(msgspec.Struct):
    quote: str
    found: bool
    matches: list[QuoteMatch]
    candidates: int  # passages the lexical index proposed and the aligner checked
    took_ms: float
    message: str | None = None


MAX_VERIFY_CHARACTERS = 50_000  # a long feature or a transcript; longer texts are split by the client (413)
MAX_VERIFY_QUOTES = 100  # quotations checked per request (413 beyond)


class VerifyRequest(msgspec.Struct, forbid_unknown_fields=True):
    text: Annotated[str, Meta(min_length=1, pattern=r"\S", description=(
        f"A draft, transcript or report, at most {MAX_VERIFY_CHARACTERS:,} characters (413 beyond)."))]
    mode: Annotated[Literal["quotes", "sentences"], Meta(description=(
        "quotes: every quotation (double, curly, single curly quotes, guillemets, > block quotes); "
        "sentences: every sentence."))] = "quotes"


class TextSpan(msgspec.Struct):
    start: Offset
    end: Offset


ChangeKind = Literal["reversal", "negation", "number", "name", "wording",
                     "spelling", "punctuation", "ellipsis", "brackets", "cut"]


class QuoteChange(msgspec.Struct):
    """One difference between a quotation and its source, and whether editorial convention allows it."""

    draft: Annotated[str, Meta(description="The words as submitted (\"\" when the text left them out).")]
    source: Annotated[str, Meta(description="The words in the article (\"\" when the text added them).")]
    kind: Annotated[ChangeKind, Meta(description=(
        "A misquote: reversal (an antonym or a polarity flip: reluctant/willing, rose/fell), negation, number, "
        "name or wording (any other word added, dropped or replaced). Allowed: spelling (a variant, a typo, "
        "hyphenation), punctuation, ellipsis (an omission marked ... or \u2026 or [\u2026]), brackets (an insertion "
        "or replacement in square brackets), cut (an ellipsis where the quote starts or ends)."))]
    allowed: Annotated[bool, Meta(description=(
        "True for a change a style guide permits (the quote is close); false makes the quote misquoted."))]


class VerifiedQuote(msgspec.Struct):
    start: Offset  # the quotation in the submitted text (marks excluded); parts when split by an attribution
    end: Offset
    parts: list[TextSpan]
    quote: str  # what was looked up: the quoted words (both parts, joined, for a split quote)
    status: Annotated[Literal["exact", "close", "misquoted", "not_found"], Meta(description=(
        "exact: the same words (quote marks, whitespace and letter case aside); close: only changes editorial "
        "convention allows, each in `changes`; misquoted: a word added, dropped or replaced without an ellipsis "
        "or brackets; not_found: no passage of the archive is that close."))]
    similarity: float | None
    source: CitationDetail | None  # the best source: document, offsets, citation id, title, metadata
    changes: list[QuoteChange]  # in the quotation's order; a reversal is the gravest


class VerifyResponse(msgspec.Struct):
    mode: str
    quotes: list[VerifiedQuote]
    counts: dict[str, int]  # quotes per status
    took_ms: float


class HighlightedRange(msgspec.Struct):
    start: int
    end: int
    text: str


class ReadModelFile(msgspec.Struct):
    name: str
    size: int = msgspec.field(name="bytes")


class ReadModelManifest(msgspec.Struct):
    """The read-model version a replica serves: what another replica copies instead of reading
    the whole store (`read_model_peer`)."""

    prefix: str  # the store's collection prefix: a copy is only of the same corpus
    generation: str
    format: str
    files: list[ReadModelFile]  # COMMITTED last
