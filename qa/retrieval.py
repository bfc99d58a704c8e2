"""Hybrid passage retrieval: BM25 over passages fused (reciprocal rank fusion) with dense
retrieval, where a passage's dense score is its best sentence's cosine to the question
(sentence vectors come from Chroma's HNSW index)."""

from __future__ import annotations

import msgspec
import numpy as np

from index.lexical import terms
from index.store import Store
from qa.corpus import Corpus

RRF_K = 60
DENSE_SENTENCES = 100  # nearest sentences fetched per question


class Hit(msgspec.Struct):
    passage: int  # row in Corpus.passages
    score: float  # fused RRF score
    lexical: float  # BM25 score (0 when not in the lexical top list)
    dense: float  # best sentence cosine in the passage (0 when not in the dense list)


class Retriever:
    def __init__(self, corpus: Corpus, store: Store) -> None:
        self.corpus = corpus
        self.store = store

    def lexical_scores(self, question: str) -> np.ndarray:
        """BM25 score per corpus passage row."""
        scores = np.zeros(len(self.corpus.passages), dtype=np.float32)
        raw = self.corpus.lexical.scores(terms(question))
        valid = self.corpus.lexical_to_passage >= 0
        scores[self.corpus.lexical_to_passage[valid]] = raw[valid]
        return scores

    def dense_scores(self, vector: np.ndarray, doc_ids: list[str] | None) -> dict[int, float]:
        """Best sentence cosine per passage row, for passages holding a nearest sentence."""
        ids, similarities = self.store.query_sentences(vector, min(DENSE_SENTENCES, len(self.corpus.sentences)), doc_ids)
        best: dict[int, float] = {}
        for sentence_id, similarity in zip(ids, similarities):
            row = self.corpus.sentence_row.get(sentence_id)
            if row is None:  # written after our snapshot: picked up on the next refresh
                continue
            passage = self.corpus.passage_row[self.corpus.sentences[row].passage_id]
            best[passage] = max(best.get(passage, -1.0), similarity)
        return best

    def retrieve(self, question: str, vector: np.ndarray, k: int, doc_ids: list[str] | None = None,
                 depth: int = 50) -> list[Hit]:
        if not self.corpus.passages:
            return []
        lexical = self.lexical_scores(question)
        if (mask := self.corpus.doc_mask(doc_ids)) is not None:
            lexical = np.where(mask, lexical, 0.0)
        depth = min(depth, len(lexical))
        top = np.argpartition(-lexical, depth - 1)[:depth]
        lexical_ranked = [int(r) for r in top[np.argsort(-lexical[top])] if lexical[r] > 0]
        dense = self.dense_scores(vector, doc_ids)
        dense_ranked = sorted(dense, key=dense.__getitem__, reverse=True)

        fused: dict[int, float] = {}
        for ranking in (lexical_ranked, dense_ranked):
            for rank, row in enumerate(ranking):
                fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank + 1)
        order = sorted(fused, key=fused.__getitem__, reverse=True)[:k]
        return [Hit(passage=row, score=fused[row], lexical=float(lexical[row]), dense=dense.get(row, 0.0)) for row in order]
