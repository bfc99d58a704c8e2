"""The short answer inside a quoted sentence (`answer_span`): the candidate of the asked type
that answers, not the question's own subject."""

from __future__ import annotations

import pytest

from qa.question import answer_span, answer_type


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
])
def test_the_answer_span_is_the_asked_thing(question, sentence, expected):
    span = answer_span(question, answer_type(question), sentence)
    assert span is not None and sentence[span[0] : span[1]] == expected


def test_a_possessive_is_not_the_answer():
    """"BT's labs": the possessive modifies what follows; it names no one on its own."""
    question = "Who made the device?"
    assert answer_span(question, answer_type(question), "The device came from BT's labs, a spokesman said.") is None
