"""Citations into replaced text: when a story was updated in place (a feed's correction),
the old version's citation ids answer "gone, here is the current version" (410 over HTTP)
rather than "not found", from the superseded map that index/ writes (index/superseded.py)."""

from __future__ import annotations

import threading
from pathlib import Path

from index.superseded import read_superseded, superseded_path
from qa.citations import CitationNotFound, parse_citation_id
from qa.corpus import Corpus
from qa.doc_index import HASH_PREFIX

_cache: dict[Path, tuple[tuple[int, int], dict[str, str]]] = {}  # the map per file, by (mtime, size)
_guard = threading.Lock()


class CitationGone(CitationNotFound):
    """A citation into a version of a document that a newer version replaced."""

    def __init__(self, message: str, doc_id: str, current_version: str) -> None:
        super().__init__(message)
        self.doc_id, self.current_version = doc_id, current_version


def _replacements(data_dir: str) -> dict[str, str]:
    """Old content hash prefix -> the replacing document's id, read again only when the file changed."""
    path = superseded_path(data_dir)
    try:
        stat = path.stat()
    except FileNotFoundError:
        return {}
    key = (stat.st_mtime_ns, stat.st_size)
    with _guard:
        cached = _cache.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    found = {old[:HASH_PREFIX]: doc_id for old, doc_id in read_superseded(data_dir).items()}
    with _guard:
        _cache[path] = (key, found)
    return found


def replaced_citation(corpus: Corpus, citation_id: str, data_dir: str) -> CitationGone | None:
    """The CitationGone for an id into a replaced version whose document is still held; None
    when the id names nothing known to have been replaced."""
    ref = parse_citation_id(citation_id)
    if ref is None:
        return None
    doc_id = _replacements(data_dir).get(ref.hash_prefix)
    document = corpus.documents.get(doc_id) if doc_id is not None else None
    if document is None or document.content_hash.startswith(ref.hash_prefix):
        return None
    current = document.content_hash[:HASH_PREFIX]
    return CitationGone(f"citation {citation_id!r} quotes a version of document {doc_id!r} that was replaced by "
                        f"a newer version ({current}); cite the current text instead", doc_id, current)
