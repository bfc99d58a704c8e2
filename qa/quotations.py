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
from typing import NamedTuple

from index.splitting import split_sentences
from qa.textnorm import strip_span

MIN_QUOTE_WORDS = 3
# Opening mark -> the marks that close it.
_CLOSERS = {'"': '"', "\u201c": "\u201d", "\u201e": "\u201c\u201d", "\u00ab": "\u00bb", "\u2039": "\u203a",
            "\u2018": "\u2019"}
_SINGLE = {"\u2018"}  # their closing mark doubles as the apostrophe
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


def _closing(text: str, opener: int, limit: int) -> int | None:
    """The index of the mark closing the quote opened at `opener`, before `limit`."""
    closers = _CLOSERS[text[opener]]
    for position in range(opener + 1, limit):
        if text[position] in closers:
            after = text[position + 1] if position + 1 < len(text) else " "
            if text[opener] in _SINGLE and after.isalnum():  # an apostrophe: don’t, rock ’n’ roll
                continue
            return position
    return None


def _opens(text: str, position: int) -> bool:
    if text[position] not in _CLOSERS:
        return False
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


def find_quotations(text: str) -> list[Quotation]:
    """The quotations of `text` in text order (see the module docstring for what counts)."""
    blocks = _blocks(text)
    breaks = [m.start() for m in _BLANK_LINE.finditer(text)] + [len(text)]
    found = list(blocks)
    position = 0
    while position < len(text):
        inside = next((b for b in blocks if b.start <= position < b.end), None)
        if inside is not None:
            position = inside.end
            continue
        if _opens(text, position):
            limit = next(b for b in breaks if b > position)
            close = _closing(text, position, limit)
            if close is not None:
                start, end = strip_span(text, position + 1, close)
                if start < end:
                    found.append(Quotation(start, end, text[start:end]))
                position = close + 1
                continue
        position += 1
    return sorted((q for q in found if len(_WORD.findall(q.quote)) >= MIN_QUOTE_WORDS), key=lambda q: q.start)


def find_sentences(text: str) -> list[Quotation]:
    """Every sentence of `text` as a quotation to check (mode "sentences")."""
    return [Quotation(s.start, s.end, text[s.start : s.end]) for s in split_sentences(text)
            if len(_WORD.findall(text[s.start : s.end])) >= MIN_QUOTE_WORDS]
