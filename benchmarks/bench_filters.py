"""Metadata filters: what a filter adds to a request, at ~100k passages and for the passage
mask at 1M passages.

The archive is bench_lookup's in-memory corpus (squad2-dev articles replicated until there are
enough passages), each document given a publication date (2000-2024; one in ten undated), one
of 20 publishers and an author. Timed per filter: `qa.filters.select` (documents matching)
plus `Corpus.doc_mask` (the passages they hold), the work a filtered request adds before
retrieval. The columns are built once per corpus (timed apart). The mask at 1M passages is
timed on synthetic document codes, as the operation is the same array comparison.

    .venv/bin/python benchmarks/bench_filters.py [--passages 100000] [--runs 200]

Prints a table and writes benchmarks/results/filters.json."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import msgspec
import numpy as np
from bench_lookup import build_corpus  # noqa: E402  (beside this script)
from reporting import write_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

from qa.doc_index import document_index  # noqa: E402
from qa.filters import select  # noqa: E402
from qa.schemas import Filters  # noqa: E402

PUBLISHERS = [f"Outlet {n}" for n in range(20)]


def with_metadata(corpus, rng: np.random.Generator) -> None:
    for doc_id, document in corpus.documents.items():
        metadata = {"publisher": PUBLISHERS[int(rng.integers(len(PUBLISHERS)))],
                    "author": f"Reporter {int(rng.integers(500))}"}
        if rng.random() >= 0.1:
            metadata["date"] = f"{int(rng.integers(2000, 2025))}-{int(rng.integers(1, 13)):02d}-15"
        corpus.documents[doc_id] = msgspec.structs.replace(document, metadata=metadata)


def _median_ms(run, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1000)
    return round(float(np.median(times)), 3), round(float(np.percentile(times, 99)), 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "filters.json")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    corpus = build_corpus(args.passages, args.seed)
    with_metadata(corpus, rng)
    t0 = time.perf_counter()
    document_index(corpus)
    columns_seconds = time.perf_counter() - t0
    some_ids = sorted(corpus.documents)[:: max(1, len(corpus.documents) // 50)][:50]
    filters = {
        "one year": {"published_from": "2023-01-01", "published_to": "2023-12-31"},
        "publisher": {"publisher": "outlet 7"},
        "author": {"author": "reporter 42"},
        "50 ids": {"doc_ids": some_ids},
        "year + publisher": {"published_from": "2020-01-01", "publisher": "Outlet 3"},
    }
    results = {}
    for name, given in filters.items():
        parsed = msgspec.convert(given, Filters)

        def run(parsed=parsed):
            corpus.doc_mask(select(corpus, parsed).doc_ids)

        p50, p99 = _median_ms(run, args.runs)
        kept = len(select(corpus, parsed).doc_ids)
        results[name] = {"p50_ms": p50, "p99_ms": p99, "documents_kept": kept}
    # Corpus.doc_mask's operation at 1M passages: a per-document table indexed by each passage's document.
    million = np.sort(rng.integers(0, 40_000, size=1_000_000))
    codes = rng.choice(40_000, size=1_600, replace=False)  # one year of 40k documents

    def mask_at_1m():
        kept = np.zeros(40_000, dtype=bool)
        kept[codes] = True
        return kept[million]

    mask_p50, mask_p99 = _median_ms(mask_at_1m, args.runs // 4)
    report = {"passages": len(corpus.passages), "documents": len(corpus.documents),
              "columns_build_seconds": round(columns_seconds, 3), "per_filter": results,
              "mask_at_1M_passages": {"documents": 40_000, "kept": len(codes), "p50_ms": mask_p50, "p99_ms": mask_p99},
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load_average": [round(x, 2) for x in os.getloadavg()]}}
    print(f"{report['passages']} passages, {report['documents']} documents "
          f"(columns built with the document index in {columns_seconds:.2f} s)")
    print(f"{'filter':<18}{'kept':>7}{'p50 ms':>9}{'p99 ms':>9}")
    for name, row in results.items():
        print(f"{name:<18}{row['documents_kept']:>7}{row['p50_ms']:>9.3f}{row['p99_ms']:>9.3f}")
    print(f"passage mask at 1M passages (40k documents, 1,600 kept): p50 {mask_p50} ms, p99 {mask_p99} ms")
    write_report(args.output, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
