"""A quotation's words against its source's, by editorial convention: every difference named,
and allowed or not.

A style guide lets a quotation change only a few things: spelling (`qa.spelling`),
punctuation, an omission marked with an ellipsis (`...`, `…`, `[…]`), an insertion or
replacement marked with square brackets (`[Beijing]`), and where it starts and ends. Any
other change of the words (one added, dropped or put in place of another) is a misquote,
named by what it touches: a number, a negation, a reversal (an antonym or a polarity flip,
`qa.lexicon`), a name, or the wording. Quote marks, whitespace and letter case are no change."""

from __future__ import annotations

import re
from difflib import Match, SequenceMatcher
from typing import NamedTuple

from qa.lexicon import is_reversal
from qa.schemas import QuoteChange
from qa.spelling import is_spelling_variant, same_letters
from qa.textnorm import fold, unify_marks

MIN_SHARED = 0.6  # share of the quote's words found in order at the source, below which it is not found
NUMBER_WORDS = frozenset("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
                          "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty "
                          "ninety hundred thousand million billion trillion dozen half quarter third first second "
                          "percent".split())
NEGATIONS = frozenset("not no never none nothing nobody neither nor cannot without".split())
ALLOWED = frozenset({"spelling", "punctuation", "ellipsis", "brackets", "cut"})
# A bracketed group, an ellipsis, or a word (which never runs into an ellipsis: "actions...").
_TOKEN = re.compile(r"\[[^\[\]\n]*\]|\.{3,}|\u2026|(?:(?!\.{3})[^\s\[\]\u2026])+")
_MARKS = re.compile(r"\[[^\[\]\n]*\]|\.{3,}|\u2026")
_ELLIPSIS = re.compile(r"^\[?\s*(?:\.\s?\.\s?\.+|\u2026)\s*\]?$")
_EDGE_PUNCTUATION = "\"'.,;:!?()[]{}\u2018\u2019\u201c\u201d\u00ab\u00bb"
_QUOTE_MARKS = str.maketrans("", "", "\"'")
_WORDS = re.compile(r"\S+")
SPAN_SLACK = 40  # characters searched beyond the lookup's span, on either side, besides the quote's length
_OPENING = "\"'(\u2018\u201c\u00ab"
_CLOSING = "\"'),;:\u2019\u201d\u00bb"


class Token(NamedTuple):
    shown: str  # as written, punctuation kept
    key: str  # compared: folded (`qa.textnorm.fold`), edge punctuation stripped; a mark's starts with NUL
    mark: str = ""  # "ellipsis" or "brackets" for the editor's marks, "" for a word


def tokens(text: str, marks: bool = True) -> list[Token]:
    """The words of `text`, its ellipses and its bracketed groups (with `marks`; otherwise
    every run of non-spaces is a word). A mark matches only the same mark in the source: an
    article's own "[update]" or "..." quoted as it stands is no editing."""
    return [token for _, _, token in _located(text, marks)]


def _located(text: str, marks: bool = True) -> list[tuple[int, int, Token]]:
    """`tokens` with their offsets in `text`."""
    out = []
    for match in (_TOKEN if marks else _WORDS).finditer(text):
        shown = match[0]
        if marks and (shown.startswith("[") or shown[0] in ".\u2026"):
            mark = "ellipsis" if _ELLIPSIS.match(shown) else "brackets"
            out.append((match.start(), match.end(), Token(shown, "\x00" + fold(shown), mark)))
        elif key := fold(shown).strip(_EDGE_PUNCTUATION):
            out.append((match.start(), match.end(), Token(shown, key)))
    return out


def without_marks(quote: str) -> str:
    """The quote as looked up in the archive: its ellipses and bracketed groups cut out."""
    cut = _MARKS.sub(" ", quote)
    return quote if cut == quote else " ".join(cut.split())


def source_span(quote: str, text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span of `text` from the first to the last of the quote's words found in order around
    [start, end), the lookup's character alignment: that alignment keeps about the quote's
    length, so it cuts short a source from which an ellipsis (or a dropped word) left words out."""
    mine = tokens(quote)
    while mine and mine[0].mark == "ellipsis":
        mine = mine[1:]  # a cut: it stands for no source words
    while mine and mine[-1].mark == "ellipsis":
        mine = mine[:-1]
    # An ellipsis may leave out more than the lookup's alignment skipped: look further for a marked quote.
    slack = SPAN_SLACK + (len(quote) if len(mine) < len(tokens(quote)) or any(t.mark for t in mine) else 0)
    lo, hi = max(0, start - slack), min(len(text), end + len(quote) + slack)
    while lo > 0 and not text[lo - 1].isspace():
        lo -= 1  # from a word's start
    found = [(lo + a, lo + b, token) for a, b, token in _located(text[lo:hi])]
    keys = [token.key for _, _, token in found]
    blocks = [b for b in SequenceMatcher(None, [t.key for t in mine], keys, autojunk=False).get_matching_blocks()
              if b.size]
    blocks = _without_strays(blocks, mine)
    if not blocks:
        return None
    # Words of the quote before its first match or after its last stand for as many source words
    # there (Putin / Macron hosted): the span takes them in, so that they are compared.
    first = blocks[0].b - min(blocks[0].a, blocks[0].b)
    last = blocks[-1].b + blocks[-1].size - 1
    last += min(len(mine) - blocks[-1].a - blocks[-1].size, len(found) - 1 - last)
    span_start, span_end = found[first][0], found[last][1]
    if mine and not mine[0].mark:
        span_start = _sentence_start_inside(mine[0].shown, text, span_start, found[first][1])
    if mine and not mine[-1].mark:
        span_end = _sentence_end_inside(mine[-1].shown, text, found[last][0], span_end)
    while span_start < span_end and text[span_start] in _OPENING:
        span_start += 1
    while span_end > span_start and text[span_end - 1] in _CLOSING:
        span_end -= 1
    return span_start, span_end


# A sentence may end inside a run of non-spaces, with a footnote mark glued on after its full stop
# ("two objects.:93 The normal force"): a quote of that sentence ends there, and one of the next
# starts there, so the source span is cut inside that run rather than taking in the mark. A
# digit right after the stop is a decimal point, never a cut (5.5% is no "5." and "5%").
def _sentence_end_inside(word: str, text: str, start: int, end: int) -> int:
    """`end`, or where the sentence ends inside the source's last run text[start:end] when the
    quote's last `word` is that run up to a sentence-final mark followed by no letter nor digit."""
    bare = word.rstrip(".!?")
    for cut in range(start + 1, end):
        if text[cut] in ".!?" and fold(text[start:cut]) == fold(bare):
            after = cut
            while after < end and text[after] in ".!?":
                after += 1
            rest = text[after:end]
            if rest and not rest[0].isdigit() and not any(c.isalpha() for c in rest):
                return after if word != bare else cut
            return end
    return end


def _sentence_start_inside(word: str, text: str, start: int, end: int) -> int:
    """`start`, or where the quote's first `word` starts inside the source's first run
    text[start:end], right after a sentence-final mark."""
    if fold(text[start:end]) == fold(word):
        return start
    for cut in range(end - 1, start, -1):
        if fold(text[cut:end]) == fold(word):
            return cut if text[cut - 1] in ".!?" and not text[cut].isdigit() else start
    return start


def _without_strays(blocks: list[Match], mine: list[Token]) -> list[Match]:
    """Matching blocks less a short first or last one that only a stray common word makes: one
    separated from the rest by more source words than quote words, with no mark between to
    stand for them."""
    def stray(block: Match, neighbour: Match, before: bool) -> bool:
        a_gap = neighbour.a - (block.a + block.size) if before else block.a - (neighbour.a + neighbour.size)
        b_gap = neighbour.b - (block.b + block.size) if before else block.b - (neighbour.b + neighbour.size)
        between = mine[block.a + block.size : neighbour.a] if before else mine[neighbour.a + neighbour.size : block.a]
        return block.size <= 2 and b_gap > a_gap and not any(t.mark for t in between)
    while len(blocks) > 1 and stray(blocks[0], blocks[1], before=True):
        blocks = blocks[1:]
    while len(blocks) > 1 and stray(blocks[-1], blocks[-2], before=False):
        blocks = blocks[:-1]
    return blocks


def _joined(words: list[Token]) -> str:
    return "".join(w.key for w in words)


def _negative(word: Token) -> bool:
    return word.key in NEGATIONS or word.key.endswith("n't")


def _counts_or_negates(word: Token) -> bool:
    return word.key in NUMBER_WORDS or _negative(word)


def _kind(draft: list[Token], source: list[Token], first_in_quote: bool) -> str:
    """What a change of words is about: a one-for-one respelling first, then number, negation,
    reversal, spelling (hyphenation), name or wording."""
    both = draft + source
    if draft and source and same_letters(_joined(draft), _joined(source)):
        return "spelling"  # the same letters hyphenated or spaced otherwise (two thirds / two-thirds)
    if len(draft) == len(source) == 1 and not is_reversal(draft[0].key, source[0].key) \
            and is_spelling_variant(draft[0].key, source[0].key, real_words=not any(map(_counts_or_negates, both))):
        # A typo of "without" or "second" is still a typo (digits never are), but one spelling
        # another English word there is a changed number or negation.
        return "spelling"
    if any(any(c.isdigit() for c in w.key) or w.key in NUMBER_WORDS for w in both):
        return "number"
    if any(_negative(w) for w in both):
        return "negation"
    if any(is_reversal(d.key, s.key) for d in draft for s in source):
        return "reversal"
    if draft and source and (is_spelling_variant(_joined(draft), _joined(source)) or (
            len(draft) == len(source) and all(is_spelling_variant(d.key, s.key) for d, s in zip(draft, source)))):
        return "spelling"  # hyphenation (well-known / well known) joins words
    # A capitalised word that does not merely start the quote is a name (or part of one).
    if any(w.shown.lstrip(_EDGE_PUNCTUATION)[:1].isupper() for w in (draft[1:] if first_in_quote else draft) + source):
        return "name"
    return "wording"


def _change(draft: list[Token], source: list[Token], kind: str) -> QuoteChange:
    return QuoteChange(draft=" ".join(t.shown for t in draft), source=" ".join(t.shown for t in source), kind=kind,
                       allowed=kind in ALLOWED)


def _marked(token: Token, omitted: list[Token], at_edge: bool) -> QuoteChange:
    """The change an ellipsis or a bracketed group makes, `omitted` the source words it stands for."""
    if token.mark == "ellipsis":
        if any(_negative(w) for w in omitted):
            return _change([token], omitted, "negation")  # an ellipsis may shorten, never turn a no into a yes
        return _change([token], omitted, "cut" if at_edge else "ellipsis")
    inner = tokens(token.shown[1:-1], marks=False)
    if any(_negative(w) for w in inner) and not any(_negative(w) for w in omitted):
        return _change([token], omitted, "negation")  # brackets may clarify, never negate
    digits = [re.sub(r"\D", "", w.key) for w in inner if any(c.isdigit() for c in w.key)]
    replaced = [re.sub(r"\D", "", w.key) for w in omitted if any(c.isdigit() for c in w.key)]
    if digits and replaced and digits != replaced:
        return _change([token], omitted, "number")  # nor put another number in place of the source's
    return _change([token], omitted, "brackets")


def _align_marks(draft: list[Token], source: list[Token], at_start: bool, at_end: bool,
                 first_in_quote: bool) -> list[QuoteChange]:
    """Changes in a stretch holding marks: an edit-distance alignment in which each mark stands
    for any run of source words at no cost, so that only the unmarked differences count."""
    rows, columns = len(draft) + 1, len(source) + 1
    cost = [[0] * columns for _ in range(rows)]
    for j in range(1, columns):
        cost[0][j] = j
    for i in range(1, rows):
        wild = bool(draft[i - 1].mark)
        cost[i][0] = cost[i - 1][0] + (0 if wild else 1)
        for j in range(1, columns):
            if wild:
                cost[i][j] = min(cost[i - 1][j], cost[i][j - 1])
            else:
                same = draft[i - 1].key == source[j - 1].key
                cost[i][j] = min(cost[i - 1][j - 1] + (0 if same else 1), cost[i - 1][j] + 1, cost[i][j - 1] + 1)
    # Walk back: each mark with the source words it took, and the unmarked differences between.
    steps: list[tuple[int | None, int | None]] = []  # (draft index, source index); None: nothing on that side
    i, j = len(draft), len(source)
    while i or j:
        wild = i > 0 and bool(draft[i - 1].mark)
        if wild and j > 0 and cost[i][j] == cost[i][j - 1]:
            steps.append((i - 1, j - 1))
            j -= 1
        elif wild:
            steps.append((i - 1, None))
            i -= 1
        elif i > 0 and j > 0 and cost[i][j] == cost[i - 1][j - 1] + (draft[i - 1].key != source[j - 1].key):
            steps.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i > 0 and cost[i][j] == cost[i - 1][j] + 1:
            steps.append((i - 1, None))
            i -= 1
        else:
            steps.append((None, j - 1))
            j -= 1
    changes: list[QuoteChange] = []
    literal: tuple[list[Token], list[Token]] = ([], [])  # unmarked differences not yet reported
    mark: int | None = None  # the mark being walked, and the source words it stands for
    omitted: list[Token] = []

    def flush_literal() -> None:
        if literal[0] or literal[1]:
            first = first_in_quote and bool(literal[0]) and literal[0][0] is draft[0]
            changes.append(_change(literal[0][:], literal[1][:], _kind(literal[0], literal[1], first)))
            literal[0].clear()
            literal[1].clear()

    def flush_mark() -> None:
        if mark is not None:
            edge = (at_start and mark == 0) or (at_end and mark == len(draft) - 1)
            changes.append(_marked(draft[mark], omitted[:], edge))

    for d, s in reversed(steps):
        if d is not None and draft[d].mark:
            if mark != d:
                flush_mark()
                flush_literal()
                mark, omitted = d, []
            if s is not None:
                omitted.append(source[s])
            continue
        flush_mark()
        mark = None
        if d is not None and s is not None and draft[d].key == source[s].key:
            flush_literal()
            continue
        if d is not None:
            literal[0].append(draft[d])
        if s is not None:
            literal[1].append(source[s])
    flush_mark()
    flush_literal()
    return changes


def _punctuation(draft: list[Token], source: list[Token], first: bool, last: bool) -> list[QuoteChange]:
    """Punctuation changed on words that are the same (quote marks aside, and the marks before
    a quote's first word or after its last, which belong to the sentence around it)."""
    changes = []
    for n, (d, s) in enumerate(zip(draft, source)):
        mine, theirs = unify_marks(d.shown).lower().translate(_QUOTE_MARKS), \
            unify_marks(s.shown).lower().translate(_QUOTE_MARKS)
        if first and n == 0:
            mine, theirs = mine.lstrip(_EDGE_PUNCTUATION), theirs.lstrip(_EDGE_PUNCTUATION)
        if last and n == len(draft) - 1:
            mine, theirs = mine.rstrip(_EDGE_PUNCTUATION), theirs.rstrip(_EDGE_PUNCTUATION)
        if mine != theirs:
            changes.append(_change([d], [s], "punctuation"))
    return changes


def compare(quote: str, source: str) -> tuple[str, list[QuoteChange]]:
    """The status of `quote` against the source span found for it (`exact`, `close`,
    `misquoted` or `not_found`) and its changes, in the quote's order."""
    mine, theirs = tokens(quote), tokens(source)
    words = sum(not t.mark for t in mine)
    if not words:
        return "not_found", []
    matcher = SequenceMatcher(None, [t.key for t in mine], [t.key for t in theirs], autojunk=False)
    if sum(block.size for block in matcher.get_matching_blocks()) / words < MIN_SHARED:
        return "not_found", []
    changes: list[QuoteChange] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        draft, found = mine[i1:i2], theirs[j1:j2]
        if tag == "equal":
            changes += _punctuation(draft, found, first=i1 == 0, last=i2 == len(mine))
        elif tag == "insert" and i1 in (0, len(mine)):
            changes.append(_change([], found, "cut"))  # the quote starts or ends inside the source
        elif any(t.mark for t in draft):
            changes += _align_marks(draft, found, at_start=i1 == 0, at_end=i2 == len(mine), first_in_quote=i1 == 0)
        elif len(draft) == len(found) and any(is_reversal(d.key, s.key) for d, s in zip(draft, found)):
            # Word for word, so that the reversal is named apart from what changed beside it.
            changes += [_change([d], [s], _kind([d], [s], first_in_quote=i1 + n == 0))
                        for n, (d, s) in enumerate(zip(draft, found))]
        else:
            changes.append(_change(draft, found, _kind(draft, found, first_in_quote=i1 == 0)))
    status = "misquoted" if any(not c.allowed for c in changes) else "close" if changes else "exact"
    return status, changes
