"""Train the passage ranker, the sentence ranker and the answer-confidence model from public data.

Data: SQuAD 2.0 dev (../shared/eval/squad2-dev), asked through the real retrieval and
feature code. Honest numbers: every figure printed is out-of-fold, from a GroupKFold over
articles (no article is both trained and scored on). The final models are then fit on all
questions and written to qa/models/{ranker,sentence,confidence}.json.

    .venv/bin/python benchmarks/train_models.py [--limit N] [--dataset DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]

from config import load_settings  # noqa: E402
from qa.answer import CONFIDENCE_FEATURES, SENTENCE_FEATURES  # noqa: E402
from qa.confidence import LinearModel  # noqa: E402
from qa.decisions import roc_auc  # noqa: E402
from qa.evaluation import is_gold, load_dataset, open_dataset_service  # noqa: E402
from qa.question import analyse  # noqa: E402
from qa.retrieval import RANK_FEATURES, Retriever  # noqa: E402


def fit(x: np.ndarray, y: np.ndarray, names: list[str], note: str, c: float = 1.0) -> LinearModel:
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=2000).fit((x - mean) / scale, y)
    return LinearModel(features=names, mean=mean.tolist(), scale=scale.tolist(), coef=model.coef_[0].tolist(),
                       intercept=float(model.intercept_[0]), trained_on=note)


def fit_ranker(questions: list[tuple[np.ndarray, np.ndarray]], names: list[str], note: str) -> LinearModel:
    """Pairwise logistic ranking (RankNet-style): learn w so that w.(gold - other) > 0 for
    sentence pairs of the same question. Ranking, not calibration, is what the ranker is for."""
    from sklearn.linear_model import LogisticRegression

    x = np.vstack([f for f, _ in questions])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    diffs = []
    for features, labels in questions:
        z = (features - mean) / scale
        positives, negatives = z[labels], z[~labels]
        if len(positives) and len(negatives):
            diffs.append((positives[:, None, :] - negatives[None, :, :]).reshape(-1, z.shape[1]))
    d = np.vstack(diffs)
    model = LogisticRegression(C=1.0, max_iter=2000, fit_intercept=False).fit(np.vstack([d, -d]),
                                                                             np.r_[np.ones(len(d)), np.zeros(len(d))])
    return LinearModel(features=names, mean=mean.tolist(), scale=scale.tolist(), coef=model.coef_[0].tolist(),
                       intercept=0.0, trained_on=note)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", type=Path, default=ROOT.parent / "shared" / "eval" / "squad2-dev")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "train_models.json")
    args = parser.parse_args()
    if not (args.dataset / "questions.jsonl").exists():
        print(f"{args.dataset} not found: nothing to train on")
        return 0
    settings = load_settings()
    dataset = load_dataset(args.dataset, settings)
    questions = dataset.questions
    if args.limit:
        questions = random.Random(0).sample(questions, args.limit)
    service = open_dataset_service(dataset, settings)
    corpus = service.corpus
    composer = service.answering(corpus)[1]
    groups = {doc: n for n, doc in enumerate(sorted(corpus.documents))}
    fold_of = {g: g % args.folds for g in groups.values()}

    # 0. Passage ranker over the fused BM25 + dense pool, out of fold; RRF order as the baseline.
    fused = Retriever(corpus, service.store)
    pools = []
    for q in tqdm(questions, desc="retrieval", unit="q"):
        pool, features, _ = fused.pool(analyse(q.question, service.embedder.embed([q.question])[0], corpus.lexical.idf))
        labels = np.array([is_gold(corpus, p, q) for p in pool], dtype=bool)
        pools.append((q, features, labels, fold_of[groups[q.gold[0][0]]]))
    answerable_pools = [p for p in pools if p[0].answerable]
    recall: dict[str, dict[int, list[bool]]] = {"rrf": {1: [], 5: []}, "ranker": {1: [], 5: []}}
    for fold in range(args.folds):
        ranker = fit_ranker([(f, y) for q, f, y, g in answerable_pools if g != fold and len(y)], RANK_FEATURES, "")
        for q, features, labels, group in answerable_pools:
            if group != fold:
                continue
            for name, scores in (("rrf", features[:, RANK_FEATURES.index("rrf")] if len(labels) else None),
                                 ("ranker", ranker.logits(features) if len(labels) else None)):
                top = labels[np.argsort(-scores, kind="stable")] if scores is not None else np.zeros(0, dtype=bool)
                for k in (1, 5):
                    recall[name][k].append(bool(top[:k].any()))
    fit_ranker([(f, y) for q, f, y, g in answerable_pools if len(y)], RANK_FEATURES,
               f"SQuAD 2.0 dev ({len(answerable_pools)} answerable questions)").save("ranker")
    retriever = Retriever(corpus, service.store, LinearModel.load("ranker"))

    # 1. Candidate sentences of every question, with their features and labels.
    per_question = []
    for q in tqdm(questions, desc="features", unit="q"):
        vector = service.embedder.embed([q.question])[0]
        analysed = analyse(q.question, vector, corpus.lexical.idf)
        hits = retriever.retrieve(analysed, max(settings.default_top_k, settings.answer_passages))
        rows, hit_of, features = composer.sentence_features(analysed, hits)
        labels = np.array([q.answerable and any(a.lower() in corpus.sentence_text(int(r)).lower() for a in q.answers)
                           for r in rows], dtype=bool)
        per_question.append((q, analysed, hits, rows, hit_of, features, labels, groups[q.gold[0][0]]))

    # 2. Sentence ranker, out of fold: fit on answerable questions of the other folds.
    best_row_oof: list[int | None] = [None] * len(per_question)
    logits_oof: list[np.ndarray | None] = [None] * len(per_question)
    for fold in range(args.folds):
        train = [p for p in per_question if fold_of[p[7]] != fold and p[0].answerable and len(p[3])]
        model = fit_ranker([(p[5], p[6]) for p in train], SENTENCE_FEATURES, "")
        for i, p in enumerate(per_question):
            if fold_of[p[7]] == fold and len(p[3]):
                logits = model.logits(p[5])
                logits_oof[i], best_row_oof[i] = logits, int(np.argmax(logits))
    answerable = [i for i, p in enumerate(per_question) if p[0].answerable]
    top1 = np.mean([bool(best_row_oof[i] is not None and per_question[i][6][best_row_oof[i]]) for i in answerable])

    # 3. Confidence model, out of fold, on the out-of-fold best sentences. Label: the answer is right.
    x, y, folds, is_answerable = [], [], [], []
    for i, (q, analysed, hits, rows, hit_of, features, labels, group) in enumerate(per_question):
        if best_row_oof[i] is None:
            continue
        values = composer.confidence_features(analysed, hits, rows, hit_of, features, logits_oof[i], best_row_oof[i])
        x.append([values[n] for n in CONFIDENCE_FEATURES])
        y.append(bool(labels[best_row_oof[i]]))
        folds.append(fold_of[group])
        is_answerable.append(q.answerable)
    x, y, folds, is_answerable = np.array(x), np.array(y), np.array(folds), np.array(is_answerable)
    oof = np.zeros(len(y))
    for fold in range(args.folds):
        model = fit(x[folds != fold], y[folds != fold], CONFIDENCE_FEATURES, "")
        oof[folds == fold] = 1 / (1 + np.exp(-model.logits(x[folds == fold])))
    auc_answerable = roc_auc(oof.tolist(), is_answerable.tolist())
    auc_correct = roc_auc(oof.tolist(), y.tolist())
    threshold = float(np.quantile(oof[is_answerable], 0.10))  # keeps 90% of answerable questions answered
    abstain = oof < threshold
    report = {
        "questions": len(per_question), "folds": args.folds,
        **{f"{name}_recall@{k}_oof": round(float(np.mean(v)), 4) for name, ks in recall.items() for k, v in ks.items()},
        "sentence_top1_has_gold_oof": round(float(top1), 4),
        "confidence_auc_answerable_vs_not_oof": round(auc_answerable, 4),
        "confidence_auc_correct_vs_not_oof": round(auc_correct, 4),
        "threshold_for_90pct_answered": round(threshold, 4),
        "abstain_precision_at_threshold": round(float((~is_answerable[abstain]).mean()), 4) if abstain.any() else None,
        "abstain_recall_at_threshold": round(float(abstain[~is_answerable].mean()), 4),
    }
    print(json.dumps(report, indent=2))

    # 4. Final models on everything.
    note = f"SQuAD 2.0 dev ({len(per_question)} questions); see benchmarks/results/train_models.json"
    ranker_rows = [p for p in per_question if p[0].answerable and len(p[3])]
    fit_ranker([(p[5], p[6]) for p in ranker_rows], SENTENCE_FEATURES, note).save("sentence")
    fit(x, y, CONFIDENCE_FEATURES, note).save("confidence")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print("models written to qa/models/; report to", args.output)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(main())
