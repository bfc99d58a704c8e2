"""Which words are opposites and which are English, for quote verification: a word put in
place of its antonym reverses what was said (reluctant / ready, rose / fell), and a changed
word that is no English word is a typo rather than another word.

The data is derived from WordNet 3.0 by benchmarks/build_lexicon.py and shipped as package
data (qa/models/antonyms.tsv, english_words.txt, with WordNet's licence beside them), so
nothing needs WordNet installed at run time. WordNet has only nouns, verbs, adjectives and
adverbs, so opposed function words (before / after, since / until, for / against) come from a
separate hand-written list of the closed classes, qa/models/function_opposites.tsv (its
source and scope are in its header; it is no part of WordNet's data nor under its licence).
How often a word is used comes from the wordfreq package (its English list of the words used at
least once per million; Apache-2.0 code, CC-BY-SA 4.0 data, installed as a dependency, not
copied here): a rare word one slip away from a common one is likely that one mistyped.
The files are read once, on first use."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple
from pathlib import Path

from index.lexical import stopwords

MODELS_DIR = Path(__file__).with_name("models")
# A word and the same word with a negative prefix (likely / unlikely, legal / illegal) are a
# polarity flip whether or not WordNet pairs them; shorter words are too often other words.
_NEGATIVE_PREFIX = re.compile(r"^(?:un|in|im|il|ir|dis|non)-?(?P<rest>\w{5,})$")


def _read_poles(name: str) -> dict[str, frozenset[tuple[int, int]]]:
    """word -> the (line, side) of the file `name` it is on: two words are opposed when they
    are on opposite sides of one line. Lines starting with # are comments."""
    on: dict[str, set[tuple[int, int]]] = {}
    text = (MODELS_DIR / name).read_text(encoding="utf-8")
    for line, pair in enumerate(text.splitlines()):
        if pair.startswith("#"):
            continue
        for side, words in enumerate(pair.split("\t")):
            for word in words.split():
                on.setdefault(word, set()).add((line, side))
    return {word: frozenset(places) for word, places in on.items()}


@lru_cache(maxsize=1)
def _poles() -> dict[str, frozenset[tuple[int, int]]]:
    """WordNet's antonyms (antonyms.tsv)."""
    return _read_poles("antonyms.tsv")


@lru_cache(maxsize=1)
def _function_poles() -> dict[str, frozenset[tuple[int, int]]]:
    """Opposed function words (function_opposites.tsv), which WordNet has no part of speech for."""
    return _read_poles("function_opposites.tsv")


# WordNet's morphology ("morphy"): an inflected form's ending, what its lemma ends with, and the
# parts of speech that inflect so (failled is no word: faille is a noun, and nouns take no -ed).
# Irregular forms (fell, better, stopped) are in the word list itself.
_SUFFIXES = (("s", "", "nv"), ("ses", "s", "n"), ("xes", "x", "n"), ("zes", "z", "n"), ("ches", "ch", "n"),
             ("shes", "sh", "n"), ("men", "man", "n"), ("ies", "y", "nv"), ("es", "e", "v"), ("es", "", "v"),
             ("ed", "e", "v"), ("ed", "", "v"), ("ing", "e", "v"), ("ing", "", "v"),
             ("er", "", "a"), ("est", "", "a"), ("er", "e", "a"), ("est", "e", "a"))


class _Words(NamedTuple):
    known: frozenset[str]  # lemmas and irregular forms
    parts: dict[str, str]  # lemma -> its parts of speech (n, v, a, r)
    irregular: dict[str, frozenset[str]]  # lemma -> its irregular forms


@lru_cache(maxsize=1)
def _english_words() -> _Words:
    known: set[str] = set()
    parts: dict[str, str] = {}
    irregular: dict[str, set[str]] = {}
    for line in (MODELS_DIR / "english_words.txt").read_text(encoding="utf-8").splitlines():
        form, lemma, pos = (line.split("\t") + ["", ""])[:3]
        known.add(form)
        if lemma:
            irregular.setdefault(lemma, set()).add(form)
        else:
            parts[form] = pos
    return _Words(frozenset(known), parts, {lemma: frozenset(forms) for lemma, forms in irregular.items()})


# Bands of word frequency (share of running words in wordfreq's English, Zipf 3 and 4): a rare
# word is used under once per million words, a common one ten times per million or more.
RARE = 1e-6
COMMON = 1e-5


@lru_cache(maxsize=1)
def _frequencies() -> dict[str, float]:
    """word -> its frequency, for the English words used at least once per million (wordfreq's
    'small' list, 28,917 words, 4 MB; the 'large' one would add 35 MB for words we need only
    know are rare)."""
    from wordfreq import get_frequency_dict  # 0.25 s to import: paid by load(), at server start
    return get_frequency_dict("en", wordlist="small")


def frequency(word: str) -> float:
    """How often `word` (lower case) is used in English, as a share of running words; 0 for a
    word used under once per million words."""
    return _frequencies().get(word, 0.0)


def load() -> None:
    """Read the data now (a server does so at start, not on its first request)."""
    _poles()
    _function_poles()
    _english_words()
    _frequencies()


def is_reversal(first: str, second: str) -> bool:
    """The two words (lower case) are antonyms (WordNet's, or opposed function words), or one is
    the other with a negative prefix."""
    for poles in (_poles(), _function_poles()):
        mine, theirs = poles.get(first, frozenset()), poles.get(second, frozenset())
        if any((line, 1 - side) in theirs for line, side in mine):
            return True
    return any((m := _NEGATIVE_PREFIX.match(a)) is not None and m["rest"] == b
               for a, b in ((first, second), (second, first)))


def is_english(word: str) -> bool:
    """A word (lower case) of English: a stop word, a WordNet lemma or irregular form, or a
    regular inflection of a lemma whose part of speech takes that ending and that has no
    irregular form of that ending (stoped is not English: stop makes stopped; failled is not:
    faille is a noun); possessives and hyphenated compounds count by their parts."""
    words = _english_words()
    word = word.removesuffix("'s")
    if word in words.known or word in stopwords():
        return True
    if "-" in word:
        return all(is_english(part) for part in word.split("-") if part)
    for ending, lemma_ending, inflecting in _SUFFIXES:
        lemma = word[: len(word) - len(ending)] + lemma_ending
        if len(lemma) >= 3 and word.endswith(ending) and set(words.parts.get(lemma, "")) & set(inflecting) \
                and not any(form.endswith(ending) for form in words.irregular.get(lemma, ())):
            return True
    return False
