"""Website boilerplate removal: share buttons, newsletter boxes, comment counters,
related-article link lists, image alt texts and captions never reach the index.

Works on lines so that every kept line is copied verbatim into the stored text, but for the
video and photo link texts that news sites set between two sentences of a line, which are
cut out (`_LINK_TEXT`)."""

from __future__ import annotations

import re

import msgspec

_BOILERPLATE = re.compile(
    r"""^(?:
        share\.?|share\ this(?:\ article)?:?|exit\ mobile\ version|connect\ with\ us|
        subscribe(?:\ to\ our\ newsletter)?|sign\ up\ for\ our\ newsletter|
        by\ submitting\ your\ info(?:rmation)?,?\ you\ (?:agree|are\ agreeing)\ to\ our\ terms\ of\ use\.?|
        comments?(?:\ \(?\d+\)?)?|\d+\ comments?|no\ comments:?|post\ a\ comment|leave\ a\ (?:comment|reply)|
        written\ by|read\ more:?|advertisement|skip\ to\ (?:main\ )?content|related(?:\ (?:articles|posts|stories))?:?|
        you\ may\ also\ like:?|follow\ us(?:\ on\ .*)?|click\ here\ to\ .*|
        subscribe\ now\b.*|(?:get|enjoy)\ unlimited\ (?:digital\ )?access\b.*|already\ a\ subscriber\b.*|
        .{0,80}\bfor\ (?:just|only)\ [$€£]\d+(?:\.\d\d)?\ (?:a|per)\ (?:day|week|month|year)[.!]?|
        support\ (?:our\ )?(?:independent\ |local\ )?journalism\b.{0,80}|
        this\ article\ is\ republished\ from\ .*\ under\ a\ creative\ commons\ licen[cs]e\..*
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
# "... the organizers said. Watch how visitors react to the memorial » After more than ...": a
# link's text, left between two sentences with its arrow (or, in some copies, a stray quote
# mark). Kept, it joined the next sentence and answered questions about "the memorial".
_LINK_TEXT = re.compile(r"(?:(?<=[.!?\"”] )|^)(?:Watch|See|Read|Hear|Listen to|Look at|View)\b"
                        r"[^\"“”.!?»]{3,120}[\"”»]\s+(?=[A-Z])")
_SHARE_LINK_AT_END = re.compile(r"(?:(?<=[.!?\"”])\s+|^)e-?mail to a friend\.?\s*$", re.IGNORECASE)  # CNN's, after the last sentence
_CAPTION_CREDIT = re.compile(r"\((?:image|photo|picture)\s+credit:[^)]*\)\s*$", re.IGNORECASE)
_AUTHOR_BIO = re.compile(r"^(?P<name>(?:[A-Z][\w'’.-]+\s){1,3}?[A-Z][\w'’-]+)\s+is\s+(?:an?|the)\s")


class CleanText(msgspec.Struct):
    paragraphs: list[str]
    author: str | None = None


def _is_repeated_phrase(line: str) -> bool:
    """Related-article teasers repeat their image alt text: "Foo bar Foo bar"."""
    half, rest = divmod(len(line), 2)
    return rest == 1 and half >= 8 and line[:half] == line[half + 1 :] and line[half] == " "


def _is_alt_text(line: str) -> bool:
    """Image alt texts: a few lower-case keywords with no punctuation or digits at all."""
    words = line.split()
    return 3 <= len(words) <= 12 and all(w.isalpha() and w.islower() for w in words)


def is_boilerplate(line: str) -> bool:
    stripped = line.strip()
    return bool(_BOILERPLATE.match(stripped)) or bool(_CAPTION_CREDIT.search(stripped))


def clean(paragraphs: list[str]) -> CleanText:
    """Drop boilerplate lines; a paragraph whose lines all go disappears.

    Also recognises the "Written By" author box: the label goes, the biography sentence
    stays (it is real content) and gives the author's name."""
    author: str | None = None
    kept: list[str] = []
    skip_next_headline = False
    after_byline = False
    for paragraph in paragraphs:
        lines: list[str] = []
        for line in paragraph.split("\n"):
            line = _SHARE_LINK_AT_END.sub("", _LINK_TEXT.sub("", line))
            stripped = line.strip()
            if not stripped:
                continue
            if skip_next_headline:
                skip_next_headline = False
                if not stripped.endswith((".", "?", "!", "”", '"')):
                    continue
            if re.fullmatch(r"written by:?", stripped, re.IGNORECASE):
                after_byline = True
                continue
            if _is_repeated_phrase(stripped):
                skip_next_headline = True
                continue
            if is_boilerplate(stripped) or _is_alt_text(stripped):
                continue
            if after_byline:
                after_byline = False
                if match := _AUTHOR_BIO.match(stripped):
                    author = match["name"]
            lines.append(line.rstrip())
        if lines:
            kept.append("\n".join(lines))
    return CleanText(paragraphs=kept, author=author)
