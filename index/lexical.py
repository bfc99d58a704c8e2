"""The lexical side of retrieval: a BM25 index over passages, and the term analyser (lower
case, stop words, Snowball stemming) shared with answer scoring.

The index is part of the read model (index/readmodel.py): its arrays are written once per
corpus generation and opened memory-mapped."""

from __future__ import annotations

import math
import re
from functools import lru_cache

import numpy as np
from scipy.sparse import csr_matrix

WORD = re.compile(r"\w\w+|\d")


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return frozenset(STOPWORDS_EN_PLUS)


def terms(text: str) -> list[str]:
    """Stemmed content words of a text, in order (duplicates kept)."""
    stop = stopwords()
    return stem_words([w for w in WORD.findall(text.lower()) if w not in stop])


def stem_words(words: list[str]) -> list[str]:
    return _stemmer().stemWords(words)


K1, B = 1.5, 0.75  # Lucene's BM25, as bm25s computes it


class LexicalIndex:
    """BM25 over passage rows, as a term-major sparse matrix of precomputed scores (Lucene's
    variant: idf = ln(1 + (N - df + 0.5) / (df + 0.5)), tf / (tf + k1 (1 - b + b dl / avgdl))):
    a query adds up the columns of its terms. Built in numpy from every passage's term ids and
    counts (the read model keeps those), so a new corpus version costs no re-analysis of text."""

    def __init__(self, vocabulary: dict[str, int], passages: int, indptr: np.ndarray, rows: np.ndarray,
                 scores: np.ndarray) -> None:
        self._vocabulary = vocabulary
        self.passages = passages
        self._indptr, self._rows, self._scores = indptr, rows, scores
        self._df = np.diff(indptr)

    @staticmethod
    def matrix(passages: int, term_ids: np.ndarray, counts: np.ndarray, bounds: np.ndarray,
               vocabulary_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(indptr, rows, scores) of the term-major matrix, from each passage's distinct term
        ids and their counts (passage p's are [bounds[p]:bounds[p + 1]])."""
        owner = np.repeat(np.arange(passages, dtype=np.int32), np.diff(bounds))
        lengths = np.bincount(owner, weights=counts, minlength=passages)
        average = max(float(lengths.mean()), 1e-9) if passages else 1.0
        df = np.bincount(term_ids, minlength=vocabulary_size)
        idf = np.log(1 + (passages - df + 0.5) / (df + 0.5))
        tf = counts.astype(np.float64)
        scores = (idf[term_ids] * tf / (tf + K1 * (1 - B + B * lengths[owner] / average))).astype(np.float32)
        # Passage-major to term-major: scipy transposes in linear time (a sort would not).
        by_term = csr_matrix((scores, term_ids, bounds), shape=(passages, vocabulary_size)).tocsc()
        return by_term.indptr.astype(np.int64), by_term.indices.astype(np.int32), by_term.data

    def idf(self, term: str) -> float:
        t = self._vocabulary.get(term)
        df = int(self._df[t]) if t is not None and t < len(self._df) else 0
        return math.log(1 + (max(self.passages, 1) - df + 0.5) / (df + 0.5))

    def vocabulary(self) -> list[str]:
        """Every indexed term (quote lookup matches misspelt words against it)."""
        return [term for term, t in self._vocabulary.items() if t < len(self._df) and self._df[t]]

    def scores(self, query_terms: list[str]) -> np.ndarray:
        """BM25 score of every passage row (a term asked twice counts twice)."""
        ids = [t for t in (self._vocabulary.get(term) for term in query_terms)
               if t is not None and t < len(self._df) and self._df[t]]
        if not ids:
            return np.zeros(self.passages, dtype=np.float32)
        parts = [slice(self._indptr[t], self._indptr[t + 1]) for t in ids]
        rows = np.concatenate([self._rows[p] for p in parts])
        weights = np.concatenate([self._scores[p] for p in parts])
        return np.bincount(rows, weights=weights, minlength=self.passages).astype(np.float32)
