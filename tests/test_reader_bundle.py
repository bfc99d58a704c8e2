"""The reader's training data survives the trip to a GPU machine: a token-level bundle
(benchmarks/reader_bundle.py) lays out exactly the pairs that tokenizing the text groups and
`reader_model.pair_ids` make (as train_reader.py did before the bundle), in the same batches;
the vectorised loss is the per-group one; the compact base weights expand to within int8/fp16
rounding of the shipped ones."""

import contextlib
import hashlib
import random
import sys
from pathlib import Path

import numpy as np
import pytest

from index import reader_model
from index.embedding import packaged_model_path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import reader_bundle  # noqa: E402

torch = pytest.importorskip("torch")


def reference_inputs(groups: list[dict], tokenizer, max_tokens: int) -> list[list[tuple[list[int], list[int]]]]:
    """Each group's pairs as train_reader.py's `encode` made them before bundles existed."""
    texts = sorted({t for g in groups for pair in g["pairs"] for t in pair} | {g["question"] for g in groups})
    ids = dict(zip(texts, reader_model.tokenize(tokenizer, texts)))
    return [[reader_model.pair_ids(ids[g["question"]], ids[s], ids[c], max_tokens) for s, c in g["pairs"]]
            for g in groups]


def assert_same(groups: reader_bundle.Groups, expected: list, labels: list[list[int]]) -> None:
    assert len(groups) == len(expected)
    for g, pairs in enumerate(expected):
        rows = range(groups.offsets[g], groups.offsets[g + 1])
        assert groups.labels[rows.start : rows.stop].tolist() == labels[g]
        for row, (ids, segments) in zip(rows, pairs, strict=True):
            n = groups.lengths[row]
            assert groups.ids[row, :n].tolist() == ids and groups.segments[row, :n].tolist() == segments
            assert not groups.ids[row, n:].any()


@pytest.fixture(scope="module")
def tokenizer():
    return reader_model.tokenizer(packaged_model_path())


def synthetic_groups(count: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    words = "the central bank raised interest rates by a quarter point on Tuesday after inflation rose".split()
    text = lambda n: " ".join(rng.choice(words) for _ in range(n))  # noqa: E731
    return [{"question": text(rng.randint(3, 30)) + "?",
             "pairs": [(text(rng.randint(1, 90)), text(rng.randint(0, 60))) for _ in range(rng.randint(1, 6))],
             "labels": None} for _ in range(count)]


def test_a_bundle_lays_out_the_pairs_tokenizing_the_texts_makes(tmp_path, tokenizer):
    sets = {"a": synthetic_groups(40), "b": synthetic_groups(7, seed=1)}
    for groups in sets.values():
        for g in groups:
            g["labels"] = [int(i == 0) for i in range(len(g["pairs"]))]
    order = list(range(40))
    random.Random(5).shuffle(order)
    path = tmp_path / reader_bundle.held_out_name(1)
    reader_bundle.write(path, sets, tokenizer, {"seed": 1}, orders={"a": order})
    assert reader_bundle.read_meta(path) == {"seed": 1, "sets": {"a": 40, "b": 7}}
    expected = {"a": [sets["a"][i] for i in order], "b": sets["b"]}  # "a" read in its order
    for max_tokens in (16, 64, 128):  # one bundle serves every length
        loaded, _ = reader_bundle.load(path, max_tokens)
        for name, groups in expected.items():
            assert_same(loaded[name], reference_inputs(groups, tokenizer, max_tokens), [g["labels"] for g in groups])


def reference_batches(lengths: list[int], start: int, per_batch: int, bucket: int = 64):
    """train_reader.py's batching before bundles: sorted by each group's longest pair in buckets."""
    index = start
    while index < len(lengths):
        chunk = sorted(range(index, min(index + per_batch * bucket, len(lengths))), key=lambda i: lengths[i])
        for b in range(0, len(chunk), per_batch):
            yield chunk[b : b + per_batch]
        index += per_batch * bucket


def test_batches_come_in_the_order_they_did():
    import reader_training

    rng = np.random.default_rng(0)
    counts = rng.integers(1, 7, 700)
    lengths = rng.integers(8, 20, counts.sum()).astype(np.int32)  # few lengths: many ties to keep stable
    offsets = np.concatenate([[0], np.cumsum(counts)])
    groups = reader_bundle.Groups(np.zeros((len(lengths), 1), np.int32), np.zeros((len(lengths), 1), np.int8),
                                  lengths, np.zeros(len(lengths), np.int8), offsets)
    longest = groups.longest().tolist()
    assert longest == [int(lengths[a:b].max()) for a, b in zip(offsets, offsets[1:])]
    for start, per_batch in ((0, 8), (37, 8), (0, 16), (5, 64)):
        assert [b.tolist() for b in reader_training.batches(groups, start, per_batch)] == \
            list(reference_batches(longest, start, per_batch))


def test_the_vectorised_loss_is_the_per_group_one():
    import reader_training

    class Scorer(torch.nn.Module):
        """Scores a pair by its ids (enough to tell pairs apart), with a learned null logit."""

        def __init__(self) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(torch.linspace(-1, 1, 8))
            self.null_logit = torch.nn.Parameter(torch.tensor(0.3))

        def scores(self, ids, mask, segments):
            return (torch.sin(ids[:, :8].float()) * self.weight).sum(1) + segments.sum(1) * 0.01

    rng = np.random.default_rng(1)
    counts = rng.integers(1, 7, 12)
    lengths = rng.integers(8, 12, counts.sum()).astype(np.int32)
    ids = rng.integers(1000, 2000, (len(lengths), 12)).astype(np.int32)
    labels = np.zeros(len(lengths), np.int8)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    for g, (a, b) in enumerate(zip(offsets, offsets[1:])):
        if g % 3:  # every third group has no answer; some have two
            labels[rng.choice(np.arange(a, b), size=min(b - a, 1 + g % 2), replace=False)] = 1
    for row, n in enumerate(lengths):
        ids[row, n:] = 0
    groups = reader_bundle.Groups(ids, (ids > 1500).astype(np.int8), lengths, labels, offsets)
    batch = np.array([3, 0, 7, 11, 5, 1])
    model = Scorer()
    loss = reader_training.loss_of(model, reader_training.Placed(groups, torch.device("cpu")), batch,
                                   contextlib.nullcontext)
    loss.backward()
    got = [loss.item(), model.weight.grad.clone(), model.null_logit.grad.clone()]

    model.zero_grad()
    rows = groups.rows(batch)
    tensor_ids = torch.from_numpy(groups.ids[rows]).long()
    scores = model.scores(tensor_ids, (tensor_ids != 0).long(), torch.from_numpy(groups.segments[rows]).long())
    y = torch.from_numpy(groups.labels[rows]).float()
    total, offset, null = 0.0, 0, model.null_logit
    for g in batch:  # train_reader.py's loss before bundles
        n = int(counts[g])
        s, t = scores[offset : offset + n], y[offset : offset + n]
        target = torch.logsumexp(s[t > 0], 0) if t.sum() > 0 else null
        total = total + torch.logsumexp(torch.cat([s, null.view(1)]), 0) - target
        offset += n
    expected = total / len(batch) + 0.5 * torch.nn.functional.binary_cross_entropy_with_logits(scores - null, y)
    expected.backward()
    assert got[0] == pytest.approx(expected.item(), rel=1e-6)
    assert torch.allclose(got[1], model.weight.grad, atol=1e-6)
    assert torch.allclose(got[2], model.null_logit.grad, atol=1e-6)


def test_the_compact_base_expands_to_the_shipped_weights_within_rounding(tmp_path):
    import base_weights
    from safetensors.torch import load_file

    base = packaged_model_path()
    base_weights.compact(base, tmp_path / "words", tmp_path / "layers")
    assert (tmp_path / "words" / base_weights.WORDS_FILE).stat().st_size < 11 * 2**20  # 45 MB in fp32
    assert (tmp_path / "layers" / base_weights.LAYERS_FILE).stat().st_size < 19 * 2**20
    shipped = load_file(str(base / "model.safetensors"))
    original = shipped[base_weights.WORDS]
    words_only = load_file(str(base_weights.expand(tmp_path / "words", None, tmp_path / "w") / "model.safetensors"))
    assert set(words_only) == {base_weights.WORDS}
    expanded = load_file(str(base_weights.expand(tmp_path / "words", tmp_path / "layers", tmp_path / "full")
                             / "model.safetensors"))
    assert set(expanded) == {k for k in shipped if not k.startswith("pooler.") and k != "embeddings.position_ids"}
    words = expanded[base_weights.WORDS]
    assert torch.equal(words, words_only[base_weights.WORDS])
    assert ((words - original).abs() <= original.abs().amax(1, keepdim=True) / 254 + 1e-7).all()
    for name, tensor in expanded.items():
        if name != base_weights.WORDS:
            assert torch.allclose(tensor, shipped[name], rtol=1e-3, atol=1e-4), name


@pytest.mark.skipif(not (Path(__file__).resolve().parents[2] / "shared" / "train" / "squad1.1-train.json.gz").exists(),
                    reason="needs ../shared/train (the SQuAD 1.1 training set)")
def test_a_200_question_training_bundle_holds_the_groups_train_reader_makes(tmp_path, tokenizer):
    import reader_data

    groups = reader_data.training_groups(seed=13, size=6, limit=200)  # shuffled, as trained on
    path = tmp_path / reader_bundle.training_name(6, 200, 13)
    reader_data.write_training_bundle(path, seed=13, size=6, limit=200)  # stored unshuffled, with the order
    loaded, meta = reader_bundle.load(path, 64)
    assert meta["sets"] == {"train": 200} and meta["limit"] == 200
    assert_same(loaded["train"], reference_inputs(groups, tokenizer, 64), [g["labels"] for g in groups])


def test_a_checkpoint_comes_back_from_the_gpu_machine_in_parts_that_join(tmp_path, monkeypatch):
    import gpu_train
    from safetensors.torch import load_file

    torch.manual_seed(0)
    model = reader_model.build(packaged_model_path(), layers=1)
    monkeypatch.setattr(gpu_train, "PART_BYTES", 2**20)  # 16 MiB on the machine; a 1-layer reader is 3 MB
    out, scratch = tmp_path / "out", tmp_path / "scratch"
    out.mkdir()
    (out / "reader.safetensors.part9").write_bytes(b"stale")  # an earlier, larger checkpoint's
    gpu_train.write_out(model, {"layers": 1, "steps": 3}, out, scratch)
    parts = sorted(out.glob("reader.safetensors.part*"), key=lambda p: int(p.name.removeprefix("reader.safetensors.part")))
    joined = tmp_path / "reader.safetensors"
    joined.write_bytes(b"".join(p.read_bytes() for p in parts))
    assert len(parts) == -(-joined.stat().st_size // 2**20) > 1  # the stale part9 is gone
    assert all(p.stat().st_size <= 2**20 for p in parts)
    assert (out / "reader.safetensors.sha256").read_text() == f"{hashlib.sha256(joined.read_bytes()).hexdigest()}  reader.safetensors\n"
    assert reader_model.read_manifest(out / "reader.safetensors") == {"layers": 1, "steps": 3}
    state = load_file(str(joined))
    assert set(state) == set(reader_model.trained_state(model))
    assert all(torch.equal(state[k], v.half()) for k, v in reader_model.trained_state(model).items())
