"""The short answer inside a quoted sentence (`answer_span`): the candidate of the asked type
that answers, not the question's own subject; and the short-answer model, which withholds it
when it is more likely wrong than right."""

from __future__ import annotations

import pytest

from qa.answer import keeps_short_answer
from qa.confidence import LinearModel
from qa.question import SPAN_FEATURES, answer_span, answer_type


@pytest.mark.parametrize(("question", "sentence", "expected"), [
    ("How much did trade between China and Russia reach in 2023?",
     "According to Chinese customs data, trade between China and Russia reached a record $240.1 billion in 2023.",
     "$240.1 billion"),
    # "how many tries" wants the number of tries, not the first number of the sentence.
    ("How many tries did Wales score?", "Wales, who trailed 10-3 at half-time, scored seven tries in the second half.",
     "seven tries"),
    # "what year" wants a year, not a day.
    ("In what year did Ivory Coast exit at the group stage?",
     "On Tuesday officials recalled that Ivory Coast went out in the group stage in 2006.", "2006"),
    # A name the question already holds is its subject; a month is not a person.
    ("Who did Moninder Singh Pandher employ?",
     "In March Moninder Singh Pandher employed Surinder Koli as a domestic servant.", "Surinder Koli"),
    # The counted thing joins the number; not a word further.
    ("How many visitors came?", "The fair drew about 40,000 visitors, organisers said.", "about 40,000 visitors"),
    ("How many extra colour pages are planned?", "The paper will add eight colour pages in the spring.",
     "eight colour pages"),
    ("How many people died in the attack?", "Police said 19 people in the attack were foreign.", "19 people"),
    # A nationality or a possessive is not the person asked for.
    ("Who did Claxton beat?", "Claxton beat the European champion, Irina Shevchenko, in Birmingham.",
     "Irina Shevchenko"),
    ("Who bought Glenmorangie?", "Last year LVMH, the French group, bought Scotland's Glenmorangie.", "LVMH"),
    # A range is one answer; a scale and a unit both stay with the number.
    ("How many Huguenots were killed?", "Between 5,000 to 30,000 Huguenots were killed in the purge.", "5,000 to 30,000 Huguenots"),
    ("How many receptors must be bound?", "Around 200–300 receptors must be bound to activate it.", "Around 200–300 receptors"),
    ("How old are the fossils?", "The fossils are about 515 million years old.", "about 515 million years"),
    ("How high is the tower?", "The tower rises 452.8 ft above the square.", "452.8 ft"),
    # "How many" is seldom answered by a year, nor by an aside in brackets.
    ("How many people live in the city?", "In 2011 the city (then 12 districts) had 1.7 million people.", "1.7 million people"),
    # Names that start with a capital outside A-Z are names too.
    ("Where was Chopin born?", "Chopin was born in Żelazowa Wola, west of Warsaw.", "Żelazowa Wola"),
])
def test_the_answer_span_is_the_asked_thing(question, sentence, expected):
    span = answer_span(question, answer_type(question), sentence)
    assert span is not None and sentence[span.start : span.end] == expected


def test_a_possessive_is_not_the_answer():
    """"BT's labs": the possessive modifies what follows; it names no one on its own."""
    question = "Who made the device?"
    assert answer_span(question, answer_type(question), "The device came from BT's labs, a spokesman said.") is None


def test_the_rarest_question_word_decides_between_two_numbers():
    """Both numbers stand near a question word; the one near the rare word ("imports", which
    few articles hold) answers, not the one near the common one ("Russia")."""
    question = "By what percentage did imports from Russia grow?"
    sentence = "Chinese exports to Russia jumped by 46.9% in the year, while imports rose by 13%."
    weights = {"percentag": 1.0, "import": 6.0, "russia": 1.0, "grow": 2.0}
    span = answer_span(question, answer_type(question), sentence, weights)
    assert span is not None and sentence[span.start : span.end] == "13%"
    even = answer_span(question, answer_type(question), sentence, dict.fromkeys(weights, 1.0))
    assert even is not None and sentence[even.start : even.end] == "46.9%"


def _kept(question: str, sentence: str) -> bool:
    span = answer_span(question, answer_type(question), sentence)
    assert span is not None
    return keeps_short_answer(LinearModel.load("short_answer"), span)


def test_the_short_answer_model_keeps_a_clear_pick_and_withholds_a_guess():
    """The only date of a sentence answers "when"; a "who" whose sentence names four people,
    none near a word of the question, is a guess, and a wrong highlight misleads."""
    assert _kept("When did the bridge open?", "The bridge opened to traffic in 1932 after six years of work.")
    assert not _kept("Who was the first to object?",
                     "Smith, Jones, Patel and Garcia all spoke after lunch, Reuters reported.")


def test_span_features_are_the_short_answer_models():
    span = answer_span("When did the bridge open?", answer_type("When did the bridge open?"), "It opened in 1932.")
    assert span is not None and set(span.features) == set(SPAN_FEATURES)
    assert LinearModel.load("short_answer").checked(SPAN_FEATURES).features == SPAN_FEATURES
