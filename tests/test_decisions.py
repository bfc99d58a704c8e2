"""Right decisions, utility and AUC of an evaluation, and the paired comparison of two."""

import pytest

from qa.decisions import compare, outcome, roc_auc, summary


def _record(id_: str, answerable: bool, answered: bool, cited: bool, confidence: float) -> dict:
    return {"id": id_, "answerable": answerable, "answered": answered, "cited_hit": cited,
            "selected_hit": answerable and cited, "confidence": confidence}


def test_each_decision_scores_as_the_utility_defines_it():
    assert outcome(_record("a", True, True, True, 0.9)) == (True, 1)  # answered with gold
    assert outcome(_record("b", True, True, False, 0.9)) == (False, -1)  # answered wrongly
    assert outcome(_record("c", True, False, True, 0.1)) == (False, 0)  # withheld an answer
    assert outcome(_record("d", False, False, False, 0.1)) == (True, 1)  # abstained rightly
    assert outcome(_record("e", False, True, False, 0.9)) == (False, -1)  # answered the unanswerable


def test_the_summary_counts_decisions_and_brackets_them():
    records = [_record(str(i), True, True, True, 0.9) for i in range(30)] + \
        [_record(f"u{i}", False, True, False, 0.2) for i in range(10)]
    result = summary(records)
    assert result["right_decisions"] == 30 and result["utility"] == 20
    low, high = result["right_decisions_interval"]
    assert low <= 30 <= high and high - low > 0
    assert result["auc"] == 1.0


def test_auc_counts_ties_half_and_is_undefined_for_one_class():
    assert roc_auc([0.5, 0.5], [True, False]) == 0.5
    assert roc_auc([0.9, 0.1, 0.4], [True, False, True]) == 1.0
    assert roc_auc([0.3, 0.2], [True, True]) is None


def test_a_paired_comparison_shows_a_consistent_gain_as_an_interval_above_zero():
    old = [_record(str(i), True, i % 2 == 0, True, 0.5) for i in range(60)]
    new = [_record(str(i), True, True, True, 0.5) for i in range(60)]
    result = compare(new, old)
    assert result["right_decisions"]["difference"] == 30
    assert result["right_decisions"]["interval"][0] > 0
    assert compare(old, old)["utility"]["interval"] == [0.0, 0.0]


def test_reports_without_shared_questions_cannot_be_compared():
    with pytest.raises(ValueError, match="no question ids"):
        compare([_record("a", True, True, True, 0.5)], [_record("b", True, True, True, 0.5)])
