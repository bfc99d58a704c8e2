"""Author and publication date stated in the text of a plain article, near its top:
a byline line ("By Jane Doe and John Roe") and a dateline ("Published: May 16, 2024").

Only whole lines that clearly are one or the other count, and a date is kept only when
it parses; anything less certain is left out rather than guessed."""

from __future__ import annotations

import re
from datetime import datetime

import msgspec

HEAD_LINES = 6  # bylines and datelines sit under the headline, before the story

_NAME = r"[A-Z][\w'’.-]+(?:\s+(?:[A-Z][\w'’.-]+|van|von|der|de|da|del|la|le|bin|al))*\s+[A-Z][\w'’-]+"
_BYLINE = re.compile(rf"(?i:by)\s+(?P<names>{_NAME}(?:\s*(?:,|and|&)\s*{_NAME})*)")
_DATELINE = re.compile(r"(?:first\s+)?(?:published|posted)(?:\s+on)?\s*:?\s+(?P<date>.+?)\s*", re.IGNORECASE)
_DATE_FORMATS = ("%Y-%m-%d", "%B %d, %Y", "%b %d, %Y", "%b. %d, %Y", "%d %B %Y", "%d %b %Y", "%A, %B %d, %Y")


class Byline(msgspec.Struct):
    author: str | None = None
    date: str | None = None  # ISO 8601 (YYYY-MM-DD)


def parse_date(value: str) -> str | None:
    """An ISO date (YYYY-MM-DD) from a date as articles write it, or None."""
    value = re.sub(r"(\d)(?:st|nd|rd|th)\b", r"\1", value)  # "May 16th, 2024"
    value = re.split(r"\s+(?:at\s+)?\d{1,2}:\d{2}|T\d{2}:", value)[0].strip(" ,")  # a time after the date
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def metadata_date(value: str) -> str | None:
    """The date to keep from a metadata field (front matter, sidecar, HTML, an upload's): an
    ISO date when it parses, a bare year or year-month (`2023`, `2023-05`) as written, else
    None: an unreadable date leaves the article undated, it is never stored raw."""
    if re.fullmatch(r"\d{4}(?:-(?:0[1-9]|1[0-2]))?", value.strip()):
        return value.strip()
    return parse_date(value)


def find_byline(paragraphs: list[str]) -> Byline:
    """The byline's names ("; "-separated) and the publication date from the first lines."""
    found = Byline()
    lines = [line.strip() for paragraph in paragraphs for line in paragraph.split("\n")][:HEAD_LINES]
    for line in lines:
        if found.author is None and (match := _BYLINE.fullmatch(line)):
            found.author = "; ".join(n.strip() for n in re.split(r"\s*(?:,|\band\b|&)\s*", match["names"]) if n.strip())
        elif found.date is None and (match := _DATELINE.fullmatch(line)):
            found.date = parse_date(match["date"])
    return found
