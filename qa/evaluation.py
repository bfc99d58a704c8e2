"""`qa eval DATASET`: retrieval, answer and abstention quality on a question set, asked
through `QAService.run` (the code path of POST /ask).

Datasets (see ../shared/eval), all a folder with `questions.jsonl`:
* squad2-dev layout: `articles/` and rows naming `article` + `paragraph_index` (gold = that paragraph);
* news layout (news-dev, news-bbc): `articles/` and rows naming `sources` + `evidence` sentences;
* seed-dev: no `articles/`; `sources` name files of the seeds folder.
The articles go into their own cached store under `<data_dir>/eval/<dataset>`.

Answers are scored the way a reader would: a gold answer occurs in the quoted sentences after
lower-casing and dropping punctuation, or most of its words do (crowd spans are loose). The
first quoted sentence (the best one) is also scored on its own."""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from config import Settings
from index.embedding import load_embedder
from index.loading import discover
from index.store import Store
from qa.answer import Composition
from qa.answer_models import AnswerModels
from qa.corpus import Corpus
from qa.decisions import compare, roc_auc, summary
from qa.service import QAService

CALIBRATION_BINS = 10
# What a report keeps of each question: enough to compare two reports question by question.
PER_QUESTION = ("id", "answerable", "answered", "confidence", "cited_hit", "selected_hit", "first_hit",
                "gold_sentence_rank")
_PUNCTUATION = re.compile(r"[^\w\s]|_")


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
    has_articles = (folder / "articles").is_dir()
    articles = sorted((folder / "articles").glob("*.txt")) if has_articles else discover([Path(settings.seeds_dir)])
    questions = []
    paragraphs: dict[str, list[str]] = {}
    for r in rows:
        if "article" in r:  # squad2-dev: the gold is the question's paragraph
            if r["article"] not in paragraphs:
                paragraphs[r["article"]] = (folder / "articles" / r["article"]).read_text("utf-8")[:-1].split("\n\n")[1:]
            gold = [(Path(r["article"]).stem, paragraphs[r["article"]][r["paragraph_index"]].strip())]
        else:  # news and seed layouts: the gold is the evidence sentences of the sources
            gold = [(Path(s).stem, e) for s in r.get("sources", []) for e in r.get("evidence", [])]
        questions.append(EvalQuestion(r["id"], r["question"], r["answerable"], r["answers"], gold))
    return Dataset(folder.name, articles, questions)


def is_gold(corpus: Corpus, passage: int, question: EvalQuestion) -> bool:
    """Whether a passage holds the question's gold evidence (or lies inside the gold paragraph)."""
    doc_id = corpus.passages[passage].doc_id
    text = corpus.passage_text(passage)
    return any(doc == doc_id and (gold in text or text in gold) for doc, gold in question.gold)


def normalise(text: str) -> str:
    """Lower case, punctuation dropped, whitespace collapsed: how a reader compares answers."""
    return " ".join(_PUNCTUATION.sub(" ", text.lower()).split())


def _holds(normal_text: str, answer: str) -> bool:
    """Whether `normal_text` (already `normalise`d) holds the answer as whole words."""
    normal_answer = normalise(answer)
    return bool(normal_answer) and f" {normal_answer} " in f" {normal_text} "


def answer_found(texts: list[str], answers: list[str]) -> bool:
    """Whether any text holds a gold answer: verbatim after `normalise`, or, for answers of
    three words or more, most of their words."""
    for text in texts:
        normal = normalise(text)
        words = set(normal.split())
        for answer in answers:
            if _holds(normal, answer):
                return True
            answer_words = normalise(answer).split()
            if len(answer_words) >= 3 and sum(w in words for w in answer_words) > len(answer_words) / 2:
                return True
    return False


def selection_holds_gold(corpus: Corpus, composition: Composition, question: EvalQuestion) -> bool:
    """Whether the sentences the answer quotes, or would quote were it not abstaining, hold a
    gold answer (never, for an unanswerable question): what the confidence is calibrated to."""
    return question.answerable and answer_found([corpus.sentence_text(r) for r in composition.selected],
                                                question.answers)


def short_answer_right(answer_text: str, answers: list[str]) -> bool:
    """A short answer is right when it equals or contains a gold answer (after `normalise`)."""
    given = normalise(answer_text)
    return any(_holds(given, a) for a in answers)


def reliability(confidences: list[float], correct: list[bool], bins: int = CALIBRATION_BINS) -> tuple[float, list[dict]]:
    """Expected calibration error and its table: per equal-width confidence bin, how many
    answers, their mean confidence and how many were right."""
    table, error = [], 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        members = [(c, y) for c, y in zip(confidences, correct) if low <= c < high or (b == bins - 1 and c == 1.0)]
        if not members:
            continue
        mean_confidence = sum(c for c, _ in members) / len(members)
        accuracy = sum(y for _, y in members) / len(members)
        error += len(members) / len(confidences) * abs(mean_confidence - accuracy)
        table.append({"bin": f"{low:.1f}-{high:.1f}", "n": len(members), "confidence": round(mean_confidence, 3),
                      "right": round(accuracy, 3)})
    return round(error, 4), table


def evaluate(service: QAService, dataset: Dataset, progress: bool = True,
             features_out: Path | None = None) -> dict:
    corpus = service.corpus
    records = []
    for q in tqdm(dataset.questions, desc=f"eval {dataset.name}", unit="q", disable=not progress):
        response, composition, hits = service.run(q.question, top_k=10)
        gold_rank = next((rank for rank, hit in enumerate(hits, start=1) if is_gold(corpus, hit.passage, q)), None)
        candidates = [corpus.sentence_text(r) for r in composition.ranked]
        gold_sentence_rank = next((rank for rank, text in enumerate(candidates, start=1)
                                   if q.answerable and answer_found([text], q.answers)), None)
        first = response.citations[0] if response.citations else None
        records.append({
            "id": q.id, "question": q.question, "answerable": q.answerable, "answered": response.answered,
            "confidence": response.confidence, "gold_rank": gold_rank, "took_ms": response.took_ms,
            "first_hit": q.answerable and first is not None and answer_found([first.quote], q.answers),
            "cited_hit": q.answerable and answer_found([c.quote for c in response.citations], q.answers),
            "gold_sentence_rank": gold_sentence_rank,
            "best_sentence": candidates[0] if candidates else None,
            "quoted": [c.quote for c in response.citations],
            "selected_hit": selection_holds_gold(corpus, composition, q),
            "answer_text": first.answer_text if first else None,
            "short_answer_right": bool(first and first.answer_text and short_answer_right(first.answer_text, q.answers)),
            "gold": q.answers,
            "features": composition.features,
        })
    if features_out:
        features_out.parent.mkdir(parents=True, exist_ok=True)
        features_out.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return summarise(dataset.name, records, service.settings.min_confidence)


def summarise(name: str, records: list[dict], threshold: float) -> dict:
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    count = lambda rows, key: sum(1 for r in rows if key(r))  # noqa: E731
    share = lambda rows, key: round(count(rows, key) / len(rows), 4) if rows else None  # noqa: E731
    best_right = lambda r: r["gold_sentence_rank"] == 1  # noqa: E731
    abstained = [r for r in records if not r["answered"]]
    confidences = [r["confidence"] for r in records]
    auc = roc_auc(confidences, [r["answerable"] for r in records])
    auc_right = roc_auc(confidences, [r["selected_hit"] for r in records])
    ece, table = reliability(confidences, [r["selected_hit"] for r in records])
    with_span = [r for r in answerable if r["answered"] and r["answer_text"]]
    misses = [{"id": r["id"], "question": r["question"], "answerable": r["answerable"],
               "quoted": r["quoted"] or None, "best_sentence": r["best_sentence"],
               "gold": r["gold"], "gold_sentence_rank": r["gold_sentence_rank"], "gold_passage_rank": r["gold_rank"],
               "confidence": r["confidence"]}
              for r in records if (r["answerable"] and not r["cited_hit"]) or (not r["answerable"] and r["answered"])]
    return {
        "dataset": name, "questions": len(records), "answerable": len(answerable), "unanswerable": len(unanswerable),
        "threshold": threshold,
        "retrieval": {
            f"recall@{k}": share(answerable, lambda r, k=k: r["gold_rank"] is not None and r["gold_rank"] <= k)
            for k in (1, 5, 10)
        } | {"mrr@10": round(sum(1 / r["gold_rank"] for r in answerable if r["gold_rank"]) / len(answerable), 4)
             if answerable else None},
        "answers": {
            "answered_with_gold": count(answerable, lambda r: r["cited_hit"]),
            "answered_wrongly": count(answerable, lambda r: r["answered"] and not r["cited_hit"]),
            "abstained": count(answerable, lambda r: not r["answered"]),
            "first_sentence_has_gold": share(answerable, lambda r: r["first_hit"]),
            "any_cited_sentence_has_gold": share(answerable, lambda r: r["cited_hit"]),
            "best_sentence_has_gold_if_forced": share(answerable, best_right),
            "top3_sentences_have_gold_if_forced": share(
                answerable, lambda r: r["gold_sentence_rank"] is not None and r["gold_sentence_rank"] <= 3),
            "answered_rate_on_answerable": share(answerable, lambda r: r["answered"]),
        },
        "short_answers": {
            "given": len(with_span),
            "right": count(with_span, lambda r: r["short_answer_right"]),
            "right_share": share(with_span, lambda r: r["short_answer_right"]),
        },
        "abstention": {
            "unanswerable_abstained": count(unanswerable, lambda r: not r["answered"]),
            "roc_auc": round(auc, 4) if auc is not None else None,
            "roc_auc_right_vs_not": round(auc_right, 4) if auc_right is not None else None,
            "abstain_precision": share(abstained, lambda r: not r["answerable"]),
            "abstain_recall": share(unanswerable, lambda r: not r["answered"]),
        },
        "calibration": {"ece": ece, "reliability": table,
                        "note": "confidence against: the sentences the answer quotes (or would quote, when it "
                                "abstains) hold a gold answer (never, if unanswerable)"},
        "decisions": summary(records),
        "latency_ms_p50": round(statistics.median(r["took_ms"] for r in records), 2) if records else None,
        "misses": misses,
        "wrong_short_answers": [{"id": r["id"], "question": r["question"], "answer_text": r["answer_text"],
                                 "gold": r["gold"]} for r in with_span if not r["short_answer_right"]],
        # As columns and rows: a key per value would double a squad2-dev report's size.
        "per_question": {"columns": list(PER_QUESTION), "rows": [[r[key] for key in PER_QUESTION] for r in records]},
    }


def open_dataset_service(dataset: Dataset, settings: Settings, models: AnswerModels | None = None) -> QAService:
    """A service over the dataset's own store, ingesting (or reusing) its articles; `models` as
    `QAService` takes them."""
    eval_settings = settings.replace(data_dir=str(Path(settings.data_dir) / "eval" / dataset.name))
    store = Store.open(eval_settings, prefix=f"eval-{dataset.name}")
    service = QAService(eval_settings, store, load_embedder(eval_settings), watch=False, models=models)  # nothing else writes it
    service.ingest(dataset.articles, progress=True)  # through the one writer; unchanged files are skipped
    return service


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
    if args.compare:
        report["compared_with"] = {"report": str(args.compare)} | compare_reports([report], [read_report(args.compare)])
    output = args.output or Path(settings.data_dir) / "eval" / f"{dataset.name}-report.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    summary = report | {"misses": len(report["misses"]), "wrong_short_answers": len(report["wrong_short_answers"]),
                        "per_question": len(records_of(report))}
    print(json.dumps(summary, indent=2))
    print(f"written to {output} (with the lists of misses and wrong short answers)")
    return 0


def read_report(path: Path) -> dict:
    """A report written by `qa eval --output`, with its per-question records."""
    report = json.loads(path.read_text())
    if "per_question" not in report:
        raise ValueError(f"{path} has no per-question records: rerun `qa eval` to write them")
    return report


def records_of(report: dict) -> list[dict]:
    """A report's per-question records, as dicts."""
    table = report["per_question"]
    return [dict(zip(table["columns"], row)) for row in table["rows"]]


def compare_reports(new: list[dict], old: list[dict]) -> dict:
    """The paired difference of the reports `new` against `old`, pooled: questions are matched
    by dataset and id."""
    def pooled(reports: list[dict]) -> list[dict]:
        return [r | {"id": f"{report['dataset']}/{r['id']}"} for report in reports for r in records_of(report)]

    return compare(pooled(new), pooled(old))
