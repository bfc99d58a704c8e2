"""The one way the corpus changes, for every entry point (`qa ingest` and `qa delete`, POST
/documents and /uploads, DELETE /documents): documents are written to the store (ingest,
index/pipeline.py) or removed from it, then the read model's version of the new generation is
published (index/readmodel/), so that readers open it rather than each write it."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from config import Settings
from index.embedding import Embedder, load_embedder
from index.loading import ArticleFiles, RawDocument, Skipped, uploaded
from index.pipeline import IngestReport, ingest_documents
from index.readmodel import Peer, Versions
from index.store import Store
from index.writefaults import BoundedLock, check_free_space


class Writer:
    """Writes one store and publishes its read model (`versions`, which the process's readers
    follow too). Writes are serialised within a process, one batch at a time (ingest embeds
    outside the lock): ingest's orphan sweep must not run while another request's document is
    half written. Waits for the lock and for a batch are bounded (WriterBusy), and a write is
    refused up front when the data dir's disk is nearly full (DiskFull): index/writefaults.py."""

    def __init__(self, store: Store, settings: Settings, peer: Peer | None = None,
                 embed_threads: int | None = None) -> None:
        """`embed_threads`: the embedder's threads, every core unless given (a server gives
        fewer: its reads need a core while a large upload is embedded)."""
        self.store, self.settings = store, settings
        self.versions = Versions(store, settings, peer)
        self.embedder: Embedder | None = None  # loaded on the first write: most replicas only read
        self._embed_threads = embed_threads or os.cpu_count() or 1
        self._lock = BoundedLock(settings.write_timeout_seconds)

    def ingest(self, documents: Iterable[RawDocument | Skipped], progress: bool = False,
               replace: bool = False) -> IngestReport:
        """Add or replace these documents (index/pipeline.py), then publish. A document whose id
        is held by one read from a file of another name is skipped (`taken`) unless `replace`."""
        check_free_space(self.settings.data_dir, self.settings.min_free_mb)  # at once, before any embedding
        with self._lock:
            if self.embedder is None:
                self.embedder = load_embedder(self.settings, threads=self._embed_threads)
        report = ingest_documents(documents, self.store, self.embedder, self.settings, progress=progress,
                                  write_lock=self._lock, replace=replace)
        self.versions.current()
        return report

    def ingest_files(self, paths: list[Path], follow_links: bool = False, progress: bool = False,
                     replace: bool = False) -> IngestReport:
        """`ingest` of the article files under `paths` (index/loading.py)."""
        return self.ingest(ArticleFiles(paths, follow_links), progress, replace)

    def upload(self, filename: str, content: bytes, metadata: Mapping[str, object] | None = None,
               replace: bool = False) -> IngestReport:
        """`ingest` of one uploaded article (index.loading.uploaded); UnsupportedFile for a name
        of a type that is never read."""
        return self.ingest([uploaded(filename, content, metadata)], replace=replace)

    def delete(self, doc_id: str) -> bool:
        """Remove a document, then publish; whether there was one. The lock is held until the
        version without it is published."""
        with self._lock:
            existed = self.store.delete_document(doc_id)
            self.versions.current()
        return existed
