"""Answer composition on the ingested seeds: which sentences are quoted, in which order."""

import numpy as np
import pytest

from qa.answer import Composer
from qa.question import analyse
from qa.retrieval import Hit

TRADE_QUESTION = "How much did China-Russia trade reach in 2023?"


def _row_at(corpus, doc_id: str, start: int) -> int:
    rows = corpus.doc_sentence_rows([doc_id])
    return int(rows[np.flatnonzero(corpus.sentence_start[rows] == start)[0]])


def _composer(service, passages: int) -> Composer:
    return Composer(service.corpus, service.models, min_confidence=service.settings.min_confidence, passages=passages,
                    reader_candidates=service.settings.reader_candidates)


def test_the_best_sentence_leads_and_the_sentence_after_it_follows(client, service):
    body = client.post("/ask", json={"question": TRADE_QUESTION}).json()
    first, second = body["citations"][:2]
    corpus = service.corpus
    following = corpus.next_sentence(_row_at(corpus, first["doc_id"], first["start"]))
    assert following is not None
    assert (second["doc_id"], second["start"]) == (first["doc_id"], int(corpus.sentence_start[following]))
    text = corpus.documents[second["doc_id"]].text
    assert text[second["start"] : second["end"]] == second["quote"] == corpus.sentence_text(following)
    assert text[first["end"] : second["start"]].strip() == ""  # nothing is skipped between them
    assert second["answer_text"] is None  # the short answer comes from the best sentence only
    assert len(body["citations"]) <= 3


def test_next_sentence_stays_inside_its_document(service):
    corpus = service.corpus
    doc_id = corpus.doc_ids[0]
    rows = corpus.doc_sentence_rows([doc_id])
    assert [corpus.next_sentence(int(r)) for r in rows[:-1]] == [int(r) + 1 for r in rows[:-1]]
    assert corpus.next_sentence(int(rows[-1])) is None


def test_the_sentence_after_the_last_of_a_passage_is_scored_in_its_own_passage(service):
    """When the best sentence ends its passage, the one after it opens the next passage,
    which the candidates may not include: it is scored there, as if that passage had been
    retrieved after the others."""
    corpus = service.corpus
    passage = next(p for p in range(len(corpus.passages) - 1)
                   if corpus.passages[p].doc_id == corpus.passages[p + 1].doc_id)
    composer = _composer(service, passages=1)
    question = analyse(TRADE_QUESTION, service.embedder.embed([TRADE_QUESTION])[0], corpus.lexical.idf)
    hits = [Hit(passage=passage, score=1.0, lexical=1.0, dense=0.5)]
    rows, _, features = composer.sentence_features(question, hits)
    logits = composer.sentence_model.logits(features)
    last = len(rows) - 1
    row, score = composer._follower(question, hits, rows, logits, last)
    next_rows, _, next_features = composer._features(question, [(1, passage + 1)])
    assert row == int(rows[last]) + 1 == int(next_rows[0])
    assert score == float(composer.sentence_model.logits(next_features)[0])


def test_no_sentence_follows_the_last_of_an_article(service):
    corpus = service.corpus
    doc_id = corpus.doc_ids[0]
    passage = corpus.doc_passages(doc_id)[-1]
    composer = _composer(service, passages=1)
    question = analyse(TRADE_QUESTION, service.embedder.embed([TRADE_QUESTION])[0], corpus.lexical.idf)
    hits = [Hit(passage=passage, score=1.0, lexical=1.0, dense=0.5)]
    rows, _, features = composer.sentence_features(question, hits)
    assert composer._follower(question, hits, rows, composer.sentence_model.logits(features), len(rows) - 1) is None


def test_features_are_stacked_by_name_in_the_models_order():
    from qa.confidence import feature_matrix

    assert feature_matrix({"overlap": [0.5, 0.1], "cosine": np.array([0.9, 0.2])}, ["cosine", "overlap"]).tolist() == \
        [[0.9, 0.5], [0.2, 0.1]]
    with pytest.raises(ValueError, match="not the model's"):
        feature_matrix({"cosine": [0.9]}, ["cosine", "overlap"])


def test_question_words_the_answers_article_lacks_are_counted_and_lower_the_confidence(service):
    """`absent_words` counts the question's words that another article holds but the answer's
    article does not ("Kharkiv" is only in seed 003; the trade figures are in seed 000), not
    words that no article holds (a typo); the calibration lowers the confidence for each."""
    _, plain, _ = service.run(TRADE_QUESTION)
    _, foreign, _ = service.run(TRADE_QUESTION.replace("trade", "Kharkiv trade"))
    _, typo, _ = service.run(TRADE_QUESTION.replace("trade", "qzxwv trade"))
    corpus = service.corpus
    for composition in (plain, foreign, typo):
        assert corpus.sentence_doc[composition.ranked[0]] == corpus.doc_code["000_05abd8f469b4269b"]
    assert foreign.features["absent_words"] == plain.features["absent_words"] + 1
    assert typo.features["absent_words"] == plain.features["absent_words"]

    composer = _composer(service, 3)
    values = plain.features
    assert composer.confidence(values | {"absent_words": values["absent_words"] + 1}) < composer.confidence(values)
    calibration = composer.calibration
    assert calibration.probability(values | {"confidence_logit": 1.0}) > \
        calibration.probability(values | {"confidence_logit": 0.0})


def test_what_an_abstention_would_have_quoted_is_kept_for_evaluation(service):
    corpus = service.corpus
    answered = service.run(TRADE_QUESTION)
    rows = [_row_at(corpus, c.doc_id, c.start) for c in answered[0].citations]
    assert answered[0].answered and answered[1].selected == rows
    abstained = service.run("How many people have been killed in Russia's Kharkiv offensive?")
    assert not abstained[0].answered and abstained[0].citations == []
    assert abstained[1].selected and abstained[1].selected[0] == abstained[1].ranked[0]


def test_a_lone_closing_quote_mark_is_passed_over_for_the_next_sentence(tmp_path, embedder):
    """pysbd leaves a paragraph's last closing quote mark alone after a run of quotations;
    the sentence quoted after the best one is then the next one that holds words."""
    from index.store import Store
    from qa.service import QAService
    from tests.conftest import make_settings

    article = tmp_path / "corpus" / "awards.txt"
    article.parent.mkdir()
    article.write_text(
        "Film awards\n\n"
        "\"It's all a bit like a beauty contest - all the films are great and so different. \"But even though my "
        "film has won 30 awards worldwide (including one at Sundance last month), I'd still be proud of it - even if "
        "it hadn't won any.\" Asked what the nomination means to her, Arnold says she feels \"flattered and "
        "honoured\". \"We've all been overwhelmed by the response and can't get it in perspective yet. I'm still "
        "reeling.\"\n\nThe ceremony takes place in Los Angeles on 27 February.\n", encoding="utf-8")
    settings = make_settings(tmp_path / "data")
    service = QAService(settings, Store.open(settings), embedder, watch=False)
    service.ingest([article.parent])
    corpus = service.corpus
    rows = corpus.doc_sentence_rows(["awards"])
    texts = [corpus.sentence_text(int(r)) for r in rows]
    reeling = texts.index("I'm still reeling.")
    assert texts[reeling + 1] == '"'  # what the splitter gives, and why the follower skips
    composer = _composer(service, passages=3)
    question = analyse("Is Arnold still reeling?", embedder.embed(["Is Arnold still reeling?"])[0], corpus.lexical.idf)
    passage = int(corpus.sentence_passage[rows[reeling]])
    hits = [Hit(passage=passage, score=1.0, lexical=1.0, dense=0.5)]
    candidates, _, features = composer.sentence_features(question, hits)
    best = int(np.flatnonzero(candidates == rows[reeling])[0])
    row, _ = composer._follower(question, hits, candidates, composer.sentence_model.logits(features), best)
    assert corpus.sentence_text(row) == "The ceremony takes place in Los Angeles on 27 February."


def test_the_composer_withholds_a_short_answer_the_model_finds_unsure(service):
    """The served composer asks the short-answer model: a clear date is highlighted, a guess
    among four names is not (the quote is still cited, without a highlight)."""
    composer = _composer(service, passages=3)

    def short_answer(question: str, quote: str):
        analysed = analyse(question, service.embedder.embed([question])[0], service.corpus.lexical.idf)
        return composer._short_answer(analysed, quote)

    quote = "The bridge opened to traffic in 1932 after six years of work."
    kept = short_answer("When did the bridge open?", quote)
    assert kept is not None and quote[kept.start : kept.end] == "1932"
    assert short_answer("Who was the first to object?",
                        "Smith, Jones, Patel and Garcia all spoke after lunch, Reuters reported.") is None


def test_an_abstention_marks_the_closest_sentence_inside_its_related_passage(service):
    """When it abstains, the best candidate still reaches the user: the related passage that
    holds it marks it, by offsets inside the passage's text, and no other passage is marked."""
    response, composition, _ = service.run("How many people have been killed in Russia's Kharkiv offensive?")
    assert not response.answered
    marked = [p for p in response.related if p.closest_start is not None]
    assert len(marked) == 1
    passage = marked[0]
    assert passage.text[passage.closest_start : passage.closest_end] == \
        service.corpus.sentence_text(composition.ranked[0])
    assert all(p.closest_end is None for p in response.related if p is not passage)
