"""The read model as a reader holds it: the committed corpus in compact columns, opened from
the files index/readmodel/ writes once per generation. Documents, passage and sentence
offsets, every sentence's words as vocabulary ids, float16 sentence vectors and the BM25
index; the arrays are memory-mapped, so the processes of one machine share them.

Records (`passages[row]`, `sentences[row]`, `sentence_terms[row]`) are made on demand from
the columns: a question touches a few dozen. A corpus only opens a version: which version,
and writing it when no process has yet, is index/readmodel/publishing.py's."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from dataclasses import InitVar, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

import numpy as np

from index.documents import Document, Passage, Span, span_id
from index.lexical import LexicalIndex, terms
from index.readmodel.format import Columns, Vectors, Version, read
from index.store import SentenceRecord


class _Passages:
    """`corpus.passages[row]`: a Passage record made from the columns."""

    def __init__(self, corpus: Corpus) -> None:
        self._corpus = corpus

    def __len__(self) -> int:
        return len(self._corpus.passage_doc)

    def __getitem__(self, row: int) -> Passage:
        corpus = self._corpus
        if not 0 <= row < len(self):
            raise IndexError(row)
        code, start, end = (int(x) for x in corpus.passage_columns[row])
        document = corpus.columns.documents[code]
        first, last = corpus.sentence_bounds[row], corpus.sentence_bounds[row + 1]
        return Passage(id=span_id(document, start, end, self._repeat(row, code, start, end)), doc_id=document.id,
                       ordinal=row - int(corpus.doc_passage_bounds[code]), start=start, end=end,
                       sentences=[Span(a, b) for a, b in corpus.sentence_columns[first:last].tolist()])

    def __iter__(self) -> Iterator[Passage]:
        return (self[row] for row in range(len(self)))

    def _repeat(self, row: int, code: int, start: int, end: int) -> int:
        """How many of the document's passages before this one have the same text (its id's
        `repeat`, index.documents.span_ids): compared only where the lengths are equal."""
        corpus = self._corpus
        before = corpus.passage_columns[int(corpus.doc_passage_bounds[code]) : row]
        same_length = before[(before[:, 2] - before[:, 1]) == end - start]
        if not len(same_length):
            return 0
        text = corpus.columns.documents[code].text
        return sum(text[a:b] == text[start:end] for _, a, b in same_length.tolist())


class _Sentences:
    """`corpus.sentences[row]`: a SentenceRecord made from the columns."""

    def __init__(self, corpus: Corpus) -> None:
        self._corpus = corpus

    def __len__(self) -> int:
        return len(self._corpus.sentence_passage)

    def __getitem__(self, row: int) -> SentenceRecord:
        corpus = self._corpus
        if not 0 <= row < len(self):
            raise IndexError(row)
        passage = corpus.passages[int(corpus.sentence_passage[row])]
        start, end = (int(x) for x in corpus.sentence_columns[row])
        # The store's own id, as the read model keeps it (a store written before may hold older ids).
        return SentenceRecord(id=corpus.columns.sentence_ids[row].decode(), passage_id=passage.id,
                              doc_id=passage.doc_id, start=start, end=end)


class _TermSets:
    """`terms[row]`: the analysed words of a row as a frozenset, from the id columns (a
    passage's are its sentences' ids: one run of them)."""

    def __init__(self, vocabulary: list[str], ids: np.ndarray, bounds: np.ndarray) -> None:
        self._vocabulary, self._ids, self._bounds = vocabulary, ids, bounds

    def __len__(self) -> int:
        return len(self._bounds) - 1

    def __getitem__(self, row: int) -> frozenset[str]:
        vocabulary = self._vocabulary
        return frozenset([vocabulary[i] for i in self._ids[self._bounds[row] : self._bounds[row + 1]].tolist()])


class Lineage(NamedTuple):
    """A corpus version as later versions that add documents or mark some removed still hold it."""

    base_lineage: str  # its documents base (index.readmodel.format.DocumentsBase.lineage)
    later_ids: list[str]  # the ids of its documents after the base, in code order
    removed: np.ndarray  # the codes of its removed documents


@dataclass(eq=False)
class Corpus:
    version: Version
    previous: InitVar[Corpus | None] = None  # the version before, still open: what it made is reused
    generation: str = field(init=False)
    columns: Columns = field(init=False)
    lexical: LexicalIndex = field(init=False)
    documents: dict[str, Document] = field(init=False)  # in document-code order
    doc_ids: list[str] = field(init=False)
    doc_code: dict[str, int] = field(init=False)
    doc_passage_bounds: np.ndarray = field(init=False)  # document code c's passages: rows [c]:[c + 1]
    passage_columns: np.ndarray = field(init=False)  # per passage row: document code, start, end
    passage_doc: np.ndarray = field(init=False)
    sentence_bounds: np.ndarray = field(init=False)  # passage p's sentences: rows [p]:[p + 1]
    sentence_columns: np.ndarray = field(init=False)  # per sentence row: start, end
    sentence_passage: np.ndarray = field(init=False)
    sentence_doc: np.ndarray = field(init=False)
    sentence_start: np.ndarray = field(init=False)
    sentence_vectors: Vectors = field(init=False)  # float16; `vectors(rows)` gives float32
    passages: _Passages = field(init=False)
    sentences: _Sentences = field(init=False)
    sentence_terms: _TermSets = field(init=False)
    passage_terms: _TermSets = field(init=False)  # the union of the passage's sentences' words
    document_terms: _TermSets = field(init=False)  # by document code: the union of its passages' words
    _title_terms: dict[str, frozenset[str]] = field(init=False)

    def __post_init__(self, previous: Corpus | None) -> None:
        self.generation, self.columns, self.lexical = self.version.state.generation, self.version.columns, \
            self.version.lexical
        columns = self.columns
        # Document codes include removed documents' (their rows stay until the files are rewritten):
        # `documents` and `doc_code` hold only the others, so no lookup by id reaches those rows.
        self.doc_ids = [d.id for d in columns.documents]
        first = 0
        since = self.removed_since(previous.lineage) if previous is not None else None
        if since is not None:
            # The previous tables, without the documents removed since, hold all but the new ones.
            self.documents, self.doc_code = dict(previous.documents), dict(previous.doc_code)
            self._title_terms = dict(previous._title_terms)
            for code in since.tolist():
                doc_id = self.doc_ids[code]
                if self.doc_code.get(doc_id) == code:
                    del self.documents[doc_id], self.doc_code[doc_id]
                    self._title_terms.pop(doc_id, None)
            first = len(previous.doc_ids)
        else:
            self.documents, self.doc_code, self._title_terms = {}, {}, {}
        removed = columns.removed
        for code in range(first, len(columns.documents)):
            if not removed[code]:
                document = columns.documents[code]
                self.documents[document.id], self.doc_code[document.id] = document, code
        self.passage_columns, self.sentence_columns = columns.passages, columns.sentences
        self.passage_doc = columns.passages[:, 0]
        self.doc_passage_bounds = np.concatenate(
            [[0], np.cumsum(np.bincount(self.passage_doc, minlength=len(self.doc_ids)))]).astype(np.int64)
        self.sentence_bounds = columns.sentence_bounds
        self.sentence_passage = np.repeat(np.arange(len(self.passage_doc), dtype=np.int32),
                                          np.diff(self.sentence_bounds))
        self.sentence_doc = self.passage_doc[self.sentence_passage]
        self.sentence_start = self.sentence_columns[:, 0]
        self.sentence_vectors = columns.vectors
        # Views hold a proxy, not the corpus: no reference cycle, so a replaced corpus (and its
        # decoded documents) is freed at once rather than at the next cyclic collection.
        me = weakref.proxy(self)
        self.passages, self.sentences = _Passages(me), _Sentences(me)
        self.sentence_terms = _TermSets(columns.vocabulary, columns.term_ids, columns.term_bounds)
        self.passage_terms = _TermSets(columns.vocabulary, columns.term_ids, columns.term_bounds[self.sentence_bounds])
        self.document_terms = _TermSets(columns.vocabulary, columns.term_ids,
                                        columns.term_bounds[self.sentence_bounds[self.doc_passage_bounds]])

    @property
    def lineage(self) -> Lineage:
        """What a later version must still hold to be this one changed in place (`removed_since`)."""
        base = self.columns.documents_base
        return Lineage(base.lineage, self.doc_ids[base.count :], np.flatnonzero(self.columns.removed)) if base \
            else Lineage("", [], np.zeros(0, dtype=np.int64))

    def removed_since(self, lineage: Lineage) -> np.ndarray | None:
        """The codes of the documents removed since that version, when this one is that one
        with documents added after its own and some marked removed (a documents base of the
        same lineage: a rewrite makes a new one; its later documents at their codes; its removed ones
        still removed); None when it is not. Tables made for that version then need only those
        documents taken out and the new ones added."""
        base = self.columns.documents_base
        if base is None or not lineage.base_lineage or base.lineage != lineage.base_lineage:
            return None
        end = base.count + len(lineage.later_ids)
        if len(self.doc_ids) < end or self.doc_ids[base.count : end] != lineage.later_ids:
            return None
        removed = self.columns.removed[:end]
        if not removed[lineage.removed].all():
            return None
        now = removed.copy()
        now[lineage.removed] = False
        return np.flatnonzero(now)

    @classmethod
    def open(cls, folder: Path, previous: Corpus | None = None) -> "Corpus":
        """Open the read-model version in `folder`; what `previous` (the version before, still
        open) already decoded is taken from it."""
        return cls(read(folder, previous.version if previous is not None else None), previous)

    def title_terms(self, doc_id: str) -> frozenset[str]:
        """The analysed words of the document's title, made when first asked for: a question
        looks at a few documents, and a new version should not analyse every title again."""
        found = self._title_terms.get(doc_id)
        if found is None:
            found = self._title_terms[doc_id] = frozenset(terms(self.documents[doc_id].title))
        return found

    def counts(self) -> dict[str, int]:
        """How many documents, passages and sentences this version serves (removed documents'
        rows, still in the columns, left out): what GET /documents lists, so /ready agrees with it."""
        codes = np.fromiter(self.doc_code.values(), dtype=np.int64, count=len(self.doc_code))
        first, last = self.doc_passage_bounds[codes], self.doc_passage_bounds[codes + 1]
        sentences = self.sentence_bounds[last] - self.sentence_bounds[first]
        return {"documents": len(codes), "passages": int((last - first).sum()), "sentences": int(sentences.sum())}

    def passage_count(self, doc_id: str) -> int:
        """How many passages the document has (0 for an id the corpus does not hold)."""
        return len(self.doc_passages(doc_id))

    def doc_passages(self, doc_id: str) -> range:
        """The document's passage rows, in text order (empty for an id the corpus does not hold)."""
        code = self.doc_code.get(doc_id)
        return range(0) if code is None else range(int(self.doc_passage_bounds[code]),
                                                   int(self.doc_passage_bounds[code + 1]))

    def passage_sentences(self, row: int) -> np.ndarray:
        """The passage's sentence rows, in text order."""
        return np.arange(self.sentence_bounds[row], self.sentence_bounds[row + 1])

    def next_sentence(self, row: int) -> int | None:
        """The row of the sentence after this one in its document (None at its end): a
        document's sentences are one run of rows, in text order."""
        following = row + 1
        if following < len(self.sentence_doc) and self.sentence_doc[following] == self.sentence_doc[row]:
            return following
        return None

    def previous_sentence(self, row: int) -> int | None:
        """The row of the sentence before this one in its document (None at its start)."""
        if row > 0 and self.sentence_doc[row - 1] == self.sentence_doc[row]:
            return row - 1
        return None

    def sentence_title(self, row: int) -> str:
        """The title of the sentence's document."""
        return self.columns.documents[int(self.sentence_doc[row])].title

    def vectors(self, rows: np.ndarray | list[int]) -> np.ndarray:
        """Float32 vectors of these sentence rows."""
        return np.asarray(self.sentence_vectors.take(rows), dtype=np.float32)

    @cached_property
    def all_vectors(self) -> np.ndarray:
        """Every sentence vector in float32, for brute-force search over a small corpus
        (float16 products have no fast path in numpy)."""
        return self.sentence_vectors.whole()

    def passage_text(self, row: int) -> str:
        code, start, end = (int(x) for x in self.passage_columns[row])
        return self.columns.documents[code].text[start:end]

    def sentence_text(self, row: int) -> str:
        start, end = (int(x) for x in self.sentence_columns[row])
        return self.columns.documents[int(self.sentence_doc[row])].text[start:end]

    def doc_sentence_rows(self, doc_ids: list[str]) -> np.ndarray:
        """The sentence rows of these documents (a document's sentences are one run of rows),
        found without a pass over every sentence."""
        codes = sorted({self.doc_code[d] for d in doc_ids if d in self.doc_code})
        runs = [np.arange(self.sentence_bounds[self.doc_passage_bounds[c]],
                          self.sentence_bounds[self.doc_passage_bounds[c + 1]]) for c in codes]
        return np.concatenate(runs) if runs else np.zeros(0, dtype=np.int64)

    def doc_mask(self, doc_ids: list[str] | None) -> np.ndarray | None:
        """Boolean mask over passages for a document filter (None: no filter): one lookup in a
        per-document table, as a filter may keep thousands of documents."""
        if not doc_ids:
            return None
        kept = np.zeros(len(self.doc_ids), dtype=bool)  # by code: removed documents keep theirs
        kept[[self.doc_code[d] for d in doc_ids if d in self.doc_code]] = True
        return kept[self.passage_doc]
