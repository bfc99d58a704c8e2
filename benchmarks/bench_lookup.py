"""Quote lookup (POST /citations/lookup) latency and accuracy at ~100k passages.

The corpus is built in memory, without embeddings (lookup uses only the text and the BM25
index): the squad2-dev articles (../shared/eval/squad2-dev/articles) replicated until there
are enough passages, each replica with 15% of its words swapped for other words of the
same length, so replicas are distinct documents with realistic word statistics and the
original sentence offsets. Quotes of five kinds are drawn from it:
exact runs of words, the same with straight quotes/extra spaces/upper case (normalized),
with two typos (fuzzy), cut mid-word at both ends, and absent (random words); and the CPU
levers a hostile client would send: random corpus words up to the fuzzy-matching limit
(hostile-400, the most alignment work a quote can ask for) and far beyond it (hostile-2000).

    .venv/bin/python benchmarks/bench_lookup.py [--passages 100000] [--quotes 100]

Prints a table and writes benchmarks/results/lookup.json."""

from __future__ import annotations

import argparse
import atexit
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from reporting import write_report  # noqa: E402  (beside this script)

ROOT = Path(__file__).resolve().parents[1]

from index.documents import Document, Passage, content_hash, span_id  # noqa: E402
from index.loading import discover, read_document  # noqa: E402
from index.pipeline import prepare  # noqa: E402
from index.readmodel.format import State  # noqa: E402
from index.readmodel.writing import from_snapshot, write  # noqa: E402
from index.splitting import paragraph_spans, split_sentences  # noqa: E402
from index.store import Snapshot, sentence_records  # noqa: E402
from qa.corpus import Corpus  # noqa: E402
from qa.doc_index import document_index  # noqa: E402
from qa.lookup import MAX_FUZZY_QUOTE, lookup  # noqa: E402

ARTICLES = ROOT.parent / "shared" / "eval" / "squad2-dev" / "articles"
SWAP_SHARE = 0.15
_WORD = re.compile(r"[A-Za-z]+")


def originals(folders: list[Path] | None = None) -> list[tuple[Document, list[tuple[int, int, list]]]]:
    """The articles (default: squad2-dev's) with their paragraphs and sentence spans, split once."""
    out = []
    for path in discover(folders or [ARTICLES]):
        document = prepare(read_document(path))
        if document is None:
            continue
        paragraphs = [(p.start, p.end, split_sentences(document.text, p)) for p in paragraph_spans(document.text)]
        out.append((document, paragraphs))
    return out


def replicate(text: str, vocabulary: dict[int, list[str]], rng: np.random.Generator) -> str:
    """The text with a share of its words replaced by random words of the same length."""
    pieces, cursor = [], 0
    for match in _WORD.finditer(text):
        word = match[0]
        pool = vocabulary.get(len(word))
        if pool and rng.random() < SWAP_SHARE:
            new = pool[int(rng.integers(len(pool)))]
            pieces.extend([text[cursor : match.start()], new.capitalize() if word[0].isupper() else new])
            cursor = match.end()
    pieces.append(text[cursor:])
    return "".join(pieces)


def build_corpus(target: int, seed: int, folders: list[Path] | None = None) -> Corpus:
    """At least `target` passages: the originals, then replicas with words swapped, until enough."""
    rng = np.random.default_rng(seed)
    base = originals(folders)
    words = {w.lower() for document, _ in base for w in _WORD.findall(document.text)}
    vocabulary: dict[int, list[str]] = {}
    for word in sorted(words):
        vocabulary.setdefault(len(word), []).append(word)
    documents: dict[str, Document] = {}
    passages: list[Passage] = []
    replica = 0
    while len(passages) < target:
        for original, paragraphs in base:
            text = original.text if replica == 0 else replicate(original.text, vocabulary, rng)
            doc = Document(id=f"{original.id}-{replica}", title=original.title, text=text, source=original.source,
                           content_hash=content_hash(text), metadata=original.metadata)
            documents[doc.id] = doc
            for n, (start, end, sentences) in enumerate(paragraphs):
                passages.append(Passage(id=span_id(doc, start, end), doc_id=doc.id, ordinal=n,
                                        start=start, end=end, sentences=sentences))
            if len(passages) >= target:
                break
        replica += 1
    scratch = Path(tempfile.mkdtemp(prefix="bench-lookup-"))
    atexit.register(shutil.rmtree, scratch, True)  # the corpus maps these files until the run ends
    folder = scratch / "bench"
    # The BM25 index is made of the sentences' words: they are written, with zero vectors.
    by_doc: dict[str, list[Passage]] = {}
    for passage in passages:
        by_doc.setdefault(passage.doc_id, []).append(passage)
    sentences = [s for doc_id, doc_passages in by_doc.items() for s in sentence_records(documents[doc_id], doc_passages)]
    snapshot = Snapshot(documents=documents, passages=passages, sentences=sentences,
                        sentence_vectors=np.zeros((len(sentences), 384), dtype=np.float32))
    write(folder, from_snapshot(snapshot), State("bench", 0))
    return Corpus.open(folder)


def _typos(text: str, rng: np.random.Generator, count: int = 2) -> str:
    words = [m for m in _WORD.finditer(text) if len(m[0]) >= 5]
    for match in sorted(rng.choice(len(words), size=min(count, len(words)), replace=False), reverse=True):
        a = words[match].start() + 1
        text = text[:a] + text[a + 1] + text[a] + text[a + 2 :]
    return text


def draw_quotes(corpus: Corpus, n: int, seed: int) -> list[tuple[str, str, str, int, int]]:
    """(kind, quote, doc_id, start, end) with the source span the quote was taken from."""
    rng = np.random.default_rng(seed)
    words = sorted({w for d in list(corpus.documents.values())[:40] for w in _WORD.findall(d.text)})
    out = []
    hostile = {"hostile-400": MAX_FUZZY_QUOTE, "hostile-2000": 2000}
    for kind in ("exact", "normalized", "fuzzy", "cut", "absent", *hostile):
        for _ in range(n):
            if kind == "absent":
                out.append((kind, " ".join(words[int(i)] for i in rng.integers(len(words), size=14)), "", 0, 0))
                continue
            if kind in hostile:
                quote = ""
                while len(quote) < hostile[kind]:
                    quote += words[int(rng.integers(len(words)))] + " "
                out.append((kind, quote[: hostile[kind]].strip(), "", 0, 0))
                continue
            passage = corpus.passages[int(rng.integers(len(corpus.passages)))]
            text = corpus.documents[passage.doc_id].text
            spans = [m.span() for m in re.finditer(r"\S+", text[passage.start : passage.end])]
            if len(spans) < 12:
                continue
            first = int(rng.integers(len(spans) - 10))
            last = min(len(spans) - 1, first + int(rng.integers(8, 30)))
            start, end = passage.start + spans[first][0], passage.start + spans[last][1]
            if kind == "cut":  # inside the first and the last word
                start += min(2, spans[first][1] - spans[first][0] - 1)
                end -= min(2, spans[last][1] - spans[last][0] - 1)
            quote = text[start:end]
            if kind == "normalized":
                quote = quote.replace(" ", "  ").replace("'", "’").upper()
            elif kind == "fuzzy":
                quote = _typos(quote, rng)
            out.append((kind, quote, passage.doc_id, start, end))
    return out


def correct(kind: str, response, source: str) -> bool:
    """The best match is the source text (the same words may stand in several replicas, so
    any place holding exactly that text is right), of the expected kind; absent: not found."""
    if kind == "absent" or kind.startswith("hostile"):
        return not response.found
    if not response.found:
        return False
    best = response.matches[0]
    expected = {"exact": "exact", "cut": "exact", "normalized": "normalized", "fuzzy": "fuzzy"}[kind]
    return best.kind == expected and best.citation.quote == source


def _percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--quotes", type=int, default=100, help="quotes per kind")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "lookup.json")
    args = parser.parse_args()
    if not ARTICLES.exists():
        print(f"missing {ARTICLES}", file=sys.stderr)
        return 1
    started = time.perf_counter()
    corpus = build_corpus(args.passages, args.seed)
    build_seconds = time.perf_counter() - started
    started = time.perf_counter()
    document_index(corpus)
    index_seconds = time.perf_counter() - started
    quotes = draw_quotes(corpus, args.quotes, args.seed)
    lookup(corpus, quotes[0][1])  # warm-up: first calls load the stemmer and stop words
    results: dict[str, dict[str, float]] = {}
    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}  # unaffected by other processes on a shared machine
    right: dict[str, int] = {}
    for kind, quote, doc_id, start, end in quotes:
        t0, c0 = time.perf_counter(), time.process_time()
        response = lookup(corpus, quote)
        wall.setdefault(kind, []).append((time.perf_counter() - t0) * 1000)
        cpu.setdefault(kind, []).append((time.process_time() - c0) * 1000)
        source = corpus.documents[doc_id].text[start:end] if doc_id else ""
        right[kind] = right.get(kind, 0) + correct(kind, response, source)
    wall["all"] = [ms for values in wall.values() for ms in values]
    cpu["all"] = [ms for values in cpu.values() for ms in values]
    for kind, values in wall.items():
        results[kind] = {"quotes": len(values), "p50_ms": _percentile(values, 50), "p99_ms": _percentile(values, 99),
                         "max_ms": round(max(values), 2), "cpu_p50_ms": _percentile(cpu[kind], 50),
                         "cpu_p99_ms": _percentile(cpu[kind], 99)}
        if kind != "all":
            results[kind]["accuracy"] = round(right[kind] / len(values), 4)
    report = {"passages": len(corpus.passages), "documents": len(corpus.documents),
              "corpus_build_seconds": round(build_seconds, 1), "document_index_seconds": round(index_seconds, 2),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load_average": [round(x, 2) for x in os.getloadavg()]},
              "results": results}
    print(f"{report['passages']} passages in {report['documents']} documents "
          f"(built in {build_seconds:.0f} s, document index {index_seconds:.2f} s)")
    header = ["quotes", "p50 ms", "p99 ms", "max ms", "cpu p50", "cpu p99"]
    print(f"{'kind':<11}{header[0]:>7}" + "".join(f"{h:>9}" for h in header[1:]) + f"{'accuracy':>10}")
    for kind, row in results.items():
        accuracy = f"{row['accuracy']:.3f}" if "accuracy" in row else ""
        print(f"{kind:<11}{row['quotes']:>7}{row['p50_ms']:>9.2f}{row['p99_ms']:>9.2f}{row['max_ms']:>9.2f}"
              f"{row['cpu_p50_ms']:>9.2f}{row['cpu_p99_ms']:>9.2f}{accuracy:>10}")
    write_report(args.output, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
