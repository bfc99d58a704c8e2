"""The seed-dev questions (../shared/eval/seed-dev) answered through the real service."""


def _contains_gold(quotes, answers):
    return any(a.lower() in q.lower() for a in answers for q in quotes)


def test_answerable_seed_questions_are_answered_with_a_gold_sentence(service, seed_questions):
    answerable = [q for q in seed_questions if q["answerable"]]
    hits = [q["id"] for q in answerable
            if _contains_gold([c.quote for c in service.ask(q["question"]).citations], q["answers"])]
    print(f"seed-dev answerable with a gold-containing citation: {len(hits)}/{len(answerable)}")
    assert len(hits) >= 11, hits


def test_unanswerable_seed_questions_abstain(service, seed_questions):
    unanswerable = [q for q in seed_questions if not q["answerable"]]
    abstained = [q["id"] for q in unanswerable if not service.ask(q["question"]).answered]
    print(f"seed-dev unanswerable abstained: {len(abstained)}/{len(unanswerable)}")
    assert len(abstained) >= 3, abstained
