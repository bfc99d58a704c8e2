"""Conversations: follow-up detection and resolution, the bounded in-memory store, and
follow-ups over the seeds (service and POST /ask) that reach the right article."""

from __future__ import annotations

import pytest

from qa.conversation import Conversations, Turn, carried_words, entities, is_follow_up, resolve

TRADE = "How much did China-Russia trade reach in 2023?"
TRADE_2022 = ("Their economic ties have made rapid progress in recent years, with bilateral trade reaching "
              "$190 billion in 2022.")


@pytest.mark.parametrize("question", [
    "And what did Putin say about it?", "how much was it in 2022?", "What about exports?", "and in 2021?",
    "Why?", "Who is he?", "What was their reply?",
])
def test_follow_ups_are_recognised(question):
    assert is_follow_up(question)


@pytest.mark.parametrize("question", [
    TRADE, "Which Chinese state news outlet interviewed Putin around his Beijing trip?",
    "Where does Jingdong Yuan teach?",
])
def test_standalone_questions_are_left_alone(question):
    assert not is_follow_up(question)
    assert resolve(question, Turn(resolved="What did Xi say about the war?", answer_span=None)) == question


def test_entities_join_capitalised_runs_but_not_the_opening_word():
    assert entities("What did Xi Jinping tell the United States about Ukraine?") == ["Xi Jinping", "United States",
                                                                                     "Ukraine"]


def test_a_new_number_displaces_the_old_one_and_the_old_answer():
    previous = Turn(resolved=TRADE, answer_span="$240.1 billion")
    carried = carried_words(previous, "how much was it in 2022?")
    assert "China-Russia" in carried and "trade" in carried
    assert "2023" not in carried and "$240.1 billion" not in carried
    assert resolve("how much was it in 2022?", previous) == "how much was it in 2022? (China-Russia trade reach)"


def test_a_new_entity_displaces_the_previous_subject():
    previous = Turn(resolved="What did Xi Jinping say about the conflict in Ukraine?", answer_span=None)
    carried = carried_words(previous, "And what did Putin say about it?")
    assert "Xi Jinping" not in carried and "Jinping" not in carried
    assert carried == ["Ukraine", "conflict"]


def test_the_previous_short_answer_is_carried_first():
    previous = Turn(resolved="Who was recently appointed as the Russian defense minister?",
                    answer_span="Andrei Belousov")
    assert carried_words(previous, "When was he appointed?")[0] == "Andrei Belousov"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_store_keeps_the_last_turn_and_its_answer_span():
    store = Conversations(limit=10, ttl_seconds=60)
    store.remember("a", Turn("first?", None), client="c")
    store.remember("a", Turn("second?", "Xinhua"), client="c")
    assert store.last_turn("a") == Turn(resolved="second?", answer_span="Xinhua")
    assert store.last_turn("unknown") is None


def test_the_store_is_bounded_by_count_evicting_the_least_recently_used():
    store = Conversations(limit=2, ttl_seconds=60)
    store.remember("a", Turn("q", None), client="x")
    store.remember("b", Turn("q", None), client="y")
    store.remember("a", Turn("q again", None), client="x")  # "a" is now the most recent
    store.remember("c", Turn("q", None), client="z")
    assert len(store) == 2
    assert store.last_turn("b") is None and store.last_turn("a") and store.last_turn("c")


def test_one_client_cannot_evict_the_conversations_of_others():
    """1,008 questions from one address in a few seconds evicted every other user's
    conversation; each client now has its own share, its oldest conversations evicted first."""
    store = Conversations(limit=10, ttl_seconds=60, per_client=3)
    store.remember("theirs", Turn("q", None), client="10.0.0.2")
    for n in range(1008):
        store.remember(f"mine-{n}", Turn("q", None), client="10.0.0.1")
    assert store.last_turn("theirs") is not None
    assert [store.last_turn(f"mine-{n}") is not None for n in (1004, 1005, 1006, 1007)] == [False, True, True, True]
    store.remember("mine-1005", Turn("q again", None), client="10.0.0.1")  # continued: now its newest
    store.remember("mine-new", Turn("q", None), client="10.0.0.1")
    assert store.last_turn("mine-1005") is not None and store.last_turn("mine-1006") is None
    assert len(store) == 4


def test_the_store_forgets_conversations_older_than_the_ttl():
    clock = FakeClock()
    store = Conversations(limit=10, ttl_seconds=60, clock=clock)
    store.remember("old", Turn("q", None), client="c")
    clock.now += 30
    store.remember("recent", Turn("q", None), client="c")
    clock.now += 31  # "old" is 61 s old, "recent" 31 s
    assert store.last_turn("old") is None
    assert store.last_turn("recent") is not None
    assert len(store) == 1


def test_new_ids_are_distinct_and_valid_for_the_api():
    ids = {Conversations.new_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) <= 64 and i.replace("-", "").replace("_", "").isalnum() for i in ids)


def shown_passages(response) -> list[tuple[str, str]]:
    """(doc_id, text) of what a reader is shown: the quotes, or the related passages.
    Which sentence gets quoted is the composer's choice; retrieval must bring the article."""
    return [(c.doc_id, c.quote) for c in response.citations] + [(r.doc_id, r.text) for r in response.related]


def answer_passages(service, question: str) -> list[tuple[str, str]]:
    """(doc_id, text) of the passages whose sentences compete for the answer."""
    hits = service.search(question, service.settings.answer_passages).hits
    return [(h.doc_id, h.text) for h in hits]


def test_follow_up_on_trade_reaches_the_2022_figure(service):
    first = service.converse(TRADE)
    assert first.conversation_id and first.resolved_question == TRADE
    follow_up = service.converse("how much was it in 2022?", conversation_id=first.conversation_id)
    assert follow_up.conversation_id == first.conversation_id
    resolved = follow_up.resolved_question
    assert "trade" in resolved and "China-Russia" in resolved
    assert "2023" not in resolved and "240.1" not in resolved  # the new year displaces the old year and answer
    retrieved = answer_passages(service, resolved)
    assert all("trade" in text for _, text in retrieved)  # the topic carried over
    assert any(doc == "004_cb7437eb45da7ccb" and TRADE_2022 in text for doc, text in retrieved)
    assert "004_cb7437eb45da7ccb" in {doc for doc, _ in shown_passages(follow_up)}


def test_follow_up_on_what_putin_said_reaches_putin_on_ukraine(service):
    first = service.converse("What did Xi say about the conflict in Ukraine?")
    follow_up = service.converse("And what did Putin say about it?", conversation_id=first.conversation_id)
    resolved = follow_up.resolved_question
    assert "Ukraine" in resolved and "Xi" not in resolved  # Putin displaces Xi, the topic stays
    putin_on_ukraine = "Putin stated that the Kremlin was willing to negotiate over the Ukrainian issue"
    retrieved = answer_passages(service, resolved)
    assert any(doc == "003_e5a21eedf92042f0" and putin_on_ukraine in text for doc, text in retrieved)
    assert "003_e5a21eedf92042f0" in {doc for doc, _ in shown_passages(follow_up)}


def test_follow_up_with_a_pronoun_reaches_the_person_of_the_previous_answer(service):
    first = service.converse("Where is Jingdong Yuan an associate professor?")
    follow_up = service.converse("What does he research?", conversation_id=first.conversation_id)
    assert "Jingdong Yuan" in follow_up.resolved_question
    top = service.search(follow_up.resolved_question, 1).hits[0]
    assert top.doc_id == "004_cb7437eb45da7ccb" and "Jingdong Yuan is an associate professor" in top.text


def test_ask_api_starts_and_continues_conversations(client):
    first = client.post("/ask", json={"question": TRADE}).json()
    assert first["conversation_id"] and first["resolved_question"] == TRADE
    other = client.post("/ask", json={"question": TRADE}).json()
    assert other["conversation_id"] != first["conversation_id"]
    follow_up = client.post("/ask", json={"question": "how much was it in 2022?",
                                          "conversation_id": first["conversation_id"]}).json()
    assert follow_up["conversation_id"] == first["conversation_id"]
    assert follow_up["resolved_question"] == "how much was it in 2022? (China-Russia trade reach)"
    shown = {c["doc_id"] for c in follow_up["citations"]} | {r["doc_id"] for r in follow_up["related"]}
    assert "004_cb7437eb45da7ccb" in shown


def test_the_api_bounds_the_conversations_of_each_client_address(client, service, monkeypatch):
    monkeypatch.setattr(service, "conversations", Conversations(limit=1000, ttl_seconds=60, per_client=2))
    ids = [client.post("/ask", json={"question": TRADE}).json()["conversation_id"] for _ in range(3)]
    assert service.conversations.last_turn(ids[0]) is None  # the test client's oldest, not one of 1,000
    continued = client.post("/ask", json={"question": "and in 2022?", "conversation_id": ids[2]}).json()
    assert continued["conversation_id"] == ids[2]


def test_an_unknown_conversation_id_starts_afresh_under_a_new_id(client):
    """Clients cannot choose ids: one that picked another's id would read its topic."""
    body = client.post("/ask", json={"question": "how much was it in 2022?", "conversation_id": "never-seen"}).json()
    assert body["conversation_id"] != "never-seen" and len(body["conversation_id"]) >= 16
    assert body["resolved_question"] == "how much was it in 2022?"


@pytest.mark.parametrize("conversation_id", ["", "a b", "../x", "x" * 65, 7])
def test_bad_conversation_ids_get_400(client, conversation_id):
    response = client.post("/ask", json={"question": "ok?", "conversation_id": conversation_id})
    assert response.status_code == 400, response.text
    assert response.json()["detail"]
