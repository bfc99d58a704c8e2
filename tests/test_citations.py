"""Citations for researchers: ids that resolve to a quote in context, finding where a
quote comes from, references from the article's metadata, highlighted documents, `qa cite`."""

from __future__ import annotations

import json
import shutil

import pytest

from index.store import Store
from qa.citations import citation_id, parse_citation_id
from qa.service import QAService
from tests.conftest import SEEDS, make_settings

TRADE = ("According to Chinese customs data, trade between China and Russia reached a record $240.1 billion in 2023, "
         "with Chinese exports to Russia increasing by 46.9% and imports from Russia rising by 13%.")
PUTIN = ("Russian President Vladimir Putin said settling the conflict would only happen “whenever the West and Kyiv "
         "are ready for it.”")
SEED_000, SEED_004 = "000_05abd8f469b4269b", "004_cb7437eb45da7ccb"


def _lookup(client, quote: str, **options) -> dict:
    response = client.post("/citations/lookup", json={"quote": quote, **options})
    assert response.status_code == 200, response.text
    return response.json()


def _offsets(service, doc_id: str, text: str) -> tuple[int, int]:
    start = service.corpus.documents[doc_id].text.index(text)
    return start, start + len(text)


# ---- citation ids and GET /citations/{id} ---------------------------------------------------

def test_citation_ids_are_hash_and_offsets_and_parse_back():
    value = citation_id("ab" * 32, 10, 42)
    assert value == "abababababababab-10-42"
    ref = parse_citation_id(value)
    assert (ref.hash_prefix, ref.start, ref.end) == ("abababababababab", 10, 42)
    for bad in ["", "abababababababab-10", "ABABABABABABABAB-1-2", "abababababababab-5-5", "abababababababab-9-3",
                "abababababababab--1-3", "xyz-1-2", "abababababababab-1-2-3"]:
        assert parse_citation_id(bad) is None, bad


def test_ask_citations_resolve_to_the_quote_in_its_context(client, service):
    body = client.post("/ask", json={"question": "How much did China-Russia trade reach in 2023?"}).json()
    first = body["citations"][0]
    document = service.corpus.documents[first["doc_id"]]
    assert first["id"] == citation_id(document.content_hash, first["start"], first["end"])
    detail = client.get(f"/citations/{first['id']}").json()
    assert detail["quote"] == TRADE == document.text[detail["start"] : detail["end"]]
    assert detail["doc_id"] == SEED_000 and detail["title"] == document.title
    paragraph = detail["paragraph"]
    assert paragraph["text"] == document.text[paragraph["start"] : paragraph["end"]]
    assert paragraph["text"].startswith(TRADE) and "\n\n" not in paragraph["text"]
    assert paragraph["text"][detail["quote_start_in_paragraph"] : detail["quote_end_in_paragraph"]] == TRADE
    # The previous sentence ends the paragraph before; the next one follows in the same paragraph.
    assert detail["previous_sentence"].startswith("China has bolstered its trade and military relationships")
    assert detail["next_sentence"].startswith("Western powers have expressed concerns")
    assert detail["document_url"] == f"/documents/{SEED_000}?highlight={detail['start']}-{detail['end']}"
    assert detail["metadata"]["content_hash"] == document.content_hash
    assert detail["metadata"]["ingested_at"]


def test_a_span_cut_mid_sentence_and_the_document_edges_resolve(client, service):
    document = service.corpus.documents[SEED_004]
    start, end = _offsets(service, SEED_004, "settling the conflict would only happen")
    detail = client.get(f"/citations/{citation_id(document.content_hash, start, end)}").json()
    assert detail["quote"] == "settling the conflict would only happen"
    # The quote starts inside a sentence: its neighbours are the sentences around that one.
    assert detail["previous_sentence"].startswith("Chinese President Xi Jinping’s trip to Moscow this week")
    assert detail["next_sentence"].startswith("Indeed, while Russia made note")
    whole = client.get(f"/citations/{citation_id(document.content_hash, 0, len(document.text))}").json()
    assert whole["previous_sentence"] is None and whole["next_sentence"] is None
    assert whole["quote"] == document.text


@pytest.mark.parametrize("value", ["nope", "0123456789abcdef-5-2", "0123456789abcdef-0-10", "0" * 200])
def test_malformed_or_unknown_citation_ids_are_404_with_a_message(client, value):
    response = client.get(f"/citations/{value}")
    assert response.status_code in (400, 404), response.text
    assert response.json()["detail"]


def test_a_citation_past_the_end_of_its_document_is_404(client, service):
    document = service.corpus.documents[SEED_000]
    response = client.get(f"/citations/{citation_id(document.content_hash, 0, len(document.text) + 1)}")
    assert response.status_code == 404 and "past the end" in response.json()["detail"]


def test_every_ask_answer_verifies_against_its_citation(client, service, seed_questions):
    checked = 0
    for question in seed_questions:
        body = client.post("/ask", json={"question": question["question"]}).json()
        for citation in body["citations"]:
            detail = client.get(f"/citations/{citation['id']}")
            assert detail.status_code == 200, citation["id"]
            detail = detail.json()
            text = service.corpus.documents[citation["doc_id"]].text
            assert detail["quote"] == citation["quote"] == text[citation["start"] : citation["end"]]
            assert (detail["doc_id"], detail["start"], detail["end"]) == (citation["doc_id"], citation["start"],
                                                                          citation["end"])
            checked += 1
    assert checked


# ---- POST /citations/lookup with the seeds --------------------------------------------------

def test_a_quote_with_straight_quotes_is_found_at_the_curly_original(client, service):
    straight = PUTIN.replace("“", '"').replace("”", '"')
    body = _lookup(client, straight)
    best = body["matches"][0]
    assert body["found"] and best["kind"] == "normalized" and best["similarity"] == 1.0
    assert (best["citation"]["start"], best["citation"]["end"]) == _offsets(service, SEED_004, PUTIN)
    assert best["citation"]["quote"] == PUTIN


def test_whitespace_and_dash_differences_are_normalised(client, service):
    original = "a new “democratic world order” — also said"
    doc_id = next(d for d, doc in service.corpus.documents.items() if original in doc.text)
    body = _lookup(client, 'a new  "democratic\nworld order" - also said')
    best = body["matches"][0]
    assert best["kind"] == "normalized"
    assert best["citation"]["quote"] == original
    assert (best["citation"]["start"], best["citation"]["end"]) == _offsets(service, doc_id, original)


def test_a_verbatim_quote_is_an_exact_match(client, service):
    body = _lookup(client, TRADE)
    best = body["matches"][0]
    assert best["kind"] == "exact" and best["citation"]["doc_id"] == SEED_000
    assert (best["citation"]["start"], best["citation"]["end"]) == _offsets(service, SEED_000, TRADE)


def test_a_quote_with_a_typo_is_a_close_match_on_the_right_span(client, service):
    meant = "trade between China and Russia reached a record $240.1 billion in 2023"
    body = _lookup(client, meant.replace("record", "recrod"))
    best = body["matches"][0]
    assert best["kind"] == "fuzzy" and 0.9 <= best["similarity"] < 1.0
    assert best["citation"]["quote"] == meant
    assert (best["citation"]["start"], best["citation"]["end"]) == _offsets(service, SEED_000, meant)


def test_a_quote_cut_mid_sentence_and_mid_word_is_found_at_its_exact_offsets(client, service):
    for cut in ["Xi Jinping reassured the European leaders that China has no intention of supp",
                "ssured the European leaders that China has no intention of supplying weapons"]:
        best = _lookup(client, cut)["matches"][0]
        assert best["kind"] == "exact" and best["citation"]["quote"] == cut
        assert (best["citation"]["start"], best["citation"]["end"]) == _offsets(service, SEED_000, cut)


def test_long_quotes_are_matched_exactly_or_normalised_but_not_aligned(client, service):
    """Fuzzy alignment costs quote length × window length per candidate: above MAX_FUZZY_QUOTE
    characters a quote is only looked up as written (or normalised), and the answer says so."""
    from qa.lookup import MAX_FUZZY_QUOTE

    text = service.corpus.documents[SEED_000].text
    long_quote = text[: MAX_FUZZY_QUOTE + 200].strip()
    best = _lookup(client, long_quote.replace("\u2019", "'"))["matches"][0]
    assert best["kind"] in ("exact", "normalized") and best["citation"]["doc_id"] == SEED_000
    typo = long_quote[:300] + ("x" if long_quote[300] != "x" else "y") + long_quote[301:]
    body = _lookup(client, typo)
    assert body["found"] is False and str(MAX_FUZZY_QUOTE) in body["message"]


def test_a_quote_in_no_article_is_not_found(client):
    body = _lookup(client, "The central bank raised interest rates by half a percentage point on Tuesday.")
    assert body["found"] is False and body["matches"] == []
    assert "not found" in body["message"]


@pytest.mark.parametrize("boilerplate", ["By submitting your info, you agree to our terms of use.",
                                         "Subscribe to Our Newsletter",
                                         "How Yevgeny Prigozhin Could Threaten Putin From the Right",
                                         "Putin and Prigozhin: Explaining the Wagner Group Melodrama"])
def test_a_quote_only_in_removed_boilerplate_is_not_found(client, boilerplate):
    assert boilerplate in " ".join((SEEDS / f"{SEED_004}.txt").read_text().split())  # the file has it (with a nbsp)
    body = _lookup(client, boilerplate)
    assert body["found"] is False, body["matches"]


def test_a_quote_across_a_paragraph_break_is_found(client, service):
    document = service.corpus.documents[SEED_000]
    end_of_first = document.text.index("\n\n")
    across = document.text[end_of_first - 40 : end_of_first + 42]
    best = _lookup(client, " ".join(across.split()))["matches"][0]
    assert best["kind"] == "normalized"
    assert (best["citation"]["start"], best["citation"]["end"]) == (end_of_first - 40, end_of_first + 42)


def test_a_repeated_phrase_gives_several_exact_matches_best_first(client):
    body = _lookup(client, "Xi Jinping", limit=10)
    kinds = [m["kind"] for m in body["matches"]]
    assert len(kinds) > 3 and set(kinds) == {"exact"}
    assert all(m["citation"]["quote"] == "Xi Jinping" for m in body["matches"])


@pytest.mark.parametrize("payload", [
    {}, {"quote": ""}, {"quote": "  \n "}, {"quote": "x" * 2001}, {"quote": 5}, {"quote": "war", "limit": 0},
    {"quote": "war", "limit": 51}, {"quote": "war", "min_similarity": 2}, {"quote": "war", "extra": True},
])
def test_bad_lookup_requests_get_400_with_a_message(client, payload):
    response = client.post("/citations/lookup", json=payload)
    assert response.status_code == 400, response.text
    assert response.json()["detail"]


def test_a_quote_of_only_stop_words_says_it_has_nothing_to_search(client):
    body = _lookup(client, "and the of it")
    assert body["found"] is False and "no searchable words" in body["message"]


# ---- references ----------------------------------------------------------------------------

def test_references_of_a_seed_with_a_headline_and_an_author_box(client, service):
    document = service.corpus.documents[SEED_004]
    response = client.get(f"/documents/{SEED_004}/cite")
    assert response.status_code == 200 and "csl+json" in response.headers["content-type"]
    [item] = response.json()
    assert item["title"] == document.title and item["author"] == [{"family": "Yuan", "given": "Jingdong"}]
    assert "issued" not in item and "URL" not in item  # the file has neither: they are not invented
    apa = client.get(f"/documents/{SEED_004}/cite", params={"format": "apa"}).text
    assert apa == f"Yuan, J. (n.d.). {document.title}."
    mla = client.get(f"/documents/{SEED_004}/cite", params={"format": "mla"}).text
    assert mla == f"Yuan, Jingdong. “{document.title}.”"
    bib = client.get(f"/documents/{SEED_004}/cite", params={"format": "bibtex"}).text
    assert bib.startswith("@misc{yuan") and "author = {Yuan, Jingdong}" in bib


def test_a_seed_without_a_title_line_is_not_given_a_fake_headline(client, service):
    document = service.corpus.documents[SEED_000]
    assert document.metadata["title_source"] == "opening-words"
    [item] = client.get(f"/documents/{SEED_000}/cite").json()
    assert "title" not in item and "Untitled article beginning “France and the European" in item["note"]
    apa = client.get(f"/documents/{SEED_000}/cite", params={"format": "apa"}).text
    assert apa.startswith("[Untitled article beginning “France and the European") and apa.endswith("(n.d.).")
    assert document.title not in apa


def test_bad_reference_requests(client):
    assert client.get(f"/documents/{SEED_000}/cite", params={"format": "chicago"}).status_code == 400
    missing = client.get("/documents/no-such-doc/cite")
    assert missing.status_code == 404 and "no-such-doc" in missing.json()["detail"]


# ---- a small corpus with metadata ----------------------------------------------------------

@pytest.fixture(scope="module")
def meta_service(tmp_path_factory, embedder) -> QAService:
    folder = tmp_path_factory.mktemp("articles")
    (folder / "deal.txt").write_text(
        "Big Trade Deal Signed\n\nBy Jane Doe and John Roe\nPublished: May 16, 2024\n\n"
        "The two countries signed a trade deal worth $5 billion on Thursday. Officials said tariffs would fall.\n")
    (folder / "wire.txt").write_text("Ports Reopen After Storm\n\nThe main ports reopened on Monday after the storm. "
                                     "Shipping companies said delays would last a week.\n")
    (folder / "wire.txt.meta.json").write_text(json.dumps({
        "author": ["Ann Lee", "Ben Okafor"], "publisher": "Example News", "date": "2024-05-01",
        "url": "https://example.org/ports", "title": "Ports Reopen After the Storm", "ignored": "x"}))
    (folder / "markup.txt").write_text("Markup <b>test</b> & friends\n\nThe text says <script>alert(\"x\")</script> "
                                       "& more, and it must show as text. A second sentence follows here.\n")
    shutil.copy(SEEDS / f"{SEED_000}.txt", folder / "renamed-copy.txt")
    settings = make_settings(tmp_path_factory.mktemp("meta-data"))
    service = QAService(settings, Store.open(settings), embedder)
    report = service.ingest([folder])
    assert not report.skipped, report.skipped
    return service


@pytest.fixture(scope="module")
def meta_client(meta_service):
    from litestar.testing import TestClient

    from qa.api.app import create_app

    with TestClient(create_app(meta_service.settings, meta_service)) as test_client:
        yield test_client


def test_byline_and_dateline_in_plain_text_become_metadata(meta_client, meta_service):
    metadata = meta_service.corpus.documents["deal"].metadata
    assert (metadata["author"], metadata["date"], metadata["title_source"]) == ("Jane Doe; John Roe", "2024-05-16",
                                                                                "heading")
    apa = meta_client.get("/documents/deal/cite", params={"format": "apa"}).text
    assert apa == "Doe, J., & Roe, J. (2024, May 16). Big Trade Deal Signed."
    [item] = meta_client.get("/documents/deal/cite").json()
    assert item["issued"] == {"date-parts": [[2024, 5, 16]]}
    assert "publisher" not in item and "URL" not in item


def test_sidecar_metadata_reaches_every_reference_format(meta_client, meta_service):
    document = meta_service.corpus.documents["wire"]
    assert document.title == "Ports Reopen After the Storm" and "ignored" not in document.metadata
    [item] = meta_client.get("/documents/wire/cite").json()
    assert item["title"] == "Ports Reopen After the Storm"
    assert item["author"] == [{"family": "Lee", "given": "Ann"}, {"family": "Okafor", "given": "Ben"}]
    assert item["container-title"] == "Example News" and item["URL"] == "https://example.org/ports"
    assert item["issued"] == {"date-parts": [[2024, 5, 1]]}
    day = [int(p) for p in document.metadata["ingested_at"][:10].split("-")]
    assert item["accessed"] == {"date-parts": [day]}
    apa = meta_client.get("/documents/wire/cite", params={"format": "apa"}).text
    assert apa == ("Lee, A., & Okafor, B. (2024, May 1). Ports Reopen After the Storm. Example News. "
                   "https://example.org/ports")
    mla = meta_client.get("/documents/wire/cite", params={"format": "mla"}).text
    assert mla.startswith("Lee, Ann, and Ben Okafor. “Ports Reopen After the Storm.” Example News, 1 May 2024, "
                          "example.org/ports. Accessed ")
    bib = meta_client.get("/documents/wire/cite", params={"format": "bibtex"}).text
    assert bib.startswith("@article{lee2024ports,") and "journal = {Example News}" in bib and "date = {2024-05-01}" in bib


def test_citation_ids_survive_a_restart_and_a_reingest_under_another_name(service, meta_service, client, meta_client):
    body = client.post("/ask", json={"question": "How much did China-Russia trade reach in 2023?"}).json()
    first = body["citations"][0]
    restarted = QAService(service.settings, Store.open(service.settings), service.embedder)
    from qa.citations import resolve

    assert resolve(restarted.corpus, first["id"]).quote == first["quote"]
    elsewhere = meta_client.get(f"/citations/{first['id']}").json()
    assert elsewhere["doc_id"] == "renamed-copy" and elsewhere["quote"] == first["quote"]
    assert (elsewhere["start"], elsewhere["end"]) == (first["start"], first["end"])


# ---- documents with highlights -------------------------------------------------------------

def test_document_json_carries_the_highlighted_ranges(meta_client, meta_service):
    text = meta_service.corpus.documents["deal"].text
    start = text.index("signed a trade deal")
    response = meta_client.get("/documents/deal", params={"highlight": f"{start}-{start + 19},0-3"})
    assert response.status_code == 200
    assert response.json()["highlights"] == [{"start": 0, "end": 3, "text": "Big"},
                                             {"start": start, "end": start + 19, "text": "signed a trade deal"}]


def test_document_html_marks_the_range_and_escapes_all_text(meta_client, meta_service):
    text = meta_service.corpus.documents["markup"].text
    start = text.index("<script>")
    end = start + len('<script>alert("x")</script>')
    page = meta_client.get("/documents/markup", params={"highlight": f"{start}-{end}", "format": "html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "<script>" not in html and "<b>" not in html
    assert '<mark id="highlight-1">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</mark>' in html
    assert "<h1>Markup &lt;b&gt;test&lt;/b&gt; &amp; friends</h1>" in html
    negotiated = meta_client.get("/documents/markup", headers={"accept": "text/html,application/xhtml+xml"})
    assert negotiated.headers["content-type"].startswith("text/html")
    assert meta_client.get("/documents/markup").headers["content-type"].startswith("application/json")


def test_a_highlight_across_paragraphs_is_marked_in_each(meta_client, meta_service):
    text = meta_service.corpus.documents["deal"].text
    html = meta_client.get("/documents/deal", params={"highlight": f"0-{len(text)}", "format": "html"}).text
    assert html.count("<mark") == text.count("\n\n") + 1 and html.count('id="highlight-1"') == 1


@pytest.mark.parametrize("value", ["5-2", "abc", "0-999999", "1-2,x", "-1-3", "3"])
def test_bad_highlights_get_400(meta_client, value):
    response = meta_client.get("/documents/deal", params={"highlight": value})
    assert response.status_code == 400 and response.json()["detail"]


# ---- qa cite -------------------------------------------------------------------------------

def test_qa_cite_prints_the_matches_in_context(service, monkeypatch, capsys):
    from qa import cli

    monkeypatch.setattr(cli, "_service", lambda settings: service)
    status = cli.main(["cite", "trade between China and Russia reached a recrod $240.1 billion", "--style", "apa"])
    out = capsys.readouterr().out
    assert status == 0
    assert out.startswith("1. fuzzy (similarity 0.9")
    assert "»trade between China and Russia reached a record $240.1 billion«" in out
    assert "According to Chinese customs data, »" in out
    assert "[Untitled article beginning" in out

    assert cli.main(["cite", "The central bank raised interest rates by half a point."]) == 1
    assert "not found" in capsys.readouterr().err


@pytest.mark.parametrize("style", ["csl-json", "bibtex", "apa", "mla"])
def test_reference_content_type_names_its_charset_once(client, style):
    doc_id = client.get("/documents").json()["documents"][0]["id"]
    content_type = client.get(f"/documents/{doc_id}/cite", params={"format": style}).headers["content-type"]
    assert content_type.count("charset=utf-8") == 1, content_type
