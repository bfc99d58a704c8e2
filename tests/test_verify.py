"""Quote verification: finding quotations in a text (property tests on the offsets), the
status of each kind of quote a draft may hold, POST /citations/verify and `qa verify`."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.cli import main
from qa.quotations import MIN_QUOTE_WORDS, find_quotations
from qa.schemas import MAX_VERIFY_CHARACTERS, MAX_VERIFY_QUOTES
from qa.verify import verify

MARKS = [('"', '"'), ("\u201c", "\u201d"), ("\u201e", "\u201c"), ("\u00ab", "\u00bb"), ("\u2018", "\u2019")]
WORD = st.text(alphabet=st.characters(whitelist_categories=("Ll", "Lu", "Nd", "Lo")), min_size=1, max_size=8)
PLAIN = st.lists(WORD, min_size=1, max_size=6).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(PLAIN, st.lists(WORD, min_size=MIN_QUOTE_WORDS, max_size=9).map(" ".join),
                          st.sampled_from(MARKS)), min_size=1, max_size=5), PLAIN)
def test_every_quotation_is_found_at_its_exact_offsets(pieces, tail):
    text, expected = "", []
    for before, quote, (opening, closing) in pieces:
        text += before + " " + opening
        expected.append((len(text), len(text) + len(quote)))
        text += quote + closing + ", "
    text += tail
    found = find_quotations(text)
    assert [(q.start, q.end) for q in found] == expected
    assert all(text[q.start : q.end] == q.quote for q in found)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab c\n>\"'\u201c\u201d\u2018\u2019\u00ab\u00bb,.")), max_size=200))
def test_offsets_point_at_the_quotation_whatever_the_text(text):
    for q in find_quotations(text):
        assert 0 <= q.start < q.end <= len(text)
        assert text[q.start : q.end] == q.quote
        assert q.quote == q.quote.strip()


def test_apostrophes_short_quotes_and_block_quotes():
    text = ("It was a \u2018so-called\u2019 deal, don\u2019t you think, and \u2018a big deal for everyone\u2019.\n"
            "He measured 5\" of rain and said \"three words here\".\n"
            "> A block quote that runs\n> over two lines.\n")
    quotes = [q.quote for q in find_quotations(text)]
    assert quotes == ["a big deal for everyone", "three words here", "A block quote that runs\n> over two lines."]
    assert find_quotations(text)[-1].searched == "A block quote that runs over two lines"  # closing stop dropped


# ---- statuses, on the seed articles ------------------------------------------------------
SOURCE = "trade between China and Russia reached a record $240.1 billion in 2023"
CASES = [
    ("exact", f"\u201c{SOURCE}\u201d"),
    ("exact", '"Trade  between China and Russia reached\na record $240.1 billion in 2023"'),  # as cut and spaced
    ("exact", "\u201cChina\u2019s President Xi Jinping during his visit to Paris\u201d"),  # curly apostrophe
    ("exact", '"China\'s President Xi Jinping during his visit to Paris"'),  # straight apostrophe
    ("exact", '"According to Chinese customs data," he said, "trade between China and Russia reached a record"'),
    ("close", '"Western powers have expressed concerns that China could provide weapons to Russia"'),  # a word left out
    ("close", '"Western powers have voiced concerns that China could potentially provide weapons to Russia"'),
    ("misquoted", '"trade between China and Russia reached a record $204.1 billion in 2023"'),  # digits swapped
    ("misquoted", '"President Emmanuel Macron hosted Xi Jinping for his first visit to Europe in ten years"'),
    ("misquoted", '"the European Union is not unwavering in its support for Kyiv"'),  # negation inserted
    ("misquoted", '"China has no intention of bolstering its trade and military relationships with Russia"'),
    ("misquoted", '"President Emmanuel Macron hosted Vladimir Putin for his first visit to Europe in five years"'),
    ("not_found", '"The minister promised a new airport for the capital by the end of the decade"'),
    ("not_found", '"China and Russia signed a treaty in Paris to end the war in Ukraine next year"'),  # archive words
]


@pytest.mark.parametrize(("status", "draft"), CASES)
def test_each_kind_of_quote_gets_its_status(service, status, draft):
    response = verify(service.corpus, f"Officials wrote {draft} in the report.")
    assert [q.status for q in response.quotes] == [status], response.quotes
    result = response.quotes[0]
    if status == "not_found":
        assert result.source is None
        return
    document = service.corpus.documents[result.source.doc_id]
    assert document.text[result.source.start : result.source.end] == result.source.quote
    if status == "misquoted":
        assert any(c.kind in ("number", "negation", "name") for c in result.changes), result.changes


def test_a_changed_number_is_named_in_the_diff(service):
    response = verify(service.corpus, '"trade between China and Russia reached a record $204.1 billion in 2023"')
    assert [(c.draft, c.source, c.kind) for c in response.quotes[0].changes] == [("$204.1", "$240.1", "number")]


def test_sentence_mode_checks_every_sentence(service):
    text = ("According to Chinese customs data, trade between China and Russia reached a record $240.1 billion "
            "in 2023. The moon is made of green cheese and always has been.")
    response = verify(service.corpus, text, mode="sentences")
    assert [q.status for q in response.quotes] == ["exact", "not_found"]


# ---- HTTP and command line ---------------------------------------------------------------
def test_verify_endpoint_reports_in_text_order(client):
    text = f"First \u201c{SOURCE}\u201d, then \"a sentence nobody ever wrote anywhere\"."
    response = client.post("/citations/verify", json={"text": text})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [q["status"] for q in body["quotes"]] == ["exact", "not_found"]
    assert body["counts"] == {"exact": 1, "close": 0, "misquoted": 0, "not_found": 1}
    first = body["quotes"][0]
    assert text[first["start"] : first["end"]] == SOURCE
    citation = client.get(f"/citations/{first['source']['id']}").json()
    assert citation["quote"] == SOURCE


def test_verify_endpoint_bounds(client):
    too_long = client.post("/citations/verify", json={"text": "word " * (MAX_VERIFY_CHARACTERS // 5 + 1)})
    assert too_long.status_code == 413 and "at most 50,000" in too_long.json()["detail"]
    many = " ".join(f'"quote number {n} here"' for n in range(MAX_VERIFY_QUOTES + 1))
    too_many = client.post("/citations/verify", json={"text": many})
    assert too_many.status_code == 413 and f"at most {MAX_VERIFY_QUOTES}" in too_many.json()["detail"]
    assert client.post("/citations/verify", json={"text": "x", "mode": "words"}).status_code == 400
    assert client.post("/citations/verify", json={"text": "   "}).status_code == 400


@pytest.fixture
def cli_env(service, monkeypatch):
    monkeypatch.setenv("QA_DATA_DIR", service.settings.data_dir)
    monkeypatch.setenv("QA_MODEL_CACHE_DIR", service.settings.model_cache_dir)


def test_qa_verify_exits_1_when_a_quote_is_wrong(cli_env, tmp_path, capsys):
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text(f"They wrote \u201c{SOURCE}\u201d.")
    bad.write_text(f"They wrote \u201c{SOURCE.replace('240.1', '204.1')}\u201d.")
    assert main(["verify", str(good)]) == 0
    assert "EXACT" in capsys.readouterr().out
    assert main(["verify", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "MISQUOTED" in out and "\u201c$240.1\u201d" in out and "\033[" not in out  # no colour when piped
    assert main(["verify", str(bad), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["counts"]["misquoted"] == 1
    assert main(["verify", str(tmp_path / "missing.txt")]) == 2
