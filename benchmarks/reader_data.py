"""The answer reader's training and held-out groups, as text: what
benchmarks/train_reader.py (CPU) and benchmarks/gpu_train.py (a lent GPU, through the bundle
benchmarks/gpu_bundle.py writes) train on and measure the learning curve on.

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

A group is a question with up to `size` candidates: its answer sentence (when kept) and
the hardest others (most of the question's rarer words; a sentence elsewhere that holds the
answer's text is left out, neither positive nor negative): {"question", "pairs": [(sentence,
context)], "labels": [0 or 1 per pair], "source"}. Everything here is deterministic given the
seed. `training_bundle` and `held_out_bundle` write them as token-level bundles
(benchmarks/reader_bundle.py), cached under data/reader/. Needs the index package's sentence
splitting and lexical terms (pysbd, PyStemmer), so it runs where the data is, never on the GPU
machine."""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import random
import re
from pathlib import Path

import reader_bundle  # beside this file
from index import reader_model
from index.embedding import packaged_model_path
from index.lexical import terms_of_many
from index.loading import read_document
from index.pipeline import prepare
from index.splitting import paragraph_spans, split_sentences
from qa.evaluation import normalise

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SQUAD11 = SHARED / "train" / "squad1.1-train.json.gz"
SQUAD2_SUBSET = SHARED / "train" / "squad2-train-subset.json.gz"
TRAIN_NEWS = [SHARED / "eval" / "news-bbc", *(ROOT / "benchmarks" / "data" / name for name in ("news-train", "news-headline"))]
HELD_OUT_NEWS = [SHARED / "eval" / "news-dev", ROOT / "benchmarks" / "data" / "news-headline-3"]
SQUAD2_DEV = SHARED / "eval" / "squad2-dev"
WORK = ROOT / "data" / "reader"
NULL_SHARE = 0.25  # of SQuAD 1.1's questions, trained with the answer's sentences removed
NEWS_REPEATS = 2  # the training news is small and closest to what users ask
DESCRIPTION = ("squad1.1-train (null share %.2f), squad2-train-subset unanswerable, news-bbc, news-train, "
               "news-headline (x%d)" % (NULL_SHARE, NEWS_REPEATS))  # the manifest's "data"
HELD_OUT_GROUP = 12  # candidates per held-out question: the answer's sentence and the 11 hardest others


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


def weight(terms: frozenset[str], idf: dict[str, float]) -> float:
    """The terms' summed idf, added in sorted order: a set's order changes with each process's
    string hashing, and a float sum with its order, which reordered near ties (1% of groups
    differed between two runs of the same code before)."""
    return sum(idf.get(t, 0.0) for t in sorted(terms))


def hardness(question_terms: frozenset[str], sentence: Sentence, idf: dict[str, float]) -> float:
    return weight(question_terms & sentence.terms, idf)


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
                                key=lambda j: -weight(q_terms & paragraph_terms[j], idf))[:other_paragraphs]
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
    tmp = path.with_suffix(f".{os.getpid()}.tmp")  # another run may be writing the same file
    tmp.write_text(json.dumps(data))
    tmp.replace(path)
    return squad_groups(path, size, 0.0, rng)


def training_groups(seed: int, size: int, limit: int = 0) -> list[dict]:
    """The training groups in training order (shuffled by `seed`); `limit` keeps the first
    SQuAD 1.1 questions only, and no other set (smoke runs)."""
    groups = _unshuffled_training_groups(seed, size, limit)
    return [groups[i] for i in training_order(len(groups), seed)]


def training_order(count: int, seed: int) -> list[int]:
    """Where shuffling `count` groups by `seed` takes each place from (a shuffle's permutation
    depends on the length alone, not on what is shuffled)."""
    order = list(range(count))
    random.Random(seed).shuffle(order)
    return order


def _unshuffled_training_groups(seed: int, size: int, limit: int) -> list[dict]:
    """The training groups in the order they are made (by file and article: what compresses)."""
    rng = random.Random(seed)
    groups = squad_groups(SQUAD11, size, NULL_SHARE, rng, limit=limit)
    if not limit:
        groups += squad_groups(SQUAD2_SUBSET, size, 0.0, rng, impossible_only=True)
        for folder in TRAIN_NEWS:
            groups += news_groups(folder, size, rng) * NEWS_REPEATS
    return groups


def held_out_groups(seed: int) -> dict[str, list[dict]]:
    """The held-out sets the learning curve is measured on, by name (their own random stream,
    `seed` + 1, so that they are the same whatever the training data)."""
    rng = random.Random(seed + 1)
    sets = {"squad2-dev": squad2_dev_groups(HELD_OUT_GROUP, rng, 600)}
    for folder in HELD_OUT_NEWS:
        sets[folder.name] = news_groups(folder, HELD_OUT_GROUP, rng)
    return sets


def training_bundle(seed: int, size: int, limit: int = 0) -> Path:
    """The bundle of `training_groups` (one set, "train"), made on first use and cached."""
    return _cached(reader_bundle.training_name(size, limit, seed), lambda path: write_training_bundle(path, seed, size, limit))


def write_training_bundle(path: Path, seed: int, size: int, limit: int = 0) -> None:
    """Write the bundle of `training_groups` to `path`: the groups as made, with the training order."""
    groups = _unshuffled_training_groups(seed, size, limit)
    reader_bundle.write(path, {"train": groups}, reader_model.tokenizer(packaged_model_path()),
                        {"seed": seed, "group": size, "limit": limit, "data": DESCRIPTION},
                        orders={"train": training_order(len(groups), seed)})


def held_out_bundle(seed: int) -> Path:
    """The bundle of `held_out_groups` (a set per held-out set), made on first use and cached."""
    return _cached(reader_bundle.held_out_name(seed), lambda path: reader_bundle.write(
        path, held_out_groups(seed), reader_model.tokenizer(packaged_model_path()), {"seed": seed, "group": HELD_OUT_GROUP}))


def _cached(name: str, write) -> Path:
    """data/reader/<key>-<name>, made by `write(path)` unless there; the key is a hash of the code
    that decides the groups and their word pieces (the data is deterministic)."""
    sources = [Path(__file__), Path(reader_bundle.__file__), Path(reader_model.__file__)]
    key = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:10]
    path = WORK / f"{key}-{name}"
    if not path.exists():
        write(path)
    return path
