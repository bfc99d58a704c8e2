"""Reversal naming by word pair: the share of antonym pairs that qa.lexicon names a reversal,
and of synonym pairs that it wrongly does, for the antonyms.tsv that build_lexicon.py's rules
make (each rule added to none, and all of the shipped ones, with --ablation), without and
then with the closed-class list qa/models/function_opposites.tsv, on three sets:
- tuned: bench_verify.py's hand-chosen ANTONYMS and SYNONYMS (the rules were chosen on these);
- held-out: benchmarks/data/reversal_pairs_heldout.txt, 100 antonyms and 100 synonyms of news
  written down before any measurement and never tuned on;
- wordnet: 100 of WordNet's own lemma-to-lemma antonyms (one-word lemmas, drawn at random with
  --seed) whose pointers are removed before the lexicon is built, so only the widening can find
  them again, and 100 random pairs of one-word lemmas that share a synset (synonyms).

    .venv/bin/python benchmarks/bench_reversal.py [--wordnet /usr/share/wordnet] [--ablation]

Prints the table and writes benchmarks/results/reversal.json."""

from __future__ import annotations

import argparse
import copy
import random
import sys
from pathlib import Path

from bench_verify import ANTONYMS, SYNONYMS  # noqa: E402  (beside this script)
from build_lexicon import ALL_RULES, RULES, _WORD, antonym_lines, exceptions, poles, read_synsets  # noqa: E402
from reporting import write_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

import qa.lexicon as lexicon  # noqa: E402

HELD_OUT = ROOT / "benchmarks" / "data" / "reversal_pairs_heldout.txt"


def held_out() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    rows = [line.split() for line in HELD_OUT.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    return [(a, b) for k, a, b in rows if k == "antonym"], [(a, b) for k, a, b in rows if k == "synonym"]


def wordnet_pairs(synsets, count: int, seed: int):
    """(antonym pointers to remove, antonym word pairs, synonym word pairs), drawn at random."""
    rng = random.Random(seed)
    pointers = sorted({tuple(sorted([(key, source), (target, goal)]))
                       for key, s in synsets.items() for source, target, goal in s.antonyms
                       if _WORD.match(s.lemmas[source - 1]) and _WORD.match(synsets[target].lemmas[goal - 1])})
    chosen = rng.sample(pointers, count)
    antonyms = [(synsets[a].lemmas[i - 1], synsets[b].lemmas[j - 1])
                for (a, i), (b, j) in chosen]
    groups = sorted(key for key, s in synsets.items() if sum(bool(_WORD.match(w)) for w in set(s.lemmas)) >= 2)
    synonyms = []
    while len(synonyms) < count:
        words = sorted({w for w in synsets[rng.choice(groups)].lemmas if _WORD.match(w)})
        pair = tuple(rng.sample(words, 2))
        if pair not in synonyms:
            synonyms.append(pair)
    return set(chosen), antonyms, synonyms


def without(synsets, removed):
    """The synsets less the antonym pointers `removed` (both directions)."""
    out = copy.copy(synsets)
    for (a, i), (b, j) in removed:
        for key, source, target, goal in ((a, i, b, j), (b, j, a, i)):
            synset = copy.copy(out[key])
            synset.antonyms = [p for p in synset.antonyms if p != (source, target, goal)]
            out[key] = synset
    return out


def index(lines: list[str]):
    on: dict[str, set[tuple[int, int]]] = {}
    for line, pair in enumerate(lines):
        for side, words in enumerate(pair.rstrip("\n").split("\t")):
            for word in words.split():
                on.setdefault(word, set()).add((line, side))
    return {word: frozenset(places) for word, places in on.items()}


def share(pairs, found) -> tuple[float, list[str]]:
    """The share of pairs named a reversal (either way round), and those that are."""
    named = [f"{a}/{b}" for a, b in pairs if lexicon.is_reversal(a, b) or lexicon.is_reversal(b, a)]
    return round(len(named) / len(pairs), 3), named


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ablation", action="store_true", help="also each rule alone")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "reversal.json")
    args = parser.parse_args()
    synsets = read_synsets(args.wordnet)
    irregular = exceptions(args.wordnet)
    removed, wn_antonyms, wn_synonyms = wordnet_pairs(synsets, 100, args.seed)
    thinned = without(synsets, removed)
    hand_antonyms, hand_synonyms = held_out()
    # Every config but the last leaves out function_opposites.tsv (the closed-class list, no
    # part of WordNet): the rows measure WordNet and its widening; the last is what ships.
    configs = [("none", (), False)] + ([(rule, (rule,), False) for rule in ALL_RULES] if args.ablation else []) \
        + [("WordNet: " + "+".join(RULES), RULES, False), ("shipped: + function_opposites.tsv", RULES, True)]
    function_poles = lexicon._function_poles
    report = {"sizes": {"tuned": [len(ANTONYMS), len(SYNONYMS)], "held_out": [len(hand_antonyms), len(hand_synonyms)],
                        "wordnet": [len(wn_antonyms), len(wn_synonyms)]}, "configs": {}}
    print(f"{'rules':<40}{'tuned ant':>10}{'syn':>6}{'held-out ant':>14}{'syn':>6}{'wordnet ant':>13}{'syn':>6}{'lines':>8}")
    for name, rules, function_words in configs:
        lexicon._function_poles = function_poles if function_words else dict  # noqa: E731  (dict(): none)
        full = antonym_lines(poles(synsets, rules), irregular)
        row = {"lines": len(full), "bytes": sum(len(line.encode()) for line in full)}
        lexicon._poles = lambda full=index(full): full  # noqa: E731  (the module's lookup, swapped)
        for label, ants, syns in (("tuned", ANTONYMS, SYNONYMS), ("held_out", hand_antonyms, hand_synonyms),
                                  ("wordnet_synonyms", None, wn_synonyms)):
            if ants is not None:
                row[label + "_antonyms"], missed = share(ants, None)
                row[label + "_antonyms_missed"] = sorted(set(f"{a}/{b}" for a, b in ants) - set(missed))
            row[label + "_synonyms"], row[label + "_synonyms_named"] = share(syns, None)
        thin = antonym_lines(poles(thinned, rules), irregular)
        lexicon._poles = lambda thin=index(thin): thin  # noqa: E731
        row["wordnet_antonyms"], found = share(wn_antonyms, None)
        report["configs"][name] = row
        print(f"{name:<40}{row['tuned_antonyms']:>10}{row['tuned_synonyms']:>6}{row['held_out_antonyms']:>14}"
              f"{row['held_out_synonyms']:>6}{row['wordnet_antonyms']:>13}{row['wordnet_synonyms_synonyms']:>6}"
              f"{row['lines']:>8}")
    write_report(args.output, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
