"""A document's text with character ranges highlighted: parsing `?highlight=start-end`
and rendering a small, self-contained, readable HTML page (every text HTML-escaped).

Ranges are offsets into the stored text, the same offsets citations carry, so a citation's
`document_url` opens the article with its quote marked."""

from __future__ import annotations

import re
from html import escape
from itertools import pairwise

from index.documents import Document, Span
from index.splitting import paragraph_spans

MAX_RANGES = 50


class BadHighlight(ValueError):
    """A highlight parameter that is not a list of valid `start-end` ranges of the text."""


def parse_ranges(values: list[str], length: int) -> list[Span]:
    """Ranges from "start-end" values (each may hold several, comma-separated), checked
    against the text length, sorted, and merged where they overlap or touch."""
    spans: list[Span] = []
    for value in values:
        for part in value.split(","):
            shown = part.strip()[:40]  # an error message need not echo a huge parameter
            match = re.fullmatch(r"(\d{1,12})-(\d{1,12})", part.strip(), re.ASCII)
            if match is None:
                raise BadHighlight(f"highlight {shown!r} is not a range like 120-245")
            span = Span(int(match[1]), int(match[2]))
            if not 0 <= span.start < span.end <= length:
                raise BadHighlight(f"highlight {shown!r} is outside the text (0-{length}, start < end)")
            spans.append(span)
    if len(spans) > MAX_RANGES:
        raise BadHighlight(f"at most {MAX_RANGES} highlight ranges")
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: s.start):
        if merged and span.start <= merged[-1].end:
            merged[-1] = Span(merged[-1].start, max(merged[-1].end, span.end))
        else:
            merged.append(span)
    return merged


def _paragraph_html(text: str, paragraph: Span, ranges: list[Span], first_mark: set[int]) -> str:
    """One paragraph with the parts inside ranges wrapped in <mark>; a range's first piece
    carries its anchor (#highlight-N) so a link can jump to it."""
    cuts = sorted({paragraph.start, paragraph.end} | {b for r in ranges for b in (r.start, r.end)
                                                      if paragraph.start < b < paragraph.end})
    out = []
    for a, b in pairwise(cuts):
        piece = escape(text[a:b]).replace("\n", "<br>\n")
        owner = next((n for n, r in enumerate(ranges, start=1) if r.start <= a < r.end), None)
        if owner is None:
            out.append(piece)
        else:
            anchor = f' id="highlight-{owner}"' if owner not in first_mark else ""
            first_mark.add(owner)
            out.append(f"<mark{anchor}>{piece}</mark>")
    return "<p>" + "".join(out) + "</p>"


_STYLE = ("body{font:17px/1.6 Georgia,serif;max-width:42em;margin:2em auto;padding:0 1em;color:#222}"
          "h1{font-size:1.5em;line-height:1.3}dl{font:14px/1.5 system-ui,sans-serif;color:#555}"
          "dt{float:left;clear:left;width:8em;font-weight:600}dd{margin-left:8.5em}"
          "mark{background:#ffe479;padding:0 .1em}nav{font:14px system-ui,sans-serif}")


_NOT_SHOWN = ("title_source", "sentence_splitter")  # how ingest made the record, not the article's


def render_html(document: Document, ranges: list[Span]) -> str:
    fields = {"source": document.source, **{k: v for k, v in document.metadata.items() if k not in _NOT_SHOWN},
              "content hash": document.content_hash}
    meta = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in fields.items())
    first_mark: set[int] = set()
    body = "\n".join(_paragraph_html(document.text, p, ranges, first_mark) for p in paragraph_spans(document.text))
    jump = '<nav><a href="#highlight-1">Jump to the highlighted text</a></nav>' if ranges else ""
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(document.title)}</title><style>{_STYLE}</style></head>\n"
            f"<body><h1>{escape(document.title)}</h1><dl>{meta}</dl>{jump}\n"
            f"<article>\n{body}\n</article></body></html>\n")
