"""Reads while a large upload is written: /ask latency at concurrency 1 against a real server
(seeds), first idle, then while POST /uploads writes an article of many short sentences (the
probe of issue 30: 115 KB, 7,000 sentences). The budget is /ask p99 under 100 ms meanwhile.

    .venv/bin/python benchmarks/bench_write_contention.py                 # 3 uploads
    .venv/bin/python benchmarks/bench_write_contention.py --uploads 1 --output F.json

Prints the numbers and writes them as JSON (default benchmarks/results/write_contention.json)."""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from bench_server import ROOT, Server, corpora, ingest, latency_summary, qa_server, server_env
from reporting import write_report

API_KEY = "bench-write-contention"
IDLE_S = 10.0
BUDGET_P99_MS = 100.0
WORDS = ("council", "harbour", "budget", "river", "school", "market", "bridge", "station", "museum", "garden")


def big_article(seed: int, sentences: int = 7000) -> str:
    """About 115 KB of short sentences, 20 to a paragraph (the probe's upload)."""
    rng = random.Random(seed)
    lines = [f"The {rng.choice(WORDS)} {rng.choice(('rose', 'fell', 'held'))} {rng.randint(1, 99)}." for _ in
             range(sentences)]
    return "\n\n".join(" ".join(lines[i : i + 20]) for i in range(0, sentences, 20))


def ask_until(client: httpx.Client, questions: list[str], stop: threading.Event, seconds: float | None) -> list[float]:
    """/ask latencies (s), one request at a time, until `stop` is set or `seconds` pass."""
    latencies, n = [], 0
    deadline = time.perf_counter() + seconds if seconds else float("inf")
    while not stop.is_set() and time.perf_counter() < deadline:
        sent = time.perf_counter()
        response = client.post("/ask", json={"question": questions[n % len(questions)]})
        response.raise_for_status()
        latencies.append(time.perf_counter() - sent)
        n += 1
    return latencies


def run(url: str, questions: list[str], uploads: int) -> dict:
    with httpx.Client(base_url=url, timeout=120.0) as client, httpx.Client(base_url=url, timeout=600.0) as writer:
        idle = ask_until(client, questions, threading.Event(), IDLE_S)
        during: list[float] = []
        upload_seconds = []
        for n in range(uploads):
            content = big_article(n).encode()
            stop, result = threading.Event(), {}

            def upload() -> None:
                started = time.perf_counter()
                response = writer.post("/uploads", headers={"X-API-Key": API_KEY},
                                       files={"file": (f"contention-{n}.txt", content, "text/plain")})
                result["seconds"], result["status"] = time.perf_counter() - started, response.status_code
                stop.set()

            thread = threading.Thread(target=upload)
            thread.start()
            during += ask_until(client, questions, stop, None)
            thread.join()
            if result["status"] != 200:
                raise RuntimeError(f"upload {n} answered {result['status']}")
            upload_seconds.append(round(result["seconds"], 2))
            print(f"upload {n}: {len(content) / 1000:.0f} KB in {result['seconds']:.2f} s", flush=True)
    summary = {"idle": {"requests": len(idle), **latency_summary(idle), "max_ms": round(max(idle) * 1000, 1)},
               "during_upload": {"requests": len(during), **latency_summary(during),
                                 "max_ms": round(max(during) * 1000, 1)},
               "upload_seconds": upload_seconds, "upload_kb": round(len(big_article(0).encode()) / 1000, 1)}
    summary["within_budget"] = summary["during_upload"]["p99_ms"] < BUDGET_P99_MS
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--uploads", type=int, default=3, help="large uploads, one after another")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "write_contention.json")
    args = parser.parse_args()
    folder, questions = corpora()["seeds"]
    report: dict = {"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "cpus": os.cpu_count(),
                    "budget_p99_ms": BUDGET_P99_MS}
    with tempfile.TemporaryDirectory(prefix="contention-") as tmp:
        env = server_env(Path(tmp) / "data") | {"QA_API_KEY": API_KEY}
        ingest(folder, env)
        with Server(qa_server, env, Path(tmp) / "qa.log") as server:
            server.wait_ready("/ask", {"question": questions[0]})
            report |= run(server.url, questions, args.uploads)
    for phase in ("idle", "during_upload"):
        p = report[phase]
        print(f"/ask {phase}: {p['requests']} requests, p50 {p['p50_ms']:.1f} ms, p99 {p['p99_ms']:.1f} ms, "
              f"max {p['max_ms']:.1f} ms")
    write_report(args.output, report)
    return 0 if report["within_budget"] else 1


if __name__ == "__main__":
    sys.exit(main())
