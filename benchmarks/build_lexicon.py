"""Build qa/models/antonyms.tsv and qa/models/english_words.txt from the WordNet 3.0 database,
so that quote verification knows reversals (an antonym put in place of a word) and English
words (a typo is not one) without WordNet installed at run time.

- antonyms.tsv: one line per pair of antonymous word sets, `words<TAB>their antonyms`, each
  side space-separated and inflected (rose, rising, fell, falling): two words are antonyms
  when they stand on opposite sides of a line. The sets are the one-word lemmas of two
  synsets WordNet calls antonyms (its lexical `!` pointers, widened to the synsets); for
  adjectives, the clusters of two antonymous heads (each head with its `&` satellites:
  ready / reluctant); and the derivationally related forms (`+`) of the two words WordNet
  pairs, one part of speech at a time (approval / disapproval).
- english_words.txt: every one-word lemma with its parts of speech (`word<TAB><TAB>nv`), then
  every irregular form with its lemma (`form<TAB>lemma`)
  (`form<TAB>lemma`: fell, stopped); qa.lexicon finds the lemma of a regular inflection by
  WordNet's own suffix rules.

WordNet's licence travels with the data (qa/models/wordnet-license.txt).

    apt-get install -y wordnet-base        # WordNet 3.0 under /usr/share/wordnet
    .venv/bin/python benchmarks/build_lexicon.py [--wordnet /usr/share/wordnet]"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

POS = {"n": "noun", "v": "verb", "a": "adj", "s": "adj", "r": "adv"}
_WORD = re.compile(r"^[a-z][a-z'-]*[a-z]$")  # one word, letters (no multiword lemmas, no digits)
_VOWEL = set("aeiou")


class Synset:
    __slots__ = ("antonyms", "derived", "head", "lemmas", "pos", "satellites", "also", "hyponyms", "pertains")

    def __init__(self, pos: str, lemmas: list[str]) -> None:
        self.pos, self.lemmas = pos, lemmas
        self.antonyms: list[tuple[int, str, int]] = []  # (source word index or 0, target offset+pos, target word)
        self.derived: list[tuple[int, str, int]] = []
        self.head: str | None = None  # a satellite's head synset
        self.satellites: list[str] = []
        self.also: list[str] = []
        self.hyponyms: list[str] = []  # a noun's hyponyms, a verb's troponyms (`~`)
        self.pertains: list[str] = []  # an adverb's adjectives (`\\`: quickly -> quick)


def read_synsets(folder: Path) -> dict[str, Synset]:
    """Every synset of data.{noun,verb,adj,adv}, keyed `offset:pos` (a satellite's pos is `a`)."""
    synsets: dict[str, Synset] = {}
    for name in ("noun", "verb", "adj", "adv"):
        for line in (folder / f"data.{name}").read_text(encoding="latin-1").splitlines():
            if line.startswith("  "):
                continue  # the licence header
            fields = line.split(" | ")[0].split()
            offset, kind, count = fields[0], fields[2], int(fields[3], 16)
            pos = "a" if kind == "s" else kind
            lemmas = [re.sub(r"\(.*\)$", "", w).lower() for w in fields[4 : 4 + 2 * count : 2]]
            synset = Synset(pos, lemmas)
            at = 4 + 2 * count
            for p in range(int(fields[at])):
                symbol, target, target_pos, words = fields[at + 1 + 4 * p : at + 5 + 4 * p]
                key = f"{target}:{'a' if target_pos == 's' else target_pos}"
                source, goal = int(words[:2], 16), int(words[2:], 16)
                if symbol == "!":
                    synset.antonyms.append((source, key, goal))
                elif symbol == "+":
                    synset.derived.append((source, key, goal))
                elif symbol == "&" and kind == "s":
                    synset.head = key
                elif symbol == "&":
                    synset.satellites.append(key)
                elif symbol == "^":
                    synset.also.append(key)
                elif symbol == "~":
                    synset.hyponyms.append(key)
                elif symbol == "\\" and kind == "r":
                    synset.pertains.append(key)
            synsets[f"{offset}:{pos}"] = synset
    return synsets


def exceptions(folder: Path) -> dict[str, dict[str, set[str]]]:
    """pos -> lemma -> its irregular forms (fell for fall, better for good), from the .exc lists."""
    out: dict[str, dict[str, set[str]]] = {}
    for name in ("noun", "verb", "adj", "adv"):
        table: dict[str, set[str]] = defaultdict(set)
        for line in (folder / f"{name}.exc").read_text(encoding="latin-1").splitlines():
            form, *lemmas = line.split()
            for lemma in lemmas:
                table[lemma].add(form)
        out[name] = table
    return out


def inflections(word: str, pos: str, irregular: dict[str, dict[str, set[str]]]) -> set[str]:
    """The word and its regular and irregular inflections for its part of speech. A form that
    English never writes does no harm: it is only ever compared with the words of a quote."""
    forms = {word} | irregular[POS[pos]].get(word, set())
    consonant_y = word.endswith("y") and word[-2:-1] not in _VOWEL
    stem_e = word[:-1] if word.endswith("e") else word
    plural = word[:-1] + "ies" if consonant_y else word + "es" if word.endswith(("s", "x", "z", "ch", "sh")) else word + "s"
    # A final consonant after one vowel is doubled (stop, stopped) in short words; both kept when unsure.
    double = len(word) >= 3 and word[-1] not in _VOWEL | set("wxy") and word[-2] in _VOWEL and word[-3] not in _VOWEL
    if pos == "n":
        forms.add(plural)
    elif pos == "v":
        forms |= {plural, word[:-1] + "ied" if consonant_y else stem_e + "ed", stem_e + "ing"}
        if double:
            forms |= {word + word[-1] + "ed", word + word[-1] + "ing"}
    elif pos == "a" and len(word) <= 6 and not word.endswith(("ed", "ing")):
        base = word[:-1] + "i" if consonant_y else stem_e
        forms |= {base + "er", base + "est"}
    return forms


# The ways of widening WordNet's antonym pointers that build the shipped file (see poles()); each
# can be left out (--rules) to measure it: benchmarks/bench_reversal.py.
RULES = ("troponyms", "also-see", "adverbs")
ALL_RULES = ("troponyms", "hyponyms", "also-see", "adverbs", "flat-adverbs")


def poles(synsets: dict[str, Synset], rules: tuple[str, ...] = RULES) -> set[tuple[frozenset[str], frozenset[str], str]]:
    """(lemmas on one side, lemmas on the other, part of speech): the words of two antonymous
    synsets, of two antonymous adjective clusters (each head with its satellites), and the
    derivationally related forms of the words WordNet pairs, one part of speech at a time.
    Widened by `rules`:
    - troponyms: a verb that is a manner of doing another (`~`: ban is a way to forbid)
      opposes what that one opposes (ban / allow), one level down; hyponyms: the same for nouns;
    - also-see: a synset WordNet tells to "see also" (`^`: remove, see subtract) opposes the
      antonyms of that one (remove / add);
    - adverbs: an adverb stands with the adjective cluster it pertains to (`\\`:
      subsequently -> subsequent); flat-adverbs: and with the cluster of an adjective spelt as
      one of its lemmas (earlier, before -> earlier -> early: before / after)."""
    out: set[tuple[frozenset[str], frozenset[str], str]] = set()

    def add(first: list[str], second: list[str], pos: str) -> None:
        mine = frozenset(w for w in first if _WORD.match(w))
        theirs = frozenset(w for w in second if _WORD.match(w)) - mine
        if mine - theirs and theirs and (theirs, mine - theirs, pos) not in out:
            out.add((mine - theirs, theirs, pos))

    satellites: dict[str, list[str]] = defaultdict(list)  # an adjective head -> its satellites' lemmas
    for synset in synsets.values():
        if synset.head:
            satellites[synset.head].extend(synset.lemmas)
    if "adverbs" in rules or "flat-adverbs" in rules:
        adjectives: dict[str, list[str]] = defaultdict(list)  # a one-word adjective lemma -> its synsets
        for key, synset in synsets.items():
            if synset.pos == "a":
                for word in synset.lemmas:
                    adjectives[word].append(key)
        for synset in synsets.values():
            if synset.pos != "r" or synset.antonyms:
                continue  # an adverb WordNet opposes itself keeps its own antonyms
            tied = set(synset.pertains) if "adverbs" in rules else set()
            if "flat-adverbs" in rules:
                tied.update(key for word in synset.lemmas for key in adjectives.get(word, ()))
            for key in tied:
                head = synsets[key].head or key
                satellites[head].extend(synset.lemmas)
    derived: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)  # (word, pos) -> (related, pos)
    for synset in synsets.values():
        for source, target, goal in synset.derived:
            other = synsets[target]
            for word in (synset.lemmas if source == 0 else [synset.lemmas[source - 1]]):
                derived[(word, synset.pos)].add((other.lemmas[goal - 1], other.pos))

    def below(synset: Synset) -> list[str]:
        """The lemmas of a synset and, by the rules, of its troponyms or hyponyms."""
        if ("troponyms" in rules and synset.pos == "v") or ("hyponyms" in rules and synset.pos == "n"):
            return synset.lemmas + [w for key in synset.hyponyms for w in synsets[key].lemmas]
        return synset.lemmas

    for key, synset in synsets.items():
        for source, target, goal in synset.antonyms:
            other = synsets[target]
            add(below(synset), below(other), synset.pos)
            if synset.pos == "a" and not synset.head and not other.head:
                add(synset.lemmas + satellites[key], other.lemmas + satellites[target], "a")
            word, antonym = synset.lemmas[source - 1], other.lemmas[goal - 1]
            by_pos: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
            for related, pos in derived[(word, synset.pos)]:
                by_pos[pos][0].append(related)
            for related, pos in derived[(antonym, other.pos)]:
                by_pos[pos][1].append(related)
            for pos, (mine, theirs) in by_pos.items():
                add(mine, theirs, pos)
        if "also-see" in rules and synset.pos in ("v", "a"):
            for seen in synset.also:
                for _, target, _ in synsets[seen].antonyms:
                    if target != key:
                        add(synset.lemmas, synsets[target].lemmas, synset.pos)
    return out


def antonym_lines(pairs: set[tuple[frozenset[str], frozenset[str], str]],
                  irregular: dict[str, dict[str, set[str]]]) -> list[str]:
    """antonyms.tsv's lines, sorted: each side's words with their inflections."""
    return sorted({"\t".join(" ".join(sorted({f for w in side for f in inflections(w, pos, irregular)}))
                             for side in (mine, theirs)) + "\n" for mine, theirs, pos in pairs})


def licence(folder: Path) -> str:
    """WordNet's licence notice, as the database files carry it (numbered lines of two spaces)."""
    lines = []
    for line in (folder / "data.adj").read_text(encoding="latin-1").splitlines():
        if not line.startswith("  "):
            break
        lines.append(line.strip().partition(" ")[2].rstrip())
    return ("qa/models/antonyms.tsv and qa/models/english_words.txt are derived from WordNet 3.0\n"
            "(benchmarks/build_lexicon.py). WordNet's licence:\n\n" + "\n".join(lines).strip() + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"))
    parser.add_argument("--output", type=Path, default=ROOT / "qa" / "models")
    parser.add_argument("--rules", default=",".join(RULES),
                        help=f"comma-separated widenings of WordNet's antonyms, of {', '.join(ALL_RULES)} (none: '')")
    args = parser.parse_args()
    rules = tuple(r for r in args.rules.split(",") if r)
    if set(rules) - set(ALL_RULES):
        parser.error(f"unknown rules: {sorted(set(rules) - set(ALL_RULES))}")
    if not (args.wordnet / "data.adj").exists():
        print(f"no WordNet database in {args.wordnet}: apt-get install -y wordnet-base", file=sys.stderr)
        return 1
    synsets = read_synsets(args.wordnet)
    irregular = exceptions(args.wordnet)
    lines = antonym_lines(poles(synsets, rules), irregular)
    (args.output / "antonyms.tsv").write_text("".join(lines), encoding="utf-8")
    parts: dict[str, set[str]] = {}  # lemma -> its parts of speech (which regular endings it takes)
    for synset in synsets.values():
        for w in synset.lemmas:
            if _WORD.match(w):
                parts.setdefault(w, set()).add(synset.pos)
    forms = {(form, lemma) for table in irregular.values() for lemma, forms in table.items() for form in forms
             if _WORD.match(form) and _WORD.match(lemma)}
    words = [f"{w}\t\t{''.join(sorted(pos))}\n" for w, pos in sorted(parts.items())] + \
        [f"{form}\t{lemma}\n" for form, lemma in sorted(forms)]
    (args.output / "english_words.txt").write_text("".join(words), encoding="utf-8")
    (args.output / "wordnet-license.txt").write_text(licence(args.wordnet), encoding="utf-8")
    print(f"{len(lines):,} pairs of antonymous word sets, "
          f"{len(words):,} English words, written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
