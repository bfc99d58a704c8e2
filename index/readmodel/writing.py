"""Writing a read-model version (index/readmodel/format.py): its columns, from the whole store
(`from_store`, a part of its documents at a time; `from_snapshot`, one snapshot's) or from the
version before and the documents that changed (`apply`, in numpy), then its files, into a
temporary folder renamed into place once COMMITTED is written last (`write`). Which process
writes which version, and when, is publishing.py's."""

from __future__ import annotations

import ctypes
import os
import shutil
import time
from collections import Counter
from pathlib import Path

import msgspec
import numpy as np

from index.documents import Document
from index.lexical import Postings, terms_of_many
from index.readmodel.format import (ARRAYS, COMMITTED, FORMAT, ID_DTYPE, LINEAGE, Bm25, Columns, DocumentsBase, Stacked,
                                    State, Vectors, blanked, id_keys, keeps_base, linked, linked_all, temporary)
from index.store import VECTOR_DIM, Snapshot, Store

REMOVED_MAX_FRACTION = 1 / 16  # removed documents' rows are dropped (every file rewritten) beyond this share of sentences


def _bounds(counts) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64)


def from_snapshot(snapshot: Snapshot) -> Columns:
    """Columns of a whole snapshot. Records without their parent (an interrupted ingest's
    orphans) are left out."""
    return _records(list(snapshot.documents.values()), snapshot, {})


def _records(documents: list[Document], snapshot: Snapshot, vocabulary: dict[str, int], first_code: int = 0,
             first_passage: int = 0) -> Columns:
    """Columns of these documents' records in the snapshot, document codes from `first_code`,
    word ids from (and added to) `vocabulary`, which the columns then carry whole, and their
    BM25 postings (in `bm25.base`) numbering passages from `first_passage`."""
    doc_code = {d.id: first_code + n for n, d in enumerate(documents)}
    passages = sorted((p for p in snapshot.passages if p.doc_id in doc_code),
                      key=lambda p: (doc_code[p.doc_id], p.start))
    passage_row = {p.id: n for n, p in enumerate(passages)}
    order = sorted((k for k, s in enumerate(snapshot.sentences) if s.passage_id in passage_row),
                   key=lambda k: (passage_row[snapshot.sentences[k].passage_id], snapshot.sentences[k].start))
    sentences = [snapshot.sentences[k] for k in order]
    by_id = {d.id: d for d in documents}
    analysed = terms_of_many([by_id[s.doc_id].text[s.start : s.end] for s in sentences])
    sentence_words = [list(dict.fromkeys(words)) for words in analysed]
    # A passage's words are its sentences' words: the sentences hold all of its text but the
    # whitespace between them (tests/test_offsets_property.py), so it is not analysed again.
    passage_words = [Counter() for _ in passages]
    for s, words in zip(sentences, analysed):
        passage_words[passage_row[s.passage_id]].update(words)

    def ids(words) -> list[int]:
        return [vocabulary.setdefault(w, len(vocabulary)) for w in words]

    vectors = snapshot.sentence_vectors[order] if order else np.zeros((0, VECTOR_DIM))
    term_ids = np.array([i for words in sentence_words for i in ids(words)], dtype=np.int32)
    passage_terms = np.array([i for words in passage_words for i in ids(words)], dtype=np.int32)
    passage_counts = np.array([n for words in passage_words for n in words.values()], dtype=np.int32)
    postings = Postings.of(first_passage, passage_terms, passage_counts,
                           _bounds([len(words) for words in passage_words]), len(vocabulary))
    return Columns(
        documents=documents,
        passages=np.array([(doc_code[p.doc_id], p.start, p.end) for p in passages], dtype=np.int32).reshape(-1, 3),
        sentence_bounds=_bounds(np.bincount([passage_row[s.passage_id] for s in sentences], minlength=len(passages))),
        sentences=np.array([(s.start, s.end) for s in sentences], dtype=np.int32).reshape(-1, 2),
        sentence_ids=(sentence_ids := np.array([s.id.encode() for s in sentences], dtype=ID_DTYPE)),
        sentence_keys=id_keys(sentence_ids),
        term_ids=term_ids, term_bounds=_bounds([len(words) for words in sentence_words]),
        passage_lengths=np.array([words.total() for words in passage_words], dtype=np.int32),
        removed=np.zeros(len(documents), dtype=bool),
        vocabulary=list(vocabulary), vocabulary_ids=vocabulary, vectors=Vectors.of(vectors),
        bm25=Bm25(postings, Postings.empty()))


def release_memory() -> None:
    """Hand the heap's free memory back to the system (glibc only): a new version's transient
    arrays would otherwise stay in a server's resident memory, ~100 MB per version at 50k
    passages."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: its allocator keeps what it keeps


def from_store(store: Store, part_documents: int = 2_000) -> Columns:
    """Columns of the whole store, read `part_documents` documents at a time: each part's
    records become compact columns before the next part is read. A whole snapshot's Python
    records took over 3 KB per sentence: a 1M-passage store's read was killed at 13 GB."""
    vocabulary: dict[str, int] = {}
    parts: list[Columns] = []
    doc_ids = store.document_ids()
    for part in range(0, max(len(doc_ids), 1), part_documents):  # an empty store makes one empty part
        snapshot = store.snapshot(doc_ids[part : part + part_documents])
        parts.append(_records(list(snapshot.documents.values()), snapshot, vocabulary,
                              first_code=sum(len(c.documents) for c in parts),
                              first_passage=sum(len(c.passages) for c in parts)))
    if len(parts) == 1:
        return parts[0]

    def joined(name: str) -> np.ndarray:
        return np.concatenate([getattr(c, name) for c in parts])

    def joined_bounds(name: str) -> np.ndarray:
        return _bounds(np.concatenate([np.diff(getattr(c, name)) for c in parts]))

    passages = joined("passages")
    return Columns(
        documents=[d for c in parts for d in c.documents], passages=passages,
        sentence_bounds=joined_bounds("sentence_bounds"), sentences=joined("sentences"),
        sentence_ids=joined("sentence_ids"), sentence_keys=joined("sentence_keys"), term_ids=joined("term_ids"),
        term_bounds=joined_bounds("term_bounds"), passage_lengths=joined("passage_lengths"),
        removed=joined("removed"), vocabulary=list(vocabulary), vocabulary_ids=vocabulary,
        # Written one part after another, never concatenated: they are most of the bytes.
        vectors=Vectors(Stacked([c.vectors.base for c in parts]), np.zeros((0, VECTOR_DIM), dtype=np.float16)),
        bm25=Bm25(Postings.merged([c.bm25.base for c in parts], np.ones(len(passages), dtype=bool),
                                  len(vocabulary)), Postings.empty()))


def rebuild(store: Store, folder: Path) -> None:
    """Write the version of the whole store into `folder` (named by its generation)."""
    # The store is read after these changes: the next version need not read their documents again.
    changes = store.changes_since(time.time_ns())
    write(folder, from_store(store), State(folder.name, changes.until, changes.records))


def _runs(mask: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Mask over a concatenated array of runs (run i is [bounds[i]:bounds[i+1]]) that keeps
    the runs `mask` keeps."""
    return np.repeat(mask, np.diff(bounds))


def apply(previous: Columns, changed: set[str], snapshot: Snapshot) -> Columns:
    """The next version: `previous` without the `changed` documents, plus those of them that
    the snapshot (of just the changed documents, read after the change) still holds. Kept
    rows stay in order, so unchanged documents keep their relative codes. A changed document's
    rows are only marked removed (`removed`; readers never reach them) while the removed rows
    stay within REMOVED_MAX_FRACTION of all, so that a correction or a deletion in a large
    archive costs its own rows; beyond that, every removed row is dropped and the files
    written whole again. Either way no document the new version removes keeps its text in it:
    a marked one is `blanked`, and the documents base is written again when it held one."""
    removed = previous.removed | np.array([d.id in changed for d in previous.documents], dtype=bool)
    removed_passages = removed[previous.passages[:, 0]] if len(previous.passages) else np.zeros(0, dtype=bool)
    marks = int(np.diff(previous.sentence_bounds)[removed_passages].sum()) <= \
        REMOVED_MAX_FRACTION * len(previous.sentences)
    keep_doc = np.ones(len(previous.documents), dtype=bool) if marks else ~removed
    new_code = np.cumsum(keep_doc) - 1
    keep_passage = keep_doc[previous.passages[:, 0]] if len(previous.passages) else np.zeros(0, dtype=bool)
    keep_sentence = _runs(keep_passage, previous.sentence_bounds)
    passages = previous.passages[keep_passage].copy()
    passages[:, 0] = new_code[passages[:, 0]]
    kept_documents = [d for d, keep in zip(previous.documents, keep_doc) if keep]
    for code in np.flatnonzero(removed[keep_doc] & ~previous.removed[keep_doc]).tolist():
        kept_documents[code] = blanked(kept_documents[code])
    vocabulary = dict(previous.vocabulary_ids) if previous.vocabulary_ids else \
        {w: i for i, w in enumerate(previous.vocabulary)}
    added = _records([d for d in snapshot.documents.values() if d.id in changed], snapshot, vocabulary,
                     first_code=len(kept_documents), first_passage=len(previous.passages))
    # An upload keeps every row: no masks over the corpus's rows and words are made.
    removes = not keep_doc.all()
    passage_mask, sentence_mask = (keep_passage, keep_sentence) if removes else (None, None)
    term_mask = _runs(keep_sentence, previous.term_bounds) if removes else None

    def kept(rows: np.ndarray, mask: np.ndarray | None, new: np.ndarray) -> np.ndarray:
        """The rows `mask` keeps (all when None), then `new`."""
        return np.concatenate([rows if mask is None else rows[mask], new])

    def bounds(old: np.ndarray, mask: np.ndarray | None, new: np.ndarray) -> np.ndarray:
        """Run bounds: the runs `mask` keeps (all when None), then `new`'s."""
        if mask is None:
            return np.concatenate([old, old[-1] + new[1:]])
        return _bounds(np.concatenate([np.diff(old)[mask], np.diff(new)]))

    return Columns(
        documents=kept_documents + added.documents,
        documents_base=_documents_base(previous, keep_doc, removed, len(kept_documents) + len(added.documents)),
        passages=np.concatenate([passages, added.passages]),
        sentence_bounds=bounds(previous.sentence_bounds, passage_mask, added.sentence_bounds),
        sentences=kept(previous.sentences, sentence_mask, added.sentences),
        sentence_ids=kept(previous.sentence_ids, sentence_mask, added.sentence_ids),
        sentence_keys=kept(previous.sentence_keys, sentence_mask, added.sentence_keys),
        term_ids=kept(previous.term_ids, term_mask, added.term_ids),
        term_bounds=bounds(previous.term_bounds, sentence_mask, added.term_bounds),
        passage_lengths=kept(previous.passage_lengths, passage_mask, added.passage_lengths),
        removed=np.concatenate([removed[keep_doc], added.removed]),
        vocabulary=added.vocabulary, vocabulary_ids=added.vocabulary_ids,
        vectors=previous.vectors.extended(keep_sentence, added.vectors.base),
        bm25=previous.bm25.extended(keep_passage, added.bm25.base, len(added.passages),
                                    len(added.vocabulary)))


def _documents_base(previous: Columns, keep_doc: np.ndarray, removed: np.ndarray,
                    documents: int) -> DocumentsBase | None:
    """The next version's documents base: the previous one linked when the next keeps all of
    its documents, removes none of them and its tail stays small; the same documents written
    again (the removed ones blanked) when it removes some; else none (written whole)."""
    base = previous.documents_base
    if base is None or not keeps_base(keep_doc, base.file, documents - base.count, base.count):
        return None
    if (removed[: base.count] & ~previous.removed[: base.count]).any():
        return DocumentsBase(None, base.count, base.lineage)  # a takedown: its text must not stay in a linked file
    return base


def write(folder: Path, columns: Columns, state: State) -> None:
    """Write a version into `folder` (atomically: a temporary folder, renamed when complete)
    and remove the other committed versions beside it."""
    tmp = staging(folder)
    base = columns.documents_base or DocumentsBase(None, len(columns.documents))
    if not linked(base.file, tmp / "documents.msgpack"):
        (tmp / "documents.msgpack").write_bytes(msgspec.msgpack.encode(columns.documents[: base.count]))
    (tmp / LINEAGE).write_bytes(msgspec.json.encode(base.lineage))
    (tmp / "documents_tail.msgpack").write_bytes(msgspec.msgpack.encode(columns.documents[base.count :]))
    for name in ARRAYS:
        np.save(tmp / f"{name}.npy", getattr(columns, name))
    columns.vectors.save(tmp)
    _save_id_order(tmp, columns.sentence_keys, len(columns.vectors.base),
                   columns.vectors.base_file.parent if columns.vectors.base_file else None)
    (tmp / "vocabulary.json").write_bytes(msgspec.json.encode(columns.vocabulary))
    columns.bm25.save(tmp)
    (tmp / "state.json").write_bytes(msgspec.json.encode(state))
    (tmp / COMMITTED).write_text(FORMAT)
    commit(tmp, folder)


def _save_id_order(folder: Path, keys: np.ndarray, split: int, source: Path | None) -> None:
    """The sentence ids in sorted order with their rows: of rows [0, split), linked from the
    version `source` when its vectors' base is the same rows, and of the rest, sorted here."""
    for suffix, first, last, linked_from in (("", 0, split, source), ("_tail", split, len(keys), None)):
        names = [f"sentence_keys_sorted{suffix}.npy", f"sentence_id_order{suffix}.npy"]
        if not linked_all(linked_from, folder, names):
            order = np.argsort(keys[first:last], kind="stable").astype(np.int32) + np.int32(first)
            np.save(folder / names[0], keys[order])
            np.save(folder / names[1], order)


def staging(folder: Path) -> Path:
    """An empty temporary folder of this process for `folder`'s files, to `commit` when complete."""
    tmp = temporary(folder, os.getpid())
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def commit(tmp: Path, folder: Path) -> None:
    """Rename a complete version (COMMITTED written last) into place and remove the other
    committed versions beside it."""
    if folder.exists():
        shutil.rmtree(folder, ignore_errors=True)
    try:
        tmp.replace(folder)
    except OSError:  # another process committed this generation first
        shutil.rmtree(tmp, ignore_errors=True)
    for old in folder.parent.iterdir():  # readers that still map an old version keep their open files
        if old != folder and not old.name.endswith(".tmp"):
            shutil.rmtree(old, ignore_errors=True)


