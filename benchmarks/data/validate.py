"""Check the project's news question sets (news-train, news-headline, -2, -3, -4): ids unique, every
answer and evidence sentence verbatim in its article's body, the first answer inside the
evidence, unanswerable rows empty; for news-train also that no answerable question copies
five consecutive words of its evidence and that every article is used.

    python benchmarks/data/validate.py [news-train news-headline]
"""

import collections
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).parent
KINDS = {"factoid", "explanation", "unanswerable", "headline"}
PARAPHRASED = {"news-train"}  # written with the article at hand: the wording must not be copied


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def check(folder: Path) -> list[str]:
    articles = {p.name: p.read_text("utf-8") for p in sorted((folder / "articles").glob("*.txt"))}
    rows = [json.loads(line) for line in (folder / "questions.jsonl").read_text("utf-8").splitlines()]
    errors, used, kinds = [], collections.Counter(), collections.Counter(r["kind"] for r in rows)
    for id_, n in collections.Counter(r["id"] for r in rows).items():
        if n > 1:
            errors.append(f"{id_}: duplicate id")
    for r in rows:
        if r["kind"] not in KINDS or (r["kind"] == "unanswerable" and r["answerable"]):
            errors.append(f"{r['id']}: kind {r['kind']!r} with answerable={r['answerable']}")
        if not r["answerable"]:
            if r["answers"] or r["sources"] or r["evidence"]:
                errors.append(f"{r['id']}: unanswerable with answers, sources or evidence")
            continue
        bodies = [articles[s].split("\n\n", 1)[1] for s in r["sources"] if s in articles]
        if len(bodies) != len(r["sources"]) or not bodies or not r["answers"] or not r["evidence"]:
            errors.append(f"{r['id']}: unknown source or missing answers/evidence")
            continue
        used.update(r["sources"])
        for text in r["answers"] + r["evidence"]:
            if not any(text in body for body in bodies):
                errors.append(f"{r['id']}: not verbatim: {text!r}")
        if not any(r["answers"][0] in e for e in r["evidence"]):
            errors.append(f"{r['id']}: the first answer is not inside the evidence")
        question = " ".join(words(r["question"]))
        evidence = words(r["evidence"][0])
        if folder.name in PARAPHRASED and any(f" {' '.join(evidence[i:i + 5])} " in f" {question} " for i in range(len(evidence) - 4)):
            errors.append(f"{r['id']}: copies five consecutive words of its evidence")
    if folder.name in PARAPHRASED:
        errors += [f"{name}: no answerable question" for name in articles if name not in used]
    print(f"{folder.name}: {len(articles)} articles, {len(rows)} questions, "
          f"{sum(r['answerable'] for r in rows)} answerable; kinds {dict(sorted(kinds.items()))}")
    return errors


def main() -> int:
    errors = [e for name in (sys.argv[1:] or ["news-train", "news-headline", "news-headline-2", "news-headline-3", "news-headline-4"]) for e in check(HERE / name)]
    print("\n".join(errors) if errors else "OK")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
