"""Extractive answer composition: score every sentence of the best passages against the
question, quote the best one (and a second only when it adds something), cite each at
its exact offsets, and abstain when the calibrated confidence is too low."""

from __future__ import annotations

import msgspec
import numpy as np

from index.lexical import terms
from qa.confidence import ConfidenceModel
from qa.corpus import Corpus
from qa.question import AnswerType, answer_span, answer_type
from qa.retrieval import Hit
from qa.schemas import AnswerSentence, Citation, RelatedPassage

MAX_SENTENCES = 3
SECOND_SENTENCE_RATIO = 0.85  # a further sentence must score at least this share of the best
NEAR_DUPLICATE_COSINE = 0.9
NO_ANSWER = "I could not find an answer to this question in the articles."


class Candidate(msgspec.Struct):
    row: int  # sentence row in the corpus
    hit: int  # index of its passage in the hits
    cosine: float
    overlap: float
    passage_overlap: float
    type_found: bool
    score: float = 0.0


class Composition(msgspec.Struct):
    answered: bool
    sentences: list[AnswerSentence]
    citations: list[Citation]
    confidence: float
    features: dict[str, float]
    related: list[RelatedPassage]


def _coverage(question_terms: set[str], text_terms: set[str], idf) -> float:
    """IDF-weighted share of the question's content words found in a text."""
    total = sum(idf(t) for t in question_terms)
    return sum(idf(t) for t in question_terms & text_terms) / total if total else 0.0


class Composer:
    def __init__(self, corpus: Corpus, model: ConfidenceModel, min_confidence: float, passages: int) -> None:
        self.corpus = corpus
        self.model = model
        self.min_confidence = min_confidence
        self.passages = passages

    def candidates(self, question: str, vector: np.ndarray, hits: list[Hit]) -> list[Candidate]:
        asked = set(terms(question))
        kind = answer_type(question)
        idf = self.corpus.lexical.idf
        out: list[Candidate] = []
        for h, hit in enumerate(hits[: self.passages]):
            rows = self.corpus.passage_sentence_rows[hit.passage]
            cosines = self.corpus.sentence_vectors[rows] @ vector
            passage_cover = _coverage(asked, set(terms(self.corpus.passage_text(hit.passage))), idf)
            for row, cosine in zip(rows, cosines):
                text = self.corpus.sentence_text(int(row))
                found = kind is not AnswerType.OTHER and answer_span(question, kind, text) is not None
                candidate = Candidate(row=int(row), hit=h, cosine=float(cosine),
                                      overlap=_coverage(asked, set(terms(text)), idf),
                                      passage_overlap=passage_cover, type_found=found)
                candidate.score = self.sentence_score(candidate, kind)
                out.append(candidate)
        out.sort(key=lambda c: c.score, reverse=True)
        return out

    @staticmethod
    def sentence_score(c: Candidate, kind: AnswerType) -> float:
        type_term = 0.0 if kind is AnswerType.OTHER else (0.15 if c.type_found else -0.15)
        return c.cosine + c.overlap + 0.2 * c.passage_overlap + type_term + 0.05 / (1 + c.hit)

    def features(self, best: Candidate | None, hits: list[Hit]) -> dict[str, float]:
        if best is None:
            return {name: 0.0 for name in self.model.features}
        return {"cosine": best.cosine, "overlap": best.overlap, "passage_overlap": best.passage_overlap,
                "type_found": float(best.type_found), "dense_top": max(h.dense for h in hits),
                "score": best.score}

    def _select(self, ranked: list[Candidate]) -> list[Candidate]:
        chosen = [ranked[0]]
        covered = set(terms(self.corpus.sentence_text(ranked[0].row)))
        for candidate in ranked[1:]:
            if len(chosen) == MAX_SENTENCES or candidate.score < SECOND_SENTENCE_RATIO * ranked[0].score:
                break
            vector = self.corpus.sentence_vectors[candidate.row]
            if any(float(vector @ self.corpus.sentence_vectors[c.row]) > NEAR_DUPLICATE_COSINE for c in chosen):
                continue
            new_terms = set(terms(self.corpus.sentence_text(candidate.row))) - covered
            if not new_terms:
                continue
            chosen.append(candidate)
            covered |= new_terms
        # Passages in retrieval order, sentences in document order within a passage.
        return sorted(chosen, key=lambda c: (c.hit, self.corpus.sentences[c.row].start))

    def _citation(self, n: int, candidate: Candidate, question: str, kind: AnswerType) -> Citation:
        sentence = self.corpus.sentences[candidate.row]
        document = self.corpus.documents[sentence.doc_id]
        quote = document.text[sentence.start : sentence.end]
        span = answer_span(question, kind, quote) if kind is not AnswerType.OTHER else None
        return Citation(
            n=n, id=sentence.id, doc_id=sentence.doc_id, title=document.title, passage_id=sentence.passage_id,
            start=sentence.start, end=sentence.end, quote=quote, score=round(candidate.score, 4),
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

    def compose(self, question: str, vector: np.ndarray, hits: list[Hit]) -> Composition:
        ranked = self.candidates(question, vector, hits)
        best = ranked[0] if ranked else None
        features = self.features(best, hits)
        confidence = self.model.probability(features) if best else 0.0
        if best is None or confidence < self.min_confidence:
            return Composition(answered=False, sentences=[], citations=[], confidence=round(confidence, 4),
                               features=features, related=self.related(hits))
        kind = answer_type(question)
        citations = [self._citation(n, c, question, kind) for n, c in enumerate(self._select(ranked), start=1)]
        sentences = [AnswerSentence(text=c.quote, citation=c.n) for c in citations]
        return Composition(answered=True, sentences=sentences, citations=citations, confidence=round(confidence, 4),
                           features=features, related=[])


def answer_text(composition: Composition) -> str:
    if not composition.answered:
        return NO_ANSWER
    return " ".join(f"{s.text} [{s.citation}]" for s in composition.sentences)
