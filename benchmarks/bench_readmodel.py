"""What one write costs a reader at archive scale: the read model's new version after one
article is added (or removed), at N passages, without Chroma.

A synthetic read model (index/readmodel/) of N passages (5 per document, 4 sentences per
passage, 10 distinct words per sentence, 40 per passage, a 200k-word vocabulary, zero
vectors: only sizes matter here; documents dated over 25 years, from 20 outlets) is written once; then, `--writes` times, one article of 5
passages is added and the next version made as a reader makes it after a POST: `apply` (the
previous columns and the changed documents), `write` (the files), `read` (open them, with the
version before in hand), the `Corpus` over it and its document index (what filters and
citation lookups use, made by the first such request). Then one article is corrected (its
new text replaces the old) and one removed the same way.
The store's own part (the change log and the changed documents, ~0.1 s at 50k passages) and
Chroma's indexing are not included: bench_scale.py measures the whole path from the outside.

    .venv/bin/python benchmarks/bench_readmodel.py --passages 1000000 --data-dir /tmp/rm1m \
        [--writes 5] [--output benchmarks/results/readmodel.json]

Needs ~2.2 KB of disk per passage (1M: ~2.2 GB, most of it the vectors)."""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
from reporting import write_report

ROOT = Path(__file__).resolve().parents[1]

from index.documents import Document, Passage, Span, content_hash, span_id
from index.lexical import Postings
from index.readmodel import format as readmodel
from index.readmodel import writing
from index.store import Snapshot, sentence_records
from qa.corpus import Corpus
from qa.doc_index import document_index

PASSAGES_PER_DOCUMENT, SENTENCES_PER_PASSAGE, WORDS_PER_SENTENCE, WORDS_PER_PASSAGE = 5, 4, 10, 40
VOCABULARY = 200_000


def synthetic(passages: int, rng: np.random.Generator) -> readmodel.Columns:
    documents_count = passages // PASSAGES_PER_DOCUMENT
    passages = documents_count * PASSAGES_PER_DOCUMENT
    sentences = passages * SENTENCES_PER_PASSAGE
    days = rng.integers(date(2000, 1, 1).toordinal(), date(2025, 1, 1).toordinal(), documents_count)
    documents = [Document(id=f"doc{d:07d}", title=f"Story {d} about w{d % VOCABULARY}", text="x" * 3000,
                          source=f"doc{d}.txt", content_hash=content_hash(f"text {d}"),
                          metadata={"date": date.fromordinal(int(day)).isoformat(), "publisher": f"Outlet {d % 20}"})
                 for d, day in enumerate(days)]
    starts = np.tile(np.arange(PASSAGES_PER_DOCUMENT) * 600, documents_count)
    passage_rows = np.stack([np.repeat(np.arange(documents_count), PASSAGES_PER_DOCUMENT), starts, starts + 590], 1)
    sentence_starts = np.repeat(starts, SENTENCES_PER_PASSAGE) + np.tile(np.arange(SENTENCES_PER_PASSAGE) * 150, passages)
    ids = np.array([f"{i:020x}".encode() for i in rng.integers(0, 2**62, sentences)], dtype=readmodel.ID_DTYPE)
    passage_terms = rng.integers(0, VOCABULARY, passages * WORDS_PER_PASSAGE).astype(np.int32)
    passage_counts = rng.integers(1, 4, passages * WORDS_PER_PASSAGE).astype(np.int32)
    return readmodel.Columns(
        documents=documents, passages=passage_rows.astype(np.int32),
        sentence_bounds=np.arange(0, sentences + 1, SENTENCES_PER_PASSAGE, dtype=np.int64),
        sentences=np.stack([sentence_starts, sentence_starts + 140], 1).astype(np.int32),
        sentence_ids=ids, sentence_keys=readmodel.id_keys(ids),
        term_ids=rng.integers(0, VOCABULARY, sentences * WORDS_PER_SENTENCE).astype(np.int32),
        term_bounds=np.arange(0, sentences * WORDS_PER_SENTENCE + 1, WORDS_PER_SENTENCE, dtype=np.int64),
        passage_lengths=passage_counts.reshape(passages, WORDS_PER_PASSAGE).sum(1).astype(np.int32),
        removed=np.zeros(documents_count, dtype=bool),
        vocabulary=[f"w{i}" for i in range(VOCABULARY)],
        vectors=readmodel.Vectors.of(np.zeros((sentences, readmodel.VECTOR_DIM), dtype=np.float16)),
        bm25=readmodel.Bm25(Postings.of(0, passage_terms, passage_counts,
                                        np.arange(0, passages * WORDS_PER_PASSAGE + 1, WORDS_PER_PASSAGE),
                                        VOCABULARY), Postings.empty()))


def article(n: int, edition: str = "") -> Snapshot:
    """A store snapshot of one article: 5 passages of 4 sentences (another `edition`: a correction)."""
    text = " ".join(f"Sentence {k} of article {n} says w{k * 7 + n} met w{k + n} in Paris{edition}." for k in range(20))
    document = Document(id=f"new{n}", title=f"New article {n}", text=text, source=f"new{n}.txt",
                        content_hash=content_hash(text))
    ends = [text.index(".", text.index(f"Sentence {k} ")) + 1 for k in range(20)]
    starts = [0] + [end + 1 for end in ends[:-1]]
    passages, sentences = [], []
    for p in range(PASSAGES_PER_DOCUMENT):
        spans = [Span(starts[k], ends[k]) for k in range(p * 4, p * 4 + 4)]
        passage = Passage(id=span_id(document, spans[0].start, spans[-1].end), doc_id=document.id, ordinal=p,
                          start=spans[0].start, end=spans[-1].end, sentences=spans)
        passages.append(passage)
        sentences += sentence_records(document, [passage])
    return Snapshot(documents={document.id: document}, passages=passages, sentences=sentences,
                    sentence_vectors=np.ones((len(sentences), readmodel.VECTOR_DIM), dtype=np.float32))


def next_version(corpus: Corpus, root: Path, name: str, changed: set[str], snapshot: Snapshot) -> tuple[Corpus, dict]:
    times = {}
    t0 = time.perf_counter()
    columns = writing.apply(corpus.columns, changed, snapshot)
    times["apply"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    writing.write(root / name, columns, readmodel.State(name, 0))
    times["write"] = time.perf_counter() - t0
    del columns
    t0 = time.perf_counter()
    version = readmodel.read(root / name, corpus.version)
    times["read"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    opened = Corpus(version, corpus)
    times["corpus"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    document_index(opened)
    times["document_index"] = time.perf_counter() - t0
    times["total"] = sum(times.values())
    return opened, {k: round(v, 3) for k, v in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=1_000_000)
    parser.add_argument("--data-dir", type=Path, required=True, help="emptied first")
    parser.add_argument("--writes", type=int, default=5)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "readmodel.json")
    args = parser.parse_args()
    if args.writes < 2:
        parser.error("--writes must be at least 2 (the articles added are then corrected and removed)")
    root = args.data_dir / "readmodel" / "bench"
    shutil.rmtree(args.data_dir / "readmodel", ignore_errors=True)
    rng = np.random.default_rng(0)

    t0 = time.perf_counter()
    columns = synthetic(args.passages, rng)
    passages, sentences = len(columns.passages), len(columns.sentences)
    built = time.perf_counter() - t0
    t0 = time.perf_counter()
    writing.write(root / "g0", columns, readmodel.State("g0", 0))
    written = time.perf_counter() - t0
    del columns
    t0 = time.perf_counter()
    corpus = Corpus(readmodel.read(root / "g0"))
    opened = time.perf_counter() - t0
    t0 = time.perf_counter()
    document_index(corpus)
    indexed = time.perf_counter() - t0
    print(f"{passages:,} passages, {sentences:,} sentences: synthesised {built:.1f} s, written {written:.1f} s, "
          f"opened {opened:.2f} s, document index {indexed:.2f} s")

    adds = []
    for n in range(args.writes):
        corpus, times = next_version(corpus, root, f"g{n + 1}", {f"new{n}"}, article(n))
        adds.append(times)
        print(f"add one article: {times}")
    corpus, correction = next_version(corpus, root, "corrected", {"new1"}, article(1, " (corrected)"))
    print(f"correct one article: {correction}")
    empty = Snapshot(documents={}, passages=[], sentences=[], sentence_vectors=np.zeros((0, readmodel.VECTOR_DIM)))
    corpus, removal = next_version(corpus, root, "removed", {"new0"}, empty)
    print(f"remove one article: {removal}")
    median = {k: round(float(np.median([a[k] for a in adds])), 3) for k in adds[0]}
    print(f"median of {len(adds)} adds: {median}")
    report = {"passages": passages, "sentences": sentences, "cpus": os.cpu_count(), "machine": platform.machine(),
              "load_average_at_start": list(os.getloadavg()), "first_write_s": round(written, 2),
              "first_open_s": round(opened, 2), "first_document_index_s": round(indexed, 2), "add_one_article_s": adds, "add_one_article_median_s": median,
              "correct_one_article_s": correction, "remove_one_article_s": removal}
    write_report(args.output, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
