"""Scale benchmark: a store of many passages synthesised from the squad2-dev articles,
then in-process question answering (QAService.ask) on it and where its time goes.

Documents are made by recombining an article's paragraphs (one sentence swapped in from
another paragraph, sentences rotated), written through index.pipeline.records and Store.write_documents as ingest
does; the build reports its rate and its split between sentence splitting, embedding and
Chroma writes. Then each sampled squad2-dev question is asked with the components timed
by wrapping them: embedding, BM25 scoring, the Chroma query (inside dense scoring),
answer composition, and the rest; and asked again restricted to 50 random documents (a
filter), to set beside it. Memory: RSS before and after opening the corpus, per
sentence, and after asking (memory-mapped pages count once touched). Last, one new article
is ingested and the seconds until it is answered from are reported.

    .venv/bin/python benchmarks/bench_scale.py --passages 5000              # minutes
    .venv/bin/python benchmarks/bench_scale.py --passages 100000 --data-dir /tmp/scale100k
--data-dir keeps the store; run again with the same dir to skip the build."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, nullcontext
from functools import wraps
from pathlib import Path

import httpx
import numpy as np

from config import Settings, load_settings
from index import pipeline
from index.documents import Document, content_hash
from index.embedding import Embedder, load_embedder
from index.readmodel import publish
from index.store import Store
from qa.answer import Composer
from qa.retrieval import Retriever
from qa.schemas import Filters
from qa.service import QAService
from bench_server import Server, qa_server, rss_mb  # noqa: E402  (beside this script)
from reporting import write_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SQUAD = ROOT.parent / "shared" / "eval" / "squad2-dev"
PARAGRAPHS_PER_DOCUMENT = 8
PROGRESS_EVERY_S = 15.0
WARMUP_QUESTIONS = 10
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")  # good enough to recombine, not to cite


class Timings:
    """Wall time of every call of wrapped methods, by label, in the current round."""

    def __init__(self) -> None:
        self.round: dict[str, float] = defaultdict(float)

    @contextmanager
    def wrap(self, owner: object, name: str, label: str) -> Iterator[None]:
        original = getattr(owner, name, None)
        if original is None:
            print(f"  note: {owner!r} has no {name}; {label} is not timed", flush=True)
            yield
            return

        @wraps(original)
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.round[label] += time.perf_counter() - started

        own = name in vars(owner)  # else it came from the class: deleting the wrapper restores it
        setattr(owner, name, timed)
        try:
            yield
        finally:
            if own:
                setattr(owner, name, original)
            else:
                delattr(owner, name)

    def take(self) -> dict[str, float]:
        out, self.round = dict(self.round), defaultdict(float)
        return out


def squad_articles() -> list[tuple[str, list[list[str]]]]:
    """(title, paragraphs as sentence lists) per article; the file format is in SQUAD/README.md."""
    out = []
    for path in sorted((SQUAD / "articles").glob("*.txt")):
        parts = path.read_text("utf-8")[:-1].split("\n\n")
        out.append((parts[0], [_SENTENCE_END.split(p.strip()) for p in parts[1:]]))
    return out


def synthetic_documents(articles: list[tuple[str, list[list[str]]]], rng: random.Random) -> Iterator[Document]:
    for n in itertools.count():
        title, paragraphs = rng.choice(articles)
        # A numbered first line (it merges into the first passage) makes every document distinct.
        body = [f"{title}: report {n}."]
        for _ in range(PARAGRAPHS_PER_DOCUMENT):
            sentences = list(rng.choice(paragraphs))
            sentences[rng.randrange(len(sentences))] = rng.choice(rng.choice(paragraphs))
            turn = rng.randrange(len(sentences))
            body.append(" ".join(sentences[turn:] + sentences[:turn]))
        text = "\n\n".join(body)
        yield Document(id=f"synth-{n:06d}", title=f"{title} (report {n})", text=text, source="synthetic",
                       content_hash=content_hash(text))


class MemoEmbedder:
    """Embeds each distinct text once. Synthetic documents reuse the squad sentences, and a
    text's vector does not depend on what it is embedded with (one text per run), so the
    stored vectors are exactly those ingest would write, at a fraction of the build time."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        self._memo: dict[str, np.ndarray] = {}
        self.dimension = inner.dimension

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self._inner.count_tokens(texts)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if missing:
            self._memo.update(zip(missing, self._inner.embed(missing)))
        return np.stack([self._memo[t] for t in texts]) if texts else self._inner.embed([])


def build(settings: Settings, passages: int, seed: int, memo: bool) -> dict:
    """Write synthetic documents until the store holds `passages` passages."""
    store = Store.open(settings)
    # Like `qa ingest`: the build owns the machine, the embedder gets every core.
    embedder: Embedder = load_embedder(settings, threads=os.cpu_count() or 1)
    if memo:
        embedder = MemoEmbedder(embedder)
    timings = Timings()
    written = sentences = documents = 0
    started = last_report = time.perf_counter()
    with ExitStack() as stack:
        stack.enter_context(timings.wrap(pipeline, "chunk", "split"))
        stack.enter_context(timings.wrap(embedder, "embed", "embed"))
        stack.enter_context(timings.wrap(store, "write_documents", "chroma_write"))
        batch: list = []
        writer = pipeline.BatchWriter(store, nullcontext(), settings)  # as ingest writes, beside the embedding
        stack.callback(writer.close)
        for document in synthetic_documents(squad_articles(), random.Random(seed)):
            if written >= passages:
                break
            batch.append(pipeline.records(document, embedder, settings))
            written, sentences, documents = written + len(batch[-1].passages), sentences + len(batch[-1].sentences), documents + 1
            if sum(len(r.passages) for r in batch) >= pipeline.WRITE_BATCH_PASSAGES:  # as ingest batches its writes
                writer.submit(batch)
                batch.clear()
            if time.perf_counter() - last_report >= PROGRESS_EVERY_S:
                last_report = time.perf_counter()
                print(f"  {written} passages, {written / (last_report - started):.1f} passages/s", flush=True)
        if batch:
            writer.submit(batch)
    write_seconds = time.perf_counter() - started
    read_model_started = time.perf_counter()
    publish(store, settings)  # the read model, as `qa ingest` leaves it
    read_model_seconds = time.perf_counter() - read_model_started
    seconds = write_seconds + read_model_seconds
    return {"documents": documents, "passages": written, "sentences": sentences, "seconds": round(seconds, 1),
            "passages_per_s": round(written / seconds, 1),
            "breakdown_s": {k: round(v, 1) for k, v in timings.take().items()} | {"read_model_caches": round(read_model_seconds, 1)},
            "estimated_100k_build_min": round(100_000 / (written / seconds) / 60, 1)}


def questions(count: int, seed: int) -> list[str]:
    lines = (SQUAD / "questions.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line)["question"] for line in random.Random(seed).sample(lines, min(count, len(lines)))]


def ask_profile(service: QAService, asked: list[str], max_seconds: float) -> dict:
    """Median and tail of QAService.ask, and per-component medians (ms per question)."""
    for question in asked[:WARMUP_QUESTIONS]:
        service.ask(question)
    timings = Timings()
    totals: list[float] = []
    rounds: list[dict[str, float]] = []
    components: list[tuple[object, str, str]] = [
        (service.embedder, "embed", "embed"), (Retriever, "lexical_scores", "lexical_bm25"),
        (Retriever, "dense_scores", "dense"), (Store, "query_sentences", "chroma_query"),
        (Composer, "compose", "compose"),
    ]
    deadline = time.perf_counter() + max_seconds
    with ExitStack() as stack:
        for owner, name, label in components:
            stack.enter_context(timings.wrap(owner, name, label))
        for question in asked:
            if time.perf_counter() > deadline:
                break
            started = time.perf_counter()
            service.ask(question)
            totals.append(time.perf_counter() - started)
            rounds.append(timings.take())
    labels = [label for _, _, label in components]
    per = {label: np.array([r.get(label, 0.0) for r in rounds]) * 1000 for label in labels}
    # dense_scores contains the Chroma query; "other" is what no component accounts for.
    per["dense_without_chroma"] = per["dense"] - per["chroma_query"]
    per["other"] = np.array(totals) * 1000 - sum(per[k] for k in ("embed", "lexical_bm25", "dense", "compose"))
    ms = np.array(totals) * 1000
    return {"questions": len(totals), "p50_ms": round(float(np.median(ms)), 2),
            "p90_ms": round(float(np.percentile(ms, 90)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2),
            "components_p50_ms": {k: round(float(np.median(v)), 2) for k, v in per.items()},
            "components_mean_ms": {k: round(float(np.mean(v)), 2) for k, v in per.items()}}


FILTER_DOCUMENTS = 50  # documents a filtered question may draw on (a researcher's selection)


def filtered_ask_profile(service: QAService, asked: list[str], seed: int) -> dict:
    """Median and tail of QAService.ask restricted to FILTER_DOCUMENTS random documents (a
    new draw per question), to set beside the unfiltered figures of the same run."""
    rng = random.Random(seed)
    doc_ids = list(service.corpus.documents)
    ms = []
    for question in asked:
        filters = Filters(doc_ids=rng.sample(doc_ids, min(FILTER_DOCUMENTS, len(doc_ids))))
        started = time.perf_counter()
        service.ask(question, filters=filters)
        ms.append((time.perf_counter() - started) * 1000)
    return {"questions": len(ms), "documents_kept": min(FILTER_DOCUMENTS, len(doc_ids)),
            "p50_ms": round(float(np.median(ms)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2)}


NEW_ARTICLE = ROOT / "seeds" / "000_05abd8f469b4269b.txt"
NEW_QUESTION = "How much did trade between China and Russia reach in 2023?"
REPLICA_START_TIMEOUT_S = 900.0  # a replica with an empty data dir reads the whole store from Chroma


def write_profile(service: QAService, settings: Settings) -> dict:
    """Seconds from ingesting one new article (a seed, under a new id) to its being answered
    from: the ingest (split, embed, Chroma writes) and the new read model version (change log,
    the new document's records from Chroma, the next version in numpy, written and opened)."""
    with tempfile.TemporaryDirectory(prefix="bench-write-") as tmp:
        path = Path(tmp) / f"new-article-{time.time_ns()}.txt"
        path.write_text(NEW_ARTICLE.read_text("utf-8"), "utf-8")
        embedder = load_embedder(settings, threads=os.cpu_count() or 1)  # as service.ingest loads it
        started = time.perf_counter()
        pipeline.ingest([path], service.store, embedder, settings, progress=False)
        written = time.perf_counter()
        service.refresh()
        opened = time.perf_counter()
        response = service.ask(NEW_QUESTION, filters=Filters(doc_ids=[path.stem]))
        answered = time.perf_counter()
        service.delete(path.stem)  # the store stays as built for the next run
        deleted = time.perf_counter()
    return {"ingest_s": round(written - started, 2), "next_version_s": round(opened - written, 2),
            "post_to_answer_s": round(answered - started, 2), "answered_from_new_article": response.answered,
            "delete_to_gone_s": round(deleted - answered, 2)}


def replica_profile(settings: Settings, data_dir: Path, count: int, asked: list[str], shared: bool,
                    peer: bool) -> dict:
    """`count` API replicas (`qa serve`) against the same Chroma server, each with its own
    data dir as on separate machines, or (`shared`) the data dir the build left its read model
    in, as compose.yaml's replicas share the volume that `qa ingest` or an earlier replica wrote:
    their start (a replica with its own dir writes its read model from Chroma, one on the
    shared dir opens the version there; with `peer`, every replica after the first starts
    with an empty data dir and copies the first one's read model, `read_model_peer`), their RSS when ready
    and after answering `asked`, and the seconds from a POST /documents to one replica until
    the article is answered from on every replica, then from its DELETE until no replica has
    it (twice: the first write also loads the writer's ingest embedder)."""
    key = uuid.uuid4().hex
    env = {**os.environ, "QA_STORE_MODE": "http", "QA_CHROMA_HOST": settings.chroma_host,
           "QA_CHROMA_PORT": str(settings.chroma_port), "QA_COLLECTION": settings.collection, "QA_API_KEY": key,
           "QA_MODEL_CACHE_DIR": settings.model_cache_dir, "QA_RATE_LIMIT_PER_MINUTE": "0"}
    with ExitStack() as stack:
        replicas, ready_s = [], []
        for n in range(count):
            own_dir = data_dir if shared else data_dir / f"replica-{n}"
            own_env = env | {"QA_DATA_DIR": str(own_dir)}
            if peer and n:
                shutil.rmtree(own_dir, ignore_errors=True)
                own_env["QA_READ_MODEL_PEER"] = f"http://127.0.0.1:{replicas[0].port}"
            replica = stack.enter_context(Server(qa_server, own_env, data_dir / f"replica-{n}.log"))
            ready = replica.wait_ready("/ask", {"question": NEW_QUESTION}, timeout_s=REPLICA_START_TIMEOUT_S)
            print(f"  replica {n} ready in {ready:.1f} s", flush=True)
            ready_s.append(round(ready, 1))
            replicas.append(replica)
        ports = [r.port for r in replicas]
        rss_ready = [rss_mb(r.process.pid) for r in replicas]
        for port in ports:  # memory-mapped pages count once questions touched them
            for question in asked:
                httpx.post(f"http://127.0.0.1:{port}/ask", json={"question": question}, timeout=30).raise_for_status()
        rss_asked = [rss_mb(r.process.pid) for r in replicas]
        visible, gone = [], []
        for _ in range(2):  # the first write also loads the replica's ingest embedder
            doc_id = f"replica-article-{time.time_ns()}"
            ask = {"question": NEW_QUESTION, "filters": {"doc_ids": [doc_id]}}
            started = time.perf_counter()
            httpx.post(f"http://127.0.0.1:{ports[0]}/documents", headers={"X-API-Key": key}, timeout=600,
                       json={"filename": f"{doc_id}.txt", "content": NEW_ARTICLE.read_text("utf-8")}
                       ).raise_for_status()
            visible.append(_until_all(ports, lambda port: _answered(port, ask), started))
            started = time.perf_counter()
            httpx.delete(f"http://127.0.0.1:{ports[0]}/documents/{doc_id}", headers={"X-API-Key": key},
                         timeout=600).raise_for_status()
            gone.append(_until_all(ports, lambda port: not _answered(port, ask), started))
    return {"replicas": count, "shared_data_dir": shared, "read_model_peer": peer, "ready_s": ready_s,
            "rss_mb_ready": rss_ready, "rss_mb_after_questions": rss_asked, "questions_asked_each": len(asked),
            "post_to_answerable_s": visible,
            "delete_to_gone_s": gone}


def _answered(port: int, ask: dict) -> bool:
    response = httpx.post(f"http://127.0.0.1:{port}/ask", json=ask, timeout=30)
    return response.status_code == 200 and response.json()["answered"]  # 400: no document matches the filter


def _until_all(ports: list[int], done, started: float, limit_s: float = 300.0) -> list[float]:
    """Seconds from `started` until `done(port)` held, per replica (polled every 50 ms)."""
    seconds: dict[int, float] = {}
    while len(seconds) < len(ports) and time.perf_counter() - started < limit_s:
        for port in ports:
            if port not in seconds and done(port):
                seconds[port] = round(time.perf_counter() - started, 2)
        time.sleep(0.05)
    return [seconds.get(port, float("nan")) for port in ports]


def run(args: argparse.Namespace, data_dir: Path) -> dict:
    settings = load_settings(data_dir=str(data_dir), model_cache_dir=str(ROOT / "data" / "models"))
    report: dict = {"target_passages": args.passages, "cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()}
    existing = Store.open(settings).counts()["passages"]
    if existing:
        print(f"reusing the store in {data_dir}: {existing} passages", flush=True)
        report["build"] = {"reused_passages": existing}
    else:
        print(f"building {args.passages} passages in {data_dir}", flush=True)
        report["build"] = build(settings, args.passages, args.seed, memo=not args.embed_every_sentence)
        print(f"  build: {report['build']}", flush=True)
    embedder = load_embedder(settings)
    report["rss_mb_before_open"] = rss_mb(os.getpid())
    started = time.perf_counter()
    service = QAService(settings, Store.open(settings), embedder)
    report["service_open_s"] = round(time.perf_counter() - started, 2)
    report["rss_mb_after_open"] = rss_mb(os.getpid())
    sentences = len(service.corpus.sentences)
    report["corpus_bytes_per_sentence"] = round(
        (report["rss_mb_after_open"] - report["rss_mb_before_open"]) * 2**20 / max(sentences, 1))
    print(f"service open (corpus load): {report['service_open_s']} s, RSS {report['rss_mb_before_open']} -> "
          f"{report['rss_mb_after_open']} MB, {report['corpus_bytes_per_sentence']} B per sentence "
          f"({sentences} sentences)", flush=True)
    report["ask"] = ask_profile(service, questions(args.questions, args.seed), args.ask_seconds)
    report["rss_mb_after_asking"] = rss_mb(os.getpid())  # memory-mapped pages count once a question touched them
    report["ask_filtered"] = filtered_ask_profile(service, questions(100, args.seed + 2), args.seed)
    print(f"filtered ask: {report['ask_filtered']} (unfiltered p50 {report['ask']['p50_ms']} ms)", flush=True)
    report["write"] = write_profile(service, settings)
    print(f"write: {report['write']}", flush=True)
    if args.replicas:
        service.close()
        report["replicas"] = replica_profile(settings, data_dir, args.replicas, questions(100, args.seed + 1),
                                             args.shared_data_dir, args.peer)
        print(f"replicas: {report['replicas']}", flush=True)
    print(f"ask: {json.dumps(report['ask'], indent=1)}", flush=True)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--questions", type=int, default=300, help="squad2-dev questions asked (a random sample)")
    parser.add_argument("--ask-seconds", type=float, default=120.0, help="time limit of the asking phase")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--embed-every-sentence", action="store_true",
                        help="embed repeated sentences again (measures ingest speed; slow at 100k)")
    parser.add_argument("--replicas", type=int, default=0,
                        help="also start this many `qa serve` replicas (QA_STORE_MODE=http only) and time a POST")
    parser.add_argument("--shared-data-dir", action="store_true",
                        help="the replicas share the data dir the build left its read model in, as "
                             "compose.yaml's replicas share their read-model volume")
    parser.add_argument("--peer", action="store_true",
                        help="replicas after the first start empty and copy the first one's read model")
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the store here (reused when present)")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "bench_scale.json")
    args = parser.parse_args()
    if not (SQUAD / "articles").is_dir():
        print(f"skipped: {SQUAD} is not present")
        return 0
    if args.data_dir:
        report = run(args, args.data_dir)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
            report = run(args, Path(tmp))
    write_report(args.output, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
