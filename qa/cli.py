"""The `qa` command line: ingest, delete, ask, search, cite, verify, serve, eval, feeds, export-onnx."""

from __future__ import annotations

import argparse
import ctypes
import json
import logging
import os
import sys
from pathlib import Path

import msgspec

from config import Settings, load_settings
from qa import feeds_cli
from qa.references import STYLES
from qa.schemas import Filters, QuestionText, QuoteChange, TopK


def _valid(kind, what: str):
    """An argparse type that applies the API's own bounds (so `qa` and HTTP refuse the same input)."""
    def parse(text: str):
        try:
            return msgspec.convert(int(text) if kind is TopK else text, kind)
        except (ValueError, msgspec.ValidationError) as exc:
            raise argparse.ArgumentTypeError(f"invalid {what}: {exc}") from None
    return parse


def _service(settings: Settings):
    """A read-only service: it may run beside a server that writes the same embedded store."""
    from qa.service import QAService

    return QAService.open(settings, writer=False, watch=False)  # answers once and exits


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from qa.service import open_writer

    missing = [p for p in args.paths if not p.exists()]
    for path in missing:
        print(f"warning: {path} does not exist", file=sys.stderr)
    # Ingest owns the machine: the writer's embedder uses every core. The writer also publishes
    # the read model's new version: servers open it instead of reading Chroma.
    report = open_writer(settings).ingest_files([p for p in args.paths if p.exists()], args.follow_links,
                                                progress=not args.quiet, replace=args.replace)
    for path, reason in report.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    if report.taken:
        print(f"{len(report.taken)} file(s) skipped because another file's document holds their id: "
              "rename them, or ingest them with --replace to replace those documents", file=sys.stderr)
    print(f"added {len(report.added)}, replaced {len(report.replaced)}, unchanged {len(report.unchanged)}, "
          f"skipped {len(report.skipped)}; {report.passages} passages, {report.sentences} sentences "
          f"in {report.seconds:.1f} s")
    return 1 if missing and not (report.added or report.replaced or report.unchanged) else 0


def cmd_delete(args: argparse.Namespace, settings: Settings) -> int:
    from qa.service import open_writer

    writer = open_writer(settings)
    status = 0
    for doc_id in args.doc_ids:
        if writer.delete(doc_id):
            print(f"deleted {doc_id}")
        else:
            print(f"no document with id {doc_id!r}", file=sys.stderr)
            status = 1
    return status


def _filters(args: argparse.Namespace) -> Filters:
    """The filter options of ask and search, validated as the API validates its `filters`."""
    try:
        return msgspec.convert({"doc_ids": args.doc_id, "published_from": args.published_from,
                                "published_to": args.published_to, "publisher": args.publisher,
                                "author": args.author, "undated": args.undated}, Filters)
    except msgspec.ValidationError as exc:
        print(f"error: invalid filter: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _add_filter_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("filters (all given must hold)")
    group.add_argument("--doc-id", action="append", help="only this document (repeat for several)")
    group.add_argument("--from", dest="published_from", metavar="YYYY-MM-DD", help="published on or after")
    group.add_argument("--to", dest="published_to", metavar="YYYY-MM-DD", help="published on or before")
    group.add_argument("--publisher", help="the outlet (any case)")
    group.add_argument("--author", help="part of an author's name (any case)")
    group.add_argument("--undated", choices=("exclude", "include"), default="exclude",
                       help="whether a date filter keeps articles without a known date (default: exclude)")


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    response = _service(settings).ask(args.question, args.top_k, _filters(args))
    if args.json:
        print(msgspec.json.encode(response).decode())
        return 0
    print(response.answer)
    for c in response.citations:
        marked = f"  answer: {c.answer_text!r}" if c.answer_text else ""
        print(f"  [{c.n}] {c.title} ({c.doc_id}, chars {c.start}-{c.end}){marked}")
    if not response.answered:
        for r in response.related:
            print(f"  related: {r.title} ({r.doc_id}, chars {r.start}-{r.end})")
    print(f"  confidence {response.confidence:.2f}, {response.took_ms:.0f} ms")
    return 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    response = _service(settings).search(args.query, args.k, _filters(args))
    for hit in response.hits:
        print(f"{hit.rank:>2}. {hit.score:.4f} {hit.title} [{hit.doc_id} {hit.start}-{hit.end}]\n    {hit.text[:200]}")
    return 0


def _in_context(citation, width: int = 160) -> str:
    """The quote marked »like this« inside its paragraph, clipped to `width` characters each side."""
    text, qs, qe = citation.paragraph.text, citation.quote_start_in_paragraph, citation.quote_end_in_paragraph
    before, after = text[:qs], text[qe:]
    before = ("…" + before[-width:].split(" ", 1)[-1]) if len(before) > width else before
    after = (after[:width].rsplit(" ", 1)[0] + "…") if len(after) > width else after
    return f"{before}»{citation.quote}«{after}"


def cmd_cite(args: argparse.Namespace, settings: Settings) -> int:
    service = _service(settings)
    response = service.lookup(args.quote, args.limit, args.min_similarity)
    if args.json:
        print(msgspec.json.encode(response).decode())
        return 0 if response.found else 1
    if not response.found:
        print(response.message, file=sys.stderr)
        return 1
    for n, match in enumerate(response.matches, start=1):
        c = match.citation
        print(f"{n}. {match.kind} (similarity {match.similarity:.2f}) {c.title} [{c.doc_id}, chars {c.start}-{c.end}]")
        print(f"   id {c.id}")
        print(f"   {_in_context(c)}")
        if args.style:
            print("   " + service.reference(c.doc_id, args.style).strip().replace("\n", "\n   "))
    return 0


# ANSI colours: green, yellow, red, magenta
_STATUS_COLOURS = {"exact": "32", "close": "33", "misquoted": "31", "not_found": "35"}


def _gravity(change: QuoteChange) -> tuple[bool, bool]:
    """Reversals first, then the other misquotes, then what convention allows."""
    return change.allowed, change.kind != "reversal"


def _describe(change: QuoteChange) -> str:
    """A change of a quotation in words, as the verify page says it too."""
    draft, source = f"\u201c{change.draft}\u201d", f"\u201c{change.source}\u201d"
    if change.kind in ("ellipsis", "cut") and change.draft:
        return f"{draft} leaves out {source}" if change.source else f"{draft} marks where the quote is cut"
    if change.kind == "cut":
        return f"the quote is cut before or after {source}"
    if change.kind == "brackets":
        return f"{draft} stands for {source}" if change.source else f"{draft} is the writer's insertion"
    return (f"the text adds {draft}" if not change.source else f"the text leaves out {source}" if not change.draft
            else f"the source says {source}, the text {draft}")


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from qa.verify import TooMuchToVerify

    try:
        text = sys.stdin.read() if str(args.file) == "-" else args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    try:
        response = _service(settings).verify(text, args.mode)
    except TooMuchToVerify as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    flagged = response.counts["misquoted"] + response.counts["not_found"]
    if args.json:
        print(msgspec.json.encode(response).decode())
        return 1 if flagged else 0
    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    for n, result in enumerate(response.quotes, start=1):
        line = text.count("\n", 0, result.start) + 1
        label = result.status.replace("_", " ").upper()
        label = f"\033[{_STATUS_COLOURS[result.status]}m{label}\033[0m" if colour else label
        print(f"{n}. {label} (line {line}) \u201c{result.quote}\u201d")
        for change in sorted(result.changes, key=_gravity):
            kind = change.kind.upper() if change.kind == "reversal" else change.kind
            kind = f"\033[1;31m{kind}\033[0m" if colour and change.kind == "reversal" else kind
            print(f"   {'allowed, ' if change.allowed else ''}{kind}: {_describe(change)}")
        if result.source is not None:
            s = result.source
            print(f"   source: {s.title} [{s.doc_id}, chars {s.start}-{s.end}] similarity {result.similarity:.2f}, "
                  f"citation {s.id}")
    counts = ", ".join(f"{count} {status.replace('_', ' ')}" for status, count in response.counts.items())
    print(f"{len(response.quotes)} {args.mode} checked: {counts}" if response.quotes else f"no {args.mode} to check")
    return 1 if flagged else 0


SHUTDOWN_GRACE_SECONDS = 3  # after SIGTERM, how long requests in flight get to finish
MALLOC_ARENAS = 2  # glibc's default is 8 per core


def limit_malloc_arenas() -> None:
    """Cap glibc's malloc arenas for the server and the processes it starts, unless
    MALLOC_ARENA_MAX is set already. Each thread that allocates (uvicorn's, Chroma's,
    onnxruntime's) can take an arena of its own, each keeping what was freed in it: under the
    mixed soak, with uploads, RSS grew about a third as fast with two (docs/hardening.md)."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    os.environ["MALLOC_ARENA_MAX"] = str(MALLOC_ARENAS)  # read by glibc in workers and children as they start
    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, MALLOC_ARENAS)  # M_ARENA_MAX, for this process, before its threads
    except (OSError, AttributeError):
        pass  # not glibc


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from index.store import Store

    limit_malloc_arenas()

    workers = args.workers or settings.workers
    if workers > 1 and settings.store_mode == "embedded":
        print("error: several workers need the Chroma server (QA_STORE_MODE=http); "
              "an embedded store has a single writing process", file=sys.stderr)
        return 2
    # A damaged, locked or unreachable store stops the start here with one clear line,
    # not deep inside a worker's start-up traceback.
    store = Store.open(settings)
    if settings.store_mode == "embedded":  # this process is its one writer: settle what a failed write left
        if orphans := store.remove_orphans():
            print(f"removed {orphans} records left by an interrupted write", file=sys.stderr)
    export_models(settings)  # once here, not racing in every worker
    if args.ingest_seeds:
        seeds = Path(settings.seeds_dir)
        if seeds.exists():
            cmd_ingest(argparse.Namespace(paths=[seeds], quiet=False, follow_links=False, replace=False), settings)
    # Settings reach the workers through the environment (QA_* variables).
    os.environ["QA_HOST"], os.environ["QA_PORT"] = args.host or settings.host, str(args.port or settings.port)
    # The rate limit keys on the client address: only listed proxies may name another one
    # (uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1, letting it be rotated).
    uvicorn.run("qa.api.app:create_app", factory=True, host=args.host or settings.host, port=args.port or settings.port,
                workers=workers, log_level="info", access_log=False,  # the app logs each request once, with its id
                proxy_headers=bool(settings.trusted_proxies),
                forwarded_allow_ips=settings.trusted_proxies or None,
                # SIGTERM ends the process within seconds: requests still running then (a write
                # stuck in the store) are abandoned, not waited for.
                timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS)
    return 0


def export_models(settings: Settings) -> list[Path]:
    """The ONNX files the service runs, exported from the packaged weights if not yet cached:
    the embedder's (when it runs on onnxruntime) and the reader's (when one ships)."""
    from index.embedding import model_path
    from index.onnx_export import ensure_onnx_model
    from index.reader_model import ensure_onnx
    from qa.reader import WEIGHTS_FILE

    base, cache = model_path(settings), Path(settings.model_cache_dir)
    files = []
    if settings.embedder == "onnx":
        files.append(ensure_onnx_model(base, cache, settings.onnx_variant))
    if WEIGHTS_FILE.exists():
        files.append(ensure_onnx(base, WEIGHTS_FILE, cache))
    return files


def cmd_export_onnx(args: argparse.Namespace, settings: Settings) -> int:
    for path in export_models(settings.replace(embedder="onnx", onnx_variant="int8")):
        print(f"{path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from qa.evaluation import run_cli

    return run_cli(args, settings)


def cmd_compare(args: argparse.Namespace, settings: Settings) -> int:
    from qa.evaluation import compare_reports, read_report

    try:
        print(json.dumps(compare_reports([read_report(p) for p in args.new], [read_report(p) for p in args.old]),
                         indent=2))
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description="Citation-first question answering over news articles.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="add or update articles (.txt, .md, .html files or folders)")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--follow-links", action="store_true",
                   help="also ingest symbolic links that point outside the folders given")
    p.add_argument("--replace", action="store_true",
                   help="let a file replace a stored document of the same id read from a file of another name "
                        "(a.txt after a.html); without it such a file is skipped and reported. A file of the same "
                        "name always replaces its own document")
    p.set_defaults(run=cmd_ingest)

    p = sub.add_parser("delete", help="remove documents by id")
    p.add_argument("doc_ids", nargs="+")
    p.set_defaults(run=cmd_delete)

    p = sub.add_parser("ask", help="answer a question with cited quotes")
    p.add_argument("question", type=_valid(QuestionText, "question"))
    p.add_argument("--top-k", type=_valid(TopK, "--top-k (1-50)"), default=None)
    p.add_argument("--json", action="store_true", help="print the API's JSON response")
    _add_filter_options(p)
    p.set_defaults(run=cmd_ask)

    p = sub.add_parser("search", help="ranked passages for a query")
    p.add_argument("query", type=_valid(QuestionText, "query"))
    p.add_argument("-k", type=_valid(TopK, "-k (1-50)"), default=10)
    _add_filter_options(p)
    p.set_defaults(run=cmd_search)

    p = sub.add_parser("cite", help="find where a quote comes from, with context and a reference")
    p.add_argument("quote")
    p.add_argument("--limit", type=int, default=5)
    p.add_argument("--min-similarity", type=float, default=0.8, help="lowest similarity of a close match")
    p.add_argument("--style", choices=STYLES, help="also print a reference per match")
    p.add_argument("--json", action="store_true", help="print the API's JSON response")
    p.set_defaults(run=cmd_cite)

    p = sub.add_parser("verify", help="check every quotation of a text against the articles (exit 1 if any is "
                                      "misquoted or not found)")
    p.add_argument("file", type=Path, help="a text file, or - for standard input")
    p.add_argument("--mode", choices=("quotes", "sentences"), default="quotes",
                   help="check the quotations (default) or every sentence")
    p.add_argument("--json", action="store_true", help="print the API's JSON response")
    p.set_defaults(run=cmd_verify)

    p = sub.add_parser("serve", help="run the HTTP API")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int)
    p.add_argument("--ingest-seeds", action="store_true", help="ingest the seeds folder first (skips unchanged files)")
    p.set_defaults(run=cmd_serve)

    p = sub.add_parser("eval", help="measure retrieval, answers and abstention on a dataset")
    p.add_argument("dataset", type=Path, help="a folder such as ../shared/eval/seed-dev or ../shared/eval/squad2-dev")
    p.add_argument("--limit", type=int, default=None, help="evaluate a random sample of N questions")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", type=Path, default=None, help="where to write the JSON report")
    p.add_argument("--features", type=Path, default=None, help="also write per-question features (JSON lines)")
    p.add_argument("--compare", type=Path, default=None, metavar="OLD.json",
                   help="also give the paired difference against an earlier report of the same set")
    p.set_defaults(run=cmd_eval)

    p = sub.add_parser("compare", help="paired difference of eval reports: right decisions, utility, AUC")
    p.add_argument("new", type=Path, nargs="+", help="reports of `qa eval --output` (several are pooled)")
    p.add_argument("--old", type=Path, nargs="+", required=True, help="the earlier reports of the same sets")
    p.set_defaults(run=cmd_compare)

    feeds_cli.add_parser(sub)

    p = sub.add_parser("export-onnx", help="export the embedding model and the reader to ONNX (made on first use otherwise)")
    p.set_defaults(run=cmd_export_onnx)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Our matrix products are small: a second BLAS thread only spins, doubling CPU per request.
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except (msgspec.ValidationError, OSError) as exc:
        print(f"error: invalid settings: {exc}", file=sys.stderr)
        return 2
    from index.store import StoreUnavailable
    from index.writefaults import DiskFull, WriterBusy

    from qa.filters import UnknownDocuments

    try:
        return args.run(args, settings)
    except (StoreUnavailable, DiskFull, WriterBusy) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except UnknownDocuments as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
