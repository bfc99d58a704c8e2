"""Reading article files (.txt, .md, .html) into paragraphs plus metadata.

Metadata comes from the file itself (HTML meta tags, Markdown front matter) and from an
optional JSON sidecar `<file>.meta.json`; fields that are not there stay absent."""

from __future__ import annotations

import json
import re
from pathlib import Path

import msgspec

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
METADATA_FIELDS = ("title", "author", "date", "publisher", "url")


class UnreadableFile(Exception):
    """A file that is binary, not UTF-8, or of an unsupported type."""


class RawDocument(msgspec.Struct):
    doc_id: str
    source: str
    paragraphs: list[str]
    metadata: dict[str, str]


def document_id(path: Path) -> str:
    """The id a file's document gets: its file name without suffix, made URL-safe.

    Re-ingesting a file with the same name replaces that document."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-") or "document"


def _decode(data: bytes, path: Path) -> str:
    if b"\x00" in data[:8192]:
        raise UnreadableFile(f"{path}: binary file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    return text.replace("\r\n", "\n").replace("\r", "\n")


def split_paragraphs(text: str) -> list[str]:
    """Blank lines separate paragraphs; a file without any blank line has one per line."""
    if re.search(r"\n[ \t\xa0]*\n", text):
        parts = re.split(r"\n[ \t\xa0]*\n", text)
    else:
        parts = text.split("\n")
    return [part.strip() for part in parts if part.strip()]


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    match = re.match(r"---\n(.*?)\n---\n", text, re.DOTALL)
    if not match:
        return {}, text
    fields = {}
    for line in match[1].split("\n"):
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() in METADATA_FIELDS and value.strip():
            fields[key.strip().lower()] = value.strip().strip("\"'")
    return fields, text[match.end() :]


def _markdown_to_text(text: str) -> str:
    text = re.sub(r"^#{1,6}\s+", "", text, flags=re.MULTILINE)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)  # images
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)  # links keep their text
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    return text


def _html_to_text(html: str) -> tuple[dict[str, str], str]:
    import trafilatura

    meta = trafilatura.extract_metadata(html)
    fields: dict[str, str] = {}
    if meta is not None:
        for name, attr in (("title", "title"), ("author", "author"), ("date", "date"),
                           ("publisher", "sitename"), ("url", "url")):
            if value := getattr(meta, attr, None):
                fields[name] = str(value)
    body = trafilatura.extract(html, include_comments=False, include_tables=False, favor_precision=True)
    # trafilatura puts one paragraph per line.
    return fields, "\n\n".join(line for line in (body or "").split("\n") if line.strip())


def _sidecar(path: Path) -> dict[str, str]:
    sidecar = path.with_name(path.name + ".meta.json")
    if not sidecar.exists():
        return {}
    try:
        data = json.loads(sidecar.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise UnreadableFile(f"{sidecar}: invalid metadata sidecar ({exc})") from exc
    if not isinstance(data, dict):
        raise UnreadableFile(f"{sidecar}: a metadata sidecar must be a JSON object")
    # A list (several authors) becomes one "; "-separated value, the form bylines are kept in.
    return {k: "; ".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in data.items()
            if k in METADATA_FIELDS and v not in (None, "", [])}


def read_document(path: Path) -> RawDocument:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnreadableFile(f"{path}: unsupported file type {suffix or '(none)'}")
    try:
        text = _decode(path.read_bytes(), path)
    except OSError as exc:
        raise UnreadableFile(f"{path}: {exc.strerror}") from exc
    metadata: dict[str, str] = {}
    if suffix in (".md", ".markdown"):
        metadata, text = _front_matter(text)
        text = _markdown_to_text(text)
    elif suffix in (".html", ".htm"):
        metadata, text = _html_to_text(text)
    metadata.update(_sidecar(path))
    return RawDocument(doc_id=document_id(path), source=str(path), paragraphs=split_paragraphs(text), metadata=metadata)


def discover(paths: list[Path]) -> list[Path]:
    """Files to ingest: the given files, and supported files found under given folders."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES))
        else:
            found.append(path)
    return found
