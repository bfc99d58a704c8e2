"""The read model's format: the files of one version, what a reader opens, and opening them
(`read`). Versions are written by index/readmodel/writing.py and published, one per corpus
generation, by index/readmodel/publishing.py.

Compact columns instead of Python objects per record, so that a reader holds about 1 KB
per sentence, and memory-mappable arrays, so that the processes of one machine share one
copy through the page cache. One folder per generation under `<data_dir>/readmodel/<prefix>/`:

    documents.msgpack   the documents (text, title, metadata), in document-code order: the
    documents_tail.msgpack  first ones, then those added since (as the vectors, see `Vectors`);
                        a removed document is only its id and content hash (`blanked`)
    documents_lineage.json  an id shared by the versions whose documents.msgpack holds the same
                        documents, but for those blanked when removed (`DocumentsBase`)
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
                        until the next rewrite but never returned (see writing.apply)
    vocabulary.json     the words of those ids (a new version only appends)
    vectors.npy         sentence vectors, float16 (cosines move by less than 1e-3): the first
    vectors_tail.npy    rows in vectors.npy, the rest in vectors_tail.npy (see `Vectors`)
    bm25_*.npy          BM25's postings (index/lexical.py): which passages hold each word, how
    bm25_tail_*.npy     often; the first passages' in bm25_*, those added since in bm25_tail_*
    state.json          the store generation and the time of the last change applied
    COMMITTED           written last, holding the format: a folder without it (or of another
                        format) is incomplete and never opened

A new generation is written from the previous one and the documents that changed, or from
the whole store when there is no previous one (writing.py). A version that only adds
documents links the previous version's vectors.npy, documents.msgpack and BM25 postings
instead of rewriting them (`Vectors`, `Bm25`, `DocumentsBase`), and a reader that held the
previous version decodes only the documents added since (`read`). No file of a version holds
the text, title, source or metadata of a document it has removed, so that a takedown takes
the text down (vocabulary.json keeps the analysed words, stems that ids refer to)."""

from __future__ import annotations

import mmap
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import numpy as np

from index.documents import Document
from index.lexical import LexicalIndex, Postings
from index.store import VECTOR_DIM

COMMITTED = "COMMITTED"
LINEAGE = "documents_lineage.json"  # DocumentsBase.lineage of the version's documents.msgpack
ID_DTYPE = "S20"  # index.documents.span_id: 20 hex characters
FORMAT = "read model 10"  # written into COMMITTED: a folder of another format is rebuilt, never misread
ARRAYS = ("passages", "sentence_bounds", "sentences", "sentence_ids", "sentence_keys", "term_ids", "term_bounds",
          "passage_lengths", "removed")
POSTINGS = ("indptr", "rows", "counts")
TAIL_MAX_FRACTION = 1 / 16  # a tail file is merged into its base when it would outgrow this share of it


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

    base: np.ndarray | Stacked  # Stacked only between writing.apply() and writing.write()
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
        if keeps_base(keep, self.base_file, len(self.tail) + len(added), len(self.base)):
            return Vectors(self.base, np.concatenate([self.tail, added]), self.base_file)
        return Vectors(Stacked.kept([self.base, self.tail], keep, added), np.zeros((0, VECTOR_DIM), dtype=np.float16))

    def save(self, folder: Path) -> None:
        base = folder / "vectors.npy"
        if isinstance(self.base, Stacked):
            self.base.save(base)
        elif not linked(self.base_file, base):
            np.save(base, self.base)
        np.save(folder / "vectors_tail.npy", self.tail)


def keeps_base(keep: np.ndarray, base_file: Path | None, tail_rows: int, base_rows: int) -> bool:
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
        if keeps_base(keep, self.base_folder, self.tail.size + added.size, self.base.size):
            return Bm25(self.base, Postings.merged([self.tail, added], kept, vocabulary_size), self.base_folder)
        return Bm25(Postings.merged([self.base, self.tail, added], kept, vocabulary_size), Postings.empty())

    def save(self, folder: Path) -> None:
        if not linked_all(self.base_folder, folder, [f"bm25_{name}.npy" for name in POSTINGS]):
            for name in POSTINGS:
                np.save(folder / f"bm25_{name}.npy", getattr(self.base, name))
        for name in POSTINGS:
            np.save(folder / f"bm25_tail_{name}.npy", getattr(self.tail, name))


def linked_all(source: Path | None, target: Path, names: list[str]) -> bool:
    """Whether every one of these files of folder `source` could be linked into `target`;
    when one cannot, none is left linked (writing over a link would change the source's file)."""
    for done, name in enumerate(names):
        if not linked(source / name if source else None, target / name):
            for earlier in names[:done]:
                (target / earlier).unlink()
            return False
    return True


@dataclass
class DocumentsBase:
    """The first `count` documents of a version, as committed in `file` (documents.msgpack):
    the next version links that file when it keeps them all and removes none of them, and
    writes only the rest. When it removes some, it writes them again with the removed ones
    blanked (`file` None until then): the same documents but for the removed, so the same
    `lineage`, and a reader that holds them blanks those instead of decoding the file again."""

    file: Path | None
    count: int
    lineage: str = field(default_factory=lambda: uuid.uuid4().hex)  # new whenever other documents are written


def blanked(document: Document) -> Document:
    """A removed document as the files keep it: its id and content hash (what readers and
    their document index take it out by), no text, title, source or metadata."""
    return Document(id=document.id, title="", text="", source="", content_hash=document.content_hash)


def linked(source: Path | None, target: Path) -> bool:
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


def temporary(folder: Path, writer: int | str) -> Path:
    """Where process `writer` writes `folder` before renaming it into place ("*": any writer's)."""
    return folder.with_name(f"{folder.name}.{writer}.tmp")


def latest(parent: Path) -> Path | None:
    """The most recently committed folder under `parent`, if any."""
    folders = [f for f in parent.iterdir() if is_committed(f)] if parent.is_dir() else []
    return max(folders, key=lambda f: (f / COMMITTED).stat().st_mtime_ns, default=None)


def id_keys(ids: np.ndarray) -> np.ndarray:
    """A sort key per id: its first 16 hex characters as an integer (ids are hashes; a lookup
    compares the whole id, so two ids sharing a key cost nothing but a miss)."""
    digits = np.frombuffer(np.ascontiguousarray(ids, dtype=ID_DTYPE).tobytes(), dtype=np.uint8)
    digits = digits.reshape(-1, 20)[:, :16].astype(np.uint64) - ord("0")
    digits[digits > 9] -= ord("a") - ord("0") - 10
    return (digits << np.arange(60, -1, -4, dtype=np.uint64)).sum(axis=1, dtype=np.uint64)


def files(folder: Path) -> list[tuple[str, int]]:
    """A committed version's files and their sizes, COMMITTED last: what another replica
    copies to open this version without reading the store (publishing.copy_version)."""
    names = sorted(p.name for p in folder.iterdir() if p.name != COMMITTED) + [COMMITTED]
    return [(name, (folder / name).stat().st_size) for name in names]


@dataclass(frozen=True)
class Manifest:
    """A committed version as another replica copies it: the corpus it is of, its generation,
    its format and its files (the API sends it as qa.schemas.ReadModelManifest)."""

    prefix: str  # the store's collection prefix: a copy is only of the same corpus
    generation: str
    format: str
    files: list[tuple[str, int]]  # name and size in bytes, COMMITTED last

    @classmethod
    def of(cls, folder: Path, prefix: str) -> Manifest:
        """The manifest of the committed version in `folder`, of the store `prefix`."""
        return cls(prefix, folder.name, FORMAT, files(folder))


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
    (the version this reader holds) already decoded from a file of the same lineage are taken
    from it."""
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
        return Postings(*(array(f"{prefix}_{name}") for name in POSTINGS))

    arrays = {name: array(name) for name in ARRAYS}
    lineage = msgspec.json.decode((folder / LINEAGE).read_bytes(), type=str)
    base = _documents_base(folder, lineage, arrays["removed"], previous)
    tail = msgspec.msgpack.decode((folder / "documents_tail.msgpack").read_bytes(), type=list[Document])
    vocabulary = msgspec.json.decode((folder / "vocabulary.json").read_bytes(), type=list[str])
    columns = Columns(documents=base + tail,
                      documents_base=DocumentsBase(folder / "documents.msgpack", len(base), lineage),
                      vocabulary=vocabulary, vocabulary_ids=_word_ids(vocabulary, previous),
                      vectors=Vectors(array("vectors", scattered=True), array("vectors_tail", scattered=True),
                                      folder / "vectors.npy"),
                      bm25=Bm25(postings("bm25"), postings("bm25_tail"), folder), **arrays)
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


def _documents_base(folder: Path, lineage: str, removed: np.ndarray, previous: Version | None) -> list[Document]:
    """The documents of the version's documents.msgpack: those `previous` (the version this
    reader holds) has of the same lineage, the ones removed since blanked as the file has them,
    or else the file's, decoded. Not when `previous` has removed a document that this version
    has not (an older version than its own): it no longer holds that one's text."""
    known = previous.columns if previous is not None else None
    base = known.documents_base if known is not None else None
    if base is None or base.lineage != lineage or (known.removed[: base.count] & ~removed[: base.count]).any():
        return msgspec.msgpack.decode((folder / "documents.msgpack").read_bytes(), type=list[Document])
    documents = known.documents[: base.count]
    for code in np.flatnonzero(removed[: base.count] & ~known.removed[: base.count]).tolist():
        documents[code] = blanked(documents[code])
    return documents

