"""`qa eval DATASET`: retrieval, answer and abstention quality on a question set, asked
through `QAService.run` (the code path of POST /ask).

Datasets (see ../shared/eval): a folder with `questions.jsonl` and either `articles/`
(squad2-dev: gold = `article` + `paragraph_index`) or, for seed-dev, the seed files named in
`sources` (gold = the `evidence` sentences). The articles go into their own cached store
under `<data_dir>/eval/<dataset>`."""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from config import Settings
from index.embedding import load_embedder
from index.loading import discover
from index.pipeline import ingest
from index.store import Store
from qa.corpus import Corpus
from qa.service import QAService


@dataclass
class EvalQuestion:
    id: str
    question: str
    answerable: bool
    answers: list[str]
    gold: list[tuple[str, str]] = field(default_factory=list)  # (doc_id, text that must be inside the passage)


@dataclass
class Dataset:
    name: str
    articles: list[Path]
    questions: list[EvalQuestion]


def load_dataset(folder: Path, settings: Settings) -> Dataset:
    rows = [json.loads(line) for line in (folder / "questions.jsonl").read_text("utf-8").splitlines() if line.strip()]
    if (folder / "articles").is_dir():  # squad2-dev layout
        articles = sorted((folder / "articles").glob("*.txt"))
        paragraphs = {p.name: p.read_text("utf-8")[:-1].split("\n\n")[1:] for p in articles}
        questions = [EvalQuestion(r["id"], r["question"], r["answerable"], r["answers"],
                                  [(Path(r["article"]).stem, paragraphs[r["article"]][r["paragraph_index"]].strip())])
                     for r in rows]
    else:  # seed-dev: evidence sentences in the seed files
        articles = discover([Path(settings.seeds_dir)])
        questions = [EvalQuestion(r["id"], r["question"], r["answerable"], r["answers"],
                                  [(Path(s).stem, e) for s in r["sources"] for e in r.get("evidence", [])])
                     for r in rows]
    return Dataset(folder.name, articles, questions)


def is_gold(corpus: Corpus, passage: int, question: EvalQuestion) -> bool:
    """Whether a passage holds the question's gold evidence (or lies inside the gold paragraph)."""
    doc_id = corpus.passages[passage].doc_id
    text = corpus.passage_text(passage)
    return any(doc == doc_id and (gold in text or text in gold) for doc, gold in question.gold)


def roc_auc(scores: list[float], labels: list[bool]) -> float | None:
    """Probability that a random positive outscores a random negative (ties count half)."""
    pairs = sorted(zip(scores, labels))
    positives = sum(labels)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return None
    rank_sum, i = 0.0, 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        rank_sum += (i + j + 1) / 2 * sum(1 for _, label in pairs[i:j] if label)
        i = j
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def _contains(texts: list[str], answers: list[str]) -> bool:
    return any(a.lower() in t.lower() for a in answers for t in texts)


def evaluate(service: QAService, dataset: Dataset, progress: bool = True,
             features_out: Path | None = None) -> dict:
    corpus = service.corpus
    records = []
    for q in tqdm(dataset.questions, desc=f"eval {dataset.name}", unit="q", disable=not progress):
        response, composition, hits = service.run(q.question, top_k=10)
        gold_rank = next((rank for rank, hit in enumerate(hits, start=1) if is_gold(corpus, hit.passage, q)), None)
        forced = [corpus.sentence_text(r) for r in composition.ranked[:1]]
        cited = [c.quote for c in response.citations]
        records.append({
            "id": q.id, "answerable": q.answerable, "answered": response.answered,
            "confidence": response.confidence, "gold_rank": gold_rank, "took_ms": response.took_ms,
            "first_hit": bool(cited) and _contains(cited[:1], q.answers),
            "cited_hit": _contains(cited, q.answers),
            "forced_first_hit": _contains(forced, q.answers),
            "forced_top3_hit": _contains([corpus.sentence_text(r) for r in composition.ranked], q.answers),
            "features": composition.features,
        })
    if features_out:
        features_out.parent.mkdir(parents=True, exist_ok=True)
        features_out.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return summarise(dataset.name, records, service.settings.min_confidence)


def summarise(name: str, records: list[dict], threshold: float) -> dict:
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    share = lambda rows, key: round(sum(1 for r in rows if key(r)) / len(rows), 4) if rows else None  # noqa: E731
    abstained = [r for r in records if not r["answered"]]
    auc = roc_auc([r["confidence"] for r in records], [r["answerable"] for r in records])
    return {
        "dataset": name, "questions": len(records), "answerable": len(answerable), "unanswerable": len(unanswerable),
        "threshold": threshold,
        "retrieval": {
            f"recall@{k}": share(answerable, lambda r, k=k: r["gold_rank"] is not None and r["gold_rank"] <= k)
            for k in (1, 5, 10)
        } | {"mrr@10": round(sum(1 / r["gold_rank"] for r in answerable if r["gold_rank"]) / len(answerable), 4)
             if answerable else None},
        "answers": {
            "first_sentence_has_gold": share(answerable, lambda r: r["first_hit"]),
            "any_cited_sentence_has_gold": share(answerable, lambda r: r["cited_hit"]),
            "best_sentence_has_gold_if_forced": share(answerable, lambda r: r["forced_first_hit"]),
            "top3_sentences_have_gold_if_forced": share(answerable, lambda r: r["forced_top3_hit"]),
            "answered_rate_on_answerable": share(answerable, lambda r: r["answered"]),
        },
        "abstention": {
            "roc_auc": round(auc, 4) if auc is not None else None,
            "abstain_precision": share(abstained, lambda r: not r["answerable"]),
            "abstain_recall": share(unanswerable, lambda r: not r["answered"]),
        },
        "latency_ms_p50": round(statistics.median(r["took_ms"] for r in records), 2) if records else None,
    }


def open_dataset_service(dataset: Dataset, settings: Settings) -> QAService:
    """A service over the dataset's own store, ingesting (or reusing) its articles."""
    eval_settings = settings.replace(data_dir=str(Path(settings.data_dir) / "eval" / dataset.name))
    store = Store.open(eval_settings, prefix=f"eval-{dataset.name}")
    ingest(dataset.articles, store, load_embedder(eval_settings, threads=os.cpu_count() or 1), eval_settings)
    return QAService(eval_settings, store, load_embedder(eval_settings))


def run_cli(args: argparse.Namespace, settings: Settings) -> int:
    if not (args.dataset / "questions.jsonl").exists():
        print(f"error: {args.dataset}/questions.jsonl not found")
        return 2
    dataset = load_dataset(args.dataset, settings)
    if args.limit:
        dataset.questions = random.Random(args.seed).sample(dataset.questions, min(args.limit, len(dataset.questions)))
    service = open_dataset_service(dataset, settings)
    report = evaluate(service, dataset, features_out=args.features)
    report["sample"] = {"limit": args.limit, "seed": args.seed}
    text = json.dumps(report, indent=2)
    print(text)
    output = args.output or Path(settings.data_dir) / "eval" / f"{dataset.name}-report.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text + "\n")
    print(f"written to {output}")
    return 0



