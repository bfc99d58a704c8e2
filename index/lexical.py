"""The lexical side of retrieval: a BM25 index over passages, and the term analyser (lower
case, stop words, Snowball stemming) shared with answer scoring.

The index is part of the read model (index/readmodel/): its postings are written with the
passages they index and opened memory-mapped."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.sparse import csc_matrix, csr_matrix

WORD = re.compile(r"\w\w+|\d")


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return frozenset(STOPWORDS_EN_PLUS)


def _content_words(text: str) -> list[str]:
    """The lower-cased words of a text that are no stop words, in order."""
    stop = stopwords()
    return [w for w in WORD.findall(text.lower()) if w not in stop]


def terms(text: str) -> list[str]:
    """Stemmed content words of a text, in order (duplicates kept)."""
    return stem_words(_content_words(text))


def stem_words(words: list[str]) -> list[str]:
    return _stemmer().stemWords(words)


def terms_of_many(texts: list[str]) -> list[list[str]]:
    """`terms` of each text, each distinct word stemmed once: a corpus's sentences repeat
    their words, and one stemmer call per sentence cost a quarter of a read-model build."""
    words = [_content_words(text) for text in texts]
    distinct = list({w: None for text_words in words for w in text_words})
    stem = dict(zip(distinct, stem_words(distinct)))
    return [[stem[w] for w in text_words] for text_words in words]


K1, B = 1.5, 0.75  # Lucene's BM25, as bm25s computes it


@dataclass(frozen=True)
class Postings:
    """Term-major postings of some passages: term t occurs `counts[k]` times in passage row
    `rows[k]` for k in [indptr[t], indptr[t + 1]). Rows are the corpus's, so the postings of
    a corpus's first passages and of those added since (the read model's base and tail)
    are searched side by side; terms beyond `len(indptr) - 1` (newer words) occur in none."""

    indptr: np.ndarray  # int64
    rows: np.ndarray  # int32
    counts: np.ndarray  # int32

    @classmethod
    def empty(cls) -> Postings:
        return cls(np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32))

    @classmethod
    def of(cls, first_row: int, term_ids: np.ndarray, counts: np.ndarray, bounds: np.ndarray,
           vocabulary_size: int) -> Postings:
        """Postings of passages first_row, first_row + 1, ... from each one's distinct term ids
        and their counts (the k-th passage's are [bounds[k]:bounds[k + 1]])."""
        # Passage-major to term-major: scipy transposes in linear time (a sort would not).
        by_term = csr_matrix((counts, term_ids, bounds), shape=(len(bounds) - 1, vocabulary_size)).tocsc()
        return cls(by_term.indptr.astype(np.int64), (by_term.indices + first_row).astype(np.int32),
                   by_term.data.astype(np.int32))

    @classmethod
    def merged(cls, parts: list[Postings], keep: np.ndarray, vocabulary_size: int) -> Postings:
        """One set of postings from `parts` (disjoint passages), without the rows `keep` drops,
        the rest renumbered in order."""
        terms_ = np.concatenate([np.repeat(np.arange(len(p.indptr) - 1, dtype=np.int32), np.diff(p.indptr))
                                 for p in parts])
        rows, counts = np.concatenate([p.rows for p in parts]), np.concatenate([p.counts for p in parts])
        kept = keep[rows]
        new_row = (np.cumsum(keep) - 1).astype(np.int32)
        by_term = csc_matrix((counts[kept], (new_row[rows[kept]], terms_[kept])),
                             shape=(int(keep.sum()), vocabulary_size))
        return cls(by_term.indptr.astype(np.int64), by_term.indices.astype(np.int32), by_term.data.astype(np.int32))

    @property
    def size(self) -> int:
        return len(self.rows)

    def document_frequency(self, vocabulary_size: int) -> np.ndarray:
        df = np.diff(self.indptr)
        return np.pad(df, (0, vocabulary_size - len(df)))


class LexicalIndex:
    """BM25 over passage rows (Lucene's variant: idf = ln(1 + (N - df + 0.5) / (df + 0.5)),
    tf / (tf + k1 (1 - b + b dl / avgdl))): a query adds up, over the postings of its terms,
    the weights computed from the term counts and passage lengths. Nothing corpus-wide is
    stored precomputed, so postings written for earlier passages stay valid as passages are
    added, and a new corpus version writes only the new passages' postings."""

    def __init__(self, vocabulary: dict[str, int], lengths: np.ndarray, parts: list[Postings],
                 removed: np.ndarray | None = None) -> None:
        self._vocabulary = vocabulary
        # Rows of removed documents score nothing; until the files are rewritten they still count
        # in the document frequencies and lengths, as deleted documents do in Lucene until a merge.
        self._removed = removed if removed is not None else np.zeros(0, dtype=np.int64)
        self.passages = len(lengths)
        self._parts = parts
        average = max(float(lengths.mean()), 1e-9) if len(lengths) else 1.0
        self._norm = K1 * (1 - B + B * lengths.astype(np.float64) / average)
        self._df = sum((p.document_frequency(len(vocabulary)) for p in parts), np.zeros(len(vocabulary), dtype=np.int64))
        self._idf = np.log(1 + (self.passages - self._df + 0.5) / (self._df + 0.5))

    def idf(self, term: str) -> float:
        t = self._vocabulary.get(term)
        df = int(self._df[t]) if t is not None and t < len(self._df) else 0
        return math.log(1 + (max(self.passages, 1) - df + 0.5) / (df + 0.5))

    def knows(self, term: str) -> bool:
        """Whether some passage holds the term."""
        t = self._vocabulary.get(term)
        return t is not None and t < len(self._df) and bool(self._df[t])

    def scores(self, query_terms: list[str]) -> np.ndarray:
        """BM25 score of every passage row (a term asked twice counts twice)."""
        ids = [t for t in (self._vocabulary.get(term) for term in query_terms)
               if t is not None and t < len(self._df) and self._df[t]]
        rows, weights = [], []
        for part in self._parts:
            for t in ids:
                if t + 1 < len(part.indptr):
                    at = slice(part.indptr[t], part.indptr[t + 1])
                    hits, tf = part.rows[at], part.counts[at].astype(np.float64)
                    rows.append(hits)
                    weights.append(self._idf[t] * tf / (tf + self._norm[hits]))
        if not rows:
            return np.zeros(self.passages, dtype=np.float32)
        scores = np.bincount(np.concatenate(rows), weights=np.concatenate(weights),
                             minlength=self.passages).astype(np.float32)
        scores[self._removed] = 0.0
        return scores
