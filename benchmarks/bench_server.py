"""Load benchmark of the real HTTP server, against the bare embed + Chroma floor.

Per corpus (the seeds, and the squad2-dev articles when ../shared/eval is there):
1. `qa ingest` into a temporary data dir: passages per second from its report;
2. `qa serve` on a free port of 127.0.0.1: cold start = process start to first answered /ask;
3. /ask under a bounded async httpx loop from this process, at concurrency 1 and 16
   (each phase stops at --duration seconds or --max-requests requests), with the server's
   RSS and CPU time per request read from /proc;
4. the same load on benchmarks/floor_app.py (embed + Chroma query only) over the same data
   dir, started after the server stopped, so the two never share the cores;
5. embedding each question with the int8 MiniLM on one thread in this process, with no server
   running: /ask's p50 and p99 at concurrency 1 as multiples of that (the answer path's speed
   budget: at most 12x and 30x, since the reader reads a few sentences per question).

    .venv/bin/python benchmarks/bench_server.py --duration 20 --corpus both   # or: make bench

The load generator shares the machine with the server: on 2 cores it takes some of the
CPU at concurrency 16, so req/s there is a lower bound. Results go to --output as JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
from reporting import write_report  # noqa: E402  (beside this script)

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "eval"
CONCURRENCIES = (1, 16)
WARMUP_REQUESTS = 20
START_TIMEOUT_S = 120.0
INGEST_TIMEOUT_S = 3600.0
# Asked when seed-dev is absent: questions the seed articles answer.
SEED_FALLBACK_QUESTIONS = ("How much did China-Russia trade reach in 2023?",
                           "What did Putin and Xi sign in Beijing?")


def corpora() -> dict[str, tuple[Path, list[str]]]:
    """Name -> (folder to ingest, questions to ask), for the corpora present."""
    out: dict[str, tuple[Path, list[str]]] = {}
    seed_dev = EVAL / "seed-dev" / "questions.jsonl"
    out["seeds"] = (ROOT / "seeds", _questions(seed_dev) if seed_dev.exists() else list(SEED_FALLBACK_QUESTIONS))
    squad = EVAL / "squad2-dev"
    if (squad / "articles").is_dir() and (squad / "questions.jsonl").exists():
        out["squad"] = (squad / "articles", _questions(squad / "questions.jsonl"))
    return out


def _questions(path: Path) -> list[str]:
    questions = [json.loads(line)["question"] for line in path.read_text("utf-8").splitlines() if line.strip()]
    random.Random(0).shuffle(questions)  # a fixed mix of articles, the same in every run
    return questions


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(data_dir: Path) -> dict[str, str]:
    return os.environ | {
        "QA_DATA_DIR": str(data_dir), "QA_MODEL_CACHE_DIR": str(ROOT / "data" / "models"),
        "QA_RATE_LIMIT_PER_MINUTE": "0",  # one client IP sends everything
        "QA_WORKERS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
    }


def ingest(folder: Path, env: dict[str, str]) -> dict[str, float]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "qa.cli", "ingest", "--quiet", str(folder)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=INGEST_TIMEOUT_S, check=True)
    match = re.search(r"(\d+) passages, (\d+) sentences in ([\d.]+) s", done.stdout)
    if not match:
        raise RuntimeError(f"unexpected ingest report: {done.stdout!r} {done.stderr[-2000:]!r}")
    passages, sentences, seconds = int(match[1]), int(match[2]), float(match[3])
    return {"passages": passages, "sentences": sentences, "seconds": seconds,
            "passages_per_s": round(passages / seconds, 1), "process_seconds": round(time.perf_counter() - started, 1)}


# ---- /proc readings ---------------------------------------------------------------------------
def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- servers -------------------------------------------------------------------------------------
class Server:
    """A server subprocess on a free local port; stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, command: Callable[[int], list[str]], env: dict[str, str], log_file: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log_file.open("w")
        self.started = time.perf_counter()
        self.process = subprocess.Popen(command(self.port), env=env | {"QA_PORT": str(self.port)}, cwd=ROOT,
                                        stdout=self._log, stderr=subprocess.STDOUT)
        self.log_file = log_file

    def wait_ready(self, path: str, body: dict, timeout_s: float = START_TIMEOUT_S) -> float:
        """Seconds from process start to the first 200 on `path`."""
        deadline = self.started + timeout_s
        with httpx.Client(timeout=5.0) as client:
            while time.perf_counter() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"server exited with {self.process.returncode}: "
                                       f"{self.log_file.read_text()[-2000:]}")
                try:
                    if client.post(self.url + path, json=body).status_code == 200:
                        return time.perf_counter() - self.started
                except httpx.TransportError:
                    pass  # not listening yet
                time.sleep(0.02)
        raise RuntimeError(f"no answer from {self.url}{path} within {timeout_s} s")

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *_) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)
        self._log.close()


def qa_server(port: int) -> list[str]:
    return [sys.executable, "-m", "qa.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]


def floor_server(port: int) -> list[str]:
    # --app-dir: pysbd installs a top-level package named `benchmarks` that would shadow this folder.
    return [sys.executable, "-m", "uvicorn", "floor_app:create_app", "--factory", "--app-dir", str(ROOT / "benchmarks"),
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]


# ---- load -----------------------------------------------------------------------------------------
def latency_summary(latencies_s: list[float]) -> dict[str, float]:
    if not latencies_s:
        return {"p50_ms": float("nan"), "p90_ms": float("nan"), "p99_ms": float("nan")}
    ms = np.asarray(latencies_s) * 1000
    return {f"p{q}_ms": round(float(np.percentile(ms, q)), 2) for q in (50, 90, 99)}


async def _load(url: str, bodies: list[dict], concurrency: int, duration: float, max_requests: int) -> dict:
    latencies: list[float] = []
    errors = 0
    issued = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:
        started = time.perf_counter()
        deadline = started + duration

        async def worker() -> None:
            nonlocal issued, errors
            while issued < max_requests and time.perf_counter() < deadline:
                body = bodies[issued % len(bodies)]
                issued += 1
                sent = time.perf_counter()
                try:
                    ok = (await client.post(url, json=body)).status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - sent)
                else:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"requests": len(latencies), "errors": errors, "seconds": round(elapsed, 2),
            "req_per_s": round(len(latencies) / elapsed, 1), **latency_summary(latencies)}


def measure(server: Server, path: str, bodies: list[dict], duration: float, max_requests: int) -> dict:
    """Warm up, then one bounded phase per concurrency, with the server's RSS and CPU cost."""
    url = server.url + path
    asyncio.run(_load(url, bodies, 1, duration, WARMUP_REQUESTS))
    pid = server.process.pid
    out: dict = {"rss_mb_before": rss_mb(pid)}
    for concurrency in CONCURRENCIES:
        cpu_before, client_before = cpu_seconds(pid), time.process_time()
        phase = asyncio.run(_load(url, bodies, concurrency, duration, max_requests))
        phase["server_cpu_ms_per_request"] = round(
            (cpu_seconds(pid) - cpu_before) * 1000 / max(phase["requests"], 1), 2)
        phase["client_cpu_s"] = round(time.process_time() - client_before, 2)
        out[f"c{concurrency}"] = phase
        print(f"    {path} c={concurrency:<2} {phase['req_per_s']:7.1f} req/s  p50 {phase['p50_ms']:7.2f} ms  "
              f"p99 {phase['p99_ms']:7.2f} ms  server CPU {phase['server_cpu_ms_per_request']} ms/req  "
              f"errors {phase['errors']}", flush=True)
    out["rss_mb_after"] = rss_mb(pid)
    return out


def embedding_ms(questions: list[str]) -> float:
    """Median time to embed one question with the service's embedder on one thread."""
    from config import load_settings
    from index.embedding import load_embedder

    embedder = load_embedder(load_settings(environ=server_env(ROOT / "data")), threads=1)
    embedder.embed(questions[:5])  # warm-up
    times = []
    for question in questions[:200]:
        started = time.perf_counter()
        embedder.embed([question])
        times.append((time.perf_counter() - started) * 1000)
    return round(float(np.median(times)), 2)


def bench_corpus(name: str, folder: Path, questions: list[str], args: argparse.Namespace) -> dict:
    print(f"[{name}] ingesting {folder}", flush=True)
    bodies = [{"question": q} for q in questions]
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        env = server_env(Path(tmp) / "data")
        result: dict = {"questions": len(questions), "ingest": ingest(folder, env)}
        print(f"    ingest: {result['ingest']}", flush=True)
        with Server(qa_server, env, Path(tmp) / "qa.log") as server:
            result["cold_start_s"] = round(server.wait_ready("/ask", bodies[0]), 2)
            print(f"    cold start to first answer: {result['cold_start_s']} s", flush=True)
            result["ask"] = measure(server, "/ask", bodies, args.duration, args.max_requests)
        with Server(floor_server, env, Path(tmp) / "floor.log") as server:
            server.wait_ready("/floor", bodies[0])
            result["floor"] = measure(server, "/floor", bodies, args.duration, args.max_requests)
    result["embed_question_ms_p50"] = embedding_ms(questions)
    ask, floor = result["ask"], result["floor"]
    result["ask_over_embedding"] = {
        "p50_c1": round(ask["c1"]["p50_ms"] / result["embed_question_ms_p50"], 2),
        "p99_c1": round(ask["c1"]["p99_ms"] / result["embed_question_ms_p50"], 2),
        "budget": {"p50_c1": 12.0, "p99_c1": 30.0},
    }
    print(f"    embedding a question: p50 {result['embed_question_ms_p50']} ms; "
          f"/ask over embedding: {result['ask_over_embedding']}", flush=True)
    result["ask_over_floor"] = {
        "p50_c1": round(ask["c1"]["p50_ms"] / floor["c1"]["p50_ms"], 2),
        "throughput_c16": round(floor["c16"]["req_per_s"] / max(ask["c16"]["req_per_s"], 1e-9), 2),
    }
    print(f"    /ask over floor: {result['ask_over_floor']}", flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per load phase")
    parser.add_argument("--max-requests", type=int, default=100_000, help="request cap per load phase")
    parser.add_argument("--corpus", choices=["seeds", "squad", "both"], default="both")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "bench.json")
    args = parser.parse_args()

    available = corpora()
    wanted = ["seeds", "squad"] if args.corpus == "both" else [args.corpus]
    for name in wanted:
        if name not in available:
            print(f"[{name}] skipped: {EVAL / 'squad2-dev'} is not present", flush=True)
    report = {"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "cpus": os.cpu_count(),
              "load_average_at_start": os.getloadavg(), "duration_s": args.duration,
              "corpora": {name: bench_corpus(name, *available[name], args) for name in wanted if name in available}}
    write_report(args.output, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
