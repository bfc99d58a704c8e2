"""What a question asks for (a number, a date, a person, a place...) and where in a
sentence the short answer of that type sits, so that answers can highlight it, with what
tells how sure that pick is (the short-answer model weighs it)."""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import msgspec
import numpy as np
import regex

from index.lexical import WORD as _WORD
from index.lexical import stem_words, stopwords, terms


class AnswerType(enum.Enum):
    NUMBER = "number"
    DATE = "date"
    PERSON = "person"
    PLACE = "place"
    ENTITY = "entity"  # "which outlet", "what organisation": a proper name
    OTHER = "other"


_TYPE_PATTERNS: list[tuple[AnswerType, re.Pattern[str]]] = [
    (AnswerType.DATE, re.compile(r"\b(when|what (year|date|day|month|century|decade|time)|which (year|date|century|decade)|how long ago)\b", re.I)),
    (AnswerType.NUMBER, re.compile(r"\b(how (much|many|large|big|long|far|old|tall|high|often)|what (percentage|percent|share|proportion|number|amount|value|price|cost|size|population|rate|fraction)|by what (percentage|percent|amount|factor))\b", re.I)),
    (AnswerType.PERSON, re.compile(r"\b(who|whom|whose|which (person|man|woman|president|leader|official|scientist|king|author|professor))\b", re.I)),
    (AnswerType.PLACE, re.compile(r"\b(where|what (country|city|place|region|state|continent|town|island)|which (country|city|place|region|state|continent|town|island))\b", re.I)),
    (AnswerType.ENTITY, re.compile(r"\b(which|what) (\w+ ){0,2}(outlet|agency|organi[sz]ation|company|broadcaster|newspaper|network|university|party|group|institution|body|team|channel)\b", re.I)),
]

_MONTHS = r"(?:January|February|March|April|May|June|July|August|September|October|November|December|Jan\.|Feb\.|Mar\.|Apr\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\.)"
_HEDGE = r"(?:\b(?:about|around|almost|nearly|roughly|some|over|more than|less than|fewer than|up to|at least) )?"
_SCALE = r"(?:\s?(?:bn|m|k|billion|million|thousand|trillion)\b)?"
_UNIT = (_SCALE + r"(?:\s?(?:%|(?:percent|per cent|tonnes|tons|km|kilometres|kilometers|miles|metres|meters|ft|feet|foot"
         r"|inches|kg|kilograms|pounds|acres|hectares|square (?:miles|kilometres|kilometers|metres|meters|feet)"
         r"|mph|km/h|degrees|years?|months?|weeks?|days?|hours?|minutes?|seconds|people|times|points|goals|tries)\b))?")
_CANDIDATES: dict[AnswerType, re.Pattern[str]] = {
    AnswerType.NUMBER: re.compile(
        rf"{_HEDGE}(?:(?:[$€£¥]|\b[A-Z][a-z]+ dollars? )\s?\d[\d,]*(?:\.\d+)?|(?<![\d.,$€£¥])\b\d[\d,]*(?:\.\d+)?)"
        rf"(?:{_SCALE}\s?(?:–|—|-|to)\s?[$€£¥]?\d[\d,]*(?:\.\d+)?)?{_UNIT}"  # a range: "5,000 to 30,000", "200–300"
        r"|\b(?:(?:about|around|almost|nearly|some|over) )?(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
        r"|fifteen|twenty|thirty|forty|fifty|hundred|dozens?|several)\b(?:\s(?:hundred|thousand|million|billion))?" + _UNIT,
        re.I),
    AnswerType.DATE: re.compile(
        rf"\b(?:{_MONTHS}\s+\d{{1,2}}(?:,\s*\d{{4}})?|\d{{1,2}}\s+{_MONTHS}(?:\s+\d{{4}})?|{_MONTHS}\s+\d{{4}}|(?:early |late |mid-)?\d{{1,4}}(?:st|nd|rd|th)? centur(?:y|ies)|(?:the )?\d{{3,4}}s?|{_MONTHS}|(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)|(?:last|next|this) (?:year|month|week))\b"),
}
# \p{Lu}: any capital letter, so that "Żelazowa Wola" and "Émile Zola" are names too
_PROPER = regex.compile(r"\b\p{Lu}[\w’'.-]*[\w](?:\s+(?:of|the|de|da|von|van|and|for)?\s*\p{Lu}[\w’'.-]*[\w])*")
_CANDIDATES[AnswerType.PERSON] = _PROPER
_CANDIDATES[AnswerType.PLACE] = _PROPER
_CANDIDATES[AnswerType.ENTITY] = _PROPER
_NAMED = (AnswerType.PERSON, AnswerType.PLACE, AnswerType.ENTITY)
# Capitalised words that are never a person, place or organisation on their own.
_NOT_NAMES = re.compile(rf"^(?:{_MONTHS}|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|Mr|Mrs|Ms|Dr|The|A|An"
                        r"|He|She|It|They|We|I|But|And|In|On|At|For|His|Her|Their|This|That|These|Those"
                        r"|What|Who|When|Where|Why|How|Which"
                        # nationalities, parties and directions: adjectives, not the person or place asked for
                        r"|British|English|Scottish|Irish|Welsh|French|Spanish|Polish|Danish|Swedish|Finnish|Turkish"
                        r"|Dutch|German|Italian|Russian|American|Australian|Canadian|Indian|European|African|Asian"
                        r"|Japanese|Chinese|Portuguese|Korean|Israeli|Iraqi|Iranian|Afghan|Pakistani|Palestinian|Arab"
                        r"|Conservative|Labour|Liberal|Democrat|Democratic|Republican|Tory|Western|Eastern|Northern"
                        r"|Southern"
                        r"|.+['’]s)$")  # a possessive ("Scotland's") modifies the name that answers
_YEAR_ASKED = re.compile(r"\b(what|which|in what|in which) year\b", re.I)
_YEAR = re.compile(r"^(?:the )?\d{4}s?$")
_AUXILIARY = r"(?:did|do|does|was|were|is|are|has|have|had|must|can|could|will|would|should|may|might)\b"
# "how many tries": the answer counts tries (the words up to the verb: "how many receptors must ...")
_COUNTED = re.compile(rf"\bhow (?:many|much) ((?:(?!{_AUXILIARY})\w+ ?){{1,3}})", re.I)


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def answer_type(question: str) -> AnswerType:
    for kind, pattern in _TYPE_PATTERNS:
        if pattern.search(question):
            return kind
    return AnswerType.OTHER


def _stems(text: str) -> list[tuple[int, int, str]]:
    """(start, end, stem) of every content word of a text, stemmed in one batch."""
    words = [(m.start(), m.end(), m.group().lower()) for m in _WORD.finditer(text)]
    words = [w for w in words if w[2] not in stopwords()]
    return [(a, b, stem) for (a, b, _), stem in zip(words, stem_words([w for _, _, w in words]))]


PROXIMITY_CHARS = 10  # a question word this many characters from a candidate counts half
# What the short-answer model (qa/models/short_answer.json) weighs: the asked type, how many
# candidates there were to choose from, and how clearly the chosen one won.
SPAN_FEATURES = [f"kind_{kind.value}" for kind in _CANDIDATES] + [
    "log_candidates", "counts_asked", "runner_up_counts_asked", "proximity", "proximity_margin", "wins_by_rule"]


Score = tuple[bool, bool, bool, float]  # a candidate's rank: the rules' verdicts, then proximity


@dataclass(frozen=True)
class ShortAnswer:
    """A short answer's offsets within its sentence, and how it won (`features`, by name)."""

    start: int
    end: int
    kind: AnswerType
    candidates: int
    score: Score
    runner_up: Score | None
    weight: float  # the question's summed word weights: proximities count as shares of it

    @property
    def features(self) -> dict[str, float]:
        """SPAN_FEATURES, computed only when the short-answer model asks (not for every
        candidate sentence that merely needs to know whether it holds a candidate)."""
        rules, proximity = self.score[:3], self.score[3]
        runner_up = self.runner_up
        return {f"kind_{k.value}": float(k is self.kind) for k in _CANDIDATES} | {
            "log_candidates": math.log(self.candidates),
            "counts_asked": float(rules[0]),
            "runner_up_counts_asked": float(runner_up is not None and runner_up[0]),
            "proximity": proximity / self.weight,
            "proximity_margin": (proximity - (runner_up[3] if runner_up else 0.0)) / self.weight,
            "wins_by_rule": float(runner_up is None or rules > runner_up[:3]),
        }


def answer_span(question: str, kind: AnswerType, sentence: str,
                weights: Mapping[str, float] | None = None) -> ShortAnswer | None:
    """Offsets (within the sentence) of the best candidate of the asked type that the
    question does not already contain. `weights`: the question's words with their IDF (all 1
    when not given). A name sharing a word with the question is the question's subject, not
    its answer; "what year" wants a year; "how many tries" prefers a number of tries, and
    "how many" anything but a year or a bracketed aside; otherwise the candidate closest to
    the question's rarest words wins: each word found counts its IDF, halved at
    PROXIMITY_CHARS and falling with distance ("imports" outweighs "Russia" for "how much did
    imports from Russia grow")."""
    pattern = _CANDIDATES.get(kind)
    if pattern is None:
        return None
    weights = weights if weights is not None else dict.fromkeys(terms(question), 1.0)
    stems = _stems(sentence)
    anchors = [(a, weights[stem]) for a, _, stem in stems if stem in weights]
    counted = _COUNTED.search(question)
    counted_stems = {stem for _, _, stem in _stems(counted.group(1))} if counted else set()
    wants_year = kind is AnswerType.DATE and _YEAR_ASKED.search(question) is not None
    scored: list[tuple[Score, int, int]] = []
    for match in pattern.finditer(sentence):
        text = match.group().strip().rstrip(".,")
        end = match.start() + len(text)
        words = {stem for a, b, stem in stems if a >= match.start() and b <= end}
        if not text or (words and all(w in weights for w in words)):
            continue
        if kind in _NAMED:
            if any(w in weights for w in words) or _NOT_NAMES.match(text):
                continue
            if match.start() == 0 and " " not in text:
                continue  # a capitalised first word is usually just the sentence start
        if wants_year and not _YEAR.match(text):
            continue
        # "seven tries" answers "how many tries" wherever it stands
        counts_asked = bool(counted_stems & {stem for a, _, stem in stems if end <= a <= end + 20})
        for a, b, stem in stems:  # the counted words right after the number join the answer
            if a < end:
                continue
            if stem not in counted_stems or sentence[end:a].strip():
                break
            end = b  # "eight colour pages" for "how many colour pages"
        score = (counts_asked,
                 not (kind is AnswerType.NUMBER and _YEAR.match(text)),
                 kind is AnswerType.DATE or sentence.count("(", 0, match.start()) <= sentence.count(")", 0, match.start()),
                 sum(w / (1 + abs(match.start() - a) / PROXIMITY_CHARS) for a, w in anchors))
        scored.append((score, match.start(), end))
    if not scored:
        return None
    scored.sort(key=lambda candidate: candidate[0], reverse=True)  # stable: the first of equals wins
    score, start, end = scored[0]
    return ShortAnswer(start, end, kind, len(scored), score, scored[1][0] if len(scored) > 1 else None,
                sum(weights.values()) or 1.0)


class Question(msgspec.Struct):
    """A question analysed once: its words, their weights, the answer type it asks for."""

    text: str
    vector: np.ndarray
    terms: frozenset[str]
    idf: dict[str, float]
    kind: AnswerType
    numbers: frozenset[str]  # the numbers it mentions (years, amounts)
    weight: float  # the summed IDF of its words

    def coverage(self, words: frozenset[str]) -> float:
        """IDF-weighted share of the question's words found in `words`."""
        return sum(self.idf[t] for t in self.terms & words) / self.weight if self.weight else 0.0

    def numbers_found(self, text: str) -> float:
        """Share of the question's numbers (years, amounts) that the text contains; a question
        about 2022 is not answered by a sentence about 2023."""
        numbers = self.numbers
        return len(numbers & set(_NUMBER.findall(text))) / len(numbers) if numbers else 0.0


def analyse(text: str, vector: np.ndarray, idf: Callable[[str], float]) -> Question:
    words = frozenset(terms(text))
    weights = {t: idf(t) for t in words}
    return Question(text=text, vector=vector, terms=words, idf=weights, kind=answer_type(text),
                    numbers=frozenset(_NUMBER.findall(text)), weight=sum(weights.values()))
