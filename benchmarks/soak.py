"""Bounded soak test: a mixed load (/ask, /search, /documents, quote lookups and verifies) at
fixed concurrency against a server on the loopback interface, with an article uploaded every
few seconds (replacing earlier uploads of a rotating set of names), for a fixed time, counting
every error and sampling the server's resident memory (from its /metrics) to show whether it
stays flat; the RSS samples over time are in the report.

    .venv/bin/python benchmarks/soak.py                   # 10 minutes, concurrency 16, own server
    .venv/bin/python benchmarks/soak.py --duration 30     # a quick check
    .venv/bin/python benchmarks/soak.py --url http://127.0.0.1:8000   # an already running server

Without --url it ingests the seeds into a temporary data dir and starts `qa serve` there
(rate limit off: every request comes from one address). The run stops at --duration seconds
or --max-requests requests, whichever comes first. Exit status 1 if any request failed."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlparse

import httpx
from bench_server import ROOT, Server, corpora, ingest, latency_summary, qa_server, server_env

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
RSS_SAMPLE_EVERY_S = 10.0
WARMUP_S = 5.0  # first requests allocate caches; memory is measured from after this
MIX = (("ask", 0.55), ("search", 0.15), ("list", 0.05), ("document", 0.05), ("lookup", 0.1), ("verify", 0.1))
UPLOAD_EVERY_S = 2.0  # one article written at a time, beside the reads
UPLOAD_NAMES = 20  # uploads rotate over this many file names: each replaces an earlier version
API_KEY = os.environ.get("QA_API_KEY") or "soak-api-key"  # a --url server's own key, from the environment
QUOTES: list[str] = []  # sentences of the seeds (quotes_of), filled in by main


def resident_mb(client: httpx.Client, url: str) -> float:
    for line in client.get(f"{url}/metrics").text.splitlines():
        if line.startswith("process_resident_memory_bytes "):
            return round(float(line.split()[1]) / 2**20, 1)
    raise RuntimeError(f"{url}/metrics has no process_resident_memory_bytes")


def quotes_of(seeds: Path) -> list[str]:
    """Sentences of the seed articles, to look up and to quote in texts to verify."""
    sentences = [s.strip() + "." for path in sorted(seeds.glob("*.txt"))
                 for s in path.read_text().replace("\n", " ").split(". ") if 60 < len(s) < 300]
    return sentences[:: max(1, len(sentences) // 200)]


def request_for(kind: str, questions: list[str], doc_ids: list[str], rng: random.Random) -> tuple[str, str, dict]:
    if kind == "lookup":
        return "POST", "/citations/lookup", {"json": {"quote": rng.choice(QUOTES)}}
    if kind == "verify":
        quoted = " ".join(f"She said \u201c{rng.choice(QUOTES)}\u201d and left." for _ in range(3))
        return "POST", "/citations/verify", {"json": {"text": quoted}}
    if kind == "ask":
        return "POST", "/ask", {"json": {"question": rng.choice(questions)}}
    if kind == "search":
        return "GET", "/search", {"params": {"q": rng.choice(questions), "k": 5}}
    if kind == "list":
        return "GET", "/documents", {}
    return "GET", f"/documents/{rng.choice(doc_ids)}", {}


async def load(url: str, questions: list[str], doc_ids: list[str], concurrency: int, seconds: float,
               max_requests: int) -> dict:
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: Counter[str] = Counter()
    samples: list[str] = []
    issued = 0
    kinds, weights = zip(*MIX)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60.0, limits=limits) as client:
        started = time.perf_counter()
        deadline = started + seconds

        async def worker(n: int) -> None:
            nonlocal issued
            rng = random.Random(n)
            while issued < max_requests and time.perf_counter() < deadline:
                issued += 1
                kind = rng.choices(kinds, weights)[0]
                method, path, options = request_for(kind, questions, doc_ids, rng)
                sent = time.perf_counter()
                try:
                    response = await client.request(method, path, **options)
                    failure = None if response.status_code == 200 else f"{response.status_code} {response.text[:200]}"
                except httpx.HTTPError as exc:
                    failure = f"{type(exc).__name__}: {exc}"
                if failure is None:
                    latencies[kind].append(time.perf_counter() - sent)
                else:
                    errors[kind] += 1
                    if len(samples) < 20:
                        samples.append(f"{method} {path}: {failure}")

        await asyncio.gather(*(worker(n) for n in range(concurrency)))
        elapsed = time.perf_counter() - started
    done = sum(len(v) for v in latencies.values())
    return {"seconds": round(elapsed, 1), "requests": done + sum(errors.values()), "errors": sum(errors.values()),
            "req_per_s": round(done / elapsed, 1), "error_samples": samples,
            "by_endpoint": {k: {"requests": len(latencies[k]), "errors": errors[k], **latency_summary(latencies[k])}
                            for k in kinds}}


async def upload_every(url: str, seconds: float) -> dict:
    """POST /documents every UPLOAD_EVERY_S: a seed article under a new edition line, over a
    rotating set of names, so that the corpus changes all along but does not grow without end."""
    seeds = sorted((ROOT / "seeds").glob("*.txt"))
    done, errors, latencies, n = 0, Counter(), [], 0
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(base_url=url, timeout=120.0, headers={"X-API-Key": API_KEY}) as client:
        while time.perf_counter() < deadline:
            text = f"Edition {n} of this report, issued on day {n + 1}.\n\n{seeds[n % len(seeds)].read_text()}"
            sent = time.perf_counter()
            response = await client.post("/documents", json={"filename": f"soak-{n % UPLOAD_NAMES}.txt",
                                                               "content": text})
            if response.status_code == 200:
                done += 1
                latencies.append(time.perf_counter() - sent)
            else:
                errors[str(response.status_code)] += 1
            n += 1
            await asyncio.sleep(max(0.0, UPLOAD_EVERY_S - (time.perf_counter() - sent)))
    return {"requests": done, "errors": dict(errors), **latency_summary(latencies)}


async def soak(url: str, questions: list[str], args: argparse.Namespace) -> dict:
    with httpx.Client(timeout=30.0) as client:
        doc_ids = [d["id"] for d in client.get(f"{url}/documents").json()["documents"]]
        if not doc_ids:
            raise SystemExit(f"{url} has no documents: ingest some first")
        await load(url, questions, doc_ids, args.concurrency, WARMUP_S, args.max_requests)
        rss = [(0.0, resident_mb(client, url))]
        print(f"soak: {args.duration:.0f} s at concurrency {args.concurrency} against {url}; "
              f"RSS after warm-up {rss[0][1]} MB", flush=True)

        async def sample_memory() -> None:
            started = time.perf_counter()
            while True:
                await asyncio.sleep(RSS_SAMPLE_EVERY_S)
                rss.append((round(time.perf_counter() - started, 1), await asyncio.to_thread(resident_mb, client, url)))
                print(f"  {rss[-1][0]:6.0f} s  RSS {rss[-1][1]} MB", flush=True)

        sampler = asyncio.create_task(sample_memory())
        writer = asyncio.create_task(upload_every(url, args.duration))
        result = await load(url, questions, doc_ids, args.concurrency, args.duration, args.max_requests)
        sampler.cancel()
        result["uploads"] = await writer
        rss.append((result["seconds"], resident_mb(client, url)))
    return {**result, "rss_start_mb": rss[0][1], "rss_end_mb": rss[-1][1], "rss_max_mb": max(m for _, m in rss),
            "rss_growth_mb": round(rss[-1][1] - rss[0][1], 1), "rss_samples": rss}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load after a short warm-up")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-requests", type=int, default=1_000_000, help="request cap")
    parser.add_argument("--url", help="a running server on this machine (default: start one on the seeds)")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "soak.json")
    args = parser.parse_args()
    if args.url and urlparse(args.url).hostname not in LOOPBACK:
        parser.error("--url must point at this machine's loopback interface (127.0.0.1, localhost or ::1)")

    folder, questions = corpora()["seeds"]
    QUOTES.extend(quotes_of(folder))
    report: dict = {"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "cpus": os.cpu_count(),
                    "duration_s": args.duration, "concurrency": args.concurrency, "mix": dict(MIX)}
    if args.url:
        report |= asyncio.run(soak(args.url.rstrip("/"), questions, args))
    else:
        with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
            # Lookups and verifies have their own, lower rate limit: off too, one address sends everything.
            env = server_env(Path(tmp) / "data") | {"QA_API_KEY": API_KEY, "QA_EXPENSIVE_RATE_LIMIT_PER_MINUTE": "0"}
            ingest(folder, env)
            with Server(qa_server, env, Path(tmp) / "qa.log") as server:
                server.wait_ready("/ask", {"question": questions[0]})
                report |= asyncio.run(soak(server.url, questions, args))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{report['uploads']['requests']} uploads, errors {report['uploads']['errors']}")
    print(f"{report['requests']} requests, {report['errors']} errors, {report['req_per_s']} req/s; RSS "
          f"{report['rss_start_mb']} -> {report['rss_end_mb']} MB (max {report['rss_max_mb']}); wrote {args.output}")
    return 1 if report["errors"] or report["uploads"]["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
