"""The small learned models of answer composition, all logistic over named features:
`sentence` ranks candidate sentences, `confidence` scores whether the chosen answer is right,
`calibration` turns that score, with the question's words that the answer's article lacks,
into the probability that the quoted sentences hold the answer on news (the service abstains
below `min_confidence`, on that scale), and
`short_answer` whether the short answer picked in the best sentence is right. Their weights
live in `qa/models/`: `benchmarks/train_models.py` writes the first two from SQuAD 2.0 dev
(cross-validated), `benchmarks/calibrate_news.py` the calibration from news questions,
`benchmarks/train_short_answers.py` the short-answer model from the SQuAD 2.0 train subset."""

from __future__ import annotations

import json
import math
from pathlib import Path

import msgspec
import numpy as np

MODELS_DIR = Path(__file__).with_name("models")


def feature_matrix(columns: dict[str, list[float] | np.ndarray], names: list[str]) -> np.ndarray:
    """Named feature columns stacked in `names` order, the column order a model was trained
    on: features are filled by name, so that no column can land in another's place."""
    if set(columns) != set(names):
        raise ValueError(f"features {sorted(columns)} are not the model's {sorted(names)}")
    return np.column_stack([np.asarray(columns[name], dtype=np.float64) for name in names])


class LinearModel(msgspec.Struct):
    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    trained_on: str = ""
    pairs_with: str = ""  # a calibration's reader: the fingerprint of the weights it was fit with

    @classmethod
    def load(cls, name: str) -> "LinearModel":
        return msgspec.json.decode((MODELS_DIR / f"{name}.json").read_bytes(), type=cls)

    def save(self, name: str) -> None:
        (MODELS_DIR / f"{name}.json").write_text(json.dumps(msgspec.to_builtins(self), indent=2) + "\n")

    def checked(self, features: list[str]) -> "LinearModel":
        """This model, if it was trained on exactly these feature columns."""
        if self.features != features:
            raise ValueError(f"model trained on {self.features}, code computes {features}: "
                             "retrain with benchmarks/train_models.py")
        return self

    def logits(self, rows: np.ndarray) -> np.ndarray:
        """Decision values for a matrix whose columns follow `features`."""
        weights = np.asarray(self.coef) / np.asarray(self.scale)
        return rows @ weights + (self.intercept - float(np.dot(weights, self.mean)))

    def logit(self, values: dict[str, float]) -> float:
        """The decision value of one example given by feature name."""
        return float(self.logits(np.array([[values[name] for name in self.features]]))[0])

    def probability(self, values: dict[str, float]) -> float:
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, self.logit(values)))))
