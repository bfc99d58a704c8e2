"""Whether a word of a quotation is the source's word spelt another way, which editorial
convention lets a quotation change: a British or American spelling (colour / color,
organise / organize), a typo (one edit in a short word, two in a long one: goverment /
government), or hyphens and dots (e-mail / email, U.S. / US).

A typo that spells no English word is a typo. One that spells another English word is a typo
only when that word is rare and the source's is common (ruing / ruling, bodes / bodies): a
slip of the keys is then far likelier than a writer choosing the rare word. Otherwise another
English word within one or two edits (rates / dates, form / from, rose / rise) is another word."""

from __future__ import annotations

import re

from rapidfuzz.distance import OSA

from qa.lexicon import COMMON, RARE, frequency, is_english

MIN_TYPO_LENGTH = 4  # shorter words changed by one letter are other words (Xi / Li, on / in)
LONG_WORD = 8  # from this length a typo may be two edits (a swap of two letters is one)
_JOINERS = re.compile(r"[-'.\u2019]")
# British spellings -> American, by rule: applied to both words, equal results are one word.
_VARIANTS = [(re.compile(pattern), replacement) for pattern, replacement in (
    (r"(?<=\w\w)our(?=$|s$|ed$|ing$|ite|able|er|ful|less)", "or"),  # colour, favourite, honourable
    (r"(?<=\w\w)is(?=e$|es$|ed$|ing$|ation|ations|er$|ers$)", "iz"),  # organise, organisation
    (r"(?<=\w)ys(?=e$|es$|ed$|ing$)", "yz"),  # analyse
    (r"(?<=\w\w)tre(?=$|s$)", "ter"),  # centre, metres
    (r"(?<=\w\w\w[ae])ll(?=ed$|ing$|er$|ers$)", "l"),  # travelled, cancelling, modeller
    (r"(?<=\w\w)ence(?=$|s$)", "ense"),  # defence, licence
    (r"(?<=\w\w)ogue(?=$|s$)", "og"),  # catalogue, dialogue
    (r"(?<=\w)(?:ae|oe)(?=\w)", "e"),  # paediatric, manoeuvre
)]
_IRREGULAR = {"programme": "program", "programmes": "programs", "grey": "gray", "judgement": "judgment",
              "ageing": "aging", "aluminium": "aluminum", "mould": "mold", "sceptic": "skeptic",
              "sceptical": "skeptical", "plough": "plow", "jewellery": "jewelry", "enrolment": "enrollment",
              "fulfil": "fulfill", "fulfilment": "fulfillment", "manoeuvre": "maneuver", "pyjamas": "pajamas"}


def _american(word: str) -> str:
    if "-" in word:
        return "-".join(map(_american, word.split("-")))
    word = _IRREGULAR.get(word, word)
    for pattern, replacement in _VARIANTS:
        word = pattern.sub(replacement, word)
    return word


def same_letters(draft: str, source: str) -> bool:
    """The same letters, hyphens, dots and apostrophes aside (e-mail / email, U.S. / US)."""
    return _JOINERS.sub("", draft) == _JOINERS.sub("", source)


def is_spelling_variant(draft: str, source: str, real_words: bool = True) -> bool:
    """`draft` is `source` spelt otherwise (both lower case, without edge punctuation). Without
    `real_words`, a typo must spell no English word (for words a misquote is most often about:
    numbers and negations)."""
    if draft == source:
        return True
    if any(c.isdigit() for c in draft + source):
        return False  # a changed digit is a changed number
    if same_letters(draft, source) or _american(draft) == _american(source):
        return True
    if min(len(draft), len(source)) < MIN_TYPO_LENGTH \
            or OSA.distance(draft, source) > (2 if len(source) >= LONG_WORD else 1):
        return False
    if not (is_english(draft) and is_english(source)):
        return True
    return real_words and is_real_word_typo(draft, source)


def is_real_word_typo(draft: str, source: str) -> bool:
    """`draft`, an English word within a typo's reach of `source`, is more likely `source`
    mistyped than another word: it is rare (used under once per million words) where `source` is
    common (ten times per million or more), and the two begin and end with the same letter, since
    a change at either end is more often another form than a slip (able / unable, rule / rules,
    campaign / campaigner, dates / rates)."""
    return draft[0] == source[0] and draft[-1] == source[-1] \
        and frequency(draft) < RARE and frequency(source) >= COMMON
