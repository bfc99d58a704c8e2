"""Metadata filters (date range, publisher, author, ids) on /ask, /search, /documents and the
command line, over a small archive whose metadata comes from sidecars and front matter."""

from __future__ import annotations

import json

import msgspec
import pytest
from litestar.testing import TestClient

from index.store import Store
from qa.api.app import create_app
from qa.cli import main
from qa.schemas import Filters
from qa.service import QAService
from tests.conftest import make_settings

ARTICLES = {
    "harbour-2021.txt": ("The Zanzibar harbour festival drew 40,000 visitors in 2021, the organisers said.",
                         {"date": "2021-07-04", "publisher": "Coast Times", "author": "Amina Said"}),
    "harbour-2023.txt": ("The Zanzibar harbour festival drew 65,000 visitors in 2023, the organisers said.",
                         {"date": "March 3, 2023", "publisher": "Island Post", "author": "Peter Okello; Amina Said"}),
    "harbour-undated.txt": ("The Zanzibar harbour festival drew 12,000 visitors in its first year, organisers said.",
                            {}),
}
QUESTION = "How many visitors did the Zanzibar harbour festival draw?"


@pytest.fixture(scope="module")
def archive(tmp_path_factory, embedder) -> QAService:
    folder = tmp_path_factory.mktemp("dated")
    for name, (text, metadata) in ARTICLES.items():
        (folder / name).write_text(text + "\n")
        if metadata:
            (folder / f"{name}.meta.json").write_text(json.dumps(metadata))
    settings = make_settings(tmp_path_factory.mktemp("dated-store"))
    service = QAService(settings, Store.open(settings), embedder)
    service.ingest([folder])
    return service


@pytest.fixture(scope="module")
def client(archive):
    with TestClient(create_app(archive.settings.replace(rate_limit_per_minute=0), archive)) as test_client:
        yield test_client


def _docs(hits) -> set[str]:
    return {hit.doc_id for hit in hits}


@pytest.mark.parametrize(("given", "expected"), [
    ({"published_from": "2022-01-01"}, {"harbour-2023"}),
    ({"published_to": "2022-12-31"}, {"harbour-2021"}),
    ({"published_from": "2021-01-01", "published_to": "2023-12-31"}, {"harbour-2021", "harbour-2023"}),
    ({"published_from": "2022-01-01", "undated": "include"}, {"harbour-2023", "harbour-undated"}),
    ({"publisher": "island post"}, {"harbour-2023"}),
    ({"author": "amina"}, {"harbour-2021", "harbour-2023"}),
    ({"author": "Okello", "published_to": "2022-01-01"}, None),
    ({"doc_ids": ["harbour-undated"]}, {"harbour-undated"}),
])
def test_search_keeps_only_matching_documents(archive, given, expected):
    filters = msgspec.convert(given, Filters)  # as the API decodes them
    if expected is None:
        with pytest.raises(LookupError, match="no document matches the filters"):
            archive.search(QUESTION, 10, filters)
        return
    assert _docs(archive.search(QUESTION, 10, filters).hits) == expected


def test_ask_with_a_date_filter_quotes_that_year(client):
    response = client.post("/ask", json={"question": QUESTION, "filters": {"published_from": "2023-01-01"}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert {c["doc_id"] for c in body["citations"]} <= {"harbour-2023"}
    assert "65,000" in body["answer"]


def test_get_endpoints_take_the_filters_as_query_parameters(client):
    listed = client.get("/documents", params={"published_from": "2022-01-01"}).json()
    assert [d["id"] for d in listed["documents"]] == ["harbour-2023"]
    assert listed["undated_excluded"] == 1  # said, not silently dropped
    searched = client.get("/search", params={"q": QUESTION, "publisher": "Coast Times"}).json()
    assert {h["doc_id"] for h in searched["hits"]} == {"harbour-2021"}
    both = client.get("/search", params={"q": QUESTION, "doc_id": ["harbour-2021", "harbour-undated"]}).json()
    assert {h["doc_id"] for h in both["hits"]} == {"harbour-2021", "harbour-undated"}


def test_bad_or_empty_filters_are_client_errors(client):
    assert client.get("/search", params={"q": QUESTION, "published_from": "2023-13-01"}).status_code == 400
    assert client.post("/ask", json={"question": QUESTION, "filters": {"published_from": "last year"}}).status_code == 400
    assert client.post("/ask", json={"question": QUESTION, "filters": {"outlet": "x"}}).status_code == 400
    nothing = client.post("/ask", json={"question": QUESTION, "filters": {"published_from": "2030-01-01"}})
    assert nothing.status_code == 404
    assert "1 undated left out" in nothing.json()["detail"]
    assert client.get("/documents", params={"publisher": "Nobody"}).json()["total"] == 0  # a list may be empty


def test_cli_filters(archive, monkeypatch, capsys):
    monkeypatch.setenv("QA_DATA_DIR", archive.settings.data_dir)
    monkeypatch.setenv("QA_MODEL_CACHE_DIR", archive.settings.model_cache_dir)
    assert main(["search", QUESTION, "--publisher", "island post"]) == 0
    out = capsys.readouterr().out
    assert "harbour-2023" in out and "harbour-2021" not in out
    assert main(["search", QUESTION, "--from", "2030-01-01"]) == 2
    assert "no document matches" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["ask", QUESTION, "--from", "yesterday"])
    assert exit_.value.code == 2


def test_a_filter_of_few_sentences_is_searched_exactly_even_in_a_large_corpus(service, monkeypatch):
    """Above EXACT_SEARCH_MAX sentences the nearest ones come from Chroma's index, but a
    filter's own sentences, when few, are compared in memory (Chroma's filtered search took
    ~350 ms for one document at 200k sentences): the same best cosine per passage as a
    brute-force pass over the documents kept, and no Chroma query."""
    import numpy as np

    import qa.retrieval
    from qa.retrieval import Retriever

    corpus = service.corpus
    kept = list(corpus.documents)[:2]
    monkeypatch.setattr(qa.retrieval, "EXACT_SEARCH_MAX", len(corpus.doc_sentence_rows(kept)))
    monkeypatch.setattr(service.store, "query_sentences", lambda *a, **k: pytest.fail("asked Chroma"))
    vector = service.embedder.embed(["What did Xi Jinping promise about weapons for Russia?"])[0]
    found = Retriever(corpus, service.store).dense_scores(vector, kept)
    rows = [r for r in range(len(corpus.sentences)) if corpus.sentences[r].doc_id in kept]
    cosines = corpus.vectors(rows) @ vector
    nearest = np.argsort(-cosines)[: qa.retrieval.DENSE_SENTENCES]
    expected: dict[int, float] = {}
    for k in nearest:
        passage = int(corpus.sentence_passage[rows[k]])
        expected[passage] = max(expected.get(passage, -1.0), float(cosines[k]))
    assert found.keys() == expected.keys() and all(found[p] == pytest.approx(expected[p]) for p in found)
    assert {corpus.passages[p].doc_id for p in found} <= set(kept)


def test_filters_hold_after_a_document_is_removed(tmp_path, embedder, monkeypatch):
    """A deletion marks the document's rows removed while its code stays in the columns: a
    filter's mask spans every code (it was sized by the live documents and failed)."""
    from index.readmodel import writing

    monkeypatch.setattr(writing, "REMOVED_MAX_FRACTION", 1.0)  # three articles: keep the mark, no rewrite
    folder = tmp_path / "dated"
    folder.mkdir()
    for name, (text, metadata) in ARTICLES.items():
        (folder / name).write_text(text + "\n")
        if metadata:
            (folder / f"{name}.meta.json").write_text(json.dumps(metadata))
    settings = make_settings(tmp_path / "store")
    service = QAService(settings, Store.open(settings), embedder)
    try:
        service.ingest([folder])
        assert service.delete("harbour-undated")
        assert bool(service.corpus.columns.removed.any())  # marked, not yet dropped
        for filters in (Filters(publisher="Coast Times"), Filters(doc_ids=["harbour-2021"])):
            answer = service.ask(QUESTION, filters=filters)
            assert answer.answered and {c.doc_id for c in answer.citations} == {"harbour-2021"}
    finally:
        service.close()


def test_the_watcher_builds_the_document_index_before_any_filtered_request(tmp_path, embedder):
    """Filters and citation lookups read a per-corpus document index; the service's watcher
    builds it after a start or a change, so that no request pays for it (115 ms at 200k passages)."""
    import time

    import qa.doc_index
    from tests.conftest import SEEDS

    settings = make_settings(tmp_path / "data")
    service = QAService(settings, Store.open(settings), embedder)
    try:
        service.ingest([SEEDS / "000_05abd8f469b4269b.txt"])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            cached = qa.doc_index._cached
            if cached is not None and cached[0]() is service.corpus:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the document index of the new corpus was not built within 10 s")
    finally:
        service.close()
