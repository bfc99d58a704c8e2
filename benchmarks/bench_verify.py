"""Quote verification (POST /citations/verify): status precision and recall per kind of quote,
and the latency of a 5,000-character draft with 10 quotes, at ~100k passages.

The archive is bench_lookup's in-memory corpus (no embeddings: verification reads text and the
BM25 index only) built from the seed articles, news-dev's CNN stories and squad2-dev's articles,
replicated with 15% of their words swapped until there are enough passages. The labelled
quotes are made from sentences of the original articles, and their statuses follow editorial
convention (issue 32):
- exact: a run of words copied; marks: the same with curly/straight quotes, double spaces and a
  line break; cut: starting and ending mid-sentence (all three should be `exact`);
- ellipsis: a few words (no negation) left out and marked `...`, `…`, `[…]` or `[...]`;
  brackets: a word replaced by a bracketed one, or a bracketed word inserted; spelling: a
  typo (two letters swapped, one dropped, doubled or replaced in a word of six letters or
  more), a British/American variant or a hyphen added or removed (all three `close`, or `exact`);
- one-word: one lower-case word replaced by a random word of the archive; synonym: a word
  replaced by a synonym; dropped: a content word left out without a mark (all `misquoted`);
- antonym: a word replaced by its antonym (`misquoted`, and the change named `reversal`); the
  pairs are listed here by hand, independently of the WordNet data the service reads;
- number: a digit changed; negation-in / negation-out: "not" inserted after an auxiliary or
  removed (all `misquoted`: a changed number or negation is never exact or close);
- stitched: the first half of one sentence and the second half of a later one (should be
  flagged: `misquoted` or `not_found`, never exact or close);
- invented: words of one article in a new order (`not_found`).
A case that changes words is made only from a sentence of which no replica holds a near-copy
with those words swapped too (see labelled_quotes): otherwise it may be cited against that
copy and its change measured against the word the replica swapped in.

    .venv/bin/python benchmarks/bench_verify.py [--passages 100000] [--cases 100] [--drafts 40]

Prints the tables and writes benchmarks/results/verify.json."""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from bench_lookup import build_corpus  # noqa: E402  (beside this script)
from reporting import write_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

from qa.corpus import Corpus  # noqa: E402
from index.lexical import stopwords  # noqa: E402
from qa.quote_diff import NEGATIONS, NUMBER_WORDS  # noqa: E402
from qa.verify import STATUSES, verify  # noqa: E402

SHARED = ROOT.parent / "shared" / "eval"
FOLDERS = [ROOT / "seeds", SHARED / "news-dev" / "articles", SHARED / "squad2-dev" / "articles"]
EXPECTED = {"exact": "exact", "marks": "exact", "cut": "exact", "ellipsis": "close", "brackets": "close",
            "spelling": "close", "one-word": "misquoted", "synonym": "misquoted", "dropped": "misquoted",
            "antonym": "misquoted", "number": "misquoted", "negation-in": "misquoted", "negation-out": "misquoted",
            "stitched": "flagged", "invented": "not_found"}
ALLOWED_CHANGES = ("ellipsis", "brackets", "spelling")  # close, but exact is no error for them
# Antonyms and synonyms as a news editor would swap them, both ways; chosen by hand, not from WordNet.
ANTONYMS = [tuple(pair.split("/")) for pair in (
    "rose/fell rise/fall rises/falls rising/falling increase/decrease increased/decreased increases/decreases "
    "increasing/decreasing higher/lower high/low more/less most/least largest/smallest large/small big/small "
    "strong/weak stronger/weaker won/lost win/lose wins/loses winning/losing winner/loser gained/lost gains/losses "
    "accepted/rejected accept/reject approved/rejected success/failure successful/unsuccessful before/after "
    "early/late earlier/later open/closed opened/closed began/ended started/stopped legal/illegal "
    "possible/impossible likely/unlikely able/unable agreed/disagreed agree/disagree support/oppose "
    "supported/opposed allowed/banned majority/minority positive/negative good/bad better/worse best/worst "
    "young/old rich/poor cheap/expensive safe/dangerous true/false public/private domestic/foreign north/south "
    "east/west inside/outside above/below buy/sell bought/sold imports/exports include/exclude "
    "included/excluded maximum/minimum full/empty long/short longer/shorter fast/slow heavy/light "
    "internal/external guilty/innocent victory/defeat love/hate united/divided added/removed "
    "willing/reluctant ready/reluctant").split()]
SYNONYMS = [tuple(pair.split("/")) for pair in (
    "said/stated says/states large/big buy/purchase bought/purchased help/assist helped/assisted start/begin "
    "started/began ended/finished show/demonstrate shows/demonstrates showed/demonstrated need/require "
    "needs/requires needed/required use/employ used/employed try/attempt tried/attempted get/obtain got/obtained "
    "gave/provided enough/sufficient about/approximately main/primary important/significant quickly/rapidly "
    "rich/wealthy hard/difficult area/region areas/regions country/nation countries/nations job/occupation "
    "talks/negotiations told/informed asked/requested many/numerous often/frequently almost/nearly "
    "build/construct built/constructed chose/selected choose/select fight/battle home/house children/kids "
    "plan/scheme plans/schemes aim/goal leader/chief leaders/chiefs allow/permit stop/halt stopped/halted "
    "announced/declared ruled/governed city/town big/huge shortly/soon began/commenced famous/renowned "
    "building/structure buildings/structures").split()]
SPELLINGS = [tuple(pair.split("/")) for pair in (
    "organization/organisation organizations/organisations organized/organised center/centre color/colour "
    "colors/colours favor/favour honor/honour labor/labour defense/defence recognized/recognised "
    "realized/realised traveled/travelled program/programme analyze/analyse catalog/catalogue "
    "neighbors/neighbours behavior/behaviour criticized/criticised emphasized/emphasised").split()]
AUXILIARIES = re.compile(r"\b(is|was|are|were|has|have|had|will|would|can|could|did|does|should|must)\b")
_WORD = re.compile(r"\S+")


def original_sentences(corpus: Corpus) -> list[tuple[str, list[str], list[tuple[int, int]]]]:
    """(document id, sentences of 10-40 words, their offsets in the document) of every
    original (replica 0) article."""
    out = []
    for passage in corpus.passages:
        if not passage.doc_id.endswith("-0"):
            continue
        text = corpus.documents[passage.doc_id].text
        # Without double quotes of their own: a draft would quote them inside single marks.
        kept = [(text[s.start : s.end], (s.start, s.end)) for s in passage.sentences
                if 10 <= len(text[s.start : s.end].split()) <= 40
                and not any(mark in text[s.start : s.end] for mark in '"\u201c\u201d')]
        out.append((passage.doc_id, [s for s, _ in kept], [span for _, span in kept]))
    return [(doc, sentences, spans) for doc, sentences, spans in out if sentences]


# Kinds that change words of their source sentence (the others copy it, cut it, or mix sentences).
CHANGING = ("ellipsis", "brackets", "spelling", "one-word", "synonym", "dropped", "antonym", "number",
            "negation-in", "negation-out")


def changed_words(sentence: str, quote: str) -> tuple[int, int]:
    """(first, end): the words of `sentence` (split at spaces) that `quote` changes, between the
    words the two share at the start and at the end."""
    mine, theirs = sentence.split(), quote.split()
    first = 0
    while first < min(len(mine), len(theirs)) and mine[first] == theirs[first]:
        first += 1
    last = 0
    while last < min(len(mine), len(theirs)) - first and mine[-1 - last] == theirs[-1 - last]:
        last += 1
    return first, len(mine) - last


def near_copy_with_those_words_changed(corpus: Corpus, doc_id: str, span: tuple[int, int], sentence: str,
                                       quote: str) -> bool:
    """Whether a replica of the document holds a near-copy of the sentence with a word that the
    quote changes swapped too: a copy that differs from the original in the changed words and in
    at most one of the words the quote keeps, so that it is about as close to the quote as the
    original (the lookup scores characters, not words: one short word more may not tell them
    apart). build_corpus's replicas swap words for words of the same length, so a sentence's
    copy has its offsets and as many words: word i of the copy stands for word i."""
    first, end = changed_words(sentence, quote)
    words = sentence.split()
    stem, replica = doc_id[: -len("-0")], 1
    while (copy := corpus.documents.get(f"{stem}-{replica}")) is not None:
        copied = copy.text[span[0] : span[1]].split()
        kept_differ = sum(a != b for a, b in zip(copied[:first] + copied[end:], words[:first] + words[end:]))
        if copied[first:end] != words[first:end] and kept_differ <= 1:
            return True
        replica += 1
    return False


def make_case(kind: str, sentence: str, sentences: list[str], vocabulary: list[str],
              rng: np.random.Generator) -> str | None:
    """A quote of `kind` made from `sentence`, one of its document's `sentences`."""
    words = sentence.split()
    if kind == "exact":
        return " ".join(words[: int(rng.integers(8, len(words) + 1))])
    if kind == "marks":
        quote = sentence.replace("'", "\u2019").replace("\u201c", '"').replace("\u201d", '"')
        middle = len(quote) // 2
        cut = quote.index(" ", middle) if " " in quote[middle:] else middle
        return quote[:cut].replace(" ", "  ", 1) + "\n" + quote[cut + 1 :]
    if kind == "cut":
        first, last = int(rng.integers(1, 4)), len(words) - int(rng.integers(1, 4))
        return " ".join(words[first:last]) if last - first >= 6 else None
    if kind == "one-word":
        spots = [i for i, w in enumerate(words) if w.isalpha() and w.islower() and len(w) >= 4 and i > 0
                 and w not in NUMBER_WORDS and w not in NEGATIONS]  # those changes are misquotes
        if not spots:
            return None
        spot = spots[int(rng.integers(len(spots)))]
        replacement = vocabulary[int(rng.integers(len(vocabulary)))]
        return " ".join([*words[:spot], replacement, *words[spot + 1 :]]) if replacement != words[spot] else None
    if kind in ("antonym", "synonym"):
        return _swap(words, ANTONYMS if kind == "antonym" else SYNONYMS, rng)
    if kind == "ellipsis":
        return _ellipsis(words, rng)
    if kind == "brackets":
        return _brackets(words, vocabulary, rng)
    if kind == "spelling":
        return _spelling(words, rng)
    if kind == "dropped":
        spots = [i for i, w in enumerate(words[1:-1], start=1) if w.isalpha() and len(w) >= 3
                 and w.lower() not in stopwords() and w.lower() not in NUMBER_WORDS | NEGATIONS]
        spot = spots[int(rng.integers(len(spots)))] if spots else None
        return " ".join(words[:spot] + words[spot + 1 :]) if spot is not None else None
    if kind == "number":
        digits = [m.start() for m in re.finditer(r"\d", sentence)]
        if not digits:
            return None
        at = digits[int(rng.integers(len(digits)))]
        new = str((int(sentence[at]) + int(rng.integers(1, 9))) % 10)
        return sentence[:at] + new + sentence[at + 1 :]
    if kind == "negation-in":
        match = AUXILIARIES.search(sentence)
        return sentence[: match.end()] + " not" + sentence[match.end() :] if match and " not " not in sentence else None
    if kind == "negation-out":
        return sentence.replace(" not ", " ", 1) if " not " in sentence else None
    if kind == "stitched":
        later = sentences[int(rng.integers(len(sentences)))]
        if later == sentence:
            return None
        other = later.split()
        return " ".join(words[: len(words) // 2] + other[len(other) // 2 :])
    if kind == "invented":
        pool = " ".join(sentences).split()
        return " ".join(pool[int(i)] for i in rng.choice(len(pool), size=min(len(pool), 14), replace=False))
    raise ValueError(kind)


def _swap(words: list[str], pairs: list[tuple[str, str]], rng: np.random.Generator) -> str | None:
    """One word of a pair (lower case, not the first word) replaced by the other, either way."""
    other = {a: b for a, b in pairs} | {b: a for a, b in pairs}
    spots = [i for i, w in enumerate(words) if i > 0 and w in other]
    if not spots:
        return None
    spot = spots[int(rng.integers(len(spots)))]
    return " ".join([*words[:spot], other[words[spot]], *words[spot + 1 :]])


def _ellipsis(words: list[str], rng: np.random.Generator) -> str | None:
    """1-6 words inside the sentence, none a negation or a number, left out and marked."""
    if len(words) < 10:
        return None
    start = int(rng.integers(2, len(words) - 5))
    end = min(start + int(rng.integers(1, 7)), len(words) - 3)
    left_out = [w.strip(".,;:").lower() for w in words[start:end]]
    if any(w in NEGATIONS or w.endswith("n't") or any(c.isdigit() for c in w) for w in left_out):
        return None
    mark = ["...", "\u2026", "[\u2026]", "[...]"][int(rng.integers(4))]
    return " ".join([*words[:start], mark, *words[end:]])


def _brackets(words: list[str], vocabulary: list[str], rng: np.random.Generator) -> str | None:
    """A lower-case word replaced by a bracketed word, or a bracketed word inserted after one."""
    spots = [i for i, w in enumerate(words[1:-1], start=1) if w.isalpha() and w.islower()
             and w not in NEGATIONS and w not in NUMBER_WORDS]
    if not spots:
        return None
    spot = spots[int(rng.integers(len(spots)))]
    inserted = vocabulary[int(rng.integers(len(vocabulary)))]
    if inserted in NEGATIONS:
        return None
    if rng.random() < 0.5:
        return " ".join([*words[:spot], f"[{inserted.capitalize()}]", *words[spot + 1 :]])
    return " ".join([*words[: spot + 1], f"[{inserted}]", *words[spot + 1 :]])


def _typo(word: str, rng: np.random.Generator) -> str:
    at = int(rng.integers(1, len(word) - 2))
    edit = int(rng.integers(4))
    if edit == 0:
        return word[:at] + word[at + 1] + word[at] + word[at + 2 :]  # two letters swapped
    if edit == 1:
        return word[:at] + word[at + 1 :]  # one dropped
    if edit == 2:
        return word[:at] + word[at] + word[at:]  # one doubled
    letter = "abcdefghijklmnopqrstuvwxyz"[int(rng.integers(26))]
    return word[:at] + letter + word[at + 1 :] if letter != word[at] else word[:at] + word[at + 1] + word[at] \
        + word[at + 2 :]


def _spelling(words: list[str], rng: np.random.Generator) -> str | None:
    """A British/American variant or a hyphen added or removed where the sentence has one,
    otherwise (and half the time) a typo in a lower-case word of six letters or more."""
    variants = {a: b for a, b in SPELLINGS} | {b: a for a, b in SPELLINGS}
    spots = [(i, variants[w]) for i, w in enumerate(words) if w in variants]
    spots += [(i, w.replace("-", " ") if rng.random() < 0.5 else w.replace("-", ""))
              for i, w in enumerate(words) if re.fullmatch(r"[a-z]+-[a-z]+", w)]
    if not spots or rng.random() < 0.5:
        spots = [(i, _typo(w, rng)) for i, w in enumerate(words) if w.isalpha() and w.islower() and len(w) >= 6]
    if not spots:
        return None
    spot, respelt = spots[int(rng.integers(len(spots)))]
    return " ".join([*words[:spot], respelt, *words[spot + 1 :]])


def labelled_quotes(corpus: Corpus, per_kind: int, seed: int) -> tuple[list[tuple[str, str, str]], Counter]:
    """(kind, quote, the document it was made from) per_kind of each kind, and how many drafts of each kind were passed over
    because a replica holds their sentence with a changed word swapped."""
    rng = np.random.default_rng(seed)
    documents = original_sentences(corpus)
    # Candidates of a kind are drawn where they can exist (numbers, "not"): sentences by document.
    vocabulary = sorted({w for _, ss, _ in documents for s in ss for w in s.split() if w.isalpha() and w.islower()})
    cases, passed_over = [], Counter()
    for kind in EXPECTED:
        made, tries = 0, 0
        while made < per_kind and tries < per_kind * 200:
            tries += 1
            doc_id, sentences, spans = documents[int(rng.integers(len(documents)))]
            at = int(rng.integers(len(sentences)))
            quote = make_case(kind, sentences[at], sentences, vocabulary, rng)
            # A case is labelled by what it does to its own sentence, so it must be checked against
            # that sentence. The synthetic archive also holds the replicas' copies of it, with 15%
            # of their words swapped: where a copy has a word the case changes swapped as well
            # (high -> lips, where the case made high -> low), the copy is as close to the quote as
            # the original, the quote may be cited against it, and its change is then measured
            # against an unrelated word (low / lips: no reversal, no typo). Every word is swapped
            # in some replica, so only near-copies count: a copy that differs from the original
            # in the changed words and at most one other. Such sentences are passed over for the
            # kinds that change words; the kinds themselves are unchanged.
            if quote and kind in CHANGING and near_copy_with_those_words_changed(
                    corpus, doc_id, spans[at], sentences[at], quote):
                passed_over[kind] += 1
                continue
            if quote and len(quote.split()) >= 6:
                cases.append((kind, quote, doc_id))
                made += 1
    return cases, passed_over


def drafts(corpus: Corpus, cases: list[tuple[str, str, str]], count: int, rng: np.random.Generator) -> list[str]:
    """~5,000-character drafts, each with 10 of the labelled quotes in sentences of filler words."""
    filler_words = [w for w in corpus.documents[next(iter(corpus.documents))].text.split() if w.isalpha()]
    out = []
    for _ in range(count):
        parts = []
        for index in rng.choice(len(cases), size=10, replace=False):
            filler = " ".join(filler_words[int(i)] for i in rng.integers(len(filler_words), size=70))
            parts.append(f'{filler.capitalize()}. A spokesman said "{cases[int(index)][1]}" on Monday.')
        draft = " ".join(parts)
        out.append(draft[:5200])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=100, help="quotes per kind")
    parser.add_argument("--drafts", type=int, default=40, help="5,000-character drafts timed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "verify.json")
    args = parser.parse_args()
    if not all(folder.exists() for folder in FOLDERS):
        print(f"missing one of {FOLDERS}", file=sys.stderr)
        return 1
    started = time.perf_counter()
    corpus = build_corpus(args.passages, args.seed, FOLDERS)
    print(f"{len(corpus.passages)} passages in {len(corpus.documents)} documents "
          f"(built in {time.perf_counter() - started:.0f} s)")
    cases, passed_over = labelled_quotes(corpus, args.cases, args.seed)
    print(f"passed over (a replica holds a near-copy of the sentence with a changed word swapped): {dict(passed_over)}")
    verify(corpus, '"warm up the stemmer and the stop words"')
    confusion: dict[str, Counter] = {kind: Counter() for kind in EXPECTED}
    change_kinds: dict[str, Counter] = {kind: Counter() for kind in EXPECTED}  # the gravest change named
    citations, unfaithful = 0, 0  # every source cited must be document.text[start:end]
    elsewhere: dict[str, Counter] = {kind: Counter() for kind in CHANGING}  # cited against another document
    for kind, quote, doc_id in cases:
        results = verify(corpus, f'They said "{quote}" yesterday.').quotes
        if kind in CHANGING and len(results) == 1 and results[0].source is not None:
            elsewhere[kind]["own" if results[0].source.doc_id == doc_id else "replica"] += 1
        confusion[kind][results[0].status if len(results) == 1 else f"{len(results)} quotes"] += 1
        named = {c.kind for r in results for c in r.changes if not c.allowed}
        change_kinds[kind]["reversal" if "reversal" in named else "other misquote" if named else "none"] += 1
        for source in (r.source for r in results if r.source is not None):
            citations += 1
            unfaithful += corpus.documents[source.doc_id].text[source.start : source.end] != source.quote
    by_status: dict[str, dict[str, float]] = {}
    for status in STATUSES:  # stitched quotes may rightly be misquoted or not found: counted apart
        expected = [k for k, v in EXPECTED.items() if v == status]
        truly = sum(sum(confusion[k].values()) for k in expected)
        predicted = sum(c[status] for k, c in confusion.items() if EXPECTED[k] != "flagged")
        right = sum(confusion[k][status] for k in expected)
        by_status[status] = {"precision": round(right / predicted, 4) if predicted else None,
                             "recall": round(right / truly, 4) if truly else None,
                             "predicted": predicted, "expected": truly}
    # Ellipses, brackets and spelling are right as close, and no error as exact.
    allowed = {k: {"close_or_exact": round((confusion[k]["close"] + confusion[k]["exact"]) / sum(confusion[k].values()), 4),
                   "misquoted": round(confusion[k]["misquoted"] / sum(confusion[k].values()), 4)}
               for k in ALLOWED_CHANGES}
    reversal = {k: round(change_kinds[k]["reversal"] / sum(change_kinds[k].values()), 4)
                for k in ("antonym", "synonym", "one-word", "dropped")}
    flagged = {k: round((c["misquoted"] + c["not_found"]) / sum(c.values()), 4) for k, c in confusion.items()
               if EXPECTED[k] in ("misquoted", "flagged")}
    rng = np.random.default_rng(args.seed)
    texts = drafts(corpus, cases, args.drafts, rng)
    times = []
    for text in texts:
        t0 = time.perf_counter()
        verify(corpus, text)
        times.append((time.perf_counter() - t0) * 1000)
    latency = {"drafts": len(texts), "characters_median": int(np.median([len(t) for t in texts])),
               "p50_ms": round(float(np.percentile(times, 50)), 1), "p99_ms": round(float(np.percentile(times, 99)), 1),
               "max_ms": round(max(times), 1)}
    report = {"passages": len(corpus.passages), "documents": len(corpus.documents),
              "cases_per_kind": {k: sum(c.values()) for k, c in confusion.items()},
              "passed_over_replica_swapped": dict(passed_over),
              "cited_own_document_or_replica": {k: dict(c) for k, c in elsewhere.items()},
              "confusion": {k: dict(c) for k, c in confusion.items()}, "by_status": by_status,
              "flagged_share": flagged, "allowed_changes": allowed, "named_reversal_share": reversal,
              "change_kinds": {k: dict(c) for k, c in change_kinds.items()}, "citations_checked": citations, "citations_not_at_their_offsets": unfaithful,
              "draft_latency": latency,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load_average": [round(x, 2) for x in os.getloadavg()]}}
    print(f"\n{'kind':<14}{'expected':<11}" + "".join(f"{s:>11}" for s in STATUSES))
    for kind, counts in confusion.items():
        print(f"{kind:<14}{EXPECTED[kind]:<11}" + "".join(f"{counts[s]:>11}" for s in STATUSES))
    print(f"\n{'status':<11}{'precision':>10}{'recall':>8}")
    for status, row in by_status.items():
        print(f"{status:<11}{row['precision'] if row['precision'] is not None else '-':>10}"
              f"{row['recall'] if row['recall'] is not None else '-':>8}")
    print(f"\nflagged (misquoted or not found): {flagged}")
    print(f"allowed changes (close or exact, misquoted): {allowed}")
    print(f"named a reversal: {reversal}")
    print(f"cases that change words, cited against their own document or a replica: "
          f"{ {k: dict(c) for k, c in elsewhere.items()} }")
    print(f"citations whose quote is not document.text[start:end]: {unfaithful} of {citations}")
    print(f"{latency['drafts']} drafts of ~{latency['characters_median']} characters with 10 quotes: "
          f"p50 {latency['p50_ms']} ms, p99 {latency['p99_ms']} ms")
    write_report(args.output, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
