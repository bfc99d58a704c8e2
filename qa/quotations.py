"""Finding the quotations in a submitted text (a draft, a transcript, a report), with their
exact offsets in it, for quote verification.

A quotation is the text between a pair of quote marks: straight double quotes, curly double
quotes (“…”, „…“), guillemets («…», ‹…›) and curly single quotes (‘…’, where the closing
mark is not an apostrophe inside a word such as don’t); or a block quote (lines starting
with `>`). Straight single quotes are not quote marks here: they are far more often
apostrophes. A quotation never runs across a blank line, quotations inside another one are
part of it, and those of fewer than MIN_QUOTE_WORDS words ("so-called", a title) are not
claims about what someone wrote, so they are left out.

A quote interrupted by its attribution ("The trade", he said, "reached a record") is two
quotations here; `qa.verify` decides whether they are one quote in the source.

Every `Quotation` satisfies `text[start:end] == quote`, whatever the text holds (property
tests in tests/test_verify.py)."""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import NamedTuple

from index.splitting import split_sentences
from qa.textnorm import strip_span

MIN_QUOTE_WORDS = 3
# Opening mark -> the marks that close it.
_CLOSERS = {'"': '"', "\u201c": "\u201d", "\u201e": "\u201c\u201d", "\u00ab": "\u00bb", "\u2039": "\u203a",
            "\u2018": "\u2019"}
_SINGLE = {"\u2018"}  # their closing mark doubles as the apostrophe
_OPENER = re.compile(f"[{''.join(_CLOSERS)}]")
_BLOCK_LINE = re.compile(r"^[ \t]*>[ \t]?(.*)$", re.M)
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_WORD = re.compile(r"\w+")


class Quotation(NamedTuple):
    start: int  # offsets of the quoted words in the submitted text, marks excluded
    end: int
    quote: str  # text[start:end]
    block: bool = False  # a block quote: its lines' `>` markers are inside the span

    @property
    def searched(self) -> str:
        """What is looked up in the archive: the quoted words, block markers removed, and no
        closing comma or full stop (by convention they go inside the marks, whatever the source has)."""
        words = re.sub(r"\s*\n[ \t]*>?[ \t]?", " ", self.quote) if self.block else self.quote
        return words.rstrip(".,;: ") or words


def _closing_marks(text: str) -> dict[str, list[int]]:
    """Opening mark -> the offsets, in text order, of the marks of `text` that close it. A curly
    single closing mark followed by a letter or digit is an apostrophe (don’t, rock ’n’ roll)."""
    marks: dict[str, list[int]] = {}
    for opener, closers in _CLOSERS.items():
        offsets = [m.start() for m in re.finditer(f"[{closers}]", text)]
        if opener in _SINGLE:
            offsets = [o for o in offsets if not (o + 1 < len(text) and text[o + 1].isalnum())]
        marks[opener] = offsets
    return marks


def _closing(marks: list[int], opener: int, limit: int) -> int | None:
    """The first of the closing `marks` (offsets in text order) after `opener`, before `limit`."""
    following = bisect_right(marks, opener)
    return marks[following] if following < len(marks) and marks[following] < limit else None


def _opens(text: str, position: int) -> bool:
    """The opening mark at `position` opens a quotation."""
    before = text[position - 1] if position else " "
    # A curly single mark after a letter is an apostrophe; a straight double quote after a
    # letter or digit is an inch or seconds sign more often than a quotation.
    return not (before.isalnum() and text[position] in ('"', *_SINGLE))


def _blocks(text: str) -> list[Quotation]:
    """Runs of consecutive `>` lines, each one quotation."""
    out: list[Quotation] = []
    run: list[re.Match[str]] = []
    for line in [*_BLOCK_LINE.finditer(text), None]:
        if line is not None and run and text[run[-1].end() : line.start()] == "\n":
            run.append(line)
            continue
        if run:
            start, end = strip_span(text, run[0].start(1), run[-1].end(1))
            if start < end:
                out.append(Quotation(start, end, text[start:end], block=True))
        run = [line] if line is not None else []
    return out


def _mark_quotations(text: str, blocks: list[Quotation]) -> list[Quotation]:
    """The quotations between quote marks, read left to right: a quotation closes at the first
    closing mark of its kind before the next blank line, and reading resumes after it (so the
    quotations inside it are part of it); a mark inside a block quote opens nothing.

    Linear in the text (but for a binary search per opening mark): the closing marks are listed
    once, so a run of marks that never close is not read again from each one."""
    breaks = [m.start() for m in _BLANK_LINE.finditer(text)] + [len(text)]
    closing = _closing_marks(text)
    found: list[Quotation] = []
    block = 0  # the first block quote not wholly before the reading position
    position = 0
    while (opening := _OPENER.search(text, position)) is not None:
        position = opening.start()
        while block < len(blocks) and blocks[block].end <= position:
            block += 1
        if block < len(blocks) and blocks[block].start <= position:
            position = blocks[block].end
            continue
        limit = breaks[bisect_right(breaks, position)]
        close = _closing(closing[text[position]], position, limit) if _opens(text, position) else None
        if close is None:
            position += 1
            continue
        start, end = strip_span(text, position + 1, close)
        if start < end:
            found.append(Quotation(start, end, text[start:end]))
        position = close + 1
    return found


def find_quotations(text: str) -> list[Quotation]:
    """The quotations of `text` in text order (see the module docstring for what counts)."""
    blocks = _blocks(text)
    found = blocks + _mark_quotations(text, blocks)
    return sorted((q for q in found if len(_WORD.findall(q.quote)) >= MIN_QUOTE_WORDS), key=lambda q: q.start)


def find_sentences(text: str) -> list[Quotation]:
    """Every sentence of `text` as a quotation to check (mode "sentences")."""
    return [Quotation(s.start, s.end, text[s.start : s.end]) for s in split_sentences(text)
            if len(_WORD.findall(text[s.start : s.end])) >= MIN_QUOTE_WORDS]
