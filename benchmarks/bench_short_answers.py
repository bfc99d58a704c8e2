"""How often the short answer (`answer_span`) is right when the sentence is: every answerable
SQuAD 2.0 question of a type the service marks (number, date, person, place, organisation),
asked of the sentence that holds its gold answer, so that retrieval and sentence choice do not
blur the figure; the question's words weigh their IDF over the set's paragraphs, as they weigh
their corpus IDF in the service. Sets: squad2-dev (../shared/eval) and the train subset
(../shared/train), on which `train_short_answers.py` fits the short-answer model. Reported
twice: the best candidate whenever there is one, and only those the short-answer model
(qa/models/short_answer.json) keeps, as the service gives them.

    .venv/bin/python benchmarks/bench_short_answers.py   # a few seconds; writes results/short_answers.json
"""

from __future__ import annotations

import gzip
import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from index.lexical import LexicalIndex, Postings, terms
from index.splitting import split_sentences
from qa.answer import keeps_short_answer
from qa.confidence import LinearModel
from qa.evaluation import short_answer_right
from qa.question import AnswerType, ShortAnswer, answer_span, answer_type

SHARED = ROOT.parent / "shared"


def idf_of(paragraphs: list[str]) -> Callable[[str], float]:
    """The service's BM25 IDF (`LexicalIndex.idf`) over these paragraphs."""
    vocabulary: dict[str, int] = {}
    counted = [Counter(vocabulary.setdefault(t, len(vocabulary)) for t in terms(p)) for p in paragraphs]
    term_ids = np.array([t for c in counted for t in c], dtype=np.int32)
    counts = np.array([n for c in counted for n in c.values()], dtype=np.int32)
    bounds = np.cumsum([0] + [len(c) for c in counted])
    lengths = np.array([sum(c.values()) for c in counted])
    return LexicalIndex(vocabulary, lengths, [Postings.of(0, term_ids, counts, bounds, len(vocabulary))]).idf


Example = tuple[str, ShortAnswer | None, bool]  # (answer type, the best candidate, it is right)


def _example(question: str, context: str, answer_start: int, answers: list[str],
             idf: Callable[[str], float]) -> Example | None:
    """One question's example, or None when the service marks no short answer for its type."""
    kind = answer_type(question)
    if kind is AnswerType.OTHER:
        return None
    sentence = next((context[s.start : s.end] for s in split_sentences(context) if s.start <= answer_start < s.end), None)
    if sentence is None:
        return None
    span = answer_span(question, kind, sentence, {t: idf(t) for t in terms(question)})
    return kind.value, span, span is not None and short_answer_right(sentence[span.start : span.end], answers)


def squad_dev() -> list[Example]:
    folder = SHARED / "eval" / "squad2-dev"
    paragraphs = {path.name: path.read_text("utf-8")[:-1].split("\n\n")[1:] for path in (folder / "articles").glob("*.txt")}
    idf = idf_of([p for article in paragraphs.values() for p in article])
    out = []
    for line in (folder / "questions.jsonl").read_text("utf-8").splitlines():
        row = json.loads(line)
        if not row["answerable"] or row.get("answer_char_start") is None:
            continue
        context = paragraphs[row["article"]][row["paragraph_index"]]
        if (found := _example(row["question"], context, row["answer_char_start"], row["answers"], idf)) is not None:
            out.append(found)
    return out


def squad_train() -> list[Example]:
    with gzip.open(SHARED / "train" / "squad2-train-subset.json.gz") as packed:
        data = json.loads(packed.read())
    idf = idf_of([p["context"] for article in data["data"] for p in article["paragraphs"]])
    out = []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                if qa.get("is_impossible"):
                    continue
                answers = sorted({a["text"] for a in qa["answers"]})
                found = _example(qa["question"], paragraph["context"], qa["answers"][0]["answer_start"], answers, idf)
                if found is not None:
                    out.append(found)
    return out


def summary(rows: list[Example], model: LinearModel) -> dict:
    by_type = Counter(kind for kind, _, _ in rows)
    right = Counter(kind for kind, _, ok in rows if ok)
    kept = [ok for _, span, ok in rows if span and keeps_short_answer(model, span)]
    return {"questions": len(rows), "given": sum(span is not None for _, span, _ in rows), "right": sum(right.values()),
            "right_share": round(sum(right.values()) / len(rows), 4) if rows else None,
            "by_type": {kind: {"questions": n, "right": right[kind]} for kind, n in by_type.most_common()},
            "kept_by_model": {"given": len(kept), "right": sum(kept),
                              "right_share_of_given": round(sum(kept) / len(kept), 4) if kept else None}}


def main() -> int:
    if not (SHARED / "eval" / "squad2-dev").is_dir():
        print(f"{SHARED / 'eval' / 'squad2-dev'} not found: nothing to measure")
        return 0
    model = LinearModel.load("short_answer")
    report = {"squad2-dev": summary(squad_dev(), model)}
    if (SHARED / "train" / "squad2-train-subset.json.gz").exists():
        report["squad2-train-subset (the model's training set)"] = summary(squad_train(), model)
    for name, figures in report.items():
        kept = figures["kept_by_model"]
        print(f"{name}: right {figures['right']} of {figures['questions']} ({figures['right_share']:.3f}), "
              f"given {figures['given']}; " + ", ".join(f"{k} {v['right']}/{v['questions']}"
                                                          for k, v in figures["by_type"].items())
              + f"; kept by the model: {kept['given']}, right {kept['right']} ({kept['right_share_of_given']})")
    output = ROOT / "benchmarks" / "results" / "short_answers.json"
    output.write_text(json.dumps(report, indent=2) + "\n")
    print("written to", output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
