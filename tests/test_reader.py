"""The reader at query time: how a question and a sentence become its input, that the exported
file scores what the trained network scores, and how the composer uses its scores (the pick
among the ranker's best candidates, and the logit the calibration reads)."""

import json

import numpy as np
import pytest

from index import reader_model
from index.embedding import packaged_model_path
from qa.answer_models import AnswerModels
from qa.answer import Composer, PICK_FEATURES
from qa.confidence import LinearModel
from qa.question import analyse
from qa.reader import Reader

TRADE_QUESTION = "How much did China-Russia trade reach in 2023?"


def test_a_pair_keeps_the_question_and_sentence_and_cuts_the_context_from_its_start():
    ids, segments = reader_model.pair_ids([1, 2], [3, 4, 5], [6, 7, 8, 9], max_tokens=10)
    assert ids == [reader_model.CLS, 1, 2, reader_model.SEP, 3, 4, 5, reader_model.SEP, 9, reader_model.SEP]
    assert segments == [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    ids, _ = reader_model.pair_ids(list(range(100, 140)), list(range(200, 300)), [7], max_tokens=64)
    assert len(ids) <= 64 and ids[-1] == reader_model.SEP and 7 not in ids  # no room left for the context
    assert reader_model.context_text("Title", "") == "Title"
    assert reader_model.context_text("Title", "Before.") == "Title. Before"  # as it was trained


@pytest.fixture(scope="module")
def tiny_reader(tmp_path_factory):
    """A one-layer reader with a random head, exported as the shipped one would be."""
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("reader")
    torch.manual_seed(0)
    model = reader_model.build(packaged_model_path(), layers=1)
    torch.nn.init.normal_(model.head.weight, std=0.5)
    weights = folder / "reader.safetensors"
    save_file({k: v.half().contiguous() for k, v in reader_model.trained_state(model).items()}, str(weights))
    reader_model.manifest_file(weights).write_text(json.dumps({"layers": 1, "max_tokens": 48}))
    onnx_file = reader_model.ensure_onnx(packaged_model_path(), weights, folder / "cache")
    return (reader_model.load(packaged_model_path(), weights), Reader(onnx_file, packaged_model_path(), 48),
            Reader(onnx_file.with_name("reader-fp32.onnx"), packaged_model_path(), 48))


def test_the_exported_reader_scores_what_the_network_scores(tiny_reader):
    import torch

    network, reader, fp32 = tiny_reader
    sentences = ["Trade reached a record $240.1 billion in 2023.", "The summit ended without a statement.",
                 "Western powers have expressed concerns."]
    titles, previous = ["China and Russia"] * 3, ["", "Putin arrived in Beijing.", "It was his first visit."]
    exported = reader.scores(TRADE_QUESTION, sentences, titles, previous)
    tokenizer = reader._tokenizer
    rows = [reader_model.pair_ids(*(tokenizer.encode(t, add_special_tokens=False).ids
                                    for t in (TRADE_QUESTION, s, reader_model.context_text(ti, p))), 48)
            for s, ti, p in zip(sentences, titles, previous)]
    with torch.no_grad():
        expected = [float(network(torch.tensor([i]), torch.ones(1, len(i), dtype=torch.long), torch.tensor([s])))
                    for i, s in rows]
    assert exported.shape == (3,)
    assert np.allclose(fp32.scores(TRADE_QUESTION, sentences, titles, previous), expected, atol=1e-3)
    assert np.allclose(exported, expected, atol=0.5)  # int8 weights (of a random head): close logits
    assert reader.scores(TRADE_QUESTION, [], [], []).shape == (0,)


@pytest.mark.parametrize("weight", [0.0, 1000.0])
def test_the_pick_weighs_the_readers_logit_beside_the_rankers(service, tiny_reader, weight):
    """Weight 0 keeps the ranker's best sentence; a large weight takes the reader's; either
    way the pick leads what is quoted and its reader logit is what the calibration reads."""
    _, reader, _ = tiny_reader
    pick = LinearModel(features=PICK_FEATURES, mean=[0.0, 0.0], scale=[1.0, 1.0], coef=[1.0, weight], intercept=0.0)
    models = AnswerModels(sentence=service.models.sentence, confidence=service.models.confidence, calibration=None,
                          short_answer=None, reader=reader, pick=pick)
    composer = Composer(service.corpus, models, min_confidence=0.0, passages=3, reader_candidates=3)
    question = analyse(TRADE_QUESTION, service.embedder.embed([TRADE_QUESTION])[0], service.corpus.lexical.idf)
    retriever, plain = service.answering(service.corpus)
    hits = retriever.retrieve(question, 5)
    composition = composer.compose(question, hits)
    read = composition.read
    assert len(read) == 3
    chosen = max(read, key=lambda c: c[1] + weight * c[2])
    assert read[0] == chosen and composition.ranked[0] == chosen[0]
    assert composition.selected[0] == chosen[0] or composition.ranked[0] in composition.selected
    assert composition.features["reader_logit"] == chosen[2]
    if weight == 0.0:  # the ranker's own order
        assert composition.ranked[0] == plain.compose(question, hits).ranked[0]
