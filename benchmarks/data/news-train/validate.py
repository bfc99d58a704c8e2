"""Check the news training set: ids unique, every answer and evidence sentence verbatim in its
article's body, the first answer inside the evidence, no answerable question copying five
consecutive words of its evidence, unanswerable rows empty, every article used.

    python benchmarks/data/news-train/validate.py
"""

import collections
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).parent
KINDS = {"factoid", "explanation", "unanswerable"}


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def main() -> int:
    articles = {p.name: p.read_text("utf-8") for p in sorted((HERE / "articles").glob("*.txt"))}
    rows = [json.loads(line) for line in (HERE / "questions.jsonl").read_text("utf-8").splitlines()]
    errors, used, kinds = [], collections.Counter(), collections.Counter(r["kind"] for r in rows)
    for id_, n in collections.Counter(r["id"] for r in rows).items():
        if n > 1:
            errors.append(f"{id_}: duplicate id")
    for r in rows:
        if r["kind"] not in KINDS or (r["kind"] == "unanswerable") == r["answerable"]:
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
        if any(f" {' '.join(evidence[i:i + 5])} " in f" {question} " for i in range(len(evidence) - 4)):
            errors.append(f"{r['id']}: copies five consecutive words of its evidence")
    errors += [f"{name}: no answerable question" for name in articles if name not in used]
    print(f"{len(articles)} articles, {len(rows)} questions, {sum(r['answerable'] for r in rows)} answerable; "
          f"kinds {dict(sorted(kinds.items()))}")
    print("\n".join(errors) if errors else "OK")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
