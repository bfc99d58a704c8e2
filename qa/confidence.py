"""Calibrated answer confidence: a logistic model over features of the best answer
sentence and of retrieval. Its weights live in `qa/models/confidence.json`, written by
`benchmarks/train_confidence.py` from public data (SQuAD 2.0 dev + the seed questions)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import msgspec

MODEL_FILE = Path(__file__).with_name("models") / "confidence.json"


class ConfidenceModel(msgspec.Struct):
    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    trained_on: str = ""

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> "ConfidenceModel":
        return msgspec.json.decode(path.read_bytes(), type=cls)

    def save(self, path: Path = MODEL_FILE) -> None:
        path.write_text(json.dumps(msgspec.to_builtins(self), indent=2) + "\n")

    def probability(self, values: dict[str, float]) -> float:
        z = self.intercept + sum(
            c * (values[name] - m) / s for name, m, s, c in zip(self.features, self.mean, self.scale, self.coef)
        )
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
