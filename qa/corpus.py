"""The read model: the committed corpus held in memory (documents, passages, sentence
vectors, the BM25 index), loaded once from the store and replaced when the store changes.

Ingest computed everything here; loading only reads, so a question costs no indexing work."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import msgspec
import numpy as np

from config import Settings
from index.documents import Document, Passage
from index.lexical import LexicalIndex, terms
from index.store import SentenceRecord, Snapshot, Store


@dataclass
class Corpus:
    generation: str
    documents: dict[str, Document]
    passages: list[Passage]
    sentences: list[SentenceRecord]
    sentence_vectors: np.ndarray
    lexical: LexicalIndex
    passage_row: dict[str, int] = field(init=False)
    sentence_row: dict[str, int] = field(init=False)
    passage_sentence_rows: list[np.ndarray] = field(init=False)
    lexical_to_passage: np.ndarray = field(init=False)
    doc_code: dict[str, int] = field(init=False)
    passage_doc: np.ndarray = field(init=False)
    sentence_doc: np.ndarray = field(init=False)
    _passages_per_doc: np.ndarray = field(init=False)
    sentence_terms: list[frozenset[str]] = field(init=False)
    passage_terms: list[frozenset[str]] = field(init=False)
    title_terms: dict[str, frozenset[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.passage_row = {p.id: i for i, p in enumerate(self.passages)}
        self.sentence_row = {s.id: i for i, s in enumerate(self.sentences)}
        by_passage: dict[str, list[int]] = {}
        for row, sentence in enumerate(self.sentences):
            by_passage.setdefault(sentence.passage_id, []).append(row)
        # Sentence rows of each passage in text order (their offsets increase).
        self.passage_sentence_rows = [
            np.array(sorted(by_passage.get(p.id, []), key=lambda r: self.sentences[r].start), dtype=np.int64)
            for p in self.passages
        ]
        self.lexical_to_passage = np.array([self.passage_row.get(i, -1) for i in self.lexical.passage_ids], dtype=np.int64)
        self.sentence_terms = [frozenset(s.terms.split()) for s in self.sentences]
        self.passage_terms = [frozenset().union(*(self.sentence_terms[r] for r in rows))
                              for rows in self.passage_sentence_rows]
        self.title_terms = {doc_id: frozenset(terms(d.title)) for doc_id, d in self.documents.items()}
        self.doc_code = {doc_id: n for n, doc_id in enumerate(self.documents)}
        self.passage_doc = np.array([self.doc_code[p.doc_id] for p in self.passages], dtype=np.int64)
        self.sentence_doc = np.array([self.doc_code[s.doc_id] for s in self.sentences], dtype=np.int64)
        self._passages_per_doc = np.bincount(self.passage_doc, minlength=len(self.doc_code))

    @classmethod
    def load(cls, store: Store, settings: Settings) -> "Corpus":
        """Read the committed corpus; the snapshot and the BM25 index come from local caches
        under data_dir when they were saved for this generation (ingest saves them)."""
        generation = store.generation()
        cache = Path(settings.data_dir)
        snapshot = cached_snapshot(store, cache / "snapshots" / store.prefix, generation)
        texts = [snapshot.documents[p.doc_id].text[p.start : p.end] for p in snapshot.passages]
        lexical = LexicalIndex.cached(cache / "lexical" / store.prefix, generation,
                                      [p.id for p in snapshot.passages], texts)
        return cls(generation=generation, documents=snapshot.documents, passages=snapshot.passages,
                   sentences=snapshot.sentences, sentence_vectors=snapshot.sentence_vectors, lexical=lexical)

    def passage_count(self, doc_id: str) -> int:
        """How many passages the document has (0 for an id the corpus does not hold)."""
        code = self.doc_code.get(doc_id)
        return 0 if code is None else int(self._passages_per_doc[code])

    def passage_text(self, row: int) -> str:
        passage = self.passages[row]
        return self.documents[passage.doc_id].text[passage.start : passage.end]

    def sentence_text(self, row: int) -> str:
        sentence = self.sentences[row]
        return self.documents[sentence.doc_id].text[sentence.start : sentence.end]

    def doc_mask(self, doc_ids: list[str] | None,
                 over: Literal["passages", "sentences"] = "passages") -> np.ndarray | None:
        """Boolean mask over passages (or sentences) for a document filter (None: no filter):
        one lookup in a per-document table, as a filter may keep thousands of documents."""
        if not doc_ids:
            return None
        kept = np.zeros(len(self.doc_code), dtype=bool)
        kept[[self.doc_code[d] for d in doc_ids if d in self.doc_code]] = True
        return kept[self.passage_doc if over == "passages" else self.sentence_doc]


class _SnapshotRecords(msgspec.Struct):
    documents: dict[str, Document]
    passages: list[Passage]
    sentences: list[SentenceRecord]


def cached_snapshot(store: Store, folder: Path, generation: str) -> Snapshot:
    """The store's snapshot for this generation, from a local cache when one was saved:
    reading every sentence vector back from Chroma is most of a cold start (and minutes at
    100k passages). The cache is derived state, keyed by the generation, so never stale."""
    records, vectors = folder / f"{generation}.msgpack", folder / f"{generation}.npy"
    if records.exists() and vectors.exists():
        try:
            meta = msgspec.msgpack.decode(records.read_bytes(), type=_SnapshotRecords)
            return Snapshot(documents=meta.documents, passages=meta.passages, sentences=meta.sentences,
                            sentence_vectors=np.load(vectors))
        except (OSError, ValueError, msgspec.DecodeError):
            pass  # a damaged cache is rebuilt below
    snapshot = store.snapshot()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        tmp = folder / f"{generation}.{os.getpid()}.tmp"
        np.save(tmp, snapshot.sentence_vectors)
        tmp.with_suffix(".tmp.npy").replace(vectors)
        tmp.write_bytes(msgspec.msgpack.encode(_SnapshotRecords(snapshot.documents, snapshot.passages, snapshot.sentences)))
        tmp.replace(records)  # written last: its presence means the pair is complete
    except OSError:
        pass  # a read-only data dir only costs the slow path next time
    return snapshot
