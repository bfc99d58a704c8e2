"""Train the short-answer model (qa/models/short_answer.json): the probability that the short
answer `answer_span` picks in a sentence that holds the gold answer is right, from how many
candidates of the asked type the sentence held and how clearly the pick won (SPAN_FEATURES).
The service gives a short answer only when this probability is at least
SHORT_ANSWER_MIN_PROBABILITY: should its sentence hold the answer, it is more likely right
than wrong (whether the sentence holds it is what the answer's confidence says).

Fit on the SQuAD 2.0 train subset (../shared/train), whose articles no evaluation set holds;
scored on squad2-dev, which it never saw (`bench_short_answers.py` prints both).

    .venv/bin/python benchmarks/train_short_answers.py   # seconds
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from bench_short_answers import squad_dev, squad_train
from train_models import fit

from qa.answer import keeps_short_answer
from qa.decisions import roc_auc
from qa.question import SPAN_FEATURES

TRAIN = ROOT.parent / "shared" / "train" / "squad2-train-subset.json.gz"


def main() -> int:
    if not TRAIN.exists():
        print(f"{TRAIN} not found: nothing to train on")
        return 0
    train = [(span, ok) for _, span, ok in squad_train() if span is not None]
    x = np.array([[span.features[name] for name in SPAN_FEATURES] for span, _ in train])
    model = fit(x, np.array([ok for _, ok in train]), SPAN_FEATURES,
                "SQuAD 2.0 train subset (../shared/train): the gold sentence's short answer is right")
    model.save("short_answer")
    dev = [(span, ok) for _, span, ok in squad_dev() if span is not None]
    for name, examples in {"squad2-train-subset (fit on)": train, "squad2-dev (never seen)": dev}.items():
        right = [ok for _, ok in examples]
        kept = [ok for span, ok in examples if keeps_short_answer(model, span)]
        auc = roc_auc([model.probability(span.features) for span, _ in examples], right)
        print(f"{name}: AUC {auc:.3f}; right {sum(right)} of {len(right)} ({sum(right) / len(right):.3f}) given; "
              f"kept {len(kept)}, right {sum(kept)} ({sum(kept) / len(kept):.3f})")
    print("written to", ROOT / "qa" / "models" / "short_answer.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
