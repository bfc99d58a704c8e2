"""The reader, its pick model and its calibration ship together: any other combination stops
the service at start-up with a message that says what to refit."""

import pytest

from qa import answer_models
from qa.answer_models import AnswerModels, MismatchedModels
from qa.confidence import LinearModel


def _linear(features: list[str], pairs_with: str = "") -> LinearModel:
    n = len(features)
    return LinearModel(features=features, mean=[0.0] * n, scale=[1.0] * n, coef=[1.0] * n, intercept=0.0,
                       pairs_with=pairs_with)


def _ship(monkeypatch, reader: str | None, calibration: LinearModel, pick: LinearModel | None) -> None:
    shipped = {"calibration": calibration, "pick": pick}
    monkeypatch.setattr(answer_models, "shipped_fingerprint", lambda: reader)
    monkeypatch.setattr(LinearModel, "load", classmethod(lambda cls, name: shipped.get(name) or _linear(["x"])))


def test_a_reader_without_a_calibration_that_reads_it_fails_at_start_up(monkeypatch):
    _ship(monkeypatch, "abc123", _linear(["confidence_logit", "absent_words"]), None)
    with pytest.raises(MismatchedModels, match="ships a reader but calibration.json was fit without one"):
        AnswerModels.shipped(None)


def test_a_calibration_that_reads_a_reader_fails_without_one(monkeypatch):
    _ship(monkeypatch, None, _linear(["reader_logit", "confidence_logit"], "abc123"), None)
    with pytest.raises(MismatchedModels, match="ships no reader"):
        AnswerModels.shipped(None)


def test_a_calibration_fit_with_another_reader_fails(monkeypatch, tmp_path):
    monkeypatch.setattr(answer_models, "MODELS_DIR", tmp_path)
    (tmp_path / "pick.json").write_text("{}")
    _ship(monkeypatch, "abc123", _linear(["reader_logit", "confidence_logit"], "old999"),
          _linear(["sentence_logit", "reader_logit"], "abc123"))
    with pytest.raises(MismatchedModels, match="calibration.json was fit with reader old999"):
        AnswerModels.shipped(None)


def test_a_reader_without_its_pick_model_fails(monkeypatch, tmp_path):
    monkeypatch.setattr(answer_models, "MODELS_DIR", tmp_path)
    _ship(monkeypatch, "abc123", _linear(["reader_logit", "confidence_logit"], "abc123"), None)
    with pytest.raises(MismatchedModels, match="without its pick model"):
        AnswerModels.shipped(None)
