"""Sentence and passage splitting with exact character offsets.

Sentences are pysbd's (rule-based, handles "U.S.", "Dr.", "$240.1", quotes), located in the
text so that every span satisfies `text[start:end] == sentence`; the plain stretches of text,
where pysbd's rules have nothing to do, are split without it (see `split_sentences`), and
two rules that let pysbd run sentences together on news text are bounded.
Passages follow the text's own paragraphs: tiny ones (headings, one-liners) merge with a
neighbour, long ones split at sentence boundaries so the embedder never truncates."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from itertools import pairwise

from index.documents import Span

TokenCounter = Callable[[Sequence[str]], list[int]]
# Recorded in each document's metadata: citations' offsets depend on it, and a re-run of
# ingest re-splits the documents that an older version split. Raise it when boundaries move.
VERSION = "2"


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    segmenter = pysbd.Segmenter(language="en", clean=False)
    segmenter.language_module = _faster_english()
    return segmenter


def _faster_english() -> type:
    """pysbd's English rules, with its abbreviation pass skipping the abbreviations that are
    never followed by a period (the same output: that period is all the pass replaces).
    pysbd itself only checks that the letters occur, as "is" does in "this", and then runs
    a few regexes per occurrence: over half of its time on news text."""
    from pysbd.lang.english import English

    class AbbreviationReplacer(English.AbbreviationReplacer):
        def search_for_abbreviations_in_string(self, text: str) -> str:
            lowered = text.lower()
            for abbr in self.lang.Abbreviation.ABBREVIATIONS:
                stripped = abbr.strip()
                if stripped not in lowered or ("." not in stripped and stripped + "." not in lowered):
                    continue  # (pysbd matches a dotted abbreviation as a pattern: "." is any character)
                matches = re.findall(rf"(?:^|\s|\r|\n){stripped}", text, flags=re.IGNORECASE)
                next_chars = re.findall(r"(?<={" + re.escape(stripped) + "} ).{1}", text)
                for index, match in enumerate(matches):
                    text = self.scan_for_replacements(text, match, index, next_chars)
            return text

    return type("English", (English,), {"AbbreviationReplacer": AbbreviationReplacer})


def paragraph_spans(text: str) -> list[Span]:
    """Spans of the paragraphs of a stored text (they are separated by blank lines)."""
    return [Span(m.start(), m.end()) for m in re.finditer(r"\S(?:.*?\S)?(?=\n\n|\Z)", text, re.DOTALL)]


def _pysbd_spans(text: str, within: Span) -> list[Span]:
    """pysbd's sentences of text[within], located in the text."""
    chunk = text[within.start : within.end]
    spans: list[Span] = []
    cursor = 0
    # pysbd's `segment` would locate each sentence again with a regex compiled from its text
    # (over a third of the splitting time); we locate them ourselves, as `segment` does: a
    # sentence the rules altered is not in the text and is skipped.
    for piece in _segmenter().processor(chunk).process():
        piece = piece.strip()
        if not piece:
            continue
        found = chunk.find(piece, cursor)
        if found < 0:
            continue
        spans.append(Span(within.start + found, within.start + found + len(piece)))
        cursor = found + len(piece)
    if rest := _stripped(chunk[cursor:], within.start + cursor):
        spans.append(rest)
    return spans


def _stripped(run: str, start: int) -> Span | None:
    """The span of `run`, which starts at `start`, without its surrounding whitespace (None
    if that leaves nothing)."""
    body = run.strip()
    if not body:
        return None
    lead = len(run) - len(run.lstrip())
    return Span(start + lead, start + lead + len(body))


@lru_cache(maxsize=1)
def _never_plain_words() -> frozenset[str]:
    """Words that pysbd may treat specially before a period: its abbreviations ("No.", "Inc.",
    but also "is", "may") and the roman numerals of its list rules."""
    from pysbd.lang.english import English
    from pysbd.lists_item_replacer import ListItemReplacer

    return frozenset(English.Abbreviation.ABBREVIATIONS) | frozenset(ListItemReplacer.ROMAN_NUMERALS)


@lru_cache(maxsize=1)
def _protected_regions() -> re.Pattern[str]:
    """pysbd's own patterns for the quotes, brackets and dashes inside which it never ends a sentence."""
    from pysbd.between_punctuation import BetweenPunctuation as B

    return re.compile("|".join(f"(?:{p})" for p in (
        B.BETWEEN_SINGLE_QUOTES_REGEX, B.BETWEEN_SINGLE_QUOTE_SLANTED_REGEX, B.BETWEEN_DOUBLE_QUOTES_REGEX,
        B.BETWEEN_QUOTE_ARROW_REGEX, B.BETWEEN_QUOTE_SLANTED_REGEX, B.BETWEEN_SQUARE_BRACKETS_REGEX,
        B.BETWEEN_PARENS_REGEX, B.BETWEEN_EM_DASHES_REGEX)))


# A plain word, a period or question mark, spaces, a capital: pysbd ends a sentence there
# unless the word is one of its abbreviations or the boundary lies inside quotes or brackets.
_PLAIN_END = re.compile(r"(?<![^\s\"“])([A-Za-z][a-z]+)(?:[.?](?=[ \t]+[\"“]?[A-Z])|[.?][\"”](?= [A-Z]))")
_END_MARKS = re.compile(r"[.!?]*[\"”]?\Z")  # a run's own end, which ends its one sentence
# What else lets pysbd split a run of text (or alter it): any other terminal punctuation,
# ellipses, bullets and list markers ("a)", "2)", "iv)").
_OTHER_BREAKS = re.compile(r"[.!?。．！？…•]|(?<![^\s(])(?:\d{1,2}|[a-z]|[ivx]+)\)")


def _plain_ends(line: str) -> list[int]:
    """Offsets in `line` just after the sentence ends pysbd is sure to make there."""
    if line.count('"') % 2 or line.count("“") != line.count("”"):
        return []  # a quote left open: pysbd's quote rules reach across sentences
    regions = [m.span() for m in _protected_regions().finditer(line)]
    never = _never_plain_words()
    return [m.end() for m in _PLAIN_END.finditer(line) if m.group(1).lower() not in never
            and not any(a < m.end() < b for a, b in regions)]


def split_sentences(text: str, within: Span | None = None) -> list[Span]:
    """Sentence spans (stripped of surrounding whitespace) inside `within` (default: all):
    pysbd's sentences, found faster, with two of pysbd's rules bounded (`_bounded`). pysbd
    always ends a sentence at a line break and at a plain word's period before a capital
    (`_plain_ends`); the runs between those ends that hold no other punctuation are single
    sentences, and only the rest go through pysbd (a third of the text of news articles)."""
    within = within or Span(0, len(text))
    region = _bounded(text[within.start : within.end])
    spans: list[Span] = []
    for line in re.finditer(r"[^\r\n]+", region):
        cuts = [0, *_plain_ends(line.group()), len(line.group())]
        for a, b in pairwise(cuts):
            run = line.group()[a:b]
            start = line.start() + a
            if not (span := _stripped(run, start)):
                continue
            body = region[span.start : span.end]
            if _OTHER_BREAKS.search(body, 0, _END_MARKS.search(body).start()):
                spans.extend(piece for sentence in _pysbd_spans(region, Span(start, start + len(run)))
                             for piece in _run_on_pieces(region, sentence))
            else:
                spans.append(span)
    return [Span(within.start + s.start, within.start + s.end) for s in spans]


# pysbd never ends a sentence between two "--" however far apart (its pattern is "--", any
# run of characters but "-", "--"), and wire copy ("(CNN) -- ...") has a dash in most
# paragraphs, so whole CNN paragraphs came out as one sentence: it reads them as en dashes.
def _bounded(region: str) -> str:
    """The text pysbd reads: the same length, so its offsets are the text's."""
    return region.replace("--", "\u2013\u2013")


# Nor does pysbd end a sentence inside quotation marks, so a stray quote mark (a web page's
# link text: 'Watch the report" An oversupply of ...') made the rest of a paragraph one
# sentence. A "sentence" longer than this is cut at every sentence end inside it (a word of
# two or more characters that is no abbreviation, then . ? or !, then a capital); a long
# quotation is cut into its sentences too, and each of those is worth citing alone.
RUN_ON_CHARS = 250
_SENTENCE_END_INSIDE = re.compile(r"(?<![^\s\"“(])([A-Za-z0-9]+[A-Za-z0-9])[.?!][\"”]?(?=\s+[\"“]?[A-Z])")


def _run_on_pieces(text: str, sentence: Span) -> list[Span]:
    """The sentence, or its pieces when it is a run-on of several (see RUN_ON_CHARS)."""
    if sentence.end - sentence.start <= RUN_ON_CHARS:
        return [sentence]
    body = text[sentence.start : sentence.end]
    never = _never_plain_words()
    cuts = [0, *(m.end() for m in _SENTENCE_END_INSIDE.finditer(body) if m.group(1).lower() not in never), len(body)]
    return [piece for a, b in pairwise(cuts) if (piece := _stripped(body[a:b], sentence.start + a))]


def _split_long_sentence(text: str, span: Span, tokens: int, max_tokens: int) -> list[Span]:
    """Cut an over-long "sentence" (a list, a table row) at word boundaries."""
    pieces = math.ceil(tokens / max_tokens) + 1  # word pieces per word vary: leave slack
    words = [Span(span.start + m.start(), span.start + m.end()) for m in re.finditer(r"\S+", text[span.start : span.end])]
    size = math.ceil(len(words) / pieces)
    return [Span(words[i].start, words[min(i + size, len(words)) - 1].end) for i in range(0, len(words), size)]


def _chunk_paragraph(sentences: list[Span], tokens: list[int], max_tokens: int) -> list[list[int]]:
    """Indices of sentences per chunk: balanced chunks that each stay under max_tokens."""
    total = sum(tokens)
    if total <= max_tokens:
        return [list(range(len(sentences)))]
    target = total / math.ceil(total / max_tokens)
    chunks: list[list[int]] = [[]]
    size = 0
    for i, count in enumerate(tokens):
        if chunks[-1] and (size + count > max_tokens or size + count / 2 > target):
            chunks.append([])
            size = 0
        chunks[-1].append(i)
        size += count
    return chunks


def split_passages(text: str, count_tokens: TokenCounter, max_tokens: int, min_tokens: int) -> list[list[Span]]:
    """Group the text's sentences into passages; each passage is a list of sentence spans."""
    units: list[tuple[list[Span], int]] = []  # (sentences, token count), one per chunk of a paragraph
    paragraphs = [split_sentences(text, paragraph) for paragraph in paragraph_spans(text)]
    # One tokenizer call for the whole text: a call per paragraph made chunking 10-20% slower.
    counts = iter(count_tokens([text[s.start : s.end] for sentences in paragraphs for s in sentences]))
    for sentences in paragraphs:
        fitted: list[Span] = []
        fitted_counts: list[int] = []
        for span, count in zip(sentences, counts):
            if count > max_tokens:
                pieces = _split_long_sentence(text, span, count, max_tokens)
                fitted.extend(pieces)
                fitted_counts.extend(count_tokens([text[p.start : p.end] for p in pieces]))
            else:
                fitted.append(span)
                fitted_counts.append(count)
        for chunk in _chunk_paragraph(fitted, fitted_counts, max_tokens):
            units.append(([fitted[i] for i in chunk], sum(fitted_counts[i] for i in chunk)))
    return [sentences for sentences, _ in _merge_small(units, max_tokens, min_tokens)]


def _merge_small(units: list[tuple[list[Span], int]], max_tokens: int, min_tokens: int) -> list[tuple[list[Span], int]]:
    """Small units join the following unit (a heading belongs to its paragraph), or the
    previous one when they are last."""
    merged: list[tuple[list[Span], int]] = []
    pending: tuple[list[Span], int] | None = None
    for sentences, count in units:
        if pending is not None:
            if pending[1] + count <= max_tokens:
                sentences, count = pending[0] + sentences, pending[1] + count
            else:
                merged.append(pending)
            pending = None
        if count < min_tokens:
            pending = (sentences, count)
        else:
            merged.append((sentences, count))
    if pending is not None:
        if merged and merged[-1][1] + pending[1] <= max_tokens:
            last = merged.pop()
            merged.append((last[0] + pending[0], last[1] + pending[1]))
        else:
            merged.append(pending)
    return merged
