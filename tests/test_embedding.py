"""The ONNX embedders (int8 and fp32) against the torch reference: the same vectors, the
same token counts, vectors that do not depend on batching, and the same retrieval."""

from __future__ import annotations

import numpy as np
import pytest

from index.embedding import Embedder, load_embedder, model_path
from index.splitting import split_sentences
from index.store import Store
from qa.service import QAService
from tests.conftest import ROOT, SEEDS, make_settings

# Cosine of an ONNX vector to the torch one. fp32 is the same computation; int8 loses a
# little per sentence, which must not change rankings (see the retrieval test).
MIN_COSINE = {"fp32": 0.999, "int8": 0.97}
MEDIAN_COSINE = {"fp32": 0.9999, "int8": 0.99}


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    out = []
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text("utf-8")
        out.extend(text[s.start : s.end] for s in split_sentences(text))
    return out


@pytest.fixture(scope="module")
def torch_embedder() -> Embedder:
    return load_embedder(make_settings(ROOT / "data", embedder="torch"))


@pytest.fixture(scope="module")
def torch_vectors(torch_embedder, sentences) -> np.ndarray:
    return torch_embedder.embed(sentences)


@pytest.fixture(scope="module", params=["int8", "fp32"])
def onnx_embedder(request) -> tuple[str, Embedder]:
    return request.param, load_embedder(make_settings(ROOT / "data", onnx_variant=request.param))


def test_onnx_vectors_match_torch(onnx_embedder, sentences, torch_vectors):
    variant, embedder = onnx_embedder
    vectors = embedder.embed(sentences)
    assert vectors.shape == torch_vectors.shape and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    cosines = (vectors * torch_vectors).sum(axis=1)
    summary = (f"{variant}: cosine to torch over {len(sentences)} seed sentences: min {cosines.min():.4f}, "
               f"median {np.median(cosines):.4f}, {(cosines < 0.99).sum()} below 0.99")
    print(summary)
    assert cosines.min() >= MIN_COSINE[variant], summary
    assert np.median(cosines) >= MEDIAN_COSINE[variant], summary


def test_token_counts_match_the_reference_tokenizer(onnx_embedder, torch_embedder, sentences):
    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(str(model_path(make_settings(ROOT / "data"))), local_files_only=True)
    # One text far beyond the model's 256 word pieces: counting must not truncate.
    texts = sentences + [" ".join(sentences[:40])]
    expected = [len(ids) for ids in reference(texts, truncation=False, verbose=False)["input_ids"]]
    assert expected[-1] > 256
    assert onnx_embedder[1].count_tokens(texts) == expected
    assert torch_embedder.count_tokens(texts) == expected


def test_a_batched_vector_equals_the_single_one(onnx_embedder, sentences):
    """Stored sentences are embedded in batches, questions alone: padding and batch
    neighbours must not move a vector."""
    _, embedder = onnx_embedder
    texts = sentences[:: max(1, len(sentences) // 40)]  # short and long ones, padded together
    batched = embedder.embed(texts)
    single = np.stack([embedder.embed([text])[0] for text in texts])
    cosines = (batched * single).sum(axis=1)
    assert cosines.min() >= 0.99999, f"batched vs single: min cosine {cosines.min():.6f}"


@pytest.fixture(scope="module")
def torch_service(tmp_path_factory, torch_embedder) -> QAService:
    settings = make_settings(tmp_path_factory.mktemp("torch-seeded"), embedder="torch")
    svc = QAService(settings, Store.open(settings), torch_embedder)
    svc.ingest([SEEDS])
    return svc


def test_int8_retrieval_matches_torch_on_seed_dev(service, torch_service, seed_questions):
    """`service` is the default (ONNX int8) service of conftest."""
    differ = []
    for question in seed_questions:
        onnx_top = service.search(question["question"], 1).hits[0].passage_id
        torch_top = torch_service.search(question["question"], 1).hits[0].passage_id
        if onnx_top != torch_top:
            differ.append(question["id"])
    same = len(seed_questions) - len(differ)
    message = f"top passage identical with torch and ONNX int8 for {same}/{len(seed_questions)}; differ: {differ}"
    print(message)
    assert same >= len(seed_questions) - 1, message
