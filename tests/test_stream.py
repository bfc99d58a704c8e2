"""POST /ask/stream: Server-Sent Events carrying exactly the answer of POST /ask."""

from __future__ import annotations

import json

import pytest

TRADE = "How much did China-Russia trade reach in 2023?"


def parse_events(body: str) -> list[tuple[str, dict]]:
    """(event, data) pairs of an SSE body, in order."""
    events = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n") if line)
        if fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


def test_stream_sends_sentences_then_citations_then_done(client, service):
    response = client.post("/ask/stream", json={"question": TRADE})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "no-cache" in response.headers["cache-control"]
    events = parse_events(response.text)
    names = [name for name, _ in events]
    sentences = names.count("sentence")
    citations = names.count("citation")
    assert sentences >= 1 and citations >= 1
    assert names == ["sentence"] * sentences + ["citation"] * citations + ["done"]

    plain = client.post("/ask", json={"question": TRADE}).json()
    assert [data for name, data in events if name == "sentence"] == [
        {"index": i, "text": s["text"], "citation": s["citation"]} for i, s in enumerate(plain["sentences"])]
    streamed = [data for name, data in events if name == "citation"]
    assert streamed == plain["citations"]
    for citation in streamed:
        assert service.corpus.documents[citation["doc_id"]].text[citation["start"]:citation["end"]] == citation["quote"]
    assert streamed[0]["answer_text"] == "$240.1 billion"

    done = events[-1][1]
    assert done["answered"] is True and done["answer"] == plain["answer"]
    assert done["confidence"] == plain["confidence"] and done["took_ms"] >= 0
    assert done["conversation_id"] and done["resolved_question"] == TRADE


def test_stream_without_an_answer_sends_related_passages_and_no_citations(client):
    events = parse_events(client.post("/ask/stream", json={
        "question": "How many people have been killed in Russia's Kharkiv offensive?"}).text)
    names = [name for name, _ in events]
    assert "sentence" not in names and "citation" not in names
    assert names[-1] == "done" and names.count("related") >= 1
    assert events[-1][1]["answered"] is False and "could not find" in events[-1][1]["answer"]
    assert all({"doc_id", "title", "text"} <= set(data) for name, data in events if name == "related")


def test_stream_follow_up_uses_the_conversation(client):
    first = parse_events(client.post("/ask/stream", json={"question": TRADE}).text)[-1][1]
    events = parse_events(client.post("/ask/stream", json={
        "question": "how much was it in 2022?", "conversation_id": first["conversation_id"]}).text)
    done = events[-1][1]
    assert done["conversation_id"] == first["conversation_id"]
    assert done["resolved_question"] != "how much was it in 2022?"
    shown = {data["doc_id"] for name, data in events if name in ("citation", "related")}
    assert "004_cb7437eb45da7ccb" in shown  # the article with the 2022 figure


@pytest.mark.parametrize("payload", [
    {}, {"question": ""}, {"question": "  "}, {"question": "x" * 1001}, {"question": "ok?", "top_k": 0},
    {"question": "ok?", "conversation_id": "bad id!"}, {"question": "ok?", "extra": True},
])
def test_bad_stream_requests_get_a_400_json_error_not_a_stream(client, payload):
    response = client.post("/ask/stream", json=payload)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["detail"]


def test_malformed_stream_body_gets_400(client):
    response = client.post("/ask/stream", content=b"{oops", headers={"content-type": "application/json"})
    assert response.status_code == 400
