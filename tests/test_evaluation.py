"""How `qa eval` scores answers and calibration, and how it reads the three dataset layouts."""

from __future__ import annotations

import json

import pytest

from qa.decisions import roc_auc
from qa.evaluation import answer_found, load_dataset, normalise, reliability, short_answer_right
from tests.conftest import make_settings


def test_answers_are_matched_as_a_reader_would():
    assert normalise("  February. ") == "february"
    assert answer_found(["He was sentenced in February."], ["February."])
    assert answer_found(["a record $240.1 billion in 2023"], ["$240.1 billion"])
    # Whole words only: "19" is not found inside "1990".
    assert not answer_found(["It happened in 1990."], ["19"])
    # Loose crowd spans: most words of a long answer suffice.
    assert answer_found(["an attempt by the rebels to topple the government"],
                        ["attempt by rebels there to topple the government."])
    assert not answer_found(["the rebels met"], ["attempt by rebels there to topple the government."])
    # Two-word answers must be whole.
    assert not answer_found(["Desmond said"], ["Desmond Tutu"])


def test_short_answers_must_hold_the_gold_answer():
    assert short_answer_right("Moninder Singh Pandher", ["Pandher"])
    assert short_answer_right("19", ["19"])
    assert not short_answer_right("Pandher", ["Moninder Singh Pandher"])
    assert not short_answer_right("2009", ["2006"])


def test_calibration_error_and_table():
    ece, table = reliability([0.9, 0.9, 0.1, 0.1], [True, False, False, False])
    # Bin 0.9: confidence .9, right .5 -> .4; bin 0.1: .1 vs 0 -> .1; weighted: (.4 + .1) / 2.
    assert ece == pytest.approx(0.25)
    assert [row["n"] for row in table] == [2, 2]
    assert reliability([1.0], [True])[0] == 0.0
    assert roc_auc([0.9, 0.1], [True, False]) == 1.0


def test_news_layout_reads_sources_and_evidence(tmp_path):
    (tmp_path / "articles").mkdir()
    (tmp_path / "articles" / "001_x.txt").write_text("Title\n\nThe answer is 42.\n")
    rows = [{"id": "a", "question": "What is it?", "answerable": True, "answers": ["42"],
             "sources": ["001_x.txt"], "evidence": ["The answer is 42."]},
            {"id": "b", "question": "Who?", "answerable": False, "answers": [], "sources": [], "evidence": []}]
    (tmp_path / "questions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    dataset = load_dataset(tmp_path, make_settings(tmp_path / "data"))
    assert [p.name for p in dataset.articles] == ["001_x.txt"]
    assert dataset.questions[0].gold == [("001_x", "The answer is 42.")]
    assert dataset.questions[1].gold == [] and not dataset.questions[1].answerable
