"""Hybrid passage retrieval. Candidates come from BM25 over passages and from dense
retrieval over sentences (exact in memory for small corpora, Chroma's HNSW index for
large ones; a passage's dense score is its best sentence's cosine to the question), fused by reciprocal rank; a small learned ranker
(`qa/models/ranker.json`) then reorders the fused pool using both scores and how much of
the question the passage and its article title cover."""

from __future__ import annotations

import msgspec
import numpy as np

from index.lexical import terms
from index.store import Store
from qa.confidence import LinearModel, feature_matrix
from qa.corpus import Corpus
from qa.question import Question

RRF_K = 60
DENSE_SENTENCES = 100  # nearest sentences fetched per question
# Up to this many sentences a brute-force product over the in-memory vectors (0.2 ms at
# 6k, ~3 ms at 20k) beats a round trip to Chroma's HNSW index (2-8 ms); above it the index wins.
EXACT_SEARCH_MAX = 20_000
LEXICAL_DEPTH = 50  # BM25 candidates per question
RERANK_DEPTH = 30  # fused candidates the ranker reorders
RANK_FEATURES = ["rrf", "lexical", "lexical_rank", "dense", "dense_second", "dense_rank", "coverage", "title_coverage",
                 "numbers_found"]


class Hit(msgspec.Struct):
    passage: int  # row in Corpus.passages
    score: float  # ranking score: the ranker's logit (or the RRF score without a ranker)
    lexical: float  # BM25 score
    dense: float  # best sentence cosine in the passage


class Retriever:
    def __init__(self, corpus: Corpus, store: Store, ranker: LinearModel | None = None) -> None:
        self.corpus = corpus
        self.store = store
        self.ranker = ranker.checked(RANK_FEATURES) if ranker else None

    def lexical_scores(self, question: str) -> np.ndarray:
        """BM25 score per corpus passage row."""
        return self.corpus.lexical.scores(terms(question))

    def dense_scores(self, vector: np.ndarray, doc_ids: list[str] | None) -> dict[int, float]:
        """Best sentence cosine per passage row, for passages holding one of the nearest sentences."""
        corpus = self.corpus
        n = min(DENSE_SENTENCES, len(corpus.sentences))
        # A filter's own sentences are searched exactly when they are few, in a corpus of any
        # size: Chroma's filtered search took ~350 ms for one document's at 200k sentences.
        allowed = corpus.doc_sentence_rows(doc_ids) if doc_ids else None
        if (len(corpus.sentences) if allowed is None else len(allowed)) <= EXACT_SEARCH_MAX:
            rows, similarities = self._exact_nearest(vector, n, allowed)
        else:
            ids, found = self.store.query_sentences(vector, n, doc_ids)
            # A sentence written after our version is picked up with the next one.
            at = [(r, s) for r, s in zip(corpus.version.sentence_rows(ids), found) if r is not None]
            rows, similarities = [r for r, _ in at], [s for _, s in at]
        best: dict[int, float] = {}
        for row, similarity in zip(rows, similarities):
            passage = int(corpus.sentence_passage[row])
            best[passage] = max(best.get(passage, -1.0), float(similarity))
        return best

    def _exact_nearest(self, vector: np.ndarray, n: int, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The n nearest sentences by brute force over the in-memory vectors: of `rows` only, or
        all but removed documents' (`rows` never holds those)."""
        similarities = self.corpus.all_vectors @ vector if rows is None else self.corpus.vectors(rows) @ vector
        if rows is None:
            similarities[self.corpus.version.removed_sentences] = -np.inf
        top = np.argpartition(-similarities, n - 1)[:n] if n < len(similarities) else np.arange(len(similarities))
        top = top[np.isfinite(similarities[top])]
        return (top if rows is None else rows[top]), similarities[top]

    def _sentence_cosines(self, pool: list[int], vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Best and second-best sentence cosine of each pooled passage, computed exactly."""
        rows = [self.corpus.passage_sentences(p) for p in pool]
        cosines = self.corpus.vectors(np.concatenate(rows)) @ vector
        best, second = np.zeros(len(pool)), np.zeros(len(pool))
        start = 0
        for i, r in enumerate(rows):
            part = np.sort(cosines[start : start + len(r)])[::-1]
            best[i], second[i] = part[0], part[1] if len(part) > 1 else part[0]
            start += len(r)
        return best, second

    def rank_features(self, question: Question, pool: list[int], fused: dict[int, float], lexical: np.ndarray,
                      lexical_rank: dict[int, int], dense_rank: dict[int, int]) -> np.ndarray:
        """One row per pooled passage, columns in RANK_FEATURES order."""
        best, second = self._sentence_cosines(pool, question.vector)
        top_lexical = max(float(lexical[pool].max()), 1e-9)
        titles = [self.corpus.title_terms(self.corpus.doc_ids[int(self.corpus.passage_doc[p])]) for p in pool]
        return feature_matrix({
            "rrf": [fused[p] * RRF_K for p in pool],
            "lexical": lexical[pool] / top_lexical,
            "lexical_rank": [1 / (1 + lexical_rank.get(p, 100)) for p in pool],
            "dense": best,
            "dense_second": second,
            "dense_rank": [1 / (1 + dense_rank.get(p, 100)) for p in pool],
            "coverage": [question.coverage(self.corpus.passage_terms[p]) for p in pool],
            "title_coverage": [question.coverage(title) for title in titles],
            "numbers_found": [question.numbers_found(self.corpus.passage_text(p)) if question.numbers else 0.0
                              for p in pool],
        }, RANK_FEATURES)

    def pool(self, question: Question, doc_ids: list[str] | None = None) -> tuple[list[int], np.ndarray, np.ndarray]:
        """The fused candidate pool (best RRF first), its ranking features and BM25 scores."""
        lexical = self.lexical_scores(question.text)
        if (mask := self.corpus.doc_mask(doc_ids)) is not None:
            lexical = np.where(mask, lexical, 0.0)
        depth = min(LEXICAL_DEPTH, len(lexical))
        top = np.argpartition(-lexical, depth - 1)[:depth]
        lexical_ranked = [int(r) for r in top[np.argsort(-lexical[top])] if lexical[r] > 0]
        dense = self.dense_scores(question.vector, doc_ids)
        dense_ranked = sorted(dense, key=dense.__getitem__, reverse=True)
        fused: dict[int, float] = {}
        for ranking in (lexical_ranked, dense_ranked):
            for rank, row in enumerate(ranking):
                fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank + 1)
        pool = sorted(fused, key=fused.__getitem__, reverse=True)[:RERANK_DEPTH]
        if not pool:
            return [], np.zeros((0, len(RANK_FEATURES))), np.zeros(0)
        features = self.rank_features(question, pool, fused, lexical,
                                      {r: i for i, r in enumerate(lexical_ranked)}, {r: i for i, r in enumerate(dense_ranked)})
        return pool, features, lexical[pool]

    def retrieve(self, question: Question, k: int, doc_ids: list[str] | None = None) -> list[Hit]:
        if not len(self.corpus.passages):
            return []
        pool, features, lexical = self.pool(question, doc_ids)
        scores = (self.ranker.logits(features) if self.ranker and len(pool)
                  else features[:, RANK_FEATURES.index("rrf")] / RRF_K)
        order = np.argsort(-scores, kind="stable")[:k]
        dense = features[:, RANK_FEATURES.index("dense")]
        return [Hit(passage=pool[i], score=float(scores[i]), lexical=float(lexical[i]), dense=float(dense[i]))
                for i in order]

