"""Finding where a quote comes from: candidates from the BM25 index, then alignment.

The quote's content words select a few candidate passages (fast at any corpus size);
each candidate, widened by its neighbouring passages so that quotes running across a
passage boundary are found too, is searched in three tiers:
- exact: the quote occurs verbatim; every occurrence is reported;
- normalized: it occurs once quote marks, dashes, spacing and case are normalised
  (`qa.textnorm`), and the occurrence is mapped back to its original offsets;
- fuzzy: otherwise rapidfuzz locates the most similar neighbourhood in every window
  (fast, and it rules most windows out), and an exact edit-distance alignment on the
  best few finds the span, so that typos and missing words still land on the right words.
Matches are ordered exact, normalized, then fuzzy by similarity. Later tiers only run
while the earlier ones have found fewer matches than asked for. When the quote is not
found as written and some of its words are not in the index, they are taken for typos
(or words cut in half) and the search runs once more with the indexed words closest to them."""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, Levenshtein

from index.documents import Document
from index.lexical import terms
from qa.citations import detail_in_corpus
from qa.corpus import Corpus
from qa.doc_index import DocumentIndex, document_index
from qa.schemas import LookupResponse, QuoteMatch
from qa.textnorm import Normalised, normalise, strip_span

CANDIDATES = 20  # passages checked per quote: enough for a phrase repeated across many articles
RESPELT_TERMS = 4  # unknown words per quote matched against the vocabulary (each costs a scan of part of it)
BOUNDARY_SLACK = 2  # characters a fuzzy match's ends may move to settle ties
# Fuzzy alignment costs quote length × window length per window (a 2,000-character quote took
# 133 ms per window): longer quotes are looked up exactly and normalised only.
MAX_FUZZY_QUOTE = 400
KIND_ORDER = {"exact": 0, "normalized": 1, "fuzzy": 2}


class _Found(NamedTuple):
    document: Document
    start: int
    end: int
    kind: str
    similarity: float
    rank: int

    def key(self) -> tuple[int, float, int, int]:
        return KIND_ORDER[self.kind], -self.similarity, self.rank, self.start


class _Window(NamedTuple):
    document: Document
    start: int
    end: int
    rank: int  # the best BM25 rank among the candidate passages it covers


class _Near(NamedTuple):
    """A window whose neighbourhood resembles the quote, before exact alignment."""

    window: _Window
    text: Normalised
    score: float  # rapidfuzz similarity (0-100) of the neighbourhood
    start: int  # the neighbourhood, in the normalised text
    end: int


def respelt(query: list[str], index: DocumentIndex) -> list[str]:
    """For query terms the index lacks (usually typos), the indexed terms one edit away (two
    for longer words; swapping two letters is one edit), so that a misspelt rare word still
    finds its passage."""
    unknown = sorted((t for t in query if not index.knows(t) and len(t) >= 4), key=len, reverse=True)
    out: list[str] = []
    for term in unknown[:RESPELT_TERMS]:
        edits = 1 if len(term) < 7 else 2
        close = [found for length in range(len(term) - edits, len(term) + edits + 1)
                 for found in process.extract(term, index.terms_by_length.get(length, []), scorer=OSA.distance,
                                              score_cutoff=edits, limit=3) if index.knows(found[0])]
        out.extend(match for match, _, _ in sorted(close, key=lambda found: found[1])[:3])
    return out


def candidate_passages(corpus: Corpus, query: list[str], n: int = CANDIDATES) -> list[int]:
    """Passage rows with the best BM25 scores for the query terms, best first."""
    if not query or not len(corpus.passages):
        return []
    scores = corpus.lexical.scores(query)
    n = min(n, len(scores))
    top = np.argpartition(-scores, n - 1)[:n]
    top = top[np.argsort(-scores[top], kind="stable")]
    return [int(r) for r in top[scores[top] > 0]]


def _window(corpus: Corpus, row: int, quote_length: int) -> tuple[int, int]:
    """The candidate passage and its neighbours, one on each side and more while the window
    is shorter than twice the quote, as offsets into the document. A document's passages
    are consecutive rows in text order."""
    code = int(corpus.passage_doc[row])
    lowest, highest = int(corpus.doc_passage_bounds[code]), int(corpus.doc_passage_bounds[code + 1]) - 1
    start, end = corpus.passage_columns[:, 1], corpus.passage_columns[:, 2]
    first, last = max(row - 1, lowest), min(row + 1, highest)
    while (first > lowest or last < highest) and end[last] - start[first] < 2 * quote_length:
        first, last = max(first - 1, lowest), min(last + 1, highest)
    return int(start[first]), int(end[last])


def _windows(corpus: Corpus, rows: list[int], quote_length: int) -> list[_Window]:
    """One window per candidate passage, merged where candidates of a document are neighbours
    (so no place is searched twice), best rank first."""
    by_doc: dict[str, list[list[int]]] = {}
    for rank, row in enumerate(rows):
        by_doc.setdefault(corpus.doc_ids[int(corpus.passage_doc[row])], []).append(
            [*_window(corpus, row, quote_length), rank])
    out = []
    for doc_id, spans in by_doc.items():
        spans.sort()
        merged = [spans[0]]
        for start, end, rank in spans[1:]:
            if start < merged[-1][1]:
                merged[-1] = [merged[-1][0], max(merged[-1][1], end), min(merged[-1][2], rank)]
            else:
                merged.append([start, end, rank])
        out.extend(_Window(corpus.documents[doc_id], start, end, rank) for start, end, rank in merged)
    return sorted(out, key=lambda w: w.rank)


def _verbatim(window: _Window, quote: str) -> list[_Found]:
    text, found = window.document.text, []
    at = text.find(quote, window.start, window.end)
    while at >= 0:
        found.append(_Found(window.document, at, at + len(quote), "exact", 1.0, window.rank))
        at = text.find(quote, at + 1, window.end)
    return found


def _normalized(window: _Window, text: Normalised, quote: str) -> list[_Found]:
    """Occurrences once quote marks, dashes, spacing and case are set aside."""
    found, at = [], text.text.find(quote)
    while at >= 0:
        start, end = text.span(at, at + len(quote))
        found.append(_Found(window.document, window.start + start, window.start + end, "normalized", 1.0, window.rank))
        at = text.text.find(quote, at + 1)
    return found


def _near(window: _Window, text: Normalised, quote: str, min_similarity: float) -> _Near | None:
    if len(quote) >= len(text.text):
        return _Near(window, text, fuzz.ratio(quote, text.text), 0, len(text.text))
    aligned = fuzz.partial_ratio_alignment(quote, text.text, score_cutoff=100 * min_similarity - 5)
    return None if aligned is None else _Near(window, text, aligned.score, aligned.dest_start, aligned.dest_end)


def _closest_substring(quote: str, text: str) -> tuple[int, int]:
    """The span of `text` at the least edit distance from `quote` (semi-global alignment:
    text before and after the span is free). One vectorised row per quote character."""
    q = np.frombuffer(quote.encode("utf-32-le"), dtype=np.uint32)
    t = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    differs = (q[:, None] != t[None, :]).astype(np.int32)
    columns = np.arange(len(t) + 1, dtype=np.int32)
    table = np.zeros((len(q) + 1, len(t) + 1), dtype=np.int32)
    row = np.empty(len(t) + 1, dtype=np.int32)
    for i in range(1, len(q) + 1):
        above = table[i - 1]
        np.minimum(above[:-1] + differs[i - 1], above[1:] + 1, out=row[1:])
        row[0] = i
        # Insertions chain along the row: D[j] = min(row[j], D[j-1] + 1) = j + min_{k<=j}(row[k] - k).
        row -= columns
        np.minimum.accumulate(row, out=table[i])
        table[i] += columns
    end = int(np.argmin(table[-1]))
    i, j = len(q), end
    while i > 0:
        if j > 0 and table[i, j] == table[i - 1, j - 1] + differs[i - 1, j - 1]:
            i, j = i - 1, j - 1
        elif table[i, j] == table[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    return j, end


def _fit(quote: str, text: str, start: int, end: int) -> tuple[float, int]:
    """How well text[start:end] matches the quote: similarity, then (to break ties) how
    many of its ends fall on word boundaries."""
    boundaries = (start == 0 or not text[start - 1].isalnum()) + (end == len(text) or not text[end].isalnum())
    return Levenshtein.normalized_similarity(quote, text[start:end]), boundaries


def _fuzzy(near: _Near, quote: str, min_similarity: float) -> _Found | None:
    """The most similar span in the neighbourhood, at its original offsets."""
    text = near.text.text
    slack = max(8, len(quote) // 4)  # the neighbourhood is as long as the quote: the match may be longer
    offset = max(0, near.start - slack)
    start, end = _closest_substring(quote, text[offset : near.end + slack])
    start, end = offset + start, offset + end
    # Equally close spans (a typo at either end) are told apart by their fit to word boundaries.
    spans = [(a, b) for a in range(max(0, start - BOUNDARY_SLACK), start + BOUNDARY_SLACK + 1)
             for b in range(max(a + 1, end - BOUNDARY_SLACK), min(len(text), end + BOUNDARY_SLACK) + 1)]
    start, end = max(spans, key=lambda span: _fit(quote, text, *span))
    similarity = Levenshtein.normalized_similarity(quote, text[start:end])
    if similarity < min_similarity:
        return None
    start, end = near.text.span(start, end)
    document, base = near.window.document, near.window.start
    start, end = strip_span(document.text, base + start, base + end)
    return _Found(document, start, end, "fuzzy", round(similarity, 4), near.window.rank) if start < end else None


def _close_matches(windows: list[_Window], quote: str, wanted: int, min_similarity: float,
                   fuzzy: bool) -> list[_Found]:
    """Normalized matches in every window, then (if `fuzzy`) fuzzy ones from the most promising
    windows until `wanted` matches are found."""
    found: list[_Found] = []
    near: list[_Near] = []
    for window in windows:
        text = normalise(window.document.text[window.start : window.end])
        same = _normalized(window, text, quote)
        found.extend(same)
        if fuzzy and not same and (candidate := _near(window, text, quote, min_similarity)) is not None:
            near.append(candidate)
    for candidate in sorted(near, key=lambda n: -n.score):  # stable: BM25 order among equals
        if len(found) >= wanted:
            break
        if (match := _fuzzy(candidate, quote, min_similarity)) is not None:
            found.append(match)
    return found


def _search(corpus: Corpus, rows: list[int], quote: str, normal_quote: str, limit: int,
            min_similarity: float) -> list[_Found]:
    windows = _windows(corpus, rows, len(quote))
    verbatim = [_verbatim(window, quote) for window in windows]
    found = [f for hits in verbatim for f in hits]
    if len(found) < limit:  # close matches rank after verbatim ones: only needed when those are too few
        rest = [window for window, hits in zip(windows, verbatim) if not hits]
        found += _close_matches(rest, normal_quote, limit - len(found), min_similarity,
                                fuzzy=len(normal_quote) <= MAX_FUZZY_QUOTE)
    return _best(found, limit)


def _best(found: list[_Found], limit: int) -> list[_Found]:
    """The best matches, skipping any that overlaps a better one in the same document (the
    same place reached through windows of both searches)."""
    kept: list[_Found] = []
    for match in sorted(found, key=_Found.key):
        if len(kept) == limit:
            break
        if not any(k.document.id == match.document.id and k.start < match.end and match.start < k.end for k in kept):
            kept.append(match)
    return kept


def lookup(corpus: Corpus, quote: str, limit: int = 5, min_similarity: float = 0.8,
           candidates: int = CANDIDATES) -> LookupResponse:
    """Where `quote` occurs (see the module docstring); `candidates` passages are aligned."""
    started = time.perf_counter()
    quote = quote.strip()
    normal_quote = normalise(quote).text.strip()
    query = list(dict.fromkeys(terms(quote))) if normal_quote else []
    rows = candidate_passages(corpus, query, candidates)
    found = _search(corpus, rows, quote, normal_quote, limit, min_similarity)
    # Not found as written, and some words are unknown to the index: they may be misspelt or
    # cut. Searching again with their indexed look-alikes costs a vocabulary scan, so only now.
    if all(f.kind == "fuzzy" for f in found) and (alike := respelt(query, document_index(corpus))):
        seen = set(rows)
        more = [row for row in candidate_passages(corpus, query + alike, candidates) if row not in seen]
        found = _best(found + _search(corpus, more, quote, normal_quote, limit, min_similarity), limit)
        rows += more
    matches = [QuoteMatch(kind=f.kind, similarity=f.similarity,
                          citation=detail_in_corpus(corpus, f.document, f.start, f.end)) for f in found]
    message = None if matches else (
        "the quote has no searchable words" if not query else
        "not found: no article contains this quote (close matches are searched for quotes of up to "
        f"{MAX_FUZZY_QUOTE} characters only)" if len(normal_quote) > MAX_FUZZY_QUOTE else
        f"not found: no article contains this quote or a passage at least {min_similarity:.0%} similar to it")
    return LookupResponse(quote=quote, found=bool(matches), matches=matches, candidates=len(rows),
                          took_ms=round((time.perf_counter() - started) * 1000, 2), message=message)
