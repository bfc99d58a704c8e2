"""Quote verification: is each quotation of a submitted text in the archive, word for word,
and where? (POST /citations/verify, `qa verify`, the /verify page.)

Each quotation (`qa.quotations`) is looked up with `qa.lookup` and given a status:
- exact: the source holds it verbatim, up to quote marks, dashes and whitespace;
- close: the same passage with small differences (at most MAX_CLOSE_WORDS words, or letter
  case, or a misspelling), none of which changes a number, a name or a negation;
- misquoted: the passage is there (at least MIN_SHARED of the quote's words, in order, in
  one place) but a number, a name or a negation differs, or more words than a slip would;
- not_found: no passage of the archive is that close.
For close and misquoted quotes a word-level diff says what changed. Two quotations split
by an attribution ("The trade", he said, "reached a record") are checked as one quote
when the source holds them whole, and as two otherwise."""

from __future__ import annotations

import re
import time
from difflib import SequenceMatcher
from typing import NamedTuple

from rapidfuzz.distance import Levenshtein

from qa.corpus import Corpus
from qa.lookup import lookup
from qa.quotations import Quotation, find_quotations, find_sentences
from qa.schemas import (MAX_VERIFY_CHARACTERS, MAX_VERIFY_QUOTES, CitationDetail, LookupResponse, QuoteChange, TextSpan,
                        VerifiedQuote, VerifyResponse)
from qa.textnorm import normalise, unify_marks

STATUSES = ("exact", "close", "misquoted", "not_found")
MIN_SHARED = 0.6  # share of the quote's words found in order at the source, below which it is not found
MAX_CLOSE_WORDS = 2  # differing words a close quote may have (a slip of the pen), beyond: misquoted
MIN_SIMILARITY = 0.6  # the lookup's fuzzy threshold: low, as the word diff decides
# A short quote of common words can rank below many near-copies of its article (syndicated
# wire copy) among the lexical candidates: when it is not found, look wider once.
WIDER_CANDIDATES = 100
WIDER_MAX_CHARACTERS = 200
SPELLING = 0.75  # a replaced word at least this similar (edit distance) to the source word is a misspelling
MAX_ATTRIBUTION = 60  # characters between the two halves of a quote split by "he said"
NUMBER_WORDS = frozenset("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
                          "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty "
                          "ninety hundred thousand million billion trillion dozen half quarter third first second "
                          "percent".split())
NEGATIONS = frozenset("not no never none nothing nobody neither nor cannot without".split())
_TOKEN = re.compile(r"\S+")
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


class _Word(NamedTuple):
    shown: str  # as written, punctuation kept
    key: str  # compared: normalised, lower case, edge punctuation stripped


def _words(text: str) -> list[_Word]:
    out = []
    for match in _TOKEN.finditer(text):
        key = normalise(match[0]).text.strip(_EDGE_PUNCTUATION)
        if key:
            out.append(_Word(match[0], key))
    return out


def _kind(draft: list[_Word], source: list[_Word], first_in_quote: bool) -> str:
    """What a change is about: number, negation, name, spelling or wording."""
    both = draft + source
    if any(any(c.isdigit() for c in w.key) or w.key in NUMBER_WORDS for w in both):
        return "number"
    if any(w.key in NEGATIONS or w.key.endswith("n't") for w in both):
        return "negation"
    if len(draft) == len(source) == 1 and Levenshtein.normalized_similarity(draft[0].key, source[0].key) >= SPELLING:
        return "spelling"
    # A capitalised word that does not merely start the quote is a name (or part of one).
    if any(w.shown.lstrip(_EDGE_PUNCTUATION)[:1].isupper() for w in (draft[1:] if first_in_quote else draft) + source):
        return "name"
    return "wording"


def compare(quote: str, source: str) -> tuple[str, list[QuoteChange]]:
    """The status of `quote` against the source span the lookup found, and the changes."""
    mine, theirs = _words(quote), _words(source)
    if not mine:
        return "not_found", []
    matcher = SequenceMatcher(None, [w.key for w in mine], [w.key for w in theirs], autojunk=False)
    shared = sum(block.size for block in matcher.get_matching_blocks())
    if shared / len(mine) < MIN_SHARED:
        return "not_found", []
    changes = [QuoteChange(draft=" ".join(w.shown for w in mine[i1:i2]),
                           source=" ".join(w.shown for w in theirs[j1:j2]),
                           kind=_kind(mine[i1:i2], theirs[j1:j2], first_in_quote=i1 == 0))
               for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]
    changed_words = sum(max(len(c.draft.split()), len(c.source.split())) for c in changes
                        if c.kind != "spelling")
    serious = any(c.kind in ("number", "negation", "name") for c in changes)
    return ("misquoted" if serious or changed_words > MAX_CLOSE_WORDS else "close"), changes


def _verbatim_but_for_marks(quote: str, source: str) -> bool:
    """Equal once quote marks, dashes and whitespace are normalised. Letter case counts, but
    for the first letter: a quotation taken from mid-sentence is capitalised by convention."""
    def unified(text: str) -> str:
        text = unify_marks(text)
        return text[:1].lower() + text[1:]
    return unified(quote) == unified(source)


def _verdict(searched: str, found: LookupResponse) -> Verdict:
    if not found.matches:
        return NOT_FOUND
    match = found.matches[0]
    source = match.citation.quote
    if match.kind == "exact" or (match.kind == "normalized" and _verbatim_but_for_marks(searched, source)):
        return Verdict("exact", 1.0, match.citation, [])
    status, changes = compare(searched, source)
    return NOT_FOUND if status == "not_found" else Verdict(status, match.similarity, match.citation, changes)


def check(corpus: Corpus, searched: str) -> Verdict:
    """The verdict on one quote: its status, the best source and what differs from it."""
    verdict = _verdict(searched, lookup(corpus, searched, limit=1, min_similarity=MIN_SIMILARITY))
    if verdict.status == "not_found" and len(searched) <= WIDER_MAX_CHARACTERS:
        wider = lookup(corpus, searched, limit=1, min_similarity=MIN_SIMILARITY, candidates=WIDER_CANDIDATES)
        verdict = _verdict(searched, wider)
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
            if verdict.status == "close" and not verdict.changes:
                # Only punctuation differs, and the comma at the split belongs to the attribution.
                verdict = verdict._replace(status="exact")
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
