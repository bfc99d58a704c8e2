"""Every model answer composition uses, loaded once per process from qa/models/: the sentence
ranker, the confidence model, the calibration on news, the short-answer model and the reader.

The reader, its pick model (how its logit and the ranker's are weighed to choose the best
sentence) and its calibration ship together: the pick model and the calibration record the
fingerprint of the reader weights they were fit with (`pairs_with`), and a reader without its
matching pick and calibration, or a calibration that reads a reader's score without one,
fails at start-up, not with silently miscalibrated answers."""

from __future__ import annotations

from dataclasses import dataclass

from config import Settings
from qa.confidence import MODELS_DIR, LinearModel
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
    pick: LinearModel | None = None

    @classmethod
    def shipped(cls, settings: Settings) -> "AnswerModels":
        calibration = LinearModel.load("calibration")
        reads = READER_FEATURE in calibration.features
        shipped = shipped_fingerprint()
        if (shipped is not None) != reads:
            raise MismatchedModels(
                f"qa/models ships {'a reader' if shipped else 'no reader'} but calibration.json was fit "
                f"{'with' if reads else 'without'} one: fit them together with benchmarks/calibrate_news.py")
        pick = LinearModel.load("pick") if reads and (MODELS_DIR / "pick.json").exists() else None
        if reads and pick is None:
            raise MismatchedModels("a reader ships without its pick model (qa/models/pick.json): "
                                   "fit it with benchmarks/calibrate_news.py")
        for name, model in (("calibration", calibration), ("pick", pick)):
            if reads and model.pairs_with != shipped:
                raise MismatchedModels(
                    f"{name}.json was fit with reader {model.pairs_with or '(none)'}, but the shipped reader "
                    f"is {shipped}: refit both with benchmarks/calibrate_news.py")
        return cls(sentence=LinearModel.load("sentence"), confidence=LinearModel.load("confidence"),
                   calibration=calibration, short_answer=LinearModel.load("short_answer"),
                   reader=Reader.shipped(settings) if reads else None, pick=pick)
