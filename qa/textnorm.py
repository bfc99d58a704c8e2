"""Text normalisation for matching quotes copied from elsewhere, with an offset map back
to the original text.

A quote pasted from a browser, a PDF or an e-mail differs from the stored article in
ways that are not differences of wording: curly versus straight quotes, en/em dashes
versus hyphens, line breaks and runs of spaces, soft hyphens, letter case. `normalise`
removes those, and `Normalised.span` turns a span of the normalised text back into the
exact span of the original, so that a match is always reported at real offsets."""

from __future__ import annotations

import numpy as np

_SINGLE_QUOTES = "\u2018\u2019\u201a\u201b\u2032\u02bc"
_DOUBLE_QUOTES = "\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb"
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_SPACES = "\t\n\r\x0b\x0c\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
_INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"  # soft hyphen and zero-width characters

_DROP = 0  # marks a character to remove in the code table (NUL never occurs in stored text)


def _code_table() -> np.ndarray:
    """Code point -> replacement code point, for the Basic Multilingual Plane."""
    table = np.arange(0x10000, dtype=np.uint32)
    for chars, replacement in ((_SINGLE_QUOTES, "'"), (_DOUBLE_QUOTES, '"'), (_DASHES, "-"), (_SPACES, " ")):
        table[[ord(c) for c in chars]] = ord(replacement)
    table[[ord(c) for c in _INVISIBLE]] = _DROP
    return table


_TABLE = _code_table()
_SPACE = ord(" ")


class Normalised:
    """A normalised text and, for each of its characters, the offset it came from."""

    __slots__ = ("origin", "text")

    def __init__(self, text: str, origin: np.ndarray) -> None:
        self.text = text
        self.origin = origin

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span covering normalised characters [start, end) (end > start)."""
        return int(self.origin[start]), int(self.origin[end - 1]) + 1


def _lower(text: str) -> str:
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    # A few characters (e.g. "İ") lower-case to two; keep those as they are so the map stays 1:1.
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def normalise(text: str) -> Normalised:
    """Map quote and dash variants to ASCII, drop invisible characters, collapse whitespace
    runs to one space (leading whitespace goes) and lower-case."""
    # One vectorised pass over code points: the texts are whole passages, many per lookup.
    codes = np.frombuffer(_lower(text).encode("utf-32-le"), dtype=np.uint32)
    mapped = _TABLE[np.minimum(codes, len(_TABLE) - 1)]
    codes = np.where(codes < len(_TABLE), mapped, codes)
    origin = np.flatnonzero(codes != _DROP)
    codes = codes[origin]
    space = codes == _SPACE
    # A space is kept only when the character before it (after dropping) is not a space.
    keep = ~(space & np.concatenate(([True], space[:-1])))
    return Normalised(codes[keep].tobytes().decode("utf-32-le"), origin[keep])


_MARK_TABLE = str.maketrans({c: "'" for c in _SINGLE_QUOTES} | {c: '"' for c in _DOUBLE_QUOTES}
                            | {c: "-" for c in _DASHES})


def unify_marks(text: str) -> str:
    """Quote and dash variants as ASCII and whitespace runs as one space, letter case kept:
    what differs between two copies of the same words that are verbatim for a reader."""
    return " ".join(text.translate(_MARK_TABLE).split())


_FOLD_TABLE = _MARK_TABLE | str.maketrans({c: None for c in _INVISIBLE})


def fold(word: str) -> str:
    """`normalise` for a word (no whitespace in it), without the offset map: quote and dash
    variants as ASCII, invisible characters dropped, lower case. Many times faster on short strings."""
    return _lower(word.translate(_FOLD_TABLE))


def strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The span [start, end) of `text` without the whitespace at its ends."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
