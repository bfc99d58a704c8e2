"""The read model's files: what a reader opens, written once per corpus generation.

Compact columns instead of Python objects per record, so that a reader holds about 1 KB
per sentence, and memory-mappable arrays, so that the processes of one machine share one
copy through the page cache. One folder per generation under `<data_dir>/readmodel/<prefix>/`:

    documents.msgpack   the documents (text, title, metadata), in document-code order: the
    documents_tail.msgpack  first ones, then those added since (as the vectors, see `Vectors`)
    passages.npy        per passage row: document code, start, end; rows sorted by document
                        code, then offset, so a document's passages are one run of rows
    sentence_bounds.npy passage p's sentences are rows sentence_bounds[p]:sentence_bounds[p+1]
    sentences.npy       per sentence row: start, end; a passage's rows are in text order
    sentence_ids.npy    per sentence row: the store's id, and sentence_keys.npy, the id as an
                        integer; sentence_keys_sorted.npy and sentence_id_order.npy (their rows)
                        map the ids Chroma's nearest-neighbour search returns to rows: those
                        of the vectors' base rows, and *_tail.npy those of the rest
    term_ids.npy        each sentence's distinct analysed words as vocabulary ids, concatenated;
    term_bounds.npy     sentence s's are term_ids[term_bounds[s]:term_bounds[s+1]]
    passage_lengths.npy per passage row: its number of analysed words (BM25's length norm)
    removed.npy         per document code: removed (a deletion or a correction), its rows kept
                        until the next rewrite but never returned (see `apply`)
    vocabulary.json     the words of those ids (a new version only appends)
    vectors.npy         sentence vectors, float16 (cosines move by less than 1e-3): the first
    vectors_tail.npy    rows in vectors.npy, the rest in vectors_tail.npy (see `Vectors`)
    bm25_*.npy          BM25's postings (index/lexical.py): which passages hold each word, how
    bm25_tail_*.npy     often; the first passages' in bm25_*, those added since in bm25_tail_*
    state.json          the store generation and the time of the last change applied
    COMMITTED           written last, holding the format: a folder without it (or of another
                        format) is incomplete and never opened

A new generation is written from the previous one and the documents that changed (`apply`),
in numpy, or from the whole store when there is no previous one (`from_store`, a part of its
documents at a time; `from_snapshot` makes one snapshot's).
A version that only adds documents links the previous version's vectors.npy,
documents.msgpack and BM25 postings instead of rewriting them, and a reader that held the
previous version decodes only the documents added since."""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
import numpy as np

from config import Settings
from index.documents import Document
from index.lexical import LexicalIndex, Postings, terms_of_many
from index.store import VECTOR_DIM, Snapshot, Store, StoreUnavailable

COMMITTED = "COMMITTED"
ID_DTYPE = "S20"  # index.documents.span_id: 20 hex characters
FORMAT = "read model 9"  # written into COMMITTED: a folder of another format is rebuilt, never misread
_ARRAYS = ("passages", "sentence_bounds", "sentences", "sentence_ids", "sentence_keys", "term_ids", "term_bounds",
           "passage_lengths", "removed")
_POSTINGS = ("indptr", "rows", "counts")
TAIL_MAX_FRACTION = 1 / 16  # a tail file is merged into its base when it would outgrow this share of it
REMOVED_MAX_FRACTION = 1 / 16  # removed documents' rows are dropped (every file rewritten) beyond this share of sentences


class State(msgspec.Struct):
    generation: str
    changes_until: int  # store change-log time (ns) up to which changes are applied; the next update reads from here
    applied: list[str] = []  # change records already in this version that the next read finds again


@dataclass
class Stacked:
    """Arrays to be written one after another as one, without concatenating them in memory:
    the runs of a previous version's memory-mapped rows that a new one keeps, then its new
    rows (the sentence vectors are most of a version's bytes)."""

    parts: list[np.ndarray]

    @classmethod
    def kept(cls, arrays: list[np.ndarray], keep: np.ndarray, added: np.ndarray) -> "Stacked":
        """The rows of `arrays` (taken as one, in order) that `keep` keeps, then `added`."""
        parts, offset = [], 0
        for rows in arrays:
            mask = keep[offset : offset + len(rows)]
            offset += len(rows)
            edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(np.int8), 0]))
            parts += [rows[a:b] for a, b in zip(edges[::2], edges[1::2])]
        return cls(parts + [added])

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)

    def save(self, path: Path) -> None:
        """As np.save of the concatenation."""
        first = self.parts[0]
        shape = (len(self), *first.shape[1:])
        with open(path, "wb") as f:
            np.lib.format.write_array_header_1_0(f, {"descr": np.lib.format.dtype_to_descr(first.dtype),
                                                     "fortran_order": False, "shape": shape})
            for part in self.parts:
                f.write(np.ascontiguousarray(part, dtype=first.dtype).data)


@dataclass
class Vectors:
    """The sentence vectors (float16), rows [0, len(base)) in `base` and the rest in `tail`.
    A version that only adds documents keeps the version before's base file, hard-linked
    (nothing rewritten), and appends to the small tail; the rows are written out as one base
    again when some are removed, or when the tail would outgrow TAIL_MAX_FRACTION of the
    base. So an article added to a large corpus costs its own rows, not the corpus's."""

    base: np.ndarray | Stacked  # Stacked only between apply() and write()
    tail: np.ndarray
    base_file: Path | None = None  # the committed file `base` was opened from, linked by the next version

    @classmethod
    def of(cls, rows: np.ndarray) -> Vectors:
        return cls(rows.astype(np.float16), np.zeros((0, VECTOR_DIM), dtype=np.float16))

    def take(self, rows: np.ndarray | list[int]) -> np.ndarray:
        """The float16 vectors of these rows."""
        rows = np.asarray(rows, dtype=np.int64)
        split = len(self.base)
        if not len(self.tail) or not len(rows) or rows.max() < split:
            return self.base[rows]
        out = np.empty((len(rows), VECTOR_DIM), dtype=np.float16)
        low = rows < split
        out[low], out[~low] = self.base[rows[low]], self.tail[rows[~low] - split]
        return out

    def whole(self) -> np.ndarray:
        """Every row, in float32."""
        return np.concatenate([self.base, self.tail]).astype(np.float32)

    def extended(self, keep: np.ndarray, added: np.ndarray) -> Vectors:
        """These vectors without the rows `keep` drops, then `added`."""
        if _keeps_base(keep, self.base_file, len(self.tail) + len(added), len(self.base)):
            return Vectors(self.base, np.concatenate([self.tail, added]), self.base_file)
        return Vectors(Stacked.kept([self.base, self.tail], keep, added), np.zeros((0, VECTOR_DIM), dtype=np.float16))

    def save(self, folder: Path) -> None:
        base = folder / "vectors.npy"
        if isinstance(self.base, Stacked):
            self.base.save(base)
        elif not _linked(self.base_file, base):
            np.save(base, self.base)
        np.save(folder / "vectors_tail.npy", self.tail)


def _keeps_base(keep: np.ndarray, base_file: Path | None, tail_rows: int, base_rows: int) -> bool:
    """Whether the next version may link the base file of this one: no row removed, and the
    tail, with the rows added, still within TAIL_MAX_FRACTION of the base."""
    return bool(keep.all()) and base_file is not None and tail_rows <= TAIL_MAX_FRACTION * base_rows


@dataclass
class Bm25:
    """BM25's postings (index/lexical.py) of passage rows [0, n) in `base` and of the rest in
    `tail`, kept and merged as `Vectors` are: a version that only adds documents links the
    base files and writes the small tail."""

    base: Postings
    tail: Postings
    base_folder: Path | None = None  # the committed version whose bm25_* files `base` was opened from

    def extended(self, keep: np.ndarray, added: Postings, added_passages: int, vocabulary_size: int) -> Bm25:
        """These postings without the passages `keep` drops, then `added`: the postings of
        `added_passages` more, numbered on from this version's rows."""
        kept = np.concatenate([keep, np.ones(added_passages, dtype=bool)])
        if _keeps_base(keep, self.base_folder, self.tail.size + added.size, self.base.size):
            return Bm25(self.base, Postings.merged([self.tail, added], kept, vocabulary_size), self.base_folder)
        return Bm25(Postings.merged([self.base, self.tail, added], kept, vocabulary_size), Postings.empty())

    def save(self, folder: Path) -> None:
        if not _linked_all(self.base_folder, folder, [f"bm25_{name}.npy" for name in _POSTINGS]):
            for name in _POSTINGS:
                np.save(folder / f"bm25_{name}.npy", getattr(self.base, name))
        for name in _POSTINGS:
            np.save(folder / f"bm25_tail_{name}.npy", getattr(self.tail, name))


def _linked_all(source: Path | None, target: Path, names: list[str]) -> bool:
    """Whether every one of these files of folder `source` could be linked into `target`;
    when one cannot, none is left linked (writing over a link would change the source's file)."""
    for done, name in enumerate(names):
        if not _linked(source / name if source else None, target / name):
            for linked in names[:done]:
                (target / linked).unlink()
            return False
    return True


@dataclass
class DocumentsBase:
    """The first `count` documents of a version, as committed in `file` (documents.msgpack):
    the next version links that file when it keeps them all, and writes only the rest."""

    file: Path
    count: int
    identity: tuple[int, ...] = ()  # the file's inode, size and time as opened: a reader of the next version
    # that finds the same file (a link) reuses these documents instead of decoding them again


def _linked(source: Path | None, target: Path) -> bool:
    """Whether `target` could be made a hard link to `source` (not when there is no source,
    when a concurrent writer removed its version meanwhile, or when the file system has no links)."""
    if source is None:
        return False
    try:
        os.link(source, target)
    except OSError:
        return False
    return True


@dataclass
class Columns:
    """The read model's content, as written and as opened."""

    documents: list[Document]
    passages: np.ndarray  # (P, 3) int32: document code, start, end
    sentence_bounds: np.ndarray  # (P + 1,) int64
    sentences: np.ndarray  # (S, 2) int32: start, end
    sentence_ids: np.ndarray  # (S,) bytes: the store's sentence ids (Chroma answers with them)
    sentence_keys: np.ndarray  # (S,) uint64: id_keys(sentence_ids), kept so a new version only sorts
    term_ids: np.ndarray  # int32
    term_bounds: np.ndarray  # (S + 1,) int64
    passage_lengths: np.ndarray  # (P,) int32
    removed: np.ndarray  # (D,) bool: removed documents, whose rows stay until the files are rewritten
    vocabulary: list[str]
    vectors: Vectors  # (S, 384)
    bm25: Bm25
    vocabulary_ids: dict[str, int] | None = None  # word -> id, once made (the next version copies it)
    documents_base: DocumentsBase | None = None  # where the first documents are already written


def folder_for(data_dir: str | Path, prefix: str, generation: str) -> Path:
    return Path(data_dir) / "readmodel" / prefix / generation


def is_committed(folder: Path) -> bool:
    """Complete, and in the format this code reads."""
    try:
        return (folder / COMMITTED).read_text() == FORMAT
    except OSError:
        return False


def _temporary(folder: Path, writer: int | str) -> Path:
    """Where process `writer` writes `folder` before renaming it into place ("*": any writer's)."""
    return folder.with_name(f"{folder.name}.{writer}.tmp")


def wait_for_writer(folder: Path, timeout: float, stale_after: float = 30.0) -> bool:
    """Whether `folder` is committed, waiting up to `timeout` seconds while another process
    (a replica sharing the data dir) is writing it: a temporary folder of that generation
    that files were added to in the last `stale_after` seconds (a crashed writer's is older).
    Readers of a shared volume open one version instead of each writing their own."""
    deadline = time.monotonic() + timeout
    while not is_committed(folder):
        writers = [t for t in folder.parent.glob(_temporary(folder, "*").name) if _age(t) < stale_after]
        if not writers or time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


@contextlib.contextmanager
def claimed(folder: Path) -> Iterator[None]:
    """Mark `folder` as being written by this process before reading what goes into it, so
    that a reader sharing the data dir waits for it (`wait_for_writer`) from the moment the
    generation changes rather than writing it too. The mark is this process's temporary folder:
    write() renames it into place; whatever is left of it afterwards (a failed write, or one
    done by a child process under its own name) is removed. Without a writable data dir,
    nothing is marked."""
    mark = _temporary(folder, os.getpid())
    try:
        mark.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass  # a read-only data dir: the caller writes elsewhere, nobody else can wait here
    try:
        yield
    finally:
        shutil.rmtree(mark, ignore_errors=True)


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:  # renamed into place or removed meanwhile
        return 0.0


def latest(parent: Path) -> Path | None:
    """The most recently committed folder under `parent`, if any."""
    folders = [f for f in parent.iterdir() if is_committed(f)] if parent.is_dir() else []
    return max(folders, key=lambda f: (f / COMMITTED).stat().st_mtime_ns, default=None)


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


def rebuild_in_child(settings: Settings, prefix: str, folder: Path) -> None:
    """rebuild() in a child process, so that none of the whole store's transient objects
    stay in this one's memory. Raises what the child met: OSError, or StoreUnavailable."""
    done = subprocess.run([sys.executable, "-m", "index.readmodel", str(folder), prefix],
                          input=msgspec.json.encode(settings), capture_output=True)
    if done.returncode == _UNWRITABLE:
        raise OSError(f"cannot write the read model into {folder}")
    if done.returncode < 0:  # SIGKILL: most often the kernel's out-of-memory killer
        raise StoreUnavailable(f"reading the store for the read model failed: the child process was killed "
                               f"by signal {-done.returncode}")
    if done.returncode:
        raise StoreUnavailable(f"reading the store for the read model failed: {done.stderr.decode()[-500:]}")


_UNWRITABLE = 3


def id_keys(ids: np.ndarray) -> np.ndarray:
    """A sort key per id: its first 16 hex characters as an integer (ids are hashes; a lookup
    compares the whole id, so two ids sharing a key cost nothing but a miss)."""
    digits = np.frombuffer(np.ascontiguousarray(ids, dtype=ID_DTYPE).tobytes(), dtype=np.uint8)
    digits = digits.reshape(-1, 20)[:, :16].astype(np.uint64) - ord("0")
    digits[digits > 9] -= ord("a") - ord("0") - 10
    return (digits << np.arange(60, -1, -4, dtype=np.uint64)).sum(axis=1, dtype=np.uint64)


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
    written whole again."""
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

    base = previous.documents_base
    keeps_base = base is not None and _keeps_base(keep_doc, base.file, len(kept_documents) + len(added.documents)
                                                  - base.count, base.count)
    return Columns(
        documents=kept_documents + added.documents,
        documents_base=base if keeps_base else None,
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


def write(folder: Path, columns: Columns, state: State) -> None:
    """Write a version into `folder` (atomically: a temporary folder, renamed when complete)
    and remove the other committed versions beside it."""
    tmp = staging(folder)
    base = columns.documents_base
    if base is None or not _linked(base.file, tmp / "documents.msgpack"):
        base = DocumentsBase(tmp / "documents.msgpack", len(columns.documents))
        base.file.write_bytes(msgspec.msgpack.encode(columns.documents))
    (tmp / "documents_tail.msgpack").write_bytes(msgspec.msgpack.encode(columns.documents[base.count :]))
    for name in _ARRAYS:
        np.save(tmp / f"{name}.npy", getattr(columns, name))
    columns.vectors.save(tmp)
    _save_id_order(tmp, columns.sentence_keys, len(columns.vectors.base),
                   columns.vectors.base_file.parent if columns.vectors.base_file else None)
    (tmp / "vocabulary.json").write_bytes(msgspec.json.encode(columns.vocabulary))
    columns.bm25.save(tmp)
    (tmp / "state.json").write_bytes(msgspec.json.encode(state))
    (tmp / COMMITTED).write_text(FORMAT)
    publish(tmp, folder)


def _save_id_order(folder: Path, keys: np.ndarray, split: int, source: Path | None) -> None:
    """The sentence ids in sorted order with their rows: of rows [0, split), linked from the
    version `source` when its vectors' base is the same rows, and of the rest, sorted here."""
    for suffix, first, last, linked_from in (("", 0, split, source), ("_tail", split, len(keys), None)):
        names = [f"sentence_keys_sorted{suffix}.npy", f"sentence_id_order{suffix}.npy"]
        if not _linked_all(linked_from, folder, names):
            order = np.argsort(keys[first:last], kind="stable").astype(np.int32) + np.int32(first)
            np.save(folder / names[0], keys[order])
            np.save(folder / names[1], order)


def staging(folder: Path) -> Path:
    """An empty temporary folder of this process for `folder`'s files, to `publish` when complete."""
    tmp = _temporary(folder, os.getpid())
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def publish(tmp: Path, folder: Path) -> None:
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


def files(folder: Path) -> list[tuple[str, int]]:
    """A committed version's files and their sizes, COMMITTED last: what another replica
    copies to open this version without reading the store (qa/peer.py)."""
    names = sorted(p.name for p in folder.iterdir() if p.name != COMMITTED) + [COMMITTED]
    return [(name, (folder / name).stat().st_size) for name in names]


@dataclass
class Version:
    """A committed version as opened: its folder, columns, BM25 index and state, its sentence
    ids in sorted order with their rows (two runs: the vectors' base rows, the rest), and the
    rows of its removed documents (`Columns.removed`), which no search may return."""

    folder: Path
    columns: Columns
    lexical: LexicalIndex
    state: State
    sorted_sentence_keys: list[np.ndarray]
    sentence_id_order: list[np.ndarray]
    removed_passages: np.ndarray  # passage rows, ascending
    removed_sentences: np.ndarray  # sentence rows, ascending

    def sentence_rows(self, ids: list[str]) -> list[int | None]:
        """The row of each of these store sentence ids (None for one this version does not hold)."""
        found: list[int | None] = [None] * len(ids)
        if not ids:
            return found
        wanted = np.array([i.encode() for i in ids], dtype=ID_DTYPE)
        keys = id_keys(wanted)
        for sorted_keys, order in zip(self.sorted_sentence_keys, self.sentence_id_order):
            # Equal keys are adjacent: another id sharing the key, or a removed document's
            # sentence added again with the same id.
            for k, at in enumerate(np.searchsorted(sorted_keys, keys).tolist()):
                while found[k] is None and at < len(order) and sorted_keys[at] == keys[k]:
                    row = int(order[at])
                    if self.columns.sentence_ids[row] == wanted[k] and not self.removed(row):
                        found[k] = row
                    at += 1
        return found

    def removed(self, sentence_row: int) -> bool:
        """Whether the sentence row is one of a removed document's."""
        if not len(self.removed_sentences):
            return False
        at = np.searchsorted(self.removed_sentences, sentence_row)
        return bool(at < len(self.removed_sentences) and self.removed_sentences[at] == sentence_row)


def read(folder: Path, previous: Version | None = None) -> Version:
    """Open a committed version; the arrays are memory-mapped. The documents that `previous`
    (the version this reader holds) already decoded from the same file are taken from it."""
    def array(name: str, scattered: bool = False) -> np.ndarray:
        mapped = np.load(folder / f"{name}.npy", mmap_mode="r")
        handle = getattr(mapped, "_mmap", None)  # where numpy's memmap keeps its mmap object
        if scattered and handle is not None and hasattr(mmap, "MADV_RANDOM"):
            # Rows read here and there (a question's candidate sentences): without this, the
            # kernel's read-ahead brought 128 KB around every row into memory, and 300 questions
            # at 2.3M sentences made 2 GB of the vectors resident in every replica.
            handle.madvise(mmap.MADV_RANDOM)
        # A plain view of the mapping: numpy's memmap subclass costs microseconds per index.
        return np.asarray(mapped)

    def postings(prefix: str) -> Postings:
        return Postings(*(array(f"{prefix}_{name}") for name in _POSTINGS))

    base_file = folder / "documents.msgpack"
    identity = _identity(base_file)
    known = previous.columns.documents_base if previous is not None else None
    if known is not None and known.identity == identity:
        documents = previous.columns.documents[: known.count]
    else:
        documents = msgspec.msgpack.decode(base_file.read_bytes(), type=list[Document])
    tail = msgspec.msgpack.decode((folder / "documents_tail.msgpack").read_bytes(), type=list[Document])
    vocabulary = msgspec.json.decode((folder / "vocabulary.json").read_bytes(), type=list[str])
    columns = Columns(documents=documents + tail,
                      documents_base=DocumentsBase(base_file, len(documents), identity),
                      vocabulary=vocabulary, vocabulary_ids=_word_ids(vocabulary, previous),
                      vectors=Vectors(array("vectors", scattered=True), array("vectors_tail", scattered=True),
                                      folder / "vectors.npy"),
                      bm25=Bm25(postings("bm25"), postings("bm25_tail"), folder),
                      **{name: array(name) for name in _ARRAYS})
    removed_passages = np.flatnonzero(columns.removed[columns.passages[:, 0]]) if columns.removed.any() \
        else np.zeros(0, dtype=np.int64)
    bounds = columns.sentence_bounds
    removed_sentences = np.concatenate([np.arange(bounds[p], bounds[p + 1]) for p in removed_passages]) \
        if len(removed_passages) else np.zeros(0, dtype=np.int64)
    lexical = LexicalIndex(columns.vocabulary_ids, columns.passage_lengths,
                           [columns.bm25.base, columns.bm25.tail], removed_passages)
    return Version(folder, columns, lexical, msgspec.json.decode((folder / "state.json").read_bytes(), type=State),
                   [array("sentence_keys_sorted"), array("sentence_keys_sorted_tail")],
                   [array("sentence_id_order"), array("sentence_id_order_tail")], removed_passages, removed_sentences)


def _word_ids(vocabulary: list[str], previous: Version | None) -> dict[str, int]:
    """Word -> id, from the previous version's when this vocabulary extends it (as each new
    version's does, unless the store was read whole again)."""
    known = previous.columns if previous is not None else None
    if known is None or not known.vocabulary_ids or vocabulary[: len(known.vocabulary)] != known.vocabulary:
        return {w: i for i, w in enumerate(vocabulary)}
    ids = dict(known.vocabulary_ids)
    ids.update((w, i) for i, w in enumerate(vocabulary[len(known.vocabulary) :], start=len(known.vocabulary)))
    return ids


def _identity(path: Path) -> tuple[int, ...]:
    """What tells one file from another here: a link shares all of it; a file written later
    under a reused inode number differs in time."""
    info = path.stat()
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


def _rebuild_child() -> int:
    """`python -m index.readmodel FOLDER PREFIX`, the settings as JSON on stdin."""
    settings = msgspec.json.decode(sys.stdin.buffer.read(), type=Settings)
    try:
        rebuild(Store.open(settings, sys.argv[2], writer=False), Path(sys.argv[1]))
    except OSError:
        return _UNWRITABLE
    return 0


if __name__ == "__main__":
    sys.exit(_rebuild_child())
