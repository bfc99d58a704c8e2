"""Property tests: every span the service can return is `document.text[start:end]`.

Over the seeds and, when present, the squad2-dev articles: the splitter's sentences and
passages, the citation builder, the quote normaliser's offset map, and quote lookup."""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from index.documents import Document, Span
from index.lexical import terms
from index.loading import discover, read_document
from index.pipeline import prepare
from index.splitting import paragraph_spans, split_passages
from qa.citations import citation_detail, parse_citation_id
from qa.lookup import lookup
from qa.textnorm import normalise
from tests.conftest import SEEDS, SHARED

SQUAD_ARTICLES = SHARED / "eval" / "squad2-dev" / "articles"
PATHS = discover([SEEDS]) + (discover([SQUAD_ARTICLES]) if SQUAD_ARTICLES.exists() else [])
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def word_count(texts) -> list[int]:
    return [len(t.split()) for t in texts]


@cache
def document(path: Path) -> Document:
    prepared = prepare(read_document(path))
    assert prepared is not None
    return prepared


@cache
def sentences(path: Path) -> tuple[Span, ...]:
    return tuple(s for group in split_passages(document(path).text, word_count, 150, 30) for s in group)


documents = st.sampled_from(PATHS)


def test_the_squad_articles_are_included_when_present():
    if not SQUAD_ARTICLES.exists():
        pytest.skip("../shared/eval/squad2-dev is not present")
    assert len(PATHS) > 30


@PROPERTY
@given(path=documents, max_tokens=st.integers(8, 300), min_share=st.floats(0, 0.5))
def test_splitter_spans_are_exact_ordered_and_lose_no_text(path, max_tokens, min_share):
    text = document(path).text
    groups = split_passages(text, word_count, max_tokens, int(max_tokens * min_share))
    flat = [s for group in groups for s in group]
    assert all(group for group in groups)
    paragraphs = paragraph_spans(text)
    for span in flat:
        piece = text[span.start : span.end]
        assert 0 <= span.start < span.end <= len(text)
        assert piece == piece.strip() and piece
        assert any(p.start <= span.start and span.end <= p.end for p in paragraphs), "a sentence crosses a paragraph"
    assert all(a.end <= b.start for a, b in pairwise(flat)), "sentences overlap or are out of order"
    covered = "".join(text[s.start : s.end] for s in flat)
    assert "".join(covered.split()) == "".join(text.split()), "some text is in no sentence"
    for group in groups:  # the read model counts a passage's words from its sentences' words
        passage_words = Counter(terms(text[group[0].start : group[-1].end]))
        assert passage_words == sum((Counter(terms(text[s.start : s.end])) for s in group), Counter())


@PROPERTY
@given(path=documents, data=st.data())
def test_citation_builder_quotes_exactly_what_the_offsets_say(path, data):
    doc = document(path)
    start = data.draw(st.integers(0, len(doc.text) - 1))
    end = data.draw(st.integers(start + 1, min(len(doc.text), start + 2000)))
    spans = sentences(path)
    detail = citation_detail(doc, spans, start, end)
    assert detail.quote == doc.text[start:end]
    paragraph = detail.paragraph
    assert paragraph.text == doc.text[paragraph.start : paragraph.end]
    assert paragraph.text[detail.quote_start_in_paragraph : detail.quote_end_in_paragraph] == detail.quote
    ref = parse_citation_id(detail.id)
    assert (ref.hash_prefix, ref.start, ref.end) == (doc.content_hash[:16], start, end)
    texts = {doc.text[s.start : s.end] for s in spans}
    if detail.previous_sentence is not None:
        assert detail.previous_sentence in texts
        assert doc.text.rfind(detail.previous_sentence, 0, start + 1) >= 0
    if detail.next_sentence is not None:
        assert detail.next_sentence in texts and doc.text.find(detail.next_sentence, end) >= 0
    assert detail.document_url == f"/documents/{doc.id}?highlight={start}-{end}"


@PROPERTY
@given(path=documents, data=st.data())
def test_normalised_spans_map_back_to_the_original_text(path, data):
    text = document(path).text
    start = data.draw(st.integers(0, max(0, len(text) - 300)))
    original = text[start : start + 300]
    norm = normalise(original)
    a = data.draw(st.integers(0, len(norm.text) - 1))
    b = data.draw(st.integers(a + 1, len(norm.text)))
    begin, end = norm.span(a, b)
    assert normalise(original[begin:end]).text.strip() == norm.text[a:b].strip()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_run_of_words_from_a_seed_is_found_exactly_where_it_is(service, data):
    corpus = service.corpus
    doc = corpus.documents[data.draw(st.sampled_from(sorted(corpus.documents)))]
    words = list(re.finditer(r"\S+", doc.text))
    first = data.draw(st.integers(0, len(words) - 8))
    last = data.draw(st.integers(first + 5, min(len(words) - 1, first + 40)))
    start, end = words[first].start(), words[last].end()
    quote = doc.text[start:end]
    response = lookup(corpus, quote, limit=50)
    assume(response.candidates)  # a run of stop words has nothing to search by
    assert response.matches[0].kind == "exact"
    assert all(m.citation.quote == quote for m in response.matches if m.kind == "exact")
    assert (doc.id, start, end) in {(m.citation.doc_id, m.citation.start, m.citation.end) for m in response.matches}
