"""The lexical side of retrieval: a BM25 index (bm25s) over passages, and the term
analyser (lower case, stop words, Snowball stemming) shared with answer scoring.

The index is derived state: built from the passages at ingest or at start-up, and cached
on disk under a key that names the corpus version, so a stale cache is never used."""

from __future__ import annotations

import json
import logging
import math
import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

WORD = re.compile(r"\w\w+|\d")


@lru_cache(maxsize=1)
def _bm25s():
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG
    return bm25s


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


class LexicalIndex:
    def __init__(self, bm25, passage_ids: list[str], document_frequency: dict[str, int]) -> None:
        self._bm25 = bm25
        self.passage_ids = passage_ids
        self._df = document_frequency
        self._n = max(len(passage_ids), 1)

    @classmethod
    def build(cls, passage_ids: list[str], texts: Sequence[str]) -> "LexicalIndex":
        bm25s = _bm25s()
        tokens = [terms(t) for t in texts]
        bm25 = bm25s.BM25()
        if tokens:
            bm25.index(tokens, show_progress=False)
        df = Counter(t for doc in tokens for t in set(doc))
        return cls(bm25, list(passage_ids), dict(df))

    def idf(self, term: str) -> float:
        df = self._df.get(term, 0)
        return math.log(1 + (self._n - df + 0.5) / (df + 0.5))

    def vocabulary(self) -> list[str]:
        """Every indexed term (quote lookup matches misspelt words against it)."""
        return list(self._df)

    def scores(self, query_terms: list[str]) -> np.ndarray:
        """BM25 score of every passage, in `passage_ids` order."""
        known = [t for t in query_terms if t in self._df]
        if not known:
            return np.zeros(len(self.passage_ids), dtype=np.float32)
        return self._bm25.get_scores(known)

    def save(self, folder: Path) -> None:
        tmp = folder.with_name(folder.name + ".tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        if self.passage_ids:
            self._bm25.save(str(tmp), show_progress=False)
        (tmp / "passages.json").write_text(json.dumps({"ids": self.passage_ids, "df": self._df}))
        if folder.exists():
            import shutil

            shutil.rmtree(folder)
        tmp.replace(folder)  # readers never see a half-written index

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        bm25s = _bm25s()
        meta = json.loads((folder / "passages.json").read_text())
        bm25 = bm25s.BM25.load(str(folder), show_progress=False) if meta["ids"] else bm25s.BM25()
        return cls(bm25, meta["ids"], meta["df"])

    @classmethod
    def cached(cls, cache_dir: Path, key: str, passage_ids: list[str], texts: Sequence[str]) -> "LexicalIndex":
        """Load the index for this corpus version, or build and cache it."""
        folder = cache_dir / key
        if (folder / "passages.json").exists():
            try:
                return cls.load(folder)
            except (OSError, ValueError):
                pass  # a damaged cache is rebuilt below
        index = cls.build(passage_ids, texts)
        try:
            index.save(folder)
            for old in cache_dir.iterdir():
                if old.name != key and not old.name.endswith(".tmp"):
                    import shutil

                    shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass  # a read-only data dir only costs the rebuild next time
        return index
