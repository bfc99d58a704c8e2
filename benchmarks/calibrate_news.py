"""Fit how the reader's score is used, on news. First `qa/models/pick.json`: among the
candidates the reader read, the best sentence is the one with the highest ranker logit plus
the reader's logit times a weight, chosen here. Then `qa/models/calibration.json`, a logistic map
from the reader's logit for the best sentence (index/reader_model.py), the confidence model's
logit (trained on SQuAD by `train_models.py`) and the question's words absent from the answer's
article (`absent_words`) to the probability that the sentences an answer quotes hold a gold
answer (never, for an unanswerable question), and choose the threshold `min_confidence`.

It is fit on news-headline-2 and -4 (benchmarks/data): questions written the way NewsQA's crowd
wrote theirs, from a story's headline and first paragraph alone, with answers marked
afterwards, which the reader never trained on (`train_reader.py` keeps them out), so that the
calibration sees the reader's scores as they are on new questions. The threshold is the one
with the most right decisions plus utility (qa/decisions.py) on those sets; the script writes
it into config/defaults.toml, records the reader's fingerprint in the pick model and the
calibration (the three ship together), and prints the expected calibration error before and after on every set, of
which news-dev, news-headline-3, news-bbc, news-train, news-headline, seed-dev and squad2-dev
were not fit on.

    .venv/bin/python benchmarks/calibrate_news.py   # a few minutes on 2 cores
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

import re

from config import DEFAULTS_FILE, load_settings
from qa.answer import CALIBRATION_FEATURES, PICK_FEATURES
from qa.answer_models import READER_FEATURE, AnswerModels
from qa.confidence import LinearModel, feature_matrix
from qa.decisions import outcome
from qa.evaluation import answer_found, load_dataset, open_dataset_service, reliability, selection_holds_gold
from qa.reader import Reader, shipped_fingerprint

SHARED, DATA = ROOT.parent / "shared" / "eval", ROOT / "benchmarks" / "data"
FIT_ON = [DATA / "news-headline-2", DATA / "news-headline-4"]
REPORT_ON = [SHARED / "news-dev", DATA / "news-headline-3", SHARED / "news-bbc", DATA / "news-train",
             DATA / "news-headline", SHARED / "seed-dev", SHARED / "squad2-dev"]


PICK_WEIGHTS = [0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 1000.0]  # the reader's logit's weight in the pick


def uncalibrated_models(pick: LinearModel | None) -> AnswerModels:
    """The shipped models without the calibration (what is fit here replaces it) and with `pick`."""
    settings = load_settings()
    return AnswerModels(sentence=LinearModel.load("sentence"), confidence=LinearModel.load("confidence"),
                        calibration=None, short_answer=LinearModel.load("short_answer"),
                        reader=Reader.shipped(settings) if shipped_fingerprint() else None, pick=pick)


def fit_pick(folders: list[Path]) -> tuple[LinearModel, dict]:
    """The weight of the reader's logit beside the ranker's that most often picks, among the
    candidates the reader read, a sentence that holds a gold answer or is followed by one (the
    pair the answer quotes); the lowest of ties, so that the reader overrides the ranker only
    where that helps."""
    settings = load_settings()
    questions = []  # per answerable question: [(ranker logit, reader logit, holds gold)] of what the reader read
    for folder in folders:
        dataset = load_dataset(folder, settings)
        service = open_dataset_service(dataset, settings, uncalibrated_models(pick=None))
        corpus = service.corpus
        for question in dataset.questions:
            if not question.answerable:
                continue
            read = service.run(question.question)[1].read
            texts = lambda row: [corpus.sentence_text(r) for r in (row, corpus.next_sentence(row)) if r is not None]  # noqa: E731
            questions.append([(ranker, reader, answer_found(texts(row), question.answers)) for row, ranker, reader in read])
        service.close()
    right = {w: sum(1 for read in questions if read and max(read, key=lambda c: c[0] + w * c[1])[2])
             for w in PICK_WEIGHTS}
    weight = max(PICK_WEIGHTS, key=lambda w: (right[w], -w))
    model = LinearModel(features=PICK_FEATURES, mean=[0.0, 0.0], scale=[1.0, 1.0], coef=[1.0, weight], intercept=0.0,
                        trained_on=f"{len(questions)} answerable questions of {', '.join(f.name for f in folders)}; "
                                   "benchmarks/calibrate_news.py", pairs_with=shipped_fingerprint() or "")
    return model, {"weight": weight, "answerable": len(questions), "pick_right_by_weight": right}


class Questions:
    """Per question of a set: the calibration's inputs, whether it is answerable, and whether
    what the answer quotes (or would quote, were it not abstaining) holds a gold answer."""

    def __init__(self, folder: Path, features: list[str], models: AnswerModels) -> None:
        settings = load_settings()
        dataset = load_dataset(folder, settings)
        service = open_dataset_service(dataset, settings, models)
        confidence_model = models.confidence
        columns: dict[str, list[float]] = {name: [] for name in features}
        answerable, right = [], []
        for question in dataset.questions:
            _, composition, _ = service.run(question.question)
            if composition.features:
                values = composition.features | {"confidence_logit": confidence_model.logit(composition.features)}
            else:  # no candidate sentence at all: as sure an abstention as the models can express
                values = {"confidence_logit": -30.0, "absent_words": 0.0, READER_FEATURE: -30.0}
            for name, column in columns.items():
                column.append(values[name])
            answerable.append(question.answerable)
            right.append(selection_holds_gold(service.corpus, composition, question))
        service.close()
        self.x = feature_matrix(columns, features)  # the calibration's columns, in its order
        self.logit = self.x[:, features.index("confidence_logit")]
        self.answerable, self.right = np.array(answerable), np.array(right)


def decisions_score(q: "Questions", probabilities: np.ndarray, threshold: float) -> int:
    """Right decisions plus utility (qa/decisions.py) of answering at or above `threshold`
    (what the answer quotes is what it would quote: `right`)."""
    total = 0
    for answerable, holds, p in zip(q.answerable, q.right, probabilities):
        right, utility = outcome({"answerable": answerable, "answered": p >= threshold, "cited_hit": holds})
        total += int(right) + utility
    return total


def sigmoid(z: np.ndarray | float) -> np.ndarray | float:
    return 1 / (1 + np.exp(-np.clip(z, -30, 30)))


def main() -> int:
    import argparse

    from sklearn.linear_model import LogisticRegression

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-report", action="store_true", help="fit and write only; skip the other sets' ECE")
    args = parser.parse_args()

    missing = [str(f) for f in FIT_ON if not (f / "questions.jsonl").exists()]
    if missing:
        print(f"not found: {', '.join(missing)}: nothing to calibrate on")
        return 0
    features = CALIBRATION_FEATURES if shipped_fingerprint() else \
        [f for f in CALIBRATION_FEATURES if f != READER_FEATURE]
    pick, pick_report = fit_pick(FIT_ON) if shipped_fingerprint() else (None, {})
    if pick is not None:
        pick.save("pick")
        print(f"pick: the reader's logit weighs {pick.coef[1]} beside the ranker's; right picks by weight: "
              f"{pick_report['pick_right_by_weight']}")
    models = uncalibrated_models(pick)
    fit = {f.name: Questions(f, features, models) for f in FIT_ON}
    x = np.concatenate([q.x for q in fit.values()])
    right = np.concatenate([q.right for q in fit.values()])
    model = LogisticRegression(C=100.0).fit(x, right)
    coef, intercept = [float(c) for c in model.coef_[0]], float(model.intercept_[0])

    def calibrated(q: Questions) -> np.ndarray:
        return sigmoid(q.x @ np.array(coef) + intercept)

    # The threshold with the most right decisions plus utility on the fit sets (the lowest of ties).
    candidates = sorted({round(float(p), 5) for q in fit.values() for p in calibrated(q)})
    scores = [sum(decisions_score(q, calibrated(q), t) for q in fit.values()) for t in candidates]
    threshold = candidates[int(np.argmax(scores))]
    print(f"fit sets at min_confidence {threshold:.5f}: right decisions plus utility {max(scores)}")
    unanswerable = ~np.concatenate([q.answerable for q in fit.values()])
    kept = int((np.concatenate([calibrated(q) for q in fit.values()])[unanswerable] < threshold).sum())

    inputs = len(features)
    pairs_with = shipped_fingerprint() or ""
    LinearModel(features=features, mean=[0.0] * inputs, scale=[1.0] * inputs, coef=coef, intercept=intercept,
                trained_on=f"{len(right)} news questions written from the headline alone ({', '.join(fit)}); "
                           f"benchmarks/calibrate_news.py; min_confidence {threshold:.5f} abstains on {kept} of "
                           f"their {int(unanswerable.sum())} unanswerable questions",
                pairs_with=pairs_with).save("calibration")
    DEFAULTS_FILE.write_text(re.sub(r"^min_confidence = [0-9.]+", f"min_confidence = {threshold:.5f}",
                                    DEFAULTS_FILE.read_text(), flags=re.M))
    report = {"features": features, "coef": dict(zip(features, (round(c, 4) for c in coef))),
              "intercept": round(intercept, 4), "min_confidence": threshold, "fit_on": list(fit),
              "pairs_with": pairs_with, "unanswerable_abstained_on_fit_sets": kept,
              "right_decisions_plus_utility_on_fit_sets": max(scores), "pick": pick_report, "ece": {}}
    held_out = {} if args.no_report else \
        {f.name: Questions(f, features, models) for f in REPORT_ON if (f / "questions.jsonl").exists()}
    for name, q in (fit | held_out).items():
        before, _ = reliability(sigmoid(q.logit).tolist(), q.right.tolist())
        after, _ = reliability(calibrated(q).tolist(), q.right.tolist())
        report["ece"][name] = {"questions": len(q.right), "before": before, "after": after, "fit_on": name in fit}
        print(f"{name:16s} ECE {before:.3f} -> {after:.3f}{'  (fit on)' if name in fit else ''}")
    print(f"calibration: {report['coef']}, intercept {intercept:.3f}; min_confidence = {threshold:.5f} "
          f"({kept} of the fit sets' {int(unanswerable.sum())} unanswerable questions abstained on), "
          f"written to {DEFAULTS_FILE}")
    output = ROOT / "benchmarks" / "results" / "calibration.json"
    output.write_text(json.dumps(report, indent=2) + "\n")
    print("written to qa/models/calibration.json and", output)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(main())
