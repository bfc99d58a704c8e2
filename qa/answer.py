"""Extractive answer composition: score every sentence of the best passages against the
question, quote the best one with the sentence that follows it (and a close runner-up only
when it adds something), cite each at its exact offsets, and abstain when the calibrated
confidence is too low."""

from __future__ import annotations

import math
import re

import msgspec
import numpy as np

from index.lexical import terms
from qa.citations import citation_id
from qa.answer_models import AnswerModels
from qa.confidence import LinearModel, feature_matrix
from qa.corpus import Corpus
from qa.question import SPAN_FEATURES, AnswerType, Question, ShortAnswer, answer_span
from qa.retrieval import Hit
from qa.schemas import AnswerSentence, Citation, RelatedPassage

MAX_SENTENCES = 3  # the best sentence, the one after it and at most one runner-up
# A runner-up's logit may trail the best by at most this: chosen on the training news, where
# a runner-up further behind seldom held the answer the first two sentences lacked
# (docs/answers.md, "Which sentences are quoted").
FURTHER_SENTENCE_MARGIN = 3.0
NEAR_DUPLICATE_COSINE = 0.9
NO_ANSWER = "I could not find an answer to this question in the articles."
_HAS_WORD = re.compile(r"\w")
_NEGATION = re.compile(r"\b(not|never|no|n't|without|neither|nor)\b", re.I)
_NAME = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][\w’'-]*")  # capitalised words that do not start the question

SENTENCE_FEATURES = ["cosine", "overlap", "window_overlap", "passage_overlap", "type_found", "type_missing",
                     "passage_rank", "length", "heading", "numbers_found"]
CONFIDENCE_FEATURES = ["cosine", "overlap", "window_overlap", "passage_overlap", "type_found", "type_missing",
                       "sentence_logit", "margin", "missing_idf", "dense_top", "lexical_top", "question_terms",
                       "negation", "number_missing", "window_missing_idf", "negation_mismatch",
                       "entity_missing"]
# What the calibration may read: the reader's logit for the best sentence when a reader ships
# (qa/answer_models.py checks that the two were fit together).
CALIBRATION_FEATURES = ["reader_logit", "confidence_logit", "absent_words"]
# The pick among the candidates the reader read: the ranker's logit and the reader's, weighed.
PICK_FEATURES = ["sentence_logit", "reader_logit"]
# A short answer is given when, should its sentence hold the answer, it is more likely right
# than wrong (whether the sentence holds it is what the answer's confidence says).
SHORT_ANSWER_MIN_PROBABILITY = 0.5


class Composition(msgspec.Struct):
    answered: bool
    sentences: list[AnswerSentence]
    citations: list[Citation]
    confidence: float
    features: dict[str, float]
    related: list[RelatedPassage]
    ranked: list[int]  # every candidate sentence row, best first (kept for evaluation)
    selected: list[int]  # the sentence rows quoted, or that would be quoted on an abstention (evaluation)
    read: list[tuple[int, float, float]] = []  # (row, ranker logit, reader logit) of what the reader read (calibration)


class Composer:
    def __init__(self, corpus: Corpus, models: AnswerModels, *, min_confidence: float, passages: int,
                 reader_candidates: int) -> None:
        """`models.calibration` maps the confidence model's logit, the reader's logit and the
        question's words absent from the answer's article to the probability that the quoted
        sentences hold the answer (`min_confidence` is on that scale); without it the
        confidence is the confidence model's own probability. `models.short_answer` gives the
        probability that the best sentence's short answer is right if that sentence holds the
        answer (see `_short_answer`; without the model, a short answer is always given). The
        reader, when one ships, reads the ranker's best `reader_candidates` sentences and
        picks the best among them."""
        self.corpus = corpus
        self.sentence_model = models.sentence.checked(SENTENCE_FEATURES)
        self.confidence_model = models.confidence.checked(CONFIDENCE_FEATURES)
        self.calibration = models.calibration
        if self.calibration and not set(self.calibration.features) <= set(CALIBRATION_FEATURES):
            raise ValueError(f"calibration reads {self.calibration.features}, the code gives {CALIBRATION_FEATURES}: "
                             "refit it with benchmarks/calibrate_news.py")
        self.short_answer_model = models.short_answer.checked(SPAN_FEATURES) if models.short_answer else None
        self.reader = models.reader
        self.pick_model = models.pick.checked(PICK_FEATURES) if models.pick else None
        self.min_confidence = min_confidence
        self.passages = passages
        self.reader_candidates = reader_candidates

    def sentence_features(self, question: Question, hits: list[Hit]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(sentence rows, hit index per row, feature matrix in SENTENCE_FEATURES order) for
        every sentence of the best `passages` hits."""
        return self._features(question, list(enumerate(h.passage for h in hits[: self.passages])))

    def _features(self, question: Question,
                  passages: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`sentence_features` for these (hit index, passage row) pairs."""
        corpus = self.corpus
        rows_per_hit = [corpus.passage_sentences(p) for _, p in passages]
        rows = np.concatenate(rows_per_hit) if rows_per_hit else np.zeros(0, dtype=np.int64)
        hit_of = np.concatenate([np.full(len(r), h) for (h, _), r in zip(passages, rows_per_hit)]) if passages else rows
        if not len(rows):
            return rows, hit_of, np.zeros((0, len(SENTENCE_FEATURES)))
        columns: dict[str, list[float]] = {name: [] for name in SENTENCE_FEATURES if name != "cosine"}
        asked = question.kind is not AnswerType.OTHER
        for (h, _), passage_rows in zip(passages, rows_per_hit):
            sentence_terms = [corpus.sentence_terms[r] for r in passage_rows.tolist()]  # made once per question
            passage_cover = question.coverage(frozenset().union(*sentence_terms))
            for i, row in enumerate(passage_rows.tolist()):
                window = frozenset().union(*sentence_terms[max(i - 1, 0) : i + 2])
                text = corpus.sentence_text(row)
                found = asked and answer_span(question.text, question.kind, text, question.idf) is not None
                for name, value in (("overlap", question.coverage(sentence_terms[i])),
                                    ("window_overlap", question.coverage(window)),
                                    ("passage_overlap", passage_cover),
                                    ("type_found", float(found)),
                                    ("type_missing", float(asked and not found)),
                                    ("passage_rank", 1.0 / (1 + h)),
                                    ("length", math.log1p(len(sentence_terms[i]))),
                                    ("heading", float(not text.rstrip("”\"’'").endswith((".", "!", "?")))),
                                    ("numbers_found", question.numbers_found(text))):
                    columns[name].append(value)
        cosines = corpus.vectors(rows) @ question.vector
        return rows, hit_of, feature_matrix(columns | {"cosine": cosines}, SENTENCE_FEATURES)

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
            absent_words=self._absent_words(question, int(self.corpus.sentence_doc[sentence_row])),
        )
        return values

    def _absent_words(self, question: Question, doc_code: int) -> float:
        """How many of the question's words the collection holds but the answer's article does
        not. Someone who asks about a story without the text at hand asks about what its
        headline says or about what it never mentions; the second kind brings words the story
        lacks. Words no article holds (typos, glued words) are not counted: they say nothing
        about this article."""
        article = self.corpus.document_terms[doc_code]
        return float(sum(1 for t in question.terms - article if self.corpus.lexical.knows(t)))

    @staticmethod
    def _entity_missing(question: str, window: frozenset[str]) -> float:
        """Share of the question's names (capitalised words) absent around the answer: a
        question about the EU answered from a sentence about Russia is a different question."""
        names = {t for word in _NAME.findall(question) for t in terms(word)}
        return len(names - window) / len(names) if names else 0.0

    def _follower(self, question: Question, hits: list[Hit], rows: np.ndarray, logits: np.ndarray,
                  best: int) -> tuple[int, float] | None:
        """The sentence after the best one in its article, with its ranker logit (scored on
        its own when its passage was not among the candidates); None at the article's end."""
        row = self.corpus.next_sentence(int(rows[best]))
        while row is not None and not _HAS_WORD.search(self.corpus.sentence_text(row)):
            row = self.corpus.next_sentence(row)  # a closing quote mark the splitter left alone
        if row is None:
            return None
        scored = np.flatnonzero(rows == row)
        if len(scored):
            return row, float(logits[scored[0]])
        passage = int(self.corpus.sentence_passage[row])
        hit = next((h for h, candidate in enumerate(hits) if candidate.passage == passage), len(hits))
        passage_rows, _, features = self._features(question, [(hit, passage)])
        return row, float(self.sentence_model.logits(features)[int(np.flatnonzero(passage_rows == row)[0])])

    def _select(self, question: Question, hits: list[Hit], rows: np.ndarray, logits: np.ndarray,
                order: np.ndarray) -> list[tuple[int, float]]:
        """The quoted sentences as (sentence row, ranker logit), in reading order: the best
        sentence; the sentence after it, because news states a fact and gives its detail (the
        name, the number, the reason) in the next sentence, so on the news question sets the
        pair holds the answer about a quarter more often than the best sentence alone
        (docs/answers.md, "Which sentences are quoted"); then at most one close runner-up that
        is no near-duplicate and brings words the others lack. A runner-up from the best
        sentence's article must follow it in the text, so that the best sentence leads and each
        article reads in text order."""
        corpus = self.corpus
        best = int(order[0])
        best_row = int(rows[best])
        chosen = [(best_row, float(logits[best]))]
        follower = self._follower(question, hits, rows, logits, best)
        if follower is not None:
            chosen.append(follower)
        covered = set().union(*(corpus.sentence_terms[row] for row, _ in chosen))
        best_doc = int(corpus.sentence_doc[best_row])
        for i in order[1:]:
            if len(chosen) == MAX_SENTENCES or logits[i] < logits[best] - FURTHER_SENTENCE_MARGIN:
                break
            row = int(rows[i])
            if any(row == c for c, _ in chosen) or (corpus.sentence_doc[row] == best_doc and row < best_row):
                continue
            vector = corpus.vectors([row])[0]
            if any(float(vector @ corpus.vectors([c])[0]) > NEAR_DUPLICATE_COSINE for c, _ in chosen):
                continue
            new_terms = corpus.sentence_terms[row] - covered
            if not new_terms:
                continue
            chosen.append((row, float(logits[i])))
            covered |= new_terms
        article_order: dict[int, int] = {}  # the best sentence's article first, then by rank
        for row, _ in chosen:
            article_order.setdefault(int(corpus.sentence_doc[row]), len(article_order))
        return sorted(chosen, key=lambda c: (article_order[int(corpus.sentence_doc[c[0]])], c[0]))

    def _citation(self, n: int, row: int, score: float, question: Question, with_span: bool) -> Citation:
        sentence = self.corpus.sentences[row]
        document = self.corpus.documents[sentence.doc_id]
        quote = document.text[sentence.start : sentence.end]
        span = self._short_answer(question, quote) if with_span else None
        return Citation(
            n=n, id=citation_id(document.content_hash, sentence.start, sentence.end), doc_id=sentence.doc_id,
            title=document.title, passage_id=sentence.passage_id,
            start=sentence.start, end=sentence.end, quote=quote, score=round(score, 4),
            answer_start=sentence.start + span.start if span else None,
            answer_end=sentence.start + span.end if span else None,
            answer_text=quote[span.start : span.end] if span else None,
        )

    def _short_answer(self, question: Question, quote: str) -> ShortAnswer | None:
        """The quote's short answer, unless the short-answer model finds it more likely wrong
        than right: a wrong highlight misleads, while the quote stands without one."""
        span = answer_span(question.text, question.kind, quote, question.idf)
        if span is None or self.short_answer_model is None:
            return span
        return span if keeps_short_answer(self.short_answer_model, span) else None

    def _read(self, question: Question, rows: np.ndarray, logits: np.ndarray,
              order: np.ndarray) -> list[tuple[int, float, float]]:
        """The reader reads the ranker's best candidates; the pick model's best of them (the
        ranker's logit and the reader's, weighed) moves to the front of `order` (in place).
        Returns (row, ranker logit, reader logit) of each candidate read, the pick first;
        nothing without a reader."""
        if self.reader is None:
            return []
        corpus = self.corpus
        top = order[: self.reader_candidates].copy()
        sentences = [int(rows[i]) for i in top]
        previous = [corpus.previous_sentence(r) for r in sentences]
        scores = self.reader.scores(question.text, [corpus.sentence_text(r) for r in sentences],
                                    [corpus.sentence_title(r) for r in sentences],
                                    ["" if p is None else corpus.sentence_text(p) for p in previous])
        read = [(row, float(logits[i]), float(score)) for row, i, score in zip(sentences, top, scores)]
        if self.pick_model is None:
            return read
        pick = int(np.argmax(self.pick_model.logits(np.array([[ranker, reader] for _, ranker, reader in read]))))
        order[: len(top)] = np.concatenate([top[pick : pick + 1], np.delete(top, pick)])
        return [read[pick], *read[:pick], *read[pick + 1 :]]

    def related(self, hits: list[Hit], closest: int | None = None, limit: int = 3) -> list[RelatedPassage]:
        """The best passages, shown when the service abstains; the one holding the sentence
        row `closest` (the best candidate) marks it."""
        out = []
        for hit in hits[:limit]:
            passage = self.corpus.passages[hit.passage]
            marked = closest is not None and int(self.corpus.sentence_passage[closest]) == hit.passage
            sentence = self.corpus.sentences[closest] if marked else None
            out.append(RelatedPassage(doc_id=passage.doc_id, title=self.corpus.documents[passage.doc_id].title,
                                      passage_id=passage.id, start=passage.start, end=passage.end,
                                      text=self.corpus.passage_text(hit.passage), score=round(hit.score, 5),
                                      closest_start=sentence.start - passage.start if sentence else None,
                                      closest_end=sentence.end - passage.start if sentence else None))
        return out

    def confidence(self, values: dict[str, float]) -> float:
        """How likely the answer is right: the confidence model's probability, or its logit and
        the question's words absent from the answer's article calibrated on news (the
        probability that the quoted sentences hold the answer)."""
        if self.calibration is None:
            return self.confidence_model.probability(values)
        # The calibration takes its inputs by name: the logit, and what it uses of the features.
        return self.calibration.probability(values | {"confidence_logit": self.confidence_model.logit(values)})

    def compose(self, question: Question, hits: list[Hit]) -> Composition:
        rows, hit_of, features = self.sentence_features(question, hits)
        if not len(rows) or not question.terms and question.kind is AnswerType.OTHER:
            return Composition(answered=False, sentences=[], citations=[], confidence=0.0, features={},
                               related=self.related(hits), ranked=[], selected=[])
        logits = self.sentence_model.logits(features)
        order = np.argsort(-logits, kind="stable")
        read = self._read(question, rows, logits, order)
        values = self.confidence_features(question, hits, rows, hit_of, features, logits, int(order[0]))
        if read:
            values["reader_logit"] = read[0][2]
        exact = self.confidence(values)
        confidence = round(exact, 4)  # as reported; the decision uses the exact value
        ranked = [int(rows[i]) for i in order]
        chosen = self._select(question, hits, rows, logits, order)
        if exact < self.min_confidence:
            return Composition(answered=False, sentences=[], citations=[], confidence=confidence, features=values,
                               related=self.related(hits, closest=ranked[0]), ranked=ranked,
                               selected=[row for row, _ in chosen], read=read)
        best_row = int(rows[order[0]])
        citations = [self._citation(n, row, score, question, with_span=row == best_row)
                     for n, (row, score) in enumerate(chosen, start=1)]
        sentences = [AnswerSentence(text=c.quote, citation=c.n) for c in citations]
        return Composition(answered=True, sentences=sentences, citations=citations, confidence=confidence,
                           features=values, related=[], ranked=ranked, selected=[row for row, _ in chosen], read=read)


def keeps_short_answer(model: LinearModel, span: ShortAnswer) -> bool:
    """Whether a short answer is given: should its sentence hold the answer, `model` finds it
    more likely right than wrong."""
    return model.probability(span.features) >= SHORT_ANSWER_MIN_PROBABILITY


def answer_text(composition: Composition) -> str:
    if not composition.answered:
        return NO_ANSWER
    return " ".join(f"{s.text} [{s.citation}]" for s in composition.sentences)
