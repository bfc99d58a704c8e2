"""References to an article, built only from the metadata it really has: CSL-JSON (what
reference managers import), BibTeX, APA 7 and MLA 9.

Missing fields stay missing: no date gives APA's "(n.d.)", no author moves the title
first, no URL leaves the locator out. A document whose title was made from its opening
words (metadata "title_source" = "opening-words") has no headline: CSL-JSON and BibTeX
carry no title and say so in a note, APA and MLA describe the work instead, as both
styles prescribe for untitled works."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any, Literal

from index.documents import Document

Style = Literal["csl-json", "bibtex", "apa", "mla"]
STYLES: tuple[Style, ...] = ("csl-json", "bibtex", "apa", "mla")
MEDIA_TYPES: dict[Style, str] = {"csl-json": "application/vnd.citationstyles.csl+json",
                                 "bibtex": "application/x-bibtex", "apa": "text/plain", "mla": "text/plain"}
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_MLA_MONTHS = ("Jan.", "Feb.", "Mar.", "Apr.", "May", "June", "July", "Aug.", "Sept.", "Oct.", "Nov.", "Dec.")
_PARTICLES = {"van", "von", "der", "den", "de", "da", "del", "della", "di", "du", "la", "le", "bin", "al", "ten", "ter"}
_OPENING_WORDS = 10


class Name:
    """A personal name split for citation styles; `literal` for one-word or unsplittable names."""

    def __init__(self, raw: str) -> None:
        self.literal: str | None = None
        self.family = self.given = ""
        if "," in raw:  # already "Family, Given"
            self.family, self.given = (part.strip() for part in raw.split(",", 1))
            return
        words = raw.split()
        if len(words) < 2:
            self.literal = raw.strip()
            return
        # The family name starts at a lower-case particle ("Ursula von der Leyen") or is the last word.
        cut = next((i for i in range(1, len(words)) if words[i] in _PARTICLES), len(words) - 1)
        self.given, self.family = " ".join(words[:cut]), " ".join(words[cut:])

    def initials(self) -> str:
        """APA initials: "Jean-Paul Sartre" -> "J.-P."."""
        return " ".join("-".join(f"{part[0]}." for part in word.split("-") if part) for word in self.given.split())

    def csl(self) -> dict[str, str]:
        return {"literal": self.literal} if self.literal else {"family": self.family, "given": self.given}

    def inverted(self) -> str:
        return self.literal or f"{self.family}, {self.given}"

    def natural(self) -> str:
        return self.literal or f"{self.given} {self.family}"


def authors(document: Document) -> list[Name]:
    """The author field holds one name or several separated by ";" (or "and"/"&")."""
    raw = document.metadata.get("author", "")
    return [Name(part) for part in re.split(r"\s*;\s*|\s+and\s+|\s*&\s*", raw) if part.strip()]


def headline(document: Document) -> str | None:
    """The article's real title, or None when the stored title is only its opening words."""
    source = document.metadata.get("title_source")
    if source in ("metadata", "heading"):
        return document.title
    return document.metadata.get("title") or None  # documents ingested before title_source existed


def _opening(document: Document) -> str:
    words = document.text.split()
    return " ".join(words[:_OPENING_WORDS]) + ("…" if len(words) > _OPENING_WORDS else "")


def untitled_description(document: Document) -> str:
    return f"Untitled article beginning “{_opening(document)}”"


def published(document: Document) -> tuple[int, ...] | None:
    """Year, month, day as far as the date field gives them (ISO 8601 dates)."""
    match = re.match(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", document.metadata.get("date", ""))
    return tuple(int(part) for part in match.groups() if part) if match else None


def accessed(document: Document) -> tuple[int, int, int] | None:
    """The day the service read the article (its ingestion date)."""
    match = re.match(r"(\d{4})-(\d{2})-(\d{2})", document.metadata.get("ingested_at", ""))
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def _url(document: Document) -> str | None:
    url = document.metadata.get("url") or (document.source if re.match(r"https?://", document.source) else "")
    return url or None


def csl_json(document: Document) -> dict[str, Any]:
    item: dict[str, Any] = {"id": document.id, "type": "article-newspaper"}
    if title := headline(document):
        item["title"] = title
    else:
        item["note"] = f"No title in the source. {untitled_description(document)}."
    if names := authors(document):
        item["author"] = [n.csl() for n in names]
    if date := published(document):
        item["issued"] = {"date-parts": [list(date)]}
    elif raw := document.metadata.get("date"):
        item["issued"] = {"raw": raw}
    if publisher := document.metadata.get("publisher"):
        item["container-title"] = publisher
        item["publisher"] = publisher
    if url := _url(document):
        item["URL"] = url
        if day := accessed(document):
            item["accessed"] = {"date-parts": [list(day)]}
    return item


_BIBTEX_SPECIAL = {"\\": r"\textbackslash{}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                   **{c: "\\" + c for c in "&%$#_{}"}}


def _bibtex_escape(value: str) -> str:
    return re.sub(r"[\\~^&%$#_{}]", lambda m: _BIBTEX_SPECIAL[m[0]], value)


def _bibtex_name(name: Name) -> str:
    # Braces keep an organisation's name from being parsed as "Given Family".
    return "{" + _bibtex_escape(name.literal) + "}" if name.literal else _bibtex_escape(name.inverted())


def _bibtex_key(document: Document, names: list[Name], date: tuple[int, ...] | None, title: str | None) -> str:
    parts = [(names[0].literal or names[0].family) if names else "", str(date[0]) if date else "",
             (title or "").split()[0] if title else ""]
    ascii_key = unicodedata.normalize("NFKD", "".join(parts)).encode("ascii", "ignore").decode()
    key = re.sub(r"[^A-Za-z0-9]", "", ascii_key).lower()
    return key or re.sub(r"[^A-Za-z0-9_-]", "", document.id) or "article"


def bibtex(document: Document) -> str:
    names, date, title = authors(document), published(document), headline(document)
    publisher = document.metadata.get("publisher")
    fields: list[tuple[str, str]] = []
    if names:
        fields.append(("author", " and ".join(_bibtex_name(n) for n in names)))
    fields.append(("title", "{" + _bibtex_escape(title) + "}") if title else
                  ("note", _bibtex_escape(f"No title in the source. {untitled_description(document)}")))
    if publisher:
        fields.append(("journal", _bibtex_escape(publisher)))
    if date:
        fields.append(("year", str(date[0])))
        if len(date) > 1:
            fields.append(("month", str(date[1])))
        fields.append(("date", "-".join(f"{p:02d}" for p in date)))
    if url := _url(document):
        fields.append(("url", url))
        if day := accessed(document):
            fields.append(("urldate", "-".join(f"{p:02d}" for p in day)))
    entry = "article" if publisher else "misc"
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@{entry}{{{_bibtex_key(document, names, date, title)},\n{body}\n}}\n"


def _sentence(text: str) -> str:
    """Text ending with one full stop (none added after ?, ! or .)."""
    return text if text.endswith((".", "?", "!")) else text + "."


def _apa_authors(names: list[Name]) -> str:
    formatted = [n.literal or f"{n.family}, {n.initials()}" for n in names]
    if len(formatted) > 20:  # APA 7: the first 19, an ellipsis, the last
        return ", ".join(formatted[:19]) + ", . . . " + formatted[-1]
    return formatted[0] if len(formatted) == 1 else ", ".join(formatted[:-1]) + ", & " + formatted[-1]


def _apa_date(date: tuple[int, ...] | None) -> str:
    """"2024, May 16", "2024, May", "2024", or "n.d." (no date)."""
    if not date:
        return "n.d."
    month = f", {_MONTHS[date[1] - 1]}" if len(date) > 1 else ""
    return f"{date[0]}{month}" + (f" {date[2]}" if len(date) > 2 else "")


def apa(document: Document) -> str:
    names, date, title = authors(document), published(document), headline(document)
    work = _sentence(title) if title else f"[{untitled_description(document)}]."
    when = f"({_apa_date(date)})."
    parts = [_sentence(_apa_authors(names)), when, work] if names else [work, when]
    if publisher := document.metadata.get("publisher"):
        parts.append(_sentence(publisher))
    if url := _url(document):
        parts.append(url)
    return " ".join(parts)


def _mla_date(date: tuple[int, ...]) -> str:
    day = f"{date[2]} " if len(date) > 2 else ""
    month = f"{_MLA_MONTHS[date[1] - 1]} " if len(date) > 1 else ""
    return f"{day}{month}{date[0]}"


def mla(document: Document) -> str:
    names, date, title = authors(document), published(document), headline(document)
    parts: list[str] = []
    if names:
        if len(names) == 1:
            parts.append(_sentence(names[0].inverted()))
        elif len(names) == 2:
            parts.append(_sentence(f"{names[0].inverted()}, and {names[1].natural()}"))
        else:
            parts.append(f"{names[0].inverted()}, et al.")
    parts.append(f"“{_sentence(title)}”" if title else _sentence(untitled_description(document)))
    container = [document.metadata.get("publisher")] + ([_mla_date(date)] if date else [])
    url = _url(document)
    container.append(re.sub(r"^https?://", "", url) if url else None)
    if located := ", ".join(part for part in container if part):
        parts.append(_sentence(located))
    if url and (day := accessed(document)):
        parts.append(f"Accessed {_mla_date(day)}.")
    return " ".join(parts)


def render(document: Document, style: Style) -> str:
    if style == "csl-json":
        return json.dumps([csl_json(document)], ensure_ascii=False, indent=2)
    return {"bibtex": bibtex, "apa": apa, "mla": mla}[style](document)
