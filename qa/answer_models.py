"""Every model answer composition uses, loaded once per process from qa/models/: the sentence
ranker, the confidence model, the calibration on news, the short-answer model and the reader.

The reader and its calibration ship as a pair: the calibration records the fingerprint of the
reader weights it was fit with (`pairs_with`), and a reader without its matching calibration,
or a calibration that reads a reader's score without one, fails at start-up, not with
silently miscalibrated answers."""

from __future__ import annotations

from dataclasses import dataclass

from config import Settings
from qa.confidence import LinearModel
from qa.reader import Reader, shipped_fingerprint

READER_FEATURE = "reader_logit"


class MismatchedModels(RuntimeError):
    """The shipped reader and calibration were not fit together."""


@dataclass(frozen=True)
class AnswerModels:
    sentence: LinearModel
    confidence: LinearModel
    calibration: LinearModel | None
    short_answer: LinearModel | None
    reader: Reader | None

    @classmethod
    def shipped(cls, settings: Settings) -> "AnswerModels":
        calibration = LinearModel.load("calibration")
        reads = READER_FEATURE in calibration.features
        shipped = shipped_fingerprint()
        if (shipped is not None) != reads:
            raise MismatchedModels(
                f"qa/models ships {'a reader' if shipped else 'no reader'} but calibration.json was fit "
                f"{'with' if reads else 'without'} one: fit them together with benchmarks/calibrate_news.py")
        if reads and calibration.pairs_with != shipped:
            raise MismatchedModels(
                f"calibration.json was fit with reader {calibration.pairs_with or '(none)'}, but the shipped reader "
                f"is {shipped}: refit it with benchmarks/calibrate_news.py")
        return cls(sentence=LinearModel.load("sentence"), confidence=LinearModel.load("confidence"),
                   calibration=calibration, short_answer=LinearModel.load("short_answer"),
                   reader=Reader.shipped(settings) if reads else None)
