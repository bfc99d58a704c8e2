"""Reading articles (.txt, .md, .html) into the documents ingest takes: paragraphs plus
metadata, from files (`read_files`, `read_document`) or from an upload's content (`uploaded`).

Metadata comes from the file itself (HTML meta tags, Markdown front matter) and from an
optional JSON sidecar `<file>.meta.json`, or an upload's own; fields that are not there stay
absent."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import msgspec

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
UPLOAD = "upload:"  # an uploaded article's source: this, then its file name
# The metadata fields read, with the most characters each keeps: a file's longer value is cut
# (`clipped`, when the document is prepared), a posted one is a 400 (qa/api/uploads.py).
METADATA_LIMITS = {"title": 300, "author": 300, "date": 64, "publisher": 300, "url": 2000}
METADATA_FIELDS = tuple(METADATA_LIMITS)


class UnreadableFile(Exception):
    """A file that is binary, not UTF-8, or of an unsupported type."""


class UnsupportedFile(UnreadableFile):
    """A file of a type that is never read (its name's suffix)."""


class RawDocument(msgspec.Struct):
    """An article as ingest takes it, in memory: its text's paragraphs and its metadata."""

    doc_id: str
    source: str
    paragraphs: list[str]
    metadata: dict[str, str]


class Skipped(msgspec.Struct):
    """An article that was not read, and why; ingest reports it as skipped."""

    name: str
    reason: str


def document_id(path: Path) -> str:
    """The id a file's document gets: its path (relative to the folder it was found in)
    without suffix, made URL-safe: `a/report.txt` gives `a-report`, `report.txt` `report`.

    Re-ingesting a file at the same place replaces that document."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(path.with_suffix(""))).strip("-") or "document"


def source_name(source: str, doc_id: str) -> tuple[str, ...]:
    """The name a document's id was made from, as path parts: the shortest end of its
    source's path that gives the id (`corpus/a/report.txt` for `a-report`: `a/report.txt`;
    `upload:moon story.txt`: `moon story.txt`), whichever folder it was ingested from."""
    parts = Path(source.removeprefix(UPLOAD)).parts
    return next((parts[-n:] for n in range(1, len(parts) + 1) if document_id(Path(*parts[-n:])) == doc_id), parts)


def same_file(source: str, other: str, doc_id: str) -> bool:
    """Whether two documents of the id `doc_id`, read from `source` and `other`, come from
    the same file name: a new version of an article replaces the stored one (a correction),
    but `a.html` never takes over the id of `a.txt`, nor `moon-story.txt` that of `moon story.txt`."""
    return source_name(source, doc_id) == source_name(other, doc_id)


def clipped(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at the last word boundary before the limit
    (mid-word only for a single over-long word), "…" marking the cut."""
    if len(text) <= limit:
        return text
    space = text.rfind(" ", 0, limit)
    return (text[:space] if space > 0 else text[: limit - 1]).rstrip() + "…"


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

    # An empty or broken page is the input's fault, reported as skipped (a 422 for an upload),
    # not a server error: trafilatura's ERROR lines about it would only be noise in the log.
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)

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
    return metadata_fields(data)


def metadata_fields(data: Mapping[str, object]) -> dict[str, str]:
    """The known metadata fields that have a value, as strings: a sidecar's or an upload's."""
    # A list (several authors) becomes one "; "-separated value, the form bylines are kept in.
    return {k: "; ".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in data.items()
            if k in METADATA_FIELDS and v not in (None, "", [])}


def _supported(path: Path) -> str:
    """The file's suffix, if it is of a type that is read (else UnsupportedFile)."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedFile(f"{path}: unsupported file type {suffix or '(none)'} "
                              f"(use one of {', '.join(SUPPORTED_SUFFIXES)})")
    return suffix


def parse(path: Path, data: bytes, doc_id: str | None = None, source: str | None = None) -> RawDocument:
    """The document in the content `data` of a file named `path`, whose suffix says how to read
    it (the caller checked it is supported); the id is the file name's unless given."""
    text = _decode(data, path)
    metadata: dict[str, str] = {}
    suffix = path.suffix.lower()
    if suffix in (".md", ".markdown"):
        metadata, text = _front_matter(text)
        text = _markdown_to_text(text)
    elif suffix in (".html", ".htm"):
        metadata, text = _html_to_text(text)
    return RawDocument(doc_id=doc_id or document_id(Path(path.name)), source=source or str(path),
                       paragraphs=split_paragraphs(text), metadata=metadata)


def read_document(path: Path, doc_id: str | None = None) -> RawDocument:
    _supported(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(f"{path}: {exc.strerror}") from exc
    document = parse(path, data, doc_id)
    document.metadata.update(_sidecar(path))
    return document


def uploaded(filename: str, content: bytes, metadata: Mapping[str, object] | None = None) -> RawDocument | Skipped:
    """An uploaded article (POST /documents, /uploads), read as a file of that name would be,
    its `metadata` winning over the file's own as a sidecar's does; Skipped when it cannot be
    read. Raises UnsupportedFile for a name of a type that is never read."""
    path = Path(filename)
    _supported(path)
    try:
        document = parse(path, content, source=UPLOAD + filename)
    except UnreadableFile as exc:
        return Skipped(filename, str(exc))
    document.metadata.update(metadata_fields(metadata or {}))
    return document


def discover(paths: list[Path]) -> list[Path]:
    """Files to ingest: the given files, and supported files found under given folders."""
    return [path for path, _ in discover_with_ids(paths)[0]]


def discover_with_ids(paths: list[Path], follow_links: bool = False
                      ) -> tuple[list[tuple[Path, str]], list[tuple[Path, str]]]:
    """`discover`, with each file's document id: from its path within the folder it was
    found in (so `a/report.txt` and `b/report.txt` stay two documents), or from its name.
    Also returns the files refused, with why: a symbolic link inside a folder that points
    out of it (`link.txt -> /etc/passwd`) unless `follow_links`."""
    found: list[tuple[Path, str]] = []
    refused: list[tuple[Path, str]] = []
    for path in paths:
        if not path.is_dir():
            found.append((path, document_id(Path(path.name))))
            continue
        root = path.resolve()
        for p in sorted(path.rglob("*")):
            if not p.is_file() or p.suffix.lower() not in SUPPORTED_SUFFIXES:
                continue
            if not follow_links and not p.resolve().is_relative_to(root):
                refused.append((p, f"a link to {p.resolve()}, outside {path} (--follow-links to ingest it)"))
                continue
            found.append((p, document_id(p.relative_to(path))))
    return found, refused


class ArticleFiles:
    """The documents of the article files under `paths` (`discover_with_ids`), each read when
    ingest takes it, so that a large folder is never held in memory at once: a RawDocument, or
    Skipped with why (a link out of its folder, a second file with a document id already taken,
    a file that cannot be read). Its length is the number of files, for ingest's progress."""

    def __init__(self, paths: list[Path], follow_links: bool = False) -> None:
        self._found, self._refused = discover_with_ids(paths, follow_links)

    def __len__(self) -> int:
        return len(self._refused) + len(self._found)

    def __iter__(self) -> Iterator[RawDocument | Skipped]:
        for path, reason in self._refused:
            yield Skipped(str(path), reason)
        claimed: dict[str, Path] = {}  # document id -> the file that has it
        for path, doc_id in self._found:
            if doc_id in claimed:  # report.txt beside report.md: never let one silently replace the other
                yield Skipped(str(path), f"same document id {doc_id!r} as {claimed[doc_id]}: rename one of them")
                continue
            claimed[doc_id] = path
            try:
                document: RawDocument | Skipped = read_document(path, doc_id)
            except UnreadableFile as exc:
                document = Skipped(str(path), str(exc))
            yield document
