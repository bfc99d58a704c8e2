"""Quote verification: is each quotation of a submitted text in the archive, word for word,
and where? (POST /citations/verify, `qa verify`, the /verify page.)

Each quotation (`qa.quotations`) is looked up with `qa.lookup` (its words alone: an ellipsis
or a bracketed insertion is the editor's, not the source's) and given a status by editorial
convention (`qa.quote_diff`):
- exact: the source holds the same words, up to quote marks, dashes, whitespace and case;
- close: only changes a style guide allows, each named: spelling, punctuation, an omission
  marked with an ellipsis, an insertion or replacement in square brackets, a cut at an end;
- misquoted: the passage is there (at least MIN_SHARED of the quote's words, in order, in one
  place) but a word is added, dropped or replaced without those marks, named as a reversal,
  a negation, a number, a name or wording;
- not_found: no passage of the archive is that close.
Two quotations split by an attribution ("The trade", he said, "reached a record") are checked
as one quote when the source holds them whole, and as two otherwise."""

from __future__ import annotations

import re
import time
from typing import NamedTuple

from qa.citations import detail_in_corpus
from qa.corpus import Corpus
from qa.lookup import lookup
from qa.quotations import Quotation, find_quotations, find_sentences
from qa.quote_diff import compare, source_span, tokens, without_marks
from qa.schemas import (MAX_VERIFY_CHARACTERS, MAX_VERIFY_QUOTES, CitationDetail, LookupResponse, QuoteChange, TextSpan,
                        VerifiedQuote, VerifyResponse)

STATUSES = ("exact", "close", "misquoted", "not_found")
MIN_SIMILARITY = 0.6  # the lookup's fuzzy threshold: low, as the word diff decides
MARKED_MATCHES = 3  # a marked quote's best matches, of which the word diff takes the least misquoted
# A short quote of common words can rank below many near-copies of its article (syndicated
# wire copy) among the lexical candidates: when it is not found, look wider once.
WIDER_CANDIDATES = 100
WIDER_MAX_CHARACTERS = 200
MAX_ATTRIBUTION = 60  # characters between the two halves of a quote split by "he said"
# What may stand between the halves of a quote split by its attribution: up to six words ("he said").
_ATTRIBUTION = re.compile(r"^[\s,;:\u2014\u2013-]*(?:[\w.'\u2019-]+\s+){0,5}[\w.'\u2019-]+[\s,;:\u2014\u2013-]*$")
_EDGE_PUNCTUATION = "\"'.,;:!?()[]{}\u2018\u2019\u201c\u201d\u00ab\u00bb"


class TooMuchToVerify(ValueError):
    """The text is over MAX_VERIFY_CHARACTERS or holds more than MAX_VERIFY_QUOTES quotations."""


class Verdict(NamedTuple):
    status: str
    similarity: float | None
    source: CitationDetail | None
    changes: list[QuoteChange]


NOT_FOUND = Verdict("not_found", None, None, [])


def _verdict(corpus: Corpus, searched: str, found: LookupResponse) -> Verdict:
    """The best verdict among the lookup's matches: an exact one, or the one the word diff finds
    the fewest misquoting changes in (near-copies of an article rank alike)."""
    marked = any(t.mark for t in tokens(searched))
    best = NOT_FOUND
    for match in found.matches:
        source = match.citation
        if match.kind in ("exact", "normalized") and not marked:
            return Verdict("exact", 1.0, source, [])
        document = corpus.documents[source.doc_id]
        span = source_span(searched, document.text, source.start, source.end) or (source.start, source.end)
        status, changes = compare(searched, document.text[span[0] : span[1]])
        if status != "not_found" and (best is NOT_FOUND or _misquotes(changes) < _misquotes(best.changes)):
            if span != (source.start, source.end):
                source = detail_in_corpus(corpus, document, *span)
            best = Verdict(status, match.similarity, source, changes)
    return best


def _misquotes(changes: list[QuoteChange]) -> int:
    return sum(not c.allowed for c in changes)


def check(corpus: Corpus, searched: str) -> Verdict:
    """The verdict on one quote: its status, the best source and what differs from it."""
    words = without_marks(searched)
    if not words:
        return NOT_FOUND
    verdict = _verdict(corpus, searched, lookup(corpus, words, limit=1, min_similarity=MIN_SIMILARITY))
    if verdict.status == "misquoted" and words != searched:
        # A quote with an ellipsis aligns as well with a near-copy of its article (wire copy) as with
        # the article: the diff chooses among the best few. Others are not worth a second lookup.
        verdict = _verdict(corpus, searched, lookup(corpus, words, limit=MARKED_MATCHES, min_similarity=MIN_SIMILARITY))
    if verdict.status == "not_found" and len(words) <= WIDER_MAX_CHARACTERS:
        wider = lookup(corpus, words, limit=1, min_similarity=MIN_SIMILARITY, candidates=WIDER_CANDIDATES)
        verdict = _verdict(corpus, searched, wider)
    return verdict


def _split_by_attribution(text: str, first: Quotation, second: Quotation) -> bool:
    """The gap between two quotations is only an attribution (", he said, ")."""
    gap = text[first.end : second.start].strip(_EDGE_PUNCTUATION.replace(",", "") + " ")
    return (not first.block and not second.block and second.start - first.end <= MAX_ATTRIBUTION
            and "," in text[first.end - 1 : second.start] and bool(_ATTRIBUTION.match(gap)))


def _result(parts: list[Quotation], searched: str, verdict: Verdict) -> VerifiedQuote:
    return VerifiedQuote(start=parts[0].start, end=parts[-1].end, parts=[TextSpan(p.start, p.end) for p in parts],
                         quote=searched, status=verdict.status, similarity=verdict.similarity, source=verdict.source,
                         changes=verdict.changes)


def verify(corpus: Corpus, text: str, mode: str = "quotes") -> VerifyResponse:
    """Every quotation of `text` (mode "quotes") or every sentence (mode "sentences"), checked."""
    started = time.perf_counter()
    if len(text) > MAX_VERIFY_CHARACTERS:
        raise TooMuchToVerify(f"the text has {len(text):,} characters; at most {MAX_VERIFY_CHARACTERS:,} are "
                              "verified per request: split it")
    quotations = find_quotations(text) if mode == "quotes" else find_sentences(text)
    if len(quotations) > MAX_VERIFY_QUOTES:
        raise TooMuchToVerify(f"the text holds {len(quotations)} {mode}; at most {MAX_VERIFY_QUOTES} are verified "
                              "per request: split it")
    results: list[VerifiedQuote] = []
    position = 0
    while position < len(quotations):
        current = quotations[position]
        following = quotations[position + 1] if position + 1 < len(quotations) else None
        if mode == "quotes" and following is not None and _split_by_attribution(text, current, following):
            joined = f"{current.searched} {following.searched}"
            verdict = check(corpus, joined)
            if verdict.status == "close" and all(c.kind == "punctuation" for c in verdict.changes):
                # The comma at the split belongs to the attribution.
                verdict = verdict._replace(status="exact", changes=[])
            if verdict.status in ("exact", "close"):
                results.append(_result([current, following], joined, verdict))
                position += 2
                continue
        verdict = check(corpus, current.searched)
        results.append(_result([current], current.searched, verdict))
        position += 1
    counts = {status: sum(r.status == status for r in results) for status in STATUSES}
    return VerifyResponse(mode=mode, quotes=results, counts=counts,
                          took_ms=round((time.perf_counter() - started) * 1000, 2))
