"""Extractive answer composition: score every sentence of the best passages against the
question, quote the best one (and further ones only when they add something), cite each
at its exact offsets, and abstain when the calibrated confidence is too low."""

from __future__ import annotations

import math
import re

import msgspec
import numpy as np

from index.lexical import terms
from qa.confidence import LinearModel
from qa.citations import citation_id
from qa.corpus import Corpus
from qa.question import AnswerType, Question, answer_span
from qa.retrieval import Hit
from qa.schemas import AnswerSentence, Citation, RelatedPassage

MAX_SENTENCES = 3
FURTHER_SENTENCE_MARGIN = 1.0  # a further sentence's logit may trail the best by at most this
NEAR_DUPLICATE_COSINE = 0.9
NO_ANSWER = "I could not find an answer to this question in the articles."
_NEGATION = re.compile(r"\b(not|never|no|n't|without|neither|nor)\b", re.I)
_NAME = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][\w’'-]*")  # capitalised words that do not start the question

SENTENCE_FEATURES = ["cosine", "overlap", "window_overlap", "passage_overlap", "type_found", "type_missing",
                     "passage_rank", "length", "heading", "numbers_found"]
CONFIDENCE_FEATURES = ["cosine", "overlap", "window_overlap", "passage_overlap", "type_found", "type_missing",
                       "sentence_logit", "margin", "missing_idf", "dense_top", "lexical_top", "question_terms",
                       "negation", "number_missing", "window_missing_idf", "negation_mismatch",
                       "entity_missing"]


class Composition(msgspec.Struct):
    answered: bool
    sentences: list[AnswerSentence]
    citations: list[Citation]
    confidence: float
    features: dict[str, float]
    related: list[RelatedPassage]
    ranked: list[int]  # every candidate sentence row, best first (kept for evaluation)


class Composer:
    def __init__(self, corpus: Corpus, sentence_model: LinearModel, confidence_model: LinearModel,
                 min_confidence: float, passages: int) -> None:
        self.corpus = corpus
        self.sentence_model = sentence_model.checked(SENTENCE_FEATURES)
        self.confidence_model = confidence_model.checked(CONFIDENCE_FEATURES)
        self.min_confidence = min_confidence
        self.passages = passages

    def sentence_features(self, question: Question, hits: list[Hit]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(sentence rows, hit index per row, feature matrix in SENTENCE_FEATURES order)."""
        corpus = self.corpus
        rows_per_hit = [corpus.passage_sentences(h.passage) for h in hits[: self.passages]]
        rows = np.concatenate(rows_per_hit) if rows_per_hit else np.zeros(0, dtype=np.int64)
        hit_of = np.concatenate([np.full(len(r), i) for i, r in enumerate(rows_per_hit)]) if rows_per_hit else rows
        features = np.zeros((len(rows), len(SENTENCE_FEATURES)), dtype=np.float64)
        if not len(rows):
            return rows, hit_of, features
        features[:, 0] = corpus.vectors(rows) @ question.vector
        asked = question.kind is not AnswerType.OTHER
        k = 0
        for h, passage_rows in enumerate(rows_per_hit):
            sentence_terms = [corpus.sentence_terms[r] for r in passage_rows.tolist()]  # made once per question
            passage_cover = question.coverage(frozenset().union(*sentence_terms))
            for i, row in enumerate(passage_rows.tolist()):
                window = frozenset().union(*sentence_terms[max(i - 1, 0) : i + 2])
                text = corpus.sentence_text(row)
                found = asked and answer_span(question.text, question.kind, text, question.terms) is not None
                features[k, 1:] = (question.coverage(sentence_terms[i]), question.coverage(window),
                                   passage_cover, float(found), float(asked and not found), 1.0 / (1 + h),
                                   math.log1p(len(sentence_terms[i])),
                                   float(not text.rstrip("”\"’'").endswith((".", "!", "?"))),
                                   question.numbers_found(text))
                k += 1
        return rows, hit_of, features

    def confidence_features(self, question: Question, hits: list[Hit], rows: np.ndarray, hit_of: np.ndarray,
                            features: np.ndarray, logits: np.ndarray, best: int) -> dict[str, float]:
        values = dict(zip(SENTENCE_FEATURES, features[best].tolist()))
        other = logits[hit_of != hit_of[best]]
        passage = hits[int(hit_of[best])].passage
        missing = question.terms - self.corpus.passage_terms[passage]
        top_idf = max(question.idf.values(), default=1.0) or 1.0
        passage_text = self.corpus.passage_text(passage)
        sentence_row = int(rows[best])
        passage_rows = self.corpus.passage_sentences(passage).tolist()
        i = passage_rows.index(sentence_row)
        window = frozenset().union(*(self.corpus.sentence_terms[r] for r in passage_rows[max(i - 1, 0) : i + 2]))
        sentence_text = self.corpus.sentence_text(sentence_row)
        values.update(
            window_missing_idf=max((question.idf[t] for t in question.terms - window), default=0.0) / top_idf,
            entity_missing=self._entity_missing(question.text, window),
            negation_mismatch=float(bool(_NEGATION.search(question.text)) != bool(_NEGATION.search(sentence_text))),
            sentence_logit=float(logits[best]),
            margin=float(logits[best] - other.max()) if len(other) else 2.0,
            missing_idf=max((question.idf[t] for t in missing), default=0.0) / top_idf,
            dense_top=max(h.dense for h in hits),
            lexical_top=max(h.lexical for h in hits) / (question.weight or 1.0),
            question_terms=math.log1p(len(question.terms)),
            negation=float(bool(_NEGATION.search(question.text))),
            number_missing=float(any(n not in passage_text for n in question.numbers)),
        )
        return values

    @staticmethod
    def _entity_missing(question: str, window: frozenset[str]) -> float:
        """Share of the question's names (capitalised words) absent around the answer: a
        question about the EU answered from a sentence about Russia is a different question."""
        names = {t for word in _NAME.findall(question) for t in terms(word)}
        return len(names - window) / len(names) if names else 0.0

    def _select(self, rows: np.ndarray, hit_of: np.ndarray, logits: np.ndarray, order: np.ndarray) -> list[int]:
        """Indices (into rows) of the quoted sentences, in reading order: the best first, then
        close runners-up that are no near-duplicates and bring words the chosen ones lack.
        A runner-up from the best sentence's passage must follow it in the text, so that the
        best sentence leads and each passage reads in document order."""
        corpus = self.corpus
        best = int(order[0])
        chosen = [best]
        covered = set(corpus.sentence_terms[rows[best]])
        for i in order[1:]:
            if len(chosen) == MAX_SENTENCES or logits[i] < logits[best] - FURTHER_SENTENCE_MARGIN:
                break
            if hit_of[i] == hit_of[best] and corpus.sentence_start[rows[i]] < corpus.sentence_start[rows[best]]:
                continue
            vector = corpus.vectors([rows[i]])[0]
            if any(float(vector @ corpus.vectors([rows[c]])[0]) > NEAR_DUPLICATE_COSINE for c in chosen):
                continue
            new_terms = corpus.sentence_terms[rows[i]] - covered
            if not new_terms:
                continue
            chosen.append(int(i))
            covered |= new_terms
        passage_order = {hit_of[best]: -1}  # the best sentence's passage leads
        return sorted(chosen, key=lambda c: (passage_order.get(hit_of[c], hit_of[c]), corpus.sentence_start[rows[c]]))

    def _citation(self, n: int, row: int, score: float, question: Question, with_span: bool) -> Citation:
        sentence = self.corpus.sentences[row]
        document = self.corpus.documents[sentence.doc_id]
        quote = document.text[sentence.start : sentence.end]
        span = answer_span(question.text, question.kind, quote, question.terms) if with_span else None
        return Citation(
            n=n, id=citation_id(document.content_hash, sentence.start, sentence.end), doc_id=sentence.doc_id,
            title=document.title, passage_id=sentence.passage_id,
            start=sentence.start, end=sentence.end, quote=quote, score=round(score, 4),
            answer_start=sentence.start + span[0] if span else None,
            answer_end=sentence.start + span[1] if span else None,
            answer_text=quote[span[0] : span[1]] if span else None,
        )

    def related(self, hits: list[Hit], limit: int = 3) -> list[RelatedPassage]:
        out = []
        for hit in hits[:limit]:
            passage = self.corpus.passages[hit.passage]
            out.append(RelatedPassage(doc_id=passage.doc_id, title=self.corpus.documents[passage.doc_id].title,
                                      passage_id=passage.id, start=passage.start, end=passage.end,
                                      text=self.corpus.passage_text(hit.passage), score=round(hit.score, 5)))
        return out

    def compose(self, question: Question, hits: list[Hit]) -> Composition:
        rows, hit_of, features = self.sentence_features(question, hits)
        if not len(rows) or not question.terms and question.kind is AnswerType.OTHER:
            return Composition(answered=False, sentences=[], citations=[], confidence=0.0, features={},
                               related=self.related(hits), ranked=[])
        logits = self.sentence_model.logits(features)
        order = np.argsort(-logits, kind="stable")
        values = self.confidence_features(question, hits, rows, hit_of, features, logits, int(order[0]))
        confidence = round(self.confidence_model.probability(values), 4)
        ranked = [int(rows[i]) for i in order]
        if confidence < self.min_confidence:
            return Composition(answered=False, sentences=[], citations=[], confidence=confidence, features=values,
                               related=self.related(hits), ranked=ranked)
        chosen = self._select(rows, hit_of, logits, order)
        citations = [self._citation(n, int(rows[c]), float(logits[c]), question, with_span=c == order[0])
                     for n, c in enumerate(chosen, start=1)]
        sentences = [AnswerSentence(text=c.quote, citation=c.n) for c in citations]
        return Composition(answered=True, sentences=sentences, citations=citations, confidence=confidence,
                           features=values, related=[], ranked=ranked)


def answer_text(composition: Composition) -> str:
    if not composition.answered:
        return NO_ANSWER
    return " ".join(f"{s.text} [{s.citation}]" for s in composition.sentences)
