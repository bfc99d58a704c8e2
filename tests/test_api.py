"""The HTTP API through Litestar's test client, on the ingested seeds."""

import pytest

TRADE_SENTENCE = ("According to Chinese customs data, trade between China and Russia reached a record $240.1 billion "
                  "in 2023, with Chinese exports to Russia increasing by 46.9% and imports from Russia rising by 13%.")


def test_ask_answers_with_the_exact_cited_sentence(client, service):
    response = client.post("/ask", json={"question": "How much did China-Russia trade reach in 2023?"})
    assert response.status_code == 200
    body = response.json()
    assert body["answered"] is True
    first = body["citations"][0]
    assert first["quote"] == TRADE_SENTENCE
    document = service.corpus.documents[first["doc_id"]]
    assert document.text[first["start"] : first["end"]] == TRADE_SENTENCE
    assert first["answer_text"] == "$240.1 billion"
    assert document.text[first["answer_start"] : first["answer_end"]] == "$240.1 billion"
    assert body["answer"].startswith(TRADE_SENTENCE + " [1]")
    assert [s["citation"] for s in body["sentences"]] == [c["n"] for c in body["citations"]]


def test_every_quote_matches_its_document(client, service, seed_questions):
    for question in seed_questions:
        body = client.post("/ask", json={"question": question["question"]}).json()
        for citation in body["citations"]:
            text = service.corpus.documents[citation["doc_id"]].text
            assert text[citation["start"] : citation["end"]] == citation["quote"]


def test_unanswerable_question_says_so_and_offers_related_passages(client):
    body = client.post("/ask", json={"question": "How many people have been killed in Russia's Kharkiv offensive?"}).json()
    assert body["answered"] is False
    assert body["citations"] == [] and body["sentences"] == []
    assert "could not find" in body["answer"]
    assert body["related"]


def test_filters_restrict_the_documents(client):
    body = client.post("/ask", json={"question": "How much did China-Russia trade reach?",
                                     "filters": {"doc_ids": ["004_cb7437eb45da7ccb"]}}).json()
    assert all(c["doc_id"] == "004_cb7437eb45da7ccb" for c in body["citations"])


@pytest.mark.parametrize("payload", [
    {}, {"question": ""}, {"question": "   \n\t"}, {"question": "x" * 1001}, {"question": 42},
    {"question": ["a"]}, {"question": "ok?", "top_k": 0}, {"question": "ok?", "top_k": 1000},
    {"question": "ok?", "top_k": "three"}, {"question": "ok?", "unknown": 1},
    {"question": "ok?", "filters": {"doc_ids": ["../etc/passwd"]}},
])
def test_bad_ask_requests_get_400_with_a_message(client, payload):
    response = client.post("/ask", json=payload)
    assert response.status_code == 400, response.text
    assert response.json()["detail"]


def test_malformed_json_gets_400(client):
    response = client.post("/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400


def test_search_ranks_passages(client):
    body = client.get("/search", params={"q": "seizure of Crimea", "k": 3}).json()
    assert len(body["hits"]) == 3
    assert "Crimea" in body["hits"][0]["text"]
    assert client.get("/search", params={"q": " "}).status_code == 400
    assert client.get("/search", params={"q": "x", "k": 0}).status_code == 400


def test_documents_list_and_detail(client):
    listing = client.get("/documents").json()
    assert listing["total"] == 5
    titles = {d["id"]: d["title"] for d in listing["documents"]}
    assert titles["004_cb7437eb45da7ccb"] == "Xi-Putin Meeting Shows Ukraine Peace Isn’t China’s Main\xa0Concern"
    detail = client.get("/documents/004_cb7437eb45da7ccb").json()
    assert detail["metadata"]["author"] == "Jingdong Yuan"
    assert "Subscribe to Our Newsletter" not in detail["text"]
    missing = client.get("/documents/no-such-doc")
    assert missing.status_code == 404 and "no-such-doc" in missing.json()["detail"]


def test_health_ready_and_openapi(client):
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready["ready"] is True and ready["documents"] == 5 and ready["passages"] > 0
    schema = client.get("/schema/openapi.json").json()
    assert "/ask" in schema["paths"] and "/search" in schema["paths"]


@pytest.mark.parametrize("path", ["/ask", "/ask/stream"])
def test_a_filter_on_an_unknown_document_gets_404(client, path):
    """A typo in a filter must not quietly search nothing and abstain."""
    response = client.post(path, json={"question": "How much did China-Russia trade reach?",
                                       "filters": {"doc_ids": ["004_cb7437eb45da7ccb", "no-such-article"]}})
    assert response.status_code == 404, response.text
    assert "no-such-article" in response.json()["detail"]


@pytest.mark.parametrize(("path", "params", "unknown"), [
    ("/documents", {"doc_ids": "nope"}, "'doc_ids'"),
    ("/search", {"q": "trade", "top_k": "3", "colour": "red"}, "'colour', 'top_k'"),
    ("/documents/004_cb7437eb45da7ccb", {"highlights": "0-5"}, "'highlights'"),
    ("/documents/004_cb7437eb45da7ccb/cite", {"style": "apa"}, "'style'"),
])
def test_unknown_query_parameters_get_400_naming_them(client, path, params, unknown):
    """`doc_ids=nope` (for `doc_id`) must not quietly list every document."""
    response = client.get(path, params=params)
    assert response.status_code == 400, response.text
    assert f"unknown query parameter(s) {unknown}" in response.json()["detail"]
    assert client.get("/", params={"utm_source": "x"}).status_code == 200  # a page that takes none ignores them


def test_a_404_for_many_unknown_ids_names_the_first_few_and_the_count(client):
    ids = [f"m{n}" for n in range(6000)]
    detail = client.post("/ask", json={"question": "Who met?", "filters": {"doc_ids": ids}}).json()["detail"]
    assert "'m0', 'm1'" in detail and "6,000 ids in all" in detail and len(detail) < 300
