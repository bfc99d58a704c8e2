"""Calibrate the answer confidence on news: fit `qa/models/calibration.json`, a logistic map
from the confidence model's logit (trained on SQuAD by `train_models.py`) to the probability
that the sentences an answer quotes hold a gold answer (never, for an unanswerable question),
on the news questions written for training and calibration: news-bbc (../shared/eval),
news-train, news-headline, -2 and -4 (benchmarks/data). The map is monotone, so decisions stay
those of RAW_THRESHOLD (chosen on seed-dev, README "Quality"); the script prints that
threshold on the new scale, the `min_confidence` that config/defaults.toml must hold, and the
expected calibration error before and after on every set, of which news-dev, news-headline-3,
seed-dev and squad2-dev were not fit on.

    .venv/bin/python benchmarks/calibrate_news.py   # about a minute on 2 cores
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config import load_settings
from qa.answer import CALIBRATION_FEATURES
from qa.confidence import LinearModel
from qa.evaluation import load_dataset, open_dataset_service, reliability, selection_holds_gold

RAW_THRESHOLD = 0.278  # the confidence model's probability below which the service abstains
SHARED, DATA = ROOT.parent / "shared" / "eval", ROOT / "benchmarks" / "data"
FIT_ON = [SHARED / "news-bbc", DATA / "news-train", DATA / "news-headline", DATA / "news-headline-2",
          DATA / "news-headline-4"]
REPORT_ON = [SHARED / "news-dev", DATA / "news-headline-3", SHARED / "seed-dev", SHARED / "squad2-dev"]


def logits_and_labels(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Per question: the confidence model's logit, and whether what the answer quotes (or would
    quote, were it not abstaining) holds a gold answer."""
    settings = load_settings()
    dataset = load_dataset(folder, settings)
    service = open_dataset_service(dataset, settings)
    logits, labels = [], []
    for question in dataset.questions:
        _, composition, _ = service.run(question.question)
        logits.append(service.confidence_model.logit(composition.features) if composition.features else -30.0)
        labels.append(selection_holds_gold(service.corpus, composition, question))
    service.close()
    return np.array(logits), np.array(labels)


def sigmoid(z: np.ndarray | float) -> np.ndarray | float:
    return 1 / (1 + np.exp(-np.clip(z, -30, 30)))


def main() -> int:
    from sklearn.linear_model import LogisticRegression

    missing = [str(f) for f in FIT_ON if not (f / "questions.jsonl").exists()]
    if missing:
        print(f"not found: {', '.join(missing)}: nothing to calibrate on")
        return 0
    fit = {f.name: logits_and_labels(f) for f in FIT_ON}
    x = np.concatenate([z for z, _ in fit.values()])
    y = np.concatenate([label for _, label in fit.values()])
    model = LogisticRegression(C=100.0).fit(x[:, None], y)
    slope, intercept = float(model.coef_[0][0]), float(model.intercept_[0])
    threshold = float(sigmoid(slope * math.log(RAW_THRESHOLD / (1 - RAW_THRESHOLD)) + intercept))
    LinearModel(features=CALIBRATION_FEATURES, mean=[0.0], scale=[1.0], coef=[slope], intercept=intercept,
                trained_on=f"{len(y)} news questions ({', '.join(fit)}); benchmarks/calibrate_news.py; "
                           f"raw threshold {RAW_THRESHOLD} -> min_confidence {threshold:.5f}").save("calibration")
    report = {"slope": round(slope, 4), "intercept": round(intercept, 4), "raw_threshold": RAW_THRESHOLD,
              "min_confidence": round(threshold, 5), "fit_on": list(fit), "ece": {}}
    held_out = {f.name: logits_and_labels(f) for f in REPORT_ON if (f / "questions.jsonl").exists()}
    for name, (z, label) in (fit | held_out).items():
        before, _ = reliability(sigmoid(z).tolist(), label.tolist())
        after, _ = reliability(sigmoid(slope * z + intercept).tolist(), label.tolist())
        report["ece"][name] = {"questions": len(z), "before": before, "after": after, "fit_on": name in fit}
        print(f"{name:16s} ECE {before:.3f} -> {after:.3f}{'  (fit on)' if name in fit else ''}")
    print(f"calibration: slope {slope:.3f}, intercept {intercept:.3f}; set min_confidence = {threshold:.5f} "
          f"(the raw threshold {RAW_THRESHOLD} on the calibrated scale)")
    output = ROOT / "benchmarks" / "results" / "calibration.json"
    output.write_text(json.dumps(report, indent=2) + "\n")
    print("written to qa/models/calibration.json and", output)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(main())
