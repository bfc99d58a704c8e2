"""Ingest speed, stage by stage, against the embedding floor measured in the same run.

On the squad2-dev, news-dev and seed articles (real text, no memoisation):
1. reading and cleaning the files (`read_document` + `prepare`);
2. sentence splitting and passage building (`chunk`: pysbd and the token counter);
3. the rest of the records (sentence ids) without embedding;
4. the embedding floor: every sentence embedded with the ingest embedder (int8 MiniLM, all
   cores), nothing else;
5. Chroma writes of the finished records (`Store.write_documents`, ingest's batches), into
   a fresh store;
6. a whole `ingest` into another fresh store.
The stores are embedded ones unless the `QA_*` settings name a Chroma server
(`QA_STORE_MODE=http QA_CHROMA_PORT=P`): there each stage writes collections of its own,
removed at the end.
Prints passages per second for each and the whole ingest as a share of the floor (issue 12:
stages 1-3 and 5 together at >= 300 passages/s, the whole ingest >= 0.8x the floor).

    .venv/bin/python benchmarks/bench_ingest.py
    QA_STORE_MODE=http QA_CHROMA_PORT=8124 .venv/bin/python benchmarks/bench_ingest.py  # a running `chroma run`

Writes benchmarks/results/ingest.json."""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path

from reporting import write_report  # noqa: E402  (beside this script)

ROOT = Path(__file__).resolve().parents[1]

from config import load_settings  # noqa: E402
from index import pipeline  # noqa: E402
from index.embedding import load_embedder  # noqa: E402
from index.loading import discover_with_ids, read_document  # noqa: E402
from index.store import DocumentRecords, Store, sentence_records  # noqa: E402

SHARED = ROOT.parent / "shared" / "eval"
FOLDERS = [SHARED / "squad2-dev" / "articles", SHARED / "news-dev" / "articles", ROOT / "seeds"]


def _timed(run):
    started = time.perf_counter()
    value = run()
    return value, time.perf_counter() - started


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as scratch:  # its stores go with it
        return measure(Path(scratch))


def measure(scratch: Path) -> int:
    folders = [f for f in FOLDERS if f.exists()]
    settings = load_settings(environ={**os.environ, "QA_DATA_DIR": str(scratch / "data")})
    embedder = load_embedder(settings, threads=os.cpu_count() or 1)  # as `qa ingest` loads it
    files, _ = discover_with_ids(folders, follow_links=False)
    documents, read_s = _timed(lambda: [d for d in (pipeline.prepare(read_document(p, i)) for p, i in files) if d])
    chunks, split_s = _timed(lambda: [pipeline.chunk(d, embedder, settings) for d in documents])
    passages = sum(len(c) for c in chunks)

    sentences, records_s = _timed(lambda: [sentence_records(d, ps) for d, ps in zip(documents, chunks)])
    texts = [[d.text[s.start : s.end] for s in ss] for d, ss in zip(documents, sentences)]
    vectors, embed_s = _timed(lambda: [embedder.embed(t) for t in texts])
    records = [DocumentRecords(document=d, passages=ps, passage_vectors=pipeline.passage_centroids(ps, v),
                               sentences=ss, sentence_vectors=v)
               for d, ps, ss, v in zip(documents, chunks, sentences, vectors)]
    run = uuid.uuid4().hex[:8]  # a server keeps every run's collections apart (and they are dropped below)
    store = Store.open(settings.replace(data_dir=str(scratch / "write")), prefix=f"bench-write-{run}")

    def write():
        batch: list[DocumentRecords] = []
        for item in records:
            batch.append(item)
            if sum(len(r.passages) for r in batch) >= pipeline.WRITE_BATCH_PASSAGES:
                store.write_documents(batch, ingested_at="bench")
                batch = []
        if batch:
            store.write_documents(batch, ingested_at="bench")

    _, write_s = _timed(write)
    whole_settings = settings.replace(data_dir=str(scratch / "whole"))
    whole_store = Store.open(whole_settings, prefix=f"bench-whole-{run}")
    report, whole_s = _timed(lambda: pipeline.ingest(folders, whole_store, embedder, whole_settings, progress=False))
    for used in (store, whole_store):
        used.drop()
    sentence_count = sum(len(s) for s in sentences)
    stages = {"read_and_clean": read_s, "split_and_chunk": split_s, "sentence_records": records_s,
              "embedding_floor": embed_s, "chroma_writes": write_s}
    rates = {name: round(passages / seconds, 1) for name, seconds in stages.items()}
    without_embedding = read_s + split_s + records_s + write_s
    result = {
        "documents": len(documents), "passages": passages, "sentences": sentence_count,
        "seconds": {name: round(seconds, 2) for name, seconds in stages.items()} | {"whole_ingest": round(whole_s, 2)},
        "passages_per_s": rates | {"all_but_embedding": round(passages / without_embedding, 1),
                                   "whole_ingest": round(report.passages / whole_s, 1)},
        "sentences_embedded_per_s": round(sentence_count / embed_s, 1),
        "whole_over_floor": round((report.passages / whole_s) / (passages / embed_s), 2),
        "targets": {"all_but_embedding_passages_per_s": 300, "whole_over_floor": 0.8},
        "store_mode": settings.store_mode,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average": [round(x, 2) for x in os.getloadavg()]},
    }
    print(f"{settings.store_mode} store: {len(documents)} documents, {passages} passages, {sentence_count} sentences")
    for name, seconds in stages.items():
        print(f"  {name:<18} {seconds:7.2f} s  {rates[name]:8.1f} passages/s")
    print(f"  {'all but embedding':<18} {without_embedding:7.2f} s  {result['passages_per_s']['all_but_embedding']:8.1f}"
          f" passages/s (target 300)")
    print(f"  {'whole ingest':<18} {whole_s:7.2f} s  {result['passages_per_s']['whole_ingest']:8.1f} passages/s = "
          f"{result['whole_over_floor']}x the embedding floor (target 0.8x)")
    write_report(ROOT / "benchmarks" / "results" / "ingest.json", result)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
