"""Quote verification (POST /citations/verify): status precision and recall per kind of quote,
and the latency of a 5,000-character draft with 10 quotes, at ~100k passages.

The archive is bench_lookup's in-memory corpus (no embeddings: verification reads text and the
BM25 index only) built from the seed articles, news-dev's CNN stories and squad2-dev's articles,
replicated with 15% of their words swapped until there are enough passages. The labelled
quotes are made from sentences of the original articles:
- exact: a run of words copied; marks: the same with curly/straight quotes, double spaces and a
  line break; cut: starting and ending mid-sentence (all three should be `exact`);
- one-word: one lower-case word replaced by another (`close`);
- number: a digit changed; negation-in / negation-out: "not" inserted after an auxiliary or
  removed (all `misquoted`: a changed number or negation is never exact or close);
- stitched: the first half of one sentence and the second half of a later one (should be
  flagged: `misquoted` or `not_found`, never exact or close);
- invented: words of one article in a new order (`not_found`).

    .venv/bin/python benchmarks/bench_verify.py [--passages 100000] [--cases 60] [--drafts 40]

Prints the tables and writes benchmarks/results/verify.json."""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from bench_lookup import build_corpus  # noqa: E402  (beside this script)
from reporting import write_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

from qa.corpus import Corpus  # noqa: E402
from qa.verify import NEGATIONS, NUMBER_WORDS, STATUSES, verify  # noqa: E402

SHARED = ROOT.parent / "shared" / "eval"
FOLDERS = [ROOT / "seeds", SHARED / "news-dev" / "articles", SHARED / "squad2-dev" / "articles"]
EXPECTED = {"exact": "exact", "marks": "exact", "cut": "exact", "one-word": "close", "number": "misquoted",
            "negation-in": "misquoted", "negation-out": "misquoted", "stitched": "flagged", "invented": "not_found"}
AUXILIARIES = re.compile(r"\b(is|was|are|were|has|have|had|will|would|can|could|did|does|should|must)\b")
_WORD = re.compile(r"\S+")


def original_sentences(corpus: Corpus) -> list[tuple[str, list[str]]]:
    """(document id, sentences of 10-40 words) of every original (replica 0) article."""
    out = []
    for passage in corpus.passages:
        if not passage.doc_id.endswith("-0"):
            continue
        text = corpus.documents[passage.doc_id].text
        sentences = [text[s.start : s.end] for s in passage.sentences]
        # Without double quotes of their own: a draft would quote them inside single marks.
        out.append((passage.doc_id, [s for s in sentences if 10 <= len(s.split()) <= 40
                                     and not any(mark in s for mark in '"\u201c\u201d')]))
    return [(doc, sentences) for doc, sentences in out if sentences]


def make_case(kind: str, sentences: list[str], vocabulary: list[str], rng: np.random.Generator) -> str | None:
    sentence = sentences[int(rng.integers(len(sentences)))]
    words = sentence.split()
    if kind == "exact":
        return " ".join(words[: int(rng.integers(8, len(words) + 1))])
    if kind == "marks":
        quote = sentence.replace("'", "\u2019").replace("\u201c", '"').replace("\u201d", '"')
        middle = len(quote) // 2
        cut = quote.index(" ", middle) if " " in quote[middle:] else middle
        return quote[:cut].replace(" ", "  ", 1) + "\n" + quote[cut + 1 :]
    if kind == "cut":
        first, last = int(rng.integers(1, 4)), len(words) - int(rng.integers(1, 4))
        return " ".join(words[first:last]) if last - first >= 6 else None
    if kind == "one-word":
        spots = [i for i, w in enumerate(words) if w.isalpha() and w.islower() and len(w) >= 4 and i > 0
                 and w not in NUMBER_WORDS and w not in NEGATIONS]  # those changes are misquotes
        if not spots:
            return None
        spot = spots[int(rng.integers(len(spots)))]
        replacement = vocabulary[int(rng.integers(len(vocabulary)))]
        return " ".join([*words[:spot], replacement, *words[spot + 1 :]]) if replacement != words[spot] else None
    if kind == "number":
        digits = [m.start() for m in re.finditer(r"\d", sentence)]
        if not digits:
            return None
        at = digits[int(rng.integers(len(digits)))]
        new = str((int(sentence[at]) + int(rng.integers(1, 9))) % 10)
        return sentence[:at] + new + sentence[at + 1 :]
    if kind == "negation-in":
        match = AUXILIARIES.search(sentence)
        return sentence[: match.end()] + " not" + sentence[match.end() :] if match and " not " not in sentence else None
    if kind == "negation-out":
        return sentence.replace(" not ", " ", 1) if " not " in sentence else None
    if kind == "stitched":
        later = sentences[int(rng.integers(len(sentences)))]
        if later == sentence:
            return None
        other = later.split()
        return " ".join(words[: len(words) // 2] + other[len(other) // 2 :])
    if kind == "invented":
        pool = " ".join(sentences).split()
        return " ".join(pool[int(i)] for i in rng.choice(len(pool), size=min(len(pool), 14), replace=False))
    raise ValueError(kind)


def labelled_quotes(corpus: Corpus, per_kind: int, seed: int) -> list[tuple[str, str]]:
    rng = np.random.default_rng(seed)
    documents = original_sentences(corpus)
    # Candidates of a kind are drawn where they can exist (numbers, "not"): sentences by document.
    vocabulary = sorted({w for _, ss in documents for s in ss for w in s.split() if w.isalpha() and w.islower()})
    cases = []
    for kind in EXPECTED:
        made, tries = 0, 0
        while made < per_kind and tries < per_kind * 200:
            tries += 1
            _, sentences = documents[int(rng.integers(len(documents)))]
            quote = make_case(kind, sentences, vocabulary, rng)
            if quote and len(quote.split()) >= 6:
                cases.append((kind, quote))
                made += 1
    return cases


def drafts(corpus: Corpus, cases: list[tuple[str, str]], count: int, rng: np.random.Generator) -> list[str]:
    """~5,000-character drafts, each with 10 of the labelled quotes in sentences of filler words."""
    filler_words = [w for w in corpus.documents[next(iter(corpus.documents))].text.split() if w.isalpha()]
    out = []
    for _ in range(count):
        parts = []
        for index in rng.choice(len(cases), size=10, replace=False):
            filler = " ".join(filler_words[int(i)] for i in rng.integers(len(filler_words), size=70))
            parts.append(f'{filler.capitalize()}. A spokesman said "{cases[int(index)][1]}" on Monday.')
        draft = " ".join(parts)
        out.append(draft[:5200])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=60, help="quotes per kind")
    parser.add_argument("--drafts", type=int, default=40, help="5,000-character drafts timed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "verify.json")
    args = parser.parse_args()
    if not all(folder.exists() for folder in FOLDERS):
        print(f"missing one of {FOLDERS}", file=sys.stderr)
        return 1
    started = time.perf_counter()
    corpus = build_corpus(args.passages, args.seed, FOLDERS)
    print(f"{len(corpus.passages)} passages in {len(corpus.documents)} documents "
          f"(built in {time.perf_counter() - started:.0f} s)")
    cases = labelled_quotes(corpus, args.cases, args.seed)
    verify(corpus, '"warm up the stemmer and the stop words"')
    confusion: dict[str, Counter] = {kind: Counter() for kind in EXPECTED}
    citations, unfaithful = 0, 0  # every source cited must be document.text[start:end]
    for kind, quote in cases:
        results = verify(corpus, f'They said "{quote}" yesterday.').quotes
        confusion[kind][results[0].status if len(results) == 1 else f"{len(results)} quotes"] += 1
        for source in (r.source for r in results if r.source is not None):
            citations += 1
            unfaithful += corpus.documents[source.doc_id].text[source.start : source.end] != source.quote
    by_status: dict[str, dict[str, float]] = {}
    for status in STATUSES:  # stitched quotes may rightly be misquoted or not found: counted apart
        expected = [k for k, v in EXPECTED.items() if v == status]
        truly = sum(sum(confusion[k].values()) for k in expected)
        predicted = sum(c[status] for k, c in confusion.items() if EXPECTED[k] != "flagged")
        right = sum(confusion[k][status] for k in expected)
        by_status[status] = {"precision": round(right / predicted, 4) if predicted else None,
                             "recall": round(right / truly, 4) if truly else None,
                             "predicted": predicted, "expected": truly}
    flagged = {k: round((c["misquoted"] + c["not_found"]) / sum(c.values()), 4) for k, c in confusion.items()
               if EXPECTED[k] in ("misquoted", "flagged")}
    rng = np.random.default_rng(args.seed)
    texts = drafts(corpus, cases, args.drafts, rng)
    times = []
    for text in texts:
        t0 = time.perf_counter()
        verify(corpus, text)
        times.append((time.perf_counter() - t0) * 1000)
    latency = {"drafts": len(texts), "characters_median": int(np.median([len(t) for t in texts])),
               "p50_ms": round(float(np.percentile(times, 50)), 1), "p99_ms": round(float(np.percentile(times, 99)), 1),
               "max_ms": round(max(times), 1)}
    report = {"passages": len(corpus.passages), "documents": len(corpus.documents),
              "cases_per_kind": {k: sum(c.values()) for k, c in confusion.items()},
              "confusion": {k: dict(c) for k, c in confusion.items()}, "by_status": by_status,
              "flagged_share": flagged, "citations_checked": citations, "citations_not_at_their_offsets": unfaithful,
              "draft_latency": latency,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load_average": [round(x, 2) for x in os.getloadavg()]}}
    print(f"\n{'kind':<14}{'expected':<11}" + "".join(f"{s:>11}" for s in STATUSES))
    for kind, counts in confusion.items():
        print(f"{kind:<14}{EXPECTED[kind]:<11}" + "".join(f"{counts[s]:>11}" for s in STATUSES))
    print(f"\n{'status':<11}{'precision':>10}{'recall':>8}")
    for status, row in by_status.items():
        print(f"{status:<11}{row['precision'] if row['precision'] is not None else '-':>10}"
              f"{row['recall'] if row['recall'] is not None else '-':>8}")
    print(f"\nflagged (misquoted or not found): {flagged}")
    print(f"citations whose quote is not document.text[start:end]: {unfaithful} of {citations}")
    print(f"{latency['drafts']} drafts of ~{latency['characters_median']} characters with 10 quotes: "
          f"p50 {latency['p50_ms']} ms, p99 {latency['p99_ms']} ms")
    write_report(args.output, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
